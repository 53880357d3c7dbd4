"""The exact line parser: every line the chunk parser does not take, and the reference for it.

A line is accepted with its typed values or rejected with a reason; the input contract is stricter than
Postgres' input functions (which take ``infinity``, ``now``, ``on`` or a bare date).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from growth_analytics.feeds import (
    EARLIEST_TIMESTAMP,
    MAX_TEXT_CHARS,
    SPEND_DECIMALS,
    SPEND_INTEGER_DIGITS,
    SPEND_TYPE,
    TIMESTAMP_RANGE,
    TIMESTAMPS_BEFORE,
)
from growth_analytics.load import limits
from growth_analytics.load.header import Header, split_csv_line
from growth_analytics.load.results import RowError

PG_EPOCH = datetime(2000, 1, 1)  # binary timestamps count microseconds from here (UTC)
EARLIEST_MICROS = (EARLIEST_TIMESTAMP.replace(tzinfo=None) - PG_EPOCH) // timedelta(microseconds=1)
MICROS_BEFORE = (TIMESTAMPS_BEFORE.replace(tzinfo=None) - PG_EPOCH) // timedelta(microseconds=1)
INT8_MAX = 2**63 - 1


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
    return f"line longer than {limits.MAX_LINE_BYTES} bytes ({length})"


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
    if len(raw) > limits.MAX_LINE_BYTES:
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
