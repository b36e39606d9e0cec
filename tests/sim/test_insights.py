"""Account and media insights: shapes, metric tables, refusals."""

from __future__ import annotations

import time

DAY = 86400


def _window(days: int) -> tuple[int, int]:
    until = int(time.time()) // DAY * DAY
    return until - days * DAY, until


def test_time_series_shape_matches_truth(graph, sim):
    account_id = graph.account()["id"]
    since, until = _window(10)
    body = graph.get(f"/{account_id}/insights", metric="reach", period="day", since=since, until=until).json()
    (item,) = body["data"]
    assert item["name"] == "reach" and item["period"] == "day"
    assert {"title", "description", "id"} <= set(item)
    truth = sim.truth("account_insights", account_id=account_id, metric="reach", period="day",
                      since=since, until=until)
    assert item["values"] == truth["values"]
    assert len(item["values"]) == 10
    assert all(v["end_time"].endswith("T08:00:00+0000") for v in item["values"])
    assert any(v["value"] > 0 for v in item["values"])
    assert "next" in body["paging"] and "previous" in body["paging"]


def test_total_value_shape_with_breakdown(graph, sim):
    account_id = graph.account()["id"]
    since, until = _window(7)
    body = graph.get(f"/{account_id}/insights", metric="views,reach", period="day", metric_type="total_value",
                     breakdown="follow_type", since=since, until=until).json()
    assert [item["name"] for item in body["data"]] == ["views", "reach"]
    for item in body["data"]:
        truth = sim.truth("account_insights", account_id=account_id, metric=item["name"], period="day",
                          since=since, until=until)
        total = item["total_value"]
        assert total["value"] == truth["total"] > 0
        (breakdown,) = total["breakdowns"]
        assert breakdown["dimension_keys"] == ["follow_type"]
        assert {r["dimension_values"][0] for r in breakdown["results"]} <= {"FOLLOWER", "NON_FOLLOWER"}
        assert sum(r["value"] for r in breakdown["results"]) == total["value"]
    assert "paging" not in body


def test_values_are_stable_per_day(graph):
    account_id = graph.account()["id"]
    since, until = _window(6)
    wide = graph.get(f"/{account_id}/insights", metric="likes", period="day", metric_type="total_value",
                     since=since, until=until).json()["data"][0]["total_value"]["value"]
    halves = [graph.get(f"/{account_id}/insights", metric="likes", period="day", metric_type="total_value",
                        since=a, until=b).json()["data"][0]["total_value"]["value"]
              for a, b in ((since, since + 3 * DAY), (since + 3 * DAY, until))]
    assert sum(halves) == wide


def test_span_over_30_days_is_refused(graph):
    since, until = _window(31)
    response = graph.get("/me/insights", metric="reach", period="day", since=since, until=until)
    assert response.status_code == 400
    error = graph.error(response)
    assert error["code"] == 100 and "30 days" in error["message"]
    ok = graph.get("/me/insights", metric="reach", period="day", since=until - 30 * DAY, until=until)
    assert ok.status_code == 200


def test_deprecated_unknown_and_misused_account_metrics(graph):
    deprecated = graph.error(graph.get("/me/insights", metric="impressions", period="day"))
    assert deprecated["code"] == 100
    assert "impressions" in deprecated["message"] and "no longer supported" in deprecated["message"]
    assert "views" in deprecated["message"]
    unknown = graph.error(graph.get("/me/insights", metric="reach,nonsense", period="day"))
    assert unknown["code"] == 100 and "metric[1] must be one of" in unknown["message"]
    needs_total = graph.error(graph.get("/me/insights", metric="views", period="day"))
    assert needs_total["code"] == 100 and "metric_type=total_value" in needs_total["message"]
    bad_period = graph.error(graph.get("/me/insights", metric="likes", period="week", metric_type="total_value"))
    assert bad_period["code"] == 100
    bad_breakdown = graph.error(graph.get("/me/insights", metric="likes", period="day", metric_type="total_value",
                                          breakdown="country"))
    assert bad_breakdown["code"] == 100


def test_follower_count_needs_100_followers(graph):
    since, until = _window(5)
    big = graph.get("/me/insights", metric="follower_count", period="day", since=since, until=until).json()
    assert len(big["data"][0]["values"]) == 5
    small = graph.get("/me/insights", account=2, metric="follower_count", period="day", since=since, until=until)
    assert small.status_code == 200 and small.json()["data"] == []


def test_follower_count_older_than_30_days_fails_the_whole_call(graph):
    until = int(time.time()) // DAY * DAY - 40 * DAY
    for metric in ("follower_count", "reach,follower_count"):
        old = graph.get("/me/insights", metric=metric, period="day", since=until - 5 * DAY, until=until)
        assert old.status_code == 400
        error = graph.error(old)
        assert error["code"] == 100 and error["message"] == (
            "(#100) (follower_count) metric only supports querying data for the last 30 days excluding the "
            "current day")
    now = int(time.time())
    straddling = graph.get("/me/insights", metric="follower_count", period="day", since=now - 31 * DAY,
                           until=now - 10 * DAY)
    assert "(follower_count) metric only supports" in graph.error(straddling)["message"]
    last_30 = graph.get("/me/insights", metric="follower_count", period="day", since=now - 30 * DAY, until=now)
    assert last_30.status_code == 200 and len(last_30.json()["data"][0]["values"]) == 30
    assert graph.get("/me/insights", metric="reach", period="day", since=until - 5 * DAY,
                     until=until).status_code == 200  # other metrics keep their history


def test_online_followers_and_demographics(graph, sim):
    online = graph.get("/me/insights", metric="online_followers", period="lifetime").json()["data"][0]
    assert online["values"] and set(online["values"][0]["value"]) == {str(h) for h in range(24)}
    account_id = graph.account()["id"]
    body = graph.get("/me/insights", metric="follower_demographics", period="lifetime",
                     metric_type="total_value", breakdown="country").json()
    results = body["data"][0]["total_value"]["breakdowns"][0]["results"]
    truth = sim.truth("account_insights", account_id=account_id, metric="follower_demographics",
                      breakdown="country")
    assert results == truth["results"]
    assert sum(r["value"] for r in results) == graph.account()["followers_count"]
    missing = graph.error(graph.get("/me/insights", metric="follower_demographics", period="lifetime",
                                    metric_type="total_value"))
    assert missing["code"] == 100
    no_timeframe = graph.error(graph.get("/me/insights", metric="engaged_audience_demographics",
                                         period="lifetime", metric_type="total_value", breakdown="age"))
    assert no_timeframe["code"] == 100


def _media_by_kind(sim, account_id):
    media = sim.truth("media", account_id=account_id)
    fresh = [m for m in media if sim.truth("media_insights", media_id=m["id"])["refused"] is None]
    image = next(m for m in fresh if m["media_type"] == "IMAGE")
    reel = next(m for m in fresh if m["media_product_type"] == "REELS")
    carousel = next(m for m in fresh if m["media_type"] == "CAROUSEL_ALBUM")
    return media, image, reel, carousel


def test_media_insights_per_product_type(graph, sim):
    account_id = graph.account()["id"]
    _, image, reel, carousel = _media_by_kind(sim, account_id)
    feed_metrics = "reach,views,likes,comments,saved,shares,total_interactions,profile_visits,follows"
    body = graph.get(f"/{image['id']}/insights", metric=feed_metrics).json()
    truth = sim.truth("media_insights", media_id=image["id"])["values"]
    assert {item["name"]: item["values"][0]["value"] for item in body["data"]} == \
        {name: truth[name] for name in feed_metrics.split(",")}
    assert truth["likes"] == image["like_count"] and truth["comments"] == image["comments_count"]
    reels = graph.get(f"/{reel['id']}/insights", metric="reach,ig_reels_avg_watch_time,"
                                                      "ig_reels_video_view_total_time").json()
    assert [item["name"] for item in reels["data"]] == ["reach", "ig_reels_avg_watch_time",
                                                        "ig_reels_video_view_total_time"]
    refused = graph.error(graph.get(f"/{reel['id']}/insights", metric="reach,profile_activity"))
    assert refused["code"] == 100 and "does not support the profile_activity metric" in refused["message"]
    assert graph.get(f"/{carousel['id']}/insights", metric="reach,saved").status_code == 200
    child = carousel["children"][0]["id"]
    child_error = graph.error(graph.get(f"/{child}/insights", metric="reach"))
    assert child_error["code"] == 100


def test_media_insights_deprecated_metrics(graph, sim):
    _, image, reel, _ = _media_by_kind(sim, graph.account()["id"])
    for media_id, metric in ((reel["id"], "plays"), (image["id"], "impressions"), (reel["id"], "video_views"),
                             (image["id"], "carousel_album_reach")):
        error = graph.error(graph.get(f"/{media_id}/insights", metric=metric))
        assert error["code"] == 100 and "no longer supported" in error["message"], (metric, error)


def test_media_before_business_conversion_answers_2108006(graph, sim):
    media = sim.truth("media", account_id=graph.account()["id"])
    oldest = media[-1]
    assert sim.truth("media_insights", media_id=oldest["id"])["refused"]["subcode"] == 2108006
    response = graph.get(f"/{oldest['id']}/insights", metric="reach")
    assert response.status_code == 400
    error = graph.error(response)
    assert (error["code"], error["error_subcode"], error["type"]) == (100, 2108006, "OAuthException")
    assert error["message"] == "Invalid parameter"
    assert error["error_user_title"] == "Media posted before business account conversion"
    assert error["error_user_msg"].startswith("The media was posted before the most recent time")
    assert error["error_data"] == {"blame_field_specs": [[""]]}
    assert list(error).index("error_data") == list(error).index("code") + 1  # where Meta puts it


def test_story_insights_and_too_few_viewers(graph, sim):
    account_id = graph.account()["id"]
    stories = sim.truth("stories", account_id=account_id)
    watched = next(s for s in stories if s["viewers"] >= 5)
    quiet = next(s for s in stories if s["viewers"] < 5)
    body = graph.get(f"/{watched['id']}/insights", metric="reach,replies,navigation").json()
    assert body["data"][0]["values"][0]["value"] == watched["viewers"]
    navigation = graph.get(f"/{watched['id']}/insights", metric="navigation",
                           breakdown="story_navigation_action_type").json()["data"][0]["total_value"]
    assert sum(r["value"] for r in navigation["breakdowns"][0]["results"]) == navigation["value"]
    unsupported = graph.error(graph.get(f"/{watched['id']}/insights", metric="saved"))
    assert unsupported["code"] == 100
    too_few = graph.error(graph.get(f"/{quiet['id']}/insights", metric="reach"))
    assert too_few["code"] == 10


def test_profile_views_and_website_clicks_answer_only_as_total_value(graph, sim):
    account_id = graph.account()["id"]
    since, until = _window(7)
    names = "profile_views,website_clicks,follows_and_unfollows,reposts"
    body = graph.get("/me/insights", metric=names, period="day", metric_type="total_value",
                     since=since, until=until).json()
    assert [item["name"] for item in body["data"]] == names.split(",")
    for item in body["data"]:
        truth = sim.truth("account_insights", account_id=account_id, metric=item["name"], since=since, until=until)
        assert item["total_value"]["value"] == truth["total"]
    for name in names.split(","):  # retired or never offered as time series
        error = graph.error(graph.get("/me/insights", metric=name, period="day", since=since, until=until))
        assert error["code"] == 100 and "metric_type=total_value" in error["message"], name


def test_list_parameters_take_json_arrays_too(graph):
    account_id = graph.account()["id"]
    since, until = _window(7)
    common = {"period": "day", "metric_type": "total_value", "since": since, "until": until}
    commas = graph.get(f"/{account_id}/insights", metric="views,reach", breakdown="follow_type", **common).json()
    arrays = graph.get(f"/{account_id}/insights", metric='["views", "reach"]', breakdown='["follow_type"]',
                       **common).json()
    assert arrays == commas and len(arrays["data"]) == 2
    for bad in ('["views", "reach"', '[["views"]]', "[views]", '["views", null]'):
        error = graph.error(graph.get(f"/{account_id}/insights", metric=bad, **common))
        assert error["code"] == 100 and "Param metric" in error["message"], bad
    _, image, _, _ = _media_by_kind(graph.sim, account_id)
    media = graph.get(f"/{image['id']}/insights", metric='["reach","saved"]').json()
    assert [item["name"] for item in media["data"]] == ["reach", "saved"]


def _legacy_feed_video(sim, account_id):
    return next(m for m in sim.truth("media", account_id=account_id)
                if (m["media_type"], m["media_product_type"]) == ("VIDEO", "FEED")
                and sim.truth("media_insights", media_id=m["id"])["refused"] is None)


def test_newer_media_metrics_by_product_type(graph, sim):
    account_id = graph.account()["id"]
    _, image, reel, carousel = _media_by_kind(sim, account_id)
    feed = graph.get(f"/{image['id']}/insights", metric="profile_activity,reposts").json()["data"]
    assert [item["name"] for item in feed] == ["profile_activity", "reposts"]
    assert graph.get(f"/{carousel['id']}/insights", metric="reposts").status_code == 200
    reels = graph.get(f"/{reel['id']}/insights", metric="reels_skip_rate,reposts").json()["data"]
    truth = sim.truth("media_insights", media_id=reel["id"])["values"]
    assert {item["name"]: item["values"][0]["value"] for item in reels} == \
        {"reels_skip_rate": truth["reels_skip_rate"], "reposts": truth["reposts"]}
    assert 0 <= truth["reels_skip_rate"] <= 100
    skip_on_image = graph.error(graph.get(f"/{image['id']}/insights", metric="reels_skip_rate"))
    assert skip_on_image["code"] == 100 and "does not support the reels_skip_rate metric" in skip_on_image["message"]


def test_legacy_feed_video_refuses_total_interactions(graph, sim):
    account_id = graph.account()["id"]
    video = _legacy_feed_video(sim, account_id)
    error = graph.error(graph.get(f"/{video['id']}/insights", metric="reach,total_interactions"))
    assert error["code"] == 100 and "total_interactions is not supported for this media type" in error["message"]
    assert "total_interactions" not in sim.truth("media_insights", media_id=video["id"])["values"]
    assert graph.get(f"/{video['id']}/insights", metric="reach,likes").status_code == 200
    _, image, reel, _ = _media_by_kind(sim, account_id)
    for media in (image, reel):  # every other kind answers it
        assert graph.get(f"/{media['id']}/insights", metric="total_interactions").status_code == 200


def test_refused_media_metrics_setting(graph, sim):
    account_id = graph.account()["id"]
    _, image, reel, _ = _media_by_kind(sim, account_id)
    assert sim.config()["refused_media_metrics"] == {}
    sim.configure(refused_media_metrics={"REELS": ["reels_skip_rate", "views"]})
    refused = graph.error(graph.get(f"/{reel['id']}/insights", metric="reach,reels_skip_rate"))
    unsupported = graph.error(graph.get(f"/{image['id']}/insights", metric="ig_reels_avg_watch_time"))
    assert (refused["code"], refused["type"]) == (unsupported["code"], unsupported["type"]) == (100, "IGApiException")
    assert refused["message"] == unsupported["message"].replace("ig_reels_avg_watch_time", "reels_skip_rate") \
        .replace("(FEED)", "(REELS)")
    assert graph.error(graph.get(f"/{reel['id']}/insights", metric="views"))["code"] == 100
    assert graph.get(f"/{image['id']}/insights", metric="views").status_code == 200  # only REELS refuses it
    assert "views" not in sim.truth("media_insights", media_id=reel["id"])["values"]
    for bad in ({"CAROUSEL": ["reach"]}, {"REELS": ["impressions"]}, {"REELS": "views"}):
        assert graph.session.post(f"{sim.base_url}/__sim__/config", json={"refused_media_metrics": bad},
                                  timeout=5).status_code == 422, bad
    sim.reset()
    assert graph.get(f"/{reel['id']}/insights", metric="reels_skip_rate").status_code == 200


def test_story_insights_after_the_story_expired_answer_100_33(graph, sim):
    stories = sim.truth("stories", account_id=graph.account()["id"])
    watched = next(s for s in stories if s["viewers"] >= 5)
    assert graph.get(f"/{watched['id']}/insights", metric="reach").status_code == 200
    sim.advance_clock(24 * 3600)
    gone = graph.get(f"/{watched['id']}/insights", metric="reach")
    assert gone.status_code == 400
    error = graph.error(gone)
    assert (error["code"], error["error_subcode"], error["type"]) == (100, 33, "GraphMethodException")
    assert error["message"].startswith(f"Unsupported get request. Object with ID '{watched['id']}' does not exist")
