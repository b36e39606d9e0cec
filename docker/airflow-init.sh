#!/usr/bin/env bash
# One-shot setup, run by the airflow-init service before any other Airflow component starts
# (the image's entrypoint has already waited for the metadata database to answer).
# Every step is idempotent: running it again on a live deployment changes nothing.
set -euo pipefail

echo "== Airflow metadata database"
airflow db migrate

# Every task that calls the Graph API runs in this pool (the DAGs name it).
echo "== Pool instagram_graph_api (${INSTAGRAM_POOL_SLOTS} slots)"
airflow pools set instagram_graph_api "${INSTAGRAM_POOL_SLOTS}" \
    "Graph API calls in flight across all Celery workers (the Redis limiter enforces the hourly quota)"

echo "== Warehouse migrations (sql/)"
instagram-graph migrate

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
