"""Load benchmark: warehouse.upsert (COPY + one merge) vs row-by-row INSERT ... ON CONFLICT.

Both load the same synthetic media rows into instagram.media of a scratch database
(`instagram_bench` on 127.0.0.1, dropped and re-created). Goal: 10x or more.

    .venv/bin/python bench/bench_load.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta, timezone

import psycopg2

from bench_support import fresh_warehouse

from instagram_graph.records import MEDIA, media_row
from instagram_graph.warehouse import upsert



def synthetic_media(n: int) -> list[dict]:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
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


def truncate(conn) -> None:
    with conn, conn.cursor() as cur:
        cur.execute("TRUNCATE instagram.media CASCADE")


def main() -> None:
    import psycopg2.extras  # noqa: F401  (Json adapter for the baseline)

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    rows = synthetic_media(args.rows)
    conn = fresh_warehouse()

    truncate(conn)
    t0 = time.perf_counter()
    row_by_row(conn, rows)
    baseline = time.perf_counter() - t0

    truncate(conn)
    t0 = time.perf_counter()
    upsert(conn, MEDIA, rows)
    ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    again = upsert(conn, MEDIA, rows)
    rerun = time.perf_counter() - t0

    print(f"Loading {args.rows:,} media rows into instagram.media (PostgreSQL on 127.0.0.1)")
    print(f"{'method':<40} {'seconds':>9} {'rows/s':>12}")
    print(f"{'baseline: row-by-row INSERT ON CONFLICT':<40} {baseline:>9.2f} {args.rows / baseline:>12,.0f}")
    print(f"{'ours: COPY to temp + one merge':<40} {ours:>9.2f} {args.rows / ours:>12,.0f}")
    print(f"{'ours, rerun with no changes':<40} {rerun:>9.2f} {args.rows / rerun:>12,.0f}  (rows changed: {again.written})")
    print(f"speed-up: {baseline / ours:.1f}x (goal: 10x or more)")
    conn.close()


if __name__ == "__main__":
    main()
