"""InstagramShardSyncOperator: one sync stream for one shard of accounts; sync DAGs map it over shards.

A task instance costs Airflow about half a CPU-second (process, DAG parse, API server,
scheduler) while one account's sync costs a few milliseconds, so the DAGs map over shards
of accounts (:mod:`instagram_graph.shards`), and the accounts of a shard run concurrently
on a bounded thread pool (:class:`~instagram_graph.sync.fleet.Fleet`). Per account, as before:

- one account never stops another: each ends synced, refused (token, permission or policy:
  its owner must act; the record and the log carry the catalogue's advice), throttled or
  failed, and each ending is recorded in ``instagram.sync_runs``;
- when every account still to do is throttled, the shard defers (no worker slot held)
  until the shortest wait is over, then goes on with them;
- the task ends failed, naming each failed and refused account, when any is left: a retry
  (Airflow's, with backoff) runs only the accounts that failed for a passing reason - what
  synced is recorded, and a refused account waits for a new token.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from instagram_graph import db
from instagram_graph.operators.base import InstagramBaseOperator, data_interval
from instagram_graph.shards import accounts_in, shard_from_arg
from instagram_graph.sync import STREAMS
from instagram_graph.sync.base import SyncOptionError, validate_options
from instagram_graph.sync.fleet import (
    DEFAULT_CONNECTIONS,
    FAILED,
    REFUSED,
    SYNCED,
    THROTTLED,
    AccountOutcome,
    Fleet,
)
from instagram_graph.sync_record import run_id_of, settled_in_run

# Mapped task instances are named by their shard's range ("accounts 51-100 (50)").
SHARD_MAP_INDEX = "{{ task.shard.label }}"
MAX_NAMED = 20  # accounts named in a failure message; the rest are counted


class InstagramShardSyncOperator(InstagramBaseOperator):
    """Sync one stream (see :data:`instagram_graph.sync.STREAMS`) for the accounts of one shard.

    :param stream: which stream.
    :param shard: the shard, as the ``account_shards`` task lists it (``index``, ``first``,
        ``last``): mapped over by the DAG.
    :param options: stream settings such as ``lookback_days`` (see each stream).
    :param call_budget: at most this many Graph API calls per account and run.
    :param threads: accounts synced at once (I/O-bound calls: a thread mostly waits for Meta);
        default 32, 128 for conversations (see :func:`~instagram_graph.sync.fleet.default_threads`).
    :param connections: warehouse connections the threads share (one per open transaction).
    """

    template_fields: Sequence[str] = ("shard", "options", "call_budget")
    ui_color = "#f7d6e6"

    def __init__(
        self,
        *,
        stream: str,
        shard: Any,
        options: dict[str, Any] | None = None,
        call_budget: int | None = None,
        threads: int | None = None,
        connections: int = DEFAULT_CONNECTIONS,
        **kwargs: Any,
    ) -> None:
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}; choose one of {sorted(STREAMS)}")
        super().__init__(account_id="", **kwargs)
        self.stream = stream
        self.shard = shard
        self.options = options or {}
        self.call_budget = call_budget
        self.threads = threads
        self.connections = connections

    def execute(self, context: Any, event: Any = None) -> dict[str, Any]:
        try:
            shard = shard_from_arg(self.shard)
            call_budget = validate_options(dict(self.options), self.call_budget)
        except (SyncOptionError, ValueError) as exc:  # bad input: no call, no write, no retry
            raise AirflowFailException(f"stream {self.stream}: {exc}") from None
        self.account_id = shard.label  # what the failure report names
        run_id = run_id_of(context, datetime.now(UTC))
        with self.hook_scope():
            parent = self.hook
            parent.settings  # noqa: B018 - the connection is looked up here, in the task's own thread
            connect = db.connector()
            with self.warehouse() as conn:
                accounts = accounts_in(conn, shard)
                settled = settled_in_run(conn, accounts, self.stream, run_id)
            todo = [account for account in accounts if account not in settled]
            self.log.info(
                "Shard %s, stream %s: %d account(s), %d to sync (%d settled earlier in this run)",
                shard.label, self.stream, len(accounts), len(todo), len(settled),
            )
            with parent.siblings(connect) as make_hook:
                fleet = Fleet(
                    self.stream,
                    make_hook=make_hook,
                    connect=connect,
                    context=context,
                    interval=data_interval(context),
                    options=self.options,
                    call_budget=call_budget,
                    threads=self.threads,
                    connections=self.connections,
                )
                outcomes = fleet.run(todo)
        return self._conclude(shard.label, accounts, settled, outcomes)

    def _conclude(
        self, label: str, accounts: list[str], settled: set[str], outcomes: list[AccountOutcome]
    ) -> dict[str, Any]:
        by_status: dict[str, list[AccountOutcome]] = {}
        for outcome in outcomes:
            by_status.setdefault(outcome.status, []).append(outcome)
        throttled = by_status.get(THROTTLED, [])
        if throttled:
            wait = min(o.retry_after or 60.0 for o in throttled)
            self.log.warning(
                "Shard %s: %d account(s) throttled; deferring %.0f s (no worker held), then syncing them",
                label, len(throttled), wait,
            )
            self.defer(trigger=TimeDeltaTrigger(timedelta(seconds=wait)), method_name="execute")
        failed, refused = by_status.get(FAILED, []), by_status.get(REFUSED, [])
        if failed or refused:
            message = _failure_message(label, self.stream, failed, refused)
            if failed:  # a retry runs these again, and leaves synced and refused accounts alone
                raise AirflowException(message)
            raise AirflowFailException(message)
        synced = by_status.get(SYNCED, [])
        rows: dict[str, int] = {}
        for outcome in synced:
            for table, count in (outcome.summary.get("rows_written") or {}).items():
                rows[table] = rows.get(table, 0) + int(count)
        summary = {
            "stream": self.stream,
            "shard": label,
            "accounts": len(accounts),
            "synced": len(synced),
            "settled_earlier": len(settled),
            "calls": sum(int(o.summary.get("calls") or 0) for o in synced),
            "rows_written": rows,
            "incomplete": sorted(o.account_id for o in synced if not o.summary.get("complete", True)),
        }
        self.log.info("Shard %s, stream %s: %s", label, self.stream, summary)
        return summary


def accounts_per_task_param() -> Param:
    """The sync DAGs' ``accounts_per_task`` Param."""
    return Param(
        0,
        type="integer",
        minimum=0,
        maximum=100_000,
        description="Accounts per task instance: 0 = automatic (a few dozen task instances per run, however many "
        "accounts), 1 = one task per account",
    )


def _failure_message(label: str, stream: str, failed: list[AccountOutcome], refused: list[AccountOutcome]) -> str:
    lines = [f"Shard {label}, stream {stream}: {len(failed)} account(s) failed, {len(refused)} refused."]
    for outcome in (failed + refused)[:MAX_NAMED]:
        lines.append(f"account {outcome.account_id}: {outcome.error}. {outcome.advice or ''}".rstrip())
    if len(failed) + len(refused) > MAX_NAMED:
        lines.append(f"... and {len(failed) + len(refused) - MAX_NAMED} more (see instagram.sync_runs).")
    if failed:
        lines.append("The task's retry syncs only the failed accounts; refused ones wait for their owner.")
    return "\n".join(lines)
