"""Serving the simulator with uvicorn (httptools and uvloop when installed, access log off)."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import struct
from typing import Any

import uvicorn

from .asgi import DROP_EXTENSION


def _droppable_protocol() -> Any:
    """uvicorn's httptools protocol, plus a way for the app to drop the connection.

    The ``reset`` and ``commit_then_drop`` faults must close the socket without any HTTP
    answer (with an RST, like a crashed proxy); ASGI has no message for that.
    """
    if importlib.util.find_spec("httptools") is None:
        return "h11"  # faults that drop connections then fail the request with a 500 instead
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class DroppableHttpToolsProtocol(HttpToolsProtocol):
        def on_message_begin(self) -> None:
            super().on_message_begin()
            # uvicorn types extension values as dicts; this one is the callable asgi.drop_connection looks up.
            self.scope["extensions"] = {DROP_EXTENSION: self._drop_connection}  # type: ignore[dict-item]

        def _drop_connection(self) -> None:
            sock = self.transport.get_extra_info("socket")
            with contextlib.suppress(AttributeError, OSError):  # linger 0: close with an RST
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if self.cycle is not None:
                self.cycle.disconnected = True
            self.transport.abort()

    return DroppableHttpToolsProtocol


def serve(app: Any, host: str, port: int, log_level: str = "warning") -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_droppable_protocol(),
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        lifespan="off",
        access_log=False,
        log_level=log_level,
        server_header=False,
        timeout_keep_alive=75,  # pooled client connections survive pauses between tasks
    )
    uvicorn.Server(config).run()
