"""The raw layer: typed landing tables, the load ledger and the rejects table.

This is the contract between the loader and dbt (``source('raw', ...)``):

``raw.sessions``     user_id bigint, time_started timestamptz, is_paid boolean, medium text
``raw.conversions``  user_id bigint, registration_time timestamptz
``raw.spend``        spend_date date, medium text, spend numeric(18,4), currency char(3) (null: not sent)
each plus lineage: ``_load_id``, ``_source_file``, ``_line_number``, ``_loaded_at``.

The feeds are partitioned by ``_load_id``: every loaded file becomes one partition, built and filled in
the load's own transaction and attached just before it commits, so a file appears whole or not at all,
and removing a bad load is a ``DROP TABLE`` of its partition.

The bounds of the input contract that the warehouse relies on (a text value goes into unique indexes,
whose entries Postgres limits to about 2.7 kB; every day between the first and the last timestamp gets a
row in ``dim_date``) are defined here once; the loader rejects values outside them and CHECK constraints
on the raw tables hold them for any other writer too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg


@dataclass(frozen=True)
class Feed:
    """One CSV feed: its raw table and the source columns of its files, in canonical order."""

    name: str
    table: str
    columns: tuple[tuple[str, str], ...]  # (column, SQL type)
    optional: frozenset[str] = frozenset()  # columns a file may leave out (stored as null)
    one_value_per_file: tuple[str, ...] = ()  # columns whose values must all be equal within a file

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


SESSIONS = Feed(
    name="sessions",
    table="raw.sessions",
    columns=(
        ("user_id", "bigint"),
        ("time_started", "timestamptz"),
        ("is_paid", "boolean"),
        ("medium", "text"),
    ),
)
CONVERSIONS = Feed(
    name="conversions",
    table="raw.conversions",
    columns=(("user_id", "bigint"), ("registration_time", "timestamptz")),
)
SPEND_DECIMALS = 4
SPEND_INTEGER_DIGITS = 14
SPEND_TYPE = f"numeric({SPEND_INTEGER_DIGITS + SPEND_DECIMALS},{SPEND_DECIMALS})"
# Marketing spend per day and medium, in one currency per file (amounts are never converted).
SPEND = Feed(
    name="spend",
    table="raw.spend",
    columns=(
        ("spend_date", "date"),
        ("medium", "text"),
        ("spend", SPEND_TYPE),
        ("currency", "char(3)"),
    ),
    optional=frozenset({"currency"}),
    one_value_per_file=("currency",),
)
FEEDS: dict[str, Feed] = {feed.name: feed for feed in (SESSIONS, CONVERSIONS, SPEND)}

# The longest text value (``medium``) accepted, in characters: at most 4 bytes each in UTF-8, so that a key
# holding it stays well under Postgres' btree entry limit.
MAX_TEXT_CHARS = 256
# Accepted timestamps: EARLIEST_TIMESTAMP <= t < TIMESTAMPS_BEFORE (UTC).
EARLIEST_TIMESTAMP = datetime(1990, 1, 1, tzinfo=UTC)
TIMESTAMPS_BEFORE = datetime(2100, 1, 1, tzinfo=UTC)
TIMESTAMP_RANGE = f"[{EARLIEST_TIMESTAMP:%Y-%m-%d}, {TIMESTAMPS_BEFORE:%Y-%m-%d}) UTC"

# Header names users send that mean a canonical column (header matching is case-insensitive).
COLUMN_ALIASES = {"userid": "user_id"}

LINEAGE_COLUMNS = (
    ("_load_id", "bigint not null"),
    ("_source_file", "text not null"),
    ("_line_number", "bigint not null"),
    ("_loaded_at", "timestamptz not null"),
)


def contract_checks(feed: Feed) -> dict[str, str]:
    """CHECK constraints (name -> expression) for the contract's bounds on the feed's columns.

    The loader validates every value before it is sent; these hold the bounds that the warehouse relies on
    for rows written any other way (the rest of the contract, e.g. a non-blank medium, is the loader's).
    """
    table = feed.table.split(".")[-1]
    checks = {}
    for name, sql_type in feed.columns:
        if sql_type == "text":
            checks[f"{table}_{name}_length"] = f"char_length({name}) <= {MAX_TEXT_CHARS}"
        elif sql_type == "timestamptz":
            checks[f"{table}_{name}_range"] = (
                f"{name} >= '{EARLIEST_TIMESTAMP.isoformat()}' and {name} < '{TIMESTAMPS_BEFORE.isoformat()}'"
            )
        elif sql_type == "date":
            checks[f"{table}_{name}_range"] = (
                f"{name} >= '{EARLIEST_TIMESTAMP:%Y-%m-%d}' and {name} < '{TIMESTAMPS_BEFORE:%Y-%m-%d}'"
            )
        elif sql_type.startswith("numeric"):
            checks[f"{table}_{name}_not_negative"] = f"{name} >= 0"
    return checks


def _feed_ddl(feed: Feed) -> str:
    columns = [
        f"{name} {sql_type}" + ("" if name in feed.optional else " not null")
        for name, sql_type in feed.columns
    ]
    columns += [f"{name} {spec}" for name, spec in LINEAGE_COLUMNS]
    columns += [f"constraint {name} check ({check})" for name, check in contract_checks(feed).items()]
    body = ",\n    ".join(columns)
    return f"create table if not exists {feed.table} (\n    {body}\n) partition by list (_load_id);"


def _add_missing_checks(conn: psycopg.Connection) -> None:
    """Raw tables created before a check existed get it NOT VALID: new loads are checked, rows already
    loaded are not rescanned (and cannot make the upgrade fail)."""
    for feed in FEEDS.values():
        present = {
            name
            for (name,) in conn.execute(
                "select conname from pg_constraint where conrelid = %s::regclass and contype = 'c'",
                (feed.table,),
            )
        }
        for name, check in contract_checks(feed).items():
            if name not in present:
                conn.execute(f"alter table {feed.table} add constraint {name} check ({check}) not valid")


RAW_DDL = "\n".join(
    [
        "create schema if not exists raw;",
        """
create table if not exists raw.load_ledger (
    load_id        bigint generated always as identity primary key,
    feed           text not null,
    source_file    text not null,
    content_sha256 text not null unique,
    file_bytes     bigint not null,
    rows_read      bigint,
    rows_loaded    bigint,
    rows_rejected  bigint,
    started_at     timestamptz not null default clock_timestamp(),
    finished_at    timestamptz,
    constraint load_ledger_reconciles check (rows_read = rows_loaded + rows_rejected)
);""",
        """
create table if not exists raw.load_rejects (
    load_id     bigint not null references raw.load_ledger (load_id) on delete cascade,
    feed        text not null,
    source_file text not null,
    line_number bigint not null,
    raw_line    text not null,
    reason      text not null,
    primary key (load_id, line_number)
);""",
        *(_feed_ddl(feed) for feed in FEEDS.values()),
    ]
)


def ensure_raw_schema(conn: psycopg.Connection) -> None:
    """Create the raw schema and its tables if missing (idempotent, safe under concurrency)."""
    with conn.transaction():
        # Serialise concurrent first-time creation (CREATE ... IF NOT EXISTS can still race).
        conn.execute("select pg_advisory_xact_lock(hashtext('growth_analytics.raw_schema'))")
        conn.execute(RAW_DDL)
        _add_missing_checks(conn)
