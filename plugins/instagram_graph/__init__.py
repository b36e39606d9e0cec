"""Instagram Graph API on Apache Airflow: hook, operators, token store and rate limiter.

Airflow finds this package through the ``apache_airflow_provider`` entry point in
pyproject.toml and calls :func:`get_provider_info`, which is what makes the
``instagram_graph`` connection type appear in the UI and in ``airflow providers hooks``.
"""

from __future__ import annotations

__version__ = "0.1.0"

CONNECTION_TYPE = "instagram_graph"


def get_provider_info() -> dict:
    """Provider metadata in the Airflow 3.2+ form (connection form fields as JSON Schema)."""
    return {
        "package-name": "instagram-graph-airflow",
        "name": "Instagram Graph API",
        "description": "Hook, operators and DAGs for the Instagram Graph API, with a local simulator.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Instagram Graph API",
                "external-doc-url": "https://developers.facebook.com/docs/instagram-platform",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Instagram Graph API",
                "python-modules": ["instagram_graph.hooks.graph_api"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Instagram Graph API",
                "python-modules": ["instagram_graph.triggers.container_status"],
            }
        ],
        "connection-types": [
            {
                "hook-class-name": "instagram_graph.hooks.graph_api.InstagramGraphHook",
                "hook-name": "Instagram Graph API",
                "connection-type": CONNECTION_TYPE,
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"host": "API host", "password": "App secret"},
                    "placeholders": {
                        "host": "https://graph.instagram.com",
                        "password": "used for appsecret_proof; leave empty if the app does not require it",
                    },
                },
                "conn-fields": {
                    "api_version": {
                        "label": "API version",
                        "description": "Graph API version, e.g. v24.0. Meta retires a version about two years after release.",
                        "schema": {"type": ["string", "null"], "default": "v24.0", "pattern": "^v[0-9]+\\.[0-9]+$"},
                    },
                    "app_id": {"label": "App id", "schema": {"type": ["string", "null"]}},
                    "calls_per_hour": {
                        "label": "Calls per hour per account",
                        "description": "Our own sliding-window limit, shared by every worker through Redis.",
                        "schema": {"type": ["integer", "null"], "default": 200, "minimum": 1},
                    },
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "schema": {"type": ["number", "null"], "default": 30, "minimum": 1},
                    },
                    "usage_threshold_pct": {
                        "label": "Pause at usage (%)",
                        "description": "Pause every worker of an account or app when Meta's usage headers pass this.",
                        "schema": {"type": ["number", "null"], "default": 95, "minimum": 1, "maximum": 100},
                    },
                    "access_token": {
                        "label": "Access token (single account only)",
                        "description": "Optional. Several accounts keep their tokens encrypted in the token store instead.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                },
            }
        ],
    }
