"""The raw layer's DDL: a table per feed partitioned by ``_load_id``, the load ledger, the rejects.

Every loaded file becomes one partition, built and filled in the load's own transaction and attached just
before it commits, so a file appears whole or not at all, and removing a bad load is a ``DROP TABLE`` of its
partition. dbt reads these tables as ``source('raw', ...)``.
"""

from __future__ import annotations

import psycopg

from growth_analytics.feeds import FEEDS, Feed, contract_checks

LINEAGE_COLUMNS = (
    ("_load_id", "bigint not null"),
    ("_source_file", "text not null"),
    ("_line_number", "bigint not null"),
    ("_loaded_at", "timestamptz not null"),
)


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
