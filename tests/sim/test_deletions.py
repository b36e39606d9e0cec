"""Objects that vanish: media, stories, comments and replies deleted behind the client's back."""

from __future__ import annotations

import pytest
import requests

GONE = ("Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation. Please read the Graph API documentation at "
        "https://developers.facebook.com/docs/graph-api")


def _assert_gone(graph, path, object_id, **params):
    response = graph.get(path, **params)
    assert response.status_code == 400, (path, response.text)
    error = graph.error(response)
    assert (error["code"], error["error_subcode"], error["type"]) == (100, 33, "GraphMethodException")
    assert error["message"] == GONE.format(id=object_id)
    assert error["is_transient"] is False


def _carousel(sim, account_id):
    return next(m for m in sim.truth("media", account_id=account_id)
                if m["media_type"] == "CAROUSEL_ALBUM" and m["comments_count"] > 0)


def test_deleted_media_answers_100_33_everywhere_and_leaves_the_edges(graph, sim):
    account_id = graph.account()["id"]
    carousel = _carousel(sim, account_id)
    media_id, child_id = carousel["id"], carousel["children"][0]["id"]
    comment_id = sim.truth("comments", media_id=media_id)[0]["id"]
    position = [m["id"] for m in sim.truth("media", account_id=account_id)].index(media_id)
    page = graph.get("/me/media", limit=position + 1).json()  # a page that ends at the carousel
    assert page["data"][-1]["id"] == media_id
    assert sim.delete_object(media_id) == {"id": media_id, "deleted": True, "type": "IGMedia"}
    _assert_gone(graph, f"/{media_id}", media_id, fields="id,caption")
    for edge, params in (("insights", {"metric": "reach"}), ("comments", {}), ("children", {})):
        _assert_gone(graph, f"/{media_id}/{edge}", media_id, **params)
    _assert_gone(graph, f"/{child_id}", child_id)  # the slides went with the carousel
    _assert_gone(graph, f"/{comment_id}", comment_id)  # and so did its comments
    items, _ = graph.collect("/me/media", fields="id", limit=50)
    assert media_id not in {item["id"] for item in items} and len(items) == 119
    assert graph.get("/me", fields="media_count").json()["media_count"] == 119
    assert media_id not in {m["id"] for m in sim.truth("media", account_id=account_id)}
    stale = graph.get("/me/media", after=page["paging"]["cursors"]["after"])  # cursors die with their item
    assert stale.status_code == 400 and graph.error(stale)["code"] == 100


def test_deleted_published_post_and_story(graph, sim):
    account_id = graph.account()["id"]
    container = graph.post("/me/media", image_url="https://cdn.example.com/a.jpg").json()["id"]
    story_container = graph.post("/me/media", media_type="STORIES", image_url="https://cdn.example.com/s.jpg")
    sim.advance_clock(1)
    post_id = graph.post("/me/media_publish", creation_id=container).json()["id"]
    story_id = graph.post("/me/media_publish", creation_id=story_container.json()["id"]).json()["id"]
    seeded_story = sim.truth("stories", account_id=account_id)[-1]["id"]
    for object_id in (post_id, story_id, seeded_story):
        sim.delete_object(object_id)
        _assert_gone(graph, f"/{object_id}", object_id)
    assert graph.get("/me/media", limit=1).json()["data"][0]["id"] != post_id
    assert graph.get("/me", fields="media_count").json()["media_count"] == 120
    stories = {s["id"] for s in graph.get("/me/stories").json()["data"]}
    assert not stories & {story_id, seeded_story}
    assert sim.truth("published") == []
    flagged = {p["media_id"]: p["deleted"] for p in sim.truth("published", include_deleted="true")}
    assert flagged == {post_id: True, story_id: True}
    assert {s["id"]: s["deleted"] for s in sim.truth("stories", account_id=account_id,
                                                     include_deleted="true")}[seeded_story] is True


def test_deleted_comment_and_reply(graph, sim):
    account_id = graph.account()["id"]
    media = max(sim.truth("media", account_id=account_id), key=lambda m: m["comments_count"])
    threads = sim.truth("comments", media_id=media["id"])
    threaded = max(threads, key=lambda c: len(c["replies"]))
    reply_id = threaded["replies"][0]["id"]
    sim.delete_object(reply_id)
    _assert_gone(graph, f"/{reply_id}", reply_id)
    replies, _ = graph.collect(f"/{threaded['id']}/replies")
    assert reply_id not in {r["id"] for r in replies} and len(replies) == len(threaded["replies"]) - 1
    lone = next(c for c in threads if not c["replies"])
    sim.delete_object(lone["id"])
    sim.delete_object(threaded["id"])  # takes its remaining replies with it
    _assert_gone(graph, f"/{threaded['id']}/replies", threaded["id"])
    _assert_gone(graph, f"/{threaded['replies'][1]['id']}", threaded["replies"][1]["id"])
    comments, _ = graph.collect(f"/{media['id']}/comments")
    assert {c["id"] for c in comments} == {c["id"] for c in threads} - {lone["id"], threaded["id"]}
    expanded = graph.get(f"/{media['id']}", fields="comments.limit(100){id}").json()["comments"]["data"]
    assert {c["id"] for c in expanded} == {c["id"] for c in comments}
    dropped = 1 + 1 + len(threaded["replies"])
    assert graph.get(f"/{media['id']}", fields="comments_count").json()["comments_count"] == \
        media["comments_count"] - dropped
    truth = sim.truth("comments", media_id=media["id"])
    assert len(truth) + sum(len(c["replies"]) for c in truth) == media["comments_count"] - dropped
    full = sim.truth("comments", media_id=media["id"], include_deleted="true")
    assert len(full) == len(threads)
    assert {c["id"]: c["deleted"] for c in full}[threaded["id"]] is True
    assert {r["deleted"] for c in full if c["id"] == threaded["id"] for r in c["replies"]} == {True}


def test_unknown_or_undeletable_objects_are_404_and_reset_restores_everything(graph, sim):
    account_id = graph.account()["id"]
    for object_id in ("17999999999999999", account_id, graph.accounts[0]["token"]):
        response = requests.delete(f"{sim.base_url}/__sim__/objects/{object_id}", timeout=5)
        assert response.status_code == 404 and "detail" in response.json()
    media_id = sim.truth("media", account_id=account_id)[0]["id"]
    sim.delete_object(media_id)
    with pytest.raises(requests.HTTPError):
        sim.delete_object(media_id)  # already gone
    assert {m["id"]: m["deleted"] for m in sim.truth("media", account_id=account_id,
                                                     include_deleted="true")}[media_id] is True
    sim.reset()
    assert graph.get(f"/{media_id}").status_code == 200
    assert graph.get("/me", fields="media_count").json()["media_count"] == 120
    assert "deleted" not in sim.truth("media", account_id=account_id)[0]
