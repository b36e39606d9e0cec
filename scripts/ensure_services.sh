#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer.
# Starts them when they are installed on this machine but down; otherwise stops with
# one message that says how to get them. Used by `make test`, `make demo` and .ci/run.
set -u

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 30); do port_open "$1" && return 0; sleep 0.5; done
  return 1
}

missing=()

if ! port_open 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is down: starting it"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  wait_port 5432 || missing+=("PostgreSQL on 127.0.0.1:5432")
fi

if ! port_open 6379; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "Redis is down: starting it"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null || true
  fi
  wait_port 6379 || missing+=("Redis on 127.0.0.1:6379")
fi

if [ ${#missing[@]} -gt 0 ]; then
  printf 'Not reachable: %s.\n' "${missing[@]}" >&2
  echo "Start them with: docker compose up -d postgres redis   (this repo's docker-compose.yaml publishes both on 127.0.0.1)" >&2
  echo "then: export INSTAGRAM_PG_ADMIN_DSN=postgresql://airflow:airflow@127.0.0.1:5432/postgres   and run make again." >&2
  echo "(Or install them: apt-get install postgresql redis-server, with trust auth for user postgres on 127.0.0.1.)" >&2
  exit 1
fi
echo "PostgreSQL and Redis answer on 127.0.0.1"
