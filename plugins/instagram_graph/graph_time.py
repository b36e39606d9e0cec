"""Meta's timestamps, read one way everywhere."""

from __future__ import annotations

from datetime import datetime

_PATTERNS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z")


def parse_graph_time(value: str | None) -> datetime | None:
    """Meta's ``2026-01-11T08:00:00+0000`` (also with ``Z``, ``+00:00`` or fractions of a
    second) as an aware datetime; None for an empty or unreadable value."""
    if not value:
        return None
    for pattern in _PATTERNS:
        try:
            return datetime.strptime(value.replace("Z", "+0000"), pattern)
        except ValueError:
            continue
    return None
