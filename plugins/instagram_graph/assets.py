"""Airflow Assets the sync DAGs produce, so other DAGs can run when the tables change.

The URI names the warehouse by its connection id, not by a host that differs per
deployment: ``postgres://<conn id>/<database>/<schema>/<table>``.
"""

from __future__ import annotations

from airflow.sdk import Asset


def warehouse_table(table: str) -> Asset:
    return Asset(name=f"instagram.{table}", uri=f"postgres://instagram_warehouse:5432/instagram/instagram/{table}")


MEDIA = warehouse_table("media")
PROFILES = warehouse_table("profiles")
ACCOUNT_INSIGHTS = warehouse_table("account_insights")
MEDIA_INSIGHTS = warehouse_table("media_insights")
MESSAGES = warehouse_table("messages")
