"""Property: every data line of a file is either loaded, with the values the input contract gives it, or
rejected, whatever the lines hold, how long they are and where the loader's reads cut the file.

The expected outcome of each line comes from a reference reader written here from the contract in
docs/data-contract.md (it shares no code with the loader); what the loader did is read back from Postgres.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from growth_analytics import load
from growth_analytics.load import limits
from growth_analytics.warehouse.connect import connect
from growth_analytics.warehouse.embedded import EmbeddedPostgres

# ---------------------------------------------------------------------------------------------------
# The reference reader: the documented contract of a sessions line

MAX_TEXT_CHARS = 256
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
BEFORE = datetime(2100, 1, 1, tzinfo=UTC)
BOOLEANS = {
    "true": True,
    "t": True,
    "1": True,
    "yes": True,
    "false": False,
    "f": False,
    "0": False,
    "no": False,
}
FIELD = re.compile(r'"((?:[^"]|"")*)"|([^",]*)')
INTEGER = re.compile(r"[+-]?[0-9]+")
TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})?"
)


@dataclass(frozen=True)
class Expected:
    values: tuple[Any, ...] | None  # (user_id, time_started, is_paid, medium) when the line loads
    too_long: int | None = None  # the line's length when it is rejected for it


def fields_of(text: str) -> list[str] | None:
    fields, pos = [], 0
    while True:
        match = FIELD.match(text, pos)
        assert match is not None  # the second alternative matches the empty string
        quoted, plain = match.groups()
        fields.append(quoted.replace('""', '"') if quoted is not None else plain)
        pos = match.end()
        if pos == len(text):
            return fields
        if text[pos] != ",":
            return None
        pos += 1


def user_id_of(text: str) -> int | None:
    if not INTEGER.fullmatch(text):
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


def timestamp_of(text: str) -> datetime | None:
    match = TIMESTAMP.fullmatch(text)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    if not 1989 <= year <= 2100:  # no offset brings these into the range
        return None
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    if match.group(7):
        micros = (Decimal("0." + match.group(7)) * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        moment += timedelta(microseconds=int(micros))
    zone = match.group(8)
    if zone and zone != "Z":
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            return None
        offset = timedelta(hours=hours, minutes=minutes)
        moment -= offset if zone[0] == "+" else -offset
    return moment if EARLIEST <= moment < BEFORE else None


def medium_of(text: str) -> str | None:
    return text if text.strip() and len(text) <= MAX_TEXT_CHARS else None


def expected_line(raw: bytes, columns: list[str], max_line_bytes: int) -> Expected:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if len(raw) > max_line_bytes:
        return Expected(None, too_long=len(raw))
    if not raw or b"\0" in raw:
        return Expected(None)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Expected(None)
    fields = fields_of(text)
    if fields is None or len(fields) != len(columns):
        return Expected(None)
    given = dict(zip(columns, fields, strict=True))
    values = (
        user_id_of(given["user_id"]),
        timestamp_of(given["time_started"]),
        BOOLEANS.get(given["is_paid"].lower()),
        medium_of(given["medium"]),
    )
    return Expected(None if None in values else values)


def expected_lines(data: bytes, columns: list[str], max_line_bytes: int) -> dict[int, Expected]:
    """Line number (the header is line 1) -> what the contract makes of that line."""
    body = data.split(b"\n", 1)[1] if b"\n" in data else b""
    lines = body.split(b"\n")
    if lines[-1] == b"":  # the file ends with a line break
        lines.pop()
    return {number: expected_line(raw, columns, max_line_bytes) for number, raw in enumerate(lines, 2)}


# ---------------------------------------------------------------------------------------------------
# Files of random lines

CANONICAL = ["user_id", "time_started", "is_paid", "medium"]
TIMESTAMP_EDGES = [
    "1990-01-01 00:00:00",
    "1989-12-31 23:59:59.999999",
    "1989-12-31 23:59:59.9999995",
    "1990-01-01T00:00:00+00:01",
    "1989-12-31T23:59:00-00:01",
    "2099-12-31 23:59:59.999999",
    "2099-12-31 23:59:59.9999995",
    "2099-12-31T23:59:59.999999Z",
    "2100-01-01 00:00:00",
    "2100-01-01T00:30:00+01:00",
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59",
    "2020-02-30 10:00:00",
    "2020-06-01 24:00:00",
    "2020-06-01 10:00:00+24:00",
    "2020-06-01",
    "",
]


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 5)) == 5:
        return draw(st.sampled_from(TIMESTAMP_EDGES))
    moment = draw(st.datetimes(min_value=datetime(1989, 6, 1), max_value=datetime(2100, 6, 1)))
    text = moment.strftime(f"%Y-%m-%d{draw(st.sampled_from(['T', ' ']))}%H:%M:%S")
    digits = draw(st.text("0123456789", max_size=9))
    if digits or draw(st.integers(0, 20)) == 20:
        text += "." + digits
    sign, hours, minutes = draw(st.sampled_from("+-")), draw(st.integers(0, 24)), draw(st.integers(0, 60))
    return text + draw(st.sampled_from(["", "", "Z", f"{sign}{hours:02d}:{minutes:02d}", f"{sign}05:30"]))


def mostly(valid: st.SearchStrategy[str], invalid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Values that are valid about four times in five, so that most lines have a chance to load (and
    shrinking, which goes towards 0, goes towards valid values)."""
    return st.integers(0, 9).flatmap(lambda k: invalid if k in (3, 6) else valid)


user_ids = mostly(
    st.one_of(
        st.integers(-(2**63), 2**63 - 1).map(str),
        st.integers(0, 2**63 - 1).map(lambda n: f"+{n}"),
        st.sampled_from(["00042", "-0", "9223372036854775807", "-9223372036854775808"]),
    ),
    st.one_of(
        st.integers(-(2**66), 2**66).map(str),
        st.sampled_from(["", "x", "1.0", " 1", "9223372036854775808", "-9223372036854775809"]),
    ),
)
is_paid_words = mostly(
    st.sampled_from(sorted(BOOLEANS)).map(lambda word: word.upper() if len(word) % 2 else word),
    st.sampled_from(["y", "n", "2", "", "true ", "truth"]),
)
mediums = mostly(
    st.one_of(
        st.sampled_from(["DIRECT", "PAID SEARCH", " paid search", "Organic, Search", 'say "hi"']),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=40),
        st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\n"), min_size=1, max_size=30),
        st.integers(MAX_TEXT_CHARS - 2, MAX_TEXT_CHARS).map(lambda n: "W" * n),
        st.integers(MAX_TEXT_CHARS - 2, MAX_TEXT_CHARS).map(lambda n: "\u00e9" * (n - 1) + "\U0001f600"),
    ),
    st.one_of(
        st.sampled_from(["", "   ", "\t"]),
        st.integers(MAX_TEXT_CHARS + 1, MAX_TEXT_CHARS + 3).map(lambda n: "W" * n),
        st.integers(MAX_TEXT_CHARS + 1, MAX_TEXT_CHARS + 3).map(lambda n: "\u00e9" * (n - 1) + "\U0001f600"),
    ),
)
VALUES = {"user_id": user_ids, "time_started": timestamps(), "is_paid": is_paid_words, "medium": mediums}


@st.composite
def fields(draw: st.DrawFn, value: str) -> str:
    """A value as a CSV field: quoted when it must be, sometimes when it need not be, rarely broken."""
    style = draw(st.integers(0, 99))
    if style == 98:
        return '"' + value  # unterminated quote
    if style == 99:
        return value + '"'
    if style >= 80 or "," in value or '"' in value:
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def data_lines(draw: st.DrawFn, columns: list[str], max_line_bytes: int) -> bytes:
    kind = draw(st.sampled_from(["record"] * 12 + ["sized", "sized", "long", "junk", "empty"]))
    if kind == "junk":
        return draw(st.binary(max_size=60)).replace(b"\n", b"")
    if kind == "empty":
        return draw(st.sampled_from([b"", b" ", b",,,"]))
    values = {column: draw(VALUES[column]) for column in columns}
    if kind in ("sized", "long"):  # a medium that makes the line a given length
        values["medium"] = ""
        base = len(",".join(values[c] for c in columns).encode())
        size = max_line_bytes + draw(
            st.integers(-2, 2) if kind == "sized" else st.integers(3, 3 * max_line_bytes)
        )
        values["medium"] = "m" * max(size - base, 1)
    line = ",".join(draw(fields(values[c])) if kind == "record" else values[c] for c in columns)
    if kind == "record" and draw(st.integers(0, 9)) == 9:
        line = draw(st.sampled_from([line + ",x", line.rsplit(",", 1)[0]]))
    raw = line.encode()
    if draw(st.integers(0, 19)) == 19:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\0", b"\xff", b"\xc3", b"\r"])) + raw[at:]
    return raw


@st.composite
def files(draw: st.DrawFn) -> tuple[bytes, list[str], int, int]:
    """(file bytes, its columns in file order, BLOCK_BYTES, MAX_LINE_BYTES)."""
    # short limits put the limit within reach of a valid line, long ones let long mediums load
    short = draw(st.integers(0, 9)) in (3, 6)
    max_line_bytes = draw(st.integers(48, 320) if short else st.integers(320, 900))
    block_bytes = draw(st.integers(8, 700))
    columns = draw(st.permutations(CANONICAL))
    names = [
        ("UserID" if c == "user_id" and draw(st.booleans()) else c.upper() if draw(st.booleans()) else c)
        for c in columns
    ]
    header = (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + ",".join(names).encode()
    lines = draw(st.lists(data_lines(columns, max_line_bytes), max_size=40))
    ends = draw(st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=len(lines) + 1, max_size=len(lines) + 1))
    data = header + ends[0] + b"".join(line + end for line, end in zip(lines, ends[1:], strict=True))
    if lines and draw(st.booleans()):
        data = data.removesuffix(ends[-1])  # no line break after the last line
    return data, columns, block_bytes, max_line_bytes


# ---------------------------------------------------------------------------------------------------
# The property


@pytest.fixture(scope="module")
def database(postgres_server: EmbeddedPostgres) -> Iterator[str]:
    yield postgres_server.create_database("test_load_properties")


def loaded_and_rejected(url: str, load_id: int) -> tuple[dict[int, tuple], dict[int, str], tuple]:
    with connect(url) as conn:
        rows = conn.execute(
            "select _line_number, user_id, time_started, is_paid, medium from raw.sessions"
            " where _load_id = %s",
            (load_id,),
        ).fetchall()
        rejects = conn.execute(
            "select line_number, reason from raw.load_rejects where load_id = %s", (load_id,)
        ).fetchall()
        counts = conn.execute(
            "select rows_read, rows_loaded, rows_rejected from raw.load_ledger where load_id = %s", (load_id,)
        ).fetchone()
        # leave the database empty for the next example (same bytes would be a duplicate)
        conn.execute(f"drop table raw.sessions_load_{load_id}")
        conn.execute("delete from raw.load_ledger where load_id = %s", (load_id,))
        conn.commit()
    return {row[0]: row[1:] for row in rows}, dict(rejects), counts


@settings(
    max_examples=150,
    deadline=None,
    database=None,  # no example files in the checkout; a failure prints its reproducing example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(case=files())
def test_every_line_is_loaded_or_rejected_as_the_contract_says(
    database: str, tmp_path_factory: pytest.TempPathFactory, case: tuple[bytes, list[str], int, int]
) -> None:
    data, columns, block_bytes, max_line_bytes = case
    path = tmp_path_factory.mktemp("property") / "sessions.csv"
    path.write_bytes(data)
    with (
        mock.patch.object(limits, "BLOCK_BYTES", block_bytes),
        mock.patch.object(limits, "MAX_LINE_BYTES", max_line_bytes),
    ):
        [result] = load.load_files([path], database)
    assert result.status == "loaded", result.message
    loaded, rejected, counts = loaded_and_rejected(database, result.load_id)

    expected = expected_lines(data, columns, max_line_bytes)
    assert counts == (len(expected), len(loaded), len(rejected))
    assert sorted([*loaded, *rejected]) == sorted(expected)
    assert loaded == {n: e.values for n, e in expected.items() if e.values is not None}
    too_long = {
        n: f"line longer than {max_line_bytes} bytes ({e.too_long})"
        for n, e in expected.items()
        if e.too_long
    }
    assert {n: reason for n, reason in rejected.items() if reason.startswith("line longer")} == too_long
