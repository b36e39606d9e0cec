"""Instagram Graph API on Apache Airflow: hook, operators, token store and rate limiter.

Airflow finds this package through the ``apache_airflow_provider`` entry point in
pyproject.toml and calls :func:`get_provider_info`, which is what makes the
``instagram_graph`` connection type appear in the UI and in ``airflow providers hooks``.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

CONNECTION_TYPE = "instagram_graph"


def get_provider_info() -> dict[str, Any]:
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
                    "relabeling": {"host": "API host (Instagram Login)", "password": "App secret (Instagram app)"},
                    "placeholders": {
                        "host": "https://graph.instagram.com",
                        "password": "used for appsecret_proof on graph.instagram.com; leave empty if the app does not "
                        "require it",
                    },
                },
                # Every extra GraphApiSettings.from_connection reads (tests/unit/test_provider.py
                # checks that against the dataclass); host and password give base_url and app_secret.
                "conn-fields": {
                    "api_version": {
                        "label": "API version",
                        "description": "Graph API version, e.g. v24.0. Meta retires a version about two years after release.",
                        "schema": {"type": ["string", "null"], "default": "v24.0", "pattern": "^v[0-9]+\\.[0-9]+$"},
                    },
                    "app_id": {
                        "label": "App id",
                        "description": "The Meta app id: keys the app-wide pause on high X-App-Usage.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "facebook_base_url": {
                        "label": "Facebook Login API host",
                        "description": "Where accounts connected with Facebook Login are called (through their Page). "
                        "Default https://graph.facebook.com.",
                        "schema": {"type": ["string", "null"], "default": "https://graph.facebook.com"},
                    },
                    "facebook_app_id": {
                        "label": "Facebook app id",
                        "description": "The Facebook app of Facebook Login: `accounts discover` exchanges a user token "
                        "with it (fb_exchange_token).",
                        "schema": {"type": ["string", "null"]},
                    },
                    "facebook_app_secret": {
                        "label": "Facebook app secret",
                        "description": "The Facebook app's secret: the token exchange, and appsecret_proof on "
                        "graph.facebook.com. The App secret above is the Instagram app's (Instagram Login).",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "access_token": {
                        "label": "Access token (single account only)",
                        "description": "Optional. Several accounts keep their tokens encrypted in the token store instead.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "calls_per_hour": {
                        "label": "Calls per window per account",
                        "description": "Our own sliding-window limit, shared by every worker through Redis: at most this "
                        "many platform calls per account within the window below (the name is from the default "
                        "one-hour window). Messaging calls do not count here.",
                        "schema": {"type": ["integer", "null"], "default": 200, "minimum": 1},
                    },
                    "window_seconds": {
                        "label": "Window (seconds)",
                        "description": "Length of that sliding window: 3600 for 200 calls an hour, 86400 to model "
                        "Meta's rolling 24-hour budget (e.g. 4800 calls per 86400 s).",
                        "schema": {"type": ["integer", "null"], "default": 3600, "minimum": 1},
                    },
                    "messaging_calls_per_second": {
                        "label": "Conversations API calls per second per account",
                        "description": "Pace of conversation and message reads, shared by every worker (Meta allows "
                        "2/s). Messaging has its own budget, outside the window above; sends go at Meta's 100/s.",
                        "schema": {"type": ["number", "null"], "default": 2, "exclusiveMinimum": 0},
                    },
                    "usage_threshold_pct": {
                        "label": "Pause at usage (%)",
                        "description": "Pause every worker of an account or app when Meta's usage headers pass this.",
                        "schema": {"type": ["number", "null"], "default": 95, "minimum": 1, "maximum": 100},
                    },
                    "max_inline_wait": {
                        "label": "Longest wait in the worker (seconds)",
                        "description": "A call that must wait longer for a rate-limit slot or a pause raises "
                        "RateLimitError and the task defers, freeing its worker slot.",
                        "schema": {"type": ["number", "null"], "default": 60, "minimum": 0},
                    },
                    "slot_lease_max": {
                        "label": "Rate-limit slots per Redis round trip",
                        "description": "Most platform slots a worker leases at once when its calls come fast; 1 = one "
                        "Redis round trip per call.",
                        "schema": {"type": ["integer", "null"], "default": 8, "minimum": 1, "maximum": 256},
                    },
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "description": "For the connect and, separately, for the answer; a call that runs out is "
                        "retried like a network failure (never a publish or a send).",
                        "schema": {"type": ["number", "null"], "default": 30, "minimum": 1},
                    },
                    "settle_seconds": {
                        "label": "Settle time after a lost answer (seconds)",
                        "description": "When the answer to a publish or a DM is lost (timeout, reset, 5xx), the request "
                        "may still take effect at Meta: whether it did is looked up, and it is repeated only if not, "
                        "this long after (the task defers meanwhile). Empty: the request timeout + 30 s. At least the "
                        "request timeout.",
                        "schema": {"type": ["number", "null"], "minimum": 1, "maximum": 3600},
                    },
                    "retry_base_delay": {
                        "label": "First retry delay (seconds)",
                        "description": "Backoff before the first retry of a transient failure; doubles per retry, "
                        "plus jitter.",
                        "schema": {"type": ["number", "null"], "default": 1, "minimum": 0},
                    },
                    "retry_max_delay": {
                        "label": "Longest retry delay (seconds)",
                        "description": "Cap of one backoff delay.",
                        "schema": {"type": ["number", "null"], "default": 30, "minimum": 0},
                    },
                    "max_attempts": {
                        "label": "Attempts per call",
                        "description": "The first attempt included (4 = 3 retries). Publishing and sending are never "
                        "retried after an ambiguous failure.",
                        "schema": {"type": ["integer", "null"], "default": 4, "minimum": 1},
                    },
                    "status_poll_intervals": {
                        "label": "Container status checks (seconds)",
                        "description": "Seconds between status checks of a publishing container, comma-separated; "
                        "the last one repeats (Meta asks for about one check a minute).",
                        "schema": {
                            "type": ["string", "null"],
                            "default": "5,10,20,30,60",
                            "pattern": "^\\s*[0-9]+(\\.[0-9]+)?(\\s*,\\s*[0-9]+(\\.[0-9]+)?)*\\s*$",
                        },
                    },
                    "human_agent_enabled": {
                        "label": "Human Agent feature granted",
                        "description": "The app has Meta's Human Agent feature: a DM may carry the HUMAN_AGENT tag "
                        "(replies up to 7 days after the person's last message instead of 24 hours).",
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                    "audit_calls": {
                        "label": "Audit trail in the warehouse",
                        "description": "Keep one row per Graph API call attempt in instagram.api_calls (account, "
                        "method, path without query, status, duration, attempt, Meta's trace id, the Airflow run "
                        "and task). Never a token or query string. The DEBUG log line is written either way.",
                        "schema": {"type": ["boolean", "null"], "default": True},
                    },
                    "audit_retention_days": {
                        "label": "Audit trail kept (days)",
                        "description": "Days of instagram.api_calls kept; older days are dropped a whole day at a time.",
                        "schema": {"type": ["integer", "null"], "default": 7, "minimum": 1, "maximum": 3650},
                    },
                },
            }
        ],
    }
