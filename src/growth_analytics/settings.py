"""Where things live, from a few environment variables the loader, dbt and Airflow share.

- ``GROWTH_WAREHOUSE_URL``: a ``postgresql://`` URL. When unset, the embedded Postgres under
  ``<project>/.growth/postgres`` is used (see :mod:`growth_analytics.warehouse.embedded`).
- ``GROWTH_PROJECT_DIR``: the repository root (defaults to the checkout this package was installed from).
- ``GROWTH_STATE_DIR``: where local state lives (default ``<project>/.growth``).
- ``GROWTH_DBT_THREADS``: dbt's threads, for ``dbt`` on the command line and in growth_etl alike.
- ``GROWTH_DBT_EXECUTION_MODE``: how growth_etl runs dbt: ``local`` (the default, a dbt invocation per model
  task) or ``watcher`` (one ``dbt build`` of the project watched by a task per model; needs a triggerer).
- ``GROWTH_TASK_RETRY_DELAY``: seconds before growth_etl retries a task that can meet a passing fault (default
  30; the delay doubles at the next retry).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

WAREHOUSE_URL_ENV = "GROWTH_WAREHOUSE_URL"
PROJECT_DIR_ENV = "GROWTH_PROJECT_DIR"
DBT_THREADS_ENV = "GROWTH_DBT_THREADS"
DBT_EXECUTION_MODE_ENV = "GROWTH_DBT_EXECUTION_MODE"
DBT_EXECUTION_MODES = ("local", "watcher")
TASK_RETRY_DELAY_ENV = "GROWTH_TASK_RETRY_DELAY"


def project_dir() -> Path:
    """The repository root: dbt_project/, dags/, data/ live below it."""
    configured = os.environ.get(PROJECT_DIR_ENV)
    if configured:
        return Path(configured).resolve()
    # src/growth_analytics/settings.py -> repository root (editable install)
    return Path(__file__).resolve().parents[2]


def state_dir() -> Path:
    """Folder for local state: embedded Postgres, Airflow home, dbt's core project.

    ``GROWTH_STATE_DIR`` moves it (tests and the benchmark keep theirs apart); default ``.growth/``.
    """
    configured = os.environ.get("GROWTH_STATE_DIR")
    return Path(configured).resolve() if configured else project_dir() / ".growth"


def dbt_project_dir() -> Path:
    return project_dir() / "dbt_project"


def dbt_threads() -> int:
    """dbt's threads (``GROWTH_DBT_THREADS``, default 2 as in dbt_project/profiles.yml)."""
    return int(os.environ.get(DBT_THREADS_ENV) or 2)


def dbt_execution_mode() -> str:
    """``GROWTH_DBT_EXECUTION_MODE``: ``local`` (default) or ``watcher``."""
    mode = (os.environ.get(DBT_EXECUTION_MODE_ENV) or "local").strip().lower()
    if mode not in DBT_EXECUTION_MODES:
        expected = ", ".join(DBT_EXECUTION_MODES)
        raise ValueError(f"{DBT_EXECUTION_MODE_ENV}={mode!r}: expected one of {expected}")
    return mode


def task_retry_delay() -> timedelta:
    """``GROWTH_TASK_RETRY_DELAY``: seconds before a task's first retry (default 30)."""
    configured = (os.environ.get(TASK_RETRY_DELAY_ENV) or "30").strip()
    try:
        seconds = float(configured)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise ValueError(f"{TASK_RETRY_DELAY_ENV}={configured!r}: expected a number of seconds, 0 or more")
    return timedelta(seconds=seconds)


def landing_dir() -> Path:
    """Folder the growth_etl DAG loads from (``GROWTH_LANDING_DIR``, default ``data/``)."""
    return Path(os.environ.get("GROWTH_LANDING_DIR") or project_dir() / "data").resolve()


def reports_dir() -> Path:
    return Path(os.environ.get("GROWTH_REPORTS_DIR") or project_dir() / "reports").resolve()
