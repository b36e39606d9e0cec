"""What every stream gets (SyncRun) and gives back (SyncResult)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from instagram_graph.warehouse import UpsertResult

# The range each numeric stream option may take: (minimum, maximum). The DAGs' Params use
# the same bounds, so the trigger form and the code refuse the same values.
OPTION_LIMITS: dict[str, tuple[float, float]] = {
    "lookback_days": (1, 3650),  # the media edge serves about 10,000 posts: years at most
    "comment_days": (0, 3650),
    "recent_days": (1, 730),  # Meta keeps insights about two years
    "max_age_days": (1, 730),
    "stale_days": (1, 365),
    "lag_days": (0, 30),
    "refusal_retry_days": (0, 365),
    "call_budget": (1, 100_000),
    "insights_page_size": (1, 100),  # media per expanded insights call (the edge serves at most 100)
    "young_days": (0, 30),  # 0: no type-specific reads while young
    "settled_days": (0, 365),  # 0: no type-specific read once settled
    "settled_window_days": (1, 365),
}
# Options that take one of a few words.
OPTION_CHOICES: dict[str, tuple[str, ...]] = {
    "insights_road": ("expansion", "per_media"),
}


class SyncOptionError(ValueError):
    """A stream option has a value the stream cannot use; retrying cannot help."""


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
                    raise SyncOptionError(f"option {name}={value!r} is not a boolean: use true or false")
                return lowered in ("true", "1")
            try:
                value = type(default)(value)
            except ValueError:
                raise SyncOptionError(
                    f"option {name}={value!r} is not a {type(default).__name__}: give a number such as {default}"
                ) from None
        return check_option(name, value)


def validate_options(options: dict[str, Any], call_budget: Any = None) -> int | None:
    """Check every numeric option (and the call budget) before the run makes any call.

    Returns the call budget as an int (None: no budget).
    :raises SyncOptionError: naming the first bad option, its range and the fix.
    """
    for name, value in options.items():
        if name in OPTION_LIMITS and value not in (None, ""):
            check_option(name, _number(name, value), shown=value)
        if name in OPTION_CHOICES and value not in (None, "") and value not in OPTION_CHOICES[name]:
            raise SyncOptionError(
                f"option {name}={value!r} is unknown: use one of {', '.join(OPTION_CHOICES[name])}"
            )
    if call_budget in (None, ""):
        return None
    return int(check_option("call_budget", _number("call_budget", call_budget), shown=call_budget))


def _number(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SyncOptionError(f"option {name}={value!r} is not a number: give a whole number of days or calls") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise SyncOptionError(f"option {name}={value!r} is not a finite number")
    return number


def check_option(name: str, value: Any, *, shown: Any = None) -> Any:
    """``value``, or :class:`SyncOptionError` naming the option, its range and the fix."""
    limits = OPTION_LIMITS.get(name)
    if limits is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    low, high = limits
    if not low <= value <= high:
        raise SyncOptionError(
            f"option {name}={value if shown is None else shown} is out of range: it must be between {low:g} and "
            f"{high:g}. "
            "Trigger the run again with a value in that range."
        )
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
