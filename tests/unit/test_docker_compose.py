"""Static checks of docker-compose.yaml, the Dockerfile and docker/ (no Docker engine needed).

The stack cannot be started on the machines that run these tests, so they read the files and
check what would otherwise only fail at ``docker compose up``: missing services, a component
without the project's connections or with a different executor or secret, an image whose
Airflow differs from the pinned one, a committed key, a mounted file that is not there.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
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
    "AIRFLOW_CONN_INSTAGRAM_WAREHOUSE",
    "AIRFLOW_CONN_INSTAGRAM_REDIS",
    "AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT",
    "INSTAGRAM_TOKEN_KEYS",
)
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
    assert REQUIRED_SERVICES <= set(services), f"missing: {sorted(REQUIRED_SERVICES - set(services))}"


def test_airflow_services_run_the_celery_executor_with_the_project_environment(airflow_services):
    assert AIRFLOW_SERVICES <= set(airflow_services)
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


def test_celery_broker_and_rate_limiter_use_separate_redis_databases(airflow_services):
    env = _env(next(iter(airflow_services.values())))
    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    limiter = urlsplit(env["AIRFLOW_CONN_INSTAGRAM_REDIS"])
    assert broker.hostname == limiter.hostname == "redis"
    assert limiter.scheme == "redis"
    assert (broker.path or "/0") != limiter.path


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


def test_graph_api_connection_is_valid_json_for_the_simulator(services, airflow_services):
    from airflow.sdk import Connection

    from instagram_graph import CONNECTION_TYPE, get_provider_info

    raw = _env(next(iter(airflow_services.values())))["AIRFLOW_CONN_INSTAGRAM_GRAPH_DEFAULT"]
    payload = json.loads(raw)
    assert payload["conn_type"] == CONNECTION_TYPE == "instagram_graph"
    host = urlsplit(payload["host"])
    assert (host.hostname, host.port) == ("graph-api-sim", _sim_port(services))

    (conn_type,) = get_provider_info()["connection-types"]
    assert set(payload["extra"]) <= set(conn_type["conn-fields"]), "extras the connection form does not know"
    assert re.match(conn_type["conn-fields"]["api_version"]["schema"]["pattern"], payload["extra"]["api_version"])

    conn = Connection.from_json(raw, conn_id="instagram_graph_default")
    assert conn.conn_type == "instagram_graph"
    assert conn.extra_dejson["calls_per_hour"] > 0


def test_warehouse_connection_points_at_the_database_the_init_script_creates(services, airflow_services):
    url = urlsplit(_env(next(iter(airflow_services.values())))["AIRFLOW_CONN_INSTAGRAM_WAREHOUSE"])
    assert url.scheme in {"postgres", "postgresql"}
    assert url.hostname == "postgres" and url.hostname in services
    database = url.path.lstrip("/")
    assert database and database != services["postgres"]["environment"]["POSTGRES_DB"], (
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


def test_init_job_migrates_creates_the_pool_and_applies_the_warehouse_migrations(services):
    argv = _command(services["airflow-init"])
    script_in_image = next(arg for arg in argv if arg.endswith(".sh"))
    script = ROOT / "docker" / Path(script_in_image).name
    assert script.is_file(), f"{script_in_image} is not in docker/"
    text = script.read_text()
    assert "airflow db migrate" in text
    assert re.search(r"airflow pools set instagram_graph_api \S+", text)
    assert "instagram-graph migrate" in text
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "instagram-graph" in scripts, "the init job calls the instagram-graph CLI that pyproject.toml declares"
    if shutil.which("bash"):
        for path in (ROOT / "docker").glob("*.sh"):
            subprocess.run(["bash", "-n", str(path)], check=True)


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
