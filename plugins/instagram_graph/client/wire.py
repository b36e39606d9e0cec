"""One request on the wire and what its answer means: the pooled session, the send, the classification.

Shared by every call and by the Airflow UI's Test button, so both fail the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import requests
from requests.auth import AuthBase

from instagram_graph.errors import TransientError, classify


def new_session(base_url: str) -> requests.Session:
    """A pooled session for the Graph API at ``base_url``."""
    session = requests.Session()
    session.headers["User-Agent"] = "instagram-graph-airflow"
    # requests re-reads proxy settings from the environment on every request (a
    # scan of os.environ each time); read them once here instead. This also keeps
    # ~/.netrc credentials out of Graph API calls, which carry their own token.
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if ca_bundle:
        session.verify = ca_bundle
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    label: str,
    auth: AuthBase | None,
    timeout: float,
    params: Mapping[str, Any] | None = None,
    json: Mapping[str, Any] | None = None,
    account_id: str | None = None,
) -> requests.Response:
    """Send one request; a timeout or a network failure is raised as a :class:`TransientError`.

    :param label: names the call in errors (method and path, never the URL: no query string).
    :param params: the query; parameters that are None are not sent.
    """
    query = {k: v for k, v in (params or {}).items() if v is not None}
    try:
        return session.request(method, url, params=query, json=json, auth=auth, timeout=timeout)
    except requests.Timeout:
        raise TransientError(f"{label} got no answer within {timeout:g}s", account_id=account_id) from None
    except requests.RequestException as exc:
        # `from None`: requests' own message repeats the URL, query string included.
        raise TransientError(f"{label} failed: {type(exc).__name__}", account_id=account_id) from None


def read_answer(
    response: requests.Response,
    *,
    label: str,
    account_id: str | None = None,
    retry_after: float | None = None,
) -> dict[str, Any]:
    """The decoded JSON object of a successful answer; any other answer raised as its
    classified :class:`~instagram_graph.errors.GraphApiError`.

    :param retry_after: the regain time (s) the usage headers gave, for a rate-limit error.
    """
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.ok and isinstance(payload, dict) and "error" not in payload:
        return payload
    if response.ok:
        raise TransientError(
            f"{label} answered HTTP {response.status_code} with a body that is not a JSON object",
            http_status=response.status_code,
            account_id=account_id,
        )
    raise classify(payload, response.status_code, retry_after=retry_after, account_id=account_id)
