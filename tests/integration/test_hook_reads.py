"""Every read of InstagramGraphHook against the simulator over real HTTP."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from instagram_graph.models import Page


def _ids(items) -> list[str]:
    return [item["id"] for item in items]


def test_profile(hook, sim, account) -> None:
    profile = hook.get_profile(account["id"])
    assert profile["id"] == account["id"]
    assert profile["username"] == account["username"]
    assert isinstance(profile["followers_count"], int)


def test_iter_media_returns_every_item_once_with_children_in_few_calls(hook, sim, account) -> None:
    truth = sim.truth("media", account_id=account["id"])
    sim.clear_requests()

    media = list(hook.iter_media(account["id"]))

    assert _ids(media) == _ids(truth)
    carousels = [m for m in media if m["media_type"] == "CAROUSEL_ALBUM"]
    assert carousels, "the seeded data should contain carousels"
    truth_children = {m["id"]: _ids(m["children"]) for m in truth if m["media_type"] == "CAROUSEL_ALBUM"}
    for carousel in carousels:
        assert _ids(carousel["children"]["data"]) == truth_children[carousel["id"]]
    # Children came by field expansion: one call per page of 100, none per slide.
    assert len(sim.requests()) == math.ceil(len(truth) / 100)


def test_pages_are_rebuilt_from_the_cursor_and_token_never_in_a_url(hook, sim, account) -> None:
    sim.clear_requests()
    first = hook.get_media_page(account["id"], limit=10)
    second = hook.get_media_page(account["id"], limit=10, after=first.after)

    assert isinstance(first, Page) and first.has_next and len(first.data) == 10
    assert not set(_ids(first.data)) & set(_ids(second.data))
    for logged in sim.requests():
        assert "access_token" not in logged["params"], "the token goes in the Authorization header"


def test_single_media_children_stories_comments(hook, sim, account) -> None:
    truth = sim.truth("media", account_id=account["id"])
    carousel = next(m for m in truth if m["media_type"] == "CAROUSEL_ALBUM")

    assert hook.get_media(account["id"], carousel["id"])["id"] == carousel["id"]
    assert _ids(hook.get_children(account["id"], carousel["id"])) == _ids(carousel["children"])

    stories = hook.get_stories(account["id"])
    assert _ids(stories) == _ids(sim.truth("stories", account_id=account["id"]))

    commented = next(m for m in truth if m.get("comments_count"))
    comments = hook.get_comments(account["id"], commented["id"])
    truth_comments = sim.truth("comments", media_id=commented["id"])
    assert _ids(comments) == _ids(truth_comments)
    with_replies = [c for c in truth_comments if c.get("replies")]
    if with_replies:
        replies = hook.get_replies(account["id"], with_replies[0]["id"])
        assert _ids(replies) == _ids(with_replies[0]["replies"])


def test_account_insights_both_shapes(hook, sim, account) -> None:
    until = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    since = until - timedelta(days=7)

    series = hook.get_account_insights(account["id"], ["reach"], period="day", since=since, until=until)
    assert series[0]["name"] == "reach" and len(series[0]["values"]) == 7
    assert all("end_time" in v for v in series[0]["values"])

    total = hook.get_account_insights(
        account["id"], ["views"], period="day", metric_type="total_value", since=since, until=until
    )
    assert isinstance(total[0]["total_value"]["value"], (int, float))


def test_media_insights_for_its_type(hook, sim, account) -> None:
    truth = sim.truth("media", account_id=account["id"])
    recent_image = next(m for m in truth if m["media_type"] == "IMAGE" and m.get("media_product_type") == "FEED")
    insights = hook.get_media_insights(account["id"], recent_image["id"], ["reach", "likes"])
    assert {i["name"] for i in insights} == {"reach", "likes"}


def test_publishing_limit_and_conversations(hook, sim, account) -> None:
    limit = hook.get_publishing_limit(account["id"])
    assert limit["quota_usage"] == 0 and limit["config"]["quota_total"] > 0

    conversations = list(hook.iter_conversations(account["id"]))
    truth = sim.truth("conversations", account_id=account["id"])
    assert sorted(_ids(conversations)) == sorted(_ids(truth))
    messages = hook.get_messages(account["id"], conversations[0]["id"])
    truth_conv = next(c for c in truth if c["id"] == conversations[0]["id"])
    assert sorted(_ids(messages)) == sorted(_ids(truth_conv["messages"]))
