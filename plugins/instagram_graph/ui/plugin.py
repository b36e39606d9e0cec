"""The Airflow plugin: the accounts app in the api-server and its entry in the UI's nav.

Registered through the package's entry point (``[project.entry-points."airflow.plugins"]`` in
pyproject.toml), which Airflow 3.3 reads in every process that loads plugins; the
repository's ``plugins/`` directory is not Airflow's plugins folder.

Every task process loads plugins too (for macros), so this module imports nothing heavy:
the FastAPI app and Airflow's API security code (about a CPU-second of imports) are built
on the first request, in the api-server only.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/instagram"
PAGE_NAME = "Instagram accounts"


@cache
def _app() -> Any:
    from instagram_graph.ui.accounts_app import create_app

    return create_app()


class AccountsAsgiApp:
    """An ASGI app that builds the accounts FastAPI app on its first request."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await _app()(scope, receive, send)


class InstagramAccountsPlugin(AirflowPlugin):
    """The "Instagram accounts" page (``/instagram/accounts``) and its nav entry."""

    name = "instagram_accounts"
    fastapi_apps = [{"app": AccountsAsgiApp(), "url_prefix": URL_PREFIX, "name": PAGE_NAME}]
    external_views = [
        {
            "name": PAGE_NAME,
            # Relative to the UI's <base href> ([api] base_url), so a base_url with a path works too.
            "href": f"{URL_PREFIX.lstrip('/')}/accounts",
            "destination": "nav",
            "url_route": "instagram-accounts",  # the UI shows it at /plugin/instagram-accounts
        }
    ]
