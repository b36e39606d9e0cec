"""Helpers for the simulator's conformance tests: a thin Graph API client over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import requests

VERSION = "v24.0"


class Graph:
    """Plain ``requests`` calls against the simulator, as a client of Meta's API would make them."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.base_url = sim.base_url
        self.session = requests.Session()
        self.accounts = sim.accounts()

    def account(self, index: int = 0) -> dict[str, Any]:
        return self.accounts[index]

    def token(self, index: int = 0) -> str:
        return self.accounts[index]["token"]

    def url(self, path: str, version: str | None = VERSION) -> str:
        return f"{self.base_url}/{version}{path}" if version else f"{self.base_url}{path}"

    def get(self, path: str, *, account: int = 0, token: str | None = None, version: str | None = VERSION,
            **params: Any) -> requests.Response:
        params.setdefault("access_token", token if token is not None else self.token(account))
        return self.session.get(self.url(path, version), params=params, timeout=10)

    def post(self, path: str, *, account: int = 0, token: str | None = None, json: Any = None,
             **params: Any) -> requests.Response:
        params.setdefault("access_token", token if token is not None else self.token(account))
        return self.session.post(self.url(path), params=params, json=json, timeout=10)

    def delete(self, path: str, *, account: int = 0, **params: Any) -> requests.Response:
        params.setdefault("access_token", self.token(account))
        return self.session.delete(self.url(path), params=params, timeout=10)

    @staticmethod
    def error(response: requests.Response) -> dict[str, Any]:
        """The Graph error object of a response, checking Meta's envelope on the way."""
        body = response.json()
        assert set(body) == {"error"}, body
        error = body["error"]
        assert {"message", "type", "code", "is_transient", "fbtrace_id"} <= set(error), error
        assert isinstance(error["fbtrace_id"], str) and len(error["fbtrace_id"]) >= 10
        return error

    def collect(self, path: str, *, account: int = 0, **params: Any) -> tuple[list[dict[str, Any]], int]:
        """Follow ``paging.next`` to the end; returns (items, number of pages)."""
        response = self.get(path, account=account, **params)
        pages = 0
        items: list[dict[str, Any]] = []
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            pages += 1
            items.extend(body["data"])
            next_url = body.get("paging", {}).get("next")
            if not next_url:
                return items, pages
            assert pages < 1000, "pagination does not end"
            response = self.session.get(next_url, timeout=10)



@pytest.fixture
def graph(sim: Any) -> Graph:
    return Graph(sim)
