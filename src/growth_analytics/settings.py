"""Where things live and which warehouse to talk to.

Everything is derived from a few environment variables so that the loader, dbt and Airflow agree:

- ``GROWTH_WAREHOUSE_URL``: a ``postgresql://`` URL. When unset, the embedded Postgres under
  ``<project>/.growth/postgres`` is used (see :mod:`growth_analytics.db`).
- ``GROWTH_PROJECT_DIR``: the repository root (defaults to the checkout this package was installed from).
- ``GROWTH_STATE_DIR``: where local state lives (default ``<project>/.growth``).
- ``GROWTH_DBT_THREADS``: dbt's threads, for ``dbt`` on the command line and in growth_etl alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

WAREHOUSE_URL_ENV = "GROWTH_WAREHOUSE_URL"
PROJECT_DIR_ENV = "GROWTH_PROJECT_DIR"
DBT_THREADS_ENV = "GROWTH_DBT_THREADS"


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


def landing_dir() -> Path:
    """Folder the growth_etl DAG loads from (``GROWTH_LANDING_DIR``, default ``data/``)."""
    return Path(os.environ.get("GROWTH_LANDING_DIR") or project_dir() / "data").resolve()


def reports_dir() -> Path:
    return Path(os.environ.get("GROWTH_REPORTS_DIR") or project_dir() / "reports").resolve()


@dataclass(frozen=True)
class WarehouseParams:
    """The parts of a ``postgresql://`` URL, as dbt profiles and Airflow connections want them."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> WarehouseParams:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError(f"{WAREHOUSE_URL_ENV} must be a postgresql:// URL, got scheme {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError(f"{WAREHOUSE_URL_ENV} must name a host (127.0.0.1 for a local server)")
        return cls(
            host=parts.hostname,
            port=parts.port or 5432,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            dbname=unquote(parts.path.lstrip("/")) or "postgres",
        )
