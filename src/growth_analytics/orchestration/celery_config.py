"""Celery settings of growth_etl's workers (``[celery] celery_config_options``, set in docker/airflow.env).

Airflow's defaults, plus the modules every growth_etl task needs, imported once by each worker, and the DAG
built once: a task runs in a process forked from its worker, so it starts with the DAG's code, Cosmos and dbt
loaded and the graph built.
"""

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import worker_init

# The DAG factory brings the task callables, Airflow's SDK and Cosmos; the loader and dbt are imported only
# when a task runs.
PRELOADED_MODULES = (
    "growth_analytics.orchestration.dag_factory",
    "growth_analytics.load",
    "dbt.cli.main",
    "dbt.adapters.postgres",
)

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG, "imports": PRELOADED_MODULES}


@worker_init.connect
def prebuild_dag(**_: Any) -> None:
    """Build growth_etl once in the worker, before its pool starts: the task processes inherit it."""
    from growth_analytics.orchestration.dag_factory import prebuild_growth_etl

    prebuild_growth_etl()
