"""Static checks of docker-compose.yaml, the Dockerfile and docker/ (no Docker engine needed).

The stack cannot be started on the machines that run these tests, so they read the files and
check what would otherwise only fail at ``docker compose up``: missing services, a component
with a different executor or secret, an image whose Airflow differs from the pinned one, a
committed key, a mounted file that is not there.

The init script is also run for real (``init_runs``), with the airflow-init service's
environment on a SQLite metadata DB and a stand-in ``instagram-graph`` that records where the
warehouse would be: the connections it stores, that it keeps existing ones, the pool, and that
``instagram-graph migrate`` finds the warehouse in the metadata DB, as it must in the containers
(no ``AIRFLOW_CONN_*`` variables there: the connections live in the DB, like `make airflow`'s).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"

AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
}
REQUIRED_SERVICES = AIRFLOW_SERVICES | {"postgres", "redis", "graph-api-sim"}
PROJECT_ENV = (
    "INSTAGRAM_TOKEN_KEYS",
    "INSTAGRAM_SQL_DIR",
    "AIRFLOW__CORE__TEST_CONNECTION",
)
# The connections the DAGs use; airflow-init stores them in the metadata DB.
CONNECTION_IDS = ("instagram_graph_default", "instagram_warehouse", "instagram_redis")
INIT_SCRIPT = ROOT / "docker" / "airflow-init.sh"
# Secrets that every component must share and that only the user's environment (.env) may set.
SECRET_ENV = (
    "INSTAGRAM_TOKEN_KEYS",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
)
REQUIRED_FROM_ENVIRONMENT = re.compile(r"^\$\{(?P<var>[A-Za-z_][A-Za-z0-9_]*):\?[^}]*\}$")
# A Fernet key (32 bytes, URL-safe base64) or a Meta access token, as they would look if pasted.
LITERAL_SECRET = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}=|EAA[A-Za-z0-9]{20,}|IGQ[A-Za-z0-9_-]{20,}")


@pytest.fixture(scope="module")
def compose() -> dict:
    # safe_load resolves the anchors (&airflow-common) and merge keys (<<: *airflow-common).
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


@pytest.fixture(scope="module")
def airflow_services(services: dict[str, dict]) -> dict[str, dict]:
    """Every Airflow component, including optional ones such as flower."""
    return {name: svc for name, svc in services.items() if name.startswith("airflow-") or name == "flower"}


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment must be a mapping (merged from x-airflow-common)"
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _command(service: dict) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def _pinned(requirement: str) -> str:
    match = re.search(rf"^{re.escape(requirement)}==([^\s;#]+)", (ROOT / "requirements.txt").read_text(), re.M)
    assert match, f"requirements.txt does not pin {requirement}"
    return match.group(1)


def _sim_port(services: dict[str, dict]) -> int:
    return int(_option(_command(services["graph-api-sim"]), "--port"))


# --- services ---------------------------------------------------------------------------------


def test_every_service_of_the_design_is_defined(services):
    assert set(services) >= REQUIRED_SERVICES, f"missing: {sorted(REQUIRED_SERVICES - set(services))}"


def test_airflow_services_run_the_celery_executor_with_the_project_environment(airflow_services):
    assert set(airflow_services) >= AIRFLOW_SERVICES
    for name, service in airflow_services.items():
        env = _env(service)
        assert env.get("AIRFLOW__CORE__EXECUTOR") == "CeleryExecutor", name
        assert env.get("AIRFLOW__CORE__LOAD_EXAMPLES", "").lower() == "false", name
        assert env.get("AIRFLOW__CORE__DAGS_FOLDER"), name
        missing = [key for key in PROJECT_ENV if not env.get(key)]
        assert not missing, f"{name} lacks {missing}"


def test_components_agree_on_configuration_and_secrets(airflow_services):
    """One value per setting: a worker with another JWT secret or broker cannot run tasks."""
    shared = ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__BROKER_URL", *PROJECT_ENV, *SECRET_ENV)
    for key in shared:
        values = {name: _env(service).get(key) for name, service in airflow_services.items()}
        assert len(set(values.values())) == 1, f"{key} differs between services: {values}"


def test_workers_reach_the_execution_api_of_the_api_server(services, airflow_services):
    for name, service in airflow_services.items():
        url = urlsplit(_env(service).get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", ""))
        assert url.hostname == "airflow-apiserver", name
        assert url.path.rstrip("/") == "/execution", name
    port = urlsplit(_env(services["airflow-worker"])["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).port
    apiserver = services["airflow-apiserver"]
    assert _command(apiserver) == ["api-server"]
    assert f"{port}:{port}" in [str(published) for published in apiserver["ports"]]
    assert _command(services["airflow-worker"]) == ["celery", "worker"]


@pytest.mark.slow
@pytest.mark.xdist_group("compose-init")
def test_celery_broker_and_rate_limiter_use_separate_redis_databases(services, airflow_services, init_runs):
    env = _env(next(iter(airflow_services.values())))
    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    limiter = init_runs["first"]["connections"]["instagram_redis"]
    assert limiter["conn_type"] == "redis"
    assert broker.hostname == limiter["host"] == "redis" and "redis" in services
    assert limiter["port"] == 6379
    # The hook reads the database number from the "db" extra (the Redis connection form's field).
    assert int((broker.path or "/0").lstrip("/") or 0) != int(limiter["extra"]["db"]) == 2


def test_test_connection_button_is_enabled_in_every_airflow_service(airflow_services):
    """As with `make airflow`: the connection form's Test button (run by the api-server)."""
    for name, service in airflow_services.items():
        assert _env(service).get("AIRFLOW__CORE__TEST_CONNECTION") == "Enabled", name


def test_no_airflow_service_defines_connections_in_its_environment(compose, services):
    """An AIRFLOW_CONN_<ID> variable is invisible in the UI and silently wins over the stored
    connection of the same id, so editing that connection in the UI would change nothing."""
    environments = {"x-airflow-common": compose["x-airflow-common"]["environment"]}
    environments |= {name: service.get("environment") or {} for name, service in services.items()}
    for name, env in environments.items():
        assert isinstance(env, dict), f"{name}: environment must be a mapping"
        found = [key for key in env if str(key).upper().startswith("AIRFLOW_CONN_")]
        assert not found, f"{name} sets {found}: airflow-init stores the connections in the metadata DB"


def test_redis_keeps_its_data_across_restarts(compose, services):
    """Append-only persistence on a named volume, and no eviction: a restart keeps the windows.
    (The limiter does not rely on it: a lost window is rebuilt from the warehouse.)"""
    argv = _command(services["redis"])
    assert argv[0] == "redis-server"
    assert _option(argv, "--appendonly") == "yes"
    assert _option(argv, "--appendfsync") in ("always", "everysec")
    assert _option(argv, "--maxmemory-policy") == "noeviction"
    volume, target = services["redis"]["volumes"][0].split(":")[:2]
    assert target == "/data", "redis:7 writes its append-only file under /data"
    assert volume in compose["volumes"], "a named volume, so the file outlives the container"


# --- image ------------------------------------------------------------------------------------


def test_every_project_service_builds_the_one_image_from_the_dockerfile(services, airflow_services):
    built = {**airflow_services, "graph-api-sim": services["graph-api-sim"]}
    for name, service in built.items():
        build = service.get("build")
        assert isinstance(build, dict), f"{name} is not built from the Dockerfile"
        assert (ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
    assert len({service["image"] for service in built.values()}) == 1, "services build differently named images"


def test_dockerfile_base_image_matches_the_pinned_airflow_and_python():
    match = re.search(r"^FROM\s+apache/airflow:(?P<airflow>[0-9.]+)(?:-python(?P<python>[0-9.]+))?\b",
                      DOCKERFILE.read_text(), re.M)
    assert match, "the Dockerfile must start FROM apache/airflow:<version>"
    assert match["airflow"] == _pinned("apache-airflow"), "Dockerfile base and requirements.txt pin drifted apart"
    assert match["airflow"] == _pinned("apache-airflow-core")
    requires_python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert match["python"] and f">={match['python']}" in requires_python.replace(" ", "")


def test_dockerfile_installs_the_pinned_set_and_everything_the_package_build_needs():
    text = DOCKERFILE.read_text()
    copied = {source.rstrip("/") for line in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)$", text, re.M)
              for source in line.split()[:-1]}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {"requirements.txt", "pyproject.toml", project["project"]["readme"],
              *project["tool"]["setuptools"]["packages"]["find"]["where"], "sql", "docker"}
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"
    assert re.search(r"pip install [^\n]*-r requirements\.txt", text)
    assert re.search(r"pip install [^\n]*--no-deps [^\n]*\.", text)


def test_image_build_context_leaves_out_local_state_and_secrets():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".airflow", ".git", "**/__pycache__", ".pytest_cache", ".env"} <= ignored


# --- connections ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.xdist_group("compose-init")
def test_graph_api_connection_points_at_the_simulator_with_extras_the_form_knows(services, init_runs):
    from airflow.sdk import Connection

    from instagram_graph import CONNECTION_TYPE, get_provider_info

    stored = init_runs["first"]["connections"]["instagram_graph_default"]
    assert stored["conn_type"] == CONNECTION_TYPE == "instagram_graph"
    host = urlsplit(stored["host"])
    assert host.scheme == "http"
    assert (host.hostname, host.port) == ("graph-api-sim", _sim_port(services))

    (conn_type,) = get_provider_info()["connection-types"]
    extra = stored["extra"]
    assert set(extra) <= set(conn_type["conn-fields"]), "extras the connection form does not know"
    assert re.match(conn_type["conn-fields"]["api_version"]["schema"]["pattern"], extra["api_version"])
    assert extra["calls_per_hour"] > 0
    facebook = urlsplit(extra["facebook_base_url"])  # the simulator serves graph.facebook.com under /facebook
    assert (facebook.hostname, facebook.port, facebook.path) == ("graph-api-sim", _sim_port(services), "/facebook")

    conn = Connection(conn_id="instagram_graph_default", conn_type=stored["conn_type"], host=stored["host"],
                      extra=json.dumps(extra))
    assert conn.extra_dejson == extra


@pytest.mark.slow
@pytest.mark.xdist_group("compose-init")
def test_warehouse_connection_points_at_the_database_the_init_script_creates(services, init_runs):
    stored = init_runs["first"]["connections"]["instagram_warehouse"]
    assert stored["conn_type"] == "postgres"
    assert stored["host"] == "postgres" and stored["host"] in services
    assert stored["port"] == 5432
    postgres_env = services["postgres"]["environment"]
    assert (stored["login"], stored["password"]) == (postgres_env["POSTGRES_USER"], postgres_env["POSTGRES_PASSWORD"])
    database = stored["schema"]
    assert database and database != postgres_env["POSTGRES_DB"], (
        "the warehouse must not share Airflow's metadata database"
    )
    assert re.search(rf"^\s*CREATE DATABASE {database}\b", _postgres_init_script(services).read_text(), re.M | re.I)


def _postgres_init_script(services: dict[str, dict]) -> Path:
    mounts = [volume.split(":") for volume in services["postgres"]["volumes"]]
    sources = [source for source, target, *_ in mounts if target.startswith("/docker-entrypoint-initdb.d/")]
    assert len(sources) == 1, "postgres needs one init script mounted into /docker-entrypoint-initdb.d"
    return ROOT / sources[0]


def test_postgres_init_script_exists(services):
    path = _postgres_init_script(services)
    assert path.is_file() and path.resolve().is_relative_to(ROOT / "docker")


# --- secrets ----------------------------------------------------------------------------------


def test_secrets_are_required_from_the_environment(airflow_services):
    for name, service in airflow_services.items():
        env = _env(service)
        for key in SECRET_ENV:
            assert REQUIRED_FROM_ENVIRONMENT.match(env.get(key, "")), (
                f"{name}: {key} must be ${{VAR:?message}} (set in the shell or .env), not a literal"
            )


def test_no_literal_key_or_token_is_committed():
    files = [COMPOSE_FILE, DOCKERFILE, ROOT / ".dockerignore", *sorted((ROOT / "docker").iterdir())]
    for path in files:
        found = LITERAL_SECRET.findall(path.read_text())
        assert not found, f"{path.name} contains what looks like a key or token: {found}"
    dockerfile = DOCKERFILE.read_text()
    for key in (*SECRET_ENV, "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY"):
        assert not re.search(rf"^\s*(ENV|ARG)\b.*\b{key}\b", dockerfile, re.M), f"{key} baked into the image"


def test_dot_env_is_not_tracked_by_git():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(["git", "ls-files", "--", ".env", "*/.env"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    assert not tracked.strip(), ".env holds the stack's secrets and must not be committed"


# --- start-up order and health ----------------------------------------------------------------


def test_long_running_services_have_healthchecks(services):
    for name, service in services.items():
        if name == "airflow-init":
            continue
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_dependencies_wait_for_health_or_completion(services, airflow_services):
    conditions = {"service_healthy", "service_completed_successfully", "service_started"}
    for name, service in services.items():
        for target, spec in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert spec["condition"] in conditions, f"{name} -> {target}"
            if spec["condition"] == "service_healthy":
                assert services[target].get("healthcheck"), f"{name} waits for {target}, which has no healthcheck"
    for name, service in airflow_services.items():
        deps = service["depends_on"]
        assert deps["postgres"]["condition"] == deps["redis"]["condition"] == "service_healthy", name
        if name != "airflow-init":
            assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    assert services["airflow-worker"]["depends_on"]["graph-api-sim"]["condition"] == "service_healthy"


def test_services_that_add_volumes_keep_the_common_ones(compose, airflow_services):
    common = set(compose["x-airflow-common"]["volumes"])
    for name, service in airflow_services.items():
        assert common <= set(service["volumes"]), f"{name} replaced the common volumes"


# --- the simulator and the init job -----------------------------------------------------------


def test_simulator_serves_all_interfaces_on_its_published_port(services):
    sim = services["graph-api-sim"]
    argv = _command(sim)
    assert argv[:3] == ["python", "-m", "graph_api_sim"]
    assert _option(argv, "--host") == "0.0.0.0"
    port = _sim_port(services)
    assert f"{port}:{port}" in [str(p) for p in sim.get("ports", [])]
    assert str(port) in " ".join(sim["healthcheck"]["test"])


def test_init_job_runs_the_init_script_of_the_repository(services):
    argv = _command(services["airflow-init"])
    script_in_image = next(arg for arg in argv if arg.endswith(".sh"))
    assert Path(script_in_image).name == INIT_SCRIPT.name, f"{script_in_image} is not docker/{INIT_SCRIPT.name}"
    assert INIT_SCRIPT.is_file()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "instagram-graph" in scripts, "the init job calls the instagram-graph CLI that pyproject.toml declares"
    if shutil.which("bash"):
        for path in (ROOT / "docker").glob("*.sh"):
            subprocess.run(["bash", "-n", str(path)], check=True)


def test_init_script_steps_come_in_order():
    """Metadata DB first; the connections before `instagram-graph migrate`, which finds the
    warehouse through the stored instagram_warehouse connection; the pool (which every other
    service waits for, through service_completed_successfully) before the script ends."""
    lines = [line.strip() for line in INIT_SCRIPT.read_text().splitlines() if not line.strip().startswith("#")]

    def first(pattern: str) -> int:
        found = [number for number, line in enumerate(lines) if re.search(pattern, line)]
        assert found, f"the init script has no line matching {pattern!r}"
        return found[0]

    db_migrate = first(r"^airflow db migrate\b")
    connections = first(r"\bairflow connections (list|add)\b")
    pool = first(r"^airflow pools set instagram_graph_api \S+")
    migrate = first(r"\binstagram-graph migrate\b")
    assert db_migrate < connections < migrate
    assert db_migrate < pool
    assert "set -euo pipefail" in lines, "a failed step must fail airflow-init (and keep the others from starting)"


@pytest.fixture(scope="module")
def init_runs(services, tmp_path_factory) -> dict[str, dict]:
    """docker/airflow-init.sh run twice with airflow-init's environment (secrets made up, the
    metadata DB on SQLite, paths of the container moved to a temporary folder). Between the
    runs an operator's edits are simulated: instagram_warehouse edited, instagram_redis deleted,
    and an AIRFLOW_CONN_INSTAGRAM_REDIS variable set. Returns, per run, the script's output, the
    stored connections and pools, and what the stand-in `instagram-graph` saw."""
    from cryptography.fernet import Fernet

    tmp = tmp_path_factory.mktemp("airflow-init")
    given = {
        "AIRFLOW_FERNET_KEY": Fernet.generate_key().decode(),
        "INSTAGRAM_TOKEN_KEYS": Fernet.generate_key().decode(),
        "AIRFLOW_JWT_SECRET": "jwt-secret-for-the-test",
        "AIRFLOW_API_SECRET_KEY": "api-secret-for-the-test",
        "AIRFLOW_ADMIN_PASSWORD": "admin-password-for-the-test",
        "INSTAGRAM_POOL_SLOTS": "5",
    }
    compose_env = {key: _interpolate(value, given) for key, value in _env(services["airflow-init"]).items()}
    (tmp / "dags").mkdir()
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "instagram-graph"
    stand_in.write_text(INSTAGRAM_GRAPH_STAND_IN.replace("PYTHON", sys.executable))
    stand_in.chmod(0o755)
    inherited = {key: value for key, value in os.environ.items()
                 if not key.startswith(("AIRFLOW", "_AIRFLOW", "INSTAGRAM"))}
    env = {
        **inherited,
        **compose_env,
        # What differs from the container: paths and the metadata DB (the script never needs a
        # live Celery broker, Redis, the warehouse or the simulator).
        "PATH": os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "AIRFLOW_HOME": str(tmp / "home"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(tmp / "dags"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(tmp / "passwords.json"),
        "INSTAGRAM_SQL_DIR": str(ROOT / "sql"),
        "STAND_IN_RECORD": str(tmp / "instagram-graph.jsonl"),
    }
    assert not [key for key in compose_env if key.startswith("AIRFLOW_CONN_")]

    def run_script(extra_env: dict[str, str]) -> dict:
        result = subprocess.run(["bash", str(INIT_SCRIPT)], env={**env, **extra_env}, cwd=tmp,
                                capture_output=True, text=True, timeout=240)
        assert result.returncode == 0, f"airflow-init.sh failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return {"stdout": result.stdout, "stderr": result.stderr}

    def metadata(edit: bool) -> dict:
        result = subprocess.run([sys.executable, "-c", METADATA_SNAPSHOT, "edit" if edit else "look"], env=env,
                                cwd=tmp, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    first = run_script({})
    first |= metadata(edit=True)
    second = run_script({"AIRFLOW_CONN_INSTAGRAM_REDIS": "redis://elsewhere:6379/7"})
    second |= metadata(edit=False)
    calls = [json.loads(line) for line in (tmp / "instagram-graph.jsonl").read_text().splitlines()]
    assert len(calls) == 2, calls
    first["instagram_graph"], second["instagram_graph"] = calls
    first["passwords"] = json.loads((tmp / "passwords.json").read_text())
    return {"first": first, "second": second}


def _interpolate(value: str, given: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} with the variables in `given`; $$ is $."""

    def substitute(match: re.Match) -> str:
        name, operator, argument = match["name"], match["op"], match["arg"]
        if given.get(name):
            return given[name]
        if operator == ":-":
            return argument
        raise AssertionError(f"the test gives no value for ${{{name}}}")

    pattern = r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:[-?])(?P<arg>[^}]*))?\}"
    return re.sub(pattern, substitute, value.replace("$$", "\0")).replace("\0", "$")


# Stands in for the instagram-graph CLI: runs the real one with psycopg2.connect recording its
# arguments instead of connecting, so `migrate` resolves the warehouse exactly as in the container.
INSTAGRAM_GRAPH_STAND_IN = """#!PYTHON
import json, os, sys
import psycopg2

seen = []

def record(*args, **kwargs):
    seen.append({"args": list(args), **kwargs})
    raise psycopg2.OperationalError("stand-in: not connecting")

psycopg2.connect = record
from instagram_graph import cli

code = cli.main(sys.argv[1:])
with open(os.environ["STAND_IN_RECORD"], "a") as out:
    out.write(json.dumps({"argv": sys.argv[1:], "connect": seen, "code": code,
                          "dsn_env": os.environ.get("INSTAGRAM_WAREHOUSE_DSN")}) + "\\n")
sys.exit(0 if seen else code)
"""

# Reads the stored connections and pools; with "edit", then edits as an operator would in the UI.
METADATA_SNAPSHOT = """
import json, sys
from sqlalchemy import select
from airflow.models import Connection, Pool
from airflow.utils.session import create_session

with create_session() as session:
    connections = {c.conn_id: {"conn_type": c.conn_type, "host": c.host, "port": c.port, "login": c.login,
                               "password": c.password, "schema": c.schema, "extra": c.extra_dejson}
                   for c in session.scalars(select(Connection))}
    pools = {p.pool: p.slots for p in session.scalars(select(Pool))}
    if sys.argv[1] == "edit":
        session.scalars(select(Connection).filter_by(conn_id="instagram_warehouse")).one().schema = "instagram_edited"
        session.delete(session.scalars(select(Connection).filter_by(conn_id="instagram_redis")).one())
print(json.dumps({"connections": connections, "pools": pools}))
"""


@pytest.mark.slow
@pytest.mark.xdist_group("compose-init")
def test_init_script_stores_the_three_connections_and_the_pool(init_runs):
    first = init_runs["first"]
    assert set(CONNECTION_IDS) <= set(first["connections"])
    for conn_id in CONNECTION_IDS:
        assert f"Successfully added `conn_id`={conn_id}" in first["stdout"], conn_id
    assert first["pools"]["instagram_graph_api"] == 5, "the pool takes INSTAGRAM_POOL_SLOTS"
    assert first["passwords"] == {"admin": "admin-password-for-the-test"}


@pytest.mark.slow
@pytest.mark.xdist_group("compose-init")
def test_warehouse_migrations_find_the_warehouse_in_the_stored_connection(init_runs):
    """No AIRFLOW_CONN_INSTAGRAM_WAREHOUSE any more: `instagram-graph migrate` must read the
    instagram_warehouse connection from the metadata DB, after the script stored it."""
    for run in ("first", "second"):
        call = init_runs[run]["instagram_graph"]
        assert call["argv"] == ["migrate"]
        assert call["dsn_env"] is None
        assert call["connect"], f"{run} run: migrate found no warehouse (exit {call['code']}), not the stored one"
    stored = init_runs["first"]["connections"]["instagram_warehouse"]
    (first_connect,) = init_runs["first"]["instagram_graph"]["connect"]
    assert first_connect == {"args": [], "host": stored["host"], "port": stored["port"], "user": stored["login"],
                             "password": stored["password"], "dbname": stored["schema"]}
    (second_connect,) = init_runs["second"]["instagram_graph"]["connect"]
    assert second_connect["dbname"] == "instagram_edited", "migrate must follow the connection as edited in the UI"


@pytest.mark.slow
@pytest.mark.xdist_group("compose-init")
def test_a_rerun_keeps_existing_connections_and_adds_missing_ones(init_runs):
    first, second = init_runs["first"], init_runs["second"]
    # Edited in the UI between the runs: left as it is, and the log says so.
    assert second["connections"]["instagram_warehouse"]["schema"] == "instagram_edited"
    for conn_id in ("instagram_graph_default", "instagram_warehouse"):
        assert re.search(rf"Connection {conn_id} exists: left as it is\b.*edited in the UI", second["stdout"]), conn_id
        assert f"Successfully added `conn_id`={conn_id}" not in second["stdout"]
        if conn_id != "instagram_warehouse":
            assert second["connections"][conn_id] == first["connections"][conn_id]
    # Deleted between the runs: added again, with the values of the first run (not the variable's).
    assert "Successfully added `conn_id`=instagram_redis" in second["stdout"]
    assert second["connections"]["instagram_redis"] == first["connections"]["instagram_redis"]
    assert "AIRFLOW_CONN_INSTAGRAM_REDIS is set" in second["stderr"], "a variable that hides the stored one is named"
    assert "AIRFLOW_CONN_" not in first["stderr"]
    assert second["pools"] == first["pools"]


def test_compose_cli_accepts_the_file():
    """Runs only where a Compose CLI is installed; `config` parses and validates without an engine."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        cli = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        cli = ["docker-compose"]
    else:
        pytest.skip("no Docker Compose CLI installed (neither the compose plugin nor docker-compose)")
    env = {**os.environ, **{var: "x" for var in ("INSTAGRAM_TOKEN_KEYS", "AIRFLOW_FERNET_KEY",
                                                  "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY")}}
    result = subprocess.run([*cli, "--profile", "flower", "config", "-q"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_celery_comes_from_our_pins_so_native_and_image_workers_agree():
    # Without the provider `airflow celery worker` is an invalid choice outside the image.
    assert _pinned("apache-airflow-providers-celery")
    assert _pinned("celery") and _pinned("kombu")
    result = subprocess.run([str(Path(os.sys.executable).with_name("airflow")), "celery", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "worker" in result.stdout
    # The scheduler loads the executor itself: celery 5.7 removed what provider 3.26.0 imports
    # (celery.backends.database.retry), while `airflow celery --help` still worked.
    loaded = subprocess.run(
        [os.sys.executable, "-c", "from airflow.executors.executor_loader import ExecutorLoader; "
         "print(ExecutorLoader.import_executor_cls(ExecutorLoader.get_executor_names()[0])[0].__name__)"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor"},
    )
    assert loaded.returncode == 0 and loaded.stdout.strip().endswith("CeleryExecutor"), loaded.stderr[-2000:]
