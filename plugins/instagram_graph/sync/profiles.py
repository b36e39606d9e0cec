"""Profiles: the latest IG User object per account, plus a snapshot per run."""

from __future__ import annotations

from datetime import UTC, datetime

from instagram_graph.records import PROFILE_SNAPSHOTS, PROFILES, profile_row, snapshot_row
from instagram_graph.sync.base import SyncResult, SyncRun
from instagram_graph.warehouse import load


def sync_profile(run: SyncRun) -> SyncResult:
    """One call. The snapshot is keyed by the interval's end, so a rerun overwrites it."""
    result = SyncResult("profile", run.account_id)
    run.spend()
    profile = run.hook.get_profile(run.account_id)
    fetched_at = datetime.now(UTC)
    result.add(
        load(
            run.conn,
            [
                (PROFILES, [profile_row(run.account_id, profile, fetched_at)]),
                (PROFILE_SNAPSHOTS, [snapshot_row(run.account_id, profile, run.interval_end)]),
            ],
        )
    )
    result.calls = run.calls_spent
    return result
