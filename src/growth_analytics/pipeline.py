"""``growth run``: the main job, end to end in real Airflow.

1. the warehouse: ``GROWTH_WAREHOUSE_URL`` or the embedded Postgres (started on demand);
2. the dbt manifest the DAG renders from (parsed only when the project changed);
3. Airflow's metadata database (SQLite under ``.growth/airflow``), migrated;
4. ``airflow dags test growth_etl``: one complete DAG run — load the landing folder (files already in the
   ledger are skipped, so re-runs only load what is new), dbt, checks, Elementary report, dbt docs;
5. the channel attribution table (``mart.channel_attribution_monthly``) and where the reports are.

The exit status is non-zero when the DAG run failed; the full Airflow log is kept and named.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from growth_analytics import settings
from growth_analytics.orchestration import airflow_env
from growth_analytics.warehouse.url import WarehouseParams

ATTRIBUTION_TABLE = "mart.channel_attribution_monthly"


def _say(message: str) -> None:
    print(f"growth run: {message}", flush=True)


def latest_run_tasks(
    home: Path, dag_id: str = airflow_env.DAG_ID
) -> tuple[str, list[tuple[str, str, float]]]:
    """State of the latest DAG run and (task, state, seconds) of its tasks, from the metadata database."""
    with sqlite3.connect(home / "airflow.db") as meta:
        row = meta.execute(
            "select run_id, state from dag_run where dag_id = ? order by id desc limit 1", (dag_id,)
        ).fetchone()
        if row is None:
            return "none", []
        run_id, state = row
        tasks = meta.execute(
            "select task_id, coalesce(state, 'none'), coalesce(duration, 0) from task_instance "
            "where dag_id = ? and run_id = ? order by start_date is null, start_date, task_id",
            (dag_id, run_id),
        ).fetchall()
    return state, [(task_id, task_state, float(seconds)) for task_id, task_state, seconds in tasks]


def attribution_table(url: str) -> str:
    """mart.channel_attribution_monthly as a text table: channels down, months across, totals."""
    from growth_analytics.warehouse.connect import connect

    with connect(url) as conn:
        query = f"select channel, year, month, registrations from {ATTRIBUTION_TABLE} order by 1, 2, 3"
        rows = conn.execute(query).fetchall()
    if not rows:
        return f"{ATTRIBUTION_TABLE} is empty (no registrations loaded yet)."
    months = sorted({(year, month) for _, year, month, _ in rows})
    counts: dict[str, dict[tuple[int, int], float]] = {}
    for channel, year, month, registrations in rows:
        counts.setdefault(channel, {})[(year, month)] = registrations
    headers = ["channel", *(f"{year}-{month:02d}" for year, month in months), "total"]
    body = []
    for channel in sorted(counts, key=lambda name: (-sum(counts[name].values()), name)):
        values = [counts[channel].get(key, 0) for key in months]
        body.append([channel, *values, sum(values)])
    column_totals = [sum(counts[name].get(key, 0) for name in counts) for key in months]
    body.append(["total", *column_totals, sum(column_totals)])

    def cell(value: object) -> str:
        if isinstance(value, float) and not value.is_integer():
            return f"{value:,.2f}"
        return f"{value:,}" if isinstance(value, int | float) else str(value)

    table = [headers, *[[cell(value) for value in line] for line in body]]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]

    def render(line: list[str]) -> str:
        return "  ".join(
            text.ljust(width) if i == 0 else text.rjust(width)
            for i, (text, width) in enumerate(zip(line, widths, strict=True))
        )

    rule = "  ".join("-" * width for width in widths)
    lines = [render(table[0]), rule, *(render(line) for line in table[1:-1]), rule, render(table[-1])]
    return "\n".join(lines)


def report_messages(
    tasks: list[tuple[str, str, float]], reports: Path, elementary_reason: str | None
) -> list[str]:
    """Where this run's reports are.

    A report is named only when its task succeeded in this run: the file of an earlier run may be there.
    """
    from growth_analytics.report import REPORT_NAME

    succeeded = {task_id for task_id, task_state, _ in tasks if task_state == "success"}
    messages = []
    if "attribution_report" in succeeded:
        messages.append(f"Growth report: {reports / REPORT_NAME}")
    elif any(task_id == "attribution_report" for task_id, _, _ in tasks):
        messages.append(
            "the growth report was not written (task attribution_report did not succeed; see the log)"
        )
    if elementary_reason:
        messages.append(elementary_reason)
    elif "elementary_report" in succeeded:
        messages.append(f"Elementary report: {reports / 'elementary_report.html'}")
    if "dbt_docs" in succeeded:
        messages.append(f"dbt docs: {reports / 'dbt_docs' / 'index.html'}")
    elif any(task_id == "dbt_docs" for task_id, _, _ in tasks):
        messages.append("dbt docs were not written (task dbt_docs did not succeed; see the log)")
    return messages


def run(data_dir: Path | None = None) -> int:
    from growth_analytics.transform.elementary import off_reason as elementary_off_reason
    from growth_analytics.warehouse.connect import warehouse_url

    started = time.monotonic()
    url = warehouse_url()
    _say(f"warehouse {WarehouseParams.from_url(url).describe()}")
    extra_env: dict[str, str] = {}
    if data_dir is not None:
        if not data_dir.is_dir():
            print(f"growth run: --data {data_dir}: no such folder", file=sys.stderr)
            return 2
        extra_env["GROWTH_LANDING_DIR"] = str(data_dir.resolve())
    landing = Path(extra_env.get("GROWTH_LANDING_DIR") or settings.landing_dir())
    _say(f"landing folder {landing}")

    _say("dbt manifest ...")
    try:
        airflow_env.prepare_manifest(url)
    except subprocess.CalledProcessError as exc:
        print(f"growth run: dbt parse failed (exit {exc.returncode}); its errors are above", file=sys.stderr)
        return 1
    home = airflow_env.airflow_home()
    _say(f"Airflow metadata database in {home} ...")
    airflow_env.migrate(url, home)

    log_dir = home / "runs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"growth_etl_{datetime.now(UTC):%Y%m%dT%H%M%SZ}.log"
    _say(f"running {airflow_env.DAG_ID} in Airflow (airflow dags test); log: {log_path}")
    with log_path.open("w") as log:
        proc = airflow_env.dags_test(url, home, extra_env, stdout=log, stderr=log)

    state, tasks = latest_run_tasks(home)
    width = max((len(task_id) for task_id, _, _ in tasks), default=10)
    for task_id, task_state, seconds in tasks:
        print(f"  {task_id.ljust(width)}  {task_state:<16} {seconds:6.1f} s")
    failed = proc.returncode != 0 or state != "success"
    if failed:
        _say(f"the DAG run failed (state {state}); see {log_path}")
        for task_id, task_state, _ in tasks:
            if task_state == "failed":
                _say(f"failed task: {task_id}")
    else:
        print()
        print(f"Registrations by channel (rule-based attribution), {ATTRIBUTION_TABLE}:")
        print(attribution_table(url))
        print()

    for message in report_messages(tasks, settings.reports_dir(), elementary_off_reason()):
        _say(message)
    _say(f"{'failed' if failed else 'done'} in {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


def run_cli(args: argparse.Namespace) -> int:
    return run(args.data)
