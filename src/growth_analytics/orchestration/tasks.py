"""The callables of growth_etl's Python tasks: loading a feed, Elementary's models and report, the dbt
docs, the growth report, the run status; and where the tasks find the dbt project and its manifest."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, AssetAlias, get_current_context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from growth_analytics import settings
from growth_analytics.feeds import FEEDS
from growth_analytics.orchestration.airflow_env import (
    TASK_DBT_ARGS,
)
from growth_analytics.orchestration.alerts import failed_task_ids, slack_webhook_url
from growth_analytics.orchestration.layers import ELEMENTARY_TAG
from growth_analytics.orchestration.profile import warehouse_url_from_connection
from growth_analytics.transform import dbt, elementary
from growth_analytics.warehouse.url import WarehouseParams

log = logging.getLogger(__name__)


ELEMENTARY_REPORT_NAME = "elementary_report.html"
DOCS_DIR_NAME = "dbt_docs"


def freeze_long_lived_objects(context: Any) -> None:
    """Before a task: move the objects alive so far out of the garbage collector's reach.

    Cosmos runs a full ``gc.collect()`` after every in-process dbt invocation. Its cost grows with every
    object alive in the process (Airflow, Cosmos and dbt modules, the DAG); after ``gc.freeze()`` a
    collection only walks what the task itself created, which is what it is meant to free.
    """
    import gc

    gc.freeze()


def dbt_project_path() -> Path:
    """The dbt project the tasks run: the real one with Elementary installed, else the core copy.

    Only looks at the file system: the copy itself is prepared with the manifest, at install time.
    """
    return settings.dbt_project_dir() if dbt.elementary_installed() else dbt.core_project_dir()


def manifest_file() -> Path:
    path = dbt_project_path() / "target" / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(
            f"growth_etl: no dbt manifest at {path}. It is built when the project is installed: "
            "`growth airflow ...` and `growth run` build it "
            "(growth_analytics.orchestration.airflow_env.prepare_manifest)."
        )
    return path


def table_asset(url: str, schema: str, table: str) -> Asset:
    """The asset of a warehouse table, in the URI form Cosmos uses for the dbt models."""
    params = WarehouseParams.from_url(url)
    host = f"[{params.host}]" if ":" in params.host else params.host  # an IPv6 address, as in a URL
    return Asset(uri=f"postgres://{host}:{params.port}/{params.dbname}/{schema}/{table}")


def landing_files(landing: Path | None = None) -> tuple[dict[str, list[Path]], list[Any]]:
    """The landing folder's files by feed, told by their header as ``growth load`` does, and the result
    (a ``FileResult``, ignored or refused with the reason) for each entry that no feed takes."""
    from growth_analytics.load import sort_by_feed

    folder = landing or settings.landing_dir()
    if not folder.is_dir():
        return {}, []
    return sort_by_feed([folder])


def feed_files(feed: str, landing: Path | None = None) -> list[Path]:
    """The landing folder's files of one feed (see :func:`landing_files`)."""
    return landing_files(landing)[0].get(feed, [])


def load_feed(feed: str) -> dict[str, Any]:
    """Load the feed's files that are not in the ledger yet; a refused file fails the task.

    A file that no feed takes (its header fits neither, or it cannot be read) is refused by both load
    tasks, since it is not known whose it was; entries that are not data files by name are logged.
    """
    from growth_analytics.load import STATUS_REFUSED, load_files

    url = warehouse_url_from_connection()
    by_feed, unassigned = landing_files()
    files = by_feed.get(feed, [])
    log.info("%s: %d file(s) in %s", feed, len(files), settings.landing_dir())
    results = load_files(files, url=url) if files else []
    summary: dict[str, Any] = {"files": len(files), "loaded": 0, "skipped_duplicate": 0, "rows_loaded": 0}
    refused = []
    for result in results:
        log.info(
            "%s %s: %s (rows read %s, loaded %s, rejected %s) %s",
            result.feed,
            result.path,
            result.status,
            result.rows_read,
            result.rows_loaded,
            result.rows_rejected,
            result.message or "",
        )
        if result.status == STATUS_REFUSED:
            refused.append(result.message or f"{result.path}: refused")
            continue
        summary[result.status] = summary.get(result.status, 0) + 1
        summary["rows_loaded"] += result.rows_loaded or 0
    for entry in unassigned:
        log.warning("not loaded by any feed: %s %s", entry.status, entry.message)
        if entry.status == STATUS_REFUSED:
            refused.append(entry.message)
    summary["not_taken"] = [f"{entry.status} {entry.message}" for entry in unassigned]
    if refused:
        # Refused files are bad input, not a passing fault: fail at once, without retries.
        raise AirflowFailException("; ".join(refused))
    if summary["loaded"]:
        context = get_current_context()
        schema, table = FEEDS[feed].table.split(".")
        context["outlet_events"][raw_alias(feed)].add(table_asset(url, schema, table))
    return summary


def raw_alias(feed: str) -> AssetAlias:
    return AssetAlias(f"growth_warehouse.raw.{feed}")


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    log.info("running: %s", " ".join(cmd))
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=cwd, text=True, capture_output=True, check=False)
    for line in (proc.stdout + proc.stderr).splitlines():
        log.info("%s", line)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} {cmd[1]} failed with exit code {proc.returncode} (output above)")
    log.info("done in %.1f s", time.monotonic() - started)


def _invoke_dbt_in_own_target(target_name: str, args: list[str], url: str) -> None:
    """dbt in-process, as the tasks invoke it, in a target folder of its own (see
    :func:`dbt.target_with_installed_parse`); a failure raises."""
    target = dbt.target_with_installed_parse(target_name)
    result = dbt.invoke_dbt([*args, "--target-path", str(target), *TASK_DBT_ARGS], url)
    if not result.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed: {result.exception or 'output above'}")


def build_elementary_models() -> str:
    """Build what the run needs of Elementary's models before the project's build (see
    :func:`elementary.models_to_build`): its tables on the first run or after an upgrade, its artifact
    tables after the project changed, else nothing.

    The artifact tables upload their contents as they are built (their post-hooks); the project's vars keep
    the on-run-end hooks from uploading them again. Only the dbt package is needed here: with it installed,
    the project's Elementary tests read these tables even when edr cannot report.
    """
    reason = dbt.elementary_off_reason()
    if reason:
        log.warning("%s", reason)
        return reason
    url = warehouse_url_from_connection()
    manifest = json.loads(manifest_file().read_text())
    select = elementary.bring_tables_up_to_date(
        url, manifest, lambda args: _invoke_dbt_in_own_target(dbt.ELEMENTARY_TARGET, args, url)
    )
    if select is None:
        return "Elementary's tables are up to date, and so are the project's artifacts in them"
    return f"Elementary's models built ({select}) and the project's artifacts uploaded"


def run_elementary_monitors() -> str:
    """Elementary's monitors of the raw feeds (``dbt test`` of its tests); skipped without Elementary.

    Their results reach Elementary's tables through the invocation's own hooks, as the build's do.
    """
    reason = dbt.elementary_off_reason()
    if reason:
        raise AirflowSkipException(reason)
    _invoke_dbt_in_own_target(
        "elementary_monitors_target", ["test", "--select", ELEMENTARY_TAG], warehouse_url_from_connection()
    )
    return "Elementary's monitors ran"


def edr_report() -> str:
    """``edr report`` into reports/elementary_report.html; skipped (with the reason) without Elementary."""
    reason = elementary.off_reason()
    if reason:
        raise AirflowSkipException(reason)
    url = warehouse_url_from_connection()
    report = settings.reports_dir() / ELEMENTARY_REPORT_NAME
    report.parent.mkdir(parents=True, exist_ok=True)
    elementary.run_edr("report", "--file-path", str(report), "--open-browser", "false", url=url)
    if not report.exists():
        raise RuntimeError(f"edr report finished but wrote no {report}")
    log.info("Elementary report: %s", report)
    return str(report)


def edr_monitor() -> str:
    """``edr monitor``: Elementary's alerts (failed and warned tests) to the Slack webhook, if one is set."""
    reason = elementary.off_reason()
    if reason:
        raise AirflowSkipException(reason)
    webhook = slack_webhook_url()
    if not webhook:
        raise AirflowSkipException("no Slack webhook set (GROWTH_SLACK_WEBHOOK_URL): no alerts to send")
    # a process of its own: edr monitor's progress bar (alive_progress) hooks every stream of its process
    _run(
        elementary.edr_command("monitor", "--slack-webhook", webhook),
        env=elementary.edr_env(warehouse_url_from_connection()),
        cwd=dbt.active_project_dir(),
    )
    return "Elementary alerts sent"


def attribution_report() -> str:
    """The growth report (``growth report``): charts over the marts in reports/attribution_report.html."""
    from growth_analytics.report import write_report  # plotly: imported when the task runs, not at parse

    path = write_report(warehouse_url_from_connection())
    log.info("growth report: %s", path)
    return str(path)


def dbt_docs() -> str:
    """``dbt docs generate``; the static site is copied to reports/dbt_docs/ (index.html).

    dbt runs in the task's process, like the Cosmos tasks, and starts from the parse made when the project
    was installed (its own target folder keeps the project's manifest, which the DAG renders from, intact).
    """
    url = warehouse_url_from_connection()
    target = dbt.target_with_installed_parse("dbt_docs_target")
    generate = ["docs", "generate", "--target-path", str(target), *TASK_DBT_ARGS]
    if not dbt.invoke_dbt(generate, url).success:
        # Compiling needs every model to compile against the warehouse as it is; after a failed run
        # that may not hold, and the docs (lineage, descriptions, catalog) are still worth having.
        log.warning("dbt docs generate failed while compiling (output above): generating without compiling")
        result = dbt.invoke_dbt([*generate, "--no-compile"], url)
        if not result.success:
            raise RuntimeError(f"dbt docs generate --no-compile failed: {result.exception or 'output above'}")
    out = settings.reports_dir() / DOCS_DIR_NAME
    out.mkdir(parents=True, exist_ok=True)
    if not (target / "manifest.json").exists():  # --no-compile writes none: the parsed one serves
        shutil.copy2(dbt.manifest_path(), target / "manifest.json")
    for name in ("index.html", "manifest.json", "catalog.json"):
        shutil.copy2(target / name, out / name)
    log.info("dbt docs: %s (serve with `dbt docs serve --target-path %s`)", out / "index.html", target)
    return str(out / "index.html")


def fail_if_anything_failed() -> None:
    """Runs only when a task failed (trigger rule one_failed): fail the DAG run and name the failed tasks."""
    failed = failed_task_ids(get_current_context())
    raise AirflowFailException(f"growth_etl failed in: {', '.join(failed) or 'an upstream task'}")
