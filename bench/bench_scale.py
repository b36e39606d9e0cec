"""Airflow's own CPU next to the sync work, at 100 to 10,000 accounts (issue 14).

For each number of accounts N, a real Airflow (scheduler, LocalExecutor, api-server,
dag-processor, triggerer: the code behind `make airflow`) runs one run each of the
profiles, media and conversations DAGs against the simulator (``--media-per-account 30``),
triggered through the REST API. Then the same streams run for the same accounts directly
in this process (``Fleet``, 8 threads) into a second warehouse.

* D, deployment CPU: every process of the deployment (the Airflow processes and every
  task process they started, exited ones included through their parents' ``cutime``), plus
  Postgres and Redis, from the start of the runs to the end of the last one, read in /proc.
* W, sync work CPU: this process while it runs the same streams directly, plus Postgres and
  Redis meanwhile (Airflow is stopped by then).
* A = D - W: what Airflow itself costs. The simulator stands in for Meta: it is in neither.

The sharded road (``accounts_per_task`` automatic) runs at every N; the one-task-per-account
road (``accounts_per_task=1``) at the sizes of ``--per-account``, each on a fresh deployment
and world (same seed), so calls and rows can be compared.

    python bench/bench_scale.py --accounts 100,1000 --per-account 100,1000
    python bench/bench_scale.py --accounts 10000 --per-account ''
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# This process's own logging stays quiet, so the direct run's CPU is the sync work alone (the
# deployment logs at its default level: what it costs is Airflow's).
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

from graph_api_sim.testing import SimulatorProcess, free_port  # noqa: E402
from instagram_graph.hooks.graph_api import GraphApiSettings, InstagramGraphHook  # noqa: E402
from instagram_graph.migrations import apply_migrations  # noqa: E402
from instagram_graph.sync.fleet import SYNCED, Fleet  # noqa: E402
from instagram_graph.token_store import TokenStore  # noqa: E402
from scripts import local_airflow  # noqa: E402
from tests.deploy.airflow_api import AirflowApi  # noqa: E402

DAGS = ("instagram_profiles", "instagram_media", "instagram_conversations")
# The streams of those DAGs, in the order their tasks run.
STREAMS = ("profile", "media", "stories", "comments", "conversations")
DATA_TABLES = ("profiles", "profile_snapshots", "media", "media_children", "comments", "conversations", "messages")
METADATA_DB, WAREHOUSE_DB, DIRECT_DB = "airflow_scale", "instagram_scale", "instagram_scale_direct"
LIMITER_REDIS_DB, BROKER_REDIS_DB, DIRECT_REDIS_DB = 11, 12, 13
CALLS_PER_HOUR = 4800
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- CPU from /proc


def own_cpu(pid: int) -> float:
    """CPU seconds of the process alone (not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _stat(pid: int) -> tuple[int, str, float] | None:
    """(parent pid, command name, CPU seconds of the process and of its reaped children)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()
    ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return int(fields[1]), name, ticks / CLK_TCK


def _processes() -> dict[int, tuple[int, str, float]]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            table[int(entry)] = stat
    return table


def tree_cpu(roots: set[int], table: dict[int, tuple[int, str, float]] | None = None) -> float:
    """CPU seconds of the live processes under ``roots`` (roots included) and of every child
    they reaped. A process that exits is counted in its parent from then on."""
    table = table if table is not None else _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    seen, stack, total = set(), [pid for pid in roots if pid in table], 0.0
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += table[pid][2]
        stack.extend(children.get(pid, []))
    return total


def service_roots(table: dict[int, tuple[int, str, float]]) -> set[int]:
    """Postgres's postmaster and Redis's server: the warehouse and the limiter do their work there."""
    roots = set()
    for pid, (parent, name, _) in table.items():
        parent_name = table.get(parent, (0, "", 0.0))[1]
        if name == "redis-server" or (name in ("postgres", "postmaster") and parent_name not in ("postgres", "postmaster")):
            roots.add(pid)
    return roots


@dataclass
class CpuMeter:
    """CPU of named process trees, of Postgres and Redis, and of this process, between two readings."""

    roots: dict[str, int] = field(default_factory=dict)
    _start: dict[str, float] = field(default_factory=dict)

    def _read(self) -> dict[str, float]:
        table = _processes()
        own = resource.getrusage(resource.RUSAGE_SELF)
        services = service_roots(table)
        readings = {name: tree_cpu({pid}, table) for name, pid in self.roots.items()}
        if "scheduler" in self.roots:  # its loop apart from the task processes it starts
            readings["scheduler loop"] = own_cpu(self.roots["scheduler"])
        readings["postgres"] = tree_cpu({pid for pid in services if table[pid][1] != "redis-server"}, table)
        readings["redis"] = tree_cpu({pid for pid in services if table[pid][1] == "redis-server"}, table)
        readings["self"] = own.ru_utime + own.ru_stime
        return readings

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        """CPU seconds since :meth:`start`: each named tree, ``postgres``, ``redis`` and ``self``."""
        return {name: value - self._start.get(name, 0.0) for name, value in self._read().items()}


# --------------------------------------------------------------------------- the two ways of running


@dataclass
class Figures:
    accounts: int
    road: str
    task_instances: int = 0
    cpu: float = 0.0  # D for a deployment, W for the direct run
    services: float = 0.0  # Postgres and Redis, included in cpu
    breakdown: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0
    calls: int = 0
    answered: int = 0  # calls answered 200
    errors: dict[str, int] = field(default_factory=dict)  # the others, by HTTP status
    rows: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # The end of the runs' data interval: the direct run reads the same windows (comments of
    # media of the last 7 days from there), or a media crossing the edge meanwhile differs.
    interval_end: datetime | None = None

    @property
    def row_total(self) -> int:
        return sum(self.rows.values())


def _count_calls(figures: Figures, sim: SimulatorProcess) -> None:
    counts = sim.request_counts()
    figures.calls = int(counts["total"])
    figures.answered = int(counts["by_status"].get("200", 0))
    figures.errors = {status: n for status, n in sorted(counts["by_status"].items()) if status != "200"}


def count_rows(dsn: str) -> dict[str, int]:
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            counts = {}
            for table in DATA_TABLES:
                cur.execute(f"SELECT count(*) FROM instagram.{table}")
                counts[table] = cur.fetchone()[0]
            return counts
    finally:
        conn.close()


def settings_for(accounts: int, media_per_account: int, state_dir: Path) -> Any:
    return local_airflow.Settings(
        state_dir=state_dir,
        api_port=free_port(), sim_port=free_port(), worker_log_port=free_port(), trigger_log_port=free_port(),
        metadata_db=METADATA_DB, warehouse_db=WAREHOUSE_DB, redis_db=LIMITER_REDIS_DB, broker_redis_db=BROKER_REDIS_DB,
        accounts=accounts, media_per_account=media_per_account, calls_per_hour=CALLS_PER_HOUR, fresh=True,
        # Only the runs triggered here: no scheduled run starts when a DAG is unpaused.
        extra_env={"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"},
    )


def _api(settings: Any) -> AirflowApi:
    details = local_airflow.login_details(settings)
    api = AirflowApi(settings.base_url, details["user"], details["password"])
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        listed = {dag["dag_id"] for dag in api.call("GET", "/dags", params={"limit": 100})["dags"]}
        if set(DAGS) <= listed:
            return api
        time.sleep(1)
    raise SystemExit(f"the DAGs were not parsed within 180 s: see {settings.log_dir}")


def run_deployment(settings: Any, accounts_per_task: int, road: str, timeout: float) -> Figures:
    """Trigger one run of each DAG at once; measure until the last one ends."""
    figures = Figures(settings.accounts, road)
    api = _api(settings)
    for dag_id in DAGS:
        api.unpause(dag_id)
    sim = SimulatorProcess.attach(settings.sim_url)
    time.sleep(5)  # the dag-processor's and scheduler's start-up work is over
    sim.clear_requests()
    meter = CpuMeter(roots={name: pid for name, pid in local_airflow.running(settings).items() if name != "simulator"})
    meter.start()
    started, triggered_at = time.monotonic(), datetime.now(UTC)
    runs = {dag_id: api.trigger(dag_id, {"accounts_per_task": accounts_per_task}) for dag_id in DAGS}
    states: dict[str, str] = {}
    while len(states) < len(runs):
        if time.monotonic() - started > timeout:
            figures.problems.append(f"runs not finished after {timeout:.0f} s: {sorted(set(runs) - set(states))}")
            break
        time.sleep(5)
        for dag_id, run_id in runs.items():
            if dag_id not in states and (state := api.run(dag_id, run_id)["state"]) in ("success", "failed"):
                states[dag_id] = state
    spent = meter.stop()
    finished = [api.run(dag_id, run_id) for dag_id, run_id in runs.items()]
    ends = [run.get("end_date") for run in finished]
    interval_ends = [run["data_interval_end"] for run in finished if run.get("data_interval_end")]
    figures.interval_end = datetime.fromisoformat(max(interval_ends)) if interval_ends else triggered_at
    if all(ends):  # the runs' own end, not the end of the poll that saw it
        figures.wall = max((datetime.fromisoformat(end) - triggered_at).total_seconds() for end in ends)
    else:
        figures.wall = time.monotonic() - started
    figures.breakdown = {name: cpu for name, cpu in spent.items() if name != "self"}
    figures.services = spent["postgres"] + spent["redis"]
    figures.cpu = sum(cpu for name, cpu in figures.breakdown.items() if name != "scheduler loop")
    _count_calls(figures, sim)
    for dag_id, run_id in runs.items():
        listed = api.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1})
        figures.task_instances += int(listed["total_entries"])
        if states.get(dag_id) != "success":
            figures.problems.append(f"{dag_id}: {states.get(dag_id, 'unfinished')}")
    figures.rows = count_rows(settings.dsn(settings.warehouse_db))
    return figures


def run_direct(settings: Any, threads: int | None, interval_end: datetime | None = None) -> Figures:
    """The same streams for the same accounts, in this process, into a fresh warehouse, for
    the hour up to ``interval_end`` (default: now)."""
    figures = Figures(settings.accounts, f"direct, {threads or 'default'} threads")
    local_airflow.ensure_database(DIRECT_DB, fresh=True)
    dsn = settings.dsn(DIRECT_DB)
    conn = psycopg2.connect(dsn)
    apply_migrations(conn)
    conn.close()
    sim = SimulatorProcess.attach(settings.sim_url)

    def connect() -> Any:
        return psycopg2.connect(dsn)

    keys = local_airflow.read_env_file(settings.env_file)["INSTAGRAM_TOKEN_KEYS"]
    store = TokenStore(conn_factory=connect, keys=keys, keep_connection=True)
    accounts = [account["id"] for account in sim.register_accounts(store)]
    client = redis.Redis(port=6379, db=DIRECT_REDIS_DB)
    client.flushdb()
    # As a shard task builds them: one parent hook, a sibling per thread.
    parent = InstagramGraphHook(
        settings=GraphApiSettings(base_url=settings.sim_url, calls_per_hour=CALLS_PER_HOUR, **sim.facebook_extra()),
        token_store=store, redis_client=client,
    )
    now = interval_end or datetime.now(UTC)
    sim.clear_requests()
    # As Airflow's LocalExecutor does before forking task processes: what is loaded so far
    # stays out of the garbage collector's full passes.
    gc.collect()
    gc.freeze()
    meter = CpuMeter()
    meter.start()
    started = time.monotonic()
    for stream in STREAMS:
        with parent.siblings(connect) as make_hook:
            fleet = Fleet(stream, make_hook=make_hook, connect=connect, context={"run_id": "manual__bench_direct"},
                          interval=(now - timedelta(hours=1), now), threads=threads)
            outcomes = fleet.run(accounts)
        unsynced = [o for o in outcomes if o.status != SYNCED]
        if unsynced:
            figures.problems.append(f"{stream}: {len(unsynced)} accounts not synced, e.g. {unsynced[0]}")
    figures.wall = time.monotonic() - started
    spent = meter.stop()
    figures.breakdown = {name: spent[name] for name in ("self", "postgres", "redis")}
    figures.services = spent["postgres"] + spent["redis"]
    figures.cpu = spent["self"] + figures.services
    _count_calls(figures, sim)
    figures.rows = count_rows(dsn)
    parent.close()
    store.close()
    return figures


# --------------------------------------------------------------------------- one size, both roads


def measure(accounts: int, roads: list[tuple[str, int]], args: argparse.Namespace) -> list[tuple[Figures, Figures]]:
    """[(deployment figures, direct figures)] for each road, on a fresh deployment each."""
    results = []
    direct: Figures | None = None
    for road, accounts_per_task in roads:
        with tempfile.TemporaryDirectory(prefix="bench_scale_") as state:
            settings = settings_for(accounts, args.media_per_account, Path(state))
            print(f"  starting Airflow and the simulator with {accounts:,} accounts ({road})...", flush=True)
            try:
                local_airflow.start(settings)
                redis.Redis(port=6379, db=LIMITER_REDIS_DB).flushdb()
                deployed = run_deployment(settings, accounts_per_task, road, args.timeout)
                print(f"    {line(deployed, None)}", flush=True)
                if direct is None:
                    # Airflow stops first: its idle loops must not count as sync work.
                    local_airflow.stop(settings, quiet=True, keep=("simulator",))
                    direct = run_direct(settings, args.threads, deployed.interval_end)
                    print(f"    {line(direct, None)}", flush=True)
            finally:
                local_airflow.stop(settings, quiet=True)
                local_airflow.drop_databases(settings)
        results.append((deployed, direct))
    return results


def line(figures: Figures, direct: Figures | None) -> str:
    text = f"accounts {figures.accounts:,} ({figures.road}): "
    if direct is None:
        text += (f"task instances {figures.task_instances:,}, CPU s {figures.cpu:.1f} "
                 f"(Postgres and Redis {figures.services:.1f}), wall s {figures.wall:.0f}, "
                 f"calls {figures.calls:,} (errors by HTTP status {json.dumps(figures.errors)}), "
                 f"rows {figures.row_total:,}; "
                 "CPU s by process tree: "
                 + ", ".join(f"{name} {cpu:.1f}" for name, cpu in figures.breakdown.items()))
    else:
        own = figures.cpu - direct.cpu
        text += (f"task instances {figures.task_instances:,}, deployment CPU s {figures.cpu:.1f}, "
                 f"sync work CPU s {direct.cpu:.1f}, Airflow's own CPU s {own:.1f}, "
                 f"overhead {own / direct.cpu:.0%}, wall s {figures.wall:.0f}, "
                 f"calls {figures.calls:,}, rows {figures.row_total:,}")
        if figures.errors:  # refusals the streams expect (story insights...) and throttles asked again
            text += f" (calls answered with an error, by HTTP status: {json.dumps(figures.errors)})"
    if figures.problems:
        text += f"  PROBLEMS: {'; '.join(figures.problems)}"
    return text


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds like Ctrl-C: the deployment is stopped


def _same(other_name: str, ours: Figures, other: Figures) -> str:
    """Calls answered and rows loaded must match exactly (refused calls depend on timing)."""
    same = (ours.answered, ours.rows) == (other.answered, other.rows)
    text = (f"accounts {ours.accounts:,}: answered calls and rows identical to {other_name}: "
            f"{'yes' if same else 'NO'} ({ours.answered:,} and {other.answered:,} calls answered")
    if ours.rows != other.rows:
        text += f"; rows {json.dumps(ours.rows)} vs {json.dumps(other.rows)}"
    return text + ")"


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", default="100,1000", help="comma-separated numbers of accounts")
    parser.add_argument("--per-account", default="100,1000",
                        help="sizes at which the one-task-per-account road runs too ('' for none)")
    parser.add_argument("--media-per-account", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads of the direct run (default: a shard task's, per stream)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds the three runs may take")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.accounts.split(",") if n.strip()]
    per_account = {int(n) for n in args.per_account.split(",") if n.strip()}

    print(f"One run each of {', '.join(DAGS)} on a real Airflow (LocalExecutor), "
          f"{args.media_per_account} media per account; simulator on 127.0.0.1")
    table: list[str] = []
    verdicts: list[str] = []
    for accounts in sizes:
        roads = [("shards", 0)] + ([("one task per account", 1)] if accounts in per_account else [])
        results = measure(accounts, roads, args)
        table += [line(deployed, direct) for deployed, direct in results]
        sharded, direct = results[0]
        overhead = (sharded.cpu - direct.cpu) / direct.cpu
        if len(results) > 1:
            single = results[1][0]
            verdicts.append(_same("the per-account road", sharded, single))
        verdicts.append(_same("the direct run", sharded, direct))
        if accounts == 1000:
            verdicts.append(f"goal: Airflow's own CPU <= 25 % of the sync work at 1,000 accounts: "
                            f"{'met' if overhead <= 0.25 else 'NOT met'} ({overhead:.0%})")
        if accounts == 10000:
            verdicts.append(f"goal: the three runs for 10,000 accounts within 15 min: "
                            f"{'met' if sharded.wall <= 900 and not sharded.problems else 'NOT met'} "
                            f"({sharded.wall / 60:.1f} min)")
    print()
    print("\n".join(table + verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
