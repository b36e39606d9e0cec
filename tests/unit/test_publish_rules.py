"""publishing.rules without a warehouse or a simulator: what a request records, the
containers it turns into, and every refusal, naming the field, the problem and the fix.
(tests/integration/test_publishing.py checks that a refused request makes no call and no row.)"""

from __future__ import annotations

import json

import pytest

from instagram_graph.jobs import RequestRefused
from instagram_graph.publishing.rules import CONTAINER_MEDIA_TYPE, MEDIA_TYPES, OPTION_TYPES, PublishRequest
from instagram_graph.validation import InvalidInput

IMG = "https://cdn.example.com/posts/sunset.jpg"
VID = "https://cdn.example.com/posts/clip.mp4"


def build(**fields) -> PublishRequest:
    return PublishRequest.build(account_id="17841400000000001", **fields)


def test_every_offered_media_type_has_its_container_type_and_options() -> None:
    assert set(MEDIA_TYPES) <= set(CONTAINER_MEDIA_TYPE)
    assert all(set(types) <= set(MEDIA_TYPES) for types in OPTION_TYPES.values())


def test_a_request_reads_back_from_its_record_with_the_same_hash() -> None:
    request = build(media_type="REELS", media_url=VID, caption="Hi #reel", share_to_feed=True, thumb_offset=1500,
                    user_tags=[{"username": "jane.doe"}], location_id="123")
    again = PublishRequest.from_record(request.record())
    assert again == request and again.request_hash == request.request_hash
    assert request.record()["user_tags"] == [{"username": "jane.doe"}], "only the options given are recorded"


def test_a_reel_is_one_video_container_with_its_options() -> None:
    (spec,) = build(media_type="REELS", media_url=VID, audio_name="Theme").item_specs()
    params = spec.params()
    assert (params["video_url"], params["image_url"], params["media_type"]) == (VID, None, "REELS")
    assert params["audio_name"] == "Theme" and params["children"] is None


def test_a_video_story_is_sent_as_a_video_and_an_image_post_keeps_its_alt_text() -> None:
    (story,) = build(media_type="STORIES", media_url=VID).item_specs()
    assert (story.video_url, story.image_url, story.media_type) == (VID, None, "STORIES")
    (image,) = build(media_type="IMAGE", media_url=IMG, alt_text="A cat").item_specs()
    assert (image.image_url, image.media_type, image.alt_text) == (IMG, None, "A cat")


def test_a_carousel_tags_its_images_and_puts_the_location_on_the_parent() -> None:
    request = build(media_type="CAROUSEL", children=[IMG, VID, IMG], alt_text="Shop", location_id="42",
                    user_tags=[{"username": "ann", "x": 0.5, "y": 0.5, "item": 3}])
    first, video, third = request.item_specs()
    assert first.is_carousel_item and first.alt_text == "Shop" and first.options.user_tags == ()
    assert (video.video_url, video.media_type, video.alt_text) == (VID, "VIDEO", None)
    assert [tag.param() for tag in third.options.user_tags] == [{"username": "ann", "x": 0.5, "y": 0.5}]
    parent = request.parent_spec(["c1", "c2", "c3"])
    assert parent.params()["children"] == ["c1", "c2", "c3"] and parent.options.location_id == "42"
    assert first.options.location_id is None, "the location goes on the carousel, not its items"


def test_a_caption_at_its_limit_passes_and_one_over_is_refused() -> None:
    build(media_type="IMAGE", media_url=IMG, caption="x" * 2200)
    with pytest.raises(RequestRefused, match="Shorten it by 1 characters"):
        build(media_type="IMAGE", media_url=IMG, caption="x" * 2201)


# --- the request's rules: refused before any call -------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"media_type": "IMAGE", "media_url": "http://cdn.example.com/a.jpg"}, "is not an HTTPS URL"),
        ({"media_type": "IMAGE", "media_url": "ftp://cdn.example.com/a.jpg"}, "is not an HTTPS URL"),
        ({"media_type": "IMAGE", "media_url": IMG, "caption": "x" * 2201}, "Shorten it by 1 characters"),
        ({"media_type": "IMAGE", "media_url": IMG, "caption": " ".join(f"#t{i}" for i in range(31))},
         "has 31 hashtags; Instagram allows at most 30. Remove 1"),
        ({"media_type": "CAROUSEL", "children": [IMG]}, "needs 2 to 10 items in children; got 1"),
        ({"media_type": "CAROUSEL", "children": [IMG] * 11}, "got 11. Remove items"),
        ({"media_type": "CAROUSEL", "children": [IMG, "http://x.example/b.jpg"]}, "children item 2"),
        ({"media_type": "CAROUSEL", "media_url": IMG, "children": [IMG, IMG]}, "leave media_url empty"),
        ({"media_type": "IMAGE", "media_url": IMG, "children": [IMG, IMG]}, "children are only for CAROUSEL"),
        ({"media_type": "IMAGE", "media_url": VID}, "is a video file, but media_type is IMAGE"),
        ({"media_type": "STORIES", "media_url": IMG, "caption": "hi"}, "Stories have no caption"),
        ({"media_type": "REELS", "media_url": VID, "alt_text": "a cat"}, "alt_text applies to images only"),
        ({"media_type": "STORIES", "media_url": IMG, "alt_text": "a cat"},
         "refuses it for REELS and STORIES, image stories too. Leave alt_text empty for STORIES"),
        ({"media_type": "GIF", "media_url": IMG}, "is not one of IMAGE, REELS, STORIES, CAROUSEL"),
        ({"media_type": "REELS", "media_url": ""}, "media_url is empty"),
        ({"media_type": "VIDEO", "media_url": VID}, "Set media_type to REELS"),
        ({"media_type": "video", "media_url": VID, "caption": "A clip"}, "refuses a standalone VIDEO post"),
        ({"media_type": "IMAGE", "media_url": IMG, "share_to_feed": True},
         "share_to_feed applies to REELS posts only, not to IMAGE"),
        ({"media_type": "STORIES", "media_url": VID, "audio_name": "Song"}, "audio_name applies to REELS posts only"),
        ({"media_type": "CAROUSEL", "children": [IMG, VID], "thumb_offset": 10}, "thumb_offset applies to REELS"),
        ({"media_type": "IMAGE", "media_url": IMG, "cover_url": "https://cdn.example.com/c.jpg"},
         "cover_url applies to REELS posts only"),
        ({"media_type": "STORIES", "media_url": IMG, "location_id": "123"},
         "location_id applies to IMAGE and REELS and CAROUSEL posts only, not to STORIES"),
        ({"media_type": "REELS", "media_url": VID, "cover_url": "http://cdn.example.com/c.jpg"},
         "cover_url 'http://cdn.example.com/c.jpg' is not an HTTPS URL"),
        ({"media_type": "REELS", "media_url": VID, "thumb_offset": -1}, "thumb_offset is -1"),
        ({"media_type": "REELS", "media_url": VID, "thumb_offset": "1.5s"}, "in whole milliseconds"),
        ({"media_type": "REELS", "media_url": VID, "thumb_offset": 1500, "cover_url": "https://c.example/c.jpg"},
         "keep one of them"),
        ({"media_type": "REELS", "media_url": VID, "share_to_feed": "maybe"}, "share_to_feed is 'maybe'"),
        ({"media_type": "IMAGE", "media_url": IMG, "location_id": "Paris"}, "location_id 'Paris' is not a location id"),
        ({"media_type": "IMAGE", "media_url": IMG, "user_tags": [{"username": "jane"}]},
         "user_tags entry 1 has no x and y"),
        ({"media_type": "IMAGE", "media_url": IMG, "user_tags": [{"username": "jane", "x": 1.2, "y": 0.5}]},
         "user_tags entry 1: x is 1.2"),
        ({"media_type": "REELS", "media_url": VID, "user_tags": [{"username": "jane", "x": 0.5, "y": 0.5}]},
         "a tag on a REELS post is the username only"),
        ({"media_type": "IMAGE", "media_url": IMG, "user_tags": [{"username": "not a name", "x": 0, "y": 0}]},
         "is not an Instagram username"),
        ({"media_type": "IMAGE", "media_url": IMG, "user_tags": '[{"username": "jane"'},
         "user_tags is not valid JSON"),
        ({"media_type": "IMAGE", "media_url": IMG, "user_tags": [{"username": "a", "x": 0, "y": 0, "item": 1}]},
         "has item, which only places a tag on a CAROUSEL's image"),
        ({"media_type": "CAROUSEL", "children": [IMG, VID],
          "user_tags": [{"username": "a", "x": 0, "y": 0, "item": 2}]},
         "is on carousel item 2, a video"),
        ({"media_type": "CAROUSEL", "children": [VID, VID], "alt_text": "two clips"},
         "every item of this one is a video"),
        ({"media_type": "IMAGE", "media_url": IMG,
          "user_tags": [{"username": f"u{i}", "x": 0.1, "y": 0.1} for i in range(21)]}, "Remove 1"),
    ],
)
def test_bad_requests_are_refused_naming_the_problem(fields, expected) -> None:
    with pytest.raises(RequestRefused) as refused:
        PublishRequest.build(account_id="17841400000000001", **fields)
    assert expected in str(refused.value)


def test_options_rendered_by_a_template_mean_the_same_as_values() -> None:
    rendered = PublishRequest.build(
        account_id="1", media_type="REELS", media_url=VID, share_to_feed="false", thumb_offset="1500",
        user_tags='[{"username": "@jane.doe"}]', audio_name=" Theme ", location_id="", cover_url="",
    )
    native = PublishRequest.build(
        account_id="1", media_type="REELS", media_url=VID, share_to_feed=False, thumb_offset=1500,
        user_tags=[{"username": "jane.doe"}], audio_name="Theme",
    )
    assert rendered == native and rendered.request_hash == native.request_hash
    empty = PublishRequest.build(account_id="1", media_type="IMAGE", media_url=IMG, share_to_feed="null",
                                 thumb_offset="null", user_tags="null", children="null")
    assert empty == PublishRequest.build(account_id="1", media_type="IMAGE", media_url=IMG)


def test_a_request_without_options_hashes_as_it_did_before_options_existed() -> None:
    request = PublishRequest.build(account_id="1", media_type="IMAGE", media_url=IMG, caption="Hi", alt_text="A")
    assert request.record() == {"account_id": "1", "media_type": "IMAGE", "media_url": IMG, "children": [],
                                "caption": "Hi", "alt_text": "A"}
    with_option = PublishRequest.build(account_id="1", media_type="IMAGE", media_url=IMG, caption="Hi", alt_text="A",
                                       location_id="123")
    assert with_option.request_hash != request.request_hash, "options are part of the request hash"
    assert PublishRequest.from_record(with_option.record()) == with_option


def test_thirty_hashtags_and_2200_characters_are_allowed() -> None:
    caption = " ".join(f"#t{i}" for i in range(30))
    caption += "x" * (2200 - len(caption))
    request = PublishRequest.build(account_id="1", media_type="IMAGE", media_url=IMG, caption=caption)
    assert len(request.caption) == 2200


def test_children_come_as_a_list_or_as_the_json_a_template_renders() -> None:
    as_list = PublishRequest.build(account_id="1", media_type="CAROUSEL", children=[IMG, VID])
    as_json = PublishRequest.build(account_id="1", media_type="CAROUSEL", children=json.dumps([IMG, VID]))
    assert as_list == as_json
    assert as_list.request_hash == as_json.request_hash
    specs = as_list.item_specs()
    assert (specs[0].image_url, specs[1].video_url, specs[1].media_type) == (IMG, VID, "VIDEO")
    assert all(spec.is_carousel_item for spec in specs)


# --- input checked where it enters --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"caption": "Sale\x00"}, "caption contains a control character (NUL) at position 5"),
        ({"alt_text": "A cat\x1b[31m"}, "alt_text contains a control character (U+001B)"),
        ({"media_url": "https://cdn.example.com/a\x00.jpg"}, "media_url contains a control character (NUL)"),
        ({"media_type": "CAROUSEL", "media_url": None, "children": [IMG, "https://cdn.example.com/\x07.jpg"]},
         "children item 2 contains a control character (U+0007)"),
        ({"media_type": "REELS", "media_url": VID, "audio_name": "Theme\x00"}, "audio_name contains a control"),
        ({"account_id": "abc"}, "account_id 'abc' is not an Instagram id: ids are digits only"),
    ],
)
def test_control_characters_and_non_digit_account_ids_are_refused_naming_the_field(fields, expected) -> None:
    values = {"account_id": "17841400000000001", "media_type": "IMAGE", "media_url": IMG, **fields}
    with pytest.raises(InvalidInput) as refused:
        PublishRequest.build(**values)
    assert expected in str(refused.value)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"caption": " ".join(f"@user{i}" for i in range(21))},
         "The caption mentions 21 accounts (@name); Instagram allows at most 20. Remove 1"),
        ({"media_type": "REELS", "media_url": VID, "thumb_offset": 900_001}, "thumb_offset is more than 900000 ms"),
        ({"media_type": "REELS", "media_url": VID, "thumb_offset": "9" * 5000}, "thumb_offset is more than 900000"),
        ({"media_type": "REELS", "media_url": VID, "thumb_offset": 10**5000}, "thumb_offset is more than 900000"),
        ({"media_type": "REELS", "media_url": VID, "thumb_offset": "1e400"}, "in whole milliseconds"),
    ],
)
def test_mentions_and_numbers_have_a_maximum(fields, expected) -> None:
    values = {"account_id": "17841400000000001", "media_type": "IMAGE", "media_url": IMG, **fields}
    with pytest.raises(RequestRefused) as refused:
        PublishRequest.build(**values)
    assert expected in str(refused.value)


def test_twenty_mentions_a_caption_with_line_breaks_and_e_mail_addresses_are_allowed() -> None:
    caption = "Thanks to\n" + " ".join(f"@user{i}" for i in range(20)) + "\nOrders: shop@example.com\t#sale"
    assert PublishRequest.build(account_id="1", media_type="IMAGE", media_url=IMG, caption=caption).caption == caption
    reel = PublishRequest.build(account_id="1", media_type="REELS", media_url=VID, thumb_offset=900_000)
    assert reel.options.thumb_offset == 900_000
