"""InstagramSyncOperator: runs one sync stream for one account, mapped over accounts by DAGs.

Failure policy, per account (one mapped task each, so one account never stops another):
- token or permission problems fail at once, without retries, naming the account and
  what to do (retrying cannot fix a revoked token);
- a long throttle wait defers the task, freeing its worker slot, then runs it again
  (every stream resumes safely: loads are idempotent upserts);
- anything else (transient errors after the hook's own retries) is left to Airflow's
  task retries with exponential backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException

from instagram_graph.accounts import account_label
from instagram_graph.errors import GraphApiError
from instagram_graph.operators.base import InstagramBaseOperator, data_interval
from instagram_graph.sync import STREAMS, SyncRun
from instagram_graph.sync.base import OPTION_CHOICES, OPTION_LIMITS, SyncOptionError, validate_options

# Mapped task instances are named "username (id)": the operator puts the label in the
# context (Airflow renders map_index_template again after execute); the id until then.
ACCOUNT_MAP_INDEX = "{{ account_label | default(task.account_id) }}"


class InstagramSyncOperator(InstagramBaseOperator):
    """Sync one stream (``profile``, ``media``, ``stories``, ``comments``,
    ``account_insights``, ``media_insights``, ``conversations``) for one account.

    :param stream: which stream (see :data:`instagram_graph.sync.STREAMS`).
    :param account_id: the IG user id; usually mapped from the enabled accounts.
    :param options: stream settings such as ``lookback_days`` (see each stream).
    :param call_budget: at most this many Graph API calls per run; the stream stops
        cleanly when it is spent and the next run goes on from there.

    The connection ids and task defaults are :class:`~instagram_graph.operators.base.InstagramBaseOperator`'s.
    """

    template_fields: Sequence[str] = ("account_id", "options", "call_budget")
    ui_color = "#f7d6e6"

    def __init__(
        self,
        *,
        stream: str,
        account_id: str,
        options: dict[str, Any] | None = None,
        call_budget: int | None = None,
        **kwargs: Any,
    ) -> None:
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}; choose one of {sorted(STREAMS)}")
        super().__init__(account_id=account_id, **kwargs)
        self.stream = stream
        self.options = options or {}
        self.call_budget = call_budget

    def execute(self, context: Any, event: Any = None) -> dict[str, Any]:
        start, end = data_interval(context)
        try:
            call_budget = validate_options(dict(self.options), self.call_budget)
        except SyncOptionError as exc:  # bad input: no call, no write, no retry
            raise AirflowFailException(f"account {self.account_id}, stream {self.stream}: {exc}") from None
        from instagram_graph.sync_record import SyncAttempt

        attempt = SyncAttempt.begin(str(self.account_id), self.stream, context)
        with self.hook_scope(), self.warehouse() as conn:
            try:
                with self.graph_api_work(resume="execute"):
                    context["account_label"] = account_label(conn, str(self.account_id))
                    run = SyncRun(
                        hook=self.hook,
                        conn=conn,
                        account_id=str(self.account_id),
                        interval_start=start,
                        interval_end=end,
                        options=dict(self.options),
                        call_budget=call_budget,
                    )
                    result = STREAMS[self.stream](run)
            except Exception as exc:  # a deferral (TaskDeferred) is no Exception: nothing ended, nothing recorded
                if isinstance(exc, GraphApiError):
                    self.log.error(
                        "Account %s, stream %s: %s: %s", self.account_id, self.stream, type(exc).__name__, exc
                    )
                attempt.failed(exc, calls=self.hook.calls_made)
                raise
        summary = result.as_dict()
        attempt.succeeded(summary)
        self.log.info(
            "Account %s, stream %s: %d calls, rows written %s%s",
            self.account_id,
            self.stream,
            summary["calls"],
            summary["rows_written"] or "{}",
            "" if result.complete else " (call budget spent: the next run goes on)",
        )
        if result.gone:
            self.log.info(
                "%d object(s) no longer exist at Meta (deleted, or expired): marked deleted_at, not asked again",
                result.gone,
            )
        if result.skipped:
            self.log.warning("Skipped %d item(s): %s", len(result.skipped), "; ".join(result.skipped[:10]))
        return summary


def option_param(name: str, default: int, description: str) -> Param:
    """A DAG Param for a numeric stream option, bounded like the stream checks it
    (:data:`~instagram_graph.sync.base.OPTION_LIMITS`), so the form refuses what the code would."""
    low, high = OPTION_LIMITS[name]
    return Param(
        default,
        type="integer",
        minimum=int(low),
        maximum=int(high),
        description=f"{description} ({int(low)} to {int(high)})",
    )


def choice_param(name: str, default: str, description: str) -> Param:
    """A DAG Param for a stream option that takes one of a few words (a drop-down in the form)."""
    choices = OPTION_CHOICES[name]
    return Param(default, type="string", enum=list(choices), description=f"{description} ({' or '.join(choices)})")

