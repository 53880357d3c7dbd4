"""The load ledger and the per-load partitions: which bytes are loaded, and a new table for each load."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

import psycopg
from psycopg import sql

from growth_analytics.feeds import (
    Feed,
)
from growth_analytics.load.results import RefusedFile
from growth_analytics.warehouse.connect import connect


def _partition_name(feed: Feed, load_id: int) -> sql.Identifier:
    return sql.Identifier("raw", f"{feed.name}_load_{load_id}")


def _create_partition(cur: psycopg.Cursor, feed: Feed, load_id: int) -> None:
    """The new partition, without the per-load constant columns (added after the COPY, catalog only)."""
    columns = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(n), sql.SQL(t), sql.SQL("" if n in feed.optional else " not null")
        )
        for n, t in feed.columns
    ]
    # ATTACH PARTITION wants the parent's CHECK constraints, by name, on the new table.
    checks = cur.execute(
        "select conname, pg_get_constraintdef(oid) from pg_constraint"
        " where conrelid = %s::regclass and contype = 'c' order by conname",
        (feed.table,),
    ).fetchall()
    # A check added to an existing parent NOT VALID holds in full on a new table.
    columns += [
        sql.SQL("constraint {} {}").format(sql.Identifier(n), sql.SQL(d.removesuffix(" NOT VALID")))
        for n, d in checks
    ]
    columns.append(sql.SQL("_line_number bigint not null"))
    # _load_id is the partition key: its CHECK lets ATTACH PARTITION skip scanning the rows.
    columns.append(
        sql.SQL("_load_id bigint not null default {id} check (_load_id = {id})").format(
            id=sql.Literal(load_id)
        )
    )
    cur.execute(
        sql.SQL("create table {} ({})").format(_partition_name(feed, load_id), sql.SQL(", ").join(columns))
    )


class _AlreadyLoaded(Exception):
    """Another loader committed the same bytes while this one waited on the ledger's unique key."""


def _ledger_entry(conn: psycopg.Connection, sha: str) -> int | None:
    row = conn.execute("select load_id from raw.load_ledger where content_sha256 = %s", (sha,)).fetchone()
    conn.commit()
    return None if row is None else int(row[0])


def _loaded_as_before(conn: psycopg.Connection, source_file: str, file_bytes: int) -> bool:
    """Whether a load of a file of this name and size is in the ledger (its bytes are likely loaded)."""
    row = conn.execute(
        "select 1 from raw.load_ledger where source_file = %s and file_bytes = %s limit 1",
        (source_file, file_bytes),
    ).fetchone()
    conn.commit()
    return row is not None


def _refuse_mixed_values(cur: psycopg.Cursor, feed: Feed, partition: sql.Identifier) -> None:
    """Refuse the file (its transaction rolls back) if a column that takes one value per file has several."""
    for column in feed.one_value_per_file:
        values = cur.execute(
            sql.SQL("select distinct {c} from {p} where {c} is not null order by 1 limit 3").format(
                c=sql.Identifier(column), p=partition
            )
        ).fetchall()
        if len(values) > 1:
            shown = ", ".join(str(value) for (value,) in values)
            raise RefusedFile(
                f"more than one {column} in the file ({shown}): one per file, none is converted"
            )


def _stop_if_loaded_elsewhere(content_hash: Future[str], url: str | None) -> Callable[[], None]:
    """For a file hashed beside its load: once the hash is known, stop if those bytes are already loaded."""
    checked = False

    def check() -> None:
        nonlocal checked
        if checked or not content_hash.done():
            return
        checked = True
        with connect(url) as other:  # this load's connection is busy with the COPY
            if _ledger_entry(other, content_hash.result()) is not None:
                raise _AlreadyLoaded

    return check
