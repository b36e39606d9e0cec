"""The one road from a secret to Airflow's secrets masker.

Every token the project decrypts, refreshes or receives is registered here, so task logs
show ``***`` wherever it would appear. Masking is defence in depth: it never fails a call.
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)


def mask_secret(secret: str) -> None:
    """Register ``secret`` with Airflow's secrets masker; best effort, never raises.

    Skipped when Airflow is not loaded in this process (the CLI): there is no Airflow log
    to mask then, and importing it would cost seconds.
    """
    if not secret or "airflow" not in sys.modules:
        return
    try:
        from airflow.sdk.log import mask_secret as airflow_mask_secret
    except Exception:  # older Airflow 3 layouts
        try:
            from airflow.sdk.execution_time.secrets_masker import (  # type: ignore[no-redef]
                mask_secret as airflow_mask_secret,
            )
        except Exception:
            log.debug("Airflow secrets masker unavailable; secret not registered for masking")
            return
    try:
        airflow_mask_secret(secret)
    except Exception:
        log.debug("Registering a secret with the secrets masker failed", exc_info=True)
