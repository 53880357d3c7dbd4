"""The shape of the generated data, after a private original:

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

Bad rows (``bad_rows > 0``) are added beside the good ones, never replacing one: every line, good or bad, is
one physical line, and an unterminated quote ends at the end of its line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

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
