"""growth_etl, the daily ELT on Airflow: the graph is built by growth_analytics.orchestration.dag_factory."""

from growth_analytics.orchestration.dag_factory import build_growth_etl

dag = build_growth_etl()
