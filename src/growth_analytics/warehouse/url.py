"""The warehouse URL taken apart once (:class:`WarehouseParams`), for the loader, dbt and Airflow alike."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from growth_analytics.settings import WAREHOUSE_URL_ENV


class WarehouseUrlError(ValueError):
    """``GROWTH_WAREHOUSE_URL`` (or the Airflow connection made from it) cannot be used; one line says why."""


# The libpq connection parameters dbt-postgres has a profile field for (same names): only these may appear
# in the URL's query or the connection's extra, so that the loader, dbt and Airflow all apply every one.
DBT_LIBPQ_PARAMETERS: tuple[str, ...] = (
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "connect_timeout",
    "keepalives_idle",
    "application_name",
)
_INTEGER_PARAMETERS = frozenset({"connect_timeout", "keepalives_idle"})
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Given in the URL's own parts, not its query: a second spelling could disagree with the first.
_URL_PART_PARAMETERS = frozenset({"host", "hostaddr", "port", "user", "password", "dbname"})


@dataclass(frozen=True)
class WarehouseParams:
    """A ``postgresql://`` URL taken apart: the one parser of the project.

    The loader connects with :meth:`connect_kwargs`, the dbt profile reads :meth:`dbt_env`, the Airflow
    connection carries :meth:`parameters` in its extra, and :meth:`url` puts the parts back together.
    A missing user is libpq's default (``PGUSER``, else the login name), a missing database the user's name.
    """

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str
    sslmode: str | None = None
    sslcert: str | None = None
    sslkey: str | None = None
    sslrootcert: str | None = None
    connect_timeout: int | None = None
    keepalives_idle: int | None = None
    application_name: str | None = None

    @classmethod
    def from_url(cls, url: str) -> WarehouseParams:
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in ("postgresql", "postgres"):
            raise WarehouseUrlError(f"{WAREHOUSE_URL_ENV} must be a postgresql:// URL")
        if "#" in rest:
            raise WarehouseUrlError(
                f"{WAREHOUSE_URL_ENV} has a '#': percent-encode it as %23 (in a password, say)"
            )
        rest, _, query = rest.partition("?")
        netloc, _, path = rest.partition("/")
        userinfo, at, hostport = netloc.rpartition("@")
        user, colon, password = userinfo.partition(":")
        host, port = _split_host_port(hostport)
        if "/" in path:
            raise WarehouseUrlError(
                f"{WAREHOUSE_URL_ENV}: the database name has a '/': percent-encode it as %2F"
            )
        return cls.from_parts(
            host=host,
            port=port,
            user=unquote(user) if at else None,
            password=unquote(password) if colon else None,
            dbname=unquote(path) or None,
            parameters=_parse_query(query),
        )

    @classmethod
    def from_parts(
        cls,
        host: str | None,
        port: int | str | None = None,
        user: str | None = None,
        password: str | None = None,
        dbname: str | None = None,
        parameters: Mapping[str, object] | None = None,
        source: str = WAREHOUSE_URL_ENV,
    ) -> WarehouseParams:
        """The same checks and defaults as :meth:`from_url`, for parts that come separately."""
        if not host:
            raise WarehouseUrlError(f"{source} must name a host (127.0.0.1 for a local server)")
        if "," in host:
            raise WarehouseUrlError(f"{source} names several hosts; dbt-postgres takes one")
        user = user or os.environ.get("PGUSER") or getpass.getuser()
        return cls(
            host=host,
            port=_port(port, source),
            user=user,
            password=password or "",
            dbname=dbname or user,
            **_check_parameters(parameters or {}, source),
        )

    def parameters(self) -> dict[str, str | int]:
        """The libpq parameters beyond host, port, user, password and database that are set."""
        values = {name: getattr(self, name) for name in DBT_LIBPQ_PARAMETERS}
        return {name: value for name, value in values.items() if value is not None}

    def connect_kwargs(self) -> dict[str, str | int]:
        """Keyword arguments for ``psycopg.connect`` (libpq's names)."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": self.dbname,
            **self.parameters(),
        }

    def url(self) -> str:
        """The parts as a ``postgresql://`` URL, every part percent-encoded and an IPv6 host in brackets."""
        userinfo = quote(self.user, safe="") + (":" + quote(self.password, safe="") if self.password else "")
        host = f"[{quote(self.host, safe=':')}]" if ":" in self.host else quote(self.host, safe="")
        query = "&".join(f"{name}={quote(str(value), safe='')}" for name, value in self.parameters().items())
        return f"postgresql://{userinfo}@{host}:{self.port}/{quote(self.dbname, safe='')}" + (
            f"?{query}" if query else ""
        )

    def dbt_env(self) -> dict[str, str]:
        """The environment dbt_project/profiles.yml reads: every field, empty when the URL leaves it out."""
        env = {
            DBT_FIELD_ENV["host"]: self.host,
            DBT_FIELD_ENV["port"]: str(self.port),
            DBT_FIELD_ENV["user"]: self.user,
            DBT_FIELD_ENV["password"]: self.password,
            DBT_FIELD_ENV["dbname"]: self.dbname,
        }
        for name in DBT_LIBPQ_PARAMETERS:
            value = getattr(self, name)
            env[DBT_FIELD_ENV[name]] = "" if value is None else str(value)
        return env

    def describe(self) -> str:
        """Where the warehouse is, for logs: no user or password."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}/{self.dbname}" + (f" (sslmode={self.sslmode})" if self.sslmode else "")


# The environment variables dbt_project/profiles.yml reads its fields from.
DBT_FIELD_ENV: dict[str, str] = {
    name: f"GROWTH_DBT_{name.upper()}"
    for name in ("host", "port", "user", "password", "dbname", *DBT_LIBPQ_PARAMETERS)
}


def _split_host_port(hostport: str) -> tuple[str, str | None]:
    if "," in hostport:
        raise WarehouseUrlError(f"{WAREHOUSE_URL_ENV} names several hosts; dbt-postgres takes one")
    if hostport.startswith("["):
        host, bracket, rest = hostport[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise WarehouseUrlError(
                f"{WAREHOUSE_URL_ENV}: an IPv6 host must be written [address] or [address]:port"
            )
        return unquote(host), rest[1:] or None
    host, colon, port = hostport.rpartition(":")
    if not colon:
        return unquote(hostport), None
    if ":" in host:
        raise WarehouseUrlError(f"{WAREHOUSE_URL_ENV}: write an IPv6 host in brackets, e.g. [::1]:5432")
    return unquote(host), port or None


def _port(port: int | str | None, source: str) -> int:
    if port is None or port == "":
        return 5432
    text = str(port)
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise WarehouseUrlError(f"{source}: port {text!r} is not a number from 1 to 65535")
    return int(text)


def _parse_query(query: str, source: str = WAREHOUSE_URL_ENV) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for item in query.split("&") if query else []:
        name, equals, value = item.partition("=")
        name = unquote(name)
        if not equals:
            raise WarehouseUrlError(f"{source}: parameter {name!r} has no value (write {name}=...)")
        if name in parameters:
            raise WarehouseUrlError(f"{source}: parameter {name!r} is given twice")
        parameters[name] = unquote(value)
    return parameters


def _check_parameters(parameters: Mapping[str, object], source: str) -> dict[str, str | int]:
    checked: dict[str, str | int] = {}
    for name, value in parameters.items():
        if name in _URL_PART_PARAMETERS:
            raise WarehouseUrlError(
                f"{source}: parameter {name!r} belongs in the URL itself "
                "(postgresql://user:password@host:port/dbname), not in its query"
            )
        if name not in DBT_LIBPQ_PARAMETERS:
            raise WarehouseUrlError(
                f"{source}: parameter {name!r} is not supported: dbt-postgres has no profile field for it, "
                f"so dbt would connect without it (supported: {', '.join(DBT_LIBPQ_PARAMETERS)})"
            )
        text = str(value)
        if name in _INTEGER_PARAMETERS:
            if not text.isdigit():
                raise WarehouseUrlError(f"{source}: parameter {name}={text!r} is not a whole number")
            checked[name] = int(text)
        elif name == "sslmode" and text not in SSL_MODES:
            raise WarehouseUrlError(f"{source}: sslmode={text!r} is none of {', '.join(SSL_MODES)}")
        else:
            checked[name] = text
    return checked
