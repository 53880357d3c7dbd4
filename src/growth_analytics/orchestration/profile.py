"""The warehouse as the Airflow tasks see it: the URL of the connection and the dbt profile made from it."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.sdk.exceptions import AirflowFailException
from cosmos import (
    ProfileConfig,
)
from cosmos.profiles import PostgresUserPasswordProfileMapping

from growth_analytics import settings
from growth_analytics.orchestration.airflow_env import (
    CONN_ID,
    DBT_PROFILE,
    DBT_TARGET,
)
from growth_analytics.warehouse.url import DBT_LIBPQ_PARAMETERS, WarehouseParams, WarehouseUrlError

DBT_TARGET_SCHEMA = "public"  # the dev target's schema in dbt_project/profiles.yml


def warehouse_url_from_connection(conn_id: str = CONN_ID) -> str:
    """The ``postgresql://`` URL of an Airflow connection (for the loader, dbt docs and edr)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    try:
        params = WarehouseParams.from_parts(
            host=conn.host,
            port=conn.port,
            user=conn.login,
            password=conn.password,
            dbname=conn.schema,
            parameters=conn.extra_dejson,
            source=f"connection {conn_id!r}",
        )
    except WarehouseUrlError as exc:
        raise AirflowFailException(str(exc)) from exc
    return params.url()


class WarehouseProfileMapping(PostgresUserPasswordProfileMapping):
    """Cosmos' postgres mapping, taking every libpq parameter of the connection's extra into the profile.

    Cosmos' own mapping takes only sslmode and keepalives_idle from extra; the connection made from
    ``GROWTH_WAREHOUSE_URL`` may carry any of :data:`settings.DBT_LIBPQ_PARAMETERS`. A connection without a
    password gets an empty one, as the loader and ``growth dbt`` do (libpq then looks in ~/.pgpass).
    """

    airflow_param_mapping: ClassVar[dict[str, str | list[str]]] = {
        **PostgresUserPasswordProfileMapping.airflow_param_mapping,
        **{name: f"extra.{name}" for name in DBT_LIBPQ_PARAMETERS},
    }
    required_fields: ClassVar[list[str]] = ["host", "user", "dbname"]

    def get_dbt_value(self, name: str) -> Any:
        if name == "password":
            return self.conn.password or ""
        return super().get_dbt_value(name)

    @property
    def profile(self) -> dict[str, Any]:
        profile = super().profile
        host = str(profile.get("host") or "")
        if ":" in host:
            # OpenLineage names the models' assets postgres://<host>:<port> unbracketed, which Airflow refuses
            # after the model is built: refuse before it runs.
            raise AirflowFailException(
                f"connection {self.conn_id!r}: growth_etl's dbt tasks cannot use the IPv6 address {host} as "
                "host (their asset URIs would not parse); give the warehouse a host name, e.g. in /etc/hosts"
            )
        return profile


def profile_config() -> ProfileConfig:
    return ProfileConfig(
        profile_name=DBT_PROFILE,
        target_name=DBT_TARGET,
        profile_mapping=WarehouseProfileMapping(
            conn_id=CONN_ID,
            # A per-node task runs one node whatever the threads; the builds and check tasks use them all.
            profile_args={"schema": DBT_TARGET_SCHEMA, "threads": settings.dbt_threads()},
        ),
    )
