"""Checks for input where it enters (CLI arguments, DAG Params, operator arguments).

Each check returns the cleaned value or raises :class:`InvalidInput` with a message that
names the field, what is wrong and what to do - before any call to Meta or any write.
"""

from __future__ import annotations

import re
import unicodedata

INSTAGRAM_ID_MAX_DIGITS = 64  # an Instagram (or Instagram-scoped) user id: 1 to 64 digits
INSTAGRAM_ID = re.compile(rf"^[0-9]{{1,{INSTAGRAM_ID_MAX_DIGITS}}}$")
MAX_DAYS = 3650


class InvalidInput(ValueError):
    """A value cannot be used as given; the message says which field and how to fix it."""


def instagram_id(field: str, value: str | None) -> str:
    """An Instagram (or Instagram-scoped) user id: digits only."""
    text = (value or "").strip()
    if not INSTAGRAM_ID.match(text):
        raise InvalidInput(
            f"{field} {text[:80]!r} is not an Instagram id: ids are digits only (e.g. 17841400000000001). "
            "Copy it from `instagram-graph accounts list` or from Meta's app dashboard."
        )
    return text


def plain_text(field: str, value: str | None, *, allow_newlines: bool = False) -> str | None:
    """Text without NUL or other control characters (Postgres cannot store NUL; Meta
    rejects or mangles the others). Newlines and tabs pass where ``allow_newlines``."""
    if value is None:
        return None
    allowed = "\n\r\t" if allow_newlines else ""
    for position, char in enumerate(value, start=1):
        if char not in allowed and unicodedata.category(char) == "Cc":
            name = "NUL" if char == "\x00" else f"U+{ord(char):04X}"
            raise InvalidInput(
                f"{field} contains a control character ({name}) at position {position}: remove it "
                "(it often comes from copying text out of another program)."
            )
    return value


def whole_number(field: str, value: int, *, minimum: int, maximum: int) -> int:
    if not minimum <= value <= maximum:
        raise InvalidInput(f"{field} is {value}: it must be between {minimum} and {maximum}.")
    return value
