"""Hand-made CSV files with every edge case of the attribution contract, and helpers for the dbt tests.

Each user below is one case; the comment says what the contract makes of it. Times are around
R = 2020-06-10 12:00:00 UTC. The files are split into an "early" and a "late" part: the late part
holds sessions and registrations that arrive after the early part was modelled, and that change the
attribution of registrations already attributed (the incremental tests load the parts in order).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

R = datetime(2020, 6, 10, 12, 0, 0, tzinfo=UTC)
BIG = 3_070_000_000_000_000_000  # ids like the original's, near the top of bigint
SEC = timedelta(seconds=1)
H = timedelta(hours=1)
D = timedelta(days=1)


# The tables dbt builds from the raw feeds, by layer (what the tests compare before and after a run).
DWH_TABLES = ("dwh.fct_sessions", "dwh.fct_registrations", "dwh.dim_user", "dwh.dim_channel", "dwh.dim_date")
MART_TABLES = (
    "mart.registration_attribution",
    "mart.attribution_credits",
    "mart.channel_attribution_daily",
    "mart.channel_attribution_monthly",
    "mart.channel_performance",
    "mart.user_paths",
    "mart.conversion_paths",
    "mart.path_registrations_daily",
    "mart.conversion_paths_monthly",
    "mart.markov_transitions",
    "mart.markov_channel_attribution",
    "mart.markov_channel_set_credits",
    "mart.markov_credits",
)


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".")


def _user(n: int) -> int:
    return BIG + n


# (user, time, is_paid, medium as written in the file)
EARLY_SESSIONS: list[tuple[int, str, str, str]] = [
    # 1: paid search exactly 3 h before (inclusive) beats organic search 1 h before -> PAID_SEARCH
    (_user(1), ts(R - 3 * H), "true", "PAID SEARCH"),
    (_user(1), ts(R - H), "false", "organic search"),
    # 2: paid search 3 h + 1 s before is out of its window; direct 10 days before -> DIRECT
    (_user(2), ts(R - 3 * H - SEC), "true", "Paid Search"),
    (_user(2), ts(R - 10 * D), "false", "DIRECT"),
    # 3: impression exactly 1 h before -> PAID_IMPRESSION (the paid search is 1 s out of window)
    (_user(3), ts(R - H), "true", "IMPRESSION"),
    (_user(3), ts(R - 3 * H - SEC), "true", "PAID SEARCH"),
    # 4: organic search exactly 12 h before, email 1 min before -> ORGANIC_SEARCH
    (_user(4), ts(R - 12 * H), "false", "ORGANIC SEARCH"),
    (_user(4), ts(R - timedelta(minutes=1)), "false", "EMAIL"),
    # 5: only out-of-window search and impression -> OTHERS (the latest of them)
    (_user(5), ts(R - 5 * H), "true", "PAID SEARCH"),
    (_user(5), ts(R - 2 * H), "true", " impression"),
    (_user(5), ts(R - 13 * H), "false", "ORGANIC SEARCH"),
    # 6: paid search at the registration instant -> PAID_SEARCH, 0 hours
    (_user(6), ts(R), "true", "PAID SEARCH"),
    # 7: sessions only after registering (1 s and 1 day after) -> UNATTRIBUTED everywhere
    (_user(7), ts(R + SEC), "true", "PAID SEARCH"),
    (_user(7), ts(R + D), "false", "DIRECT"),
    # 9: equal timestamps: email and referral at the same instant, and the same referral paid and unpaid
    (_user(9), ts(R - 2 * H), "false", "EMAIL"),
    (_user(9), ts(R - 2 * H), "false", "REFERRAL"),
    (_user(9), ts(R - 2 * H), "true", "REFERRAL"),
    (_user(9), ts(R - 20 * H), "false", "SOCIAL"),
    # 10: the 30-day edge: exactly 30 days before is in the window, 1 s more is not
    (_user(10), ts(R - 30 * D), "false", "EMAIL"),
    (_user(10), ts(R - 30 * D - SEC), "false", "DIRECT"),
    (_user(10), ts(R - 5 * D), "false", "SOCIAL"),
    # 11: time zone offsets: 14:00+02:00 is R; 06:00-03:00 is 09:00Z, exactly 3 h before
    (_user(11), "2020-06-10T06:00:00-03:00", "t", "paid search"),
    (_user(11), "2020-06-10T13:59:59+02:00", "f", "DIRECT"),
    # 12: duplicate rows (exact copies, and a copy that differs only in medium spelling)
    (_user(12), ts(R - 30 * timedelta(minutes=1)), "true", "PAID SEARCH"),
    (_user(12), ts(R - 30 * timedelta(minutes=1)), "true", "PAID SEARCH"),
    (_user(12), ts(R - 30 * timedelta(minutes=1)), "yes", " paid search "),
    (_user(12), ts(R - 2 * D), "false", "EMAIL"),
    (_user(12), ts(R - 2 * D), "false", "EMAIL"),
    # 13: two registrations (R and R + 5 days); touches before the first count for both
    (_user(13), ts(R - 20 * D), "false", "DIRECT"),
    (_user(13), ts(R - H), "true", "PAID SEARCH"),
    (_user(13), ts(R + 5 * D - 2 * H), "false", "ORGANIC SEARCH"),
    # 14: many touches (position_based with a middle, time_decay), microsecond precision
    *[
        (_user(14), ts(R - k * 7 * H - timedelta(microseconds=123456)), "false", medium)
        for k, medium in enumerate(["EMAIL", "SOCIAL", "EMAIL", "REFERRAL", "PAID SOCIAL", "TV"], start=1)
    ],
    # 15: paid search one microsecond outside its window -> OTHERS
    (_user(15), ts(R - 3 * H - timedelta(microseconds=1)), "true", "PAID SEARCH"),
    # 16: direct 60 days before: rule-based DIRECT (no window), multi-touch UNATTRIBUTED (outside 30 days)
    (_user(16), ts(R - 60 * D), "false", "direct"),
    # 17: a medium the channel mapping does not know -> OTHERS, reported as unknown medium
    (_user(17), ts(R - 4 * H), "false", "Carrier Pigeon"),
    # 18: sessions of a user who never registers
    (_user(18), ts(R - 4 * H), "false", "EMAIL"),
    # 20: path EMAIL EMAIL SOCIAL EMAIL collapses to EMAIL > SOCIAL > EMAIL; last non-direct: the EMAIL
    # before the closing DIRECT
    (_user(20), ts(R - 4 * D), "false", "EMAIL"),
    (_user(20), ts(R - 3 * D), "false", "EMAIL"),
    (_user(20), ts(R - 2 * D), "false", "SOCIAL"),
    (_user(20), ts(R - 1 * D), "false", "EMAIL"),
    (_user(20), ts(R - H), "false", "DIRECT"),
    # 21: a user who never registers, path DIRECT DIRECT EMAIL -> DIRECT > EMAIL (non-converting)
    (_user(21), ts(R - 3 * H), "false", "DIRECT"),
    (_user(21), ts(R - 2 * H), "false", "DIRECT"),
    (_user(21), ts(R - H), "false", "EMAIL"),
    # 22: only DIRECT touches in the window: last non-direct falls back to DIRECT; path DIRECT
    (_user(22), ts(R - 2 * D), "false", "DIRECT"),
    (_user(22), ts(R - H), "true", "DIRECT"),
]

EARLY_REGISTRATIONS: list[tuple[int, str]] = [
    *[(_user(n), ts(R)) for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 15, 16, 17, 20, 22)],
    (_user(11), "2020-06-10T14:00:00+02:00"),
    (_user(12), ts(R)),  # duplicate registration row
    (_user(13), ts(R)),
    (_user(13), ts(R + 5 * D)),
]

# Arriving later: they change registrations attributed from the early part.
LATE_SESSIONS: list[tuple[int, str, str, str]] = [
    # 5 gets a paid search inside the window: OTHERS -> PAID_SEARCH
    (_user(5), ts(R - 2 * H - 30 * SEC), "true", "PAID SEARCH"),
    # 8 (registered without any session) gets an old direct session: UNATTRIBUTED -> DIRECT
    (_user(8), ts(R - 40 * D), "false", "DIRECT"),
    # 13 gets an impression 1 h before the second registration: its second registration changes only
    (_user(13), ts(R + 5 * D - H), "true", "IMPRESSION"),
    # 16 gets a session 29 days before: multi-touch changes, rule-based stays DIRECT
    (_user(16), ts(R - 29 * D), "false", "SMS"),
    # an exact copy of an early session, delivered again in a later file
    (_user(1), ts(R - 3 * H), "true", "PAID SEARCH"),
    # 19: a new user, sessions first ...
    (_user(19), ts(R + 2 * D - 6 * H), "false", "ORGANIC SEARCH"),
]

LATE_REGISTRATIONS: list[tuple[int, str]] = [
    (_user(19), ts(R + 2 * D)),
    (_user(13), ts(R + 5 * D)),  # a copy of an early registration, delivered again
]


def write_csv(path: Path, header: str, rows: list[tuple[Any, ...]]) -> Path:
    lines = [header] + [",".join(str(value) for value in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_edge_case_files(folder: Path, part: str = "all") -> list[Path]:
    """The edge-case CSVs: part "early", "late" or "all" (both, as four files)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    if part in ("early", "all"):
        files.append(
            write_csv(
                folder / "edge_sessions_early.csv", "userid,time_started,is_paid,medium", EARLY_SESSIONS
            )
        )
        files.append(
            write_csv(folder / "edge_conversions_early.csv", "USER_ID,registration_time", EARLY_REGISTRATIONS)
        )
    if part in ("late", "all"):
        # columns in another order, as the input contract allows
        late = [(medium, paid, user, time) for user, time, paid, medium in LATE_SESSIONS]
        files.append(
            write_csv(folder / "edge_sessions_late.csv", "medium,is_paid,user_id,time_started", late)
        )
        files.append(
            write_csv(
                folder / "edge_conversions_late.csv",
                "registration_time,user_id",
                [(t, u) for u, t in LATE_REGISTRATIONS],
            )
        )
    return files


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, options="-c TimeZone=UTC") as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def duplicate_a_registration(url: str) -> None:
    """A second row of one registration in dwh.fct_registrations, as a hand edit could leave it: the
    table's unique index on registration_key (which refuses the row otherwise) is dropped first."""
    with psycopg.connect(url) as conn:
        (index,) = conn.execute(
            "select indexrelid::regclass::text from pg_index"
            " where indrelid = 'dwh.fct_registrations'::regclass and indisunique"
        ).fetchone()
        with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
            conn.execute("insert into dwh.fct_registrations select * from dwh.fct_registrations limit 1")
        conn.execute(f"drop index {index}")
        conn.execute("insert into dwh.fct_registrations select * from dwh.fct_registrations limit 1")


def mart_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every mart, bookkeeping columns included, sorted: to show that nothing changed."""
    with psycopg.connect(url) as conn:
        tables = {table: conn.execute(f"select * from {table}").fetchall() for table in MART_TABLES}
    return {table: sorted(rows, key=repr) for table, rows in tables.items()}


# Columns that record when a row was computed (incremental watermarks), not what it says.
BOOKKEEPING_COLUMNS = ("_sessions_load_id", "_registrations_load_id", "_invocation_id")


def table_contents(url: str, table: str) -> list[tuple[Any, ...]]:
    """All rows of a table, sorted, without bookkeeping columns; floats rounded to 9 decimals."""
    schema, name = table.split(".")
    columns = [
        row[0]
        for row in query(
            url,
            "select column_name from information_schema.columns "
            f"where table_schema = '{schema}' and table_name = '{name}' order by ordinal_position",
        )
        if row[0] not in BOOKKEEPING_COLUMNS
    ]
    assert columns, f"{table} has no columns (missing?)"
    select = ", ".join(f'"{c}"' for c in columns)
    rows = query(url, f"select {select} from {table}")
    rounded = [tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in rows]
    return sorted(rounded, key=lambda row: tuple((v is None, str(v)) for v in row))


def run_dbt_in(target_dir: Path, *args: str, check: bool = True):
    """`dbt ARGS` against GROWTH_WAREHOUSE_URL, with its own target folder (tests may run side by side)."""
    from growth_analytics.transform.dbt import run_dbt

    return run_dbt([*args, "--target-path", str(target_dir)], check=check, capture=True)


def run_results(target_dir: Path) -> dict[str, str]:
    """Node name -> status of the last dbt invocation in target_dir."""
    import json

    data = json.loads((target_dir / "run_results.json").read_text())
    return {result["unique_id"].split(".")[2]: result["status"] for result in data["results"]}
