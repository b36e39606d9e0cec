"""The accounts page's FastAPI app, mounted by the api-server at ``/instagram`` (see ``plugin``).

Routes (relative to the mount):

* ``GET /accounts`` - the page (HTML); the nav entry "Instagram accounts" opens it;
* ``GET /api/accounts`` - the same data as JSON;
* ``GET /`` - redirects to the page.

Every route requires an Airflow user allowed to read all DAG runs (:mod:`.auth`). The page
answers a missing or expired login with a redirect to Airflow's login page (and back); the
JSON endpoint with 401, as Airflow's own API does. The routes are plain ``def``s: FastAPI
runs them in its thread pool, so the blocking reads (Postgres, Redis) never stall the
api-server's event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from instagram_graph.ui import accounts_html, accounts_view
from instagram_graph.ui.auth import sync_run_reader

PAGE_PATH = "/accounts"
JSON_PATH = "/api/accounts"

# The page has no script and loads nothing; it may only be framed by Airflow's own UI.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

Reader = Annotated[BaseUser, Depends(sync_run_reader)]


def create_app(gather: Callable[[], accounts_view.AccountsPage] = accounts_view.gather) -> FastAPI:
    """The app; ``gather`` reads the page's data (tests may pass their own)."""
    app = FastAPI(title="Instagram accounts", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> RedirectResponse:
        # root_path is where the api-server mounted this app (e.g. /instagram); url_for would
        # search the api-server's routes, which do not name the mount.
        page = request.scope.get("root_path", "") + PAGE_PATH
        return RedirectResponse(page, status_code=status.HTTP_307_TEMPORARY_REDIRECT)

    @app.get(PAGE_PATH, response_class=HTMLResponse)
    def accounts_page(user: Reader) -> HTMLResponse:
        return HTMLResponse(accounts_html.render(gather()), headers=_PAGE_HEADERS)

    @app.get(JSON_PATH)
    def accounts_json(user: Reader) -> dict[str, Any]:
        return gather().as_dict()

    @app.exception_handler(HTTPException)
    async def login_first(request: Request, exc: HTTPException) -> Response:
        """Send a browser without a (valid, unexpired) login to the login page, then back."""
        on_page = getattr(request.scope.get("route"), "name", None) == "accounts_page"
        if exc.status_code == status.HTTP_401_UNAUTHORIZED and on_page:
            from airflow.api_fastapi.app import get_auth_manager

            login = get_auth_manager().get_url_login(next_url=str(request.url))
            return RedirectResponse(login, status_code=status.HTTP_307_TEMPORARY_REDIRECT)
        return await http_exception_handler(request, exc)

    return app
