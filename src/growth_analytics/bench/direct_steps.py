"""growth_etl's steps without Airflow: the same loads and dbt invocations in order (Airflow's share)."""

from __future__ import annotations

import json
import time
from pathlib import Path


def run_dag_steps_directly(url: str, landing: Path, watcher: bool = False) -> float:
    """Seconds for growth_etl's steps without Airflow: the same loads and dbt invocations, in order.

    dbt runs in-process (dbtRunner) with the tasks' vars, as the DAG's Cosmos tasks do; Elementary's steps
    are left out on both sides when its package is not installed. ``watcher``: as the watcher mode runs
    them, one ``dbt build`` of every node and data test.
    """
    from growth_analytics.load import load_files
    from growth_analytics.orchestration import airflow_env
    from growth_analytics.orchestration.layers import (
        BUSINESS_TAG,
        LAYERS,
        WHOLE_PROJECT,
        WITHOUT_UNIT_TESTS,
        layer_nodes,
    )
    from growth_analytics.orchestration.tasks import feed_files
    from growth_analytics.transform import dbt, elementary
    from growth_analytics.warehouse.connect import connect
    from growth_analytics.warehouse.raw_schema import ensure_raw_schema

    manifest = json.loads(dbt.manifest_path().read_text())

    def invoke(*args: str) -> None:
        result = dbt.invoke_dbt([*args, *airflow_env.TASK_DBT_ARGS], url)
        if not result.success and args[0] != "source":
            raise RuntimeError(f"dbt {' '.join(args)} failed: {result.exception}")

    started = time.perf_counter()
    with connect(url) as conn:
        ensure_raw_schema(conn)
    for feed in ("sessions", "conversions"):
        load_files(feed_files(feed, landing), url)
    if dbt.elementary_installed():
        # in a target folder of its own, as growth_etl's elementary_models builds them
        own_target = ("--target-path", str(dbt.target_with_installed_parse(dbt.ELEMENTARY_TARGET)))
        elementary.bring_tables_up_to_date(url, manifest, lambda args: invoke(*args, *own_target))
    invoke("source", "freshness")
    if watcher:
        buildable = ("--indirect-selection", "buildable", *WITHOUT_UNIT_TESTS)
        invoke("build", "--select", *WHOLE_PROJECT.select, *buildable)
    else:
        commands = {"model": "run", "seed": "seed", "snapshot": "snapshot"}
        for layer in LAYERS:
            for resource_type, name in layer_nodes(manifest, layer.select):
                invoke(commands[resource_type], "--select", name)
            critical = ("--exclude", BUSINESS_TAG, "--indirect-selection", "buildable", *WITHOUT_UNIT_TESTS)
            invoke("test", "--select", *layer.select, *critical)
        invoke("test", "--select", BUSINESS_TAG)
    invoke("docs", "generate")
    return time.perf_counter() - started
