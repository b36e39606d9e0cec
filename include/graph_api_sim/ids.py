"""Deterministic ids, tokens and hashes.

Everything derives from the seed so that two runs with the same arguments hand out the
same ids, tokens and values; ``random.Random`` with a string seed is stable across
processes (it is hashed with SHA-512, not with Python's salted ``hash``).
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Callable

# Shaped like Meta's Instagram Login tokens (IGAA...), so clients treat them as they would the real ones.
TOKEN_PREFIX = "IGAAsim"


def stable_int(*parts: object) -> int:
    """A 64-bit integer that depends only on ``parts`` (not on the process)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def stable_unit(*parts: object) -> float:
    """A float in [0, 1) that depends only on ``parts``."""
    return stable_int(*parts) / 2**64


def legacy_id(seed: object, object_id: str, digits: int) -> int:
    """The old Instagram id Meta still serves as ``ig_id``: ``digits`` long, fixed per seed and object."""
    low = 10 ** (digits - 1)
    return low + stable_int(seed, "ig_id", object_id) % (9 * low)


def shortcode(rng: random.Random) -> str:
    """An 11-character Instagram-style shortcode (the permalink slug)."""
    return base64.urlsafe_b64encode(rng.getrandbits(72).to_bytes(9, "big")).decode()[:11]


def b64id(text: str) -> str:
    """Meta-style opaque id (conversation and message ids are base64 of a descriptor)."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


class IdFactory:
    """Hands out unique numeric ids and tokens from a seeded RNG.

    ``taken`` tells whether an id already exists anywhere, so runtime ids (containers,
    published media) never collide with the seeded world.
    """

    def __init__(self, seed: object, taken: Callable[[str], bool]) -> None:
        self._rng = random.Random(f"graph-api-sim:{seed}:ids")
        self._taken = taken
        self._issued: set[str] = set()

    def numeric(self, prefix: str, digits: int = 17) -> str:
        while True:
            tail = self._rng.randrange(10 ** (digits - len(prefix)))
            candidate = prefix + str(tail).zfill(digits - len(prefix))
            if candidate not in self._issued and not self._taken(candidate):
                self._issued.add(candidate)
                return candidate

    def token(self, prefix: str = TOKEN_PREFIX) -> str:
        return f"{prefix}{self._rng.getrandbits(128):032x}"

    def shortcode(self) -> str:
        return shortcode(self._rng)

    def opaque(self, descriptor: str) -> str:
        return b64id(f"{descriptor}:{self._rng.getrandbits(48)}")
