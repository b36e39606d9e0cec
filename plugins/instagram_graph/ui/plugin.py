"""The Airflow plugin: the accounts app in the api-server and its entry in the UI's nav.

Registered through the package's entry point (``[project.entry-points."airflow.plugins"]`` in
pyproject.toml), which Airflow 3.3 reads in every process that loads plugins; the
repository's ``plugins/`` directory is not Airflow's plugins folder.

Every task process loads plugins too (for macros), so this module imports nothing heavy:
the FastAPI app and Airflow's API security code (about a CPU-second of imports) are built
on the first request, in the api-server only.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/instagram"
POOL_STATUS_PREFIX = "/instagram-pools"  # pool_check.STATUS_PATH (not imported: it pulls in requests)
PAGE_NAME = "Instagram accounts"


class BuiltOnFirstRequest:
    """An ASGI app that ``factory`` builds on its first request (in the api-server only)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = cache(factory)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._factory()(scope, receive, send)


def _accounts_app() -> Any:
    from instagram_graph.ui.accounts_app import create_app

    return create_app()


def _pool_status_app() -> Any:
    from instagram_graph.pool_check import pool_status_app

    return pool_status_app()


class InstagramAccountsPlugin(AirflowPlugin):
    """The "Instagram accounts" page (``/instagram/accounts``) and its nav entry, and the
    Graph API pool's status for the first task of each run (``/instagram-pools/...``)."""

    name = "instagram_accounts"
    # Class attributes as AirflowPlugin declares them (plain lists, read by the plugins manager).
    fastapi_apps = [  # noqa: RUF012
        {"app": BuiltOnFirstRequest(_accounts_app), "url_prefix": URL_PREFIX, "name": PAGE_NAME},
        # Lets the first task of a run say that the Graph API pool is missing (see pool_check).
        {"app": BuiltOnFirstRequest(_pool_status_app), "url_prefix": POOL_STATUS_PREFIX,
         "name": "Instagram Graph API pool status"},
    ]
    external_views = [  # noqa: RUF012
        {
            "name": PAGE_NAME,
            # Relative to the UI's <base href> ([api] base_url), so a base_url with a path works too.
            "href": f"{URL_PREFIX.lstrip('/')}/accounts",
            "destination": "nav",
            "url_route": "instagram-accounts",  # the UI shows it at /plugin/instagram-accounts
        }
    ]
