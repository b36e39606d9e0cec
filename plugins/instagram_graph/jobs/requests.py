"""What a request must pass before it becomes a job: a key of its own, content that
matches what the key was first used for, and an account that can act."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from instagram_graph.accounts import AccountRegistry
from instagram_graph.errors import reconnect_hint
from instagram_graph.jobs.outcomes import RequestRefused
from instagram_graph.validation import plain_text

MAX_IDEMPOTENCY_KEY_LENGTH = 250


def content_hash(content: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical JSON of ``content`` (sorted keys, no spaces)."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_idempotency_key(key: str | None, dag_id: str, run_id: str) -> str:
    """The key given, else ``{dag_id}:{run_id}``: a task retry of the same run resumes
    the same job; a new run is a new job.

    :raises InvalidInput: the key holds control characters.
    """
    key = plain_text("idempotency_key", (key or "").strip()) or ""
    if not key:
        key = f"{dag_id}:{run_id}"
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise RequestRefused(
            f"idempotency_key is {len(key)} characters long; at most {MAX_IDEMPOTENCY_KEY_LENGTH} are allowed. "
            "Use a shorter key, or leave it empty to derive one from the run."
        )
    return key


def require_usable_account(store: Any, account_id: str) -> None:
    """Refuse an unknown or disabled account, or one whose token cannot be used.

    :param store: a :class:`~instagram_graph.token_store.TokenStore`; its accounts' listing holds no token.
    """
    infos = {info.account_id: info for info in AccountRegistry(store).list_accounts()}
    info = infos.get(account_id)
    if info is None:
        known = ", ".join(sorted(infos)) or "none"
        raise RequestRefused(
            f"Unknown Instagram account {account_id!r} (known accounts: {known}). "
            f"Pick a known account id, or add this one with: {reconnect_hint(account_id)}"
        )
    if not info.enabled:
        reason = f" ({info.disabled_reason})" if info.disabled_reason else ""
        raise RequestRefused(
            f"Instagram account {account_id} is disabled{reason}. "
            f"Enable it with: instagram-graph accounts enable {account_id}"
        )
    if info.status is None:
        raise RequestRefused(
            f"Instagram account {account_id} has no access token. "
            f"Add one with: {reconnect_hint(account_id)}"
        )
    if info.status == "undecryptable":
        raise RequestRefused(
            f"No key in INSTAGRAM_TOKEN_KEYS decrypts the access token of Instagram account {account_id}. "
            "Add the key it was encrypted with to INSTAGRAM_TOKEN_KEYS (comma-separated, newest first), "
            f"or reconnect the account: {reconnect_hint(account_id)}"
        )
    if info.status != "active":
        raise RequestRefused(
            f"The access token of Instagram account {account_id} is {info.status}: nothing can be sent for it. "
            f"Reconnect the account (new long-lived token): {reconnect_hint(account_id)}"
        )
