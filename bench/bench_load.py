"""Load benchmark: warehouse.upsert vs row-by-row INSERT ... ON CONFLICT.

Ours is timed twice: as it runs (a batch this big COPYs its new rows straight into the
table, the rest goes through staging + merge) and with every row forced through the
merge, so each road's share shows.

Both load the same synthetic media rows into instagram.media of a scratch database
(`instagram_bench` on 127.0.0.1, dropped and re-created). Goal: 10x or more.

    .venv/bin/python bench/bench_load.py [--rows 100000 --rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg2

from instagram_graph.records import MEDIA, media_row
from instagram_graph.warehouse import upsert

from bench_support import fresh_warehouse


def synthetic_media(n: int) -> list[dict]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        media_row(
            "17841400000000001",
            {
                "id": f"{18000000000000000 + i}",
                "caption": f"Post number {i} #demo\nwith a second line",
                "media_type": "IMAGE",
                "media_product_type": "FEED",
                "media_url": f"https://cdn.example.com/{i}.jpg",
                "permalink": f"https://www.instagram.com/p/{i:011d}/",
                "shortcode": f"{i:011d}",
                "timestamp": (start - timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S+0000"),
                "like_count": i % 977,
                "comments_count": i % 31,
                "is_comment_enabled": True,
            },
        )
        for i in range(n)
    ]


def row_by_row(conn, rows: list[dict]) -> None:
    cols = MEDIA.columns
    quoted = ", ".join(f'"{c}"' for c in cols)
    placeholders = ", ".join(["%s"] * len(cols))
    statement = (
        f"INSERT INTO instagram.media ({quoted}) VALUES ({placeholders}) "
        "ON CONFLICT (media_id) DO UPDATE SET like_count = EXCLUDED.like_count, comments_count = EXCLUDED.comments_count, raw = EXCLUDED.raw"
    )
    with conn, conn.cursor() as cur:
        for row in rows:
            values = [psycopg2.extras.Json(row[c]) if c == "raw" else row.get(c) for c in cols]
            cur.execute(statement, values)


def reset(conn) -> None:
    """Empty the table and CHECKPOINT, so every timed load starts from the same state.

    Autovacuum is off for the table: otherwise it wakes after one load and competes with
    the next for the machine's cores, which is noise, not a property of either method.
    """
    with conn, conn.cursor() as cur:
        cur.execute("TRUNCATE instagram.media CASCADE")
        cur.execute("ALTER TABLE instagram.media SET (autovacuum_enabled = false)")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CHECKPOINT")
    conn.autocommit = False


def timed(load, conn, rows) -> float:
    t0 = time.perf_counter()
    load(conn, rows)
    return time.perf_counter() - t0


def main() -> None:
    import psycopg2.extras  # noqa: F401  (Json adapter for the baseline)

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = synthetic_media(args.rows)
    conn = fresh_warehouse()

    ours_load = lambda c, r: upsert(c, MEDIA, r)  # noqa: E731
    merge_only = lambda c, r: upsert(c, MEDIA, r, direct_insert_min_rows=len(r) + 1)  # noqa: E731
    baseline, ours, merged, rerun, changed = [], [], [], [], 0
    for _ in range(args.rounds):  # interleaved, so drift on the machine hits all alike
        reset(conn)
        baseline.append(timed(row_by_row, conn, rows))
        reset(conn)
        merged.append(timed(merge_only, conn, rows))
        reset(conn)
        ours.append(timed(ours_load, conn, rows))
        t0 = time.perf_counter()
        changed += upsert(conn, MEDIA, rows).written
        rerun.append(time.perf_counter() - t0)
    b, o, r = statistics.median(baseline), statistics.median(ours), statistics.median(rerun)
    m = statistics.median(merged)

    print(f"Loading {args.rows:,} media rows into instagram.media (PostgreSQL on 127.0.0.1),")
    print(f"median of {args.rounds} interleaved rounds, each from an empty table after a CHECKPOINT")
    print(f"{'method':<40} {'seconds':>9} {'rows/s':>12}   rounds")
    print(f"{'baseline: row-by-row INSERT ON CONFLICT':<40} {b:>9.2f} {args.rows / b:>12,.0f}   {_list(baseline)}")
    print(f"{'ours: upsert (new rows COPYed straight in)':<40} {o:>9.2f} {args.rows / o:>12,.0f}   {_list(ours)}")
    print(f"{'ours, every row through the merge':<40} {m:>9.2f} {args.rows / m:>12,.0f}   {_list(merged)}")
    print(f"{'ours, rerun with no changes':<40} {r:>9.2f} {args.rows / r:>12,.0f}   {_list(rerun)}  (rows changed: {changed})")
    print(f"speed-up: {b / o:.1f}x (goal: 10x or more); merge only: {b / m:.1f}x")
    conn.close()


def _list(seconds: list[float]) -> str:
    return " ".join(f"{s:.2f}" for s in seconds)


if __name__ == "__main__":
    main()
