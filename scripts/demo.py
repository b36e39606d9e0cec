"""`make demo`: every sync DAG once, end to end, on the bundled Graph API simulator.

Starts the simulator, prepares the warehouse (database `instagram_demo`), registers the
simulator's accounts with encrypted tokens, runs each DAG with `airflow dags test`
(Airflow's metadata DB is SQLite under .airflow/), and prints rows per table and the
API calls each DAG spent. Safe to rerun: loads are idempotent upserts, and the demo's
token key is kept in .airflow/demo.env so the stored tokens stay readable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import redis
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".airflow"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
ADMIN_DSN = os.environ.get("INSTAGRAM_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
DEMO_DB = "instagram_demo"
REDIS_URL = "redis://127.0.0.1:6379/2"
ACCOUNTS = int(os.environ.get("DEMO_ACCOUNTS", "3"))
MEDIA_PER_ACCOUNT = int(os.environ.get("DEMO_MEDIA_PER_ACCOUNT", "1500"))
DAGS = ["instagram_profiles", "instagram_media", "instagram_insights", "instagram_conversations"]
TABLES = ["accounts", "profiles", "profile_snapshots", "media", "media_children", "comments",
          "account_insights", "media_insights", "conversations", "messages"]


# Rows per account, with the login that reached it (Instagram Login or Facebook Login).
ROWS_PER_ACCOUNT = """
SELECT a.account_id, a.username, a.login,
       (SELECT count(*) FROM instagram.media m WHERE m.account_id = a.account_id),
       (SELECT count(*) FROM instagram.account_insights i WHERE i.account_id = a.account_id),
       (SELECT count(*) FROM instagram.messages g WHERE g.account_id = a.account_id)
  FROM instagram.accounts a
 ORDER BY a.account_id
"""


def step(text: str) -> None:
    print(f"==> {text}", flush=True)


def token_keys() -> str:
    """The demo's Fernet key: made once, kept in .airflow/demo.env (git-ignored)."""
    env_file = STATE / "demo.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.startswith("INSTAGRAM_TOKEN_KEYS="):
                return line.split("=", 1)[1]
    key = Fernet.generate_key().decode()
    env_file.write_text(f"INSTAGRAM_TOKEN_KEYS={key}\n")
    env_file.chmod(0o600)
    return key


def warehouse_dsn() -> str:
    admin = psycopg2.connect(ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DEMO_DB,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{DEMO_DB}"')
    admin.close()
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + DEMO_DB


def airflow(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"airflow {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def main() -> None:
    from graph_api_sim.testing import SimulatorProcess
    from instagram_graph.migrations import apply_migrations
    from instagram_graph.token_store import TokenStore

    started = time.monotonic()
    STATE.mkdir(exist_ok=True)
    keys = token_keys()
    dsn = warehouse_dsn()

    step(f"Starting the Graph API simulator ({ACCOUNTS} accounts, {MEDIA_PER_ACCOUNT} media each)")
    with SimulatorProcess(accounts=ACCOUNTS, media_per_account=MEDIA_PER_ACCOUNT, seed=7) as sim:
        print(f"    listening on {sim.base_url}")
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(STATE),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "INSTAGRAM_TOKEN_KEYS": keys,
            "AIRFLOW_CONN_INSTAGRAM_WAREHOUSE": dsn.replace("postgresql://", "postgres://", 1),
            "AIRFLOW_CONN_INSTAGRAM_REDIS": REDIS_URL,
            # The simulator allows 4800 calls per account and hour, like Meta's BUC floor. It serves
            # both logins: graph.facebook.com's calls go to its /facebook path.
            "AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT": json.dumps({
                "conn_type": "instagram_graph", "host": sim.base_url,
                "extra": {"calls_per_hour": 4800, **sim.facebook_extra()},
            }),
        }
        os.environ["INSTAGRAM_TOKEN_KEYS"] = keys

        step(f"Applying warehouse migrations to {DEMO_DB}")
        conn = psycopg2.connect(dsn)
        applied = apply_migrations(conn)
        conn.close()
        print(f"    {len(applied)} applied" if applied else "    already up to date")

        step("Registering the simulator's accounts (tokens encrypted in instagram.oauth_tokens)")
        store = TokenStore(conn_factory=lambda: psycopg2.connect(dsn))
        for account in sim.register_accounts(store):
            road = f"Facebook Login, Page {account['page_id']}" if account["login"] == "facebook" else "Instagram Login"
            print(f"    {account['id']}  @{account['username']:<20} {road}")
        redis.Redis.from_url(REDIS_URL).flushdb()  # a rerun starts with a fresh limiter window

        step("Preparing Airflow (SQLite metadata DB under .airflow/, pool instagram_graph_api)")
        airflow(env, "db", "migrate")
        airflow(env, "pools", "set", "instagram_graph_api", "8", "Instagram Graph API calls")

        calls: dict[str, int] = {}
        for number, dag_id in enumerate(DAGS, start=1):
            step(f"[{number}/{len(DAGS)}] airflow dags test {dag_id}")
            sim.clear_requests()
            t0 = time.monotonic()
            log_file = STATE / f"demo-{dag_id}.log"
            with log_file.open("w") as log:
                result = subprocess.run([AIRFLOW, "dags", "test", dag_id], env=env, stdout=log, stderr=subprocess.STDOUT)
            calls[dag_id] = len(sim.requests())
            state = "ok" if result.returncode == 0 else f"FAILED (see {log_file.relative_to(ROOT)})"
            print(f"    {state} in {time.monotonic() - t0:.0f}s, {calls[dag_id]} Graph API calls")
            if result.returncode != 0:
                sys.exit(1)

    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        counts = {}
        for table in TABLES:
            cur.execute(f"SELECT count(*) FROM instagram.{table}")
            counts[table] = cur.fetchone()[0]
        cur.execute(ROWS_PER_ACCOUNT)
        per_account = cur.fetchall()
    conn.close()

    print()
    print(f"{'table':<30}{'rows':>10}")
    for table, count in counts.items():
        print(f"{'instagram.' + table:<30}{count:>10,}")
    print()
    print(f"{'account':<19}{'username':<22}{'login':<11}{'media':>8}{'insights':>10}{'messages':>10}")
    for account_id, username, login, media, insights, messages in per_account:
        print(f"{account_id:<19}{'@' + (username or '?'):<22}{login:<11}{media:>8,}{insights:>10,}{messages:>10,}")
    print()
    print(f"{'DAG':<30}{'API calls':>10}")
    for dag_id, count in calls.items():
        print(f"{dag_id:<30}{count:>10,}")
    print(f"\nDone in {time.monotonic() - started:.0f}s. Warehouse: {dsn}")
    print("Run it again: loads are idempotent and media syncs go incremental (watch the call counts drop).")


if __name__ == "__main__":
    main()
