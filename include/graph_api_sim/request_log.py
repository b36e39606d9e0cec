"""The record of every Graph API call, with secrets replaced by ``***``.

Tests count calls with it and prove that nothing was posted twice.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from typing import Any, TypeVar

T = TypeVar("T")

SECRET_PARAMS = frozenset({"access_token", "appsecret_proof", "client_secret", "input_token", "fb_exchange_token"})
MAX_ENTRIES = 100_000  # oldest entries are dropped first, so long benchmarks stay bounded


def redact(params: dict[str, Any]) -> dict[str, Any]:
    return {key: ("***" if key in SECRET_PARAMS else value) for key, value in params.items()}


class RequestLog:
    def __init__(self) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=MAX_ENTRIES)
        self.total = 0  # every call since the last clear, kept when old entries are dropped
        self.statuses: Counter[str] = Counter()  # answers by HTTP status ("dropped": none)

    def add(self, entry: dict[str, Any]) -> None:
        self._entries.append(entry)
        self.total += 1

    def settled(self, answer: T, entry: dict[str, Any]) -> T:
        """Count ``entry``'s status once the call is answered; return ``answer``."""
        status = entry.get("status")
        self.statuses["dropped" if status is None else str(status)] += 1
        return answer

    def clear(self) -> None:
        self._entries.clear()
        self.total = 0
        self.statuses.clear()

    def query(self, method: str | None = None, path: str | None = None,
              account_id: str | None = None) -> list[dict[str, Any]]:
        """Entries oldest first; ``path`` is a regular expression searched in the unversioned path
        (as sent, or with ``me`` resolved to the account id)."""
        pattern = re.compile(path) if path else None
        wanted_method = method.upper() if method else None
        return [
            entry for entry in self._entries
            if (wanted_method is None or entry["method"] == wanted_method)
            and (pattern is None or pattern.search(entry["path"]) or pattern.search(entry["resolved_path"]))
            and (account_id is None or entry["account_id"] == account_id)
        ]
