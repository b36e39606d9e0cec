"""Content publishing: container lifecycle, validation, media_publish, quotas."""

from __future__ import annotations

import json

import pytest

IMAGE = "https://cdn.example.com/photos/summer.jpg"
VIDEO = "https://cdn.example.com/videos/clip.mp4"


def _container(graph, account=0, **params):
    response = graph.post("/me/media", account=account, **params)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def _status(graph, container_id, account=0):
    body = graph.get(f"/{container_id}", account=account, fields="status_code,status").json()
    return body["status_code"], body["status"]


def test_image_lifecycle_publish_once(graph, sim):
    account_id = graph.account()["id"]
    container_id = _container(graph, image_url=IMAGE, caption="Hello #summer", alt_text="A beach")
    assert _status(graph, container_id)[0] == "IN_PROGRESS"
    early = graph.error(graph.post("/me/media_publish", creation_id=container_id))
    assert (early["code"], early["error_subcode"]) == (9007, 2207027)  # not ready: wait, then publish
    assert early["error_user_msg"] == "The media is not ready for publishing, please wait for a moment"
    sim.advance_clock(1)
    assert _status(graph, container_id)[0] == "FINISHED"
    published = graph.post(f"/{account_id}/media_publish", creation_id=container_id)
    assert published.status_code == 200, published.text
    media_id = published.json()["id"]
    assert _status(graph, container_id)[0] == "PUBLISHED"
    again = graph.post(f"/{account_id}/media_publish", creation_id=container_id)
    assert again.status_code == 400 and graph.error(again)["code"] == 506
    posts = sim.truth("published", account_id=account_id)
    assert [(p["media_id"], p["container_id"]) for p in posts] == [(media_id, container_id)]
    newest = graph.get("/me/media", fields="id,caption,media_type,media_product_type,alt_text", limit=1).json()
    assert newest["data"][0] == {"id": media_id, "caption": "Hello #summer", "media_type": "IMAGE",
                                 "media_product_type": "FEED", "alt_text": "A beach"}
    assert graph.get("/me", fields="media_count").json()["media_count"] == 121
    items, _ = graph.collect("/me/media", limit=100)
    assert len(items) == 121 and len({i["id"] for i in items}) == 121


def test_videos_take_three_times_longer(graph, sim):
    container_id = _container(graph, media_type="REELS", video_url=VIDEO, caption="Reel")
    sim.advance_clock(1)
    assert _status(graph, container_id)[0] == "IN_PROGRESS"
    sim.advance_clock(1)
    assert _status(graph, container_id)[0] == "FINISHED"
    media_id = graph.post("/me/media_publish", creation_id=container_id).json()["id"]
    body = graph.get(f"/{media_id}", fields="media_type,media_product_type,permalink").json()
    assert (body["media_type"], body["media_product_type"]) == ("VIDEO", "REELS")
    assert "/reel/" in body["permalink"]


def test_error_container_reports_reason_and_cannot_be_published(graph, sim):
    container_id = _container(graph, image_url="https://cdn.example.com/error/broken.jpg")
    sim.advance_clock(1)
    code, status = _status(graph, container_id)
    assert code == "ERROR" and "2207052" in status
    refused = graph.error(graph.post("/me/media_publish", creation_id=container_id))
    assert (refused["code"], refused["error_subcode"]) == (-1, 2207032)
    forced = _container(graph, image_url=IMAGE)
    sim.set_container(forced, "ERROR", reason="Unsupported aspect ratio")
    code, status = _status(graph, forced)
    assert code == "ERROR" and "Unsupported aspect ratio" in status
    assert sim.truth("published") == []


def test_unpublished_container_expires_after_24_hours(graph, sim):
    container_id = _container(graph, image_url=IMAGE)
    sim.advance_clock(24 * 3600 + 1)
    assert _status(graph, container_id)[0] == "EXPIRED"
    refused = graph.error(graph.post("/me/media_publish", creation_id=container_id))
    assert (refused["code"], refused["error_subcode"]) == (-2, 2207020)


def test_unknown_container_and_other_accounts_container(graph, sim):
    unknown = graph.error(graph.post("/me/media_publish", creation_id="18200000000000000"))
    assert (unknown["code"], unknown["error_subcode"]) == (24, 2207008)
    missing = graph.error(graph.post("/me/media_publish"))
    assert missing["code"] == 100
    theirs = _container(graph, account=1, image_url=IMAGE)
    sim.advance_clock(1)
    assert graph.error(graph.post("/me/media_publish", account=0, creation_id=theirs))["code"] == 24
    assert graph.get(f"/{theirs}", account=0, fields="status_code").status_code == 400


@pytest.mark.parametrize(("params", "code", "subcode"), [
    ({"image_url": "http://cdn.example.com/a.jpg"}, 9004, 2207052),
    ({"image_url": "not a url"}, 9004, 2207052),
    ({}, 100, None),
    ({"media_type": "GIF", "image_url": IMAGE}, 100, 2207023),
    ({"image_url": IMAGE, "caption": "x" * 2201}, 100, None),
    ({"image_url": IMAGE, "caption": " ".join(f"#tag{i}" for i in range(31))}, 100, None),
    ({"media_type": "REELS", "video_url": VIDEO, "is_carousel_item": "true"}, 100, 2207028),
    ({"media_type": "CAROUSEL", "children": "123"}, 100, 2207028),
])
def test_container_validation(graph, params, code, subcode):
    response = graph.post("/me/media", **params)
    assert response.status_code == 400, response.text
    error = graph.error(response)
    assert (error["code"], error.get("error_subcode")) == (code, subcode), error


def test_caption_limits_are_inclusive(graph):
    assert graph.post("/me/media", image_url=IMAGE, caption="x" * 2200).status_code == 200
    tags = " ".join(f"#tag{i}" for i in range(30))
    assert graph.post("/me/media", image_url=IMAGE, caption=tags).status_code == 200


def test_carousel_needs_finished_items_and_publishes_children(graph, sim):
    items = [_container(graph, image_url=IMAGE, is_carousel_item="true") for _ in range(2)]
    items.append(_container(graph, media_type="VIDEO", video_url=VIDEO, is_carousel_item="true"))
    not_ready = graph.error(graph.post("/me/media", media_type="CAROUSEL", children=",".join(items)))
    assert (not_ready["code"], not_ready["error_subcode"]) == (9007, 2207027)
    sim.advance_clock(2)
    lone_item = graph.error(graph.post("/me/media_publish", creation_id=items[0]))
    assert (lone_item["code"], lone_item["error_subcode"]) == (100, 2207089)
    eleven = graph.error(graph.post("/me/media", media_type="CAROUSEL", children=",".join(items * 4)[:-1]))
    assert eleven["error_subcode"] == 2207028
    carousel = _container(graph, media_type="CAROUSEL", children=",".join(items), caption="Three slides")
    sim.advance_clock(1)
    media_id = graph.post("/me/media_publish", creation_id=carousel).json()["id"]
    body = graph.get(f"/{media_id}", fields="media_type,caption,children{id,media_type}").json()
    assert body["media_type"] == "CAROUSEL_ALBUM" and body["caption"] == "Three slides"
    assert [c["media_type"] for c in body["children"]["data"]] == ["IMAGE", "IMAGE", "VIDEO"]
    assert graph.get("/me/content_publishing_limit").json() == {"data": [{"quota_usage": 1}]}


def test_stories_publish_into_stories_not_media(graph, sim):
    container_id = _container(graph, media_type="STORIES", image_url=IMAGE)
    sim.advance_clock(1)
    media_id = graph.post("/me/media_publish", creation_id=container_id).json()["id"]
    stories = graph.get("/me/stories", fields="id,media_product_type").json()["data"]
    assert stories[0] == {"id": media_id, "media_product_type": "STORY"}
    assert graph.get("/me/media", limit=1).json()["data"][0]["id"] != media_id


def test_publishing_quota_is_a_rolling_24_hours(graph, sim):
    sim.configure(publish_quota=2)
    containers = [_container(graph, image_url=IMAGE) for _ in range(3)]
    sim.advance_clock(1)
    for container_id in containers[:2]:
        assert graph.post("/me/media_publish", creation_id=container_id).status_code == 200
    refused = graph.post("/me/media_publish", creation_id=containers[2])
    assert refused.status_code == 400
    error = graph.error(refused)
    assert (error["code"], error["error_subcode"]) == (9, 2207042)
    limit = graph.get("/me/content_publishing_limit", fields="quota_usage,config").json()
    assert limit == {"data": [{"quota_usage": 2, "config": {"quota_total": 2, "quota_duration": 86400}}]}
    assert len(sim.truth("published")) == 2
    sim.advance_clock(24 * 3600)
    fresh = _container(graph, image_url=IMAGE)
    sim.advance_clock(1)
    assert graph.post("/me/media_publish", creation_id=fresh).status_code == 200
    assert graph.get("/me/content_publishing_limit").json()["data"][0]["quota_usage"] == 1


def test_container_quota_is_400_a_day(graph, sim):
    for _ in range(400):
        assert graph.post("/me/media", image_url=IMAGE).status_code == 200
    error = graph.error(graph.post("/me/media", image_url=IMAGE))
    assert error["code"] == 9
    assert graph.post("/me/media", account=1, image_url=IMAGE).status_code == 200


def test_multipart_form_like_curl_dash_f(graph):
    response = graph.session.post(graph.url("/me/media"), files={
        "access_token": (None, graph.token()), "image_url": (None, IMAGE), "caption": (None, "Café #menu")})
    assert response.status_code == 200, response.text
    container_id = response.json()["id"]
    (container,) = [c for c in graph.sim.truth("containers") if c["id"] == container_id]
    assert container["caption"] == "Café #menu" and container["media_url"] == IMAGE


def test_standalone_video_is_created_but_refused_at_publish(graph, sim):
    container_id = _container(graph, media_type="VIDEO", video_url=VIDEO, caption="Old-style feed video")
    sim.advance_clock(5)
    assert _status(graph, container_id)[0] == "FINISHED"
    response = graph.post("/me/media_publish", creation_id=container_id)
    assert response.status_code == 400
    error = graph.error(response)
    assert (error["code"], error["error_subcode"], error["type"]) == (100, 2207089, "IGApiException")
    assert "media_type=REELS" in error["message"]
    assert sim.truth("published") == []
    assert _status(graph, container_id)[0] == "FINISHED"  # nothing was used up
    item = _container(graph, image_url=IMAGE, is_carousel_item="true")
    sim.advance_clock(1)
    alone = graph.error(graph.post("/me/media_publish", creation_id=item))
    assert (alone["code"], alone["error_subcode"]) == (100, 2207089) and "carousel" in alone["message"]
    assert sim.truth("published") == []


@pytest.mark.parametrize("params", [
    {"media_type": "REELS", "video_url": VIDEO},
    {"media_type": "STORIES", "image_url": IMAGE},
    {"media_type": "STORIES", "video_url": VIDEO},
    {"media_type": "VIDEO", "video_url": VIDEO, "is_carousel_item": "true"},
])
def test_alt_text_is_for_images_only(graph, params):
    response = graph.post("/me/media", alt_text="A description", **params)
    assert response.status_code == 400
    error = graph.error(response)
    assert error["code"] == 100 and "alt_text" in error["message"]
    assert graph.post("/me/media", **params).status_code == 200


def test_alt_text_on_images_and_image_carousel_items(graph, sim):
    single = _container(graph, image_url=IMAGE, alt_text="A beach")
    item = _container(graph, image_url=IMAGE, is_carousel_item="true", alt_text="A dune")
    containers = {c["id"]: c for c in sim.truth("containers")}
    assert (containers[single]["alt_text"], containers[item]["alt_text"]) == ("A beach", "A dune")


@pytest.mark.parametrize("name", ["impressions", "location", "thumbnail_url", "product_tags", "share_to_story"])
def test_unknown_container_parameters_are_refused_by_name(graph, name):
    error = graph.error(graph.post("/me/media", image_url=IMAGE, **{name: "x"}))
    assert error["code"] == 100 and name in error["message"]


def test_reels_options_are_checked_and_kept(graph, sim):
    user_tags = json.dumps([{"username": "sunny_bakery"}])
    container_id = _container(graph, media_type="REELS", video_url=VIDEO, share_to_feed="false",
                              cover_url="https://cdn.example.com/cover.jpg", thumb_offset="1500",
                              audio_name="Original sound", user_tags=user_tags, location_id="213385402",
                              collaborators="friend.one,friend_two")
    expected = {"share_to_feed": False, "cover_url": "https://cdn.example.com/cover.jpg", "thumb_offset": 1500,
                "audio_name": "Original sound", "user_tags": [{"username": "sunny_bakery"}],
                "location_id": "213385402", "collaborators": ["friend.one", "friend_two"]}
    (container,) = sim.truth("containers")
    assert container["id"] == container_id and container["options"] == expected
    sim.advance_clock(10)
    media_id = graph.post("/me/media_publish", creation_id=container_id).json()["id"]
    (post,) = sim.truth("published")
    assert post["media_id"] == media_id and post["options"] == expected
    as_json = graph.post("/me/media", json={"media_type": "REELS", "video_url": VIDEO, "share_to_feed": True,
                                            "thumb_offset": 0, "collaborators": ["friend.one"]})
    assert as_json.status_code == 200, as_json.text
    image = _container(graph, image_url=IMAGE, user_tags=json.dumps([{"username": "a.b", "x": 0.5, "y": 0.25}]))
    assert {c["id"]: c["options"] for c in sim.truth("containers")}[image] == \
        {"user_tags": [{"username": "a.b", "x": 0.5, "y": 0.25}]}


@pytest.mark.parametrize(("params", "name"), [
    ({"media_type": "REELS", "video_url": VIDEO, "share_to_feed": "maybe"}, "share_to_feed"),
    ({"media_type": "REELS", "video_url": VIDEO, "cover_url": "http://cdn.example.com/c.jpg"}, "cover_url"),
    ({"media_type": "REELS", "video_url": VIDEO, "thumb_offset": "-5"}, "thumb_offset"),
    ({"media_type": "REELS", "video_url": VIDEO, "thumb_offset": "1.5s"}, "thumb_offset"),
    ({"media_type": "REELS", "video_url": VIDEO, "user_tags": '[{"username": "a", "x": 0.5, "y": 0.5}]'},
     "user_tags"),  # no coordinates on videos
    ({"image_url": IMAGE, "user_tags": '[{"username": "a"}]'}, "user_tags"),  # images need them
    ({"image_url": IMAGE, "user_tags": '[{"username": "a", "x": 1.5, "y": 0}]'}, "user_tags"),
    ({"image_url": IMAGE, "user_tags": "a,b"}, "user_tags"),
    ({"image_url": IMAGE, "location_id": "Berlin"}, "location_id"),
    ({"image_url": IMAGE, "collaborators": "a,b,c,d"}, "collaborators"),
    ({"image_url": IMAGE, "share_to_feed": "true"}, "share_to_feed"),  # reels only
    ({"image_url": IMAGE, "cover_url": "https://cdn.example.com/c.jpg"}, "cover_url"),
    ({"image_url": IMAGE, "audio_name": "Song"}, "audio_name"),
    ({"image_url": IMAGE, "thumb_offset": "0"}, "thumb_offset"),  # videos only
    ({"image_url": IMAGE, "children": "1,2"}, "children"),  # carousels only
])
def test_container_options_are_validated_by_name(graph, sim, params, name):
    response = graph.post("/me/media", **params)
    assert response.status_code == 400
    error = graph.error(response)
    assert error["code"] == 100 and name in error["message"], error
    assert sim.truth("containers") == []


def test_children_as_a_json_array(graph, sim):
    items = [_container(graph, image_url=IMAGE, is_carousel_item="true") for _ in range(2)]
    sim.advance_clock(1)
    assert graph.post("/me/media", media_type="CAROUSEL", children=json.dumps(items)).status_code == 200
    assert graph.post("/me/media", json={"media_type": "CAROUSEL", "children": items}).status_code == 200
    malformed = graph.error(graph.post("/me/media", media_type="CAROUSEL", children=json.dumps(items)[:-1]))
    assert malformed["code"] == 100 and "children" in malformed["message"]


def test_not_ready_and_builder_expired_are_distinct(graph, sim):
    container_id = _container(graph, image_url=IMAGE)
    not_ready = graph.error(graph.post("/me/media_publish", creation_id=container_id))
    assert (not_ready["code"], not_ready["error_subcode"], not_ready["message"]) == \
        (9007, 2207027, "Media ID is not available")
    unknown = graph.error(graph.post("/me/media_publish", creation_id="18200000000000000"))
    assert (unknown["code"], unknown["error_subcode"]) == (24, 2207008)
    assert unknown["message"] == "The media builder does not exist or has expired"


def test_publish_refusals_answer_without_publishing(graph, sim):
    account_id, other_id = graph.account()["id"], graph.account(1)["id"]
    container_id = _container(graph, image_url=IMAGE)
    theirs = _container(graph, account=1, image_url=IMAGE)
    sim.advance_clock(1)
    queued = sim.refuse_publish("not_ready", times=2)
    assert queued == [{"error": "not_ready", "times": 2, "account_id": None}]
    sim.refuse_publish("builder_expired", account_id=account_id)
    answers = []
    for _ in range(3):
        error = graph.error(graph.post("/me/media_publish", creation_id=container_id))
        answers.append((error["code"], error["error_subcode"]))
    assert answers == [(9007, 2207027), (9007, 2207027), (24, 2207008)]
    assert sim.truth("published") == [] and _status(graph, container_id)[0] == "FINISHED"
    assert graph.post("/me/media_publish", creation_id=container_id).status_code == 200
    sim.refuse_publish("builder_expired", times=5, account_id=other_id)
    assert graph.error(graph.post("/me/media_publish", account=1, creation_id=theirs))["code"] == 24
    assert graph.session.get(f"{sim.base_url}/__sim__/publish_refusals", timeout=5).json() == \
        [{"error": "builder_expired", "times": 4, "account_id": other_id}]
    sim.reset()
    assert graph.session.get(f"{sim.base_url}/__sim__/publish_refusals", timeout=5).json() == []
    for bad in ({"error": "quota"}, {"error": "not_ready", "times": 0}, {"error": "not_ready", "account_id": "1"}):
        response = graph.session.post(f"{sim.base_url}/__sim__/publish_refusals", json=bad, timeout=5)
        assert response.status_code in (404, 422), bad
