"""The ``instagram_graph_api`` pool must exist before a Graph API task can run.

Airflow leaves a task whose pool does not exist in state ``scheduled`` forever; only a
scheduler log line says why. So the first task of every DAG runs outside that pool and
asks whether it exists, and a deployment without it fails at once with the command that
fixes it.

Task code has no metadata-DB access in Airflow 3 and the REST API needs a user's token,
so the api-server answers the question: :func:`pool_status_app` is mounted there by the
project's plugin (it says only whether this one pool exists and its size, so it needs no
login). The task reaches the api-server at the address it already uses for the Execution
API. Under ``airflow dags test`` (which ignores pools) and when the api-server has no such
endpoint, the check steps aside with a log line: it exists to turn a silent hang into a
clear failure, never to block a run.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

GRAPH_API_POOL = "instagram_graph_api"
DEFAULT_POOL_SLOTS = 8
POOL_FIX = f"airflow pools set {GRAPH_API_POOL} {DEFAULT_POOL_SLOTS} 'Instagram Graph API calls'"
STATUS_PATH = "/instagram-pools/{name}"
CHECK_TIMEOUT_SECONDS = 5.0

log = logging.getLogger(__name__)


class GraphApiPoolMissing(RuntimeError):
    """The pool the Graph API tasks wait in does not exist in this deployment."""


def pool_status_app() -> Any:
    """FastAPI app for the api-server: ``GET /instagram-pools/instagram_graph_api``."""
    from fastapi import FastAPI, HTTPException

    app = FastAPI(title="Instagram Graph API pool status", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/{name}")
    def pool_status(name: str) -> dict[str, Any]:
        if name != GRAPH_API_POOL:  # answers for this pool only: not a directory of pools
            raise HTTPException(status_code=404, detail=f"only {GRAPH_API_POOL} is reported here")
        from airflow.models.pool import Pool
        from airflow.utils.session import create_session

        with create_session() as session:
            pool = session.query(Pool).filter(Pool.pool == name).one_or_none()
        return {"name": name, "exists": pool is not None, "slots": pool.slots if pool else None}

    return app


def _in_process_run() -> bool:
    """True under ``airflow dags test``: tasks run in-process and pools are not consulted."""
    try:
        from airflow.sdk.execution_time import task_runner
    except ImportError:  # pragma: no cover - outside Airflow
        return True
    return type(getattr(task_runner, "SUPERVISOR_COMMS", None)).__name__ == "InProcessSupervisorComms"


def api_server_base_url() -> str:
    """The api-server as this worker reaches it: the Execution API's address without its path."""
    from airflow.configuration import conf

    url = conf.get("core", "execution_api_server_url", fallback="") or ""
    return url.rstrip("/").removesuffix("/execution")


def require_graph_api_pool(base_url: str | None = None, *, in_process: bool | None = None) -> None:
    """Raise :class:`GraphApiPoolMissing` (naming the fix) when the api-server says the pool
    does not exist; log and return when the question cannot be answered."""
    if in_process is None:
        in_process = _in_process_run()
    if in_process:
        log.debug("In-process run (airflow dags test): pools are not used, the pool check is skipped.")
        return
    base_url = base_url or api_server_base_url()
    if not base_url:
        log.warning("No api-server address configured: cannot check that pool %s exists.", GRAPH_API_POOL)
        return
    try:
        response = requests.get(base_url + STATUS_PATH.format(name=GRAPH_API_POOL), timeout=CHECK_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        log.warning("Could not ask the api-server whether pool %s exists (%s); going on.", GRAPH_API_POOL, exc)
        return
    status = _pool_status(response)
    if status is None:  # the UI answers unknown paths with its own page: no plugin here
        log.warning(
            "The api-server does not report pools (HTTP %s; is the instagram_graph plugin loaded?): "
            "cannot check that pool %s exists.", response.status_code, GRAPH_API_POOL,
        )
        return
    if not status["exists"]:
        raise GraphApiPoolMissing(
            f"The pool {GRAPH_API_POOL!r} does not exist, so every Instagram Graph API task of this run would wait "
            f"in state 'scheduled' forever. Create it (once per deployment), then clear this task: {POOL_FIX}"
        )


def _pool_status(response: requests.Response) -> dict[str, Any] | None:
    """The endpoint's answer, or None when this is not it (an error, or the UI's HTML page)."""
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("name") != GRAPH_API_POOL or not isinstance(body.get("exists"), bool):
        return None
    return body
