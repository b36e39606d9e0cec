"""The Graph API request pipeline and its route table.

Every call goes: log -> fault -> version -> token (and appsecret_proof) -> route ->
rate limit -> permission -> handler, and leaves with usage headers. The order mirrors
what a client can observe from Meta: a bad token is refused before a missing permission,
a throttled call is refused before a failed lookup is reported. The route decides which
limit meters the call: the platform's (BUC, with usage headers) or, for messaging, the
conversations or send API's own per-second limit (no usage headers).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import catalog
from .call import Call, GraphRequest, GraphResponse
from .catalog import BASIC, CONTENT_PUBLISH, MANAGE_COMMENTS, MANAGE_INSIGHTS, MANAGE_MESSAGES
from .errors import GraphError, custom_error, fbtrace_id
from .faults import DEFAULT_MALFORMED_BODY, Fault
from .handlers.facebook import (
    exchange_user_token,
    page_conversations,
    page_send_message,
    revoke_user_permissions,
)
from .handlers.insights import account_insights, media_insights
from .handlers.messaging import send_message
from .handlers.publishing import create_container, publish, publishing_limit
from .handlers.reads import get_node, list_conversations, list_edge
from .handlers.tokens import exchange_token, refresh_token, revoke_permissions
from .request_log import redact
from .simulator import Simulator
from .tokens import PAGE, USER, Token
from .usage import throttle_error
from .usage_headers import usage_headers
from .world import Account, Page

log = logging.getLogger(__name__)

VERSION_PREFIX = re.compile(r"^/(v\d+\.\d+)(?=/|$)")
JSON_HEADERS = [(b"content-type", b"application/json; charset=UTF-8")]
_COMPACT = (",", ":")

Handler = Callable[[Call], dict[str, Any]]


PLATFORM, CONVERSATIONS, SEND, UNMETERED = "platform", "conversations", "send", "unmetered"


@dataclass(frozen=True)
class Route:
    handler: Handler
    permission: str | None
    meter: str = PLATFORM  # which limit counts the call


# (method, node type, edge or None) -> what answers it and the permission it needs.
ROUTES: dict[tuple[str, str, str | None], Route] = {
    ("GET", "IGUser", None): Route(get_node, BASIC),
    ("GET", "IGUser", "media"): Route(list_edge, BASIC),
    ("GET", "IGUser", "stories"): Route(list_edge, BASIC),
    ("GET", "IGUser", "tags"): Route(list_edge, BASIC),
    ("GET", "IGUser", "insights"): Route(account_insights, MANAGE_INSIGHTS),
    ("GET", "IGUser", "content_publishing_limit"): Route(publishing_limit, CONTENT_PUBLISH),
    ("GET", "IGUser", "conversations"): Route(list_conversations, MANAGE_MESSAGES, CONVERSATIONS),
    ("POST", "IGUser", "media"): Route(create_container, CONTENT_PUBLISH),
    ("POST", "IGUser", "media_publish"): Route(publish, CONTENT_PUBLISH),
    ("POST", "IGUser", "messages"): Route(send_message, MANAGE_MESSAGES, SEND),
    ("DELETE", "IGUser", "permissions"): Route(revoke_permissions, None),
    ("GET", "IGMedia", None): Route(get_node, BASIC),
    ("GET", "IGMedia", "children"): Route(list_edge, BASIC),
    ("GET", "IGMedia", "comments"): Route(list_edge, MANAGE_COMMENTS),
    ("GET", "IGMedia", "insights"): Route(media_insights, MANAGE_INSIGHTS),
    ("GET", "IGComment", None): Route(get_node, MANAGE_COMMENTS),
    ("GET", "IGComment", "replies"): Route(list_edge, MANAGE_COMMENTS),
    ("GET", "IGContainer", None): Route(get_node, CONTENT_PUBLISH),
    ("GET", "IGConversation", None): Route(get_node, MANAGE_MESSAGES, CONVERSATIONS),
    ("GET", "IGConversation", "messages"): Route(list_edge, MANAGE_MESSAGES, CONVERSATIONS),
    ("GET", "IGMessage", None): Route(get_node, MANAGE_MESSAGES, CONVERSATIONS),
}


# graph.facebook.com (Facebook Login) adds the Facebook user and its Pages; an Instagram
# account's own nodes answer there as in ROUTES, except its inbox, which is the Page's.
FACEBOOK_ROUTES: dict[tuple[str, str, str | None], Route] = {
    ("GET", "FacebookUser", None): Route(get_node, None, UNMETERED),
    ("GET", "FacebookUser", "accounts"): Route(list_edge, None, UNMETERED),
    ("DELETE", "FacebookUser", "permissions"): Route(revoke_user_permissions, None, UNMETERED),
    ("GET", "Page", None): Route(get_node, None, UNMETERED),
    ("GET", "Page", "conversations"): Route(page_conversations, MANAGE_MESSAGES, CONVERSATIONS),
    ("POST", "Page", "messages"): Route(page_send_message, MANAGE_MESSAGES, SEND),
}
# Instagram Login's inbox and revocation on the account itself: not served on graph.facebook.com.
INSTAGRAM_LOGIN_ONLY = frozenset({
    ("GET", "IGUser", "conversations"), ("POST", "IGUser", "messages"), ("DELETE", "IGUser", "permissions"),
})
# The token exchange of graph.facebook.com needs no access token (the app's id and secret vouch).
FACEBOOK_EXCHANGE_PATH = "/oauth/access_token"

# Paths that name no object: (method, first path component) -> handler.
ROOT_ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "refresh_access_token"): Route(refresh_token, None),
    ("GET", "access_token"): Route(exchange_token, None),
}


def split_version(raw_path: str) -> tuple[str | None, str]:
    """``/v24.0/me`` -> ("v24.0", "/me"); unversioned paths pass through."""
    match = VERSION_PREFIX.match(raw_path)
    if not match:
        return None, raw_path or "/"
    return match.group(1), raw_path[match.end():] or "/"


def json_body(payload: Any) -> bytes:
    return json.dumps(payload, separators=_COMPACT, ensure_ascii=False).encode()


class GraphApi:
    """Turns a ``GraphRequest`` into a ``GraphResponse`` for one simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def handle(self, request: GraphRequest) -> GraphResponse:
        sim = self.sim
        token_value = request.token_value
        known = sim.tokens.peek(token_value)
        account_id = known.account_id if known else None
        # Faults and log filters written as ^/\d+/media_publish$ also catch /me/media_publish.
        resolved_path = request.path
        if known is not None and known.me and (request.path == "/me" or request.path.startswith("/me/")):
            resolved_path = f"/{known.me}{request.path[3:]}"
        # Meta names every answer with a trace id: the x-fb-trace-id header, repeated as the
        # error body's fbtrace_id. The log keeps it, so a client's audit trail can be checked.
        trace_id = fbtrace_id()
        entry: dict[str, Any] = {
            "method": request.method, "host": request.host, "path": request.path, "resolved_path": resolved_path,
            "version": request.version, "params": redact(request.params), "status": None,
            "time": sim.clock.now(), "fault": None, "account_id": account_id, "trace_id": trace_id,
        }
        sim.log.add(entry)
        fault = sim.faults.match(request.method, request.path, resolved_path)
        if fault is not None:
            entry["fault"] = fault.kind
            if fault.kind == "delay":
                await asyncio.sleep(float(fault.args["seconds"]))
            elif fault.kind != "commit_then_drop":
                response = self._fault_response(fault, account_id, trace_id)
                return sim.log.settled(self._traced(response, entry, trace_id), entry)
        response = self._process(request, token_value, trace_id)
        if fault is not None and fault.kind == "commit_then_drop":
            response.drop = True
        return sim.log.settled(self._traced(response, entry, trace_id), entry)

    @staticmethod
    def _traced(response: GraphResponse, entry: dict[str, Any], trace_id: str) -> GraphResponse:
        entry["status"] = None if response.drop else response.status
        if response.drop:
            entry["trace_id"] = None  # no answer, no trace id the client could see
        else:
            response.headers.append((b"x-fb-trace-id", trace_id.encode()))
        return response

    def _fault_response(self, fault: Fault, account_id: str | None, trace_id: str) -> GraphResponse:
        kind = fault.kind
        if kind == "reset":
            return GraphResponse(0, b"", drop=True)
        if kind == "http_500":
            return GraphResponse(500, b"", [(b"content-type", b"text/html; charset=UTF-8")])
        if kind == "malformed":
            body = str(fault.args.get("body", DEFAULT_MALFORMED_BODY)).encode()
            return GraphResponse(200, body, list(JSON_HEADERS))
        if kind == "throttle":
            error = throttle_error(self.sim.settings.throttle_code, fault.args.get("http_status"))
            regain = int(fault.args.get("regain_minutes", 5))
            headers = (usage_headers(self.sim.settings, self.sim.usage, account_id, regain_minutes=regain)
                       if account_id else [])
            return self._error_response(error, headers, trace_id)
        return self._error_response(custom_error(**fault.args), [], trace_id)

    def _process(self, request: GraphRequest, token_value: str | None, trace_id: str) -> GraphResponse:
        sim = self.sim
        metered: str | None = None  # the account whose platform limit counted the call: its answer has usage headers
        try:
            if request.version and int(request.version[1:].split(".")[0]) < catalog.OLDEST_VERSION:
                raise GraphError("unsupported_version", version=request.version, newest=catalog.NEWEST_VERSION)
            facebook = request.host == catalog.LOGIN_FACEBOOK
            if facebook and request.path.rstrip("/") == FACEBOOK_EXCHANGE_PATH:
                return GraphResponse(200, json_body(exchange_user_token(sim, request)), list(JSON_HEADERS))
            proof = request.params.get("appsecret_proof")
            secret = sim.settings.facebook_app_secret if facebook else sim.settings.app_secret
            token = sim.tokens.authenticate(token_value, None if proof is None else str(proof), secret,
                                            request.host)
            try:
                call = self._route_facebook(request, token) if facebook else self._route(request, token)
            except GraphError:
                if token.account_id is not None:
                    metered = token.account_id
                    sim.usage.admit(token.account_id)  # a throttle wins over the failed lookup
                raise
            if call.route.meter == PLATFORM:
                metered = call.owner.id
            self._admit(call)
            sim.tokens.require(token, call.route.permission, call.account)
            status, body = 200, json_body(call.route.handler(call))
        except GraphError as error:
            status, body = self._error_status(error), json_body(error.body(trace_id))
        except Exception:  # a simulator bug must still look like a Graph API answer
            log.exception("unexpected error answering %s %s", request.method, request.path)
            unknown = GraphError("unknown")
            status, body = self._error_status(unknown), json_body(unknown.body(trace_id))
        headers = usage_headers(sim.settings, sim.usage, metered) if metered is not None else []
        return GraphResponse(status, body, [*JSON_HEADERS, *headers])

    def _admit(self, call: Call) -> None:
        """Count the call against the limit its route names, or raise that limit's error."""
        meter = call.route.meter
        if meter == CONVERSATIONS:
            self.sim.conversation_reads.admit(call.owner.id)
        elif meter == SEND:
            self.sim.message_sends.admit(call.owner.id)
        elif meter == PLATFORM:
            self.sim.usage.admit(call.owner.id)

    def _error_status(self, error: GraphError) -> int:
        status = error.http_status
        return self.sim.status_rng.choice(status) if isinstance(status, tuple) else status

    def _error_response(self, error: GraphError, headers: list[tuple[bytes, bytes]], trace_id: str) -> GraphResponse:
        return GraphResponse(self._error_status(error), json_body(error.body(trace_id)), [*JSON_HEADERS, *headers])

    def _route(self, request: GraphRequest, token: Token) -> Call:
        sim = self.sim
        account = sim.world.account(str(token.account_id))
        assert account is not None
        parts = [part for part in request.path.split("/") if part]
        if not parts or len(parts) > 2:
            raise GraphError("unknown_path", path=request.path)
        head, edge = parts[0], (parts[1] if len(parts) == 2 else None)
        root = ROOT_ROUTES.get((request.method, head)) if edge is None else None
        if root is not None:
            return Call(sim, request, token, account, account, None, route=root)
        node = account if head == "me" else sim.node(head)
        if node is None or getattr(node, "owner_id", None) != account.id:
            raise GraphError("unknown_object", method=request.method.lower(), object_id=head)
        route = ROUTES.get((request.method, node.node_type, edge))
        if route is None:
            if request.method == "GET" and edge is not None:
                raise GraphError("nonexisting_field", field=edge, node_type=node.node_type)
            raise GraphError("unknown_object", method=request.method.lower(), object_id=head)
        return Call(sim, request, token, account, node, edge, route=route)


    def _route_facebook(self, request: GraphRequest, token: Token) -> Call:
        """Route a graph.facebook.com call: the Facebook user and its Pages, or an Instagram
        account's nodes reached through its Page (by the Page's token or its manager's)."""
        sim = self.sim
        parts = [part for part in request.path.split("/") if part]
        if not parts or len(parts) > 2:
            raise GraphError("unknown_path", path=request.path)
        head, edge = parts[0], (parts[1] if len(parts) == 2 else None)
        node = sim.node(str(token.me)) if head == "me" else sim.node(head)
        account = self._reach(token, node, request.method, head)
        assert node is not None  # _reach refuses a missing node
        key = (request.method, node.node_type, edge)
        route = FACEBOOK_ROUTES.get(key) or (ROUTES.get(key) if key not in INSTAGRAM_LOGIN_ONLY else None)
        if route is None:
            if request.method == "GET" and edge is not None:
                raise GraphError("nonexisting_field", field=edge, node_type=node.node_type)
            raise GraphError("unknown_object", method=request.method.lower(), object_id=head)
        if route.meter in (CONVERSATIONS, SEND) and token.kind != PAGE:
            raise GraphError("page_token_required")
        return Call(sim, request, token, account, node, edge, route=route)

    def _reach(self, token: Token, node: Any, method: str, head: str) -> Account | None:
        """The Instagram account a Facebook token reaches ``node`` for (None: the user's or a
        Page's own node); the error Meta answers when the token cannot reach it at all."""
        world = self.sim.world
        account: Account | None = None
        if node is None:
            reachable = False
        elif node.node_type == "FacebookUser":
            reachable = token.kind == USER and token.user_id == node.id
        elif isinstance(node, Page):
            reachable = (token.kind == USER and node.owner_id == token.user_id) or token.page_id == node.id
            account = world.account(node.ig_account_id) if node.ig_account_id else None
        else:
            account = world.account(getattr(node, "owner_id", ""))
            page = world.page(account.page_id) if account is not None and account.page_id else None
            reachable = page is not None and (
                (token.kind == USER and page.owner_id == token.user_id) or token.page_id == page.id)
        if not reachable:
            raise GraphError("unknown_object", method=method.lower(), object_id=head)
        return account
