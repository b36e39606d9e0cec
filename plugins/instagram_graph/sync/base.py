"""What every stream gets (SyncRun) and gives back (SyncResult)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from instagram_graph.warehouse import UpsertResult


class BudgetSpent(Exception):
    """The run's call budget is used up; the stream stops cleanly and the next run goes on."""


@dataclass
class SyncRun:
    """One stream for one account over one data interval.

    :param hook: an InstagramGraphHook (counts its calls in ``calls_made``).
    :param conn: an open psycopg2 connection to the warehouse.
    :param interval_start: start of the Airflow data interval (timezone-aware).
    :param interval_end: its end; "now" for the sync, the snapshot time of a profile.
    :param options: stream settings (look-back days, budgets...), see each stream.
    """

    hook: Any
    conn: Any
    account_id: str
    interval_start: datetime
    interval_end: datetime
    options: dict[str, Any] = field(default_factory=dict)
    call_budget: int | None = None

    def __post_init__(self) -> None:
        self._calls_at_start = self.hook.calls_made

    @property
    def calls_spent(self) -> int:
        return self.hook.calls_made - self._calls_at_start

    def spend(self, calls: int = 1) -> None:
        """Raise BudgetSpent when ``calls`` more would pass the run's budget."""
        if self.call_budget is not None and self.calls_spent + calls > self.call_budget:
            raise BudgetSpent(f"call budget of {self.call_budget} spent for account {self.account_id}")

    def option(self, name: str, default: Any) -> Any:
        """A stream setting, coerced to the type of its default.

        Options often arrive as rendered Jinja strings ("3", "False"): DAGs do not render
        templates as native objects, because that would also turn account ids into ints.
        """
        value = self.options.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, str) and not isinstance(default, str):
            if isinstance(default, bool):
                lowered = value.strip().lower()
                if lowered not in ("true", "false", "1", "0"):
                    raise ValueError(f"option {name}={value!r} is not a boolean")
                return lowered in ("true", "1")
            return type(default)(value)
        return value


@dataclass
class SyncResult:
    """What a stream did; small and JSON-friendly (it becomes the task's XCom)."""

    stream: str
    account_id: str
    rows_received: Counter = field(default_factory=Counter)
    rows_written: Counter = field(default_factory=Counter)
    calls: int = 0
    skipped: list[str] = field(default_factory=list)
    gone: int = 0  # objects Meta no longer has (deleted, expired), marked deleted_at
    complete: bool = True

    def add(self, results: dict[str, UpsertResult]) -> None:
        for table, result in results.items():
            self.rows_received[table] += result.received
            self.rows_written[table] += result.written

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "account_id": self.account_id,
            "rows_received": dict(self.rows_received),
            "rows_written": dict(self.rows_written),
            "calls": self.calls,
            "skipped": self.skipped[:50],
            "gone": self.gone,
            "complete": self.complete,
        }
