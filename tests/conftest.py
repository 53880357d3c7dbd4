"""Shared fixtures: every test run starts its own Postgres (the embedded server, on a free loopback port)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from growth_analytics.db import APP_ROLE, EmbeddedPostgres
from growth_analytics.settings import WAREHOUSE_URL_ENV

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
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A real PostgreSQL server for this test session, stopped at the end."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("warehouse") / "postgres")
    server.up()
    yield server
    server.down()


@pytest.fixture
def warehouse_url(postgres_server: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new, empty database owned by the project role; GROWTH_WAREHOUSE_URL points at it."""
    port = postgres_server.running_port()
    assert port is not None
    name = f"test_{os.getpid()}_{next(_db_counter)}"
    with psycopg.connect(postgres_server.superuser_url(port), autocommit=True) as admin:
        admin.execute(
            sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(APP_ROLE))
        )
    url = postgres_server.url(port).rsplit("/", 1)[0] + f"/{name}"
    monkeypatch.setenv(WAREHOUSE_URL_ENV, url)
    return url
