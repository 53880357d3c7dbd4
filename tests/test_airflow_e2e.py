"""growth_etl end to end in real Airflow (``airflow dags test``, SQLite metadata) against real Postgres.

One warehouse and one Airflow home for the module, three DAG runs in order (through ``growth run``):

1. the first half of generated day files: the marts hold exactly the loaded registrations;
2. the second half added: only the new files are loaded (ledger), the marts reflect both halves;
3. a duplicate key in the registration facts (their unique index dropped) plus a new day of files: the
   critical checks of dwh fail the run, and the marts keep exactly what they held; the failed run is posted
   to a Slack webhook stand-in on 127.0.0.1 (with Elementary's package, so is Elementary's alert of the
   failed test).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psycopg
import pytest
from attribution_reference import MODELS
from dbt_cases import MART_TABLES, duplicate_a_registration, mart_rows
from pytest_httpserver import HTTPServer

from growth_analytics import pipeline
from growth_analytics.generate import generate, generate_day
from growth_analytics.orchestration.alerts import SLACK_WEBHOOK_ENV
from growth_analytics.transform import dbt
from growth_analytics.warehouse.embedded import EmbeddedPostgres
from growth_analytics.warehouse.url import WarehouseParams

pytestmark = pytest.mark.slow

SPLIT_DAY = date(2020, 6, 10)  # files of days before it come first, the rest in the second run
SEED = 11
BASE_SESSIONS = 2_000
NEW_DAY = date(2020, 7, 1)  # one more day of data for the failing run


@dataclass
class Stack:
    url: str
    home: Path
    landing: Path
    generated: Path
    reports: Path
    runs: list[int] = field(default_factory=list)


def _file_day(path: Path) -> date:
    return date.fromisoformat(path.name.split("_", 1)[1].split(".", 1)[0])


def _csv_rows(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        with path.open(newline="") as handle:
            total += sum(1 for _ in csv.reader(handle)) - 1  # minus the header
    return total


@pytest.fixture(scope="module")
def stack(postgres_server: EmbeddedPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    url = postgres_server.create_database(f"e2e_{os.getpid()}")
    root = tmp_path_factory.mktemp("e2e")
    stack = Stack(
        url=url,
        home=root / "airflow",
        landing=root / "landing",
        generated=root / "generated",
        reports=root / "reports",
    )
    stack.landing.mkdir()
    generate(stack.generated, sessions=BASE_SESSIONS, seed=SEED, daily=True)
    saved = {
        key: os.environ.get(key)
        for key in ("GROWTH_WAREHOUSE_URL", "GROWTH_AIRFLOW_HOME", "GROWTH_REPORTS_DIR")
    }
    os.environ.update(
        GROWTH_WAREHOUSE_URL=stack.url,
        GROWTH_AIRFLOW_HOME=str(stack.home),
        GROWTH_REPORTS_DIR=str(stack.reports),
    )
    try:
        yield stack
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _land(stack: Stack, first_half: bool) -> list[Path]:
    files = [p for p in sorted(stack.generated.glob("*.csv")) if (_file_day(p) < SPLIT_DAY) == first_half]
    for path in files:
        shutil.copy2(path, stack.landing / path.name)
    return files


def _scalar(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def _tasks(stack: Stack) -> dict[str, str]:
    _, tasks = pipeline.latest_run_tasks(stack.home)
    return {task_id: state for task_id, state, _ in tasks}


def _assert_marts_match_raw(stack: Stack) -> int:
    """Every distinct registration and session of raw is in the warehouse exactly once."""
    url = stack.url
    registrations = _scalar(
        url, "select count(*) from (select distinct user_id, registration_time from raw.conversions) r"
    )
    sessions = _scalar(
        url,
        "select count(*) from (select distinct user_id, time_started, is_paid, upper(btrim(medium)) "
        "from raw.sessions) s",
    )
    assert registrations > 0 and sessions > 0
    assert _scalar(url, "select count(*) from dwh.fct_registrations") == registrations
    assert _scalar(url, "select count(*) from dwh.fct_sessions") == sessions
    assert _scalar(url, "select count(*) from mart.registration_attribution") == registrations
    assert _scalar(url, "select sum(registrations) from mart.channel_attribution_monthly") == registrations
    # Every attribution model gives each registration a total credit of 1.
    for model in MODELS:
        total = _scalar(url, f"select round(sum({model}_credit)) from mart.attribution_credits")
        assert total == registrations, model
    return registrations


def test_first_run_loads_the_landing_folder_and_builds_the_marts(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _land(stack, first_half=True)
    assert pipeline.run(stack.landing) == 0, capsys.readouterr().out[-4000:]
    out = capsys.readouterr().out
    states = _tasks(stack)
    assert states["run_status"] == "skipped" and states["dbt_mart.critical_checks"] == "success"
    assert {state for task_id, state in states.items() if task_id.startswith("dbt_")} == {"success"}

    # Every row of the files is in raw (no bad rows were generated), and the ledger knows every file.
    assert _scalar(stack.url, "select count(*) from raw.load_ledger") == len(files)
    sessions_files = [p for p in files if p.name.startswith("sessions")]
    assert _scalar(stack.url, "select count(*) from raw.sessions") == _csv_rows(sessions_files)
    assert _scalar(stack.url, "select count(*) from raw.conversions") == _csv_rows(
        [p for p in files if p.name.startswith("conversions")]
    )
    registrations = _assert_marts_match_raw(stack)
    assert "mart.channel_attribution_monthly" in out and f"{registrations:,}" in out
    assert (stack.reports / "dbt_docs" / "index.html").exists()

    # Data-aware scheduling: the loads and the dbt models emitted assets for their tables.
    with sqlite3.connect(stack.home / "airflow.db") as meta:
        uris = {
            row[0]
            for row in meta.execute("select a.uri from asset a join asset_event e on e.asset_id = a.id")
        }
    database = stack.url.rsplit("/", 1)[1]
    for table in ("raw/sessions", "raw/conversions", "mart/channel_attribution_monthly"):
        assert any(uri.endswith(f"/{database}/{table}") for uri in uris), (table, uris)


def test_second_run_loads_only_the_new_files(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    before = _scalar(stack.url, "select coalesce(max(load_id), 0) from raw.load_ledger")
    first_files = _scalar(stack.url, "select count(*) from raw.load_ledger")
    first_registrations = _scalar(stack.url, "select count(*) from mart.registration_attribution")
    new_files = _land(stack, first_half=False)
    assert new_files

    assert pipeline.run(stack.landing) == 0, capsys.readouterr().out[-4000:]
    with psycopg.connect(stack.url) as conn:
        new_loads = conn.execute(
            "select source_file from raw.load_ledger where load_id > %s order by source_file", (before,)
        ).fetchall()
    # The ledger holds each file once: the first half was not loaded again, only the new files were.
    assert sorted(Path(name).name for (name,) in new_loads) == sorted(p.name for p in new_files)
    assert _scalar(stack.url, "select count(*) from raw.load_ledger") == first_files + len(new_files)
    registrations = _assert_marts_match_raw(stack)
    assert registrations > first_registrations


def test_critical_failure_fails_the_run_and_keeps_the_marts(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Slack webhook stand-in: the failed run is posted to it, naming the failed task.
    receiver = HTTPServer(host="127.0.0.1", port=0)
    receiver.expect_request("/slack/webhook", method="POST").respond_with_data("ok")
    receiver.start()
    monkeypatch.setenv(SLACK_WEBHOOK_ENV, receiver.url_for("/slack/webhook"))
    try:
        _critical_failure_run(stack, capsys)
    finally:
        receiver.stop()
    messages = [json.loads(request.get_data()) for request, _ in receiver.log]
    # The failed-run notifier's message is plain text; Elementary's alerts (with its package) are blocks.
    texts = [message["text"] for message in messages if "text" in message]
    assert len(texts) == 1, texts
    assert "`dbt_dwh.critical_checks`" in texts[0] and "growth_etl" in texts[0]
    if dbt.elementary_installed():
        headers = [message["blocks"][0]["text"]["text"] for message in messages if "text" not in message]
        table = f"{WarehouseParams.from_url(stack.url).dbname}.dwh.fct_registrations"
        failed = f'Failure: "unique_index_enforces" test failed on {table}'
        assert failed in headers, headers


def _critical_failure_run(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    before = mart_rows(stack.url)
    registrations_before = _scalar(stack.url, "select count(*) from dwh.fct_registrations")
    # A duplicate registration key in the fact table (a hand edit without its unique index) ...
    duplicate_a_registration(stack.url)
    # ... and a new day of data that would change every mart.
    generate_day(stack.landing, NEW_DAY, sessions=300, seed=SEED, base_sessions=BASE_SESSIONS)

    assert pipeline.run(stack.landing) == 1
    out = capsys.readouterr().out
    states = _tasks(stack)
    assert states["load_sessions"] == states["load_conversions"] == "success"
    assert {
        states[t] for t in states if t.startswith(("dbt_staging.", "dbt_dwh.")) and "checks" not in t
    } == {"success"}
    assert states["dbt_dwh.critical_checks"] == "failed"
    downstream = [t for t in states if t.startswith(("dbt_mart.", "dbt_snapshots.", "business_tests"))]
    assert downstream and {states[t] for t in downstream} == {"upstream_failed"}
    assert states["run_status"] == "failed"
    assert states["dbt_docs"] == "success"  # the reports are still produced for a failed run
    assert "failed task: dbt_dwh.critical_checks" in out
    # The facts took the new day, nothing downstream of the failed checks changed.
    assert _scalar(stack.url, "select count(*) from dwh.fct_registrations") > registrations_before + 1
    after = mart_rows(stack.url)
    for table in MART_TABLES:
        assert after[table] == before[table], f"{table} changed"
