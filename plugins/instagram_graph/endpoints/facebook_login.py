"""Facebook Login's own calls: the user token's exchange, the user's Pages, revoking the user.

These act for a Facebook user, not for one Instagram account: they carry the user's token
(``as_token``), and their budget and audit rows are keyed ``facebook-user:{id}`` (the
exchange, which carries no token, ``facebook-app:{app id}``). The accounts behind the
Pages are then called like any other, with their Page token (see ``client.credentials``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from instagram_graph.endpoints.base import EndpointGroup
from instagram_graph.endpoints.paging import MAX_PAGE_SIZE, page_of
from instagram_graph.errors import InvalidRequestError
from instagram_graph.masking import mask_token
from instagram_graph.models import RefreshedToken
from instagram_graph.settings import LOGIN_FACEBOOK

PAGE_FIELDS = "id,name,access_token,instagram_business_account{id,username}"
USER_FIELDS = "id,name"


def facebook_user_key(user_id: str) -> str:
    """What keys a Facebook user's own calls in the budgets and the audit trail."""
    return f"facebook-user:{user_id}"


class FacebookLoginEndpoints(EndpointGroup):
    """The token exchange and the Pages of a Facebook user (Instagram API with Facebook Login)."""

    def exchange_user_token(self, user_token: str) -> RefreshedToken:
        """A long-lived (60-day) user token for ``user_token`` (``fb_exchange_token``, with the
        connection's Facebook app id and secret). The caller stores the result."""
        settings = self.client.settings
        missing = [name for name in ("facebook_app_id", "facebook_app_secret") if not getattr(settings, name)]
        if missing:
            raise InvalidRequestError(
                f"The instagram_graph connection has no {' and no '.join(missing)}: the Facebook app's id and "
                "secret (extras facebook_app_id, facebook_app_secret) are needed to exchange a Facebook user token"
            )
        mask_token(user_token)
        payload = self.client.request(
            f"facebook-app:{settings.facebook_app_id}",
            "GET",
            settings.url("oauth/access_token", LOGIN_FACEBOOK),
            params={
                "grant_type": "fb_exchange_token",
                "client_id": settings.facebook_app_id,
                "client_secret": settings.facebook_app_secret,
                "fb_exchange_token": user_token,
            },
            auth=None,  # the query carries the app's credentials and the token: no header, no proof
            as_token=("", LOGIN_FACEBOOK),  # no stored token of any account is at stake
        )
        token = payload.get("access_token")
        if token:
            mask_token(token)
        return cast(RefreshedToken, payload)

    def get_facebook_user(self, user_token: str) -> dict[str, Any]:
        """``GET /me?fields=id,name`` as the user: who logged in."""
        return self._as_user("me", user_token, "GET", params={"fields": USER_FIELDS})

    def iter_pages(self, user_id: str, user_token: str) -> Iterator[dict[str, Any]]:
        """Every Page the user manages (``/me/accounts``), with its Page token and Instagram
        business account, paged to the end."""
        after: str | None = None
        while True:
            params: dict[str, Any] = {"fields": PAGE_FIELDS, "limit": MAX_PAGE_SIZE, "after": after}
            page = page_of(self._as_user("me/accounts", user_token, "GET", params=params, user_id=user_id))
            for item in page.data:
                if item.get("access_token"):
                    mask_token(str(item["access_token"]))
                yield item
            if page.after is None or page.after == after:
                return
            after = page.after

    def revoke_facebook_user(self, user_id: str, user_token: str) -> bool:
        """``DELETE /{user-id}/permissions``: the app loses every Page of this user."""
        payload = self._as_user(f"{user_id}/permissions", user_token, "DELETE", user_id=user_id)
        return bool(payload.get("success", False))

    def _as_user(
        self, path: str, user_token: str, method: str, *, params: dict[str, Any] | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        mask_token(user_token)
        settings = self.client.settings
        return self.client.request(
            facebook_user_key(user_id or "me"), method, settings.url(path, LOGIN_FACEBOOK), params=params,
            as_token=(user_token, LOGIN_FACEBOOK),
        )
