"""growth_etl: the daily ELT of growth_analytics on Airflow (the DAG is built in growth_analytics.dag)."""

from growth_analytics.dag import build_growth_etl

dag = build_growth_etl()
