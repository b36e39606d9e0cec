"""The SQL every job table shares, built once per table from its name and columns."""

from __future__ import annotations

from dataclasses import dataclass

# A job that waits or retries keeps Meta's latest answer in these columns until it gets further.
CLEAR_ERROR = "error_code = NULL, error_subcode = NULL, error_message = NULL, fbtrace_id = NULL"


@dataclass(frozen=True)
class JobStatements:
    """The statements every job table has, with named parameters. Each UPDATE names the
    state(s) it moves the job from, so a job that moved meanwhile is left alone (no row
    comes back, and the caller reloads it)."""

    select: str  # key
    start: str  # key: the request is about to leave (its time stamped, the attempt counted)
    move: str  # key, from_state, to_state
    finish: str  # key and the done columns' parameters
    fail: str  # key, from_states, code, subcode, message, fbtrace_id
    restart: str  # key, dag_run_id and what the table resets; only a failed job
    settle: str  # key, settle: stamps answer_lost_at (once), returns the seconds left to wait

    @classmethod
    def for_table(
        cls, table: str, columns: str, *, start_from: str, in_flight: str, started_at: str, done: str,
        finish_sets: str, restart_sets: str,
    ) -> JobStatements:
        """:param in_flight: the state the request is in while its outcome is not recorded.
        :param started_at: the column stamped when it leaves.
        :param finish_sets: the columns the done state records.
        :param restart_sets: what else a failed job clears when it starts over."""
        name = f"instagram.{table}"
        key = "idempotency_key = %(key)s"
        return cls(
            select=f"SELECT {columns} FROM {name} WHERE {key}",
            start=f"""
UPDATE {name} SET state = '{in_flight}', {started_at} = now(), answer_lost_at = NULL, attempts = attempts + 1
 WHERE {key} AND state = '{start_from}'
RETURNING {columns}
""",
            move=f"UPDATE {name} SET state = %(to_state)s WHERE {key} AND state = %(from_state)s RETURNING {columns}",
            finish=f"""
UPDATE {name} SET state = '{done}', {finish_sets}, {CLEAR_ERROR}
 WHERE {key} AND state <> '{done}'
RETURNING {columns}
""",
            fail=f"""
UPDATE {name}
   SET state = 'failed', error_code = %(code)s, error_subcode = %(subcode)s, error_message = %(message)s,
       fbtrace_id = %(fbtrace_id)s
 WHERE {key} AND state = ANY(%(from_states)s)
RETURNING {columns}
""",
            restart=f"""
UPDATE {name} SET state = 'pending', {CLEAR_ERROR}, answer_lost_at = NULL, dag_run_id = %(dag_run_id)s, {restart_sets}
 WHERE {key} AND state = 'failed'
RETURNING {columns}
""",
            settle=f"""
UPDATE {name} SET answer_lost_at = COALESCE(answer_lost_at, now())
 WHERE {key} AND state = '{in_flight}'
RETURNING %(settle)s - EXTRACT(EPOCH FROM now() - answer_lost_at)::float8
""",
        )
