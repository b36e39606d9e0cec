"""The one Graph time parser and the one secret-masking helper."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from instagram_graph.graph_time import parse_graph_time

NOON = datetime(2026, 1, 11, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["2026-01-11T12:00:00+0000", "2026-01-11T12:00:00Z", "2026-01-11T12:00:00+00:00",
             "2026-01-11T13:00:00+0100", "2026-01-11T12:00:00.000+0000"],
)
def test_every_spelling_meta_uses_is_read(text) -> None:
    assert parse_graph_time(text) == NOON


@pytest.mark.parametrize("text", [None, "", "yesterday", "2026-01-11"])
def test_an_empty_or_unreadable_time_is_none(text) -> None:
    assert parse_graph_time(text) is None


def test_a_masked_secret_never_reaches_a_task_log_line() -> None:
    probe = (
        "import airflow.sdk, logging, io\n"
        "from instagram_graph.masking import mask_secret\n"
        "from airflow.sdk._shared.secrets_masker import redact\n"
        "mask_secret('IGAAsecret-token-123')\n"
        "print(redact('token IGAAsecret-token-123 here'))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "IGAAsecret-token-123" not in done.stdout and "***" in done.stdout


def test_account_tokens_of_metas_shape_are_masked_by_one_pattern_others_one_by_one() -> None:
    """A shard task reads hundreds of tokens; Airflow's masker recompiles all its patterns per
    secret, so Meta-shaped tokens share one pattern (added once) and only odd ones are added."""
    probe = (
        "import airflow.sdk, secrets\n"
        "from instagram_graph.masking import mask_token\n"
        "from airflow.sdk._shared.secrets_masker import redact\n"
        "from airflow.sdk.log import _secrets_masker\n"
        "before = len(_secrets_masker().patterns)\n"
        "tokens = [p + secrets.token_urlsafe(60) for p in ('IGAA', 'IGQV', 'EAA') for _ in range(300)]\n"
        "for t in tokens: mask_token(t)\n"
        "print(len(_secrets_masker().patterns) - before)\n"
        "print(sum(t in redact(f'call with {t} failed') for t in tokens))\n"
        "mask_token('odd-token-0123456789abcdef')\n"
        "print(len(_secrets_masker().patterns) - before, redact('x odd-token-0123456789abcdef y'))\n"
        "print(redact('IGAA is a prefix, not a token'))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    added, leaked, odd, prose = done.stdout.strip().splitlines()
    assert added == "1", "900 tokens, one pattern"
    assert leaked == "0", "every token is masked"
    assert odd == "2 x *** y", "a token of another shape is registered by itself"
    assert prose == "IGAA is a prefix, not a token"


def test_masking_outside_airflow_is_a_no_op() -> None:
    probe = ("from instagram_graph.masking import mask_secret; import sys; mask_secret('x'); "
             "print('airflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr[-2000:]
