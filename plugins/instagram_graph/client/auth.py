"""How a Graph API request proves who it is: the account's token, signed with the app secret.

One :class:`requests.auth.AuthBase` for every request the project makes, real calls and the
Airflow UI's Test button alike, so the button cannot pass where real calls fail.
"""

from __future__ import annotations

import hashlib
import hmac

from requests import PreparedRequest
from requests.auth import AuthBase


def appsecret_proof(app_secret: str, token: str) -> str:
    """Meta's ``appsecret_proof``: hex HMAC-SHA256 of the token, keyed with the app secret."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


class GraphAuth(AuthBase):
    """The token in the Authorization header, so it never appears in a URL that urllib3 or a
    proxy might log; ``appsecret_proof`` in the query when the app has a secret.

    :param token: the account's access token.
    :param app_secret: the Meta app's secret (the connection's password), or None.
    """

    def __init__(self, token: str, app_secret: str | None = None) -> None:
        self.token = token
        self.app_secret = app_secret

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return self._sign(request)

    def _sign(self, request: PreparedRequest) -> PreparedRequest:
        if self.app_secret:
            request.prepare_url(request.url, {"appsecret_proof": appsecret_proof(self.app_secret, self.token)})
        return request


class QueryTokenAuth(GraphAuth):
    """The token as the ``access_token`` query parameter, for the endpoints that read it
    nowhere else (``refresh_access_token``)."""

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.prepare_url(request.url, {"access_token": self.token})
        return self._sign(request)
