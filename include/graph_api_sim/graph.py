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
from .handlers.insights import account_insights, media_insights
from .handlers.messaging import send_message
from .handlers.publishing import create_container, publish, publishing_limit
from .handlers.reads import get_node, list_conversations, list_edge
from .handlers.tokens import exchange_token, refresh_token, revoke_permissions
from .request_log import redact
from .simulator import Simulator
from .tokens import Token
from .usage import throttle_error
from .usage_headers import usage_headers

log = logging.getLogger(__name__)

VERSION_PREFIX = re.compile(r"^/(v\d+\.\d+)(?=/|$)")
JSON_HEADERS = [(b"content-type", b"application/json; charset=UTF-8")]
_COMPACT = (",", ":")

Handler = Callable[[Call], dict[str, Any]]


PLATFORM, CONVERSATIONS, SEND = "platform", "conversations", "send"


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
        if account_id and (request.path == "/me" or request.path.startswith("/me/")):
            resolved_path = f"/{account_id}{request.path[3:]}"
        # Meta names every answer with a trace id: the x-fb-trace-id header, repeated as the
        # error body's fbtrace_id. The log keeps it, so a client's audit trail can be checked.
        trace_id = fbtrace_id()
        entry: dict[str, Any] = {
            "method": request.method, "path": request.path, "resolved_path": resolved_path,
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
        token: Token | None = None
        metered = False  # counted by the platform limit, so the answer carries usage headers
        try:
            if request.version and int(request.version[1:].split(".")[0]) < catalog.OLDEST_VERSION:
                raise GraphError("unsupported_version", version=request.version, newest=catalog.NEWEST_VERSION)
            proof = request.params.get("appsecret_proof")
            token = sim.tokens.authenticate(token_value, None if proof is None else str(proof),
                                            sim.settings.app_secret)
            try:
                call = self._route(request, token)
            except GraphError:
                metered = True
                sim.usage.admit(token.account_id)  # a throttle wins over the failed lookup
                raise
            metered = call.route.meter == PLATFORM
            self._admit(call)
            sim.tokens.require(token, call.route.permission)
            status, body = 200, json_body(call.route.handler(call))
        except GraphError as error:
            status, body = self._error_status(error), json_body(error.body(trace_id))
        except Exception:  # a simulator bug must still look like a Graph API answer
            log.exception("unexpected error answering %s %s", request.method, request.path)
            unknown = GraphError("unknown")
            status, body = self._error_status(unknown), json_body(unknown.body(trace_id))
        headers = usage_headers(sim.settings, sim.usage, token.account_id) if token is not None and metered else []
        return GraphResponse(status, body, [*JSON_HEADERS, *headers])

    def _admit(self, call: Call) -> None:
        """Count the call against the limit its route names, or raise that limit's error."""
        meter = call.route.meter
        if meter == CONVERSATIONS:
            self.sim.conversation_reads.admit(call.account.id)
        elif meter == SEND:
            self.sim.message_sends.admit(call.account.id)
        else:
            self.sim.usage.admit(call.account.id)

    def _error_status(self, error: GraphError) -> int:
        status = error.http_status
        return self.sim.status_rng.choice(status) if isinstance(status, tuple) else status

    def _error_response(self, error: GraphError, headers: list[tuple[bytes, bytes]], trace_id: str) -> GraphResponse:
        return GraphResponse(self._error_status(error), json_body(error.body(trace_id)), [*JSON_HEADERS, *headers])

    def _route(self, request: GraphRequest, token: Token) -> Call:
        sim = self.sim
        account = sim.world.account(token.account_id)
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

