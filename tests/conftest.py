"""Shared fixtures: every test run starts its own Postgres (the embedded server, on a free loopback port)."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from growth_analytics.settings import WAREHOUSE_URL_ENV
from growth_analytics.warehouse.embedded import EmbeddedPostgres

PROJECT_DIR = Path(__file__).resolve().parents[1]
_db_counter = itertools.count(1)


@pytest.fixture(scope="session", autouse=True)
def isolated_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Local state (dbt's core project and target, Airflow home) of this test run, apart from the user's."""
    state = tmp_path_factory.mktemp("state")
    previous = os.environ.get("GROWTH_STATE_DIR")
    os.environ["GROWTH_STATE_DIR"] = str(state)
    yield state
    if previous is None:
        os.environ.pop("GROWTH_STATE_DIR", None)
    else:
        os.environ["GROWTH_STATE_DIR"] = previous


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    """A real PostgreSQL server for this test session, stopped and removed at the end.

    Its folder is not under pytest's temporary root: pytest keeps that private to the current user (and
    tightens it again whenever another pytest process starts), while under root the server runs as the
    unprivileged service user.
    """
    folder = Path(tempfile.mkdtemp(prefix="growth-test-warehouse-"))
    server = EmbeddedPostgres(folder / "postgres")
    server.up()
    yield server
    server.down()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def warehouse_url(postgres_server: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new, empty database owned by the project role; GROWTH_WAREHOUSE_URL points at it. Dropped after the
    test, so the suite's disk use stays that of one test's data, not the sum of all."""
    name = f"test_{os.getpid()}_{next(_db_counter)}"
    url = postgres_server.create_database(name)
    monkeypatch.setenv(WAREHOUSE_URL_ENV, url)
    yield url
    postgres_server.drop_database(name)
