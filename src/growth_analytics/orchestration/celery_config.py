"""Celery settings of growth_etl's workers (``[celery] celery_config_options``, set in docker/airflow.env).

Airflow's defaults, plus the modules every growth_etl task needs, imported once by each worker: a task runs
in a process forked from its worker, so it starts with the DAG's code, Cosmos and dbt already loaded.
"""

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

PRELOADED_MODULES = (
    "growth_analytics.orchestration.dag_factory",
    "growth_analytics.orchestration.tasks",
    "growth_analytics.load",
    "cosmos.operators.local",
    "dbt.cli.main",
    "dbt.adapters.postgres",
)

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG, "imports": PRELOADED_MODULES}
