"""The one road from a secret to Airflow's secrets masker.

Every token the project decrypts, refreshes or receives is registered here, so task logs
show ``***`` wherever it would appear. Masking is defence in depth: it never fails a call.

Account tokens go through :func:`mask_token`. A shard task reads hundreds of them, and
Airflow's masker recompiles one regular expression of every secret it holds each time a
secret is added: 512 tokens cost about 40 CPU-seconds in the task, and as much again in
its supervisor. So a token of Meta's shape (:data:`TOKEN_SHAPE`) is masked by one pattern
for every such token, added once per process; any other token is registered on its own.
"""

from __future__ import annotations

import logging
import re
import sys
import threading

log = logging.getLogger(__name__)

# Meta's access tokens: Instagram Login (IGAA...), older Instagram tokens (IGQV..., IGQW...),
# Facebook Login (EAA...). Longer than any word that could begin the same way.
TOKEN_SHAPE = r"(?:IGAA|IGQ[VW]|EAA)[A-Za-z0-9_\-]{16,}"
_WHOLE_TOKEN = re.compile(rf"{TOKEN_SHAPE}\Z")
_shape_lock = threading.Lock()


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


def mask_token(token: str) -> None:
    """Mask an account's token in this process's task logs; best effort, never raises."""
    if not token or "airflow" not in sys.modules:
        return
    if _WHOLE_TOKEN.match(token) and _mask_token_shape():
        return
    mask_secret(token)


def _mask_token_shape() -> bool:
    """Add :data:`TOKEN_SHAPE` to this process's masker once; False if that cannot be done."""
    try:
        from airflow.sdk.log import _secrets_masker

        masker = _secrets_masker()
        with _shape_lock:
            if TOKEN_SHAPE not in masker.patterns:
                masker.patterns.add(TOKEN_SHAPE)
                masker.replacer = re.compile("|".join(masker.patterns))
    except Exception:  # another masker layout: register tokens one by one instead
        log.debug("Could not add the token pattern to the secrets masker", exc_info=True)
        return False
    return True
