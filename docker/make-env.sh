#!/usr/bin/env bash
# Writes a .env with fresh secrets for docker-compose.yaml (run once, from the repository root):
#
#     ./docker/make-env.sh && docker compose up -d
#
# Never overwrites an existing .env: INSTAGRAM_TOKEN_KEYS decrypts the stored Instagram tokens
# and AIRFLOW_FERNET_KEY the Airflow connections, so replacing them loses that data.
# Keep .env out of git.
set -euo pipefail

env_file="${1:-.env}"
if [[ -e "${env_file}" ]]; then
    echo "${env_file} exists; not touching it." >&2
    exit 1
fi

# 32 random bytes, URL-safe base64: the format of a Fernet key.
fernet_key() { head -c 32 /dev/urandom | base64 | tr '+/' '-_'; }
random_secret() { head -c "$1" /dev/urandom | base64 | tr -d '\n+/='; }

umask 077
cat > "${env_file}" <<ENV
# Secrets for docker-compose.yaml, made by docker/make-env.sh on $(date -u +%Y-%m-%d). Keep out of git.
INSTAGRAM_TOKEN_KEYS=$(fernet_key)
AIRFLOW_FERNET_KEY=$(fernet_key)
AIRFLOW_JWT_SECRET=$(random_secret 48)
AIRFLOW_API_SECRET_KEY=$(random_secret 48)
AIRFLOW_ADMIN_PASSWORD=$(random_secret 12)
ENV
echo "Wrote ${env_file}. Airflow UI: http://localhost:8080 as admin, password in ${env_file} (AIRFLOW_ADMIN_PASSWORD)."
