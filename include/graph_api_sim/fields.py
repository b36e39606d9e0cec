"""The ``fields`` parameter: parsing and checking a field selection.

Grammar (Meta's): ``id,caption,children.limit(5){id,media_url},owner{username}``.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import catalog
from .errors import GraphError


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    subfields: tuple[FieldSpec, ...] | None = None  # None: not given, use the defaults
    modifiers: tuple[tuple[str, str], ...] = ()

    def modifier(self, name: str) -> str | None:
        for key, value in self.modifiers:
            if key == name:
                return value
        return None


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, expected: str) -> GraphError:
        found = self.text[self.pos] if self.pos < len(self.text) else "end of string"
        return GraphError("fields_syntax", detail=f'Expected {expected} instead of "{found}".',
                          position=self.pos, fields=self.text)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def name(self) -> str:
        self.skip_space()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _NAME_CHARS:
            self.pos += 1
        if start == self.pos:
            raise self.fail("a field name")
        return self.text[start:self.pos]

    def field_list(self, closing: str) -> tuple[FieldSpec, ...]:
        specs = [self.field()]
        while self.peek() == ",":
            self.pos += 1
            specs.append(self.field())
        if self.peek() != closing:
            raise self.fail('"}"' if closing else "end of string")
        return tuple(specs)

    def field(self) -> FieldSpec:
        name = self.name()
        modifiers = []
        while self.peek() == ".":
            self.pos += 1
            key = self.name()
            if self.peek() != "(":
                raise self.fail('"("')
            end = self.text.find(")", self.pos)
            if end < 0:
                raise self.fail('")"')
            modifiers.append((key, self.text[self.pos + 1:end].strip()))
            self.pos = end + 1
        subfields = None
        if self.peek() == "{":
            self.pos += 1
            subfields = self.field_list("}")
            self.pos += 1
        return FieldSpec(name, subfields, tuple(modifiers))


def parse_fields(text: str | None) -> tuple[FieldSpec, ...] | None:
    """The selection, or None when ``fields`` is absent or empty (defaults apply)."""
    if text is None or not text.strip():
        return None
    parser = _Parser(text)
    return parser.field_list("")


def default_specs(node_type: str) -> tuple[FieldSpec, ...]:
    return tuple(FieldSpec(name) for name in catalog.DEFAULT_FIELDS[node_type])


def check_fields(node_type: str, specs: tuple[FieldSpec, ...]) -> None:
    """Refuse unknown fields the way Meta does, before any work is done (nested ones too)."""
    known = catalog.NODE_FIELDS[node_type]
    edges = catalog.NODE_EDGES[node_type]
    for spec in specs:
        if spec.name in edges:
            if spec.subfields:
                check_fields(edges[spec.name], spec.subfields)
        elif spec.name in known:
            target = catalog.NODE_REFERENCES.get((node_type, spec.name))
            if target and spec.subfields:
                check_fields(target, spec.subfields)
        else:
            raise GraphError("nonexisting_field", field=spec.name, node_type=node_type)


def format_fields(specs: tuple[FieldSpec, ...]) -> str:
    """The selection back as a ``fields`` string (for the URLs of expanded edges)."""
    parts = []
    for spec in specs:
        text = spec.name + "".join(f".{key}({value})" for key, value in spec.modifiers)
        if spec.subfields:
            text += "{" + format_fields(spec.subfields) + "}"
        parts.append(text)
    return ",".join(parts)
