"""The ``growth_etl`` DAG: load the landing folder, build the dbt layers, check, report.

Task graph (the dbt groups hold one task per dbt node, rendered by astronomer-cosmos)::

    create_schemas >> [load_sessions, load_conversions, load_spend, elementary_models]
    elementary_models >> dbt_seeds
    [loads, elementary_models, dbt_seeds] >> dbt_staging >> dbt_dwh >> dbt_mart >> dbt_snapshots
    dbt_mart >> attribution_report (the growth report: charts over the marts)
    dbt_snapshots >> business_checks >> elementary_report >> [elementary_alerts, dbt_docs]
    every task >> run_status (fails the run, and posts the failed tasks to Slack when a webhook is set)

Each ``dbt_<layer>`` group runs its nodes (``<node>_run`` / ``_seed`` / ``_snapshot``) in dbt's dependency
order and ends with ``critical_checks``: every test of the layer except those tagged ``business``. A failed
critical check stops everything downstream, so bad data never reaches dwh or mart. Business tests
(severity warn: they never fail) and source freshness run together in ``business_checks``.

Cosmos settings and why:

- ``ExecutionMode.LOCAL`` with the dbt runner in-process: about a second per task. (WATCHER mode deadlocks
  under ``airflow dags test``.)
- ``LoadMode.DBT_MANIFEST``: the graph is read from ``target/manifest.json``, built when the project is
  installed (``growth run``, ``growth airflow``, the Docker image), never by ``dbt ls`` while the DAG file
  is parsed. Parsing touches no database and no Airflow connection.
- ``TestBehavior.NONE`` plus one explicit ``critical_checks`` test task per group (rather than
  ``AFTER_EACH``, which doubles the task count, or ``AFTER_ALL``, whose task is named after the project):
  the task selects the layer, excludes ``tag:business`` and uses dbt's *buildable* indirect selection, so
  a test runs in the first layer where all its parents exist.
- The dbt profile comes from the Airflow connection ``growth_warehouse`` (Cosmos'
  ``PostgresUserPasswordProfileMapping``, extended to every libpq parameter in the connection's extra:
  :class:`WarehouseProfileMapping`), like every other task here: the connection is the one place
  Airflow learns where the warehouse is (it is generated from ``GROWTH_WAREHOUSE_URL``).

Elementary: its on-run-end hook stores the results of every dbt invocation, so every model run and test
result of a DAG run reaches its tables. Its heavy part, the upload of the project's artifacts (models,
tests, sources, ...), is switched off in the per-node tasks with ``disable_dbt_artifacts_autoupload`` and
done once per DAG run by ``elementary_models`` (in its own target folder, so the tasks' partial parse
stays), which also creates Elementary's tables before the first result has to be stored: the seeds wait
for it. Every task sets Elementary's job variables (dag id, run id, the run's URL) before it runs dbt.
``elementary_report`` writes ``reports/elementary_report.html`` with ``edr report``; ``elementary_alerts``
sends Elementary's alerts with ``edr monitor`` when a Slack webhook is set (:mod:`growth_analytics.alerts`).
Without the Elementary packages these tasks say why (the edr tasks are skipped).

Elementary's report and the dbt docs are also produced when a check failed (that is when they matter);
``run_status`` then fails the DAG run.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import DAG, Asset, AssetAlias, TaskGroup, TriggerRule, chain, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from cosmos import (
    DbtTaskGroup,
    ExecutionConfig,
    ExecutionMode,
    LoadMode,
    ProfileConfig,
    ProjectConfig,
    RenderConfig,
    TestBehavior,
)
from cosmos import settings as cosmos_settings
from cosmos.constants import InvocationMode, SourceRenderingBehavior
from cosmos.operators.local import DbtSourceLocalOperator, DbtTestLocalOperator
from cosmos.profiles import PostgresUserPasswordProfileMapping

from growth_analytics import dbt, edr, settings
from growth_analytics.airflow_env import (
    CONN_ID,
    DAG_ID,
    DBT_PROFILE,
    DBT_PROJECT_NAME,
    DBT_TARGET,
    TASK_DBT_ARGS,
    TASK_VARS,
)
from growth_analytics.alerts import FailedRunNotifier, failed_task_ids, slack_webhook_url
from growth_analytics.schema import FEEDS, RAW_DDL

log = logging.getLogger(__name__)

DBT_TARGET_SCHEMA = "public"  # the dev target's schema in dbt_project/profiles.yml
ELEMENTARY_REPORT_NAME = "elementary_report.html"
DOCS_DIR_NAME = "dbt_docs"
BUSINESS_TAG = "tag:business"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"  # dbt's saved parse, in a target folder


@dataclass(frozen=True)
class Layer:
    """One task group of dbt nodes: its dbt selectors, in the order the groups run."""

    name: str
    select: tuple[str, ...]
    doc: str


# Intermediate models sit between the star schema and the marts (touches per registration come from the
# facts; a user's registration status needs the rule-based attribution), so they run with the marts.
LAYERS: tuple[Layer, ...] = (
    Layer("seeds", ("resource_type:seed",), "reference data: medium -> channel mapping, attribution rules"),
    Layer("staging", ("path:models/staging",), "typed, normalised, de-duplicated raw feeds"),
    Layer("dwh", ("path:models/marts/dwh",), "Kimball star schema: facts and dimensions"),
    Layer("mart", ("path:models/intermediate", "path:models/marts/mart"), "attribution marts"),
    Layer("snapshots", ("resource_type:snapshot",), "SCD2 history of dimension attributes"),
)

# Retries for tasks that can meet a passing fault (the warehouse restarting, a lock timeout). Data checks
# do not retry: a failed check fails the same way again.
RETRY_ARGS: dict[str, Any] = {
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}
NO_RETRY: dict[str, Any] = {"retries": 0}


def freeze_long_lived_objects(context: Any) -> None:
    """Before a task: move the objects alive so far out of the garbage collector's reach.

    Cosmos runs a full ``gc.collect()`` after every in-process dbt invocation. Its cost grows with every
    object alive in the process (Airflow, Cosmos and dbt modules, the DAG), about 0.8 s per task here; after
    ``gc.freeze()`` a collection only walks what the task itself created, which is what it is meant to free.
    """
    import gc

    gc.freeze()


# -- where things are ------------------------------------------------------------------------------------


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
            "`growth airflow ...` and `growth run` build it (growth_analytics.airflow_env.prepare_manifest)."
        )
    return path


def warehouse_url_from_connection(conn_id: str = CONN_ID) -> str:
    """The ``postgresql://`` URL of an Airflow connection (for the loader, dbt docs and edr)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    try:
        params = settings.WarehouseParams.from_parts(
            host=conn.host,
            port=conn.port,
            user=conn.login,
            password=conn.password,
            dbname=conn.schema,
            parameters=conn.extra_dejson,
            source=f"connection {conn_id!r}",
        )
    except settings.WarehouseUrlError as exc:
        raise AirflowFailException(str(exc)) from exc
    return params.url()


class WarehouseProfileMapping(PostgresUserPasswordProfileMapping):
    """Cosmos' postgres mapping, taking every libpq parameter of the connection's extra into the profile.

    Cosmos' own mapping takes only sslmode and keepalives_idle from extra; the connection made from
    ``GROWTH_WAREHOUSE_URL`` may carry any of :data:`settings.DBT_LIBPQ_PARAMETERS`. A connection without a
    password gets an empty one, as the loader and ``growth dbt`` do (libpq then looks in ~/.pgpass).
    """

    airflow_param_mapping: ClassVar[dict[str, str | list[str]]] = {
        **PostgresUserPasswordProfileMapping.airflow_param_mapping,
        **{name: f"extra.{name}" for name in settings.DBT_LIBPQ_PARAMETERS},
    }
    required_fields: ClassVar[list[str]] = ["host", "user", "dbname"]

    def get_dbt_value(self, name: str) -> Any:
        if name == "password":
            return self.conn.password or ""
        return super().get_dbt_value(name)

    @property
    def profile(self) -> dict[str, Any]:
        profile = super().profile
        host = str(profile.get("host") or "")
        if ":" in host:
            # OpenLineage names the models' assets postgres://<host>:<port> unbracketed, which Airflow refuses
            # after the model is built: refuse before it runs.
            raise AirflowFailException(
                f"connection {self.conn_id!r}: growth_etl's dbt tasks cannot use the IPv6 address {host} as "
                "host (their asset URIs would not parse); give the warehouse a host name, e.g. in /etc/hosts"
            )
        return profile


def table_asset(url: str, schema: str, table: str) -> Asset:
    """The asset of a warehouse table, in the URI form Cosmos uses for the dbt models."""
    params = settings.WarehouseParams.from_url(url)
    host = f"[{params.host}]" if ":" in params.host else params.host  # an IPv6 address, as in a URL
    return Asset(uri=f"postgres://{host}:{params.port}/{params.dbname}/{schema}/{table}")


# -- loading ---------------------------------------------------------------------------------------------


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


# -- Elementary and docs ---------------------------------------------------------------------------------


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    log.info("running: %s", " ".join(cmd))
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=cwd, text=True, capture_output=True, check=False)
    for line in (proc.stdout + proc.stderr).splitlines():
        log.info("%s", line)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} {cmd[1]} failed with exit code {proc.returncode} (output above)")
    log.info("done in %.1f s", time.monotonic() - started)


def target_with_installed_parse(name: str) -> Path:
    """A target folder of a task's own, starting from the parse made when the project was installed.

    dbt reuses that parse for the same vars as the per-node tasks (``TASK_DBT_ARGS``), and the project's
    target/ (the manifest the DAG renders from, the tasks' saved parse) stays as it is.
    """
    target = settings.state_dir() / name
    target.mkdir(parents=True, exist_ok=True)
    installed_parse = dbt.manifest_path().with_name(PARTIAL_PARSE_FILE)
    if installed_parse.exists():
        shutil.copy2(installed_parse, target / PARTIAL_PARSE_FILE)
    return target


def build_elementary_models() -> str:
    """Create/update Elementary's tables and upload the project's artifacts, once per DAG run.

    The artifact tables upload their contents as they are built (their post-hooks); the tasks' vars switch
    off only the on-run-end upload, which would do it a second time.
    """
    reason = edr.off_reason()
    if reason:
        log.warning("%s", reason)
        return reason
    target = target_with_installed_parse("elementary_target")
    run = ["run", "--select", "package:elementary", "--target-path", str(target), *TASK_DBT_ARGS]
    result = dbt.invoke_dbt(run, warehouse_url_from_connection())
    if not result.success:
        raise RuntimeError(f"dbt run of Elementary's models failed: {result.exception or 'output above'}")
    return "Elementary models built and artifacts uploaded"


def edr_report() -> str:
    """``edr report`` into reports/elementary_report.html; skipped (with the reason) without Elementary."""
    reason = edr.off_reason()
    if reason:
        raise AirflowSkipException(reason)
    url = warehouse_url_from_connection()
    report = settings.reports_dir() / ELEMENTARY_REPORT_NAME
    report.parent.mkdir(parents=True, exist_ok=True)
    _run(
        edr.edr_command("report", "--file-path", str(report), "--open-browser", "false"),
        env=dbt.dbt_env(url),
        cwd=dbt.active_project_dir(),
    )
    if not report.exists():
        raise RuntimeError(f"edr report finished but wrote no {report}")
    log.info("Elementary report: %s", report)
    return str(report)


def edr_monitor() -> str:
    """``edr monitor``: Elementary's alerts (failed and warned tests) to the Slack webhook, if one is set."""
    reason = edr.off_reason()
    if reason:
        raise AirflowSkipException(reason)
    webhook = slack_webhook_url()
    if not webhook:
        raise AirflowSkipException("no Slack webhook set (GROWTH_SLACK_WEBHOOK_URL): no alerts to send")
    _run(
        edr.edr_command("monitor", "--slack-webhook", webhook),
        env=dbt.dbt_env(warehouse_url_from_connection()),
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
    target = target_with_installed_parse("dbt_docs_target")
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


# -- the DAG ---------------------------------------------------------------------------------------------


def _profile_config() -> ProfileConfig:
    return ProfileConfig(
        profile_name=DBT_PROFILE,
        target_name=DBT_TARGET,
        profile_mapping=WarehouseProfileMapping(
            conn_id=CONN_ID,
            # A per-node task runs one node whatever the threads; the layers' check tasks use them all.
            profile_args={"schema": DBT_TARGET_SCHEMA, "threads": settings.dbt_threads()},
        ),
    )


def _manifest_schemas(manifest: Path) -> list[str]:
    """Schemas the dbt project writes to (read from the manifest, so they match dbt's naming)."""
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return sorted(
        {
            node["schema"]
            for node in nodes
            if node["resource_type"] in ("model", "seed", "snapshot")
            and node.get("package_name") == DBT_PROJECT_NAME
        }
    )


def _create_schemas_sql(schemas: Iterable[str]) -> list[str]:
    statements = [f'create schema if not exists "{schema}"' for schema in schemas]
    statements += [statement.strip() for statement in RAW_DDL.split(";") if statement.strip()]
    return statements


def build_growth_etl(dag_id: str = DAG_ID) -> DAG:
    project = dbt_project_path()
    manifest = manifest_file()
    profile = _profile_config()
    project_config = ProjectConfig(
        dbt_project_path=project,
        manifest_path=manifest,
        project_name=DBT_PROJECT_NAME,
        install_dbt_deps=False,
    )
    execution_config = ExecutionConfig(
        execution_mode=ExecutionMode.LOCAL,
        invocation_mode=InvocationMode.DBT_RUNNER,
    )
    dbt_task_args: dict[str, Any] = {"vars": dict(TASK_VARS)}
    # The check tasks are not rendered by a DbtTaskGroup, which would give them a cache folder for dbt's
    # partial parse: without one, each of them would parse the whole project again.
    checks_cache = Path(cosmos_settings.cache_dir) / f"{dag_id}__checks"

    def dbt_test_task(task_id: str, select: str, exclude: str | None, doc: str) -> DbtTestLocalOperator:
        return DbtTestLocalOperator(
            task_id=task_id,
            project_dir=str(project),
            profile_config=profile,
            select=select,
            exclude=exclude,
            indirect_selection="buildable",
            doc=doc,
            install_deps=False,
            invocation_mode=InvocationMode.DBT_RUNNER,
            cache_dir=checks_cache,
            **dbt_task_args,
            **NO_RETRY,
        )

    with DAG(
        dag_id=dag_id,
        description="Load sessions and registrations, build staging -> dwh -> marts with dbt, check, report.",
        schedule="@daily",
        start_date=datetime(2024, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args={
            "owner": "growth",
            "on_execute_callback": [freeze_long_lived_objects, edr.set_job_env],
            **RETRY_ARGS,
        },
        tags=["growth_analytics", "dbt", "elt"],
        doc_md=__doc__,
    ) as dag:
        create_schemas = SQLExecuteQueryOperator(
            task_id="create_schemas",
            conn_id=CONN_ID,
            sql=_create_schemas_sql(["raw", *_manifest_schemas(manifest)]),
            autocommit=True,
            show_return_value_in_logs=False,
            doc="Schemas of every layer and the raw tables (idempotent).",
        )

        loads = [
            task(task_id=f"load_{feed}", outlets=[raw_alias(feed)], doc=f"COPY new {feed} files into raw")(
                load_feed
            )(feed)
            for feed in FEEDS
        ]
        elementary_models = task(task_id="elementary_models")(build_elementary_models)()

        groups: dict[str, DbtTaskGroup] = {}
        for layer in LAYERS:
            group = DbtTaskGroup(
                group_id=f"dbt_{layer.name}",
                tooltip=layer.doc,
                project_config=project_config,
                profile_config=profile,
                execution_config=execution_config,
                render_config=RenderConfig(
                    load_method=LoadMode.DBT_MANIFEST,
                    select=list(layer.select),
                    exclude=[BUSINESS_TAG],
                    test_behavior=TestBehavior.NONE,
                    source_rendering_behavior=SourceRenderingBehavior.NONE,
                    emit_datasets=True,
                ),
                operator_args=dict(dbt_task_args),
            )
            if not group.children:  # a layer the project does not have (yet)
                dag.task_group.children.pop(group.group_id, None)
                continue
            leaves = [child for child in group.children.values() if not child.downstream_list]
            with group:
                checks = dbt_test_task(
                    "critical_checks",
                    select=" ".join(layer.select),
                    exclude=BUSINESS_TAG,
                    doc=f"Critical tests of {layer.name} (all but tag:business); failing stops downstream.",
                )
            for leaf in leaves:
                leaf >> checks
            groups[layer.name] = group

        with TaskGroup("business_checks", tooltip="severity warn: never fail the run") as business:
            business_tests = dbt_test_task(
                "business_tests",
                select=BUSINESS_TAG,
                exclude=None,
                doc="Business tests (warn; failures stored for inspection).",
            )
            freshness = DbtSourceLocalOperator(
                task_id="source_freshness",
                project_dir=str(project),
                profile_config=profile,
                doc="Freshness of the raw feeds (warn).",
                install_deps=False,
                invocation_mode=InvocationMode.DBT_RUNNER,
                cache_dir=checks_cache,
                **dbt_task_args,
                **NO_RETRY,
            )
            business_tests >> freshness

        report = task(task_id="elementary_report", trigger_rule=TriggerRule.ALL_DONE, retries=1)(edr_report)()
        alerts = task(task_id="elementary_alerts", trigger_rule=TriggerRule.ALL_DONE, retries=1)(
            edr_monitor
        )()
        docs = task(task_id="dbt_docs", trigger_rule=TriggerRule.ALL_DONE, retries=1)(dbt_docs)()
        growth_report = task(task_id="attribution_report", retries=1)(attribution_report)()

        ordered = list(groups.values())
        entry = groups.get("staging") or ordered[0]
        create_schemas >> [*loads, elementary_models]
        if "seeds" in groups:
            # Seeds wait for Elementary's tables, or their results would not reach the first report.
            create_schemas >> elementary_models >> groups["seeds"]
        [*loads, elementary_models] >> entry
        chain(*ordered)
        groups["mart"] >> growth_report
        ordered[-1] >> business >> report >> [alerts, docs]

        status = task(
            task_id="run_status",
            trigger_rule=TriggerRule.ONE_FAILED,
            retries=0,
            on_failure_callback=FailedRunNotifier(),
        )(fail_if_anything_failed)()
        [t for t in dag.tasks if t is not status.operator] >> status
    return dag
