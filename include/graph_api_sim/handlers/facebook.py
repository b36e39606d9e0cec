"""Instagram API with Facebook Login: the token exchange, the user's Pages, and the Page's inbox.

On ``graph.facebook.com`` an Instagram account is reached through its Facebook Page:
``GET /me/accounts`` lists the Pages of the person who logged in (with Page tokens and
``instagram_business_account``), ``GET /{page-id}/conversations?platform=instagram`` and
``POST /{page-id}/messages`` are the account's inbox, with the Page token only.
"""

from __future__ import annotations

from typing import Any

from .. import catalog
from ..call import Call, GraphRequest
from ..errors import GraphError
from ..paging import ItemListing
from ..simulator import Simulator
from .messaging import send_message
from .reads import list_conversations, list_edge


def exchange_user_token(sim: Simulator, request: GraphRequest) -> dict[str, Any]:
    """``GET /oauth/access_token?grant_type=fb_exchange_token&client_id&client_secret&fb_exchange_token``:
    a 60-day user token for a user token. Needs no access token: the app's id and secret vouch for it."""
    params = request.params
    if params.get("grant_type") != "fb_exchange_token":
        raise GraphError("grant_type_invalid", expected="fb_exchange_token")
    for name in ("client_id", "client_secret", "fb_exchange_token"):
        if not params.get(name):
            raise GraphError("missing_parameter", name=name)
    if str(params["client_id"]) != sim.settings.facebook_app_id:
        raise GraphError("client_id_invalid")
    if str(params["client_secret"]) != sim.settings.facebook_app_secret:
        raise GraphError("client_secret_invalid")
    fresh = sim.tokens.exchange(str(params["fb_exchange_token"]))
    return {"access_token": fresh.value, "token_type": "bearer", "expires_in": catalog.TOKEN_LIFETIME_SECONDS}


def revoke_user_permissions(call: Call) -> dict[str, Any]:
    """``DELETE /{user-id}/permissions``: the person withdraws the app; its user and Page tokens die."""
    call.sim.tokens.revoke_user(call.node.id)
    return {"success": True}


def page_conversations(call: Call) -> dict[str, Any]:
    """``GET /{page-id}/conversations?platform=instagram``: the Page's Instagram inbox. Without
    ``platform=instagram`` the Page's Messenger inbox answers, and it is empty here."""
    if call.param("platform") != "instagram":
        return list_edge(call, ItemListing("IGConversation", ()))
    call.node = call.owner
    return list_conversations(call)


def page_send_message(call: Call) -> dict[str, Any]:
    """``POST /{page-id}/messages``: a DM from the Page's Instagram account."""
    return send_message(call)
