"""The warehouse connection: ``GROWTH_WAREHOUSE_URL`` if set, else the embedded server's URL."""

from __future__ import annotations

import os

import psycopg

from growth_analytics.settings import WAREHOUSE_URL_ENV
from growth_analytics.warehouse.url import WarehouseParams, WarehouseUrlError


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached or set up; the message says why."""


def warehouse_url(start: bool = True) -> str:
    """``GROWTH_WAREHOUSE_URL`` if set, else the embedded server's URL (started on demand)."""
    configured = os.environ.get(WAREHOUSE_URL_ENV)
    if configured:
        warehouse_params(configured)  # refuse a URL that some of the project's clients could not follow
        return configured
    from growth_analytics.warehouse.embedded import EmbeddedPostgres  # only without a configured warehouse

    server = EmbeddedPostgres.default()
    return server.up() if start else server.url()


def warehouse_params(url: str) -> WarehouseParams:
    """The parts of a warehouse URL; a URL the project cannot use is a :class:`WarehouseError`."""
    try:
        return WarehouseParams.from_url(url)
    except WarehouseUrlError as exc:
        raise WarehouseError(str(exc)) from exc


def connect(url: str | None = None, **kwargs) -> psycopg.Connection:
    """A connection to the warehouse as the project's role; sessions run in UTC."""
    params = warehouse_params(url or warehouse_url())
    try:
        return psycopg.connect(**params.connect_kwargs(), options="-c TimeZone=UTC", **kwargs)
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise WarehouseError(f"cannot connect to the warehouse: {first_line}") from exc
