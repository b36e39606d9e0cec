"""Who may see the accounts page: an authenticated Airflow user who may read every DAG's runs.

A plugin's FastAPI app is NOT behind Airflow's auth: each route must ask for it. This reuses
the api-server's own dependency, ``airflow.api_fastapi.core_api.security.get_user``
(``GetUserDep``), which takes the JWT from an ``Authorization: Bearer`` header (API clients,
``POST /auth/token``) or else from the ``_token`` cookie the UI's login sets. That cookie's
path is the path of ``[api] base_url`` ("/" by default), which covers this app's prefix, and
the nav entry opens the page in a same-origin iframe, so the browser sends it along. The
token is checked by the configured auth manager (signature, expiry, revocation).

Answers: no token or an expired one -> 401 (the HTML page redirects to the login page
instead, see ``accounts_app``); a token that does not verify -> 403 "Invalid JWT token"
(Airflow's answer); a valid user without the permission -> 403.

The permission: read access to DAG runs of all DAGs (``is_authorized_dag(method="GET",
access_entity=DagAccessEntity.RUN)`` without a DAG id). The page reports what the sync
runs did to every account, across DAGs; it shows no connection field and no secret. With
the simple auth manager that is the VIEWER role; with FAB, "can read" on DAG Runs and on
all DAGs. Airflow's ``requires_access_dag`` is not used on purpose: it takes the DAG id
from the query string, so ``?dag_id=<a DAG the user can read>`` would narrow the check.
"""

from __future__ import annotations

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import HTTPException, status


def sync_run_reader(user: GetUserDep) -> BaseUser:
    """FastAPI dependency: the authenticated user, when allowed to read all DAG runs."""
    allowed = get_auth_manager().is_authorized_dag(method="GET", access_entity=DagAccessEntity.RUN, user=user)
    if not allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden: reading all DAG runs is required")
    return user
