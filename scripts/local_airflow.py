"""`make airflow` / `make airflow-stop`: a real Airflow 3 on this machine, in the background.

What `airflow dags test` skips (the scheduler, an executor, pools, the triggerer, the REST
API, the UI) is what users run. This starts all of it, natively:

* api-server (UI and REST API), scheduler, dag-processor, triggerer, and with
  ``--executor celery`` that many Celery workers (Redis broker);
* the metadata DB in the local Postgres (database ``airflow_local``), not SQLite;
* the Graph API simulator, the warehouse (database ``instagram_local``) migrated, the
  simulator's accounts registered with encrypted tokens;
* the project's connections stored in Airflow's DB (the UI lists them) and the
  ``instagram_graph_api`` pool.

Everything lives in one state folder (default ``.airflow-local/``, git-ignored): the
environment every process shares (``airflow.env``, mode 0600: it holds generated secrets),
one pid file per process, and the logs. ``stop`` stops exactly the processes whose pid
files it finds, and only while their command line is still the one it started. Running
``start`` while they run says so and changes nothing. The deploy tests start their own
instance through :func:`start` with another folder, ports and databases.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
ADMIN_DSN = os.environ.get("INSTAGRAM_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
POOL = ("instagram_graph_api", "8", "Instagram Graph API calls (every Graph API task takes a slot)")


def default_pool_slots() -> int:
    """Graph API tasks at once on this machine: two per core, 4 to 8. A shard task keeps about
    half a core busy; more of them than that only compete. On 2 cores, 10,000 accounts' runs
    cost 842 CPU-s in 8.1 min with 4 slots, 999 CPU-s in 9.5 min with 8 (bench_scale)."""
    return min(8, max(4, 2 * (os.cpu_count() or 2)))
UI_WAIT_SECONDS = 180
SHOWN_ACCOUNTS = 20  # accounts listed at start; the rest are counted


@dataclass
class Settings:
    """Where one local Airflow lives and listens. Defaults are `make airflow`'s."""

    state_dir: Path = ROOT / ".airflow-local"
    api_port: int = 8080
    sim_port: int = 8800
    worker_log_port: int = 8793
    trigger_log_port: int = 8794
    metadata_db: str = "airflow_local"
    warehouse_db: str = "instagram_local"
    redis_db: int = 3
    broker_redis_db: int = 4
    executor: str = "local"
    workers: int = 2
    accounts: int = 3
    media_per_account: int = 200
    calls_per_hour: int = 4800
    pool_slots: int = field(default_factory=default_pool_slots)
    sim_args: list[str] = field(default_factory=list)
    graph_extra: dict[str, object] = field(default_factory=dict)  # more instagram_graph connection extras
    extra_env: dict[str, str] = field(default_factory=dict)
    fresh: bool = False  # drop both databases first (the deploy tests start from nothing)

    @property
    def home(self) -> Path:
        return self.state_dir / "home"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pid_dir(self) -> Path:
        return self.state_dir / "pids"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "airflow.env"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    def dsn(self, database: str) -> str:
        return ADMIN_DSN.rsplit("/", 1)[0] + "/" + database


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


# --------------------------------------------------------------------------- environment


def _secrets(settings: Settings) -> dict[str, str]:
    """Secrets every process must share (made once, kept in the state folder's env file):
    the JWT secret that signs task tokens, the API secret key, Airflow's Fernet key and the
    token store's key."""
    from cryptography.fernet import Fernet

    kept = read_env_file(settings.env_file)
    wanted = {
        "AIRFLOW__API_AUTH__JWT_SECRET": lambda: secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": lambda: secrets.token_urlsafe(32),
        "AIRFLOW__CORE__FERNET_KEY": lambda: Fernet.generate_key().decode(),
        "INSTAGRAM_TOKEN_KEYS": lambda: Fernet.generate_key().decode(),
    }
    return {name: kept.get(name) or make() for name, make in wanted.items()}


def airflow_env(settings: Settings) -> dict[str, str]:
    """The environment of every process of this Airflow (and of `airflow` CLI calls on it)."""
    executor = {"local": "LocalExecutor", "celery": "CeleryExecutor"}[settings.executor]
    redis_base = "redis://127.0.0.1:6379"
    env = {
        "AIRFLOW_HOME": str(settings.home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": executor,
        # The LocalExecutor forks this many workers at once, and each pays start-up costs on its
        # first task (imports, an SSL context): 32 (the default) is more than a machine of a few
        # cores runs at once. Graph API tasks are bounded by their pool (4 to 8 slots) anyway.
        "AIRFLOW__CORE__PARALLELISM": "16",
        # Plugins load when each process starts, so the scheduler (whose forked workers fork the
        # task processes) and the dag-processor (which forks a parser per file) have imported the
        # project's modules once, not once per task instance and per parse (instagram_graph/preload.py).
        "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.dsn(settings.metadata_db).replace(
            "postgresql://", "postgresql+psycopg2://", 1
        ),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{settings.base_url}/execution/",
        "AIRFLOW__API__BASE_URL": settings.base_url,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.api_port),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(settings.log_dir / "tasks"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(settings.worker_log_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(settings.trigger_log_port),
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        # Publishing and DM DAGs must never start on their own: each DAG is unpaused deliberately.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        # The connection form's Test button (the hook makes one read with the connection's settings).
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CELERY__BROKER_URL": f"{redis_base}/{settings.broker_redis_db}",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + settings.dsn(settings.metadata_db),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "8",
        # The token store's tables are in the warehouse; CLI calls on this Airflow find it here too.
        "INSTAGRAM_SQL_DIR": str(ROOT / "sql"),
        **_secrets(settings),
        **settings.extra_env,
    }
    return env


def inherited_env() -> dict[str, str]:
    """The caller's environment without Airflow's and the project's variables: an
    ``AIRFLOW_CONN_*`` or ``INSTAGRAM_*`` left in the shell would silently win over this
    instance's own connections and keys."""
    return {name: value for name, value in os.environ.items()
            if not name.startswith(("AIRFLOW", "INSTAGRAM_", "_AIRFLOW"))}


def read_env_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {name.removeprefix("export "): value.strip("'") for name, value in pairs}


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """`source` it to run `airflow` or `instagram-graph` commands against this Airflow."""
    lines = ["# Environment of the local Airflow started by `make airflow` (holds secrets: keep private)."]
    lines += [f"export {name}='{value}'" for name, value in sorted(env.items())]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


# --------------------------------------------------------------------------- processes


def _pid_file(settings: Settings, name: str) -> Path:
    return settings.pid_dir / f"{name}.pid"


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks: with the pid, it names one process (pids are reused)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def running(settings: Settings) -> dict[str, int]:
    """Processes this state folder started that are still those very processes."""
    alive = {}
    for pid_file in sorted(settings.pid_dir.glob("*.pid")) if settings.pid_dir.exists() else []:
        record = json.loads(pid_file.read_text())
        if record["started"] and _start_time(record["pid"]) == record["started"]:
            alive[pid_file.stem] = record["pid"]
    return alive


def _spawn(settings: Settings, env: dict[str, str], name: str, args: list[str]) -> None:
    log_file = settings.log_dir / f"{name}.log"
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    record = {"pid": process.pid, "started": _start_time(process.pid), "command": args[1:3]}
    _pid_file(settings, name).write_text(json.dumps(record))


def stop(settings: Settings, quiet: bool = False, keep: tuple[str, ...] = ()) -> list[str]:
    """SIGTERM each recorded process group, SIGKILL what is left after 20 s; remove the pid files.
    ``keep`` names processes to leave running (the scale bench keeps the simulator)."""
    alive = {name: pid for name, pid in running(settings).items() if name not in keep}
    for pid in alive.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while alive and time.monotonic() < deadline and any(_group_alive(pid) for pid in alive.values()):
        time.sleep(0.3)
    for pid in alive.values():
        if _group_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    for pid_file in settings.pid_dir.glob("*.pid") if settings.pid_dir.exists() else []:
        if pid_file.stem not in keep:
            pid_file.unlink()
    if not quiet:
        print(f"Stopped: {', '.join(sorted(alive))}" if alive else "Nothing was running.")
    return sorted(alive)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie leader counts as gone once its children are gone.
    return any(_is_live_member(pid, pgid) for pid in _pids())


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _is_live_member(pid: int, pgid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[2]) == pgid and fields[0] != "Z"


# --------------------------------------------------------------------------- setup steps


def _run(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, cwd=ROOT)
    if check and result.returncode != 0:
        raise SystemExit(f"airflow {' '.join(args[:3])} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result


def ensure_database(name: str, fresh: bool = False) -> None:
    import psycopg2

    admin = psycopg2.connect(ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        if fresh:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def drop_databases(settings: Settings) -> None:
    """Drop this instance's metadata DB and warehouse (the deploy tests' teardown)."""
    import psycopg2

    admin = psycopg2.connect(ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        for name in (settings.metadata_db, settings.warehouse_db):
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _wait_http(url: str, seconds: float, what: str, settings: Settings) -> None:
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{what} did not answer on {url} within {seconds:.0f} s: see the logs in {settings.log_dir}")


def _wait_healthy(settings: Settings) -> None:
    """Until the api-server reports every component healthy (each has sent its first heartbeat)."""
    import requests

    components = ["metadatabase", "scheduler", "triggerer", "dag_processor"]
    deadline = time.monotonic() + UI_WAIT_SECONDS
    health: dict = {}
    while time.monotonic() < deadline:
        try:
            health = requests.get(f"{settings.base_url}/api/v2/monitor/health", timeout=5).json()
        except (requests.RequestException, ValueError):
            health = {}
        if all((health.get(name) or {}).get("status") == "healthy" for name in components):
            return
        time.sleep(0.5)
    states = {name: (health.get(name) or {}).get("status") for name in components}
    raise SystemExit(f"Airflow is not healthy after {UI_WAIT_SECONDS} s ({states}): see the logs in {settings.log_dir}")


def store_connections(settings: Settings, env: dict[str, str]) -> None:
    """The three connections the DAGs use, in Airflow's DB (so the UI lists and edits them).
    One that exists is left as it is: it may have been edited in the UI."""
    from graph_api_sim.testing import SimulatorProcess

    # The simulator serves both logins: graph.facebook.com's calls go to its /facebook path.
    facebook = SimulatorProcess.attach(settings.sim_url).facebook_extra()
    connections = {
        "instagram_graph_default": {
            "conn_type": "instagram_graph",
            "host": settings.sim_url,
            "extra": json.dumps({"calls_per_hour": settings.calls_per_hour, **facebook, **settings.graph_extra}),
        },
        "instagram_warehouse": {
            "conn_type": "postgres", "host": "127.0.0.1", "port": 5432,
            "login": "postgres", "schema": settings.warehouse_db,
        },
        "instagram_redis": {
            "conn_type": "redis", "host": "127.0.0.1", "port": 6379, "extra": json.dumps({"db": settings.redis_db}),
        },
    }
    stored = {c["conn_id"] for c in json.loads(_run(env, "connections", "list", "-o", "json").stdout or "[]")}
    for conn_id, fields in connections.items():
        if conn_id in stored:
            print(f"    {conn_id}: kept as stored (edit it in the UI, or delete it to get the default back)")
            continue
        args = ["connections", "add", conn_id, "--conn-type", fields["conn_type"], "--conn-host", fields["host"]]
        for option in ("port", "login", "schema", "extra"):
            if option in fields:
                args += [f"--conn-{option}", str(fields[option])]
        _run(env, *args)


def register_accounts(settings: Settings, env: dict[str, str]) -> list[dict]:
    """Migrate the warehouse and put the simulator's accounts in the token store."""
    import psycopg2

    from graph_api_sim.testing import SimulatorProcess
    from instagram_graph.migrations import apply_migrations
    from instagram_graph.token_store import TokenStore

    dsn = settings.dsn(settings.warehouse_db)
    conn = psycopg2.connect(dsn)
    applied = apply_migrations(conn)
    conn.close()
    print(f"    warehouse {settings.warehouse_db}: {len(applied)} migrations applied" if applied else
          f"    warehouse {settings.warehouse_db}: up to date")
    sim = SimulatorProcess.attach(settings.sim_url)
    store = TokenStore(conn_factory=lambda: psycopg2.connect(dsn), keys=env["INSTAGRAM_TOKEN_KEYS"],
                       keep_connection=True)
    try:
        return sim.register_accounts(store)
    finally:
        store.close()


def start(settings: Settings) -> dict[str, str]:
    """Start everything; return what to print (address, user, password, logs)."""
    from graph_api_sim.testing import untraced_env

    alive = running(settings)
    if alive:
        names = ", ".join(f"{name} ({pid})" for name, pid in alive.items())
        print(f"Already running from {settings.state_dir}: {names}. Nothing changed. Stop it with: make airflow-stop")
        return login_details(settings)
    for folder in (settings.home, settings.log_dir, settings.pid_dir):
        folder.mkdir(parents=True, exist_ok=True)
    ours = airflow_env(settings)
    env = {**inherited_env(), **ours}
    # The instagram-graph CLI finds the warehouse through INSTAGRAM_WAREHOUSE_DSN (outside Airflow's
    # server processes, connections stored in Airflow's DB are not looked up): only for the shell.
    write_env_file(settings.env_file, {**ours, "INSTAGRAM_WAREHOUSE_DSN": settings.dsn(settings.warehouse_db)})
    started = time.monotonic()
    try:
        # Bytecode for the project's modules: with PYTHONDONTWRITEBYTECODE set (this machine, many
        # images), every task process and DAG parse would compile them from source again.
        subprocess.run([str(BIN / "python"), "-m", "compileall", "-q", "-j", "0",
                        *(str(ROOT / d) for d in ("plugins", "include", "dags"))], check=True)
        say(f"Metadata DB: Postgres database {settings.metadata_db}")
        ensure_database(settings.metadata_db, settings.fresh)
        ensure_database(settings.warehouse_db, settings.fresh)
        _run(env, "db", "migrate")
        say(f"Graph API simulator on {settings.sim_url} ({settings.accounts} accounts)")
        _spawn(settings, untraced_env(env), "simulator", [
            str(BIN / "python"), "-m", "graph_api_sim", "--host", "127.0.0.1", "--port", str(settings.sim_port),
            "--accounts", str(settings.accounts), "--media-per-account", str(settings.media_per_account),
            "--seed", "7", "--log-level", "warning", *settings.sim_args,
        ])
        _wait_http(f"{settings.sim_url}/__sim__/health", 30, "The simulator", settings)
        say("Warehouse migrated, accounts registered (tokens encrypted)")
        accounts = register_accounts(settings, env)
        for account in accounts[:SHOWN_ACCOUNTS]:
            road = f"Facebook Login, Page {account['page_id']}" if account.get("login") == "facebook" else "Instagram Login"
            print(f"    {account['id']}  @{account['username']:<20} {road}")
        if len(accounts) > SHOWN_ACCOUNTS:
            print(f"    ... and {len(accounts) - SHOWN_ACCOUNTS:,} more (instagram-graph accounts list)")
        say("Connections stored in Airflow's DB; pool instagram_graph_api")
        store_connections(settings, env)
        _run(env, "pools", "set", POOL[0], str(settings.pool_slots), POOL[2])
        say(f"Starting api-server, scheduler, dag-processor, triggerer ({settings.executor} executor)")
        # The api-server first: tasks started before it answers fail with ConnectError.
        api_server = [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(settings.api_port)]
        _spawn(settings, env, "api-server", api_server)
        _wait_http(f"{settings.base_url}/api/v2/monitor/health", UI_WAIT_SECONDS, "The api-server", settings)
        # The Execution API builds its versioned routes on its first request (some 4 CPU-seconds):
        # one request now, so the first task instance does not wait for it.
        _wait_http(f"{settings.base_url}/execution/health", UI_WAIT_SECONDS, "The Execution API", settings)
        for component in ("scheduler", "dag-processor", "triggerer"):
            _spawn(settings, env, component, [AIRFLOW, component])
        if settings.executor == "celery":
            for number in range(1, settings.workers + 1):
                # One log server is enough: every worker writes to the same log folder.
                _spawn(settings, env, f"celery-worker-{number}", [
                    AIRFLOW, "celery", "worker", "--celery-hostname", f"worker{number}@%h",
                    *(["--skip-serve-logs"] if number > 1 else []),
                ])
    except BaseException:
        stop(settings, quiet=True)
        raise
    _wait_healthy(settings)
    details = login_details(settings)
    details["seconds"] = f"{time.monotonic() - started:.0f}"
    return details


def login_details(settings: Settings) -> dict[str, str]:
    password_file = settings.home / "simple_auth_manager_passwords.json.generated"
    password = json.loads(password_file.read_text()).get("admin", "?") if password_file.exists() else "?"
    return {"url": settings.base_url, "user": "admin", "password": password, "logs": str(settings.log_dir)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--executor", choices=["local", "celery"], default=os.environ.get("EXECUTOR") or "local")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS") or 2))
    args = parser.parse_args(argv)
    settings = Settings(executor=args.executor, workers=args.workers)
    if args.command == "stop":
        stop(settings)
        return
    if args.command == "status":
        alive = running(settings)
        print("\n".join(f"{name}: pid {pid}" for name, pid in alive.items()) or "Not running.")
        return
    details = start(settings)
    print()
    print(f"Airflow UI and REST API: {details['url']}")
    print(f"User: {details['user']}   Password: {details['password']}")
    print(f"Logs: {details['logs']}")
    print(f"CLI against it: source {settings.env_file} && airflow dags list && instagram-graph accounts list")
    if "seconds" in details:
        print(f"Ready in {details['seconds']} s. Stop it with: make airflow-stop")


if __name__ == "__main__":
    main()
