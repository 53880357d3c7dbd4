"""Load session, registration and spend CSV files into ``raw.*`` exactly once.

How one file is loaded (``load_files``):

1. The header decides the feed (sessions, conversions or spend) and the column order; a file whose header fits
   no feed, an empty file or one that is not CSV text is refused before anything is written.
2. The SHA-256 of the file's bytes (as stored, so of the ``.gz`` for gzipped files) keys the ledger
   ``raw.load_ledger``: bytes loaded before are a reported no-op, whatever the file is called.
3. One transaction, one load of a feed at a time (so loads of a feed commit in load-id order, which dbt's
   watermarks rely on): the ledger row (its unique hash makes a concurrent load of the same bytes wait and
   then step aside), a new table for this load's partition, one binary ``COPY`` of the parsed rows, the
   rejects, the counts, and ``ATTACH PARTITION`` at the end. A crash anywhere rolls all of it back.

Parsing happens here rather than in Postgres' input functions for two reasons: the input contract is
stricter than Postgres (which takes ``infinity``, ``now``, ``on`` or a bare date), and a client that
parses with numpy and sends binary rows keeps up with a bare text ``COPY``: lines in the common shapes
(printable ASCII, at most one field quoted, with no comma or quote inside, timestamps with up to six
fraction digits) are checked and converted a whole chunk at a time; any other line goes through an exact
line-by-line parser that either accepts it or rejects it with a reason, so every line is accounted for
either way.
"""

from __future__ import annotations

import argparse
import codecs
import dataclasses
import errno
import gzip
import hashlib
import json
import os
import queue
import re
import stat
import struct
import sys
import tempfile
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any
from uuid import uuid4

import numpy as np
import psycopg
from numpy.lib.stride_tricks import sliding_window_view
from psycopg import sql

from growth_analytics.db import WarehouseError, connect
from growth_analytics.schema import (
    COLUMN_ALIASES,
    EARLIEST_TIMESTAMP,
    FEEDS,
    MAX_TEXT_CHARS,
    SPEND_DECIMALS,
    SPEND_INTEGER_DIGITS,
    SPEND_TYPE,
    TIMESTAMP_RANGE,
    TIMESTAMPS_BEFORE,
    Feed,
    ensure_raw_schema,
)

BLOCK_BYTES = 4 << 20  # read size; a chunk is this plus the rest of its last line
MAX_LINE_BYTES = 1 << 20  # longer lines are rejected (a file without newlines must not fill memory)
MAX_HEADER_BYTES = 64 << 10
PARSE_THREADS = 2  # numpy releases the GIL in its loops, so two parsers overlap
PARSE_AHEAD = 3  # parsed chunks waiting for the COPY at most
# Files from this size on are hashed beside their load (SHA-256 of 550 MB: 0.4 s) instead of before it.
HASH_BESIDE_LOAD_BYTES = 64 << 20
MAX_STORED_LINE_CHARS = 10_000  # raw text kept in raw.load_rejects per line
GZIP_MAGIC = b"\x1f\x8b"
PG_EPOCH = datetime(2000, 1, 1)  # binary timestamps count microseconds from here (UTC)
EARLIEST_MICROS = (EARLIEST_TIMESTAMP.replace(tzinfo=None) - PG_EPOCH) // timedelta(microseconds=1)
MICROS_BEFORE = (TIMESTAMPS_BEFORE.replace(tzinfo=None) - PG_EPOCH) // timedelta(microseconds=1)
INT8_MAX = 2**63 - 1

STATUS_LOADED = "loaded"
STATUS_DUPLICATE = "skipped_duplicate"
STATUS_REFUSED = "refused"
STATUS_IGNORED = "ignored"  # a folder's entry that is not a data file by its name (reported, not an error)
DATA_SUFFIXES = (".csv", ".csv.gz")  # of a folder's data files, in any case


# ---------------------------------------------------------------------------------------------------
# Results and errors


@dataclass
class FileResult:
    """What happened to one file; ``message`` is one line (for a refusal: the file and the problem)."""

    path: Path
    feed: str | None
    status: str
    load_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    seconds: float = 0.0
    message: str = ""

    def as_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["path"] = shown_name(str(self.path))
        data["seconds"] = round(self.seconds, 3)
        return data


def shown_name(name: str) -> str:
    """A file name as printable text: bytes that are not UTF-8 (kept by Python as surrogates) as ``\\xNN``."""
    try:
        encoded = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that did not come from the file system
        encoded = name.encode("utf-8", "backslashreplace")
    return encoded.decode("utf-8", "backslashreplace")


class RefusedFile(Exception):
    """The file as a whole cannot be loaded; the message names the problem (not the file)."""


class RowError(ValueError):
    """One line does not satisfy the input contract; the message is the reject reason."""


# ---------------------------------------------------------------------------------------------------
# Header


@dataclass(frozen=True)
class Header:
    """The feed a file belongs to and its columns (canonical names) in file order."""

    feed: Feed
    columns: tuple[str, ...]


def _feed_signature(feed: Feed) -> str:
    return ",".join(feed.column_names)


def parse_header(line: bytes) -> Header:
    """Tell the feed and column order from a header line; raises RefusedFile with the problem."""
    if line.startswith(codecs.BOM_UTF8):
        line = line[len(codecs.BOM_UTF8) :]
    line = line.rstrip(b"\r\n")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise RefusedFile("not a CSV file: the header is not UTF-8 text") from None
    if any(ord(ch) < 32 and ch != "\t" for ch in text):
        raise RefusedFile("not a CSV file: the header contains binary data")
    if not text.strip():
        raise RefusedFile("empty header line")
    try:
        names = [name.strip().lower() for name in split_csv_line(text)]
    except RowError as exc:
        raise RefusedFile(f"unreadable header: {exc}") from None
    columns = [COLUMN_ALIASES.get(name, name) for name in names]
    seen: set[str] = set()
    for name, raw in zip(columns, names, strict=True):
        if not name:
            raise RefusedFile("header has an empty column name")
        if name in seen:
            raise RefusedFile(f"duplicate column {raw!r} in header")
        seen.add(name)
    for feed in FEEDS.values():
        if set(feed.column_names) - feed.optional <= seen <= set(feed.column_names):
            return Header(feed=feed, columns=tuple(columns))

    # Name the feed the header was meant for (it has a column only that feed has) and what is off.
    def own_columns(feed: Feed) -> set[str]:
        others = (set(other.column_names) for other in FEEDS.values() if other is not feed)
        return set(feed.column_names).difference(*others)

    meant = [feed for feed in FEEDS.values() if seen & own_columns(feed)]
    signatures = [f"{feed.name} ({_feed_signature(feed)})" for feed in FEEDS.values()]
    expected = ", ".join(signatures[:-1]) + " or " + signatures[-1]
    if len(meant) != 1:
        return _raise(f"header {','.join(names)!r} matches no feed: expected {expected}")
    feed = meant[0]
    missing = [name for name in feed.column_names if name not in seen and name not in feed.optional]
    unknown = [raw for name, raw in zip(columns, names, strict=True) if name not in feed.column_names]
    problems = []
    if missing:
        problems.append("missing column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing))
    if unknown:
        problems.append("unknown column" + ("s " if len(unknown) > 1 else " ") + ", ".join(unknown))
    return _raise(
        f"header does not fit the {feed.name} feed ({_feed_signature(feed)}): {'; '.join(problems)}"
    )


def _raise(problem: str) -> Header:
    raise RefusedFile(problem)


# ---------------------------------------------------------------------------------------------------
# The exact line parser (every line the chunk parser does not take, and the reference for it)


def split_csv_line(line: str) -> list[str]:
    """Split one CSV record (RFC 4180 quoting, no line breaks inside fields)."""
    if '"' not in line:
        return line.split(",")
    fields: list[str] = []
    i, n = 0, len(line)
    while True:
        if i < n and line[i] == '"':
            parts = []
            j = i + 1
            while True:
                k = line.find('"', j)
                if k < 0:
                    raise RowError("unterminated quote")
                parts.append(line[j:k])
                if k + 1 < n and line[k + 1] == '"':
                    parts.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            fields.append("".join(parts))
            if i == n:
                return fields
            if line[i] != ",":
                raise RowError("text after a closing quote")
            i += 1
        else:
            k = line.find(",", i)
            field = line[i:] if k < 0 else line[i:k]
            if '"' in field:
                raise RowError("quote inside an unquoted field")
            fields.append(field)
            if k < 0:
                return fields
            i = k + 1


_INT_RE = re.compile(r"[+-]?[0-9]+")
_TS_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
BOOL_WORDS = {
    "true": True,
    "t": True,
    "1": True,
    "yes": True,
    "false": False,
    "f": False,
    "0": False,
    "no": False,
}


def too_long_reason(length: int) -> str:
    """The reject reason of a line of ``length`` bytes (without its line break) over MAX_LINE_BYTES."""
    return f"line longer than {MAX_LINE_BYTES} bytes ({length})"


def _show(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


def parse_bigint(value: str, column: str) -> int:
    if not _INT_RE.fullmatch(value):
        raise RowError(f"bad {column} {_show(value)}: not an integer")
    number = int(value)
    if not -(2**63) <= number <= INT8_MAX:
        raise RowError(f"{column} {value} out of the bigint range")
    return number


def parse_timestamp(value: str, column: str) -> int:
    """Microseconds since 2000-01-01 UTC; naive means UTC."""
    match = _TS_RE.fullmatch(value)
    if not match:
        raise RowError(f"bad {column} {_show(value)}: expected YYYY-MM-DD HH:MM:SS[.fff][Z|±HH:MM]")
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    try:
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise RowError(f"bad {column} {_show(value)}: {exc}") from None
    micros = (moment - PG_EPOCH) // timedelta(microseconds=1)
    fraction = match.group(7)
    if fraction:
        seventh = int(fraction[:7].ljust(7, "0"))
        micros += (seventh + 5) // 10  # round half up to whole microseconds
    zone = match.group(8)
    if zone and zone != "Z":
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            raise RowError(f"bad {column} {_show(value)}: offset out of range")
        offset = (hours * 60 + minutes) * 60_000_000
        micros -= offset if zone[0] == "+" else -offset
    if not EARLIEST_MICROS <= micros < MICROS_BEFORE:
        raise RowError(f"{column} {_show(value)} outside the accepted range {TIMESTAMP_RANGE}")
    return micros


def parse_boolean(value: str, column: str) -> bool:
    try:
        return BOOL_WORDS[value.lower()]
    except KeyError:
        raise RowError(f"bad {column} {_show(value)}: expected true/false/t/f/1/0/yes/no") from None


_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DECIMAL_RE = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_CURRENCY_RE = re.compile(r"[A-Za-z]{3}")
_EARLIEST_DATE = EARLIEST_TIMESTAMP.date()
_DATES_BEFORE = TIMESTAMPS_BEFORE.date()


def parse_date(value: str, column: str) -> int:
    """Days since 2000-01-01."""
    match = _DATE_RE.fullmatch(value)
    if not match:
        raise RowError(f"bad {column} {_show(value)}: expected YYYY-MM-DD")
    try:
        day = datetime(*(int(part) for part in match.group(1, 2, 3))).date()
    except ValueError as exc:
        raise RowError(f"bad {column} {_show(value)}: {exc}") from None
    if not _EARLIEST_DATE <= day < _DATES_BEFORE:
        raise RowError(f"{column} {_show(value)} outside the accepted range {TIMESTAMP_RANGE}")
    return (day - PG_EPOCH.date()).days


def parse_amount(value: str, column: str) -> int:
    """A decimal >= 0 with at most SPEND_DECIMALS decimals (a dot as separator), in 10^-SPEND_DECIMALS."""
    match = _DECIMAL_RE.fullmatch(value)
    if not match:
        raise RowError(f"bad {column} {_show(value)}: expected a decimal >= 0 like 1234.56 (a dot, no sign)")
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > SPEND_DECIMALS:
        raise RowError(f"bad {column} {_show(value)}: more than {SPEND_DECIMALS} decimals")
    if len(whole.lstrip("0")) > SPEND_INTEGER_DIGITS:
        raise RowError(
            f"{column} {_show(value)} too large: at most {SPEND_INTEGER_DIGITS} digits before the dot"
        )
    return int(whole) * 10**SPEND_DECIMALS + int(fraction.ljust(SPEND_DECIMALS, "0"))


def parse_currency(value: str, column: str) -> str:
    if not _CURRENCY_RE.fullmatch(value):
        raise RowError(f"bad {column} {_show(value)}: expected a 3-letter code like EUR")
    return value.upper()


def parse_text(value: str, column: str) -> str:
    if not value.strip():
        raise RowError(f"empty {column}")
    if len(value) > MAX_TEXT_CHARS:
        raise RowError(f"{column} longer than {MAX_TEXT_CHARS} characters ({len(value)})")
    return value


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "bigint": parse_bigint,
    "timestamptz": parse_timestamp,
    "boolean": parse_boolean,
    "text": parse_text,
    "date": parse_date,
    SPEND_TYPE: parse_amount,
    "char(3)": parse_currency,
}


def parse_line(raw: bytes, header: Header) -> dict[str, Any]:
    """Parse one data line (without its line break) to Python values; raises RowError with the reason."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if len(raw) > MAX_LINE_BYTES:
        raise RowError(too_long_reason(len(raw)))
    if not raw:
        raise RowError("empty line")
    if b"\x00" in raw:
        raise RowError("NUL byte in line")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RowError(f"invalid UTF-8 at byte {exc.start + 1}") from None
    fields = split_csv_line(text)
    expected = len(header.columns)
    if len(fields) < expected:
        raise RowError(f"too few fields: {len(fields)} of {expected}")
    if len(fields) > expected:
        raise RowError(f"too many fields: {len(fields)}, expected {expected}")
    types = dict(header.feed.columns)
    return {
        name: _PARSERS[types[name]](value, name) for name, value in zip(header.columns, fields, strict=True)
    }


# ---------------------------------------------------------------------------------------------------
# Binary COPY rows
#
# Row layout: the fixed-size columns of the feed in canonical order, then _line_number, then the text
# column (sessions.medium) last, so that rows with equally long text have one fixed numpy layout.

COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
_FIXED_FORMAT = {"bigint": ("q", 8), "timestamptz": ("q", 8), "boolean": ("?", 1), "date": ("i", 4)}


def _binary_amount(units: int) -> bytes:
    """Postgres' binary numeric of ``units`` * 10^-SPEND_DECIMALS (>= 0): base-10000 digits after a
    header of digit count, weight of the first digit, sign and display scale (the server strips zeros)."""
    whole, fraction = divmod(units, 10**SPEND_DECIMALS)
    digits = [fraction * 10 ** (4 - SPEND_DECIMALS)]
    while whole:
        whole, digit = divmod(whole, 10_000)
        digits.insert(0, digit)
    weight = len(digits) - 2
    return struct.pack(f">hhhh{len(digits)}h", len(digits), weight, 0, SPEND_DECIMALS, *digits)


# Binary COPY encoders of the columns only the exact parser takes (variable size).
_BINARY_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    SPEND_TYPE: _binary_amount,
    "char(3)": lambda code: code.encode("ascii"),
}


@dataclass(frozen=True)
class RowLayout:
    fixed: tuple[tuple[str, str], ...]  # (column, type) of fixed-size columns
    text: str | None  # the text column, if any

    @classmethod
    def of(cls, feed: Feed) -> RowLayout:
        fixed = tuple((name, kind) for name, kind in feed.columns if kind != "text")
        texts = [name for name, kind in feed.columns if kind == "text"]
        if len(texts) > 1:  # pragma: no cover - the feeds have at most one text column
            raise NotImplementedError("one text column per feed")
        return cls(fixed=fixed, text=texts[0] if texts else None)

    @property
    def copy_columns(self) -> list[str]:
        return [name for name, _ in self.fixed] + ["_line_number"] + ([self.text] if self.text else [])

    def numpy_dtype(self, text_bytes: int | None) -> np.dtype:
        fields: list[tuple[str, str]] = [("nfields", ">i2")]
        for name, kind in self.fixed:
            size = _FIXED_FORMAT[kind][1]
            fields += [(f"{name}__len", ">i4"), (name, ">i8" if size == 8 else "u1")]
        fields += [("_line_number__len", ">i4"), ("_line_number", ">i8")]
        if self.text is not None:
            fields += [(f"{self.text}__len", ">i4")]
            if text_bytes:
                fields += [(self.text, f"S{text_bytes}")]
        return np.dtype(fields)

    @property
    def chunk_parsable(self) -> bool:
        """Whether the chunk parser knows every column (else every line goes through the exact parser)."""
        return all(kind in _FAST_PARSERS for _, kind in self.fixed)

    def pack_row(self, values: dict[str, Any], line_number: int) -> bytes:
        """One row (from the exact parser) in COPY binary format; a column the file left out is null."""
        parts = [struct.pack(">h", len(self.copy_columns))]
        for name, kind in self.fixed:
            if name not in values:
                parts.append(struct.pack(">i", -1))
            elif kind in _FIXED_FORMAT:
                code, size = _FIXED_FORMAT[kind]
                parts.append(struct.pack(f">i{code}", size, values[name]))
            else:
                encoded = _BINARY_ENCODERS[kind](values[name])
                parts.append(struct.pack(">i", len(encoded)) + encoded)
        parts.append(struct.pack(">iq", 8, line_number))
        if self.text is not None:
            encoded = values[self.text].encode("utf-8")
            parts.append(struct.pack(">i", len(encoded)) + encoded)
        return b"".join(parts)


# ---------------------------------------------------------------------------------------------------
# The chunk parser: the common shape of a line, a whole chunk of lines at a time

_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _special_bytes(a: np.ndarray) -> np.ndarray:
    """Positions of bytes that send a line to the exact parser: quotes, control characters (a CR
    right before the LF is taken as part of the line break later) and non-ASCII (UTF-8 is checked there)."""
    return np.flatnonzero(((a < 32) ^ (a == 10)) | (a > 126) | (a == ord('"')))


def _bool_key(word: bytes) -> int:
    key = len(word) << 40
    for j, byte in enumerate(word):
        key |= byte << (8 * j)
    return key


_BOOL_KEYS_TRUE = np.array(sorted(_bool_key(w.encode()) for w, v in BOOL_WORDS.items() if v), np.int64)
_BOOL_KEYS_FALSE = np.array(sorted(_bool_key(w.encode()) for w, v in BOOL_WORDS.items() if not v), np.int64)

# Fields are read as 24-byte windows viewed as three little-endian 64-bit words, eight bytes at a time
# ("SWAR"): byte j of a word is the (j+1)-th character of its eight.
_WINDOW = 24
_PAD = 32
_U64 = np.dtype("<u8")
_ZEROS = np.uint64(0x3030303030303030)
_LOW_NIBBLES = np.uint64(0x0F0F0F0F0F0F0F0F)
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)
_SIXES = np.uint64(0x0606060606060606)
# _TOP_BYTES[c]: a mask of the c most significant bytes (the last c characters of the eight)
_TOP_BYTES = np.array([((1 << (8 * c)) - 1) << (64 - 8 * c) for c in range(9)], dtype=np.uint64)


def _byte_mask(*positions: int) -> np.uint64:
    return np.uint64(sum(0xFF << (8 * p) for p in positions))


def _word(text: bytes) -> np.uint64:
    return np.uint64(int.from_bytes(text.ljust(8, b"\0"), "little"))


def _all_digits(x: np.ndarray) -> np.ndarray:
    """Every byte of each word is an ASCII digit (bytes above 126 never get here)."""
    return ((x & _HIGH_NIBBLES) == _ZEROS) & (((x + _SIXES) & _HIGH_NIBBLES) == _ZEROS)


def _eight_digits(x: np.ndarray) -> np.ndarray:
    """The number written by eight ASCII digits (first digit in the lowest byte)."""
    x = x - _ZEROS
    x = x * np.uint64(10) + (x >> np.uint64(8))
    pairs = np.uint64(0x000000FF000000FF)
    x = (x & pairs) * np.uint64(100 + (1000000 << 32)) + ((x >> np.uint64(16)) & pairs) * np.uint64(
        1 + (10000 << 32)
    )
    return x >> np.uint64(32)


@dataclass
class _Bytes:
    """A chunk as a byte array, plus overlapping 24-byte windows for reading fields a row at a time."""

    a: np.ndarray
    windows: np.ndarray  # windows[i] = the 24 bytes from position i - _PAD of the chunk

    @classmethod
    def of(cls, buf: bytes) -> _Bytes:
        padding = b"\n" * _PAD
        padded = np.frombuffer(padding + buf + padding, dtype=np.uint8)
        return cls(a=np.frombuffer(buf, dtype=np.uint8), windows=sliding_window_view(padded, _WINDOW))

    def words(self, start: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The 24 bytes at each start (may begin up to _PAD bytes before the chunk) as three words."""
        w = np.ascontiguousarray(self.windows[start + _PAD]).view(_U64)
        return w[:, 0], w[:, 1], w[:, 2]


def _fast_bigint(b: _Bytes, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unsigned decimal integers of 1-19 digits within the bigint range."""
    length = e - s
    ok = (length >= 1) & (length <= 19)
    words = b.words(e - _WINDOW)  # right-aligned: the field is in the last `length` bytes
    number = np.zeros(len(s), dtype=np.uint64)
    for k, word in enumerate(words):
        inside = _TOP_BYTES[np.clip(length - 16 + 8 * k, 0, 8)]
        x = (word & inside) | (_ZEROS & ~inside)  # characters before the field read as '0'
        ok &= _all_digits(x)
        number = number * np.uint64(10**8) + _eight_digits(x)
    ok &= number <= np.uint64(INT8_MAX)
    return ok, number.astype(np.int64)


_TS_DIGITS = (_byte_mask(0, 1, 2, 3, 5, 6), _byte_mask(0, 1, 3, 4, 6, 7), _byte_mask(1, 2))
_TS_SEPARATORS = (_byte_mask(4, 7), _byte_mask(5), _byte_mask(0))
_TS_SEPARATOR_VALUES = tuple(
    _word(text) & mask for text, mask in zip((b"    -  -", b"     :", b":"), _TS_SEPARATORS, strict=True)
)


def _days_since_2000(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days from 2000-01-01 of proleptic Gregorian dates (H. Hinnant's days_from_civil)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468 - 10957


def _fast_timestamp(b: _Bytes, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``YYYY-MM-DD[T ]HH:MM:SS``, then ``.`` and 1-6 digits or nothing, then ``Z``, ``±HH:MM`` or nothing
    -> microseconds since 2000. Longer fractions (rounded by the exact parser) go to the exact parser."""
    length = e - s
    ok = (length >= 19) & (length <= 19 + _TS_TAIL)
    words = b.words(s)
    pairs = []
    for word, digits, seps, sep_values in zip(
        words, _TS_DIGITS, _TS_SEPARATORS, _TS_SEPARATOR_VALUES, strict=True
    ):
        ok &= _all_digits((word & digits) | (_ZEROS & ~digits)) & ((word & seps) == sep_values)
        x = word & digits & _LOW_NIBBLES
        pairs.append(x * np.uint64(10) + (x >> np.uint64(8)))  # byte j: 10 * digit j + digit j+1

    def byte(word: np.ndarray, j: int) -> np.ndarray:
        return ((word >> np.uint64(8 * j)) & np.uint64(0xFF)).astype(np.int64)

    t_or_space = byte(words[1], 2)
    ok &= (t_or_space == ord(" ")) | (t_or_space == ord("T"))
    year = byte(pairs[0], 0) * 100 + byte(pairs[0], 2)
    month, day = byte(pairs[0], 5), byte(pairs[1], 0)
    hour, minute, second = byte(pairs[1], 3), byte(pairs[1], 6), byte(pairs[2], 1)
    ok &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    month = np.clip(month, 1, 12)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    ok &= day <= _DAYS_IN_MONTH[month] + (leap & (month == 2))
    micros = (_days_since_2000(year, month, day) * 86400 + hour * 3600 + minute * 60 + second) * 1_000_000
    with_tail = np.flatnonzero(ok & (length > 19))
    if len(with_tail):
        tail_ok, tail_micros = _timestamp_tail(b, s[with_tail] + 19, length[with_tail] - 19)
        ok[with_tail] = tail_ok
        micros[with_tail] += tail_micros
    ok &= (micros >= EARLIEST_MICROS) & (micros < MICROS_BEFORE)
    return ok, micros


_TS_TAIL = 13  # the longest tail read here: ".ffffff+HH:MM"
_FRACTION_SCALE = 10 ** np.arange(5, -1, -1, dtype=np.int64)


def _timestamp_tail(b: _Bytes, at: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The part after the seconds (1 to _TS_TAIL bytes): valid?, and microseconds to add."""
    rows = np.arange(len(at))[:, None]
    t = b.windows[at + _PAD].astype(np.int64)  # the tail's first _WINDOW bytes, one row each
    fraction = t[:, 0] == ord(".")
    digit = (t[:, 1:8] >= ord("0")) & (t[:, 1:8] <= ord("9"))
    digits = np.where(fraction, np.argmin(np.c_[digit, np.zeros(len(at), bool)], axis=1), 0)
    ok = ~fraction | ((digits >= 1) & (digits <= 6))
    values = np.where(np.arange(6) < digits[:, None], t[:, 1:7] - ord("0"), 0)
    micros = values @ _FRACTION_SCALE
    zone_at = np.where(fraction, digits + 1, 0)
    zone_size = size - zone_at
    z = t[rows, zone_at[:, None] + np.arange(6)]
    zulu = (zone_size == 1) & (z[:, 0] == ord("Z"))
    zone_digits = z[:, [1, 2, 4, 5]]
    offset = (zone_size == 6) & ((z[:, 0] == ord("+")) | (z[:, 0] == ord("-"))) & (z[:, 3] == ord(":"))
    offset &= ((zone_digits >= ord("0")) & (zone_digits <= ord("9"))).all(axis=1)
    hours = (z[:, 1] - ord("0")) * 10 + z[:, 2] - ord("0")
    minutes = (z[:, 4] - ord("0")) * 10 + z[:, 5] - ord("0")
    offset &= (hours <= 23) & (minutes <= 59)
    ok &= (zone_size == 0) | zulu | offset
    shift = np.where(offset, (hours * 60 + minutes) * 60_000_000, 0)
    micros -= np.where(z[:, 0] == ord("+"), shift, -shift)
    return ok, micros


def _fast_boolean(b: _Bytes, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    length = e - s
    ok = (length >= 1) & (length <= 5)
    w = (b.windows[s + _PAD][:, :5] | np.uint8(0x20)).astype(np.int64)  # lower case (digits unchanged)
    w = np.where(np.arange(5) < length[:, None], w, 0)
    keys = (length << 40) | w[:, 0] | (w[:, 1] << 8) | (w[:, 2] << 16) | (w[:, 3] << 24) | (w[:, 4] << 32)
    true = np.isin(keys, _BOOL_KEYS_TRUE)
    ok &= true | np.isin(keys, _BOOL_KEYS_FALSE)
    return ok, true


def _fast_text(b: _Bytes, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, None]:
    """Non-empty, not all blank (other whitespace is a control or non-ASCII byte: never here) and at most
    MAX_TEXT_CHARS long (ASCII: one byte is one character)."""
    ok = (e > s) & (e - s <= MAX_TEXT_CHARS)
    for i in np.flatnonzero(ok & (b.a[np.minimum(s, len(b.a) - 1)] == ord(" "))).tolist():
        ok[i] = bool((b.a[s[i] : e[i]] != ord(" ")).any())  # rare: a value that starts with a space
    return ok, None


_FAST_PARSERS = {"bigint": _fast_bigint, "timestamptz": _fast_timestamp, "boolean": _fast_boolean}


@dataclass
class _QuotedFields:
    """Lines whose only special bytes are the two quotes around one whole field with no comma inside
    (``...,false,"Organic Search"``): the chunk parser reads the field between the quotes."""

    lines: np.ndarray  # line index in the chunk, ascending
    field: np.ndarray  # index of the quoted field on the line

    @classmethod
    def none(cls) -> _QuotedFields:
        return cls(lines=np.empty(0, dtype=np.int64), field=np.empty(0, dtype=np.int64))

    @classmethod
    def of(
        cls,
        a: np.ndarray,
        special: np.ndarray,
        line_of: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        commas: np.ndarray,
        first_comma: np.ndarray,
    ) -> _QuotedFields:
        lines, first, count = np.unique(line_of, return_index=True, return_counts=True)
        two = count == 2
        lines, opening = lines[two], special[first[two]]
        closing = special[first[two] + 1]
        comma_before_opening = np.searchsorted(commas, opening)
        ok = (a[opening] == ord('"')) & (a[closing] == ord('"'))
        ok &= (opening == starts[lines]) | (a[opening - 1] == ord(","))
        ok &= (closing + 1 == ends[lines]) | (a[closing + 1] == ord(","))
        ok &= comma_before_opening == np.searchsorted(commas, closing)
        return cls(lines=lines[ok], field=(comma_before_opening - first_comma[lines])[ok])

    def where(self, keep: np.ndarray) -> _QuotedFields:
        return _QuotedFields(lines=self.lines[keep], field=self.field[keep])

    def unquote(self, bounds: list[tuple[np.ndarray, np.ndarray]], cand: np.ndarray) -> None:
        """Narrow the quoted fields' (start, end) bounds of the candidate lines to the text inside."""
        if not len(self.lines):
            return
        at = np.searchsorted(cand, self.lines)  # every quoted line is a candidate
        for j, (s, e) in enumerate(bounds):
            rows = at[self.field == j]
            s[rows] += 1
            e[rows] -= 1


@dataclass
class ChunkResult:
    rows: list[bytes]  # COPY binary data (several blocks)
    loaded: int
    rejects: list[tuple[int, bytes, str]]  # (line number, raw line, reason)
    lines: int = 0  # lines in the chunk
    exact_lines: int = 0  # lines that went through the line-by-line parser


def parse_chunk(buf: bytes, first_line: int, header: Header, layout: RowLayout) -> ChunkResult:
    """Parse complete lines (``buf`` ends with a line break) whose first line has number ``first_line``."""
    if not layout.chunk_parsable:
        return _parse_chunk_exactly(buf, first_line, header, layout)
    b = _Bytes.of(buf)
    a = b.a
    newlines = np.flatnonzero(a == 10)
    n = len(newlines)
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = newlines[:-1] + 1
    ends = newlines.copy()
    ncols = len(header.columns)
    commas = np.flatnonzero(a == ord(","))
    commas_before_end = np.searchsorted(commas, newlines)
    first_comma = np.empty(n, dtype=np.int64)
    first_comma[0] = 0
    first_comma[1:] = commas_before_end[:-1]
    exact = (commas_before_end - first_comma) != ncols - 1  # lines for the exact parser
    quoted = _QuotedFields.none()
    special = _special_bytes(a)
    if len(special):
        line_of = np.searchsorted(newlines, special)
        crlf = (a[special] == 13) & (special + 1 == newlines[line_of])
        ends[line_of[crlf]] -= 1
        special, line_of = special[~crlf], line_of[~crlf]
        quoted = _QuotedFields.of(a, special, line_of, starts, ends, commas, first_comma)
        quoted = quoted.where(~exact[quoted.lines])  # the field count is right
        exact[line_of] = True
        exact[quoted.lines] = False
    too_long = ends - starts > MAX_LINE_BYTES  # the exact parser rejects them
    if too_long.any():
        exact |= too_long
        quoted = quoted.where(~too_long[quoted.lines])
    cand = np.flatnonzero(~exact)

    bounds: list[tuple[np.ndarray, np.ndarray]] = []
    field_start = starts[cand]
    for j in range(ncols):
        if j < ncols - 1:
            comma = commas[first_comma[cand] + j]
            bounds.append((field_start, comma))
            field_start = comma + 1
        else:
            bounds.append((field_start, ends[cand]))
    quoted.unquote(bounds, cand)
    types = dict(header.feed.columns)
    ok = np.ones(len(cand), dtype=bool)
    values: dict[str, np.ndarray] = {}
    for name, (s, e) in zip(header.columns, bounds, strict=True):
        kind = types[name]
        if kind == "text":
            good, _ = _fast_text(b, s, e)
        else:
            good, values[name] = _FAST_PARSERS[kind](b, s, e)
        ok &= good
    exact[cand[~ok]] = True
    taken = cand[ok]

    blocks: list[bytes] = []
    line_numbers = first_line + taken
    if len(taken):
        keep = {name: v[ok] for name, v in values.items()}
        if layout.text is None:
            blocks.append(_pack_fixed(layout, keep, line_numbers, None, None, None).tobytes())
        else:
            text_pos = header.columns.index(layout.text)
            ts, te = bounds[text_pos][0][ok], bounds[text_pos][1][ok]
            lengths = (te - ts).astype(np.uint16 if MAX_TEXT_CHARS < 2**16 else np.int64)
            order = np.argsort(lengths, kind="stable")
            counts = np.bincount(lengths)
            offset = 0
            for size in np.flatnonzero(counts):
                group = order[offset : offset + counts[size]]
                offset += counts[size]
                text = sliding_window_view(a, size)[ts[group]] if size else None
                rec = _pack_fixed(
                    layout,
                    {k: v[group] for k, v in keep.items()},
                    line_numbers[group],
                    text,
                    size,
                    layout.text,
                )
                blocks.append(rec.tobytes())

    rejects: list[tuple[int, bytes, str]] = []
    loaded = len(taken)
    slow_rows: list[bytes] = []
    for i in np.flatnonzero(exact).tolist():
        raw = buf[starts[i] : newlines[i]]
        line_number = first_line + i
        try:
            row = parse_line(raw, header)
        except RowError as exc:
            rejects.append((line_number, raw, str(exc)))
            continue
        slow_rows.append(layout.pack_row(row, line_number))
        loaded += 1
    if slow_rows:
        blocks.append(b"".join(slow_rows))
    return ChunkResult(rows=blocks, loaded=loaded, rejects=rejects, lines=n, exact_lines=int(exact.sum()))


def _parse_chunk_exactly(buf: bytes, first_line: int, header: Header, layout: RowLayout) -> ChunkResult:
    """Every line of the chunk through the exact parser (feeds with columns the chunk parser lacks)."""
    rows: list[bytes] = []
    rejects: list[tuple[int, bytes, str]] = []
    lines = buf.split(b"\n")[:-1]
    for line_number, raw in enumerate(lines, start=first_line):
        try:
            rows.append(layout.pack_row(parse_line(raw, header), line_number))
        except RowError as exc:
            rejects.append((line_number, raw, str(exc)))
    return ChunkResult(
        rows=[b"".join(rows)] if rows else [],
        loaded=len(rows),
        rejects=rejects,
        lines=len(lines),
        exact_lines=len(lines),
    )


def _pack_fixed(
    layout: RowLayout,
    values: dict[str, np.ndarray],
    line_numbers: np.ndarray,
    text: np.ndarray | None,
    text_bytes: int | None,
    text_name: str | None,
) -> np.ndarray:
    count = len(line_numbers)
    rec = np.empty(count, dtype=layout.numpy_dtype(text_bytes))
    rec["nfields"] = len(layout.copy_columns)
    for name, kind in layout.fixed:
        rec[f"{name}__len"] = _FIXED_FORMAT[kind][1]
        rec[name] = values[name]
    rec["_line_number__len"] = 8
    rec["_line_number"] = line_numbers
    if text_name is not None:
        rec[f"{text_name}__len"] = text_bytes
        if text_bytes:
            rec[text_name] = np.ascontiguousarray(text).view(f"S{text_bytes}").ravel()
    return rec


# ---------------------------------------------------------------------------------------------------
# Reading files


def _open_stream(path: Path) -> IO[bytes]:
    handle = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    if handle.read(2) == GZIP_MAGIC:
        handle.seek(0)
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    handle.seek(0)
    return handle


def _read(stream: IO[bytes], size: int) -> bytes:
    try:
        return stream.read(size)
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(stream, gzip.GzipFile):
            raise RefusedFile(f"corrupt gzip file: {exc}") from None
        raise RefusedFile(f"cannot read the file: {exc}") from None


def read_header(stream: IO[bytes]) -> tuple[bytes, bytes]:
    """The header line and whatever was read after it."""
    buf = b""
    while b"\n" not in buf:
        block = _read(stream, min(BLOCK_BYTES, MAX_HEADER_BYTES))
        if not block:
            break
        buf += block
        if len(buf) > MAX_HEADER_BYTES and b"\n" not in buf[:MAX_HEADER_BYTES]:
            raise RefusedFile("not a CSV file: no line break in the first 64 KiB")
    if not buf:
        raise RefusedFile("empty file")
    line, _, rest = buf.partition(b"\n")
    return line, rest


def iter_chunks(stream: IO[bytes], pending: bytes) -> Iterator[tuple[bytes, int | None]]:
    """The stream's lines in blocks of about BLOCK_BYTES.

    Yields ``(chunk, too_long)``: ``chunk`` holds complete lines ending with a line break (the parsers
    reject those longer than MAX_LINE_BYTES). A line that grows beyond MAX_LINE_BYTES before its line
    break has been read is skipped without keeping it: it is yielded alone, its first bytes only, with
    ``too_long`` set to its length in bytes (without the line break), so that the caller rejects it. A last
    line without a line break gets one.
    """
    buf = pending
    eof = False
    while buf or not eof:
        if not eof:
            block = _read(stream, BLOCK_BYTES)
            if block:
                buf += block
            else:
                eof = True
                if buf and not buf.endswith(b"\n"):
                    buf += b"\n"
        cut = buf.rfind(b"\n") + 1
        if cut:
            yield buf[:cut], None
            buf = buf[cut:]
        # What is left has no line break; one byte more than the limit may still be the CR of a CRLF.
        if len(buf) > MAX_LINE_BYTES + 1:
            head, size, buf, eof = _skip_line(stream, buf)
            yield head, size


def _skip_line(stream: IO[bytes], start: bytes) -> tuple[bytes, int, bytes, bool]:
    """Read past the line that ``start`` begins: (its first bytes, its length without the line break,
    what follows its line break in the last block read, whether the stream ended)."""
    head = start[:MAX_STORED_LINE_CHARS]
    size = len(start)
    last = start[-1:]
    while True:
        block = _read(stream, BLOCK_BYTES)
        if not block:
            return head, size - (last == b"\r"), b"", True
        cut = block.find(b"\n")
        if cut >= 0:
            size += cut
            last = block[cut - 1 : cut] if cut else last
            return head, size - (last == b"\r"), block[cut + 1 :], False
        size += len(block)
        last = block[-1:]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        # large blocks: the hash releases the GIL while it digests one, and needs it rarely in between
        while block := handle.read(BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------
# Loading


def _stored_text(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")
    if len(text) > MAX_STORED_LINE_CHARS:
        text = text[:MAX_STORED_LINE_CHARS] + "..."
    return text


def _copy_text_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class _RejectSpool:
    """Rejects of the file being loaded, kept in a spooled temp file until the data COPY is done."""

    def __init__(self, feed: str, source_file: str) -> None:
        self.count = 0
        self._prefix = f"{_copy_text_field(feed)}\t{_copy_text_field(source_file)}\t"
        self._file = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115 - closed in copy_to

    def add(self, line_number: int, raw: bytes, reason: str) -> None:
        text, why = _copy_text_field(_stored_text(raw)), _copy_text_field(reason)
        row = f"{self._prefix}{line_number}\t{text}\t{why}\n"
        self._file.write(row.encode("utf-8"))
        self.count += 1

    def copy_to(self, cur: psycopg.Cursor, load_id: int) -> None:
        with self._file:
            if not self.count:
                return
            self._file.seek(0)
            prefix = f"{load_id}\t".encode()
            statement = (
                "copy raw.load_rejects (load_id, feed, source_file, line_number, raw_line, reason) from stdin"
            )
            with cur.copy(statement) as copy:
                for line in self._file:
                    copy.write(prefix + line)


class _BackgroundWriter:
    """Feeds a COPY from a thread so that parsing the next chunk overlaps the server's work."""

    def __init__(self, copy: psycopg.Copy, depth: int = 3) -> None:
        self._copy = copy
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="copy-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._copy.write(data)
                except BaseException as exc:  # surfaced in the caller's thread
                    self._error = exc

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


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


def _load_one(conn: psycopg.Connection, path: Path, started: float, url: str | None) -> FileResult:
    name = shown_name(path.name)
    size = path.stat().st_size
    with _open_stream(path) as stream, ThreadPoolExecutor(1, "hash") as hasher:
        header_line, rest = read_header(stream)
        header = parse_header(header_line)
        feed = header.feed
        # The ledger is keyed by the content's hash, a full read of the file. A small file is hashed first,
        # so that loading it again costs that read only. A large file is hashed beside its load, and a load
        # of bytes already loaded stops as soon as the hash is known.
        content_hash = hasher.submit(file_sha256, path)
        hashed_first = size < HASH_BESIDE_LOAD_BYTES
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
                while block := stream.read(BLOCK_BYTES):
                    copy.write(block)
            conn.commit()
            return time.perf_counter() - started
        finally:
            conn.execute(sql.SQL("drop table if exists {}").format(table))
            conn.commit()


# ---------------------------------------------------------------------------------------------------
# Command line


def run_cli(args: argparse.Namespace) -> int:
    """``growth load PATH... [--json]``: one line per file and a total; non-zero if a file was refused."""
    try:
        results = load_files(args.paths)
    except WarehouseError as exc:
        print(f"growth load: {exc}", file=sys.stderr)
        return 2
    for result in results:
        if args.json:
            print(json.dumps(result.as_json()), flush=True)
        elif result.status == STATUS_REFUSED:
            print(f"growth load: {result.message}", file=sys.stderr)
        elif result.status == STATUS_IGNORED:
            print(f"ignored {result.message}")
        else:
            print(result.message)
    refused = sum(r.status == STATUS_REFUSED for r in results)
    if not args.json:
        loaded = [r for r in results if r.status == STATUS_LOADED]
        skipped = sum(r.status == STATUS_DUPLICATE for r in results)
        ignored = sum(r.status == STATUS_IGNORED for r in results)
        print(
            f"total: {len(results)} files: {len(loaded)} loaded, {skipped} already loaded, {refused} refused"
            f"{f', {ignored} ignored' if ignored else ''};"
            f" {sum(r.rows_read for r in loaded)} read = {sum(r.rows_loaded for r in loaded)} loaded"
            f" + {sum(r.rows_rejected for r in loaded)} rejected"
            f" in {sum(r.seconds for r in results):.1f} s"
        )
    return 1 if refused else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m growth_analytics.load PATH...`` (same as ``growth load``)."""
    parser = argparse.ArgumentParser(prog="growth load")
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true")
    return run_cli(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
