"""``growth bench``: measure the loader, dbt and the DAG at scale (default 10M sessions).

The benchmark runs on its own embedded Postgres under the results folder (same server settings as the
project's embedded warehouse), so it never touches the user's data and starts from the same state each time.
Every figure is printed as it is measured and saved as JSON and as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from growth_analytics.settings import WAREHOUSE_URL_ENV, project_dir

# The benchmark's data: about one registration per ten sessions (1M registrations at 10M sessions), a
# heavier attribution load than `growth generate`'s default of one per 25.
BENCH_REGISTER_SHARE = 0.245

# Targets of the benchmark issue, for the verdict column of the table.
TARGETS = {
    "loader_ratio_to_floor": (">=", 0.9),
    "loader_peak_rss_mb": ("<=", 300.0),
    "dbt_build_full_seconds": ("<=", 60.0),
    "dbt_incremental_seconds": ("<=", 10.0),
    "airflow_overhead_pct": ("<=", 25.0),
}


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


@dataclass
class BenchReport:
    sessions: int
    register_share: float = BENCH_REGISTER_SHARE
    machine: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    slowest_nodes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def record(self, name: str, value: Any, unit: str = "") -> None:
        self.figures[name] = value
        shown = (
            f"{value:,.2f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else value
        )
        print(f"  {name:<34} {shown} {unit}".rstrip(), flush=True)

    def to_markdown(self) -> str:
        lines = [
            f"# growth bench — {self.sessions:,} sessions, register share {self.register_share:g}",
            "",
            f"Machine: {self.machine.get('description', '')}",
            "",
            "| figure | value | target | verdict |",
            "|---|---:|---|---|",
        ]
        for name, value in self.figures.items():
            target = TARGETS.get(name)
            verdict, target_text = "", ""
            if target and isinstance(value, int | float):
                op, bound = target
                target_text = f"{op} {bound:g}"
                verdict = "met" if (value >= bound if op == ">=" else value <= bound) else "missed"
            shown = (
                f"{value:,.2f}"
                if isinstance(value, float)
                else f"{value:,}"
                if isinstance(value, int)
                else value
            )
            lines.append(f"| {name} | {shown} | {target_text} | {verdict} |")
        if self.slowest_nodes:
            lines += ["", "Slowest dbt nodes of the full build:", "", "| node | seconds |", "|---|---:|"]
            lines += [f"| {n['unique_id']} | {n['seconds']:.2f} |" for n in self.slowest_nodes]
        if self.errors:
            lines += ["", "Errors:", ""] + [f"- {e}" for e in self.errors]
        return "\n".join(lines) + "\n"


def describe_machine() -> dict[str, Any]:
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = os.cpu_count() or 0
    memory_gib = psutil.virtual_memory().total / 2**30
    return {
        "cpu": cpu,
        "cores": cores,
        "memory_gib": round(memory_gib, 1),
        "python": platform.python_version(),
        "description": f"{cores} cores ({cpu}), {memory_gib:.0f} GiB RAM, Python {platform.python_version()}",
    }


def growth_command() -> list[str]:
    return [sys.executable, "-m", "growth_analytics.cli"]


def run_cli(args: argparse.Namespace) -> int:
    out = (args.out or project_dir() / "results").resolve()
    share = BENCH_REGISTER_SHARE if args.register_share is None else args.register_share
    report = run_benchmark(args.sessions, out, share)
    return 1 if report.errors else 0


def run_benchmark(sessions: int, out: Path, register_share: float = BENCH_REGISTER_SHARE) -> BenchReport:
    """Generate, floor COPY, loader, full and incremental dbt build, the DAG against the same steps direct."""
    from growth_analytics.db import EmbeddedPostgres

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
    return report


def _parse_for_builds(url: str) -> None:
    """Parse the project as the timed dbt commands will run it, so that they start from its partial parse.

    A dbt project that has run before starts that way; a parse with other vars or another connection (the
    Airflow tasks', another database's) would make the timed build parse the whole project first (~2 s).
    """
    from growth_analytics.dbt import run_dbt

    run_dbt(["parse", "--quiet"], url=url, capture=True)


def _timed_dbt(args: list[str], url: str) -> float:
    from growth_analytics.dbt import run_dbt

    started = time.perf_counter()
    proc = run_dbt(args, url=url, check=False, capture=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-15:])
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{tail}")
    return seconds


def _slowest_nodes(limit: int = 12) -> list[dict[str, Any]]:
    from growth_analytics.dbt import active_project_dir

    results = json.loads((active_project_dir() / "target" / "run_results.json").read_text())
    nodes = [{"unique_id": r["unique_id"], "seconds": float(r["execution_time"])} for r in results["results"]]
    return sorted(nodes, key=lambda n: n["seconds"], reverse=True)[:limit]


def _loaded_rows(results: list[Any]) -> int:
    return sum(r.rows_loaded or 0 for r in results)


def _bench_steps(report: BenchReport, sessions: int, work: Path, server: Any) -> None:
    from datetime import date

    from growth_analytics import airflow_env, generate, load

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
    floor_seconds = load.bare_copy(sessions_csv, url)
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
    _parse_for_builds(url)
    report.record("dbt_build_full_seconds", _timed_dbt(["build", "--full-refresh"], url), "s")
    report.slowest_nodes = _slowest_nodes()

    print("one more day (~1% new rows) ...", flush=True)
    day_dir = work / "day1"
    generate.generate_day(
        day_dir,
        date(2020, 7, 1),
        sessions=max(1, sessions // 100),
        base_sessions=sessions,
        register_share=report.register_share,
    )
    started = time.perf_counter()
    day_results = load.load_files([day_dir], url)
    report.record("incremental_load_seconds", time.perf_counter() - started, "s")
    report.record("incremental_rows_loaded", _loaded_rows(day_results))
    report.record("dbt_incremental_seconds", _timed_dbt(["build"], url), "s")

    print("growth_etl in Airflow (airflow dags test), fresh database ...", flush=True)
    dag_url = server.create_database("bench_dag")
    home = work / "airflow"
    airflow_env.prepare_manifest(dag_url)
    airflow_env.migrate(dag_url, home)
    started = time.perf_counter()
    proc = airflow_env.run_airflow(
        ["dags", "test", airflow_env.DAG_ID],
        dag_url,
        home,
        check=False,
        extra_env={"GROWTH_LANDING_DIR": str(base)},
        capture_output=True,
    )
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
    report.record("airflow_overhead_pct", (dag_seconds - direct_seconds) / direct_seconds * 100, "%")

    print("for comparison: load + one `dbt build` + freshness + docs, fresh database ...", flush=True)
    build_url = server.create_database("bench_build")
    _parse_for_builds(build_url)
    started = time.perf_counter()
    load.load_files([base], build_url)
    for args in (["build"], ["source", "freshness"], ["docs", "generate"]):
        _timed_dbt(args, build_url)
    one_build = time.perf_counter() - started
    report.record("load_and_single_dbt_build_seconds", one_build, "s")
    report.record("per_node_tasks_cost_pct", (direct_seconds - one_build) / one_build * 100, "%")


def _layer_nodes(manifest: dict[str, Any], selectors: tuple[str, ...]) -> list[tuple[str, str]]:
    """(resource type, name) of the nodes a DAG layer renders, parents first."""
    wanted: dict[str, dict[str, Any]] = {}
    for unique_id, node in manifest["nodes"].items():
        if (
            node["resource_type"] not in ("model", "seed", "snapshot")
            or node["package_name"] != "growth_analytics"
        ):
            continue
        path = node["original_file_path"]
        for selector in selectors:
            method, value = selector.split(":", 1)
            if (method == "path" and path.startswith(value)) or (
                method == "resource_type" and node["resource_type"] == value
            ):
                wanted[unique_id] = node
    ordered: list[tuple[str, str]] = []
    done: set[str] = set()

    def visit(unique_id: str) -> None:
        if unique_id in done or unique_id not in wanted:
            return
        done.add(unique_id)
        for parent in wanted[unique_id].get("depends_on", {}).get("nodes", []):
            visit(parent)
        ordered.append((wanted[unique_id]["resource_type"], wanted[unique_id]["name"]))

    for unique_id in sorted(wanted):
        visit(unique_id)
    return ordered


def run_dag_steps_directly(url: str, landing: Path) -> float:
    """Seconds for growth_etl's steps without Airflow: the same loads and dbt invocations, in order.

    dbt runs in-process (dbtRunner) with the tasks' vars, as the DAG's Cosmos tasks do; Elementary's steps
    are left out on both sides when its package is not installed.
    """
    from growth_analytics import airflow_env, dag, db, dbt, load, schema

    manifest = json.loads(dbt.manifest_path().read_text())

    def invoke(*args: str) -> None:
        result = dbt.invoke_dbt([*args, *airflow_env.TASK_DBT_ARGS], url)
        if not result.success and args[0] != "source":
            raise RuntimeError(f"dbt {' '.join(args)} failed: {result.exception}")

    started = time.perf_counter()
    with db.connect(url) as conn:
        schema.ensure_raw_schema(conn)
    for feed in ("sessions", "conversions"):
        load.load_files(dag.feed_files(feed, landing), url)
    if dbt.elementary_installed():
        invoke("run", "--select", "package:elementary")
    for layer in dag.LAYERS:
        for resource_type, name in _layer_nodes(manifest, layer.select):
            invoke({"model": "run", "seed": "seed", "snapshot": "snapshot"}[resource_type], "--select", name)
        invoke(
            "test",
            "--select",
            *layer.select,
            "--exclude",
            dag.BUSINESS_TAG,
            "--indirect-selection",
            "buildable",
        )
    invoke("test", "--select", dag.BUSINESS_TAG)
    invoke("source", "freshness")
    invoke("docs", "generate")
    return time.perf_counter() - started


def save(report: BenchReport, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "sessions": report.sessions,
        "machine": report.machine,
        "figures": report.figures,
        "slowest_nodes": report.slowest_nodes,
        "errors": report.errors,
        "finished_at": stamp,
    }
    json_path = out / f"bench-{report.sessions}-{stamp}.json"
    md_path = json_path.with_suffix(".md")
    json_path.write_text(json.dumps(payload, indent=2))
    md_path.write_text(report.to_markdown())
    shutil.copyfile(md_path, out / "latest.md")
    return json_path, md_path
