#!/usr/bin/env bash
# One-shot setup, run by the airflow-init service before any other Airflow component starts
# (the image's entrypoint has already waited for the metadata database to answer).
# Every step is idempotent: running it again on a live deployment changes nothing.
set -euo pipefail

echo "== Airflow metadata database"
airflow db migrate

# The project's connections live in Airflow's metadata DB, as with `make airflow`: the UI's
# Connections page lists them and its forms edit them (and test them: the Test button is
# enabled in docker-compose.yaml). A connection that exists is left as it is, so an edit made
# in the UI survives every restart; a missing one is added with the values below.
#
# The Graph API connection points at the simulator service. For the real API, edit
# instagram_graph_default in the UI (Admin > Connections), or replace it from a shell
# (`docker compose exec airflow-apiserver airflow connections delete instagram_graph_default`,
# then `airflow connections add` with the new values): host "https://graph.instagram.com"
# (Instagram Login accounts; Facebook Login accounts go to the "facebook_base_url" extra,
# default "https://graph.facebook.com"), the Instagram app's secret as the password, "app_id",
# "facebook_app_id" and "facebook_app_secret" in the extras; keep tokens in the token store
# (`instagram-graph` CLI: `accounts add` for Instagram Login, `accounts discover` for Facebook Login).
echo "== Connections"
stored_connections="$(airflow connections list --output json \
    | python -c 'import json, sys; print("\n".join(c["conn_id"] for c in json.load(sys.stdin)))')"

add_connection() {
    local conn_id="$1"
    shift
    local env_name="AIRFLOW_CONN_${conn_id^^}"
    if [[ -n "${!env_name:-}" ]]; then
        echo "WARNING: ${env_name} is set; it wins over the stored ${conn_id}, so edits in the UI have no effect." >&2
    fi
    if grep -qxF -- "${conn_id}" <<<"${stored_connections}"; then
        echo "Connection ${conn_id} exists: left as it is (it may have been edited in the UI)."
    else
        airflow connections add "${conn_id}" "$@"
    fi
}

# The simulator serves Facebook Login's host (graph.facebook.com) under /facebook. For
# `instagram-graph accounts discover` against it, add its Facebook app (facebook_app_id and
# facebook_app_secret from http://localhost:8800/__sim__/config) to this connection's extras.
add_connection instagram_graph_default --conn-type instagram_graph --conn-host http://graph-api-sim:8800 \
    --conn-extra '{"api_version": "v24.0", "calls_per_hour": 200, "timeout": 30, "facebook_base_url": "http://graph-api-sim:8800/facebook"}'
# The warehouse: the `instagram` database, created by docker/postgres-init.sql.
add_connection instagram_warehouse --conn-type postgres --conn-host postgres --conn-port 5432 \
    --conn-login airflow --conn-password airflow --conn-schema instagram
# Rate limiter and throttle state shared by all workers: Redis database 2 (Celery's broker uses 0).
add_connection instagram_redis --conn-type redis --conn-host redis --conn-port 6379 \
    --conn-extra '{"db": 2}'

# Every task that calls the Graph API runs in this pool (the DAGs name it).
echo "== Pool instagram_graph_api (${INSTAGRAM_POOL_SLOTS} slots)"
airflow pools set instagram_graph_api "${INSTAGRAM_POOL_SLOTS}" \
    "Graph API calls in flight across all Celery workers (the Redis limiter enforces the hourly quota)"

# The warehouse is the instagram_warehouse connection stored above (unless INSTAGRAM_WAREHOUSE_DSN
# is set). Airflow 3 searches the metadata DB for connections only in a process marked as an
# Airflow server, as the api-server and `airflow connections get` mark themselves; any other
# process (this CLI) sees only env variables and secrets backends.
echo "== Warehouse migrations (sql/)"
_AIRFLOW_PROCESS_CONTEXT=server instagram-graph migrate

# The simple auth manager generates a password per user on the API server's first start and
# keeps it in this file (a named volume, so it survives restarts). AIRFLOW_ADMIN_PASSWORD, when
# set, fixes the admin's password instead, e.g. for scripts that call the REST API.
if [[ -n "${AIRFLOW_ADMIN_PASSWORD:-}" ]]; then
    echo "== Password of Airflow user ${AIRFLOW_ADMIN_USER}"
    python - <<'PY'
import json
import os
from pathlib import Path

path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
passwords = json.loads(path.read_text() or "{}") if path.exists() else {}
passwords[os.environ["AIRFLOW_ADMIN_USER"]] = os.environ["AIRFLOW_ADMIN_PASSWORD"]
path.write_text(json.dumps(passwords) + "\n")
PY
fi

echo "== Ready"
