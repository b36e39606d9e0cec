"""List parameters the way Meta takes them.

``metric=reach,views`` and ``metric=["reach","views"]`` (what Meta's own SDKs send) mean
the same; a value that starts like a JSON array but is not one is refused with error 100
naming the parameter, as Meta refuses it.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import GraphError


def json_array(raw: Any, name: str) -> list[Any]:
    """A JSON array sent as text, or already decoded (a JSON request body)."""
    if isinstance(raw, list):
        return raw
    try:
        decoded = json.loads(str(raw))
    except ValueError:
        raise GraphError("list_parameter_invalid", name=name) from None
    if not isinstance(decoded, list):
        raise GraphError("list_parameter_invalid", name=name)
    return decoded


def split_list(raw: Any, name: str) -> list[str]:
    """The items of a list parameter, comma-separated or a JSON array of strings (or numbers)."""
    if raw is None:
        return []
    if isinstance(raw, list) or str(raw).lstrip().startswith("["):
        items = json_array(raw, name)
        if not all(isinstance(item, str | int) and not isinstance(item, bool) for item in items):
            raise GraphError("list_parameter_invalid", name=name)
        values = [str(item).strip() for item in items]
    else:
        values = [part.strip() for part in str(raw).split(",")]
    return [value for value in values if value]
