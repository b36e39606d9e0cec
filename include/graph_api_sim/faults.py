"""Injected failures: what the network and Meta do to clients on a bad day.

A fault matches by method and a regular expression on the unversioned path, fires on
the first ``times`` matching calls (every call when ``times`` is null), and with
``probability`` fires on a seeded share of them, so a flaky run can be replayed.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

# kind -> the arguments it accepts (besides method, path, times, probability)
FAULT_KINDS: dict[str, frozenset[str]] = {
    "http_500": frozenset(),  # HTTP 500 with an empty body
    "error": frozenset({"code", "subcode", "type", "is_transient", "http_status", "message",
                        "error_user_title", "error_user_msg", "error_data"}),  # a Graph error envelope
    "delay": frozenset({"seconds"}),  # answer normally after a pause (client timeouts)
    "reset": frozenset(),  # drop the TCP connection without an answer
    "malformed": frozenset({"body"}),  # HTTP 200 with a truncated, non-JSON body
    "throttle": frozenset({"regain_minutes", "http_status"}),  # the configured throttle error
    "commit_then_drop": frozenset(),  # do the write, then drop the connection (lost answer)
}

DEFAULT_MALFORMED_BODY = '{"data":[{"id":"17895695668004550","caption":"Truncat'


@dataclass
class Fault:
    id: str
    method: str
    path: str
    kind: str
    times: int | None = None
    probability: float | None = None
    args: dict[str, Any] = field(default_factory=dict)
    fired: int = 0
    _pattern: re.Pattern[str] | None = None

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "method": self.method, "path": self.path, "kind": self.kind, "times": self.times,
                "probability": self.probability, "fired": self.fired, **self.args}


class FaultRegistry:
    def __init__(self, seed: object) -> None:
        self._rng = random.Random(f"graph-api-sim:{seed}:faults")
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(self, *, method: str = "*", path: str = ".*", kind: str, times: int | None = None,
            probability: float | None = None, **args: Any) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        unexpected = set(args) - FAULT_KINDS[kind]
        if unexpected:
            raise ValueError(f"fault kind {kind!r} takes no argument(s) {', '.join(sorted(unexpected))}")
        if times is not None and times < 0:
            raise ValueError("times must not be negative")
        if probability is not None and not 0 <= probability <= 1:
            raise ValueError("probability must be between 0 and 1")
        if kind == "delay" and float(args.get("seconds", 0)) <= 0:
            raise ValueError("a delay fault needs seconds > 0")
        try:
            pattern = re.compile(path)
        except re.error as exc:
            raise ValueError(f"path is not a valid regular expression: {exc}") from None
        fault = Fault(f"fault-{self._next_id}", method.upper(), path, kind, times, probability, args,
                      _pattern=pattern)
        self._next_id += 1
        self._faults.append(fault)
        return fault

    def match(self, method: str, *paths: str) -> Fault | None:
        """The first fault that fires for this call (consuming one of its ``times``).

        ``paths`` are the forms of the call's path (as sent, and with ``me`` resolved).
        """
        for fault in self._faults:
            pattern = fault._pattern
            if fault.method not in ("*", method) or not any(pattern.search(p) for p in paths):  # type: ignore[union-attr]
                continue
            if fault.times is not None and fault.fired >= fault.times:
                continue
            if fault.probability is not None and self._rng.random() >= fault.probability:
                continue
            fault.fired += 1
            return fault
        return None

    def remove(self, fault_id: str) -> bool:
        before = len(self._faults)
        self._faults = [f for f in self._faults if f.id != fault_id]
        return len(self._faults) != before

    def clear(self) -> None:
        self._faults.clear()

    def describe(self) -> list[dict[str, Any]]:
        return [fault.describe() for fault in self._faults]
