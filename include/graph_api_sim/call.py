"""One Graph API request as the handlers see it, independent of the HTTP server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from . import catalog
from .fields import FieldSpec, parse_fields
from .params import split_list
from .simulator import Simulator
from .tokens import Token
from .world import Account

# graph.facebook.com (Instagram API with Facebook Login) is served under this path of the
# simulator's address; every other path is graph.instagram.com.
FACEBOOK_PATH = "/facebook"


@dataclass
class GraphRequest:
    method: str
    path: str  # without the version prefix, e.g. "/17841400000000001/media"
    version: str | None  # "v24.0", or None for unversioned calls
    query: list[tuple[str, str]]  # in request order, to rebuild paging URLs
    params: dict[str, Any]  # query, form and JSON body merged (the body wins)
    base_url: str  # scheme://host[:port] as the client addressed us (plus /facebook for that host)
    authorization: str | None = None
    host: str = catalog.LOGIN_INSTAGRAM  # which Graph API host was called: "instagram" or "facebook"

    @property
    def token_value(self) -> str | None:
        token = self.params.get("access_token")
        if token:
            return str(token)
        if self.authorization and self.authorization[:7].lower() == "bearer ":
            return self.authorization[7:].strip() or None
        return None


@dataclass
class GraphResponse:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    drop: bool = False  # close the connection instead of answering


@dataclass
class Call:
    """An authenticated call routed to a handler: the request plus who and what it is about."""

    sim: Simulator
    request: GraphRequest
    token: Token
    account: Account | None  # the Instagram account the call is about (None: the Facebook user's own calls)
    node: Any  # the object named in the path (the account for /me)
    edge: str | None
    route: Any = None  # graph.Route that answers the call
    insights_media: int = 0  # media whose insights the answer holds (fields=insights.metric(..))

    @property
    def owner(self) -> Account:
        """The Instagram account the call is about (routing made sure there is one)."""
        assert self.account is not None, "routed to an Instagram account's handler without one"
        return self.account

    @property
    def params(self) -> dict[str, Any]:
        return self.request.params

    def param(self, name: str) -> str | None:
        value = self.request.params.get(name)
        return None if value is None else str(value)

    def list_param(self, name: str) -> list[str]:
        """A list parameter: ``a,b`` or a JSON array ``["a","b"]``."""
        return split_list(self.request.params.get(name), name)

    def fields(self) -> tuple[FieldSpec, ...] | None:
        return parse_fields(self.param("fields"))

    def url(self, path: str, params: dict[str, Any]) -> str:
        """An absolute URL on this server with the caller's version prefix and access token.

        Meta puts the token into ``paging.next``; clients must not log or store it.
        """
        query = {"access_token": self.token.value, **{k: v for k, v in params.items() if k != "access_token"}}
        prefix = f"/{self.request.version}" if self.request.version else ""
        return f"{self.request.base_url}{prefix}{path}?{urlencode(query)}"
