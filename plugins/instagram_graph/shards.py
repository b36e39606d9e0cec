"""Shards of accounts: what the sync DAGs map over, so Airflow's cost is per shard, not per account.

Each account has a permanent ``ordinal`` (``instagram.accounts.ordinal``: 0, 1, 2...; a new
account takes the smallest free one). Shard ``k`` of size ``C`` is the enabled accounts whose
ordinal lies in ``[k*C, (k+1)*C)``, so an account stays in its shard as other accounts come
and go, and the UI names each shard by its range ("accounts 51-100").

``C`` is the DAG's ``accounts_per_task``: a number (``1`` keeps one task per account), or
``0`` for automatic:

- up to :data:`SMALL_DEPLOYMENT` accounts, one task per account (the UI names each; a task
  instance's half CPU-second of Airflow is nothing at this size);
- beyond, a power of two of at least :data:`MIN_SHARD` accounts, the smallest that keeps a
  run to :data:`TARGET_TASKS` task instances (1,000 accounts: 1 shard of 1,024; 10,000: 10
  of 1,024). Shards only ever merge in pairs as a deployment grows. A task instance costs
  Airflow about 0.6 CPU-second of its own (task process, supervisor, API server, scheduler,
  metadata DB) and 1,024 accounts' first sync some 70, so Airflow's share stays small; a
  shard's accounts run on enough threads that few shards are not slow. (Shards of 512 made
  1,000 accounts cost Airflow 34 % of the sync work against 21 %, for 8 s less wall time.)

Whatever is asked, ``C`` is raised until the shards fit Airflow's ``[core] max_map_length``:
the number of accounts is never capped.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

TARGET_TASKS = 32
MIN_SHARD = 1024
SMALL_DEPLOYMENT = 16
AUTOMATIC = 0

# Hand out the smallest free ordinals to accounts without one, oldest account first; one
# runner at a time (four DAGs start together).
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('instagram_graph.shards.ordinals'))"
_ASSIGN = """
WITH free AS (
    SELECT n, row_number() OVER (ORDER BY n) AS k
      FROM generate_series(0, (SELECT count(*) FROM instagram.accounts)::int) AS n
     WHERE NOT EXISTS (SELECT 1 FROM instagram.accounts WHERE ordinal = n)
), waiting AS (
    SELECT account_id, row_number() OVER (ORDER BY created_at, account_id) AS k
      FROM instagram.accounts WHERE ordinal IS NULL
)
UPDATE instagram.accounts a SET ordinal = free.n
  FROM waiting JOIN free USING (k)
 WHERE a.account_id = waiting.account_id
"""
_ENABLED = """
SELECT ordinal, account_id, username FROM instagram.accounts
 WHERE enabled AND ordinal IS NOT NULL ORDER BY ordinal
"""
_ACCOUNTS_IN_RANGE = """
SELECT account_id FROM instagram.accounts
 WHERE enabled AND ordinal BETWEEN %s AND %s
 ORDER BY ordinal
"""


@dataclass(frozen=True)
class Shard:
    """Ordinals ``first``..``last`` (inclusive); ``accounts`` enabled ones when planned."""

    index: int
    first: int
    last: int
    accounts: int
    name: str = ""  # a shard of one account is named after it: "username (id)"

    @property
    def label(self) -> str:
        """How the UI names the shard's task instance."""
        if self.name:
            return self.name
        if self.first == self.last:
            return f"account {self.first + 1}"
        return f"accounts {self.first + 1}-{self.last + 1} ({self.accounts})"

    def as_arg(self) -> dict[str, Any]:
        """The JSON the DAG maps over (the label included, for ``map_index_template``)."""
        return {**asdict(self), "label": self.label}


def shard_size(accounts_per_task: int, enabled: int) -> int:
    """The shard size asked for, or (0) the automatic one for ``enabled`` accounts."""
    if accounts_per_task < 0:
        raise ValueError("accounts_per_task must be 0 (automatic) or more")
    if accounts_per_task:
        return accounts_per_task
    if enabled <= SMALL_DEPLOYMENT:
        return 1
    return max(MIN_SHARD, 2 ** math.ceil(math.log2(math.ceil(enabled / TARGET_TASKS))))


def plan(ordinals: list[int], accounts_per_task: int = AUTOMATIC, *, max_map_length: int = 1024) -> list[Shard]:
    """The non-empty shards of the enabled accounts' ``ordinals``."""
    if not ordinals:
        return []
    size = shard_size(accounts_per_task, len(ordinals))
    while True:
        counts: dict[int, int] = {}
        for ordinal in ordinals:
            counts[ordinal // size] = counts.get(ordinal // size, 0) + 1
        if len(counts) <= max_map_length:
            break
        size *= 2
    return [Shard(k, k * size, (k + 1) * size - 1, counts[k]) for k in sorted(counts)]


def assign_ordinals(conn: Any) -> int:
    """Give every account without an ordinal the smallest free one; how many were given."""
    with conn, conn.cursor() as cur:
        cur.execute(_LOCK)
        cur.execute(_ASSIGN)
        return int(cur.rowcount)


def shards_of_enabled_accounts(
    conn: Any, accounts_per_task: int = AUTOMATIC, *, max_map_length: int = 1024
) -> list[Shard]:
    """Hand out missing ordinals, then plan the shards of the enabled accounts; a shard of
    one account is named after it."""
    assign_ordinals(conn)
    with conn, conn.cursor() as cur:
        cur.execute(_ENABLED)
        rows = cur.fetchall()
    shards = plan([row[0] for row in rows], accounts_per_task, max_map_length=max_map_length)
    names = {ordinal: f"{username} ({account_id})" if username else account_id for ordinal, account_id, username in rows}
    return [replace(s, name=names[s.first]) if s.accounts == 1 and s.first == s.last else s for s in shards]


def accounts_in(conn: Any, shard: Shard) -> list[str]:
    """The enabled accounts of ``shard`` now (a retry sees accounts enabled or disabled since)."""
    with conn, conn.cursor() as cur:
        cur.execute(_ACCOUNTS_IN_RANGE, (shard.first, shard.last))
        return [row[0] for row in cur.fetchall()]


def shard_from_arg(arg: Any) -> Shard:
    """The :class:`Shard` a mapped task was given (its JSON); a clear error for anything else."""
    try:
        return Shard(
            int(arg["index"]), int(arg["first"]), int(arg["last"]), int(arg.get("accounts", 0)), str(arg.get("name", ""))
        )
    except (TypeError, KeyError, ValueError):
        raise ValueError(f"shard must be a mapping with index, first and last (got {arg!r})") from None
