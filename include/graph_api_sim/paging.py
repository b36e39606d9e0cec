"""Cursor pagination the way Meta does it.

Cursors are opaque base64 strings naming the item at the edge of a page, so a page
boundary survives new items arriving at the head of a list (a new post) and every item
is served exactly once. ``paging.next`` is a full URL carrying the access token, as
Meta's is; it is present until the last page and ``previous`` from the second on.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from . import catalog
from .errors import GraphError


class Listing(Protocol):
    """An ordered edge: what a page needs to know about it."""

    node_type: str

    def __len__(self) -> int: ...

    def window(self, start: int, stop: int) -> Sequence[Any]: ...

    def position(self, item_id: str) -> int | None: ...


class ItemListing:
    """A listing over a plain list (stories, comments, children, messages)."""

    def __init__(self, node_type: str, items: Sequence[Any], index: dict[str, int] | None = None) -> None:
        self.node_type = node_type
        self._items = items
        self._index = index

    def __len__(self) -> int:
        return len(self._items)

    def window(self, start: int, stop: int) -> Sequence[Any]:
        return self._items[start:stop]

    def position(self, item_id: str) -> int | None:
        if self._index is None:
            self._index = {item.id: i for i, item in enumerate(self._items)}
        return self._index.get(item_id)


class HeadedListing:
    """New items (newest first) in front of a long seeded list, without copying the list."""

    def __init__(self, node_type: str, head: Sequence[Any], tail: Sequence[Any], tail_index: dict[str, int],
                 cap: int | None = None) -> None:
        self.node_type = node_type
        self._head = head
        self._tail = tail
        self._tail_index = tail_index
        self._cap = cap

    def __len__(self) -> int:
        size = len(self._head) + len(self._tail)
        return size if self._cap is None else min(size, self._cap)

    def window(self, start: int, stop: int) -> Sequence[Any]:
        stop = min(stop, len(self))
        head_len = len(self._head)
        items = list(self._head[start:stop]) if start < head_len else []
        if stop > head_len:
            items.extend(self._tail[max(0, start - head_len):stop - head_len])
        return items

    def position(self, item_id: str) -> int | None:
        for i, item in enumerate(self._head):
            if item.id == item_id:
                return i
        found = self._tail_index.get(item_id)
        if found is None:
            return None
        found += len(self._head)
        return found if found < len(self) else None


def encode_cursor(item_id: str) -> str:
    return base64.urlsafe_b64encode(f"QVFI:{item_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, name: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise GraphError("invalid_cursor", name=name) from None
    prefix, _, item_id = text.partition(":")
    if prefix != "QVFI" or not item_id:
        raise GraphError("invalid_cursor", name=name)
    return item_id


def parse_limit(raw: str | None, default: int = catalog.PAGE_SIZE_DEFAULT) -> int:
    """Page size: default 25, larger values clamped to 100."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise GraphError("invalid_parameter", detail="Param limit must be an integer") from None
    if value < 1:
        raise GraphError("invalid_parameter", detail="Param limit must be a positive integer")
    return min(value, catalog.PAGE_SIZE_MAX)


@dataclass
class Page:
    items: Sequence[Any]
    has_previous: bool
    has_next: bool


def take_page(listing: Listing, *, after: str | None, before: str | None, limit: int) -> Page:
    size = len(listing)
    if after:
        position = listing.position(decode_cursor(after, "after"))
        if position is None:
            raise GraphError("invalid_cursor", name="after")
        start = position + 1
    elif before:
        position = listing.position(decode_cursor(before, "before"))
        if position is None:
            raise GraphError("invalid_cursor", name="before")
        start = max(0, position - limit)
        return Page(listing.window(start, position), start > 0, position < size)
    else:
        start = 0
    stop = min(size, start + limit)
    return Page(listing.window(start, stop), start > 0, stop < size)
