"""The pool check the first task of every DAG makes, against a real HTTP server."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from instagram_graph.pool_check import GRAPH_API_POOL, POOL_FIX, GraphApiPoolMissing, require_graph_api_pool


@pytest.fixture
def api_server():
    """A stand-in api-server: answers the pool-status path with ``answer`` (status, body)."""
    answer = {"status": 200, "body": {"name": GRAPH_API_POOL, "exists": True, "slots": 8}, "paths": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            answer["paths"].append(self.path)
            body = answer["body"]
            payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(answer["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    answer["url"] = f"http://127.0.0.1:{server.server_port}"
    yield answer
    server.shutdown()


def test_existing_pool_passes(api_server) -> None:
    require_graph_api_pool(api_server["url"], in_process=False)
    assert api_server["paths"] == [f"/instagram-pools/{GRAPH_API_POOL}"]


def test_missing_pool_fails_with_the_command_that_fixes_it(api_server) -> None:
    api_server["body"] = {"name": GRAPH_API_POOL, "exists": False, "slots": None}
    with pytest.raises(GraphApiPoolMissing) as raised:
        require_graph_api_pool(api_server["url"], in_process=False)
    assert POOL_FIX in str(raised.value)
    assert "scheduled" in str(raised.value) and GRAPH_API_POOL in str(raised.value)


def test_an_api_server_without_the_endpoint_never_blocks_a_run(api_server, caplog) -> None:
    api_server["status"], api_server["body"] = 404, {"detail": "Not Found"}
    with caplog.at_level(logging.WARNING):
        require_graph_api_pool(api_server["url"], in_process=False)
    assert "cannot check" in caplog.text


def test_the_ui_page_of_an_api_server_without_the_plugin_never_blocks_a_run(api_server, caplog) -> None:
    api_server["body"] = "<html>Airflow</html>"  # the UI answers unknown paths with 200 and its page
    with caplog.at_level(logging.WARNING):
        require_graph_api_pool(api_server["url"], in_process=False)
    assert "cannot check" in caplog.text


def test_an_unreachable_api_server_never_blocks_a_run(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        require_graph_api_pool("http://127.0.0.1:9", in_process=False)
    assert "Could not ask" in caplog.text


def test_in_process_runs_skip_the_check(api_server) -> None:
    api_server["body"] = {"exists": False}
    require_graph_api_pool(api_server["url"], in_process=True)  # airflow dags test ignores pools
    assert api_server["paths"] == []
