"""Loads and builds interleaved as production interleaves them, each ending equal to a clean full build.

growth_etl runs every dbt node as its own task, and files land whenever they land: a load can commit between
any two nodes of a build, a slow load can commit after a newer one started, and a build can be killed in any
node. Each case below ends with a plain build that must pass its critical tests, and then every modelled
table must equal what a full refresh of the same raw data gives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from dbt_cases import DWH_TABLES, MART_TABLES, query, run_dbt_in, run_results, table_contents

from growth_analytics.load import load_files
from growth_analytics.transform.dbt import active_project_dir, dbt_env, dbt_executable

PROJECT_DIR = Path(__file__).resolve().parents[1]
SAMPLE = sorted((PROJECT_DIR / "data").glob("*.csv"))
MODELLED_TABLES = DWH_TABLES + MART_TABLES
GROWTH = str(Path(sys.executable).parent / "growth")


def _days(first: str, last: str) -> list[Path]:
    return [p for p in SAMPLE if first <= p.stem.split("_", 1)[1] <= last]


def _load(paths: list[Path], url: str) -> None:
    results = load_files(paths, url=url)
    assert all(r.load_id is not None for r in results), [r.message for r in results]


def _build(target: Path, *args: str) -> None:
    build = run_dbt_in(target, "build", *args, check=False)
    assert build.returncode == 0, build.stdout[-4000:]


def assert_equal_to_a_full_refresh(url: str, target: Path) -> None:
    """A plain build passes; then every modelled table is what a full refresh of the same raw data gives."""
    _build(target)
    incremental = {table: table_contents(url, table) for table in MODELLED_TABLES}
    _build(target, "--full-refresh")
    for table in MODELLED_TABLES:
        full = table_contents(url, table)
        assert full, f"{table} is empty"
        assert incremental[table] == full, f"{table}: differs from a full refresh of the same raw data"


def _all_raw_sessions_modelled(url: str) -> None:
    """Every distinct raw session is in fct_sessions (independently of the audits dbt keeps)."""
    [(missing,)] = query(
        url,
        "select count(*) from (select distinct user_id, time_started, upper(trim(medium)), is_paid"
        " from raw.sessions) as r where not exists (select 1 from dwh.fct_sessions as f"
        " where f.user_id = r.user_id and f.time_started = r.time_started and f.is_paid = r.is_paid)",
    )
    assert missing == 0, f"{missing} raw sessions never reached fct_sessions"


# --- a load that commits after a newer one -----------------------------------------------------------


def _slow_sessions_file(folder: Path, lines: int) -> Path:
    """A large sessions file (the sample's first day, repeated): its load runs long enough to be paused."""
    header, *rows = _days("2020-05-01", "2020-05-01")[0].read_text().splitlines()
    rows = [row for row in rows if row]
    body = "\n".join(rows[i % len(rows)] for i in range(lines))
    path = folder / "sessions_slow.csv"
    path.write_text(f"{header}\n{body}\n")
    return path


def _ledger_writer(url: str) -> int | None:
    """The backend of a load that holds an uncommitted ledger row (it took its load id), if any."""
    rows = query(
        url,
        "select l.pid from pg_locks as l where l.relation = 'raw.load_ledger'::regclass"
        " and l.mode = 'RowExclusiveLock' and l.granted and l.pid <> pg_backend_pid()",
    )
    return rows[0][0] if rows else None


@contextmanager
def _paused_load(path: Path, url: str) -> Iterator[subprocess.Popen[str]]:
    """`growth load PATH` stopped (SIGSTOP) after it took its load id and before it commits."""
    load = subprocess.Popen([GROWTH, "load", str(path)], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while _ledger_writer(url) is None:
            assert load.poll() is None, "the load finished before it could be paused; make the file larger"
            assert time.monotonic() < deadline, "the load never started"
            time.sleep(0.002)
        os.kill(load.pid, signal.SIGSTOP)
        yield load
    finally:
        os.kill(load.pid, signal.SIGCONT)
        load.wait(timeout=300)


@pytest.mark.slow
def test_a_load_that_commits_after_a_newer_one_is_modelled(warehouse_url: str, tmp_path: Path) -> None:
    target = tmp_path / "target"
    _load(_days("2020-05-02", "2020-05-06"), warehouse_url)
    _build(target)

    slow = _slow_sessions_file(tmp_path, 400_000)
    with _paused_load(slow, warehouse_url) as paused:
        # A newer day arrives while the slow load is paused mid-load, and a build runs.
        newer = subprocess.Popen(
            [GROWTH, "load", *map(str, _days("2020-05-11", "2020-05-11"))], stdout=subprocess.PIPE, text=True
        )
        time.sleep(3)
        _build(target)
    assert paused.returncode == 0
    assert newer.wait(timeout=300) == 0
    [(slow_load, newer_load)] = query(
        warehouse_url,
        "select max(load_id) filter (where source_file = 'sessions_slow.csv'),"
        " max(load_id) filter (where source_file = 'sessions_2020-05-11.csv') from raw.load_ledger",
    )
    assert slow_load < newer_load

    assert_equal_to_a_full_refresh(warehouse_url, target)
    _all_raw_sessions_modelled(warehouse_url)


# --- a load that commits between two nodes of a build ------------------------------------------------

# Where growth_etl's per-node tasks can be when a load commits: the build has run up to and including these.
SPLITS = {
    "before_the_facts": "audit_load_batches",
    "between_the_sessions_fact_and_its_audit": "audit_load_batches fct_sessions fct_registrations",
    "between_the_audits": "audit_load_batches fct_sessions fct_registrations audit_session_loads",
    "between_the_marts": "+registration_attribution",
}


@pytest.mark.slow
@pytest.mark.parametrize("done", SPLITS.values(), ids=SPLITS.keys())
def test_a_load_committing_mid_build(done: str, warehouse_url: str, tmp_path: Path) -> None:
    target = tmp_path / "target"
    _load(_days("2020-05-02", "2020-05-06"), warehouse_url)
    _build(target)
    _load(_days("2020-05-11", "2020-05-11"), warehouse_url)

    # The build's first models (as growth_etl's per-model tasks run them, their checks come at the end of
    # each layer), a day committing, then the rest of the build: its critical tests pass.
    first = run_dbt_in(target, "run", "--select", *done.split(), check=False)
    assert first.returncode == 0, first.stdout[-4000:]
    _load(_days("2020-05-12", "2020-05-12"), warehouse_url)
    _build(target, "--exclude", *done.split())
    assert "fail" not in run_results(target).values()

    assert_equal_to_a_full_refresh(warehouse_url, target)
    _all_raw_sessions_modelled(warehouse_url)


# --- builds killed in a node -------------------------------------------------------------------------


def _build_killed_in(model: str, url: str, target: Path) -> None:
    """`dbt build`, killed with SIGKILL in ``model`` (schema.table), which waits for a lock held here."""
    with psycopg.connect(url) as blocker:
        blocker.execute(f"lock table {model} in access exclusive mode")
        build = subprocess.Popen(
            [dbt_executable(), "build", "--target-path", str(target)],
            cwd=active_project_dir(),
            env=dbt_env(url),
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert build.stdout is not None
        for line in build.stdout:
            if "START" in line and f" {model} " in line:
                break
        else:
            pytest.fail(f"the build never reached {model}")
        deadline = time.monotonic() + 60
        while not query(url, f"select 1 from pg_locks where relation = '{model}'::regclass and not granted"):
            assert time.monotonic() < deadline, f"the build never waited for {model}"
            time.sleep(0.05)
        os.killpg(build.pid, signal.SIGKILL)
        build.wait()
        # the killed build's connections end with it; none may commit afterwards
        query(
            url,
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = current_database() and pid <> pg_backend_pid()"
            f" and pid <> {blocker.info.backend_pid}",
        )


@pytest.mark.slow
def test_two_builds_killed_in_the_credits(warehouse_url: str, tmp_path: Path) -> None:
    target = tmp_path / "target"
    _load(_days("2020-05-02", "2020-05-06"), warehouse_url)
    _build(target)
    for day in ("2020-05-11", "2020-05-12"):
        _load(_days(day, day), warehouse_url)
        _build_killed_in("mart.attribution_credits", warehouse_url, target)
    # the scenario: the rule-based attribution moved on twice while the credits stayed where they were
    [(attribution, credits)] = query(
        warehouse_url,
        "select (select max(_registrations_load_id) from mart.registration_attribution),"
        " (select max(_registrations_load_id) from mart.attribution_credits)",
    )
    assert attribution > credits

    assert_equal_to_a_full_refresh(warehouse_url, target)


# The nodes whose interruption leaves one table ahead of another: facts, audits, dimensions, marts, snapshot.
KILL_POINTS = (
    "dwh.fct_sessions",
    "audit.audit_session_loads",
    "dwh.fct_registrations",
    "dwh.dim_user",
    "mart.registration_attribution",
    "mart.channel_performance",
    "snapshots.snap_user_registration_status",
)


@pytest.mark.slow
def test_builds_killed_node_after_node(warehouse_url: str, tmp_path: Path) -> None:
    target = tmp_path / "target"
    _load(_days("2020-05-02", "2020-05-06"), warehouse_url)
    _build(target)
    days = [
        p.stem.split("_", 1)[1] for p in _days("2020-05-07", "2020-05-31") if p.stem.startswith("sessions")
    ]
    for day, node in zip(days, KILL_POINTS, strict=False):
        _load(_days(day, day), warehouse_url)
        _build_killed_in(node, warehouse_url, target)

    assert_equal_to_a_full_refresh(warehouse_url, target)
    _all_raw_sessions_modelled(warehouse_url)
