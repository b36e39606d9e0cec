"""Token lifecycle calls: refresh a long-lived token, revoke the app's permissions."""

from __future__ import annotations

from typing import cast

from instagram_graph.client import QueryTokenAuth
from instagram_graph.endpoints.base import EndpointGroup
from instagram_graph.masking import mask_token
from instagram_graph.models import RefreshedToken


class TokenEndpoints(EndpointGroup):
    """Refresh and revoke an account's token."""

    def refresh_token(self, account_id: str) -> RefreshedToken:
        """Exchange the account's long-lived token for a fresh one (60 more days).

        The caller stores the result; the old token keeps working until it expires.
        ``refresh_access_token`` lives outside the versioned API and reads the token from
        the query only.
        """
        payload = self.client.request(
            account_id,
            "GET",
            self.client.settings.unversioned_url("refresh_access_token"),
            params={"grant_type": "ig_refresh_token"},
            auth=QueryTokenAuth,
        )
        token = payload.get("access_token")
        if token:
            mask_token(token)
        return cast(RefreshedToken, payload)

    def revoke(self, account_id: str) -> bool:
        """Revoke the app's permissions for this account's token."""
        payload = self.client.call(account_id, "DELETE", "me/permissions")
        return bool(payload.get("success", False))
