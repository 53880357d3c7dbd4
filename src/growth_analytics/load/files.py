"""Loading files exactly once: folders expanded, one transaction per file, ``load_files``.

How one file is loaded:

1. The header decides the feed (sessions, conversions or spend) and the column order; a file whose header fits
   no feed, an empty file or one that is not CSV text is refused before anything is written.
2. The SHA-256 of the file's bytes (as stored, so of the ``.gz`` for gzipped files) keys the ledger
   ``raw.load_ledger``: bytes loaded before are a reported no-op, whatever the file is called.
3. One transaction, one load of a feed at a time (so loads of a feed commit in load-id order, which dbt's
   watermarks rely on): the ledger row (its unique hash makes a concurrent load of the same bytes wait and
   then step aside), a new table for this load's partition, one binary ``COPY`` of the parsed rows, the
   rejects, the counts, and ``ATTACH PARTITION`` at the end. A crash anywhere rolls all of it back.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO
from uuid import uuid4

import psycopg
from psycopg import sql

from growth_analytics.feeds import (
    FEEDS,
    Feed,
)
from growth_analytics.load import limits
from growth_analytics.load.chunk_parser import ChunkResult, parse_chunk
from growth_analytics.load.copy_writer import (
    COPY_SIGNATURE,
    COPY_TRAILER,
    RowLayout,
    _BackgroundWriter,
    _RejectSpool,
)
from growth_analytics.load.header import Header, parse_header
from growth_analytics.load.ledger import (
    _AlreadyLoaded,
    _create_partition,
    _ledger_entry,
    _loaded_as_before,
    _partition_name,
    _refuse_mixed_values,
    _stop_if_loaded_elsewhere,
)
from growth_analytics.load.line_parser import too_long_reason
from growth_analytics.load.reader import _open_stream, file_sha256, iter_chunks, read_header
from growth_analytics.load.results import (
    STATUS_DUPLICATE,
    STATUS_IGNORED,
    STATUS_LOADED,
    STATUS_REFUSED,
    FileResult,
    RefusedFile,
    shown_name,
)
from growth_analytics.warehouse.connect import connect
from growth_analytics.warehouse.raw_schema import ensure_raw_schema

PARSE_THREADS = 2  # numpy releases the GIL in its loops, so two parsers overlap
PARSE_AHEAD = 3  # parsed chunks waiting for the COPY at most


DATA_SUFFIXES = (".csv", ".csv.gz")  # of a folder's data files, in any case


def _copy_rows(
    cur: psycopg.Cursor,
    statement: sql.Composable,
    stream: IO[bytes],
    rest: bytes,
    header: Header,
    rejects: _RejectSpool,
    after_chunk: Callable[[], None],
) -> tuple[int, int]:
    """Stream the file's data lines into the partition; returns (rows read, rows loaded).

    Chunks are parsed by PARSE_THREADS threads (numpy releases the GIL in its loops) and written in
    file order; at most PARSE_AHEAD parsed chunks wait for the COPY, which bounds memory. ``after_chunk``
    runs after each chunk is handed on and may stop the load by raising.
    """
    layout = RowLayout.of(header.feed)
    rows_read = rows_loaded = 0
    line_number = 2  # the header is line 1
    # (first line number, its parse, or for an over-long line: None, its first bytes and its length)
    pending: deque[tuple[int, Future[ChunkResult] | None, bytes, int]] = deque()

    def drain(keep: int) -> None:
        nonlocal rows_read, rows_loaded
        while len(pending) > keep:
            first_line, parsed, head, length = pending.popleft()
            if parsed is None:
                rejects.add(first_line, head, too_long_reason(length))
                rows_read += 1
                continue
            result = parsed.result()
            for block in result.rows:
                writer.write(block)
            for reject in result.rejects:
                rejects.add(*reject)
            rows_read += result.lines
            rows_loaded += result.loaded

    with cur.copy(statement) as copy, ThreadPoolExecutor(PARSE_THREADS, "parse") as pool:
        writer = _BackgroundWriter(copy)
        try:
            writer.write(COPY_SIGNATURE)
            for chunk, too_long in iter_chunks(stream, rest):
                if too_long is not None:
                    pending.append((line_number, None, chunk, too_long))
                    line_number += 1
                else:
                    future = pool.submit(parse_chunk, chunk, line_number, header, layout)
                    pending.append((line_number, future, b"", 0))
                    line_number += chunk.count(b"\n")
                drain(PARSE_AHEAD)
                after_chunk()
            drain(0)
            writer.write(COPY_TRAILER)
        finally:
            for _, future, _, _ in pending:
                if future is not None:
                    future.cancel()
            writer.close()
    return rows_read, rows_loaded


def _load_one(conn: psycopg.Connection, path: Path, started: float, url: str | None) -> FileResult:
    name = shown_name(path.name)
    size = path.stat().st_size
    with _open_stream(path) as stream, ThreadPoolExecutor(1, "hash") as hasher:
        header_line, rest = read_header(stream)
        header = parse_header(header_line)
        feed = header.feed
        # The ledger is keyed by the content's hash, a full read of the file. A small file is hashed first,
        # so that loading it again costs that read only, and so is a file of a name and size loaded before
        # (a landing folder that keeps its files). Another large file is hashed beside its load, and a load
        # of bytes already loaded stops as soon as the hash is known.
        content_hash = hasher.submit(file_sha256, path)
        hashed_first = size < limits.HASH_BESIDE_LOAD_BYTES or _loaded_as_before(conn, name, size)
        if hashed_first:
            existing = _ledger_entry(conn, content_hash.result())
            if existing is not None:
                return _duplicate(path, feed, existing, started)
        layout = RowLayout.of(feed)
        try:
            with conn.transaction():
                cur = conn.cursor()
                # Taken before the load id: a reader that sees a load of this feed sees every earlier one.
                cur.execute(
                    "select pg_advisory_xact_lock(hashtext('growth_analytics.load'), hashtext(%s))",
                    (feed.name,),
                )
                # Same bytes in flight elsewhere: this insert (or, for a large file, the update of its
                # content hash below) waits for that transaction to end.
                row = cur.execute(
                    "insert into raw.load_ledger (feed, source_file, content_sha256, file_bytes)"
                    " values (%s, %s, %s, %s) on conflict (content_sha256) do nothing returning load_id",
                    (feed.name, name, content_hash.result() if hashed_first else f"pending {uuid4()}", size),
                ).fetchone()
                if row is None:
                    raise _AlreadyLoaded
                load_id = int(row[0])
                partition = _partition_name(feed, load_id)
                _create_partition(cur, feed, load_id)
                rejects = _RejectSpool(feed.name, name)
                # FREEZE: the table is new in this transaction, so its rows can be written frozen and
                # all-visible; the first reader (dbt) then needn't set hint bits and rewrite every page.
                copy_sql = sql.SQL("copy {} ({}) from stdin (format binary, freeze)").format(
                    partition, sql.SQL(", ").join(map(sql.Identifier, layout.copy_columns))
                )
                after_chunk = (lambda: None) if hashed_first else _stop_if_loaded_elsewhere(content_hash, url)
                rows_read, rows_loaded = _copy_rows(cur, copy_sql, stream, rest, header, rejects, after_chunk)
                _refuse_mixed_values(cur, feed, partition)
                # Constant lineage columns: added with a default, which is stored once in the catalog.
                cur.execute(
                    sql.SQL(
                        "alter table {p} add column _source_file text not null default {f},"
                        " add column _loaded_at timestamptz not null default now()"
                    ).format(p=partition, f=sql.Literal(name))
                )
                try:
                    cur.execute(
                        "update raw.load_ledger set content_sha256 = %s, rows_read = %s, rows_loaded = %s,"
                        " rows_rejected = %s, finished_at = clock_timestamp() where load_id = %s",
                        (content_hash.result(), rows_read, rows_loaded, rejects.count, load_id),
                    )
                except psycopg.errors.UniqueViolation:
                    raise _AlreadyLoaded from None
                rejects.copy_to(cur, load_id)
                cur.execute(
                    sql.SQL("alter table {} attach partition {} for values in ({})").format(
                        sql.Identifier(*feed.table.split(".")), partition, sql.Literal(load_id)
                    )
                )
        except _AlreadyLoaded:
            existing = _ledger_entry(conn, content_hash.result())
            if existing is None:  # pragma: no cover - the other load was removed in between
                raise RefusedFile("the same content was being loaded concurrently; try again") from None
            return _duplicate(path, feed, existing, started)
    seconds = time.perf_counter() - started
    return FileResult(
        path=path,
        feed=feed.name,
        status=STATUS_LOADED,
        load_id=load_id,
        rows_read=rows_read,
        rows_loaded=rows_loaded,
        rows_rejected=rejects.count,
        seconds=seconds,
        message=(
            f"loaded {name}: {rows_read} read = {rows_loaded} loaded + {rejects.count} rejected"
            f" (load {load_id}, {seconds:.1f} s)"
        ),
    )


def _duplicate(path: Path, feed: Feed, load_id: int, started: float) -> FileResult:
    return FileResult(
        path=path,
        feed=feed.name,
        status=STATUS_DUPLICATE,
        load_id=load_id,
        seconds=time.perf_counter() - started,
        message=f"skipped {shown_name(path.name)}: already loaded as load {load_id}",
    )


def _not_loadable(path: Path) -> str | None:
    """Why ``path`` cannot be read as a data file, or None; from its metadata only (opening a FIFO blocks)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "broken symbolic link" if path.is_symlink() else "no such file"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"cannot read: {exc.strerror or exc}"
    if stat.S_ISDIR(mode):
        return "a folder"
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        return f"not a regular file ({kind})"
    if not os.access(path, os.R_OK):
        return "cannot read: permission denied"
    return None


def _reported(path: Path, status: str, problem: str, started: float | None = None) -> FileResult:
    seconds = 0.0 if started is None else time.perf_counter() - started
    return FileResult(
        path=path, feed=None, status=status, seconds=seconds, message=f"{shown_name(path.name)}: {problem}"
    )


def expand_paths(paths: Iterable[Path]) -> list[Path | FileResult]:
    """Each path given, and for a folder each of its entries sorted by name (not recursive): a file to
    load, or the result that reports why not.

    A folder's data files are those named ``*.csv`` / ``*.csv.gz`` in any case; its other entries are
    reported as ignored. A data file (given, or in a folder) that cannot be read as a regular file (missing,
    a broken symbolic link or a loop, a FIFO, socket or device, no read permission) is refused.
    """
    found: list[Path | FileResult] = []
    for path in paths:
        if not path.is_dir():
            problem = _not_loadable(path)
            found.append(path if problem is None else _reported(path, STATUS_REFUSED, problem))
            continue
        try:
            entries = sorted(path.iterdir(), key=lambda p: p.name)
        except OSError as exc:
            found.append(_reported(path, STATUS_REFUSED, f"cannot read the folder: {exc.strerror or exc}"))
            continue
        for entry in entries:
            if entry.is_dir():
                found.append(_reported(entry, STATUS_IGNORED, "a folder (folders are not searched)"))
            elif not entry.name.lower().endswith(DATA_SUFFIXES):
                found.append(_reported(entry, STATUS_IGNORED, "not a .csv or .csv.gz file"))
            elif problem := _not_loadable(entry):
                found.append(_reported(entry, STATUS_REFUSED, problem))
            else:
                found.append(entry)
    return found


def sort_by_feed(paths: Iterable[Path]) -> tuple[dict[str, list[Path]], list[FileResult]]:
    """The files of ``paths`` (folders expanded as for loading) by the feed their header tells, and the
    result for each entry no feed takes (ignored, or refused with the problem); reads headers only."""
    by_feed: dict[str, list[Path]] = {name: [] for name in FEEDS}
    reported: list[FileResult] = []
    for item in expand_paths(paths):
        if isinstance(item, FileResult):
            reported.append(item)
            continue
        started = time.perf_counter()
        try:
            with _open_stream(item) as stream:
                header = parse_header(read_header(stream)[0])
        except RefusedFile as exc:
            reported.append(_reported(item, STATUS_REFUSED, str(exc), started))
        except OSError as exc:
            reported.append(_reported(item, STATUS_REFUSED, f"cannot read: {exc.strerror or exc}", started))
        else:
            by_feed[header.feed.name].append(item)
    return by_feed, reported


def load_files(paths: Sequence[Path], url: str | None = None) -> list[FileResult]:
    """Load each file (folders: their data files) exactly once; one result per file or reported folder
    entry, in order."""
    results: list[FileResult] = []
    analyzed: set[str] = set()
    with connect(url) as conn:
        ensure_raw_schema(conn)
        for item in expand_paths(Path(p) for p in paths):
            if isinstance(item, FileResult):
                results.append(item)
                continue
            started = time.perf_counter()
            problem = None
            try:
                result = _load_one(conn, item, started, url)
            except RefusedFile as exc:
                problem = str(exc)
            except OSError as exc:
                problem = f"cannot read: {exc.strerror or exc}"
            if problem is not None:
                conn.rollback()
                result = _reported(item, STATUS_REFUSED, problem, started)
            if result.status == STATUS_LOADED and result.feed:
                analyzed.add(result.feed)
            results.append(result)
        # Autovacuum never analyzes partitioned parents; do it once per feed that got data.
        for feed_name in sorted(analyzed):
            conn.execute(sql.SQL("analyze {}").format(sql.Identifier(*FEEDS[feed_name].table.split("."))))
            conn.commit()
    return results
