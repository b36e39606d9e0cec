"""Row mappers: Graph API objects -> long-format warehouse rows, raw payload kept."""

from __future__ import annotations

from datetime import UTC

from instagram_graph.records import (
    LIFETIME_END_TIME,
    account_insight_rows,
    child_rows,
    comment_rows,
    media_insight_rows,
    media_row,
    message_row,
)

SERIES = {
    "name": "reach",
    "period": "day",
    "values": [{"value": 12, "end_time": "2026-01-11T08:00:00+0000"}, {"value": 15, "end_time": "2026-01-12T08:00:00+0000"}],
    "id": "1/insights/reach/day",
}
TOTAL = {
    "name": "reach",
    "period": "day",
    "total_value": {
        "value": 45230,
        "breakdowns": [
            {
                "dimension_keys": ["follow_type"],
                "results": [{"dimension_values": ["FOLLOWER"], "value": 28000}, {"dimension_values": ["NON_FOLLOWER"], "value": 17230}],
            }
        ],
    },
}


def test_time_series_is_one_row_per_value() -> None:
    rows = list(account_insight_rows("1", SERIES, until=None))
    assert [(r["end_time"], r["value"], r["breakdown"], r["metric_type"]) for r in rows] == [
        ("2026-01-11T08:00:00+0000", 12, "", "time_series"),
        ("2026-01-12T08:00:00+0000", 15, "", "time_series"),
    ]


def test_total_value_with_breakdowns_is_long_format() -> None:
    rows = list(account_insight_rows("1", TOTAL, until="2026-01-12T00:00:00+0000"))
    assert [(r["breakdown"], r["value"]) for r in rows] == [
        ("", 45230),
        ("follow_type=FOLLOWER", 28000),
        ("follow_type=NON_FOLLOWER", 17230),
    ]
    assert {r["end_time"] for r in rows} == {"2026-01-12T00:00:00+0000"}


def test_no_data_is_no_rows_not_zero() -> None:
    assert list(account_insight_rows("1", {"name": "follower_count", "period": "day", "values": []}, None)) == []


def test_breakdown_keys_are_sorted() -> None:
    insight = {
        "name": "follower_demographics",
        "period": "lifetime",
        "total_value": {"breakdowns": [{"dimension_keys": ["gender", "age"], "results": [{"dimension_values": ["F", "25-34"], "value": 3}]}]},
    }
    rows = list(account_insight_rows("1", insight, until=None))
    assert rows[-1]["breakdown"] == "age=25-34&gender=F"
    assert rows[0]["value"] is None  # total without a value: NULL, raw kept


def test_media_lifetime_insights_sit_at_epoch() -> None:
    rows = list(media_insight_rows("1", "m1", {"name": "reach", "period": "lifetime", "values": [{"value": 7}]}))
    assert rows == [
        {"media_id": "m1", "account_id": "1", "metric": "reach", "period": "lifetime", "end_time": LIFETIME_END_TIME,
         "breakdown": "", "value": 7, "raw": {"value": 7}}
    ]


def test_media_row_keeps_raw_and_children_keep_order() -> None:
    media = {
        "id": "m1", "media_type": "CAROUSEL_ALBUM", "timestamp": "2026-01-11T08:00:00+0000", "new_field": "kept",
        "children": {"data": [{"id": "c2", "media_type": "IMAGE"}, {"id": "c1", "media_type": "VIDEO"}]},
    }
    row = media_row("1", media)
    assert row["media_id"] == "m1" and row["raw"]["new_field"] == "kept" and row["media_url"] is None
    assert [(c["child_id"], c["position"], c["parent_id"]) for c in child_rows(media)] == [("c2", 0, "m1"), ("c1", 1, "m1")]


def test_comments_flatten_replies_with_parent() -> None:
    comment = {"id": "c1", "text": "hi", "replies": {"data": [{"id": "r1", "text": "yo"}]}}
    rows = list(comment_rows("1", "m1", comment))
    assert [(r["comment_id"], r["parent_comment_id"]) for r in rows] == [("c1", None), ("r1", "c1")]
    assert "replies" not in rows[0]["raw"]


def test_message_row_reads_from_and_to() -> None:
    message = {"id": "x", "created_time": "2026-01-11T08:00:00+0000", "from": {"id": "u1"}, "to": {"data": [{"id": "a1"}]}, "message": "hello"}
    row = message_row("a1", "conv", message)
    assert (row["from_id"], row["to_id"], row["text"]) == ("u1", "a1", "hello")


def test_reread_covers_unsettled_days_only() -> None:
    from datetime import datetime

    from instagram_graph.sync.insights import reread_start

    now = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    today = datetime(2026, 3, 10, tzinfo=UTC)
    yesterday = datetime(2026, 3, 9, tzinfo=UTC)
    # The daily run for yesterday also re-reads the day before it (Meta lags up to 48 h).
    assert reread_start(yesterday, 2, now) == datetime(2026, 3, 8, tzinfo=UTC)
    # A backfill of a settled day reads exactly that day.
    old = datetime(2026, 2, 1, tzinfo=UTC)
    assert reread_start(old, 2, now) == old
    assert reread_start(today, 2, now) == datetime(2026, 3, 8, tzinfo=UTC)


def test_metric_tables_request_nothing_deprecated() -> None:
    from instagram_graph.metrics import (
        ACCOUNT_TIME_SERIES,
        ACCOUNT_TOTAL_VALUE,
        DEPRECATED,
        MEDIA_METRICS,
        media_metrics,
    )

    requested = set(ACCOUNT_TIME_SERIES) | set(ACCOUNT_TOTAL_VALUE) | {m for ms in MEDIA_METRICS.values() for m in ms}
    assert not requested & DEPRECATED
    assert media_metrics("STORY") == MEDIA_METRICS["STORY"]
    assert media_metrics(None, "CAROUSEL_ALBUM") == MEDIA_METRICS["FEED"]


def test_a_manual_run_reads_the_last_whole_day() -> None:
    from datetime import datetime

    from instagram_graph.sync.insights import days_of

    at = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)
    assert days_of(at, at) == (datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
    assert days_of(start, end) == (start, end)

