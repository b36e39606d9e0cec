"""Token endpoints: refresh, exchange and ``DELETE /me/permissions``, answered from the ``TokenBook``."""

from __future__ import annotations

from typing import Any

from .. import catalog
from ..call import Call
from ..errors import GraphError


def revoke_permissions(call: Call) -> dict[str, Any]:
    """``DELETE /me/permissions``: the user withdraws the app; every token of the account dies."""
    call.sim.tokens.revoke(call.owner.id)
    return {"success": True}


def refresh_token(call: Call) -> dict[str, Any]:
    """``GET /refresh_access_token?grant_type=ig_refresh_token&access_token=LONG``."""
    if call.param("grant_type") != "ig_refresh_token":
        raise GraphError("grant_type_invalid", expected="ig_refresh_token")
    fresh = call.sim.tokens.refresh(call.token)
    return {"access_token": fresh.value, "token_type": "bearer", "expires_in": catalog.TOKEN_LIFETIME_SECONDS}


def exchange_token(call: Call) -> dict[str, Any]:
    """``GET /access_token?grant_type=ig_exchange_token&client_secret=..&access_token=SHORT``.

    The simulator has no short-lived tokens: any valid token of the account stands in.
    """
    if call.param("grant_type") != "ig_exchange_token":
        raise GraphError("grant_type_invalid", expected="ig_exchange_token")
    if call.param("client_secret") != call.sim.settings.app_secret:
        raise GraphError("client_secret_invalid")
    fresh = call.sim.tokens.issue(call.owner.id)
    return {"access_token": fresh.value, "token_type": "bearer", "expires_in": catalog.TOKEN_LIFETIME_SECONDS}
