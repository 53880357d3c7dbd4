"""growth_etl as users run it: ``growth stack up --workers 2`` (scheduler, Celery workers, Redis, Postgres
metadata), a run triggered through the REST API, then ``growth stack down``.

The stack runs in this test run's state dir, with its own warehouse and metadata databases on the test
server and generated day files as its landing folder. In order: a triggered run succeeds with tasks on both
workers (with Elementary's package, its report is written); a finished task's log reads back through the
API; clearing one model with its downstream re-runs exactly those tasks; a failed critical test fails the
build and stops everything it guards; ``down`` leaves no process behind (these are marked slow). Without a
stack: the secrets and the login are generated once into private files, and every component gets one
environment.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import psutil
import pytest
from dbt_cases import duplicate_a_registration, mart_rows

from growth_analytics.generate import generate, generate_day
from growth_analytics.orchestration import stack as growth_stack
from growth_analytics.orchestration.celery_config import CELERY_CONFIG
from growth_analytics.ports import free_port
from growth_analytics.transform import elementary
from growth_analytics.warehouse.embedded import EmbeddedPostgres

DAG = "growth_etl"
SEED = 7
SESSIONS = 2_000
NEW_DAY = date(2020, 7, 1)  # after the generated days
RUN_TIMEOUT_S = 1200.0
UP_TIMEOUT_S = 900.0


@dataclass
class RunningStack:
    api: httpx.Client
    env: dict[str, str]
    run_id: str = ""


def _growth(env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    growth = Path(sys.executable).with_name("growth")
    return subprocess.run([str(growth), *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def running(
    postgres_server: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    root = tmp_path_factory.mktemp("stack")
    generate(root / "landing", sessions=SESSIONS, seed=SEED, daily=True)
    env = {
        **os.environ,
        "GROWTH_WAREHOUSE_URL": postgres_server.create_database(f"stack_{os.getpid()}"),
        growth_stack.METADATA_URL_ENV: postgres_server.create_database(f"stack_meta_{os.getpid()}"),
        "GROWTH_LANDING_DIR": str(root / "landing"),
        "GROWTH_REPORTS_DIR": str(root / "reports"),
        "GROWTH_AIRFLOW_PORT": str(free_port()),
    }
    started = _growth(env, "stack", "up", "--workers", "2", timeout=UP_TIMEOUT_S)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        status = _status(env)
        assert status["running"] and status["workers"] == 2
        assert {c["state"] for c in status["components"].values()} <= {"healthy", "running"}
        token = httpx.post(
            f"{status['api_url']}/auth/token",
            json={"username": status["username"], "password": status["password"]},
            timeout=60,
        )
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        with httpx.Client(base_url=f"{status['api_url']}/api/v2", headers=headers, timeout=60) as api:
            yield RunningStack(api=api, env=env)
    finally:
        _growth(env, "stack", "down", timeout=300)


def _status(env: dict[str, str]) -> dict:
    import json

    return json.loads(_growth(env, "stack", "status", "--json", timeout=120).stdout)


def _wait(condition, what: str, timeout: float, every: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _run_state(stack: RunningStack) -> str:
    response = stack.api.get(f"/dags/{DAG}/dagRuns/{stack.run_id}")
    response.raise_for_status()
    return str(response.json()["state"])


def _task_instances(stack: RunningStack) -> dict[str, dict]:
    response = stack.api.get(f"/dags/{DAG}/dagRuns/{stack.run_id}/taskInstances", params={"limit": 1000})
    response.raise_for_status()
    return {ti["task_id"]: ti for ti in response.json()["task_instances"]}


def _finished(stack: RunningStack) -> str | None:
    state = _run_state(stack)
    return state if state in ("success", "failed") else None


def _task_log(stack: RunningStack, task: str, try_number: int) -> str:
    response = stack.api.get(
        f"/dags/{DAG}/dagRuns/{stack.run_id}/taskInstances/{task}/logs/{try_number}",
        params={"full_content": True},
        headers={"Accept": "application/json"},
    )
    response.raise_for_status()
    return str(response.json()["content"])


def _task_graph(running: RunningStack) -> dict[str, list[str]]:
    """growth_etl's tasks and their downstream tasks, as the API serves them."""
    response = running.api.get(f"/dags/{DAG}/tasks")
    response.raise_for_status()
    return {task["task_id"]: task["downstream_task_ids"] for task in response.json()["tasks"]}


def _downstream_closure(tasks: dict[str, list[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for child in tasks[todo.pop()]:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


@pytest.mark.slow
def test_triggered_run_succeeds_with_tasks_on_both_workers(running: RunningStack) -> None:
    # As a user runs it: `growth stack trigger` unpauses the DAG and waits for the run its schedule queues.
    started = time.time()
    triggered = _growth(running.env, "stack", "trigger", timeout=RUN_TIMEOUT_S)
    assert triggered.returncode == 0, triggered.stdout + triggered.stderr
    found = re.search(rf"{DAG} run (\S+) success in", triggered.stdout)
    assert found, triggered.stdout
    running.run_id = found.group(1)

    assert _run_state(running) == "success"
    instances = _task_instances(running)
    failed = {
        task: ti["state"] for task, ti in instances.items() if ti["state"] not in ("success", "skipped")
    }
    assert not failed, failed
    ran = [ti for ti in instances.values() if ti["state"] == "success"]
    assert len(ran) >= 20
    hosts = {ti["hostname"] for ti in ran}
    assert hosts == {"worker-1", "worker-2"}, hosts
    for host in hosts:
        assert f"{sum(ti['hostname'] == host for ti in instances.values())} on {host}" in triggered.stdout
    if elementary.off_reason() is None:
        assert instances["elementary_report"]["state"] == "success"
        assert (Path(running.env["GROWTH_REPORTS_DIR"]) / "elementary_report.html").stat().st_mtime > started
        # edr's internal project leaves its manifest unwritten (see elementary.edr_env)
        internal_manifest = elementary.internal_project_dir() / "target" / "manifest.json"
        assert not internal_manifest.exists() or internal_manifest.stat().st_mtime < started


def test_every_module_the_workers_preload_imports() -> None:
    # A worker whose preloaded module is gone would not start: each name must import.
    for module in CELERY_CONFIG["imports"]:
        importlib.import_module(module)
    assert (
        "growth_analytics.orchestration.celery_config.CELERY_CONFIG"
        in (growth_stack.airflow_env.shared_settings()["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"])
    )


@pytest.mark.slow
def test_a_finished_task_log_reads_back_through_the_api(running: RunningStack) -> None:
    assert running.run_id, "needs the triggered run"
    instances = _task_instances(running)
    task = next(t for t, ti in instances.items() if t.endswith("_run") and ti["state"] == "success")
    ti = instances[task]
    text = _task_log(running, task, ti["try_number"])
    model = task.split(".")[-1].removesuffix("_run")
    assert model in text, text[:2000]
    assert "signature" not in text.lower(), text[:2000]


@pytest.mark.slow
def test_clearing_a_model_reruns_exactly_it_and_its_downstream(running: RunningStack) -> None:
    assert running.run_id, "needs the triggered run"
    graph = _task_graph(running)
    before = _task_instances(running)
    # The model whose downstream is smallest but not empty: a short re-run.
    candidates = []
    for task in graph:
        if not task.endswith("_run"):
            continue
        closure = _downstream_closure(graph, task)
        if len(closure) > 1:
            candidates.append((len(closure), task, closure))
    assert candidates, "no model task with a downstream"
    _, model, expected = min(candidates)

    cleared = running.api.post(
        f"/dags/{DAG}/clearTaskInstances",
        json={
            "dry_run": False,
            "dag_run_id": running.run_id,
            "task_ids": [model],
            "include_downstream": True,
            "include_upstream": False,
            "only_failed": False,
            "reset_dag_runs": True,
        },
    )
    cleared.raise_for_status()
    assert {ti["task_id"] for ti in cleared.json()["task_instances"]} == expected

    _wait(lambda: _run_state(running) != "success", "the cleared run to restart", 60, every=1)
    state = _wait(lambda: _finished(running), "the re-run", RUN_TIMEOUT_S, every=5)
    after = _task_instances(running)
    assert state == "success"
    rerun = {task for task in after if after[task]["try_number"] != before[task]["try_number"]}
    # Every cleared task that had run ran again; a skipped one (Elementary missing) may be skipped anew.
    ran_before = {task for task in expected if before[task]["state"] == "success"}
    assert model in ran_before
    assert ran_before <= rerun <= expected, (sorted(rerun - expected), sorted(ran_before - rerun))
    # A cleared `dbt build` steps aside (skipped): each cleared model's watcher runs its model itself.
    builds = {task for task in expected if task.endswith(".dbt_producer_watcher")}
    assert all(after[task]["state"] == "skipped" for task in builds)
    assert all(after[task]["state"] == before[task]["state"] for task in expected - builds)
    for task in rerun & {task for task in expected if task.endswith("_run")}:
        log = _task_log(running, task, after[task]["try_number"])
        assert "Running model" in log, (task, log[-2000:])


@pytest.mark.slow
def test_a_failed_critical_test_fails_the_build_and_stops_what_it_guards(running: RunningStack) -> None:
    assert running.run_id, "needs the triggered run"
    url = running.env["GROWTH_WAREHOUSE_URL"]
    before = mart_rows(url)
    # A duplicate registration key in the fact table, and a new day that would change every mart.
    duplicate_a_registration(url)
    landing = Path(running.env["GROWTH_LANDING_DIR"])
    generate_day(landing, NEW_DAY, sessions=300, seed=SEED, base_sessions=SESSIONS)

    triggered = _growth(running.env, "stack", "trigger", timeout=RUN_TIMEOUT_S)
    assert triggered.returncode == 1, triggered.stdout + triggered.stderr
    found = re.search(rf"{DAG} run (\S+) failed in", triggered.stdout)
    assert found, triggered.stdout
    running.run_id = found.group(1)
    instances = _task_instances(running)
    states = {task: ti["state"] for task, ti in instances.items()}
    build = "dbt_build.dbt_producer_watcher"
    assert states[build] == "failed" and instances[build]["try_number"] == 1
    assert "unique" in _task_log(running, build, 1)
    # Every model after the checked table fails without running (dbt skipped it; its watcher does not retry
    # and run it), and nothing after the build runs.
    graph = _task_graph(running)
    checked = "dbt_build.fct_registrations_run"
    guarded = _downstream_closure(graph, checked) - {checked}
    nodes = {t for t in guarded if t.startswith("dbt_build.") and t.endswith(("_run", "_snapshot"))}
    assert len(nodes) > 10 and "dbt_build.snap_user_registration_status_snapshot" in nodes
    assert {states[t] for t in nodes} <= {"failed", "upstream_failed"}, {t: states[t] for t in nodes}
    assert all(instances[t]["try_number"] <= 1 for t in nodes)
    after = [t for t in states if t.startswith("attribution_report")]
    assert after and {states[t] for t in after} == {"upstream_failed"}, {t: states[t] for t in after}
    assert states["run_status"] == "failed" and states["dbt_docs"] == "success"
    assert mart_rows(url) == before


@pytest.mark.slow
def test_down_leaves_no_process_behind(running: RunningStack) -> None:
    layout = growth_stack.Layout.load()
    assert layout is not None and layout.processes
    processes = []
    for record in layout.processes.values():
        leader = psutil.Process(int(record["pid"]))
        processes += [leader, *leader.children(recursive=True)]
    stopped = _growth(running.env, "stack", "down", timeout=300)
    assert stopped.returncode == 0, stopped.stderr
    alive = [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, [(p.pid, p.cmdline()) for p in alive]
    assert not _status(running.env)["running"]


def test_secrets_are_generated_once_and_private(isolated_state: Path) -> None:
    first = growth_stack.installation_secrets()
    path = growth_stack.stack_dir() / "secrets.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert growth_stack.installation_secrets() == first
    # SHA512 signing wants a key of at least 64 bytes.
    assert len(first["jwt_secret"].encode()) >= 64
    assert len(set(first.values())) == len(first)


def test_admin_password_file_is_private(tmp_path: Path) -> None:
    from growth_analytics.orchestration import airflow_env

    password = airflow_env.ensure_admin_password(tmp_path)
    where = airflow_env.password_file(tmp_path)
    assert where.stat().st_mode & 0o777 == 0o600
    where.chmod(0o644)  # as Airflow's simple auth manager writes it
    assert airflow_env.ensure_admin_password(tmp_path) == password
    assert where.stat().st_mode & 0o777 == 0o600


def test_every_component_gets_one_environment(isolated_state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from growth_analytics.orchestration import airflow_env

    layout = growth_stack.Layout(
        workers=2, api_port=18080, redis_port=16379, metadata_url="postgresql://u:p@127.0.0.1:5432/meta"
    )
    env = growth_stack.stack_env("postgresql://u:p@127.0.0.1:5432/wh", layout)
    shared = airflow_env.shared_settings()
    assert {name: env[name] for name in shared} == shared
    secrets = growth_stack.installation_secrets()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == secrets["jwt_secret"]
    assert env["AIRFLOW__API__SECRET_KEY"] == secrets["api_secret_key"]
    assert env["AIRFLOW__CELERY__BROKER_URL"].endswith(f"@127.0.0.1:{layout.redis_port}/0")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith(
        "postgresql+psycopg2://u:p@127.0.0.1:5432/meta"
    )
    assert env["AIRFLOW__COSMOS__CACHE_DIR"].startswith(str(isolated_state))
    commands = growth_stack._commands(layout)
    assert set(commands) == {
        "redis",
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "worker-1",
        "worker-2",
    }
    assert commands["redis"][0][1:3] == ["--bind", "127.0.0.1"]
    for name in ("triggerer", "worker-1", "worker-2"):
        assert (
            "--skip-serve-logs" in commands[name][0]
        )  # Airflow's log server would listen on every interface
    monkeypatch.setenv(growth_stack.WORKER_NAME_ENV, commands["worker-2"][1][growth_stack.WORKER_NAME_ENV])
    assert growth_stack.task_hostname() == "worker-2"
