"""Realistic web-session, registration and spend CSVs (``growth generate``).

The original data set is private; this generator reproduces its shape:

- about one registration per ten users; 19-digit user ids near 3.07e18 (within bigint);
- sessions over May-June 2020, registrations mostly in June 2020;
- mediums ``PAID SEARCH``, ``IMPRESSION``, ``ORGANIC SEARCH``, ``DIRECT`` and a long tail that together
  dominates; a little raw spelling noise (``' paid search'``, ``'Direct'``) that trim + upper-case fixes;
  ``is_paid`` consistent with the medium except for a little noise;
- sessions cluster in the hours before a registration, so that the rule-based attribution (paid search
  within 3 h, impression within 1 h, organic search within 12 h, direct at any time, else others) gives
  roughly others 67 %, paid search 12 %, organic search 12 %, paid impression 5 %, direct 4 % of the
  attributed registrations;
- anomalies: exact duplicate session and registration rows, registrations without any session (~15 %),
  registrations whose sessions all come later, users with two registrations, users who never register,
  touches exactly at the registration instant, at the window edges (3 h, 1 h, 12 h, 30 days) and one
  second outside them, touches sharing one instant;
- spend per day and paid medium (``spend.csv``): the day's sessions of the medium times the medium's
  cost per session (:data:`COST_PER_SESSION`, EUR) with some noise, split over one to three campaign rows,
  so that the cost per registration differs clearly between channels;
- timestamps ``YYYY-MM-DD HH:MM:SS`` (UTC); about 1 % use the other forms the input contract allows
  (``T`` separator, fractional seconds, ``Z``, ``+02:00`` / ``-05:00`` offsets), always denoting the
  intended instant.

Output is deterministic for a seed (byte-identical files, also gzipped ones) and is produced in blocks of
users, each block simulated and rendered to CSV bytes with numpy, so memory stays bounded whatever the size.
Users are numbered; a user's id is a keyed bijection of its number, so ids never collide, and
:func:`generate_day` can bring back users of an earlier :func:`generate` run without reading its files.

With ``bad_rows > 0`` malformed lines of every kind in :data:`BAD_ROW_KINDS` are added (never replacing a
good row: the good rows are exactly those of the same run without bad rows). Every line, good or bad, is one
physical line: an unterminated quote ends at the end of its line.
"""

from __future__ import annotations

import argparse
import gzip as gzip_module
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np

# ---------------------------------------------------------------------------------------------------------
# Shape of the data
# ---------------------------------------------------------------------------------------------------------

HOUR = 3600
DAY = 86_400

PERIOD_FIRST_DAY = date(2020, 5, 1)
PERIOD_LAST_DAY = date(2020, 6, 30)
JUNE_FIRST = date(2020, 6, 1)

SESSIONS_HEADER = b"user_id,time_started,is_paid,medium\n"
CONVERSIONS_HEADER = b"user_id,registration_time\n"
SPEND_HEADER = b"spend_date,medium,spend,currency\n"
FEEDS = ("sessions", "conversions")

# Canonical mediums (what trim + upper-case of the raw value gives), their share of sessions of users who
# do not register, and whether a session from them is normally paid.
MEDIUMS: tuple[str, ...] = (
    "PAID SEARCH",
    "IMPRESSION",
    "ORGANIC SEARCH",
    "DIRECT",
    "EMAIL",
    "REFERRAL",
    "SOCIAL",
    "PAID SOCIAL",
    "DISPLAY",
    "AFFILIATE",
    "PARTNER",
    "TV",
    "VIDEO",
    "PUSH",
    "SMS",
    "PODCAST",
)
_MEDIUM_SHARE = np.array(
    [0.10, 0.09, 0.12, 0.08, 0.12, 0.08, 0.10, 0.08, 0.06, 0.05, 0.04, 0.03, 0.02, 0.015, 0.01, 0.005]
)
PAID_MEDIUMS = frozenset(
    {"PAID SEARCH", "IMPRESSION", "PAID SOCIAL", "DISPLAY", "AFFILIATE", "PARTNER", "TV", "VIDEO"}
)
_PS, _IMP, _ORG, _DIRECT = 0, 1, 2, 3  # medium codes used by the rules
_TAIL_FIRST = 4
_TAIL_SHARE = _MEDIUM_SHARE[_TAIL_FIRST:] / _MEDIUM_SHARE[_TAIL_FIRST:].sum()
_IS_PAID = np.array([m in PAID_MEDIUMS for m in MEDIUMS])
# What a session of each paid medium costs, in EUR (search and affiliates per click, display per view).
COST_PER_SESSION = {
    "PAID SEARCH": 0.90,
    "IMPRESSION": 0.12,
    "PAID SOCIAL": 0.60,
    "DISPLAY": 0.25,
    "AFFILIATE": 1.80,
    "PARTNER": 1.20,
    "TV": 4.00,
    "VIDEO": 0.45,
}
_COST = np.array([COST_PER_SESSION.get(m, 0.0) for m in MEDIUMS])

# The rule-based attribution of the contract, whose outcomes the data is shaped for. Outcome codes are the
# rule priorities: 1 PAID_SEARCH, 2 PAID_IMPRESSION, 3 ORGANIC_SEARCH, 4 DIRECT, 5 OTHERS (6 UNATTRIBUTED).
_O_PS, _O_IMP, _O_ORG, _O_DIRECT, _O_OTHERS = 1, 2, 3, 4, 5
RULE_WINDOWS = {"PAID SEARCH": 3 * HOUR, "IMPRESSION": 1 * HOUR, "ORGANIC SEARCH": 12 * HOUR}
_WINDOW = {MEDIUMS.index(medium): seconds for medium, seconds in RULE_WINDOWS.items()}
LOOKBACK = 30 * DAY  # multi-touch lookback of the contract; touches are placed on and just past its edge

# Probabilities (per user, registration or row).
P_REGISTER = 0.0985  # the default share of users who register: about one registration per 25 sessions
P_REG_NO_SESSION = 0.15  # registrations of users without any session
P_REG_AFTER_ONLY = 0.03  # registrations whose sessions all come later
# Outcome of the registrations that have touches: PS, IMP, ORG, DIRECT, OTHERS.
OUTCOME_SHARES = np.array([0.12, 0.05, 0.12, 0.04, 0.67])
P_OTHERS_OUT_OF_WINDOW_ONLY = 0.03  # OTHERS whose only touch is a search/impression outside its window
P_EXACT_EDGE = 0.05  # key touch exactly at its window edge
P_EXACT_INSTANT = 0.05  # key touch exactly at the registration instant
P_NEAR_MISS = 0.04  # extra touch one second outside a window
P_LOOKBACK_EDGE = 0.03  # extra touch exactly at (2/3) or one second past (1/3) the 30-day lookback
P_TWIN = 0.03  # extra touch at the key touch's instant (paid flag flipped, or another medium)
P_AFTER_PLUS_ONE = 0.05  # a session one second after registering
P_SECOND_REGISTRATION = 0.015
P_DUPLICATE_REGISTRATION = 0.01
P_DUPLICATE_SESSION = 0.015
P_PAID_NOISE = 0.02

# Raw spellings: index 0 is the canonical one; the rest is noise that trim + upper-case removes.
_SPELLING_WEIGHTS = np.array([0.97, 0.008, 0.008, 0.005, 0.005, 0.004])
_BOOL_TRUE = ("true", "TRUE", "True", "t", "1", "yes")
_BOOL_FALSE = ("false", "FALSE", "False", "f", "0", "no")
_BOOL_WEIGHTS = np.array([0.985, 0.003, 0.004, 0.003, 0.003, 0.002])

# Timestamp forms: (separator, fraction digits, zone). Code 0 is the contract's main form.
_TS_FORMS = (
    (" ", 0, ""),
    ("T", 0, ""),
    (" ", 3, ""),
    ("T", 6, ""),
    ("T", 0, "Z"),
    (" ", 0, "+02:00"),
    ("T", 3, "Z"),
    ("T", 0, "-05:00"),
)
_TS_FORM_WEIGHTS = np.array([0.99, 0.003, 0.002, 0.001, 0.002, 0.001, 0.0005, 0.0005])
_ZONE_SHIFT = {"": 0, "Z": 0, "+02:00": 2 * HOUR, "-05:00": -5 * HOUR}

# Activity by hour of day (UTC), relative.
_NIGHT_AND_MORNING = [1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.7, 1.2, 1.8, 2.2, 2.4, 2.5]
_AFTERNOON_AND_EVENING = [2.5, 2.4, 2.4, 2.4, 2.5, 2.7, 3.0, 3.1, 2.9, 2.5, 1.9, 1.4]
_HOURLY = np.array([*_NIGHT_AND_MORNING, *_AFTERNOON_AND_EVENING])
_HOURLY_CDF = np.cumsum(_HOURLY) / _HOURLY.sum()

# Users are simulated in blocks of this many (fixed, so that output never depends on the run's size).
BLOCK_USERS = 1 << 16
# Approximate session rows per user, used to size the pool of returning users in generate_day.
ROWS_PER_USER = 2.55

# User ids: 3.06e18 + a keyed bijection of the user number on 54 bits (< 1.81e16): 19 digits, < 2**63.
_ID_BASE = np.uint64(3_060_000_000_000_000_000)
_ID_BITS = 54
_ID_MASK = np.uint64((1 << _ID_BITS) - 1)
_NEW_USERS_OF_DAY = 1 << 50  # user numbers of generate_day's new users start here

# Malformed lines, per feed, in the order they are injected.
BAD_ROW_KINDS: dict[str, tuple[str, ...]] = {
    "sessions": (
        "bad_id",
        "id_out_of_range",
        "bad_timestamp",
        "bad_boolean",
        "empty_medium",
        "too_few_fields",
        "too_many_fields",
        "unterminated_quote",
    ),
    "conversions": (
        "bad_id",
        "id_out_of_range",
        "bad_timestamp",
        "too_few_fields",
        "too_many_fields",
        "unterminated_quote",
    ),
}


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class _Period:
    """The simulated time span [start, end) (midnight-aligned) and where registrations fall in it."""

    start: int
    end: int
    reg_day_weights: np.ndarray  # one weight per day of the span
    lead: int  # no registration in the first `lead` seconds (room for touches before it)
    tail: int  # nor in the last `tail` seconds (room for sessions after it)

    @classmethod
    def base(cls) -> _Period:
        days = (PERIOD_LAST_DAY - PERIOD_FIRST_DAY).days + 1
        june = (JUNE_FIRST - PERIOD_FIRST_DAY).days
        weights = np.zeros(days)
        weights[1:june] = 0.15 / (june - 1)  # May (from the 2nd)
        weights[june:] = 0.85 / (days - june)  # June: most registrations
        return cls(_epoch(PERIOD_FIRST_DAY), _epoch(PERIOD_LAST_DAY) + DAY, weights, DAY, HOUR)

    @classmethod
    def one_day(cls, day: date) -> _Period:
        return cls(_epoch(day), _epoch(day) + DAY, np.ones(1), 6 * HOUR, HOUR)


# ---------------------------------------------------------------------------------------------------------
# Simulation of one block of users
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Table:
    """Columns of equal length; one entry per CSV row."""

    cols: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.cols.values())))

    def take(self, index: np.ndarray) -> _Table:
        return _Table({name: col[index] for name, col in self.cols.items()})

    @staticmethod
    def concat(parts: list[_Table]) -> _Table:
        return _Table({name: np.concatenate([p.cols[name] for p in parts]) for name in parts[0].cols})


def _session_part(user: np.ndarray, t: np.ndarray, medium: np.ndarray, paid: np.ndarray, exact) -> _Table:
    n = len(user)
    exact_col = np.broadcast_to(np.asarray(exact, dtype=bool), (n,)).copy()
    return _Table(
        {
            "user": user.astype(np.int64),
            "t": t.astype(np.int64),
            "medium": medium.astype(np.int16),
            "paid": paid.astype(bool),
            "exact": exact_col,
        }
    )


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    hour = np.searchsorted(_HOURLY_CDF, rng.random(n), side="right")
    return np.minimum(hour, 23) * HOUR + rng.integers(0, HOUR, n)


def _tail_medium(rng: np.random.Generator, n: int) -> np.ndarray:
    return _TAIL_FIRST + rng.choice(len(_TAIL_SHARE), size=n, p=_TAIL_SHARE)


def _paid(rng: np.random.Generator, medium: np.ndarray) -> np.ndarray:
    return _IS_PAID[medium] ^ (rng.random(len(medium)) < P_PAID_NOISE)


def _offsets(
    rng: np.random.Generator, avail: np.ndarray, p_cluster: float, mean_hours: float, max_days: float
) -> np.ndarray:
    """Seconds before (or after) an anchor: clustered within hours, else spread over days; 1..avail."""
    n = len(avail)
    clustered = rng.exponential(mean_hours * HOUR, n)
    spread = rng.random(n) * max_days * DAY
    off = np.where(rng.random(n) < p_cluster, clustered, spread).astype(np.int64) + 1
    too_far = off > avail
    off[too_far] = (rng.random(int(too_far.sum())) * avail[too_far]).astype(np.int64) + 1
    return np.minimum(off, avail)


def _rule_priority(medium: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Which rule a touch `off` seconds before its registration satisfies (5 = only OTHERS)."""
    prio = np.full(len(medium), _O_OTHERS, dtype=np.int8)
    prio[medium == _DIRECT] = _O_DIRECT
    prio[(medium == _ORG) & (off <= _WINDOW[_ORG])] = _O_ORG
    prio[(medium == _IMP) & (off <= _WINDOW[_IMP])] = _O_IMP
    prio[(medium == _PS) & (off <= _WINDOW[_PS])] = _O_PS
    return prio


def _registration_times(rng: np.random.Generator, n: int, period: _Period) -> np.ndarray:
    weights = period.reg_day_weights / period.reg_day_weights.sum()
    day = rng.choice(len(weights), size=n, p=weights)
    t = period.start + day * DAY + _time_of_day(rng, n)
    lo, hi = period.start + period.lead, period.end - period.tail
    outside = (t < lo) | (t >= hi)
    t[outside] = lo + rng.integers(0, hi - lo, int(outside.sum()))
    return t


def _simulate_block(
    rng: np.random.Generator, n_users: int, period: _Period, register_share: float
) -> tuple[_Table, _Table]:
    """Sessions and registrations of users 0..n_users-1 (block-local numbers), sessions grouped by user."""
    registers = rng.random(n_users) < register_share
    reg_user = np.flatnonzero(registers)
    n_reg = len(reg_user)
    kind = rng.choice(
        3, size=n_reg, p=[P_REG_NO_SESSION, P_REG_AFTER_ONLY, 1 - P_REG_NO_SESSION - P_REG_AFTER_ONLY]
    )
    reg_t = _registration_times(rng, n_reg, period)
    parts: list[_Table] = []

    # Users who never register: visits spread from their arrival over a few days, at active hours.
    visitors = np.flatnonzero(~registers)
    visits = rng.geometric(0.4, len(visitors))
    v_user = np.repeat(visitors, visits)
    arrival = period.start + (rng.random(len(visitors)) * (period.end - period.start)).astype(np.int64)
    stay = np.minimum(rng.exponential(5 * DAY, len(visitors)).astype(np.int64), period.end - 1 - arrival)
    t = np.repeat(arrival, visits) + (rng.random(len(v_user)) * (np.repeat(stay, visits) + 1)).astype(
        np.int64
    )
    t = t - (t - period.start) % DAY + _time_of_day(rng, len(t))
    medium = rng.choice(len(MEDIUMS), size=len(v_user), p=_MEDIUM_SHARE)
    parts.append(_session_part(v_user, t, medium, _paid(rng, medium), False))

    # Registrations with touches: one key touch realises the chosen outcome, other touches must not beat it.
    att = np.flatnonzero(kind == 2)
    a_user, a_reg = reg_user[att], reg_t[att]
    n_att = len(att)
    avail = a_reg - period.start  # seconds of history before the registration
    outcome = 1 + rng.choice(5, size=n_att, p=OUTCOME_SHARES)
    out_of_window = (outcome == _O_OTHERS) & (rng.random(n_att) < P_OTHERS_OUT_OF_WINDOW_ONLY)
    key_medium = np.empty(n_att, dtype=np.int16)
    key_off = np.empty(n_att, dtype=np.int64)
    key_exact = np.zeros(n_att, dtype=bool)
    for code, medium_code in ((_O_PS, _PS), (_O_IMP, _IMP), (_O_ORG, _ORG)):
        sel = np.flatnonzero(outcome == code)
        window = _WINDOW[medium_code]
        off = 1 + (rng.random(len(sel)) * (window - 1)).astype(np.int64)  # strictly inside
        r = rng.random(len(sel))
        off[r < P_EXACT_EDGE] = window
        off[r >= 1 - P_EXACT_INSTANT] = 0
        key_medium[sel] = medium_code
        key_off[sel] = off
        key_exact[sel] = (r < P_EXACT_EDGE) | (r >= 1 - P_EXACT_INSTANT)
    sel = np.flatnonzero(outcome == _O_DIRECT)
    key_medium[sel] = _DIRECT
    key_off[sel] = _offsets(rng, avail[sel], 0.5, 4, 15)
    sel = np.flatnonzero((outcome == _O_OTHERS) & ~out_of_window)
    key_medium[sel] = _tail_medium(rng, len(sel))
    key_off[sel] = _offsets(rng, avail[sel], 0.6, 2, 10)
    for code in (_O_DIRECT, _O_OTHERS):
        sel = np.flatnonzero((outcome == code) & ~out_of_window)
        at_instant = rng.random(len(sel)) < P_EXACT_INSTANT
        key_off[sel[at_instant]] = 0
        key_exact[sel[at_instant]] = True
    # OTHERS whose only touch is a search or impression outside its window (one second out, or more).
    sel = np.flatnonzero(out_of_window)
    medium_code = rng.choice([_PS, _IMP, _ORG], size=len(sel), p=[0.5, 0.2, 0.3])
    window = np.array([_WINDOW[_PS], _WINDOW[_IMP], _WINDOW[_ORG]])[medium_code]
    just_out = rng.random(len(sel)) < 0.3
    beyond = rng.exponential(DAY, len(sel)).astype(np.int64)
    key_medium[sel] = medium_code
    key_off[sel] = np.minimum(window + 1 + np.where(just_out, 0, beyond), avail[sel])
    key_exact[sel] = just_out
    key_off = np.minimum(key_off, avail)  # a one-day period may not have a window's worth of history
    key_paid = _paid(rng, key_medium)
    key_part = _session_part(a_user, a_reg - key_off, key_medium, key_paid, key_exact)
    parts.append(key_part)

    # Further touches before registering; those that would win a higher rule get a long-tail medium.
    more = np.where(out_of_window, 0, rng.geometric(0.45, n_att) - 1)
    idx = np.repeat(np.arange(n_att), more)
    off = _offsets(rng, avail[idx], 0.55, 3, 20)
    medium = rng.choice(len(MEDIUMS), size=len(idx), p=_MEDIUM_SHARE).astype(np.int16)
    beats_key = _rule_priority(medium, off) < outcome[idx]
    medium[beats_key] = _tail_medium(rng, int(beats_key.sum()))
    parts.append(_session_part(a_user[idx], a_reg[idx] - off, medium, _paid(rng, medium), False))

    # Edge touches: one second outside a window, on / just past the 30-day lookback, twins of the key.
    pool = np.flatnonzero(~out_of_window)
    sel = pool[rng.random(len(pool)) < P_NEAR_MISS]
    medium_code = rng.choice([_PS, _IMP, _ORG], size=len(sel))
    off = np.array([_WINDOW[_PS], _WINDOW[_IMP], _WINDOW[_ORG]])[medium_code] + 1
    fits = off <= avail[sel]
    sel, medium_code, off = sel[fits], medium_code[fits], off[fits]
    parts.append(_session_part(a_user[sel], a_reg[sel] - off, medium_code, _paid(rng, medium_code), True))
    sel = pool[rng.random(len(pool)) < P_LOOKBACK_EDGE]
    off = LOOKBACK + (rng.random(len(sel)) < 1 / 3)
    fits = off <= avail[sel]
    sel, off = sel[fits], off[fits]
    medium = _tail_medium(rng, len(sel))
    parts.append(_session_part(a_user[sel], a_reg[sel] - off, medium, _paid(rng, medium), True))
    sel = pool[rng.random(len(pool)) < P_TWIN]
    other_medium = (rng.random(len(sel)) < 0.5) & (outcome[sel] != _O_OTHERS)
    medium = np.where(other_medium, _tail_medium(rng, len(sel)), key_medium[sel])
    paid = np.where(other_medium, _paid(rng, medium), ~key_paid[sel])
    key_part.cols["exact"][sel] = True  # the key touch and its twin share one exact instant
    parts.append(_session_part(a_user[sel], a_reg[sel] - key_off[sel], medium, paid, True))

    # Sessions after registering: some of the attributed users, all of the "after only" ones.
    after_only = np.flatnonzero(kind == 1)
    users = np.concatenate([att, after_only])
    count = np.concatenate([rng.geometric(0.6, n_att) - 1, rng.geometric(0.5, len(after_only))])
    idx = np.repeat(users, count)
    room = period.end - 1 - reg_t[idx]
    off = _offsets(rng, room, 0.4, 2, 10)
    off[rng.random(len(off)) < P_AFTER_PLUS_ONE] = 1
    medium = rng.choice(len(MEDIUMS), size=len(idx), p=_MEDIUM_SHARE)
    parts.append(_session_part(reg_user[idx], reg_t[idx] + off, medium, _paid(rng, medium), False))

    sessions = _Table.concat(parts)
    _add_render_columns(rng, sessions, with_medium=True)
    sessions = sessions.take(
        np.concatenate([np.arange(len(sessions)), _duplicates(rng, len(sessions), P_DUPLICATE_SESSION)])
    )
    sessions = sessions.take(np.argsort(sessions.cols["user"], kind="stable"))

    # Registration rows: a user's second registration later on, exact duplicate rows.
    second = np.flatnonzero(rng.random(n_reg) < P_SECOND_REGISTRATION)
    room = period.end - 1 - reg_t[second]
    gap = _offsets(rng, room, 1.0, 72, 0)
    exact_users = np.zeros(n_users, dtype=bool)
    exact_users[sessions.cols["user"][sessions.cols["exact"]]] = True
    regs = _Table(
        {
            "user": np.concatenate([reg_user, reg_user[second]]).astype(np.int64),
            "t": np.concatenate([reg_t, reg_t[second] + gap]).astype(np.int64),
            # a registration with an exact-edge touch must keep its whole second (no fraction)
            "exact": np.concatenate([exact_users[reg_user], np.zeros(len(second), dtype=bool)]),
        }
    )
    _add_render_columns(rng, regs, with_medium=False)
    regs = regs.take(
        np.concatenate([np.arange(len(regs)), _duplicates(rng, len(regs), P_DUPLICATE_REGISTRATION)])
    )
    return sessions, regs.take(np.argsort(regs.cols["user"], kind="stable"))


def _duplicates(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    return np.flatnonzero(rng.random(n) < share)


def _add_render_columns(rng: np.random.Generator, table: _Table, with_medium: bool) -> None:
    """How each row is spelled: timestamp form and fraction, and (sessions) medium and boolean spelling."""
    n = len(table)
    table.cols["form"] = rng.choice(len(_TS_FORMS), size=n, p=_TS_FORM_WEIGHTS).astype(np.int8)
    micros = rng.integers(0, 1_000_000, n)
    micros[table.cols["exact"]] = 0  # rows placed on an exact instant keep it
    table.cols["micros"] = micros
    if with_medium:
        table.cols["spelling"] = rng.choice(len(_SPELLING_WEIGHTS), size=n, p=_SPELLING_WEIGHTS).astype(
            np.int8
        )
        table.cols["bool_spelling"] = rng.choice(len(_BOOL_WEIGHTS), size=n, p=_BOOL_WEIGHTS).astype(np.int8)


# ---------------------------------------------------------------------------------------------------------
# User ids
# ---------------------------------------------------------------------------------------------------------


def _id_key(seed: int) -> np.uint64:
    return np.random.SeedSequence([seed, 7]).generate_state(1, dtype=np.uint64)[0] & _ID_MASK


def user_ids(user_numbers: np.ndarray, seed: int) -> np.ndarray:
    """The 19-digit ids of users by number: a keyed bijection, so distinct numbers give distinct ids."""
    with np.errstate(over="ignore"):
        x = (user_numbers.astype(np.uint64) ^ _id_key(seed)) & _ID_MASK
        x = (x * np.uint64(0x9E3779B97F4A7C15)) & _ID_MASK
        x ^= x >> np.uint64(27)
        x = (x * np.uint64(0xBF58476D1CE4E5B9)) & _ID_MASK
        x ^= x >> np.uint64(31)
    return _ID_BASE + x


# ---------------------------------------------------------------------------------------------------------
# Rendering rows to CSV bytes (vectorised: every line is a row of a padded byte matrix plus a mask)
# ---------------------------------------------------------------------------------------------------------


def _byte_table(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    width = max(1, max(len(s) for s in strings))
    table = np.zeros((len(strings), width), dtype=np.uint8)
    for i, s in enumerate(strings):
        table[i, : len(s)] = np.frombuffer(s.encode("ascii"), dtype=np.uint8)
    return table, np.array([len(s) for s in strings], dtype=np.int64)


def _medium_spellings(medium: str) -> list[str]:
    lower, title = medium.lower(), medium.title()
    return [medium, lower, title, " " + lower, medium + " ", f'"{title}"']


_MEDIUM_TABLE, _MEDIUM_LENS = _byte_table([s for m in MEDIUMS for s in _medium_spellings(m)])
_BOOL_TABLE, _BOOL_LENS = _byte_table(list(_BOOL_FALSE) + list(_BOOL_TRUE))
_SEP = np.array([ord(sep) for sep, _, _ in _TS_FORMS], dtype=np.uint8)
_FRACTION_LEN = np.array([digits + 1 if digits else 0 for _, digits, _ in _TS_FORMS], dtype=np.int64)
_ZONES = sorted({zone for _, _, zone in _TS_FORMS})
_ZONE_TABLE, _ZONE_LENS = _byte_table(_ZONES)
_ZONE_CODE = np.array([_ZONES.index(zone) for _, _, zone in _TS_FORMS])
_FORM_SHIFT = np.array([_ZONE_SHIFT[zone] for _, _, zone in _TS_FORMS], dtype=np.int64)


class _Lines:
    """Builds CSV lines column piece by column piece, each piece fixed-width or padded with a length."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.pieces: list[tuple[np.ndarray, np.ndarray | None]] = []

    def const(self, text: bytes) -> None:
        self.pieces.append((np.broadcast_to(np.frombuffer(text, dtype=np.uint8), (self.n, len(text))), None))

    def fixed(self, cols: np.ndarray) -> None:
        self.pieces.append((cols, None))

    def padded(self, cols: np.ndarray, lens: np.ndarray) -> None:
        self.pieces.append((cols, lens))

    def digits(self, values: np.ndarray, width: int) -> None:
        cols = np.empty((self.n, width), dtype=np.uint8)
        v = values.copy()
        for k in range(width - 1, -1, -1):
            cols[:, k] = v % 10 + 48
            v //= 10
        self.fixed(cols)

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """All lines' bytes concatenated, and each line's length."""
        width = sum(p.shape[1] for p, _ in self.pieces)
        matrix = np.empty((self.n, width), dtype=np.uint8)
        keep = np.ones((self.n, width), dtype=bool)
        lengths = np.zeros(self.n, dtype=np.int64)
        col = 0
        for piece, lens in self.pieces:
            w = piece.shape[1]
            matrix[:, col : col + w] = piece
            if lens is None:
                lengths += w
            else:
                keep[:, col : col + w] = np.arange(w) < lens[:, None]
                lengths += lens
            col += w
        return matrix[keep], lengths


def _timestamp_pieces(lines: _Lines, t: np.ndarray, form: np.ndarray, micros: np.ndarray) -> None:
    local = t + _FORM_SHIFT[form]
    day = local // DAY
    first = int(day.min()) if len(day) else 0
    names = np.datetime_as_string(
        np.arange(first, int(day.max()) + 1 if len(day) else 1).astype("datetime64[D]")
    )
    dates = np.frombuffer(names.astype("S10").tobytes(), dtype=np.uint8).reshape(-1, 10)
    lines.fixed(dates[day - first])
    lines.fixed(_SEP[form][:, None])
    second = local - day * DAY
    lines.digits(second // HOUR, 2)
    lines.const(b":")
    lines.digits(second // 60 % 60, 2)
    lines.const(b":")
    lines.digits(second % 60, 2)
    fraction = np.empty((lines.n, 7), dtype=np.uint8)
    fraction[:, 0] = ord(".")
    v = micros.copy()
    for k in range(6, 0, -1):
        fraction[:, k] = v % 10 + 48
        v //= 10
    lines.padded(fraction, _FRACTION_LEN[form])
    zone = _ZONE_CODE[form]
    lines.padded(_ZONE_TABLE[zone], _ZONE_LENS[zone])


def _render_sessions(rows: _Table, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = rows.cols
    lines = _Lines(len(rows))
    lines.digits(ids, 19)
    lines.const(b",")
    _timestamp_pieces(lines, c["t"], c["form"], c["micros"])
    lines.const(b",")
    b = c["paid"].astype(np.int64) * len(_BOOL_FALSE) + c["bool_spelling"]
    lines.padded(_BOOL_TABLE[b], _BOOL_LENS[b])
    lines.const(b",")
    m = c["medium"].astype(np.int64) * len(_SPELLING_WEIGHTS) + c["spelling"]
    lines.padded(_MEDIUM_TABLE[m], _MEDIUM_LENS[m])
    lines.const(b"\n")
    return lines.render()


def _render_conversions(rows: _Table, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = rows.cols
    lines = _Lines(len(rows))
    lines.digits(ids, 19)
    lines.const(b",")
    _timestamp_pieces(lines, c["t"], c["form"], c["micros"])
    lines.const(b"\n")
    return lines.render()


# ---------------------------------------------------------------------------------------------------------
# Malformed lines
# ---------------------------------------------------------------------------------------------------------


def _plain_ts(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _bad_line(feed: str, kind: str, user_id: int, t: int, paid: bool, medium: str, variant: int) -> bytes:
    """One malformed line derived from a good row, with exactly one defect: `kind`."""
    uid, ts = str(user_id), _plain_ts(t)
    flag = "true" if paid else "false"
    fields = [uid, ts, flag, medium] if feed == "sessions" else [uid, ts]
    if kind == "bad_id":
        fields[0] = (uid[:7] + "O" + uid[8:], "n/a", f"{user_id / 1e18:.4f}e+18", "#" + uid)[variant % 4]
    elif kind == "id_out_of_range":
        fields[0] = ("9223372036854775808", uid + "7", "-9223372036854775809")[variant % 3]
    elif kind == "bad_timestamp":
        y, mo, d = ts[:4], ts[5:7], ts[8:10]
        fields[1] = (
            f"{y}-{mo}-{32 if mo == '05' else 31}{ts[10:]}",  # no such day
            f"{y}-13-{d}{ts[10:]}",
            f"{ts[:11]}25{ts[13:]}",
            f"{ts[:11]}{ts[11:13]}:61{ts[16:]}",
            "not a time",
        )[variant % 5]
    elif kind == "bad_boolean":
        fields[2] = ("maybe", "2", "paid", "-1", "unknown")[variant % 5]
    elif kind == "empty_medium":
        fields[3] = ("", "   ", '""')[variant % 3]
    elif kind == "too_few_fields":
        fields = fields[:-1]
    elif kind == "too_many_fields":
        fields = [*fields, ("", "extra", fields[-1])[variant % 3]]
    elif kind == "unterminated_quote":
        fields[-1] = '"' + fields[-1]
    else:  # pragma: no cover - kinds come from BAD_ROW_KINDS
        raise ValueError(kind)
    return (",".join(fields) + "\n").encode("ascii")


@dataclass
class _BadRows:
    """Decides how many malformed lines go where, block by block, at a steady `rate` per feed."""

    rate: float
    seed: int
    stream: tuple[int, ...]
    seen: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FEEDS, 0))
    injected: dict[str, dict[str, int]] = field(
        default_factory=lambda: {feed: dict.fromkeys(kinds, 0) for feed, kinds in BAD_ROW_KINDS.items()}
    )

    def plan(
        self, feed: str, block: int, rows: _Table, ids: np.ndarray, last_block: bool
    ) -> tuple[np.ndarray, list[bytes]]:
        """Positions (insert after that row) and lines of this block's malformed lines of `feed`."""
        if self.rate <= 0 or len(rows) == 0:
            return np.zeros(0, dtype=np.int64), []
        kinds = BAD_ROW_KINDS[feed]
        done = sum(self.injected[feed].values())
        self.seen[feed] += len(rows)
        count = int(np.floor(self.rate * self.seen[feed] + 0.5)) - done
        if last_block:
            count = max(count, len(kinds) - done)  # every kind at least once
        rng = np.random.default_rng(
            np.random.SeedSequence([self.seed, *self.stream, block, FEEDS.index(feed)])
        )
        after = np.sort(rng.integers(0, len(rows), count))
        variants = rng.integers(0, 60, count)
        c = rows.cols
        lines = []
        for j, (row, variant) in enumerate(zip(after.tolist(), variants.tolist(), strict=True)):
            kind = kinds[(done + j) % len(kinds)]
            self.injected[feed][kind] += 1
            paid = bool(c["paid"][row]) if feed == "sessions" else False
            medium = MEDIUMS[int(c["medium"][row])] if feed == "sessions" else ""
            lines.append(_bad_line(feed, kind, int(ids[row]), int(c["t"][row]), paid, medium, variant))
        return after, lines


# ---------------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------------


class _Sink:
    """Writes one feed: a single file, or one file per UTC day (opened on the day's first row)."""

    def __init__(self, out_dir: Path, feed: str, header: bytes, daily: bool, gzip: bool) -> None:
        self.out_dir, self.feed, self.header, self.daily, self.gzip = out_dir, feed, header, daily, gzip
        self.files: dict[str, tuple[BinaryIO, BinaryIO | None]] = {}
        self.paths: list[Path] = []

    def path_for(self, day: str | None) -> Path:
        name = f"{self.feed}_{day}.csv" if day else f"{self.feed}.csv"
        return self.out_dir / (name + ".gz" if self.gzip else name)

    def _open(self, day: str | None) -> BinaryIO:
        key = day or ""
        if key not in self.files:
            path = self.path_for(day)
            raw = path.open("wb")
            stream: BinaryIO = raw
            if self.gzip:  # no name, no time stamp in the gzip header: byte-identical for a seed
                stream = gzip_module.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)  # type: ignore[assignment]
            stream.write(self.header)
            self.files[key] = (stream, raw if self.gzip else None)
            self.paths.append(path)
        return self.files[key][0]

    def write_block(
        self,
        data: np.ndarray,
        lengths: np.ndarray,
        t: np.ndarray,
        bad_after: np.ndarray,
        bad_lines: list[bytes],
    ) -> None:
        """Write rows (sorted by time) with their malformed lines, each routed to its UTC day's file."""
        if len(lengths) == 0:
            return
        ends = np.cumsum(lengths)
        if self.daily:
            day = t // DAY
            cuts = np.flatnonzero(np.diff(day)) + 1
            bounds = [0, *cuts.tolist(), len(t)]
            names = np.datetime_as_string(day[bounds[:-1]].astype("datetime64[D]"))
            segments = [(bounds[i], bounds[i + 1], str(names[i])) for i in range(len(bounds) - 1)]
        else:
            segments = [(0, len(t), None)]
        bad = iter(zip(bad_after.tolist(), bad_lines, strict=True))
        pending = next(bad, None)
        for lo, hi, name in segments:
            stream = self._open(name)
            start = int(ends[lo - 1]) if lo else 0
            while pending is not None and pending[0] < hi:
                stop = int(ends[pending[0]])
                stream.write(data[start:stop].data)
                stream.write(pending[1])
                start = stop
                pending = next(bad, None)
            stream.write(data[start : int(ends[hi - 1])].data)

    def close(self) -> None:
        for stream, raw in self.files.values():
            stream.close()
            if raw is not None:
                raw.close()
        self.files.clear()


# ---------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------


@dataclass
class GenerateSummary:
    """What a run wrote. ``rows`` counts good rows; lines read back = rows + malformed lines, per feed."""

    out_dir: Path
    files: list[Path]
    rows: dict[str, int]  # feed -> good data rows (header not counted)
    users: int  # distinct users across both feeds
    bad_rows: dict[str, int]  # kind -> malformed lines injected (both feeds)
    bad_rows_by_feed: dict[str, dict[str, int]]  # feed -> kind -> malformed lines
    seconds: float

    def data_lines(self, feed: str) -> int:
        """Data lines of a feed's files (header excluded): good rows + malformed lines."""
        return self.rows[feed] + sum(self.bad_rows_by_feed[feed].values())


class _Run:
    """State shared by the blocks of one generate/generate_day call."""

    def __init__(
        self, out_dir: Path, seed: int, daily: bool, bad_rows: float, gzip: bool, stream: tuple[int, ...]
    ):
        if bad_rows < 0 or bad_rows >= 1:
            raise ValueError(f"bad_rows must be a share in [0, 1), got {bad_rows}")
        out_dir.mkdir(parents=True, exist_ok=True)
        self.seed, self.stream = seed, stream
        self.started = time.perf_counter()
        self.out_dir = out_dir
        self.sinks = {
            "sessions": _Sink(out_dir, "sessions", SESSIONS_HEADER, daily, gzip),
            "conversions": _Sink(out_dir, "conversions", CONVERSIONS_HEADER, daily, gzip),
        }
        self.bad = _BadRows(bad_rows, seed, stream)
        self.rows = dict.fromkeys(FEEDS, 0)
        self.users = 0
        self.spend_sink = _Sink(out_dir, "spend", SPEND_HEADER, daily, gzip)
        self.paid_sessions: dict[tuple[int, int], int] = {}  # (UTC day, medium code) -> sessions

    def write(
        self,
        block: int,
        sessions: _Table,
        session_ids: np.ndarray,
        regs: _Table,
        reg_ids: np.ndarray,
        last: bool,
    ) -> None:
        for feed, rows, ids in (("sessions", sessions, session_ids), ("conversions", regs, reg_ids)):
            order = np.argsort(rows.cols["t"], kind="stable")
            rows, ids = rows.take(order), ids[order]
            render = _render_sessions if feed == "sessions" else _render_conversions
            data, lengths = render(rows, ids)
            after, lines = self.bad.plan(feed, block, rows, ids, last)
            self.sinks[feed].write_block(data, lengths, rows.cols["t"], after, lines)
            self.rows[feed] += len(rows)
        paid = _IS_PAID[sessions.cols["medium"]]
        keys, counts = np.unique(
            (sessions.cols["t"][paid] // DAY) * len(MEDIUMS) + sessions.cols["medium"][paid],
            return_counts=True,
        )
        for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
            day_medium = divmod(key, len(MEDIUMS))
            self.paid_sessions[day_medium] = self.paid_sessions.get(day_medium, 0) + count

    def _write_spend(self) -> None:
        """Spend rows for the paid sessions counted, by day and medium (deterministic for the seed)."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, *self.stream, 2 << 20]))
        lines: list[bytes] = []
        days: list[int] = []
        for day, medium in sorted(self.paid_sessions):
            total = self.paid_sessions[day, medium] * _COST[medium] * rng.lognormal(0.0, 0.15)
            shares = rng.dirichlet(np.ones(int(rng.integers(1, 4))))
            spend_date = date.fromordinal(date(1970, 1, 1).toordinal() + day).isoformat()
            for amount in total * shares:
                lines.append(f"{spend_date},{MEDIUMS[medium]},{amount:.2f},EUR\n".encode())
                days.append(day * DAY)
        if lines:
            data = np.frombuffer(b"".join(lines), dtype=np.uint8)
            lengths = np.array([len(line) for line in lines])
            self.spend_sink.write_block(data, lengths, np.array(days), np.empty(0, dtype=np.int64), [])
        self.rows["spend"] = len(lines)

    def finish(self) -> GenerateSummary:
        self._write_spend()
        self.spend_sink.close()
        for sink in self.sinks.values():
            sink.close()
        by_feed = self.bad.injected
        totals: dict[str, int] = {}
        for kinds in by_feed.values():
            for kind, count in kinds.items():
                totals[kind] = totals.get(kind, 0) + count
        files = sorted(p for sink in (*self.sinks.values(), self.spend_sink) for p in sink.paths)
        return GenerateSummary(
            self.out_dir,
            files,
            dict(self.rows),
            self.users,
            totals,
            by_feed,
            time.perf_counter() - self.started,
        )


def _blocks(
    seed: int,
    stream: tuple[int, ...],
    first_user: int,
    sessions: int,
    period: _Period,
    register_share: float,
) -> Iterator[tuple[int, _Table, np.ndarray, _Table, np.ndarray, int, bool]]:
    """Blocks of simulated users until exactly `sessions` session rows; the last block is cut at that row."""
    remaining, block = sessions, 0
    while remaining > 0:
        rng = np.random.default_rng(np.random.SeedSequence([seed, *stream, block]))
        sess, regs = _simulate_block(rng, BLOCK_USERS, period, register_share)
        n_users = BLOCK_USERS
        last = len(sess) >= remaining
        if last:  # keep users up to the one owning the last wanted row (its remaining rows are cut)
            sess = sess.take(np.arange(remaining))
            n_users = int(sess.cols["user"][-1]) + 1
            regs = regs.take(np.flatnonzero(regs.cols["user"] < n_users))
        remaining -= len(sess)
        base = first_user + block * BLOCK_USERS
        yield block, sess, base + sess.cols["user"], regs, base + regs.cols["user"], n_users, last
        block += 1


def generate(
    out_dir: Path,
    sessions: int = 20_000,
    seed: int = 42,
    daily: bool = False,
    bad_rows: float = 0.0,
    gzip: bool = False,
    register_share: float = P_REGISTER,
) -> GenerateSummary:
    """Write ``sessions.csv``, ``conversions.csv`` (exactly `sessions` good session rows) and ``spend.csv``
    into `out_dir`.

    daily: one file per feed per UTC day instead (``sessions_2020-06-01.csv``, ...; days without rows get no
        file). The day files hold exactly the lines of the single files of the same arguments.
    bad_rows: share of malformed lines to add per feed (``round(bad_rows * good rows)``, at least one of every
        kind of :data:`BAD_ROW_KINDS` when > 0); kinds alternate in a fixed order.
    gzip: write ``.csv.gz`` (deterministic: no name or time in the gzip header).
    register_share: share of users who register. Users have 2.5 sessions on average whatever it is, so
        registrations are about ``register_share / 2.5`` of the sessions (0.245: one per ten sessions).

    Files of the same names are overwritten; other files in `out_dir` are left alone.
    """
    if sessions < 1:
        raise ValueError(f"sessions must be at least 1, got {sessions}")
    _check_share(register_share)
    run = _Run(Path(out_dir), seed, daily, bad_rows, gzip, stream=(0,))
    try:
        for block, sess, sess_users, regs, reg_users, n_users, last in _blocks(
            seed, (0,), 0, sessions, _Period.base(), register_share
        ):
            run.users += n_users
            run.write(block, sess, user_ids(sess_users, seed), regs, user_ids(reg_users, seed), last)
    finally:
        summary = run.finish()
    return summary


def _check_share(register_share: float) -> None:
    if not 0 < register_share <= 1:
        raise ValueError(f"register_share must be in (0, 1], got {register_share}")


def returning_user_pool(base_sessions: int) -> int:
    """How many of the first users of a ``generate(sessions=base_sessions)`` run surely exist in it."""
    return max(1, int(0.85 * base_sessions / ROWS_PER_USER))


def generate_day(
    out_dir: Path,
    day: date,
    sessions: int,
    seed: int = 42,
    base_sessions: int = 20_000,
    returning_share: float = 0.3,
    bad_rows: float = 0.0,
    gzip: bool = False,
    register_share: float = P_REGISTER,
) -> GenerateSummary:
    """Write one more day of data: ``sessions_<day>.csv`` and ``conversions_<day>.csv`` in `out_dir`.

    Exactly `sessions` good session rows, all on `day` (UTC), and ``spend_<day>.csv`` for their paid mediums:
    - ``1 - returning_share`` of them from new users (ids never used by :func:`generate` or by other days of
      the same seed), simulated like the base data within the day (``register_share`` of them register):
      registrations on `day`, their touches in the hours before, duplicates and the other anomalies;
    - ``returning_share`` of them from users of an earlier ``generate(sessions=base_sessions, seed=seed)``
      run (the same seed is what makes their ids match); about 6 % of those visits end in a registration
      later that day, so attribution has to look back into earlier files (and a user who had registered
      before gets a second registration row).
    Refuses to overwrite existing files of that day (FileExistsError): a day arrives once.
    """
    if sessions < 1:
        raise ValueError(f"sessions must be at least 1, got {sessions}")
    _check_share(register_share)
    out_dir = Path(out_dir)
    stream = (1, day.toordinal())
    for feed in (*FEEDS, "spend"):
        for suffix in (".csv", ".csv.gz"):
            existing = out_dir / f"{feed}_{day.isoformat()}{suffix}"
            if existing.exists():
                raise FileExistsError(f"{existing}: data for {day} was already generated")
    period = _Period.one_day(day)
    returning = round(sessions * returning_share)
    first_new_user = _NEW_USERS_OF_DAY + (day.toordinal() << 24)

    run = _Run(out_dir, seed, True, bad_rows, gzip, stream=stream)
    try:
        parts_s: list[_Table] = []
        parts_r: list[_Table] = []
        ids_s: list[np.ndarray] = []
        ids_r: list[np.ndarray] = []
        if sessions - returning > 0:
            for _, sess, sess_users, regs, reg_users, n_users, _ in _blocks(
                seed, stream, first_new_user, sessions - returning, period, register_share
            ):
                run.users += n_users
                parts_s.append(sess)
                parts_r.append(regs)
                ids_s.append(user_ids(sess_users, seed))
                ids_r.append(user_ids(reg_users, seed))
        if returning:
            rng = np.random.default_rng(np.random.SeedSequence([seed, *stream, 1 << 20]))
            sess, regs, users = _returning_visits(rng, returning, returning_user_pool(base_sessions), period)
            run.users += len(np.unique(users))
            parts_s.append(sess)
            parts_r.append(regs)
            ids_s.append(user_ids(sess.cols["user"], seed))
            ids_r.append(user_ids(regs.cols["user"], seed))
        run.write(
            0,
            _Table.concat(parts_s),
            np.concatenate(ids_s),
            _Table.concat(parts_r),
            np.concatenate(ids_r),
            True,
        )
    finally:
        summary = run.finish()
    return summary


def _returning_visits(
    rng: np.random.Generator, rows: int, pool: int, period: _Period
) -> tuple[_Table, _Table, np.ndarray]:
    """`rows` sessions of earlier users (numbers below `pool`) on the period's day, some registering."""
    user = rng.integers(0, pool, rows)
    t = period.start + _time_of_day(rng, rows)
    medium = rng.choice(len(MEDIUMS), size=rows, p=_MEDIUM_SHARE)
    sessions = _session_part(user, t, medium, _paid(rng, medium), False)
    _add_render_columns(rng, sessions, with_medium=True)
    converts = np.flatnonzero(rng.random(rows) < 0.06)
    room = period.end - 1 - t[converts]
    gap = np.minimum(rng.exponential(HOUR, len(converts)).astype(np.int64), room)
    regs = _Table(
        {
            "user": user[converts].astype(np.int64),
            "t": t[converts] + gap,
            "exact": np.zeros(len(converts), dtype=bool),
        }
    )
    _add_render_columns(rng, regs, with_medium=False)
    return sessions, regs, user


def run_cli(args: argparse.Namespace) -> int:
    """``growth generate``: write the files and print what was written."""
    day: date | None = getattr(args, "day", None)
    register_share = P_REGISTER if args.register_share is None else args.register_share
    if day is not None:
        summary = generate_day(
            args.out,
            day,
            sessions=args.sessions,
            seed=args.seed,
            base_sessions=getattr(args, "base_sessions", 20_000),
            bad_rows=args.bad_rows,
            gzip=args.gzip,
            register_share=register_share,
        )
    else:
        summary = generate(
            args.out,
            sessions=args.sessions,
            seed=args.seed,
            daily=args.daily,
            bad_rows=args.bad_rows,
            gzip=args.gzip,
            register_share=register_share,
        )
    print(
        f"wrote {len(summary.files)} file(s) to {summary.out_dir} in {summary.seconds:.1f} s: "
        f"{summary.rows['sessions']:,} sessions, {summary.rows['conversions']:,} registrations, "
        f"{summary.rows['spend']:,} spend rows, {summary.users:,} users"
    )
    bad_total = sum(summary.bad_rows.values())
    if bad_total:
        kinds = ", ".join(f"{kind} {count}" for kind, count in summary.bad_rows.items() if count)
        print(f"plus {bad_total:,} malformed lines: {kinds}")
    return 0


__all__ = [
    "BAD_ROW_KINDS",
    "MEDIUMS",
    "PAID_MEDIUMS",
    "RULE_WINDOWS",
    "GenerateSummary",
    "generate",
    "generate_day",
    "returning_user_pool",
    "run_cli",
    "user_ids",
]
