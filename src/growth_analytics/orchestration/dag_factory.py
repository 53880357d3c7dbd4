"""Builds the ``growth_etl`` DAG: loads and source freshness, Cosmos task groups of the dbt nodes with their
tests (a group per layer with its critical checks, then the business tests; or, in watcher mode, one ``dbt
build`` of the whole project), reports and the run status. The graph and the reasons for its settings are
described in docs/architecture.md."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import DAG, TriggerRule, chain, task
from cosmos import (
    DbtTaskGroup,
    ExecutionConfig,
    ExecutionMode,
    LoadMode,
    ProjectConfig,
    RenderConfig,
    TestBehavior,
)
from cosmos import settings as cosmos_settings
from cosmos.constants import InvocationMode, SourceRenderingBehavior
from cosmos.operators.local import DbtSourceLocalOperator, DbtTestLocalOperator

from growth_analytics.feeds import FEEDS
from growth_analytics.orchestration.airflow_env import (
    CONN_ID,
    DAG_ID,
    DBT_PROJECT_NAME,
)
from growth_analytics.orchestration.alerts import FailedRunNotifier
from growth_analytics.orchestration.layers import (
    BUSINESS_TAG,
    ELEMENTARY_TAG,
    LAYERS,
    WHOLE_PROJECT,
    WITHOUT_UNIT_TESTS,
    layer_nodes,
)
from growth_analytics.orchestration.profile import profile_config
from growth_analytics.orchestration.tasks import (
    attribution_report,
    build_elementary_models,
    dbt_docs,
    dbt_project_path,
    edr_monitor,
    edr_report,
    fail_if_anything_failed,
    freeze_long_lived_objects,
    load_feed,
    manifest_file,
    raw_alias,
    run_elementary_monitors,
)
from growth_analytics.settings import dbt_execution_mode, task_retry_delay
from growth_analytics.transform import elementary
from growth_analytics.warehouse.raw_schema import RAW_DDL


def retry_args() -> dict[str, Any]:
    """Retries for tasks that can meet a passing fault (the warehouse restarting, a lock timeout). Data checks
    do not retry: a failed check fails the same way again."""
    return {
        "retries": 2,
        "retry_delay": task_retry_delay(),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
    }


NO_RETRY: dict[str, Any] = {"retries": 0}


def _manifest_schemas(manifest: dict[str, Any]) -> list[str]:
    """Schemas the dbt project writes to (read from the manifest, so they match dbt's naming)."""
    nodes = manifest["nodes"].values()
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


# growth_etl as prebuilt in this process, by DAG id, with the inputs it was built from.
_prebuilt: dict[str, tuple[tuple[object, ...], DAG]] = {}


def _build_inputs() -> tuple[object, ...]:
    """What the graph is built from besides its id: the execution mode and the manifest (path and version)."""
    manifest = manifest_file()
    version = manifest.stat()
    return dbt_execution_mode(), str(manifest), version.st_mtime_ns, version.st_size


def prebuild_growth_etl(dag_id: str = DAG_ID) -> None:
    """Build growth_etl ahead of its tasks, in a process that forks them (a Celery worker, at its start).

    Each task process parses the DAG file again; forked from here, it finds the graph built from the same
    inputs and skips building it (Cosmos rendering every node from the manifest), which every task paid
    otherwise. Without a manifest there is nothing to build: the tasks then fail with manifest_file's error.
    """
    try:
        inputs = _build_inputs()
    except FileNotFoundError:
        return
    _prebuilt[dag_id] = (inputs, _build(dag_id))


def build_growth_etl(dag_id: str = DAG_ID) -> DAG:
    """growth_etl: the prebuilt graph when this process has one built from the same inputs, else a new one."""
    prebuilt = _prebuilt.get(dag_id)
    if prebuilt and prebuilt[0] == _build_inputs():
        return prebuilt[1]
    return _build(dag_id)


def _build(dag_id: str) -> DAG:
    project = dbt_project_path()
    manifest = manifest_file()
    manifest_json = json.loads(manifest.read_text())
    profile = profile_config()
    project_config = ProjectConfig(
        dbt_project_path=project,
        manifest_path=manifest,
        project_name=DBT_PROJECT_NAME,
        install_dbt_deps=False,
    )
    watcher = dbt_execution_mode() == "watcher"
    execution_config = ExecutionConfig(
        execution_mode=ExecutionMode.WATCHER if watcher else ExecutionMode.LOCAL,
        invocation_mode=InvocationMode.DBT_RUNNER,
        # The build runs the data tests (buildable: once all their parents are built; Cosmos adds models,
        # seeds and snapshots, so no unit tests); it is not retried, because a retried build steps aside
        # and its watchers would then run their models themselves.
        setup_operator_args={
            "dbt_cmd_flags": ["--resource-type", "test", "--indirect-selection", "buildable"],
            **NO_RETRY,
        }
        if watcher
        else None,
    )
    layer_args: dict[str, Any] = {}
    if watcher:
        # A model's watcher task polls for its result every second: most models take less than Cosmos' 10 s.
        layer_args["poke_interval"] = 1
        # A watcher's retry runs its model itself, also when dbt skipped the model after a failed critical
        # test; the build is the model's run, and clearing a task is the way to run one model again.
        layer_args.update(NO_RETRY)
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
            dbt_cmd_flags=list(WITHOUT_UNIT_TESTS),
            doc=doc,
            install_deps=False,
            invocation_mode=InvocationMode.DBT_RUNNER,
            cache_dir=checks_cache,
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
            "on_execute_callback": [freeze_long_lived_objects, elementary.set_job_env],
            **retry_args(),
        },
        tags=["growth_analytics", "dbt", "elt"],
        doc_md=__doc__,
    ) as dag:
        create_schemas = SQLExecuteQueryOperator(
            task_id="create_schemas",
            conn_id=CONN_ID,
            sql=_create_schemas_sql(["raw", *_manifest_schemas(manifest_json)]),
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
        monitors = task(task_id="elementary_monitors", retries=0)(run_elementary_monitors)()

        groups: dict[str, DbtTaskGroup] = {}
        for layer in (WHOLE_PROJECT,) if watcher else LAYERS:
            if not layer_nodes(manifest_json, layer.select):  # a layer the project does not have (yet)
                continue
            group = DbtTaskGroup(
                group_id=f"dbt_{layer.name}",
                tooltip=layer.doc,
                project_config=project_config,
                profile_config=profile,
                execution_config=execution_config,
                render_config=RenderConfig(
                    load_method=LoadMode.DBT_MANIFEST,
                    select=list(layer.select),
                    exclude=[ELEMENTARY_TAG] if watcher else [BUSINESS_TAG],
                    test_behavior=TestBehavior.NONE,
                    source_rendering_behavior=SourceRenderingBehavior.NONE,
                    emit_datasets=True,
                ),
                operator_args=layer_args,
            )
            if not watcher:  # a watcher layer's build runs its critical tests itself
                leaves = [child for child in group.children.values() if not child.downstream_list]
                with group:
                    checks = dbt_test_task(
                        "critical_checks",
                        select=" ".join(layer.select),
                        exclude=BUSINESS_TAG,
                        doc=f"Critical tests of {layer.name} (not tag:business); failing stops downstream.",
                    )
                leaves >> checks
            groups[layer.name] = group

        freshness = DbtSourceLocalOperator(
            task_id="source_freshness",
            project_dir=str(project),
            profile_config=profile,
            doc="Freshness of the raw feeds (warn).",
            install_deps=False,
            invocation_mode=InvocationMode.DBT_RUNNER,
            cache_dir=checks_cache,
            **NO_RETRY,
        )
        # Warn-only tests: in watcher mode the build runs them, in dbt's order, as a plain `dbt build` would.
        business = (
            None
            if watcher
            else dbt_test_task(
                "business_tests",
                select=BUSINESS_TAG,
                exclude=ELEMENTARY_TAG,
                doc="Business tests (warn; failures stored for inspection).",
            )
        )

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
        (groups.get("mart") or groups[WHOLE_PROJECT.name]) >> growth_report
        loads >> freshness
        [*loads, elementary_models] >> monitors
        # What reads the built warehouse runs side by side; Elementary's report waits for every test result.
        tested = ordered[-1] >> business if business else ordered[-1]
        [tested, freshness, monitors] >> report >> alerts
        ordered[-1] >> docs

        status = task(
            task_id="run_status",
            trigger_rule=TriggerRule.ONE_FAILED,
            retries=0,
            on_failure_callback=FailedRunNotifier(),
        )(fail_if_anything_failed)()
        [t for t in dag.tasks if t is not status.operator] >> status
    return dag
