"""The feed contracts: each CSV feed's columns and types, and the bounds every value must keep.

``sessions``     user_id bigint, time_started timestamptz, is_paid boolean, medium text
``conversions``  user_id bigint, registration_time timestamptz
``spend``        spend_date date, medium text, spend numeric(18,4), currency char(3) (null: not sent)

The bounds the warehouse relies on (a text value goes into unique indexes, whose entries Postgres limits to
about 2.7 kB; every day between the first and the last timestamp gets a row in ``dim_date``) are defined here
once: the loader rejects values outside them and CHECK constraints on the raw tables hold them for any writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


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
