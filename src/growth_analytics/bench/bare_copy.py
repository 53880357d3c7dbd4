"""The benchmark's floor: a bare single-stream text COPY of a file, no types, checks or lineage."""

from __future__ import annotations

import time
from pathlib import Path

from psycopg import sql

from growth_analytics.load import limits
from growth_analytics.load.header import split_csv_line
from growth_analytics.load.reader import _open_stream, read_header
from growth_analytics.warehouse.connect import connect


def bare_copy(path: Path, url: str | None = None) -> float:
    """Seconds for a bare single-stream text COPY of ``path`` into an existing all-text table.

    The floor the loader is measured against: same file, same server, no types, no checks, no lineage.
    """
    with _open_stream(path) as stream:
        header_line, _ = read_header(stream)
    ncols = len(split_csv_line(header_line.decode("utf-8", errors="replace").rstrip("\r\n")))
    table = sql.Identifier("public", f"growth_bare_copy_{ncols}")
    columns = sql.SQL(", ").join(sql.SQL(f"c{i} text") for i in range(ncols))
    with connect(url) as conn:
        conn.execute(sql.SQL("drop table if exists {}").format(table))
        conn.execute(sql.SQL("create table {} ({})").format(table, columns))
        conn.commit()  # pre-existing table: the COPY below is WAL-logged as into any live table
        try:
            started = time.perf_counter()
            with (
                _open_stream(path) as stream,
                conn.cursor().copy(
                    sql.SQL("copy {} from stdin (format csv, header true)").format(table)
                ) as copy,
            ):
                while block := stream.read(limits.BLOCK_BYTES):
                    copy.write(block)
            conn.commit()
            return time.perf_counter() - started
        finally:
            conn.execute(sql.SQL("drop table if exists {}").format(table))
            conn.commit()
