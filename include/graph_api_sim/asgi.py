"""The Graph API as a bare ASGI application (no framework per request: it must be fast).

Faults that drop the connection need the server's transport; ``server.py`` puts a
callable for that into ``scope["extensions"]``. Served by anything else (an in-process
test client), a dropped connection surfaces as ``ConnectionResetError``.
"""

from __future__ import annotations

import asyncio
import email.policy
import json
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from . import catalog
from .call import FACEBOOK_PATH, GraphRequest
from .graph import GraphApi, split_version

DROP_EXTENSION = "graph_api_sim.drop_connection"


class GraphAsgiApp:
    def __init__(self, api: GraphApi) -> None:
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = build_request(scope, body)
        response = await self.api.handle(request)
        if response.drop:
            await drop_connection(scope)
            return
        headers = [
            *response.headers,
            (b"content-length", str(len(response.body)).encode()),
            (b"facebook-api-version", (request.version or catalog.DEFAULT_VERSION).encode()),
        ]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})


def build_request(scope: Scope, body: bytes) -> GraphRequest:
    content_type = host = authorization = ""
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"host":
            host = value.decode("latin-1")
        elif name == b"authorization":
            authorization = value.decode("latin-1")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    raw_path, login, prefix = scope["path"], catalog.LOGIN_INSTAGRAM, ""
    if raw_path == FACEBOOK_PATH or raw_path.startswith(FACEBOOK_PATH + "/"):
        raw_path, login, prefix = raw_path[len(FACEBOOK_PATH):], catalog.LOGIN_FACEBOOK, FACEBOOK_PATH
    version, path = split_version(raw_path)
    query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    params: dict[str, Any] = dict(query)
    if body:
        params.update(parse_body(body, content_type))
    return GraphRequest(
        method=scope["method"], path=path, version=version, query=query, params=params,
        base_url=f"{scope.get('scheme', 'http')}://{host}{prefix}", authorization=authorization or None, host=login,
    )


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """Form fields (url-encoded or multipart, as ``curl -F`` sends) or a JSON object."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    if kind == "multipart/form-data":
        return parse_multipart(body, content_type)
    if kind in ("application/x-www-form-urlencoded", ""):
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return {}


def parse_multipart(body: bytes, content_type: str) -> dict[str, str]:
    """Text fields of a multipart form (file uploads are ignored: Meta fetches media by URL)."""
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    fields: dict[str, str] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and part.get_filename() is None:
            payload = part.get_payload(decode=True)
            fields[name] = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return fields


async def drop_connection(scope: Scope) -> None:
    drop = (scope.get("extensions") or {}).get(DROP_EXTENSION)
    if drop is None:
        raise ConnectionResetError("graph_api_sim: connection dropped by an injected fault")
    drop()
    await asyncio.sleep(0)  # let the server see the closed transport before the app returns
