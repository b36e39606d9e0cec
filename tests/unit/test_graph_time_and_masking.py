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


def test_masking_outside_airflow_is_a_no_op() -> None:
    probe = ("from instagram_graph.masking import mask_secret; import sys; mask_secret('x'); "
             "print('airflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr[-2000:]
