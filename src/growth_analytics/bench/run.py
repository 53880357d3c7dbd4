"""``growth bench``: measure the loader, dbt and the DAG at scale (default 10M sessions).

The benchmark runs on its own embedded Postgres under the results folder (same server settings as the
project's embedded warehouse), so it never touches the user's data and starts from the same state each time.
Every figure is printed as it is measured and saved as JSON and as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from growth_analytics.bench.direct_steps import run_dag_steps_directly
from growth_analytics.bench.report import BENCH_REGISTER_SHARE, BenchReport, describe_machine, save
from growth_analytics.orchestration.layers import WITHOUT_UNIT_TESTS
from growth_analytics.settings import WAREHOUSE_URL_ENV, project_dir

if TYPE_CHECKING:
    from growth_analytics.orchestration.stack_api import FinishedRun

STACK_WORKERS = 2  # the production figures are defined with two Celery workers


@dataclass
class Measured:
    """A child process's wall time and peak resident memory."""

    seconds: float
    peak_rss_mb: float
    returncode: int
    output: str = ""


def run_measured(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Measured:
    """Run ``cmd`` and report its wall time and its own peak RSS (from wait4's rusage)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    return Measured(seconds, usage.ru_maxrss / 1024, proc.returncode, output)


def growth_command() -> list[str]:
    return [sys.executable, "-m", "growth_analytics.cli"]


def run_cli(args: argparse.Namespace) -> int:
    out = (args.out or project_dir() / "results").resolve()
    share = BENCH_REGISTER_SHARE if args.register_share is None else args.register_share
    report = run_benchmark(args.sessions, out, share)
    return 1 if report.errors else 0


def run_benchmark(sessions: int, out: Path, register_share: float = BENCH_REGISTER_SHARE) -> BenchReport:
    """Generate, floor COPY, loader, full and incremental dbt build, the DAG against the same steps direct."""
    from growth_analytics.warehouse.embedded import EmbeddedPostgres

    report = BenchReport(sessions, register_share, machine=describe_machine())
    # dbt's core project and target, and Airflow's home, of the benchmark: apart from the user's.
    os.environ["GROWTH_STATE_DIR"] = str(out / "state")
    print(f"growth bench: {sessions:,} sessions on {report.machine['description']}", flush=True)
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # The benchmark's own server, never the user's warehouse; a new cluster every run, so that no database
    # left by an earlier run (built minutes ago, not yet vacuumed) has autovacuum compete with this one.
    server = EmbeddedPostgres(out / "postgres")
    server.down()
    shutil.rmtree(server.root, ignore_errors=True)
    server.up()
    try:
        _bench_steps(report, sessions, work, server)
    except Exception as exc:  # keep what was measured so far
        report.errors.append(f"{type(exc).__name__}: {exc}")
        print(f"growth bench: {report.errors[-1]}", file=sys.stderr)
    finally:
        server.down()
    json_path, md_path = save(report, out)
    print(f"growth bench: saved {json_path} and {md_path}")
    if report.errors:
        print(f"growth bench: its data and server are kept for a look: {work}, {server.root}")
    else:
        # Every run starts from new data and a new cluster (tens of GB at 10M sessions): nothing to keep.
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(server.root, ignore_errors=True)
    return report


def _parse_for_builds(url: str) -> None:
    """Parse the project as the timed dbt commands will run it, so that they start from its partial parse.

    A dbt project that has run before starts that way; a parse with other vars or another connection (the
    Airflow tasks', another database's) would make the timed build parse the whole project first.
    """
    from growth_analytics.transform.dbt import run_dbt

    run_dbt(["parse", "--quiet"], url=url, capture=True)


def _timed_dbt(args: list[str], url: str) -> float:
    from growth_analytics.transform.dbt import run_dbt

    started = time.perf_counter()
    proc = run_dbt(args, url=url, check=False, capture=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{tail}")
    return seconds


def _slowest_nodes(limit: int = 12) -> list[dict[str, Any]]:
    from growth_analytics.transform.dbt import active_project_dir

    results = json.loads((active_project_dir() / "target" / "run_results.json").read_text())
    nodes = [{"unique_id": r["unique_id"], "seconds": float(r["execution_time"])} for r in results["results"]]
    return sorted(nodes, key=lambda n: n["seconds"], reverse=True)[:limit]


def _loaded_rows(results: list[Any]) -> int:
    return sum(r.rows_loaded or 0 for r in results)


def _bench_steps(report: BenchReport, sessions: int, work: Path, server: Any) -> None:
    from datetime import date

    from growth_analytics.bench.bare_copy import bare_copy
    from growth_analytics.generate import generate_day
    from growth_analytics.load import load_files
    from growth_analytics.orchestration import airflow_env
    from growth_analytics.transform.dbt import prepare_elementary_tables

    env = dict(os.environ)
    base = work / "base"
    print("generator ...", flush=True)
    measured = run_measured(
        [
            *growth_command(),
            "generate",
            "--out",
            str(base),
            "--sessions",
            str(sessions),
            "--register-share",
            str(report.register_share),
        ],
        env,
    )
    if measured.returncode != 0:
        raise RuntimeError(f"growth generate failed: {measured.output.strip()[-500:]}")
    report.record("generator_seconds", measured.seconds, "s")
    report.record("generator_peak_rss_mb", measured.peak_rss_mb, "MB")
    sessions_csv, conversions_csv = base / "sessions.csv", base / "conversions.csv"

    url = server.create_database("bench_direct")
    env[WAREHOUSE_URL_ENV] = url
    print("floor: bare single-stream COPY into an untyped table ...", flush=True)
    floor_seconds = bare_copy(sessions_csv, url)
    rows = sessions
    report.record("floor_session_rows_per_s", round(rows / floor_seconds), "rows/s")

    print("loader ...", flush=True)
    measured = run_measured(
        [*growth_command(), "load", "--json", str(sessions_csv), str(conversions_csv)], env
    )
    if measured.returncode != 0:
        raise RuntimeError(f"growth load failed: {measured.output.strip()[-500:]}")
    per_file = [json.loads(line) for line in measured.output.splitlines() if line.startswith("{")]
    by_feed = {f.get("feed"): f for f in per_file}
    session_file = by_feed["sessions"]
    report.record("registration_rows", by_feed["conversions"]["rows_read"])
    loader_rate = session_file["rows_read"] / session_file["seconds"]
    report.record("loader_session_rows_per_s", round(loader_rate), "rows/s")
    report.record("loader_ratio_to_floor", loader_rate / report.figures["floor_session_rows_per_s"])
    report.record("loader_command_seconds", measured.seconds, "s (both files, incl. ANALYZE)")
    report.record("loader_peak_rss_mb", measured.peak_rss_mb, "MB")

    print("dbt build, full ...", flush=True)
    prepare_elementary_tables(url, capture=True)  # as `growth dbt` does: the default selector leaves them out
    _parse_for_builds(url)
    # the dbt commands as growth_etl runs them (WITHOUT_UNIT_TESTS)
    full_build = _timed_dbt(["build", "--full-refresh", *WITHOUT_UNIT_TESTS], url)
    report.record("dbt_build_full_seconds", full_build, "s")
    report.slowest_nodes = _slowest_nodes()

    print("one more day (~1% new rows) ...", flush=True)
    day_dir = work / "day1"
    generate_day(
        day_dir,
        date(2020, 7, 1),
        sessions=max(1, sessions // 100),
        base_sessions=sessions,
        register_share=report.register_share,
    )
    started = time.perf_counter()
    day_results = load_files([day_dir], url)
    report.record("incremental_load_seconds", time.perf_counter() - started, "s")
    report.record("incremental_rows_loaded", _loaded_rows(day_results))
    report.record("dbt_incremental_seconds", _timed_dbt(["build", *WITHOUT_UNIT_TESTS], url), "s")

    print("growth_etl in Airflow (airflow dags test), fresh database ...", flush=True)
    dag_url = server.create_database("bench_dag")
    home = work / "airflow"
    airflow_env.prepare_manifest(dag_url)
    airflow_env.migrate(dag_url, home)
    started = time.perf_counter()
    proc = airflow_env.dags_test(dag_url, home, {"GROWTH_LANDING_DIR": str(base)}, capture_output=True)
    dag_seconds = time.perf_counter() - started
    if proc.returncode != 0:
        log = home / "dags_test.log"
        log.write_text(proc.stdout + proc.stderr)
        raise RuntimeError(f"growth_etl failed (its whole output: {log}): {proc.stderr.strip()[-800:]}")
    report.record("dag_run_seconds", dag_seconds, "s")

    print("the same steps directly (the DAG's dbt invocations, in-process, no Airflow), fresh database ...")
    steps_url = server.create_database("bench_steps")
    airflow_env.prepare_manifest(steps_url)
    direct_seconds = run_dag_steps_directly(steps_url, base)
    report.record("direct_steps_seconds", direct_seconds, "s")
    print("the stack's steps directly (one dbt build, as in watcher mode), fresh database ...")
    watcher_url = server.create_database("bench_watcher_steps")
    airflow_env.prepare_manifest(watcher_url)
    watcher_seconds = run_dag_steps_directly(watcher_url, base, watcher=True)
    report.record("direct_watcher_steps_seconds", watcher_seconds, "s")
    report.record("airflow_overhead_pct", (dag_seconds - direct_seconds) / direct_seconds * 100, "%")

    print("for comparison: load + one `dbt build` + freshness + docs, fresh database ...", flush=True)
    build_url = server.create_database("bench_build")
    _parse_for_builds(build_url)
    started = time.perf_counter()
    load_files([base], build_url)
    prepare_elementary_tables(build_url, capture=True)
    for args in (["build", *WITHOUT_UNIT_TESTS], ["source", "freshness"], ["docs", "generate"]):
        _timed_dbt(args, build_url)
    one_build = time.perf_counter() - started
    report.record("load_and_single_dbt_build_seconds", one_build, "s")
    report.record("per_node_tasks_cost_pct", (direct_seconds - one_build) / one_build * 100, "%")

    print(f"growth_etl triggered in a running growth stack ({STACK_WORKERS} Celery workers) ...", flush=True)
    _bench_stack(report, server, work, base, day_dir)


def _bench_stack(report: BenchReport, server: Any, work: Path, base: Path, day_dir: Path) -> None:
    """growth_etl as users run it, in a running ``growth stack``: the first run on the base files, then one
    more day; each against the same work done directly (the direct steps, the incremental ``dbt build``)."""
    from growth_analytics.orchestration.stack import METADATA_URL_ENV
    from growth_analytics.orchestration.stack_api import StackClient

    landing = work / "stack_landing"
    landing.mkdir()
    for path in base.iterdir():
        os.link(path, landing / path.name)
    env = {
        **os.environ,
        WAREHOUSE_URL_ENV: server.create_database("bench_stack"),
        METADATA_URL_ENV: server.create_database("bench_stack_metadata"),
        "GROWTH_LANDING_DIR": str(landing),
        "GROWTH_REPORTS_DIR": str(work / "stack_reports"),
    }
    started = run_measured([*growth_command(), "stack", "up", "--workers", str(STACK_WORKERS)], env)
    try:
        if started.returncode != 0:
            raise RuntimeError(f"growth stack up failed: {started.output.strip()[-800:]}")
        report.record("stack_up_seconds", started.seconds, "s")
        status = json.loads(run_measured([*growth_command(), "stack", "status", "--json"], env).output)
        client = StackClient.from_status(status)
        client.wait_for_dag()
        first = client.run_once()
        direct = report.figures["direct_watcher_steps_seconds"]
        _record_stack_run(report, "stack_first_run", first, direct)
        report.record("stack_tasks_per_worker", json.dumps(first.tasks_per_host))
        # Task seconds beyond the same work done directly, per task instance: what each task costs to run.
        overhead = (first.task_seconds - direct) / len(first.tasks)
        report.record("stack_per_task_overhead_seconds", overhead, "s")
        report.record("stack_first_run_vs_dags_test", first.duration_s / report.figures["dag_run_seconds"])
        for path in day_dir.iterdir():
            os.link(path, landing / path.name)
        day = client.run_once()
        _record_stack_run(report, "stack_day_run", day, report.figures["dbt_incremental_seconds"])
    finally:
        run_measured([*growth_command(), "stack", "down"], env)


def _record_stack_run(report: BenchReport, name: str, run: FinishedRun, baseline: float) -> None:
    if run.state != "success":
        raise RuntimeError(f"{name}: growth_etl {run.state}; not successful: {run.unsuccessful}")
    report.record(f"{name}_seconds", run.duration_s, "s")
    report.record(f"{name}_ratio", run.duration_s / baseline)
    report.record(f"{name}_task_seconds", run.task_seconds, f"s in {len(run.tasks)} task instances")
