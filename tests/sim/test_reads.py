"""Reading: pagination, field selection, expansion, edges, object lookups."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest


def test_me_resolves_to_the_tokens_account_with_and_without_version(graph):
    account = graph.account(1)
    for version in ("v24.0", "v26.0", None):
        response = graph.get("/me", account=1, version=version, fields="id,username,followers_count,media_count")
        assert response.status_code == 200, response.text
        assert response.json() == {"id": account["id"], "username": account["username"],
                                   "followers_count": account["followers_count"], "media_count": 120}


def test_default_fields_are_the_id_only(graph):
    account = graph.account()
    assert graph.get("/me").json() == {"id": account["id"]}
    media_id = graph.sim.truth("media", account_id=account["id"])[0]["id"]
    assert graph.get(f"/{media_id}").json() == {"id": media_id}


def test_media_pagination_serves_every_item_once_and_ends(graph, sim):
    account = graph.account()
    truth = sim.truth("media", account_id=account["id"])
    items, pages = graph.collect(f"/{account['id']}/media", fields="id,timestamp", limit=7)
    assert [item["id"] for item in items] == [m["id"] for m in truth]  # newest first, each once
    assert pages == -(-len(truth) // 7)


def test_default_page_size_is_25_and_limit_is_clamped_to_100(graph):
    account_id = graph.account()["id"]
    first = graph.get(f"/{account_id}/media").json()
    assert len(first["data"]) == 25
    assert "next" in first["paging"] and "previous" not in first["paging"]
    clamped = graph.get(f"/{account_id}/media", limit=500).json()
    assert len(clamped["data"]) == 100
    assert parse_qs(urlparse(clamped["paging"]["next"]).query)["limit"] == ["100"]
    last = graph.get(f"/{account_id}/media", limit=100, after=clamped["paging"]["cursors"]["after"]).json()
    assert len(last["data"]) == 20
    assert "next" not in last["paging"] and "previous" in last["paging"]


def test_next_url_carries_the_token_and_before_cursor_goes_back(graph):
    account_id = graph.account()["id"]
    first = graph.get(f"/{account_id}/media", limit=5).json()
    next_url = first["paging"]["next"]
    assert parse_qs(urlparse(next_url).query)["access_token"] == [graph.token()]
    assert urlparse(next_url).path == f"/v24.0/{account_id}/media"
    second = graph.session.get(next_url).json()
    back = graph.get(f"/{account_id}/media", limit=5, before=second["paging"]["cursors"]["before"]).json()
    assert back["data"] == first["data"]


def test_garbage_cursor_is_refused(graph):
    response = graph.get(f"/{graph.account()['id']}/media", after="not-a-cursor")
    assert response.status_code == 400
    assert graph.error(response)["code"] == 100


def test_field_selection_and_unknown_field(graph, sim):
    account_id = graph.account()["id"]
    media = sim.truth("media", account_id=account_id)[0]
    body = graph.get(f"/{media['id']}", fields="caption,media_type,like_count,timestamp,permalink").json()
    assert body["id"] == media["id"] and body["media_type"] == media["media_type"]
    assert body["like_count"] == media["like_count"] and body["timestamp"] == media["timestamp"]
    assert set(body) <= {"id", "caption", "media_type", "like_count", "timestamp", "permalink"}
    response = graph.get(f"/{media['id']}", fields="id,impressions_count")
    assert response.status_code == 400
    error = graph.error(response)
    assert error["code"] == 100
    assert "nonexisting field (impressions_count)" in error["message"]
    assert graph.error(graph.get("/me", fields="id,media{id,bogus}"))["code"] == 100


def test_fields_syntax_error(graph):
    response = graph.get("/me", fields="id,media{id")
    assert response.status_code == 400
    assert graph.error(response)["code"] == 2500


def test_carousel_children_by_expansion_and_by_edge(graph, sim):
    account_id = graph.account()["id"]
    truth = {m["id"]: m for m in sim.truth("media", account_id=account_id)}
    items, _ = graph.collect(f"/{account_id}/media", fields="id,media_type,children{id,media_type,media_url}",
                             limit=100)
    carousels = [item for item in items if item["media_type"] == "CAROUSEL_ALBUM"]
    assert carousels
    for item in carousels:
        expected = [{k: c[k] for k in ("id", "media_type", "media_url") if c[k] is not None}
                    for c in truth[item["id"]]["children"]]
        assert item["children"]["data"] == expected
        assert 2 <= len(expected) <= 10
    singles = [item for item in items if item["media_type"] != "CAROUSEL_ALBUM"]
    assert singles and all("children" not in item for item in singles)
    carousel = carousels[0]
    edge = graph.get(f"/{carousel['id']}/children", fields="id,media_type,media_url,permalink").json()
    assert [c["id"] for c in edge["data"]] == [c["id"] for c in carousel["children"]["data"]]
    assert all("permalink" not in child for child in edge["data"])  # children have no permalink


def test_some_media_have_no_media_url_and_videos_have_thumbnails(graph, sim):
    truth = sim.truth("media", account_id=graph.account()["id"])
    assert any(m["media_url"] is None for m in truth)
    kinds = {(m["media_type"], m["media_product_type"]) for m in truth}
    assert {("IMAGE", "FEED"), ("VIDEO", "FEED"), ("VIDEO", "REELS"), ("CAROUSEL_ALBUM", "FEED")} <= kinds
    items, _ = graph.collect(f"/{graph.account()['id']}/media", fields="id,media_url,thumbnail_url,media_type",
                             limit=100)
    missing = {m["id"] for m in truth if m["media_url"] is None}
    assert {i["id"] for i in items if "media_url" not in i} == missing
    assert all("thumbnail_url" in i for i in items if i["media_type"] == "VIDEO")


def test_owner_expands_to_the_user(graph, sim):
    account = graph.account()
    media_id = sim.truth("media", account_id=account["id"])[0]["id"]
    body = graph.get(f"/{media_id}", fields="owner{id,username}").json()
    assert body["owner"] == {"id": account["id"], "username": account["username"]}


def test_stories_live_for_24_hours_and_are_not_in_media(graph, sim):
    account_id = graph.account()["id"]
    stories = sim.truth("stories", account_id=account_id)
    assert stories
    listed, _ = graph.collect(f"/{account_id}/stories", fields="id,media_product_type")
    assert [s["id"] for s in listed] == [s["id"] for s in stories]
    assert {s["media_product_type"] for s in listed} == {"STORY"}
    media_ids = {m["id"] for m in sim.truth("media", account_id=account_id)}
    assert not media_ids & {s["id"] for s in stories}
    sim.advance_clock(25 * 3600)
    assert graph.get(f"/{account_id}/stories").json()["data"] == []
    gone = graph.get(f"/{stories[0]['id']}")
    assert gone.status_code == 400 and graph.error(gone)["error_subcode"] == 33


def test_comments_and_replies_page_through_everything(graph, sim):
    account_id = graph.account()["id"]
    media = max(sim.truth("media", account_id=account_id), key=lambda m: m["comments_count"])
    truth = sim.truth("comments", media_id=media["id"])
    comments, pages = graph.collect(f"/{media['id']}/comments", fields="id,text,username,timestamp,like_count")
    assert pages > 1
    assert [c["id"] for c in comments] == [c["id"] for c in truth]
    assert comments[0]["text"] == truth[0]["text"]
    total = len(truth) + sum(len(c["replies"]) for c in truth)
    assert total == media["comments_count"]
    threaded = max(truth, key=lambda c: len(c["replies"]))
    replies, reply_pages = graph.collect(f"/{threaded['id']}/replies", fields="id,text,parent_id")
    assert reply_pages > 1
    assert [r["id"] for r in replies] == [r["id"] for r in threaded["replies"]]
    assert {r["parent_id"] for r in replies} == {threaded["id"]}
    default = graph.get(f"/{media['id']}/comments").json()["data"][0]
    assert set(default) == {"id", "text", "timestamp"}
    single = graph.get(f"/{threaded['id']}", fields="id,text,from,media").json()
    assert single["media"] == {"id": media["id"]} and single["from"]["username"] == threaded["username"]


def test_conversations_and_messages(graph, sim):
    sim.configure(conversations_calls_per_second=0)  # about shapes; the 2 calls/s limit has its own test
    account_id = graph.account()["id"]
    truth = sim.truth("conversations", account_id=account_id)
    listed, _ = graph.collect("/me/conversations", platform="instagram", fields="id,updated_time")
    assert [c["id"] for c in listed] == [c["id"] for c in truth]
    assert [c["updated_time"] for c in listed] == [c["updated_time"] for c in truth]
    same, _ = graph.collect(f"/{account_id}/conversations", platform="instagram")
    assert same == listed  # default fields are id and updated_time
    conversation = truth[0]
    body = graph.get(f"/{conversation['id']}", fields="messages{id,created_time,from,to,message}").json()
    messages = body["messages"]["data"]
    assert [m["id"] for m in messages] == [m["id"] for m in conversation["messages"]][: len(messages)]
    first = messages[0]
    assert first["message"] == conversation["messages"][0]["message"]
    assert set(first["from"]) == {"id", "username"} and first["to"]["data"][0]["id"]
    by_user = graph.get("/me/conversations", platform="instagram", user_id=conversation["user_id"]).json()
    assert [c["id"] for c in by_user["data"]] == [conversation["id"]]


def test_unknown_object_and_other_accounts_objects_are_refused(graph, sim):
    response = graph.get("/17999999999999999")
    assert response.status_code == 400
    error = graph.error(response)
    assert (error["code"], error["error_subcode"]) == (100, 33)
    assert "Unsupported get request" in error["message"]
    other_media = sim.truth("media", account_id=graph.account(1)["id"])[0]["id"]
    assert graph.error(graph.get(f"/{other_media}", account=0))["code"] == 100
    assert graph.get(f"/{other_media}", account=1).status_code == 200


def test_unknown_edge_and_deprecated_version(graph):
    assert graph.error(graph.get("/me/feed"))["code"] == 100
    old = graph.get("/me", version="v12.0")
    assert old.status_code == 400 and graph.error(old)["code"] == 2635


@pytest.mark.parametrize("fields", ["id,username,name,biography,website,profile_picture_url,followers_count,"
                                    "follows_count,media_count,user_id,account_type"])
def test_profile_fields(graph, fields):
    body = graph.get("/me", fields=fields).json()
    assert set(body) == set(fields.split(","))
    assert body["user_id"] == body["id"]
    small = graph.get("/me", account=2, fields="followers_count").json()
    assert small["followers_count"] < 100 <= body["followers_count"]


def test_ig_id_is_served_on_users_and_media(graph, sim):
    account_id = graph.account()["id"]
    user = graph.get("/me", fields="id,ig_id").json()
    assert isinstance(user["ig_id"], int) and len(str(user["ig_id"])) == 10
    assert graph.get("/me", account=1, fields="ig_id").json()["ig_id"] != user["ig_id"]
    truth = sim.truth("media", account_id=account_id)
    listed = graph.get("/me/media", fields="id,ig_id,children{id,ig_id}", limit=10).json()["data"]
    assert [m["ig_id"] for m in listed] == [m["ig_id"] for m in truth[:10]]
    assert all(m["ig_id"].isdigit() and len(m["ig_id"]) == 19 for m in listed)
    story = sim.truth("stories", account_id=account_id)[0]
    assert graph.get(f"/{story['id']}", fields="ig_id").json()["ig_id"] == story["ig_id"]
    sim.reset()
    assert graph.get("/me", fields="ig_id").json() == {"ig_id": user["ig_id"], "id": account_id}  # seeded
