"""Celery settings of growth_etl's workers (``[celery] celery_config_options``, set in docker/airflow.env).

Airflow's defaults, plus the modules every growth_etl task needs, imported once by each worker: a task runs
in a process forked from its worker, so it starts with the DAG's code, Cosmos and dbt already loaded.
"""

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

# The DAG factory brings the task callables, Airflow's SDK and Cosmos; the loader and dbt are imported only
# when a task runs.
PRELOADED_MODULES = (
    "growth_analytics.orchestration.dag_factory",
    "growth_analytics.load",
    "dbt.cli.main",
    "dbt.adapters.postgres",
)

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG, "imports": PRELOADED_MODULES}
