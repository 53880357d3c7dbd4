"""The loader against a real Postgres: values, lineage, exactly-once, rejects, refusals, crash atomicity."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import string
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
import pytest

from growth_analytics import load
from growth_analytics.cli import main as growth_main
from growth_analytics.feeds import FEEDS, MAX_TEXT_CHARS, contract_checks
from growth_analytics.load import limits
from growth_analytics.load.chunk_parser import parse_chunk
from growth_analytics.load.copy_writer import RowLayout
from growth_analytics.load.header import Header, parse_header
from growth_analytics.load.line_parser import parse_line
from growth_analytics.load.reader import file_sha256
from growth_analytics.warehouse.connect import connect
from growth_analytics.warehouse.raw_schema import ensure_raw_schema

SESSIONS_HEADER = "user_id,time_started,is_paid,medium\n"
ALPHANUMERIC = string.ascii_letters + string.digits


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def query(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(statement, params or None).fetchall()


def ledger(url: str) -> list[tuple]:
    return query(
        url,
        "select load_id, feed, source_file, rows_read, rows_loaded, rows_rejected, file_bytes"
        " from raw.load_ledger order by load_id",
    )


def big_sessions_file(path: Path, rows: int, seed: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    ids = 3_070_000_000_000_000_000 + rng.integers(0, 10**15, rows)
    start = np.datetime64("2020-05-01T00:00:00")
    stamps = np.datetime_as_string(start + rng.integers(0, 61 * 86400, rows).astype("timedelta64[s]"))
    mediums = np.array(["PAID SEARCH", "DIRECT", "EMAIL", "ORGANIC SEARCH"])[rng.integers(0, 4, rows)]
    paid = np.array(["true", "false"])[rng.integers(0, 2, rows)]
    with open(path, "w") as handle:
        handle.write(SESSIONS_HEADER)
        handle.writelines(
            f"{i},{t.replace('T', ' ')},{p},{m}\n"
            for i, t, p, m in zip(ids, stamps, paid, mediums, strict=True)
        )
    return path


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------------
# Happy path


def test_sessions_values_and_lineage(warehouse_url: str, tmp_path: Path) -> None:
    # Permuted columns, alias and mixed case in the header, CRLF, quotes, offsets and every boolean word.
    path = write(
        tmp_path / "sessions_2020-06-01.csv",
        "Medium,UserID,IS_PAID,Time_Started\r\n"
        "PAID SEARCH,3070000000000000001,true,2020-06-01 10:00:00\r\n"
        '"ORGANIC, SEARCH",42,F,2020-06-01T10:00:00Z\r\n'
        'DIRECT,"7",Yes,2020-06-01 12:30:00+02:00\r\n'
        "email,9223372036854775807,0,2020-06-01 00:15:00.1234567-01:30\r\n"
        "IMPRESSION,-5,no,2020-02-29 23:59:59\r\n"
        '"say ""hi""",8,1,2020-06-01 10:00:00.5\r\n',
    )
    [result] = load.load_files([path])
    assert result.status == "loaded", result.message
    assert (result.feed, result.rows_read, result.rows_loaded, result.rows_rejected) == ("sessions", 6, 6, 0)
    rows = query(
        warehouse_url,
        "select _line_number, user_id, time_started, is_paid, medium, _load_id, _source_file"
        " from raw.sessions order by _line_number",
    )
    name = "sessions_2020-06-01.csv"
    lid = result.load_id
    assert rows == [
        (2, 3070000000000000001, utc(2020, 6, 1, 10, 0, 0), True, "PAID SEARCH", lid, name),
        (3, 42, utc(2020, 6, 1, 10, 0, 0), False, "ORGANIC, SEARCH", lid, name),
        (4, 7, utc(2020, 6, 1, 10, 30, 0), True, "DIRECT", lid, name),
        (5, 9223372036854775807, utc(2020, 6, 1, 1, 45, 0, 123457), False, "email", lid, name),
        (6, -5, utc(2020, 2, 29, 23, 59, 59), False, "IMPRESSION", lid, name),
        (7, 8, utc(2020, 6, 1, 10, 0, 0, 500000), True, 'say "hi"', lid, name),
    ]
    [(loaded_at,)] = query(warehouse_url, "select distinct _loaded_at from raw.sessions")
    assert loaded_at is not None
    assert ledger(warehouse_url) == [(lid, "sessions", name, 6, 6, 0, path.stat().st_size)]


def test_conversions_gzip(warehouse_url: str, tmp_path: Path) -> None:
    body = "registration_time,user_id\n2020-06-02 08:00:00,11\n2020-06-03 09:00:00,12\n"
    path = write(tmp_path / "conversions_2020-06-02.csv.gz", gzip.compress(body.encode()))
    [result] = load.load_files([path], warehouse_url)
    assert (result.status, result.feed, result.rows_loaded) == ("loaded", "conversions", 2)
    rows = query(
        warehouse_url, "select user_id, registration_time, _line_number from raw.conversions order by 3"
    )
    assert rows == [(11, utc(2020, 6, 2, 8), 2), (12, utc(2020, 6, 3, 9), 3)]


def test_folder_header_only_and_last_line_without_break(warehouse_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "landing"
    folder.mkdir()
    write(folder / "b_sessions.csv", SESSIONS_HEADER + "1,2020-06-01 10:00:00,t,DIRECT")  # no final \n
    write(folder / "a_conversions.csv", "user_id,registration_time\n")  # a day without registrations
    write(folder / "notes.txt", "not a data file")
    results = load.load_files([folder])
    assert [(r.path.name, r.status, r.rows_read, r.rows_loaded) for r in results] == [
        ("a_conversions.csv", "loaded", 0, 0),
        ("b_sessions.csv", "loaded", 1, 1),
        ("notes.txt", "ignored", 0, 0),
    ]
    assert results[2].message == "notes.txt: not a .csv or .csv.gz file"
    assert query(warehouse_url, "select count(*) from raw.sessions") == [(1,)]


# ---------------------------------------------------------------------------------------------------
# Exactly once


# Where the content hash is computed: before the load (small files) or beside it (large files).
HASHED = pytest.mark.parametrize(
    "hash_beside_load_from", [limits.HASH_BESIDE_LOAD_BYTES, 0], ids=["first", "beside"]
)


@HASHED
def test_reload_is_a_noop_and_new_files_append(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hash_beside_load_from: int
) -> None:
    monkeypatch.setattr(limits, "HASH_BESIDE_LOAD_BYTES", hash_beside_load_from)
    first = write(tmp_path / "s1.csv", SESSIONS_HEADER + "1,2020-06-01 10:00:00,t,DIRECT\n")
    [loaded] = load.load_files([first])
    before = ledger(warehouse_url)

    renamed = write(tmp_path / "renamed.csv", first.read_bytes())
    again = load.load_files([first, renamed])
    assert [(r.status, r.load_id) for r in again] == [("skipped_duplicate", loaded.load_id)] * 2
    assert again[0].message == f"skipped s1.csv: already loaded as load {loaded.load_id}"
    assert ledger(warehouse_url) == before
    assert query(warehouse_url, "select count(*) from raw.sessions") == [(1,)]

    second = write(
        tmp_path / "s2.csv", SESSIONS_HEADER + "2,2020-06-02 10:00:00,f,EMAIL\n3,2020-06-02 11:00:00,f,TV\n"
    )
    [appended] = load.load_files([second])
    assert appended.status == "loaded" and appended.load_id != loaded.load_id
    assert query(warehouse_url, "select _load_id, count(*) from raw.sessions group by 1 order by 1") == [
        (loaded.load_id, 1),
        (appended.load_id, 2),
    ]


def test_a_large_file_kept_in_the_landing_folder_is_hashed_before_any_load(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its name and size are in the ledger: loading it again is a read for its hash, not a load stopped
    halfway (which would take a load id). Same name and size with other bytes still loads."""
    monkeypatch.setattr(limits, "HASH_BESIDE_LOAD_BYTES", 0)
    kept = write(tmp_path / "s1.csv", SESSIONS_HEADER + "1,2020-06-01 10:00:00,t,DIRECT\n")
    [loaded] = load.load_files([kept])
    [again] = load.load_files([kept])
    assert (again.status, again.load_id) == ("skipped_duplicate", loaded.load_id)

    rewritten = write(tmp_path / "s1.csv", SESSIONS_HEADER + "2,2020-06-01 10:00:00,t,DIRECT\n")
    assert rewritten.stat().st_size == kept.stat().st_size
    [replaced] = load.load_files([rewritten])
    assert (replaced.status, replaced.load_id) == ("loaded", loaded.load_id + 1)
    assert query(warehouse_url, "select user_id from raw.sessions order by 1") == [(1,), (2,)]


def test_concurrent_load_of_the_same_bytes_waits_and_steps_aside(warehouse_url: str, tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", SESSIONS_HEADER + "1,2020-06-01 10:00:00,t,DIRECT\n")
    sha, size = file_sha256(path), path.stat().st_size
    results: list[load.FileResult] = []
    with connect(warehouse_url) as other:
        ensure_raw_schema(other)
        # Another loader's transaction holds the ledger row for these bytes, not yet committed.
        [(other_id,)] = other.execute(
            "insert into raw.load_ledger (feed, source_file, content_sha256, file_bytes, rows_read,"
            " rows_loaded, rows_rejected)"
            " values ('sessions', 'other.csv', %s, %s, 1, 1, 0) returning load_id",
            (sha, size),
        ).fetchall()
        worker = threading.Thread(target=lambda: results.extend(load.load_files([path], warehouse_url)))
        worker.start()
        time.sleep(1.0)
        assert worker.is_alive() and not results  # waiting on the unique content hash
        other.commit()
        worker.join(timeout=30)
    assert [(r.status, r.load_id) for r in results] == [("skipped_duplicate", other_id)]
    assert query(warehouse_url, "select count(*) from raw.sessions") == [(0,)]


@HASHED
def test_parallel_loads_load_each_file_once(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hash_beside_load_from: int
) -> None:
    monkeypatch.setattr(limits, "HASH_BESIDE_LOAD_BYTES", hash_beside_load_from)
    sessions = big_sessions_file(tmp_path / "sessions.csv", 30_000)
    copy = write(tmp_path / "sessions_copy.csv", sessions.read_bytes())
    conversions = write(tmp_path / "conversions.csv", "user_id,registration_time\n5,2020-06-01 10:00:00\n")
    results: list[load.FileResult] = []
    lock = threading.Lock()

    def run(path: Path) -> None:
        out = load.load_files([path], warehouse_url)
        with lock:
            results.extend(out)

    threads = [threading.Thread(target=run, args=(p,)) for p in (sessions, copy, sessions, conversions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted((r.feed, r.status) for r in results)
    assert statuses == [
        ("conversions", "loaded"),
        ("sessions", "loaded"),
        ("sessions", "skipped_duplicate"),
        ("sessions", "skipped_duplicate"),
    ]
    assert query(warehouse_url, "select count(*), count(distinct _load_id) from raw.sessions") == [
        (30_000, 1)
    ]


# ---------------------------------------------------------------------------------------------------
# Rejects

BAD_ROWS = [
    # (line as in the file, reason or None for a good row)
    ("1,2020-06-01 10:00:00,true,DIRECT", None),
    ("abc,2020-06-01 10:00:00,true,DIRECT", "bad user_id 'abc': not an integer"),
    ("1.5,2020-06-01 10:00:00,true,DIRECT", "bad user_id '1.5': not an integer"),
    (
        "9223372036854775808,2020-06-01 10:00:00,true,DIRECT",
        "user_id 9223372036854775808 out of the bigint range",
    ),
    (
        "2,2020-06-31 10:00:00,true,DIRECT",
        "bad time_started '2020-06-31 10:00:00': day is out of range for month",
    ),
    (
        "2,2019-02-29 10:00:00,true,DIRECT",
        "bad time_started '2019-02-29 10:00:00': day is out of range for month",
    ),
    ("3,infinity,true,DIRECT", "bad time_started 'infinity': expected YYYY-MM-DD HH:MM:SS[.fff][Z|±HH:MM]"),
    (
        "4,2020-06-01,true,DIRECT",
        "bad time_started '2020-06-01': expected YYYY-MM-DD HH:MM:SS[.fff][Z|±HH:MM]",
    ),
    ("4,2020-06-01 24:00:00,true,DIRECT", "bad time_started '2020-06-01 24:00:00': hour must be in 0..23"),
    ("5,2020-06-01 10:00:00,maybe,DIRECT", "bad is_paid 'maybe': expected true/false/t/f/1/0/yes/no"),
    ("6,2020-06-01 10:00:00,on,DIRECT", "bad is_paid 'on': expected true/false/t/f/1/0/yes/no"),
    ("7,2020-06-01 10:00:00,true,", "empty medium"),
    ('8,2020-06-01 10:00:00,true,"  "', "empty medium"),
    ("9,2020-06-01 10:00:00,true", "too few fields: 3 of 4"),
    ("10,2020-06-01 10:00:00,true,DIRECT,x", "too many fields: 5, expected 4"),
    ('11,2020-06-01 10:00:00,true,"DIRECT', "unterminated quote"),
    ("", "empty line"),
    ("12,2020-06-01T10:00:00Z,YES,EMAIL", None),
]


def test_every_bad_row_kind_is_rejected_with_line_and_reason(warehouse_url: str, tmp_path: Path) -> None:
    body = SESSIONS_HEADER.encode() + b"".join(line.encode() + b"\n" for line, _ in BAD_ROWS)
    # Bytes Postgres itself would refuse: a NUL and invalid UTF-8.
    body += b"13,2020-06-01 10:00:00,true,DI\x00RECT\n14,2020-06-01 10:00:00,true,DIR\xffECT\n"
    path = write(tmp_path / "bad.csv", body)
    [result] = load.load_files([path])
    expected = [(i + 2, line, reason) for i, (line, reason) in enumerate(BAD_ROWS) if reason]
    nul_line, utf_line = len(BAD_ROWS) + 2, len(BAD_ROWS) + 3
    expected += [
        (nul_line, "13,2020-06-01 10:00:00,true,DI\\x00RECT", "NUL byte in line"),
        (utf_line, "14,2020-06-01 10:00:00,true,DIR\\xffECT", "invalid UTF-8 at byte 32"),
    ]
    rejects = query(
        warehouse_url,
        "select line_number, raw_line, reason, feed, source_file from raw.load_rejects order by 1",
    )
    assert [r[:3] for r in rejects] == expected
    assert {r[3:] for r in rejects} == {("sessions", "bad.csv")}
    good_lines = [i + 2 for i, (_, reason) in enumerate(BAD_ROWS) if reason is None]
    assert query(warehouse_url, "select _line_number from raw.sessions order by 1") == [
        (n,) for n in good_lines
    ]
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (
        len(BAD_ROWS) + 2,
        len(good_lines),
        len(expected),
    )
    [(read, loaded, rejected)] = query(
        warehouse_url, "select rows_read, rows_loaded, rows_rejected from raw.load_ledger"
    )
    assert read == loaded + rejected == result.rows_read


def test_bad_rows_among_many_good_ones_keep_line_numbers(warehouse_url: str, tmp_path: Path) -> None:
    path = big_sessions_file(tmp_path / "big.csv", 20_000)
    lines = path.read_bytes().split(b"\n")
    bad_at = {5: b"x,2020-06-01 10:00:00,t,A", 12_345: b"1,2020-06-01 10:00:00,t", 19_999: b'1,"'}
    for line_number, text in bad_at.items():
        lines[line_number - 1] = text
    write(path, b"\n".join(lines))
    [result] = load.load_files([path])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (20_000, 19_997, 3)
    assert query(warehouse_url, "select line_number from raw.load_rejects order by 1") == [
        (n,) for n in bad_at
    ]
    [(count, low, high, distinct)] = query(
        warehouse_url,
        "select count(*), min(_line_number), max(_line_number), count(distinct _line_number)"
        " from raw.sessions",
    )
    assert (count, low, high, distinct) == (19_997, 2, 20_001, 19_997)
    # each loaded row is the line its number says
    sample = query(
        warehouse_url,
        "select _line_number, user_id, medium from raw.sessions where _line_number in (2, 6, 20001)",
    )
    for line_number, user_id, medium in sample:
        fields = lines[line_number - 1].decode().split(",")
        assert (int(fields[0]), fields[3]) == (user_id, medium)


# ---------------------------------------------------------------------------------------------------
# Refused files

REFUSED = [
    ("empty.csv", b"", "empty.csv: empty file"),
    (
        "missing.csv",
        b"user_id,time_started,medium\n1,2020-06-01 10:00:00,DIRECT\n",
        "missing.csv: header does not fit the sessions feed (user_id,time_started,is_paid,medium):"
        " missing column is_paid",
    ),
    (
        "unknown.csv",
        b"user_id,time_started,is_paid,channel\n",
        "unknown.csv: header does not fit the sessions feed (user_id,time_started,is_paid,medium):"
        " missing column medium; unknown column channel",
    ),
    (
        "extra.csv",
        b"user_id,registration_time,country\n1,2020-06-01 10:00:00,DE\n",
        "extra.csv: header does not fit the conversions feed (user_id,registration_time):"
        " unknown column country",
    ),
    ("dup.csv", b"user_id,userid,registration_time\n", "dup.csv: duplicate column 'userid' in header"),
    (
        "neither.csv",
        b"name,age\nbob,3\n",
        "neither.csv: header 'name,age' matches no feed: expected sessions"
        " (user_id,time_started,is_paid,medium), conversions (user_id,registration_time)"
        " or spend (spend_date,medium,spend,currency)",
    ),
    (
        "binary.csv",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",
        "binary.csv: not a CSV file: the header is not UTF-8 text",
    ),
    ("nul.csv", b"user_id\x00\x01,x\n", "nul.csv: not a CSV file: the header contains binary data"),
    (
        "fake.csv.gz",
        b"\x1f\x8bnot really gzip",
        "fake.csv.gz: corrupt gzip file: Unknown compression method",
    ),
]


@pytest.mark.parametrize(("name", "content", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_files(
    warehouse_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes,
    message: str,
) -> None:
    path = write(tmp_path / name, content)
    good = write(tmp_path / "good.csv", SESSIONS_HEADER + "1,2020-06-01 10:00:00,t,DIRECT\n")
    code = growth_main(["load", str(path), str(good)])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.strip() == f"growth load: {message}"
    assert "loaded good.csv: 1 read = 1 loaded + 0 rejected" in out
    assert "total: 2 files: 1 loaded, 0 already loaded, 1 refused" in out
    assert [row[2] for row in ledger(warehouse_url)] == ["good.csv"]


def test_file_breaking_off_mid_copy_is_refused_whole(warehouse_url: str, tmp_path: Path) -> None:
    plain = big_sessions_file(tmp_path / "plain.csv", 50_000)
    path = write(tmp_path / "broken.csv.gz", gzip.compress(plain.read_bytes())[:-1000])
    [result] = load.load_files([path])
    assert result.status == "refused"
    assert result.message == (
        "broken.csv.gz: corrupt gzip file: Compressed file ended before the end-of-stream marker was reached"
    )
    assert ledger(warehouse_url) == []
    assert query(warehouse_url, "select count(*) from raw.sessions") == [(0,)]
    partitions = "select count(*) from pg_class where relname ~ '^(sessions|conversions)_load_[0-9]+$'"
    assert query(warehouse_url, partitions) == [(0,)]


def test_cli_json(warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "s.csv", SESSIONS_HEADER + "1,2020-06-01 10:00:00,t,DIRECT\nx,y,z,w\n")
    assert growth_main(["load", "--json", str(path), str(path)]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["status"] == "loaded" and first["feed"] == "sessions"
    assert (first["rows_read"], first["rows_loaded"], first["rows_rejected"]) == (2, 1, 1)
    assert second["status"] == "skipped_duplicate" and second["load_id"] == first["load_id"]


# ---------------------------------------------------------------------------------------------------
# The chunk parser takes only what the exact parser takes, with the same values


def test_chunk_parser_agrees_with_the_line_parser() -> None:
    header = parse_header(b"medium,is_paid,user_id,time_started")
    layout = RowLayout.of(header.feed)
    lines = [
        b"A,t,0,2020-06-01 10:00:00",
        b"B,FALSE,9223372036854775807,2000-01-01T00:00:00Z",
        b"C,Yes,9223372036854775808,2020-06-01 10:00:00",
        b"D,no,12345678901234567890,2020-06-01 10:00:00",
        b"E,1,+5,2020-06-01 10:00:00",
        b"F,0,07,1999-12-31 23:59:59-00:30",
        b"G,tRuE,1,2020-02-29 12:00:00+14:00",
        b"H,f,1,2019-02-29 12:00:00",
        b"I,f,1,2020-13-01 12:00:00",
        b"J,f,1,2020-06-01 12:60:00",
        b"K,f,1,2020-06-01 12:00:00+1:00",
        b"L,f,1,2020-06-01 12:00:00 ",
        b" M,f,1,2020-06-01 12:00:00",
        b"N ,yes,1,0001-01-01 00:00:00",
        b"O,y,1,2020-06-01 12:00:00",
        b"P,true ,1,2020-06-01 12:00:00",
        b"Q,f,1,2020-06-01 12:00:00Z\r",
        b"R,f,,2020-06-01 12:00:00",
        b",f,1,2020-06-01 12:00:00",
        b"S,f,1,2020-06-01x12:00:00",
        b"T,f,1,2020-06-01 12:00:00.25",
        b"\xc3\x9c,f,1,2020-06-01 12:00:00",
        # fractions and zones after the seconds
        b"U,f,1,2020-06-01 12:00:00.5",
        b"U,f,1,2020-06-01T12:00:00.123456Z",
        b"U,f,1,2020-06-01 12:00:00.1234565",
        b"U,f,1,2020-06-01 12:00:00.99999999+02:00",
        b"U,f,1,2020-06-01 12:00:00.000001-05:00",
        b"U,f,1,2020-06-01 12:00:00.",
        b"U,f,1,2020-06-01 12:00:00.12a",
        b"U,f,1,2020-06-01 12:00:00.123 ",
        b"U,f,1,2020-06-01 12:00:00.123+24:00",
        b"U,f,1,2020-06-01 12:00:00+02:60",
        b"U,f,1,2020-06-01 12:00:00Zx",
        b"U,f,1,2020-06-01 12:00:00+02:00Z",
        b"U,f,1,2020-06-01 12:00:00z",
        # quoted fields
        b'"V",f,1,2020-06-01 12:00:00',
        b'V,"t",1,2020-06-01 12:00:00',
        b'V,f,"42",2020-06-01 12:00:00',
        b'V,f,1,"2020-06-01 12:00:00"\r',
        b'"V,W",f,1,2020-06-01 12:00:00',
        b'"V",f,"1",2020-06-01 12:00:00',
        b'"V""W",f,1,2020-06-01 12:00:00',
        b'"",f,1,2020-06-01 12:00:00',
        b'" ",f,1,2020-06-01 12:00:00',
        b'"V,f,1,2020-06-01 12:00:00"',
        b'"V,f,1,2020-06-01 12:00:00',
        b'V,f,1,2020-06-01 12:00:00"',
        b'V"W",f,1,2020-06-01 12:00:00',
        b'"V"W,f,1,2020-06-01 12:00:00',
        b'"V",f,1',
        b'"V",f,1,2020-06-01 12:00:00,x',
        # the bounds of the contract: text length and the timestamp range
        b"W" * MAX_TEXT_CHARS + b",f,1,2020-06-01 12:00:00",
        b"W" * (MAX_TEXT_CHARS + 1) + b",f,1,2020-06-01 12:00:00",
        b'"' + b"W" * MAX_TEXT_CHARS + b'",f,1,2020-06-01 12:00:00',
        b'"' + b"W" * (MAX_TEXT_CHARS + 1) + b'",f,1,2020-06-01 12:00:00',
        "\U0001f600".encode() * MAX_TEXT_CHARS + b",f,1,2020-06-01 12:00:00",
        "\U0001f600".encode() * (MAX_TEXT_CHARS + 1) + b",f,1,2020-06-01 12:00:00",
        b"X,f,1,1990-01-01 00:00:00",
        b"X,f,1,1989-12-31 23:59:59.999999",
        b"X,f,1,1990-01-01T00:30:00+01:00",
        b"X,f,1,1989-12-31 23:30:00-00:30",
        b"X,f,1,2099-12-31 23:59:59.999999Z",
        b"X,f,1,2099-12-31 23:59:59.9999995",
        b"X,f,1,2100-01-01 00:00:00",
        b"X,f,1,2099-12-31 23:30:00-01:00",
        b"X,f,1,9999-12-31 23:59:59",
    ]
    result = parse_chunk(b"\n".join(lines) + b"\n", 2, header, layout)
    expected_rows, expected_rejects = [], []
    for i, line in enumerate(lines):
        try:
            expected_rows.append(layout.pack_row(parse_line(line, header), i + 2))
        except load.RowError as exc:
            expected_rejects.append((i + 2, line, str(exc)))
    got_rows = _split_binary_rows(b"".join(result.rows), layout)
    assert sorted(got_rows) == sorted(expected_rows)
    assert result.loaded == len(expected_rows)
    assert sorted(result.rejects) == sorted(expected_rejects)
    assert (len(expected_rows), len(expected_rejects)) == (27, 39)  # the cases above mix both outcomes
    reasons = dict(zip(lines, (reason for reason in _reasons(lines, header)), strict=True))
    assert reasons[b"N ,yes,1,0001-01-01 00:00:00"] == (
        "time_started '0001-01-01 00:00:00' outside the accepted range [1990-01-01, 2100-01-01) UTC"
    )
    assert reasons[b"W" * (MAX_TEXT_CHARS + 1) + b",f,1,2020-06-01 12:00:00"] == (
        f"medium longer than {MAX_TEXT_CHARS} characters ({MAX_TEXT_CHARS + 1})"
    )


def _reasons(lines: list[bytes], header: Header) -> list[str | None]:
    reasons: list[str | None] = []
    for line in lines:
        try:
            parse_line(line, header)
            reasons.append(None)
        except load.RowError as exc:
            reasons.append(str(exc))
    return reasons


def test_chunk_parser_takes_the_common_shapes_itself() -> None:
    header = parse_header(b"user_id,time_started,is_paid,medium")
    lines = [
        b"3070511821624700256,2020-06-26 19:33:21,true,PAID SOCIAL",
        b"1,2020-02-29T00:00:00,F,A",
        b"9223372036854775807,2020-06-01 23:59:59Z,0,ORGANIC SEARCH",
        b"42,2020-06-01 12:00:00-07:30,Yes,DIRECT\r",
        b'7,2020-06-01 12:00:00.250,false,"Organic Search"',
        b'8,2020-06-01T12:00:00.647831,no,"Paid Social"\r',
        b"9,2020-06-01T12:00:00.019Z,1,EMAIL",
        b"10,1990-01-01 00:00:00,t," + b"M" * MAX_TEXT_CHARS,
        b"11,2099-12-31 23:59:59.999999,f,DIRECT",
    ]
    result = parse_chunk(b"\n".join(lines) + b"\n", 2, header, RowLayout.of(header.feed))
    assert (result.loaded, result.exact_lines, result.rejects) == (9, 0, [])


def _split_binary_rows(data: bytes, layout: RowLayout) -> list[bytes]:
    rows, pos = [], 0
    while pos < len(data):
        start = pos
        pos += 2
        for _ in layout.copy_columns:
            size = int.from_bytes(data[pos : pos + 4], "big", signed=True)
            pos += 4 + max(size, 0)
        rows.append(data[start:pos])
    return rows


# ---------------------------------------------------------------------------------------------------
# Crash atomicity


def test_killed_loader_leaves_nothing_and_reload_is_exact(warehouse_url: str, tmp_path: Path) -> None:
    path = big_sessions_file(tmp_path / "sessions_big.csv", 400_000)
    load.load_files([], warehouse_url)  # create the raw schema so that the poll below can run
    proc = subprocess.Popen(
        [sys.executable, "-m", "growth_analytics.load", str(path)],
        env={**os.environ, "GROWTH_WAREHOUSE_URL": warehouse_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with connect(warehouse_url, autocommit=True) as conn:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and proc.poll() is None:
                copied = conn.execute(
                    "select coalesce(max(tuples_processed), 0) from pg_stat_progress_copy"
                    " where datname = current_database()"
                ).fetchone()
                if copied and copied[0] > 0:
                    break
                time.sleep(0.005)
            assert proc.poll() is None, "the loader finished before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            # The server notices the closed connection and rolls the load back.
            deadline = time.monotonic() + 30
            while (
                time.monotonic() < deadline
                and conn.execute(
                    "select count(*) from pg_stat_activity"
                    " where datname = current_database() and pid <> pg_backend_pid()"
                ).fetchone()[0]
            ):
                time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert copied[0] > 0
    assert ledger(warehouse_url) == []
    assert query(warehouse_url, "select count(*) from raw.sessions") == [(0,)]
    partitions = "select count(*) from pg_class where relname ~ '^sessions_load_[0-9]+$'"
    assert query(warehouse_url, partitions) == [(0,)]

    [result] = load.load_files([path], warehouse_url)
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == (
        "loaded",
        400_000,
        400_000,
        0,
    )
    assert query(warehouse_url, "select count(*), count(distinct _line_number) from raw.sessions") == [
        (400_000, 400_000)
    ]


# ---------------------------------------------------------------------------------------------------
# Over-long lines


def test_a_long_line_across_a_block_boundary_leaves_the_rest_of_the_file_loaded(
    warehouse_url: str, tmp_path: Path
) -> None:
    before, after = 275_000, 300_000
    path = big_sessions_file(tmp_path / "sessions_long.csv", before + after)
    lines = path.read_bytes().split(b"\n")
    long_line = b"5,2020-06-01 10:00:00,t," + b"M" * (2 << 20)
    # Reads end at 64 KiB (the header's read) and then every BLOCK_BYTES. The long line must cross the end
    # of a read with more than MAX_LINE_BYTES of it read, so that it is skipped before its end is seen.
    start = sum(map(len, lines[: before + 1])) + before + 1
    boundary = (64 << 10) + limits.BLOCK_BYTES * ((start - (64 << 10)) // limits.BLOCK_BYTES + 1)
    assert start + limits.MAX_LINE_BYTES < boundary < start + len(long_line)
    write(path, b"\n".join([*lines[: before + 1], long_line, *lines[before + 1 :]]))
    [result] = load.load_files([path])
    total = before + after
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (total + 1, total, 1)
    [(line_number, reason, raw)] = query(
        warehouse_url, "select line_number, reason, left(raw_line, 30) from raw.load_rejects"
    )
    assert line_number == before + 2
    assert reason == f"line longer than {limits.MAX_LINE_BYTES} bytes ({len(long_line)})"
    assert raw == long_line[:30].decode()
    [(count, last)] = query(warehouse_url, "select count(*), max(_line_number) from raw.sessions")
    assert (count, last) == (total, total + 2)


def test_a_long_line_inside_one_block_is_rejected_too(warehouse_url: str, tmp_path: Path) -> None:
    # CRLF: the line break is not part of the length, so the line of exactly MAX_LINE_BYTES is in.
    at_limit = b"6,2020-06-01 10:00:00,t,x" + b",x" * ((limits.MAX_LINE_BYTES - 25) // 2)
    at_limit += b"y" * (limits.MAX_LINE_BYTES - len(at_limit))
    over = at_limit + b"z"
    body = SESSIONS_HEADER.encode() + b"1,2020-06-01 10:00:00,t,DIRECT\r\n"
    body += at_limit + b"\r\n" + over + b"\r\n" + b"2,2020-06-01 10:00:00,t,DIRECT\r\n"
    assert len(body) < limits.BLOCK_BYTES
    path = write(tmp_path / "sessions_inside.csv", body)
    [result] = load.load_files([path])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 2, 2)
    rejects = query(warehouse_url, "select line_number, reason from raw.load_rejects order by 1")
    fields = at_limit.count(b",") + 1
    assert rejects == [
        (3, f"too many fields: {fields}, expected 4"),
        (4, f"line longer than {limits.MAX_LINE_BYTES} bytes ({limits.MAX_LINE_BYTES + 1})"),
    ]


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_a_long_line_read_in_pieces_is_measured_without_its_line_break(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crlf: bool
) -> None:
    monkeypatch.setattr(limits, "BLOCK_BYTES", 16)
    monkeypatch.setattr(limits, "MAX_LINE_BYTES", 40)
    end = b"\r\n" if crlf else b"\n"
    good = [b"%d,2020-06-01 10:00:00,t,DIRECT" % i for i in range(3)]
    long_lines = [b"7,2020-06-01 10:00:00,t," + b"L" * 17, b"8,2020-06-01 10:00:00,t," + b"L" * 100]
    body = (
        SESSIONS_HEADER.encode() + end.join([good[0], long_lines[0], good[1], long_lines[1], good[2]]) + end
    )
    path = write(tmp_path / "sessions_pieces.csv", body)
    [result] = load.load_files([path])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 3, 2)
    assert query(warehouse_url, "select line_number, reason from raw.load_rejects order by 1") == [
        (3, "line longer than 40 bytes (41)"),
        (5, "line longer than 40 bytes (124)"),
    ]
    assert query(warehouse_url, "select _line_number from raw.sessions order by 1") == [(2,), (4,), (6,)]


# ---------------------------------------------------------------------------------------------------
# The contract's bounds: medium length, timestamp range


def test_medium_length_is_bounded_and_a_medium_at_the_bound_loads(warehouse_url: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    # incompressible text of 4-byte characters: the longest key entry the bound allows
    widest = "".join(map(chr, rng.integers(0x20000, 0x2A6D0, MAX_TEXT_CHARS)))
    lines = [
        f"1,2020-06-01 10:00:00,t,{widest}",
        "2,2020-06-01 10:00:00,t," + "A" * MAX_TEXT_CHARS,
        "3,2020-06-01 10:00:00,t," + "B" * (MAX_TEXT_CHARS + 1),
        "4,2020-06-01 10:00:00,t," + widest + "C",
        "5,2020-06-01 10:00:00,t," + "".join(rng.choice(list(ALPHANUMERIC), 3232)),
    ]
    path = write(tmp_path / "sessions_mediums.csv", SESSIONS_HEADER + "\n".join(lines) + "\n")
    [result] = load.load_files([path])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 2, 3)
    assert query(warehouse_url, "select user_id, medium from raw.sessions order by 1") == [
        (1, widest),
        (2, "A" * MAX_TEXT_CHARS),
    ]
    limit = MAX_TEXT_CHARS
    assert query(warehouse_url, "select line_number, reason from raw.load_rejects order by 1") == [
        (4, f"medium longer than {limit} characters ({limit + 1})"),
        (5, f"medium longer than {limit} characters ({limit + 1})"),
        (6, f"medium longer than {limit} characters (3232)"),
    ]


def test_timestamps_outside_the_range_are_rejected_with_the_range(warehouse_url: str, tmp_path: Path) -> None:
    stamps = [
        "0001-01-01 00:00:00",
        "1989-12-31 23:59:59.999999",
        "1990-01-01 00:00:00",
        "2099-12-31 23:59:59.999999",
        "2100-01-01 00:00:00",
        "9999-12-31 23:59:59",
    ]
    body = "user_id,registration_time\n" + "".join(f"{i},{t}\n" for i, t in enumerate(stamps))
    [result] = load.load_files([write(tmp_path / "conversions_range.csv", body)])
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (6, 2, 4)
    assert query(warehouse_url, "select registration_time from raw.conversions order by 1") == [
        (utc(1990, 1, 1),),
        (utc(2099, 12, 31, 23, 59, 59, 999999),),
    ]
    rejects = query(warehouse_url, "select line_number, reason from raw.load_rejects order by 1")
    assert rejects == [
        (n, f"registration_time '{stamps[n - 2]}' outside the accepted range [1990-01-01, 2100-01-01) UTC")
        for n in (2, 3, 6, 7)
    ]


RAW_WRITES_OUTSIDE_THE_BOUNDS = [
    ("sessions", "1, '2020-06-01 10:00:00+00', true, repeat('x', 257)", "sessions_medium_length"),
    ("sessions", "1, '1989-12-31 23:59:59+00', true, 'x'", "sessions_time_started_range"),
    ("conversions", "1, '2100-01-01 00:00:00+00'", "conversions_registration_time_range"),
]


@pytest.mark.parametrize(("feed", "values", "check"), RAW_WRITES_OUTSIDE_THE_BOUNDS)
def test_raw_tables_check_the_bounds_for_any_writer(
    warehouse_url: str, feed: str, values: str, check: str
) -> None:
    load.load_files([], warehouse_url)  # create the raw schema
    with connect(warehouse_url) as conn:
        conn.execute(f"create table raw.{feed}_by_hand partition of raw.{feed} for values in (-1)")
        columns = ", ".join(FEEDS[feed].column_names)
        statement = (
            f"insert into raw.{feed} ({columns}, _load_id, _source_file, _line_number, _loaded_at)"
            f" values ({values}, -1, 'by hand', 1, now())"
        )
        with pytest.raises(psycopg.errors.CheckViolation, match=check):
            conn.execute(statement)


def test_raw_tables_made_before_the_checks_get_them_and_keep_loading(
    warehouse_url: str, tmp_path: Path
) -> None:
    first = write(tmp_path / "s1.csv", SESSIONS_HEADER + "1,2020-06-01 10:00:00,t,DIRECT\n")
    load.load_files([first])
    with connect(warehouse_url) as conn:  # as a warehouse from before the bounds, with a row outside them
        for feed in FEEDS.values():
            for name in contract_checks(feed):
                conn.execute(f"alter table {feed.table} drop constraint {name}")
        conn.execute("update raw.sessions set medium = repeat('x', 300)")
    second = write(tmp_path / "s2.csv", SESSIONS_HEADER + "2,2020-06-01 10:00:00,t,EMAIL\n")
    [result] = load.load_files([second])
    assert (result.status, result.rows_loaded) == ("loaded", 1)
    checks = query(
        warehouse_url,
        "select conname, convalidated from pg_constraint"
        " where conrelid in ("
        + ", ".join(f"'{f.table}'::regclass" for f in FEEDS.values())
        + ") and contype = 'c' order by 1",
    )
    assert checks == sorted((name, False) for f in FEEDS.values() for name in contract_checks(f))
    with connect(warehouse_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("update raw.sessions set medium = repeat('y', 300) where user_id = 2")


@pytest.mark.slow
def test_dbt_builds_with_the_longest_medium_and_the_range_edges(warehouse_url: str, tmp_path: Path) -> None:
    from dbt_cases import run_dbt_in

    rng = np.random.default_rng(11)
    widest = "".join(map(chr, rng.integers(0x20000, 0x2A6D0, MAX_TEXT_CHARS)))
    sessions = write(
        tmp_path / "sessions_edges.csv",
        SESSIONS_HEADER
        + f"1,1990-01-01 00:00:00,t,{widest}\n"
        + f"1,2099-12-31 23:59:59.999999,f,{widest[::-1]}\n"
        + "2,2020-06-01 10:00:00,t,"
        + "".join(rng.choice(list(ALPHANUMERIC), 3232))
        + "\n",
    )
    conversions = write(
        tmp_path / "conversions_edges.csv", "user_id,registration_time\n1,2099-12-31 23:59:59\n"
    )
    results = load.load_files([sessions, conversions])
    assert [(r.rows_loaded, r.rows_rejected) for r in results] == [(2, 1), (1, 0)]
    build = run_dbt_in(tmp_path / "target", "build", check=False)
    assert build.returncode == 0, build.stdout[-3000:]
    assert query(warehouse_url, "select count(*) from dwh.fct_sessions where medium is not null") == [(2,)]


# ---------------------------------------------------------------------------------------------------
# Folder entries and file names


def test_every_folder_entry_is_taken_or_reported(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "landing"
    folder.mkdir()
    row = "1,2020-06-01 10:00:00,t,DIRECT\n"
    write(folder / "a_upper.CSV", SESSIONS_HEADER + row)
    write(
        folder / "b_mixed.Csv.GZ",
        gzip.compress(f"userid,registration_time\n{row[:2]}2020-06-02 10:00:00\n".encode()),
    )
    # a name that is not UTF-8, and a file after it
    bad_name = os.fsdecode(b"c_caf\xe9.csv")
    write(folder / bad_name, SESSIONS_HEADER + "2,2020-06-01 10:00:00,t,EMAIL\n")
    write(folder / "d_after.csv", SESSIONS_HEADER + "3,2020-06-01 10:00:00,t,EMAIL\n")
    (folder / "e_broken.csv").symlink_to(folder / "missing.csv")
    (folder / "f_loop.csv").symlink_to(folder / "f_loop.csv")
    os.mkfifo(folder / "g_pipe.csv")
    (folder / "h_folder.csv").mkdir()
    write(folder / "i_notes.txt", "not data")
    (folder / "j_link.csv").symlink_to(folder / "d_after.csv")  # same bytes: already loaded

    code = growth_main(["load", str(folder)])
    out, err = capsys.readouterr()
    assert code == 1
    assert [re.sub(r" \(load \d+, [0-9.]+ s\)$", "", line) for line in out.splitlines()[:-1]] == [
        "loaded a_upper.CSV: 1 read = 1 loaded + 0 rejected",
        "loaded b_mixed.Csv.GZ: 1 read = 1 loaded + 0 rejected",
        "loaded c_caf\\xe9.csv: 1 read = 1 loaded + 0 rejected",
        "loaded d_after.csv: 1 read = 1 loaded + 0 rejected",
        "ignored h_folder.csv: a folder (folders are not searched)",
        "ignored i_notes.txt: not a .csv or .csv.gz file",
        "skipped j_link.csv: already loaded as load 4",
    ]
    assert out.splitlines()[-1].startswith(
        "total: 10 files: 4 loaded, 1 already loaded, 3 refused, 2 ignored; 4 read = 4 loaded + 0 rejected"
    )
    assert err.splitlines() == [
        "growth load: e_broken.csv: broken symbolic link",
        "growth load: f_loop.csv: symbolic link loop",
        "growth load: g_pipe.csv: not a regular file (a FIFO)",
    ]
    assert [row[2] for row in ledger(warehouse_url)] == [
        "a_upper.CSV",
        "b_mixed.Csv.GZ",
        "c_caf\\xe9.csv",
        "d_after.csv",
    ]
    assert query(warehouse_url, "select distinct _source_file from raw.sessions where user_id = 2") == [
        ("c_caf\\xe9.csv",)
    ]


def test_a_non_utf8_name_in_rejects_and_json(
    warehouse_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / os.fsdecode(b"s_\xff.csv"), SESSIONS_HEADER + "x,2020-06-01 10:00:00,t,A\n")
    missing = tmp_path / os.fsdecode(b"gone_\xfe.csv")
    assert growth_main(["load", "--json", str(path), str(missing)]) == 1
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (first["status"], first["path"]) == ("loaded", f"{tmp_path}/s_\\xff.csv")
    assert (second["status"], second["message"]) == ("refused", "gone_\\xfe.csv: no such file")
    assert query(warehouse_url, "select source_file from raw.load_rejects") == [("s_\\xff.csv",)]


def test_dag_load_task_takes_its_feed_by_header_and_fails_on_a_file_no_feed_takes(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from growth_analytics.orchestration import airflow_env
    from growth_analytics.orchestration.tasks import load_feed

    landing = tmp_path / "landing"
    landing.mkdir()
    known = write(landing / "Sessions_x.CSV", SESSIONS_HEADER + "1,2020-06-01 10:00:00,t,DIRECT\n")
    load.load_files([known])  # already loaded: the task has nothing new of its own feed to load
    write(landing / "registrations_2020-06-01.csv", "user_id,registration_time\n1,2020-06-01 11:00:00\n")
    write(landing / "export_2020-06-01.csv", "user_id,time_started\n1,2020-06-01 10:00:00\n")
    write(landing / "README.md", "# landing\n")
    # The task finds the warehouse through its Airflow connection, as it does in a DAG run.
    for key, value in airflow_env.airflow_env(warehouse_url, home=tmp_path / "airflow").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GROWTH_LANDING_DIR", str(landing))

    with pytest.raises(AirflowFailException) as failure:
        load_feed("sessions")
    assert str(failure.value) == (
        "export_2020-06-01.csv: header does not fit the sessions feed (user_id,time_started,is_paid,medium):"
        " missing columns is_paid, medium"
    )
    # the sessions task left the registrations file to its own feed's task
    assert [(row[1], row[2]) for row in ledger(warehouse_url)] == [("sessions", "Sessions_x.CSV")]
