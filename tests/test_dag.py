"""growth_etl integrity: it imports cleanly without touching any database, and its task graph is as designed.

The DAG file is loaded the way Airflow loads it (DagBag) in a fresh interpreter whose every way to a
database is blocked: sockets, SQLite (Airflow's metadata database) and the Postgres drivers. The graph
is then checked against the dbt manifest it was rendered from.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from growth_analytics import settings
from growth_analytics.orchestration import airflow_env
from growth_analytics.orchestration.layers import LAYERS, WHOLE_PROJECT, layer_nodes
from growth_analytics.orchestration.tasks import feed_files, landing_files
from growth_analytics.transform import dbt
from growth_analytics.warehouse.url import WarehouseParams

PROJECT_DIR = Path(__file__).resolve().parents[1]
DAG_FILE = PROJECT_DIR / "dags" / "growth_etl.py"

# Runs in a fresh interpreter: block every road to a database, load the DAG file with a DagBag, and
# describe the result as JSON.
PROBE = r"""
import json, socket, sqlite3, sys, time

attempts = []

def _deny(kind):
    def deny(*args, **kwargs):
        attempts.append(f"{kind} {args[1:] if kind == 'socket' else args}")
        raise OSError(f"{kind}: no database access while parsing a DAG")
    return deny

socket.socket.connect = _deny("socket")
socket.socket.connect_ex = _deny("socket")
sqlite3.connect = _deny("sqlite")
import psycopg, psycopg2
psycopg.connect = _deny("psycopg")
psycopg2.connect = _deny("psycopg2")

# The Airflow image has no pgserver: the DAG must need neither it nor the embedded server module.
import importlib.abc
blocked = []

class _BlockEmbedded(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "pgserver" or name == "growth_analytics.warehouse.embedded":
            blocked.append(name)
            raise ImportError(f"{name} is not installed in the Airflow image")
        return None

sys.meta_path.insert(0, _BlockEmbedded())

import airflow.sdk  # Airflow itself is loaded in a DAG processor before any DAG file
from airflow.dag_processing.dagbag import DagBag

started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1], safe_mode=True)
seconds = time.perf_counter() - started

tasks = {}
for dag in bag.dags.values():
    for t in dag.tasks:
        node = (getattr(t, "extra_context", None) or {}).get("dbt_node_config") or {}
        tasks[t.task_id] = {
            "upstream": sorted(t.upstream_task_ids),
            "type": type(t).__name__,
            "retries": t.retries,
            "backoff": t.retry_exponential_backoff,
            "retry_delay_s": t.retry_delay.total_seconds(),
            "trigger_rule": str(t.trigger_rule.value if hasattr(t.trigger_rule, "value") else t.trigger_rule),
            "select": getattr(t, "select", None),
            "exclude": getattr(t, "exclude", None),
            "indirect_selection": getattr(t, "indirect_selection", None),
            "vars": getattr(t, "vars", None),
            "dbt_node": node.get("unique_id"),
            "outlets": [type(o).__name__ + ":" + getattr(o, "name", "") for o in t.outlets],
            "sql": getattr(t, "sql", None),
            "poke_interval": getattr(t, "poke_interval", None),
            "dbt_cmd_flags": getattr(t, "dbt_cmd_flags", None),
            "threads": t.profile_config.profile_mapping.profile_args.get("threads")
            if getattr(t, "profile_config", None) else None,
        }
info = {
    "dag_ids": sorted(bag.dags),
    "import_errors": {str(k): v for k, v in bag.import_errors.items()},
    "warnings": {str(k): list(v) for k, v in bag.captured_warnings.items()},
    "attempts": attempts,
    "blocked_imports": blocked,
    "seconds": seconds,
    "tasks": tasks,
}
for d in bag.dags.values():
    info["dag"] = {
        "schedule": str(d.schedule), "catchup": d.catchup, "max_active_runs": d.max_active_runs,
    }
print("PROBE:" + json.dumps(info))
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    """The manifest the DAG renders from (built as at install time; dbt parse needs no server)."""
    path = dbt.ensure_manifest(f"postgresql://growth:unused@127.0.0.1:{_closed_port()}/growth")
    return json.loads(path.read_text())


def _parse_env(home: Path, execution_mode: str) -> dict[str, str]:
    # Where the manifest is (the state folder) stays; every other Airflow or warehouse setting goes.
    keep = ("GROWTH_STATE_DIR", "GROWTH_PROJECT_DIR")
    env = {k: v for k, v in os.environ.items() if k in keep or not k.startswith(("AIRFLOW", "GROWTH_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            # A metadata database that cannot exist, a warehouse that is not there, no connection.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/missing/dir/airflow.db",
            "GROWTH_WAREHOUSE_URL": f"postgresql://growth:x@127.0.0.1:{_closed_port()}/growth",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            # as the project's Airflow has it: not Cosmos' /tmp/cosmos, which every checkout shares
            "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos-cache"),
            "GROWTH_DBT_EXECUTION_MODE": execution_mode,
        }
    )
    return env


def _parse_dag_file(home: Path, execution_mode: str, probe: str = PROBE) -> dict[str, Any]:
    """What `probe` prints of the DAG file, run in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(DAG_FILE)],
        env=_parse_env(home, execution_mode),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("PROBE:")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:] + proc.stdout[-3000:]
    return json.loads(lines[-1].removeprefix("PROBE:"))


@pytest.fixture(scope="module")
def parsed(manifest: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """growth_etl as `growth run` (airflow dags test) parses it: a dbt invocation per model task."""
    return _parse_dag_file(tmp_path_factory.mktemp("airflow_home"), "local")


@pytest.fixture(scope="module")
def parsed_watcher(manifest: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """growth_etl as a running Airflow parses it (docker/airflow.env): one dbt build of the whole project."""
    return _parse_dag_file(tmp_path_factory.mktemp("airflow_home"), "watcher")


def test_dag_imports_without_errors_warnings_or_database(parsed: dict[str, Any]) -> None:
    assert parsed["import_errors"] == {}
    assert parsed["warnings"] == {}
    assert parsed["attempts"] == [], "parsing the DAG file tried to reach a database"
    assert parsed["blocked_imports"] == [], "parsing the DAG file imported the embedded server"
    assert parsed["dag_ids"] == ["growth_etl"]
    assert parsed["dag"] == {"schedule": "@daily", "catchup": False, "max_active_runs": 1}
    print(f"growth_etl parsed in {parsed['seconds']:.2f} s (Airflow already imported)")


def test_orchestration_modules_import_without_the_embedded_server() -> None:
    """The Airflow image has no pgserver: no orchestration module imports it or the embedded server."""
    modules = ["airflow_env", "alerts", "dag_factory", "layers", "profile", "stack", "tasks"]
    code = (
        "import sys\n"
        + "\n".join(f"import growth_analytics.orchestration.{m}" for m in modules)
        + "\nprint(sorted(m for m in sys.modules if m.split('.')[0] == 'pgserver'"
        " or m == 'growth_analytics.warehouse.embedded'))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def _ancestors(tasks: dict[str, Any], task_id: str) -> set[str]:
    seen: set[str] = set()
    stack = list(tasks[task_id]["upstream"])
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(tasks[current]["upstream"])
    return seen


def test_flow_is_schemas_loads_layers_checks_report_docs(parsed: dict[str, Any]) -> None:
    tasks = parsed["tasks"]
    up = {task_id: set(task["upstream"]) for task_id, task in tasks.items()}
    assert up["create_schemas"] == set()
    for task_id in ("load_sessions", "load_conversions", "load_spend", "elementary_models"):
        assert up[task_id] == {"create_schemas"}
    # The two feeds load in parallel.
    assert "load_sessions" not in _ancestors(tasks, "load_conversions")
    assert "load_conversions" not in _ancestors(tasks, "load_sessions")

    groups = [f"dbt_{layer.name}" for layer in LAYERS]
    members = {group: [t for t in tasks if t.startswith(group + ".")] for group in groups}
    assert all(members.values()), members
    for group in groups:
        checks = f"{group}.critical_checks"
        assert tasks[checks]["type"] == "DbtTestLocalOperator"
        # Every node of the layer runs before its checks ...
        nodes = [t for t in members[group] if t != checks]
        assert set(nodes) <= _ancestors(tasks, checks)
    # ... and each layer's checks gate every node of the next layer.
    for before, after in itertools.pairwise(groups):
        for task_id in members[after]:
            assert f"{before}.critical_checks" in _ancestors(tasks, task_id), (before, task_id)
    for task_id in members["dbt_staging"]:
        assert {"load_sessions", "load_conversions", "elementary_models"} <= _ancestors(tasks, task_id)

    # Freshness reads the raw feeds only: beside the dbt groups. What reads the built warehouse runs side by
    # side; Elementary's report waits for every test result.
    assert up["source_freshness"] == {"load_sessions", "load_conversions", "load_spend"}
    for task_id in ("business_tests", "dbt_docs"):
        assert up[task_id] == {f"{groups[-1]}.critical_checks"}, task_id
    # Elementary's monitors read the raw feeds: beside the dbt groups, out of the business tests.
    assert up["elementary_monitors"] == up["source_freshness"] | {"elementary_models"}
    assert tasks["business_tests"]["exclude"] == "tag:elementary"
    assert up["elementary_report"] == {"business_tests", "source_freshness", "elementary_monitors"}
    assert up["elementary_alerts"] == {"elementary_report"}
    assert up["attribution_report"] == {"dbt_mart.critical_checks"}
    # Reports are written whatever happened upstream; run_status then fails the run if anything failed.
    assert tasks["elementary_report"]["trigger_rule"] == "all_done"
    assert tasks["dbt_docs"]["trigger_rule"] == "all_done"
    assert tasks["run_status"]["trigger_rule"] == "one_failed"
    assert up["run_status"] == set(tasks) - {"run_status"}


# A Celery worker at its start, then the DAG file loaded as a task process forked from it loads it.
PREBUILT_PROBE = r"""
import json, os, sys
from airflow.dag_processing.dagbag import DagBag
from growth_analytics.orchestration import celery_config, dag_factory
from growth_analytics.orchestration.tasks import manifest_file

def load():
    bag = DagBag(dag_folder=sys.argv[1], safe_mode=True)
    assert not bag.import_errors, bag.import_errors
    return bag.dags["growth_etl"]

celery_config.prebuild_dag()
prebuilt = dag_factory.build_growth_etl()
loaded = load()
manifest = manifest_file()
version = manifest.stat()
os.utime(manifest, ns=(version.st_atime_ns, version.st_mtime_ns + 1_000_000))  # a new parse of the project
rebuilt = load()
os.utime(manifest, ns=(version.st_atime_ns, version.st_mtime_ns))
print("PROBE:" + json.dumps({
    "prebuilt_reused": loaded is prebuilt,
    "reused_after_manifest_changed": rebuilt is prebuilt,
    "same_tasks": sorted(rebuilt.task_dict) == sorted(loaded.task_dict),
    "fileloc": loaded.fileloc,
}))
"""


def test_a_worker_prebuilds_the_dag_and_its_tasks_reuse_it_until_the_manifest_changes(
    manifest: dict[str, Any], tmp_path: Path
) -> None:
    assert _parse_dag_file(tmp_path, "watcher", PREBUILT_PROBE) == {
        "prebuilt_reused": True,
        "reused_after_manifest_changed": False,
        "same_tasks": True,
        "fileloc": str(DAG_FILE),
    }


def test_every_dbt_node_is_one_task_in_dependency_order(
    parsed: dict[str, Any], manifest: dict[str, Any]
) -> None:
    tasks = parsed["tasks"]
    by_node: dict[str, list[str]] = {}
    for task_id, task in tasks.items():
        if task["dbt_node"]:
            by_node.setdefault(task["dbt_node"], []).append(task_id)
    project_nodes = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed", "snapshot")
        and node["package_name"] == "growth_analytics"
    }
    assert set(by_node) == set(project_nodes)
    assert all(len(ids) == 1 for ids in by_node.values()), by_node
    for uid, node in project_nodes.items():
        (task_id,) = by_node[uid]
        for parent in node["depends_on"].get("nodes", []):
            if parent in project_nodes:
                assert by_node[parent][0] in _ancestors(tasks, task_id), f"{parent} must run before {uid}"


def test_layer_nodes_are_the_tasks_of_each_group(parsed: dict[str, Any], manifest: dict[str, Any]) -> None:
    """The DAG factory skips a layer whose selectors take no node; each rendered group runs exactly those."""
    for layer in LAYERS:
        names = {name for _, name in layer_nodes(manifest, layer.select)}
        group = f"dbt_{layer.name}."
        tasks = {t for t in parsed["tasks"] if t.startswith(group) and not t.endswith(".critical_checks")}
        assert names and {t.removeprefix(group).rsplit("_", 1)[0] for t in tasks} == names, layer.name
    assert layer_nodes(manifest, ("path:models/no_such_layer",)) == []


def test_watcher_mode_builds_and_checks_the_project_once_and_watches_every_node(
    parsed: dict[str, Any], parsed_watcher: dict[str, Any], manifest: dict[str, Any]
) -> None:
    assert parsed_watcher["import_errors"] == {} and parsed_watcher["attempts"] == []
    tasks = parsed_watcher["tasks"]
    assert not [t for t in tasks if t.endswith(".critical_checks")], "the build runs the tests"
    group = f"dbt_{WHOLE_PROJECT.name}"
    assert {t.split(".")[0] for t in tasks if "." in t} == {group}
    producer = tasks[f"{group}.dbt_producer_watcher"]
    assert producer["type"] == "DbtProducerWatcherOperator"
    assert producer["select"] == " ".join(s for layer in LAYERS for s in layer.select)
    # The build runs the business tests too (warn: they stop nothing), not Elementary's monitors of the raw
    # feeds: in it, the staging views would wait for them.
    assert producer["exclude"] == "tag:elementary"
    assert "elementary_monitors" not in _ancestors(tasks, f"{group}.dbt_producer_watcher")
    assert "elementary_monitors" in _ancestors(tasks, "elementary_report")
    assert "business_tests" not in tasks
    assert not producer["vars"], "the project's own vars, as for `growth dbt`: one saved parse for both"
    # The build runs the tests (buildable: once all their parents are built), and neither it nor a watcher
    # retries by itself: a watcher's retry would run its model even after a failed critical test.
    flags = producer["dbt_cmd_flags"]
    assert flags[flags.index("--indirect-selection") + 1] == "buildable"
    assert flags[flags.index("test") - 1 : flags.index("test") + 1] == ["--resource-type", "test"]
    assert producer["retries"] == 0
    watched: dict[str, str] = {}
    for task_id, task in tasks.items():
        if task["dbt_node"]:
            assert task_id.startswith(group + ".")
            assert task["type"].endswith("WatcherOperator") and task["poke_interval"] == 1, task_id
            assert task["retries"] == 0, task_id
            watched[task["dbt_node"]] = task_id
    local_nodes = {task["dbt_node"] for task in parsed["tasks"].values() if task["dbt_node"]}
    assert set(watched) == local_nodes
    # The nodes' tasks keep dbt's order, as in local mode.
    for uid, task_id in watched.items():
        for parent in manifest["nodes"][uid]["depends_on"].get("nodes", []):
            if parent in watched:
                assert watched[parent] in _ancestors(tasks, task_id), (parent, uid)
    for task_id in ("elementary_report", "dbt_docs", "attribution_report"):
        assert f"{group}.dbt_producer_watcher_done" in _ancestors(tasks, task_id)
    for task_id in (t for t in tasks if t.startswith(group + ".")):
        assert {"load_sessions", "load_conversions", "elementary_models"} <= _ancestors(tasks, task_id)
    outside = {t for t in parsed["tasks"] if not t.startswith("dbt_")}
    assert outside - {"business_tests"} == {t for t in tasks if not t.startswith("dbt_")}


def test_retries_checks_and_elementary_settings(parsed: dict[str, Any]) -> None:
    tasks = parsed["tasks"]
    for task_id in ("load_sessions", "load_conversions"):
        assert tasks[task_id]["retries"] >= 1 and tasks[task_id]["backoff"] > 1
        assert tasks[task_id]["retry_delay_s"] == 30, "GROWTH_TASK_RETRY_DELAY's default"
        assert tasks[task_id]["outlets"] == [f"AssetAlias:growth_warehouse.raw.{task_id.split('_', 1)[1]}"]
    dbt_nodes = [task for task in tasks.values() if task["dbt_node"]]
    for task in dbt_nodes:
        assert task["retries"] >= 1 and task["backoff"] > 1
        assert not task["vars"], task
    checks = [tid for tid in tasks if tid.endswith(".critical_checks")]
    for task_id in checks:
        task = tasks[task_id]
        assert task["retries"] == 0, "a failed data test fails the same way again"
        assert task["exclude"] == "tag:business"
        assert task["indirect_selection"] == "buildable"
        assert not task["vars"], task_id
        assert task["threads"] == 2, "a layer's tests use dbt's threads (GROWTH_DBT_THREADS, default 2)"
    business = tasks["business_tests"]
    assert business["select"] == "tag:business" and business["retries"] == 0


@pytest.mark.parametrize(("configured", "seconds"), [("", 30.0), ("0", 0.0), (" 2.5 ", 2.5), ("600", 600.0)])
def test_task_retry_delay_setting(monkeypatch: pytest.MonkeyPatch, configured: str, seconds: float) -> None:
    monkeypatch.setenv(settings.TASK_RETRY_DELAY_ENV, configured)
    assert settings.task_retry_delay().total_seconds() == seconds


@pytest.mark.parametrize("configured", ["-1", "soon", "nan", "inf"])
def test_a_bad_task_retry_delay_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, configured: str) -> None:
    monkeypatch.setenv(settings.TASK_RETRY_DELAY_ENV, configured)
    with pytest.raises(ValueError, match=f"^GROWTH_TASK_RETRY_DELAY='{configured}': expected a number"):
        settings.task_retry_delay()


def test_create_schemas_covers_raw_and_every_dbt_schema(
    parsed: dict[str, Any], manifest: dict[str, Any]
) -> None:
    statements = " ; ".join(parsed["tasks"]["create_schemas"]["sql"])
    schemas = {
        node["schema"]
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed", "snapshot")
        and node["package_name"] == "growth_analytics"
    }
    assert {"staging", "dwh", "mart", "snapshots"} <= schemas
    for schema in {"raw", *schemas}:
        assert f'create schema if not exists "{schema}"' in statements
    assert "raw.sessions" in statements and "raw.conversions" in statements


def test_landing_files_are_told_by_their_header_and_the_rest_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = "user_id,time_started,is_paid,medium\n"
    conversions = "user_id,registration_time\n"
    for name, text in (
        ("sessions_2020-06-01.csv", sessions),
        ("sessions_2020-06-02.csv.gz", sessions),
        ("Sessions_x.CSV", sessions),
        ("registrations_2020-06-01.csv", conversions),
        ("conversions_2020-06-01.csv", conversions),
        ("sessions_wrong.csv", "user_id,time_started\n"),
        ("sessions_notes.txt", sessions),
        ("README.md", "# landing\n"),
    ):
        (tmp_path / name).write_text(text)
    (tmp_path / "sessions_dir.csv").mkdir()
    monkeypatch.setenv("GROWTH_LANDING_DIR", str(tmp_path))
    assert [p.name for p in feed_files("sessions")] == [
        "Sessions_x.CSV",
        "sessions_2020-06-01.csv",
        "sessions_2020-06-02.csv.gz",
    ]
    assert [p.name for p in feed_files("conversions")] == [
        "conversions_2020-06-01.csv",
        "registrations_2020-06-01.csv",
    ]
    _, not_taken = landing_files()
    assert [(r.status, r.message) for r in not_taken] == [
        ("ignored", "README.md: not a .csv or .csv.gz file"),
        ("ignored", "sessions_dir.csv: a folder (folders are not searched)"),
        ("ignored", "sessions_notes.txt: not a .csv or .csv.gz file"),
        (
            "refused",
            "sessions_wrong.csv: header does not fit the sessions feed (user_id,time_started,is_paid,medium):"
            " missing columns is_paid, medium",
        ),
    ]
    assert feed_files("sessions", tmp_path / "missing") == []


def test_an_unknown_execution_mode_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.DBT_EXECUTION_MODE_ENV, "Watcher ")
    assert settings.dbt_execution_mode() == "watcher"
    monkeypatch.setenv(settings.DBT_EXECUTION_MODE_ENV, "kubernetes")
    with pytest.raises(ValueError, match=r"_MODE='kubernetes': expected one of local, watcher"):
        settings.dbt_execution_mode()
    monkeypatch.delenv(settings.DBT_EXECUTION_MODE_ENV)
    assert settings.dbt_execution_mode() == "local"
    # A running Airflow (the stack, compose, standalone) runs the watcher mode: its settings say so.
    assert airflow_env.shared_settings()[settings.DBT_EXECUTION_MODE_ENV] == "watcher"


def test_airflow_env_builds_the_connection_from_the_warehouse_url(tmp_path: Path) -> None:
    url = "postgresql://growth:p%40ss%3Aword@127.0.0.1:54321/growth_db"
    env = airflow_env.airflow_env(url, home=tmp_path)
    connection = json.loads(env["AIRFLOW_CONN_GROWTH_WAREHOUSE"])
    params = WarehouseParams.from_url(url)
    assert connection == {
        "conn_type": "postgres",
        "host": "127.0.0.1",
        "port": 54321,
        "login": "growth",
        "password": "p@ss:word",
        "schema": "growth_db",
    }
    assert params.password == connection["password"]
    assert env["GROWTH_WAREHOUSE_URL"] == url
    assert env["AIRFLOW_HOME"] == str(tmp_path)
    assert Path(env["AIRFLOW__CORE__DAGS_FOLDER"]) == DAG_FILE.parent
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path / 'airflow.db'}"


def test_growth_run_with_a_broken_dbt_project_says_so_without_a_traceback(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(
        dbt.dbt_project_dir(), project / "dbt_project", ignore=shutil.ignore_patterns("target", "logs")
    )
    for name in ("dags", "docker"):
        shutil.copytree(PROJECT_DIR / name, project / name)
    broken = project / "dbt_project" / "models" / "marts" / "dwh" / "dim_date.sql"
    broken.write_text("select 1 as x from {{ ref('no_such_model') }}\n")
    env = {
        **os.environ,
        "GROWTH_PROJECT_DIR": str(project),
        "GROWTH_STATE_DIR": str(tmp_path / "state"),
        "GROWTH_WAREHOUSE_URL": "postgresql://growth:secret@127.0.0.1:1/growth",
    }
    growth = Path(sys.executable).with_name("growth")
    run = subprocess.run([str(growth), "run"], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "growth run: dbt parse failed" in run.stderr
    assert "no_such_model" in run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
