"""The audit record of one call attempt: trace id, correlation id, settings (no warehouse here).

The warehouse side (batches, retention, the trail of a sync run against the simulator's
request log) is tested in tests/integration/test_call_audit.py, the correlation columns of
a real DAG run in tests/dags/test_audit_trail.py.
"""

from __future__ import annotations

import json
import logging

import pytest
import requests
from airflow.sdk import Connection

from instagram_graph.call_audit import CallAudit, Correlation, task_correlation
from instagram_graph.errors import InvalidRequestError
from instagram_graph.hooks.graph_api import InstagramGraphHook
from instagram_graph.rate_limit import RedisRateLimiter, UsageThrottle
from instagram_graph.settings import GraphApiSettings, SettingsError


class Canned(requests.adapters.BaseAdapter):
    """Answers every request with one status, JSON body and headers; keeps the URLs asked for."""

    def __init__(self, status: int, body: dict, headers: dict[str, str]) -> None:
        super().__init__()
        self.status, self.body, self.headers = status, body, headers
        self.urls: list[str] = []

    def send(self, request, **kwargs):
        self.urls.append(request.url)
        response = requests.Response()
        response.status_code = self.status
        response._content = json.dumps(self.body).encode()
        response.headers.update({"Content-Type": "application/json", **self.headers})
        response.url, response.request = request.url, request
        return response

    def close(self) -> None:
        pass


def hook_answering(redis_client, adapter: Canned) -> tuple[InstagramGraphHook, list[str]]:
    session = requests.Session()
    session.mount("https://", adapter)
    hook = InstagramGraphHook(
        settings=GraphApiSettings(access_token="EAAsecret-token", app_secret="app-secret", max_attempts=1),
        rate_limiter=RedisRateLimiter(redis_client, limit=100),
        throttle=UsageThrottle(redis_client),
        session=session,
    )
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("instagram_graph.test_call_audit.unit")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(Collect())
    hook._audit = CallAudit(None, log=logger)  # no warehouse trail: only the DEBUG line
    return hook, lines


def test_metas_trace_header_is_the_attempts_trace_id(redis_client) -> None:
    adapter = Canned(200, {"id": "1784"}, {"x-fb-trace-id": "HdrTrace42"})
    hook, lines = hook_answering(redis_client, adapter)
    hook.get_profile("1784")

    assert len(lines) == 1
    assert "fbtrace_id=HdrTrace42" in lines[0] and "path=/v24.0/1784 " in lines[0] and "status=200" in lines[0]
    assert "?" in adapter.urls[0], "the request had a query string; the record does not"
    for secret in ("EAAsecret-token", "appsecret_proof", "fields="):
        assert secret not in lines[0]


def test_without_the_header_an_errors_fbtrace_id_is_used(redis_client) -> None:
    error = {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                       "fbtrace_id": "BodyTrace7"}}
    hook, lines = hook_answering(redis_client, Canned(400, error, {}))
    with pytest.raises(InvalidRequestError):
        hook.get_profile("1784")
    assert "fbtrace_id=BodyTrace7" in lines[0] and "status=400" in lines[0]
    assert "error=InvalidRequestError" in lines[0]


def test_outside_a_task_the_correlation_comes_from_airflows_variables_or_is_empty() -> None:
    env = {"AIRFLOW_CTX_DAG_ID": "instagram_media", "AIRFLOW_CTX_DAG_RUN_ID": "manual__2026-01-01",
           "AIRFLOW_CTX_TASK_ID": "sync_media", "AIRFLOW_CTX_TRY_NUMBER": "2"}
    assert task_correlation(env) == Correlation("instagram_media", "manual__2026-01-01", "sync_media", None, 2)
    assert task_correlation({}) == Correlation(None, None, None, None, None)


def test_audit_extras_are_read_from_the_connection() -> None:
    def settings(extra: dict) -> GraphApiSettings:
        return GraphApiSettings.from_connection(
            Connection(conn_id="c", conn_type="instagram_graph", extra=json.dumps(extra)))

    assert (settings({}).audit_calls, settings({}).audit_retention_days) == (True, 7)
    assert settings({"audit_calls": "false", "audit_retention_days": "30"}).audit_calls is False
    assert settings({"audit_retention_days": "30"}).audit_retention_days == 30
    with pytest.raises(SettingsError, match="audit_retention_days must be between 1 and 3650"):
        settings({"audit_retention_days": 0})
    with pytest.raises(SettingsError, match="audit_calls"):
        settings({"audit_calls": "sometimes"})
