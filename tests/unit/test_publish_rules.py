"""publishing.rules without a warehouse or a simulator: what a request records, and the
containers it turns into. (Refusals are in tests/integration/test_publishing.py, which
runs them next to the jobs they would have made.)"""

from __future__ import annotations

import pytest

from instagram_graph.jobs import RequestRefused
from instagram_graph.publishing.rules import CONTAINER_MEDIA_TYPE, MEDIA_TYPES, OPTION_TYPES, PublishRequest

IMG = "https://cdn.example.com/a.jpg"
VID = "https://cdn.example.com/b.mp4"


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
