"""An independent, plain-Python implementation of the attribution contract (issue 3), used to check dbt.

It reads the CSV files themselves (the public input contract), so nothing of the loader, of SQL or of the
dbt project is shared with what it checks. Deliberately simple: dictionaries and sorted lists.

Contract, briefly:
- a registration is a distinct (user_id, registration_time); its touches are the user's distinct sessions
  (user, time, normalised medium, is_paid) with time_started <= registration_time;
- rule-based: rules in priority order, inclusive windows, the latest touch satisfying the first rule that
  has one wins; no touch at all: UNATTRIBUTED;
- multi-touch over the touches in [registration_time - lookback, registration_time], ordered by
  time_started, medium, is_paid (false first): first_touch, last_touch, linear, time_decay, position_based,
  last_non_direct; no touch in the window: 1.0 to UNATTRIBUTED;
- paths (issue 21): a registration's window touches, a never-registering user's sessions, as channels with
  consecutive repeats collapsed; the Markov removal effects of the first-order chain over all paths, solved
  as a linear system (numpy), and each registration's credit RE_c / sum of RE over its path's channels.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np

UNATTRIBUTED = "UNATTRIBUTED"
DIRECT = "DIRECT"
MULTI_TOUCH_MODELS = (
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position_based",
    "last_non_direct",
)
MODELS = ("rule_based", *MULTI_TOUCH_MODELS)


@dataclass(frozen=True, order=True)
class Session:
    user_id: int
    time_started: datetime
    medium: str
    is_paid: bool


@dataclass(frozen=True, order=True)
class Registration:
    user_id: int
    registration_time: datetime


@dataclass(frozen=True)
class Rule:
    label: str
    medium: str | None  # None: any medium
    window: timedelta | None  # None: any time before


# The growth team's rules, in priority order, as the issue states them.
RULES: tuple[Rule, ...] = (
    Rule("PAID_SEARCH", "PAID SEARCH", timedelta(hours=3)),
    Rule("PAID_IMPRESSION", "IMPRESSION", timedelta(hours=1)),
    Rule("ORGANIC_SEARCH", "ORGANIC SEARCH", timedelta(hours=12)),
    Rule("DIRECT", "DIRECT", None),
    Rule("OTHERS", None, None),
)


@dataclass(frozen=True)
class RuleBasedResult:
    channel: str
    touch_time: datetime | None
    touch_medium: str | None
    hours_to_convert: float | None


# --- reading the input files (the public CSV contract) ----------------------------------------------------

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?", re.IGNORECASE
)
_TRUE = {"true", "t", "1", "yes"}
_FALSE = {"false", "f", "0", "no"}


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 as the input contract allows; naive means UTC; fractions rounded to microseconds."""
    match = _TIMESTAMP.fullmatch(text.strip())
    if not match:
        raise ValueError(f"bad timestamp {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    fraction, zone = match.group(7), match.group(8)
    if fraction:
        tenths_of_micros = int(fraction[:7].ljust(7, "0"))
        moment += timedelta(microseconds=(tenths_of_micros + 5) // 10)
    if zone and zone.upper() != "Z":
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        moment -= offset if zone[0] == "+" else -offset
    return moment


def parse_boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"bad boolean {text!r}")


def normalise_medium(text: str) -> str:
    """Trim (spaces, tabs, line breaks) and upper-case."""
    return text.strip(" \t\r\n").upper()


def _rows(path: Path) -> Iterable[dict[str, str]]:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    reader = csv.reader(io.StringIO(raw.decode("utf-8")))
    header = [name.strip().lower() for name in next(reader)]
    header = ["user_id" if name == "userid" else name for name in header]
    for fields in reader:
        if fields:
            yield dict(zip(header, fields, strict=True))


def read_files(paths: Iterable[Path]) -> tuple[set[Session], set[Registration]]:
    """The distinct sessions and registrations of CSV files (the feed is told by the header; spend files,
    which attribution does not read, are passed over)."""
    sessions: set[Session] = set()
    registrations: set[Registration] = set()
    for path in paths:
        for row in _rows(path):
            if "spend" in row:
                break
            user_id = int(row["user_id"])
            if "registration_time" in row:
                registrations.add(Registration(user_id, parse_timestamp(row["registration_time"])))
            else:
                sessions.add(
                    Session(
                        user_id,
                        parse_timestamp(row["time_started"]),
                        normalise_medium(row["medium"]),
                        parse_boolean(row["is_paid"]),
                    )
                )
    return sessions, registrations


# --- the contract ---------------------------------------------------------------------------------------


def _hours(delta: timedelta) -> float:
    return delta / timedelta(hours=1)


def rule_based(touches: list[Session], at: datetime, rules: tuple[Rule, ...] = RULES) -> RuleBasedResult:
    """touches: the registration's touches (time_started <= at), any order."""
    for rule in rules:
        matching = [
            t
            for t in touches
            if (rule.medium is None or t.medium == rule.medium)
            and (rule.window is None or at - t.time_started <= rule.window)
        ]
        if matching:
            # the latest; on equal times the last in the multi-touch order (medium, then is_paid)
            touch = max(matching, key=lambda t: (t.time_started, t.medium, t.is_paid))
            return RuleBasedResult(
                rule.label, touch.time_started, touch.medium, _hours(at - touch.time_started)
            )
    return RuleBasedResult(UNATTRIBUTED, None, None, None)


def multi_touch(
    touches: list[Session], at: datetime, lookback: timedelta, half_life_days: float
) -> dict[str, dict[str, float]]:
    """model -> channel -> credit for one registration."""
    window = sorted(
        (t for t in touches if at - lookback <= t.time_started <= at),
        key=lambda t: (t.time_started, t.medium, t.is_paid),
    )
    n = len(window)
    result: dict[str, dict[str, float]] = {model: defaultdict(float) for model in MULTI_TOUCH_MODELS}
    if n == 0:
        for model in MULTI_TOUCH_MODELS:
            result[model][UNATTRIBUTED] = 1.0
        return result
    non_direct = [index for index, t in enumerate(window) if t.medium != DIRECT]
    last_non_direct = non_direct[-1] if non_direct else n - 1
    weights = [2.0 ** (-((at - t.time_started) / timedelta(days=1)) / half_life_days) for t in window]
    total_weight = sum(weights)
    for index, (touch, weight) in enumerate(zip(window, weights, strict=True)):
        channel = touch.medium
        if index == 0:
            result["first_touch"][channel] += 1.0
        if index == n - 1:
            result["last_touch"][channel] += 1.0
        if index == last_non_direct:
            result["last_non_direct"][channel] += 1.0
        result["linear"][channel] += 1.0 / n
        result["time_decay"][channel] += weight / total_weight
        if n == 1:
            share = 1.0
        elif n == 2:
            share = 0.5
        elif index in (0, n - 1):
            share = 0.4
        else:
            share = 0.2 / (n - 2)
        result["position_based"][channel] += share
    return {model: dict(channels) for model, channels in result.items()}


@dataclass(frozen=True)
class Attribution:
    rule_based: dict[Registration, RuleBasedResult]
    credits: dict[tuple[Registration, str, str], float]  # (registration, model, channel) -> credit


def attribute(
    sessions: Iterable[Session],
    registrations: Iterable[Registration],
    lookback_days: float = 30,
    half_life_days: float = 7,
    rules: tuple[Rule, ...] = RULES,
) -> Attribution:
    by_user: dict[int, list[Session]] = defaultdict(list)
    for session in set(sessions):
        by_user[session.user_id].append(session)
    rule_results: dict[Registration, RuleBasedResult] = {}
    credits: dict[tuple[Registration, str, str], float] = {}
    for registration in sorted(set(registrations)):
        at = registration.registration_time
        touches = [s for s in by_user.get(registration.user_id, []) if s.time_started <= at]
        result = rule_based(touches, at, rules)
        rule_results[registration] = result
        credits[(registration, "rule_based", result.channel)] = 1.0
        for model, channels in multi_touch(
            touches, at, timedelta(days=lookback_days), half_life_days
        ).items():
            for channel, credit in channels.items():
                credits[(registration, model, channel)] = credit
    return Attribution(rule_results, credits)


# --- paths and the Markov removal-effect model (issue 21) ----------------------------------------------

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"


def collapse(channels: Iterable[str]) -> tuple[str, ...]:
    """Consecutive repeats as one step: A A B A -> A B A."""
    steps: list[str] = []
    for channel in channels:
        if not steps or steps[-1] != channel:
            steps.append(channel)
    return tuple(steps)


@dataclass(frozen=True)
class UserPath:
    user_id: int
    registration: Registration | None  # None: the user never registered (a non-converting path)
    steps: tuple[str, ...]  # empty: a registration without a touch in the window (no path)
    touches: int
    first_touch: datetime | None


def _touch_order(touch: Session) -> tuple[datetime, str, bool]:
    return (touch.time_started, touch.medium, touch.is_paid)


def user_paths(
    sessions: Iterable[Session], registrations: Iterable[Registration], lookback_days: float = 30
) -> list[UserPath]:
    """One path per registration (its touches in the lookback window) and per user who never registers
    (all their sessions)."""
    by_user: dict[int, list[Session]] = defaultdict(list)
    for session in set(sessions):
        by_user[session.user_id].append(session)
    registered = {r.user_id for r in registrations}
    lookback = timedelta(days=lookback_days)
    result = []
    for registration in sorted(set(registrations)):
        at = registration.registration_time
        window = sorted(
            (t for t in by_user.get(registration.user_id, []) if at - lookback <= t.time_started <= at),
            key=_touch_order,
        )
        first = window[0].time_started if window else None
        steps = collapse(t.medium for t in window)
        result.append(UserPath(registration.user_id, registration, steps, len(window), first))
    for user_id, touches in sorted(by_user.items()):
        if user_id not in registered:
            ordered = sorted(touches, key=_touch_order)
            steps = collapse(t.medium for t in ordered)
            result.append(UserPath(user_id, None, steps, len(ordered), ordered[0].time_started))
    return result


def transition_counts(paths: Iterable[UserPath]) -> dict[tuple[str, str], int]:
    """(from state, to state) -> transitions over every path: (start) > steps > (conversion) or (null)."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for path in paths:
        if not path.steps:
            continue
        states = [START, *path.steps, CONVERSION if path.registration else NULL]
        for pair in pairwise(states):
            counts[pair] += 1
    return dict(counts)


def conversion_probability(counts: dict[tuple[str, str], int], removed: str | None = None) -> float:
    """Probability of absorption in (conversion) from (start): solves (I - Q) x = r, where Q holds the
    transient-to-transient probabilities and r the probabilities into (conversion); transitions into
    `removed` go to (null) instead."""
    outgoing: dict[str, int] = defaultdict(int)
    for (source, _), count in counts.items():
        outgoing[source] += count
    transient = sorted(outgoing)
    index = {state: i for i, state in enumerate(transient)}
    q = np.zeros((len(transient), len(transient)))
    r = np.zeros(len(transient))
    for (source, target), count in counts.items():
        probability = count / outgoing[source]
        if target in (removed, NULL):
            continue
        if target == CONVERSION:
            r[index[source]] += probability
        else:
            q[index[source], index[target]] += probability
    x = np.linalg.solve(np.eye(len(transient)) - q, r)
    return float(x[index[START]])


@dataclass(frozen=True)
class Markov:
    conversion_probability: float
    removal_effects: dict[str, float]
    registrations: dict[str, float]  # channel -> N * RE_c / sum of RE


def markov(paths: list[UserPath]) -> Markov:
    counts = transition_counts(paths)
    channels = sorted({step for path in paths for step in path.steps})
    converting = sum(1 for path in paths if path.registration and path.steps)
    p = conversion_probability(counts) if counts else 0.0
    effects = {c: (1.0 - conversion_probability(counts, c) / p) if p > 0 else 0.0 for c in channels}
    total = sum(effects.values())
    registrations = {c: converting * e / total if total > 0 else 0.0 for c, e in effects.items()}
    return Markov(p, effects, registrations)


def markov_credits(steps: tuple[str, ...], removal_effects: dict[str, float]) -> dict[str, float]:
    """A registration's Markov credits: RE_c / sum of RE over its path's distinct channels (an equal split
    if that sum is 0); no path: 1.0 to UNATTRIBUTED."""
    if not steps:
        return {UNATTRIBUTED: 1.0}
    channels = set(steps)
    total = sum(removal_effects[c] for c in channels)
    return {c: removal_effects[c] / total if total > 0 else 1.0 / len(channels) for c in channels}
