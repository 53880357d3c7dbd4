"""Simulation of one block of users: their sessions and registrations as numpy columns, and their ids.

Sessions cluster in the hours before a registration so that the rule-based attribution gives the intended
mix; a user's id is a keyed bijection of the user's number, so ids never collide."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from growth_analytics.generate.shape import (
    _BOOL_WEIGHTS,
    _DIRECT,
    _HOURLY_CDF,
    _ID_BASE,
    _ID_MASK,
    _IMP,
    _IS_PAID,
    _MEDIUM_SHARE,
    _O_DIRECT,
    _O_IMP,
    _O_ORG,
    _O_OTHERS,
    _O_PS,
    _ORG,
    _PS,
    _SPELLING_WEIGHTS,
    _TAIL_FIRST,
    _TAIL_SHARE,
    _TS_FORM_WEIGHTS,
    _TS_FORMS,
    _WINDOW,
    DAY,
    HOUR,
    LOOKBACK,
    MEDIUMS,
    OUTCOME_SHARES,
    P_AFTER_PLUS_ONE,
    P_DUPLICATE_REGISTRATION,
    P_DUPLICATE_SESSION,
    P_EXACT_EDGE,
    P_EXACT_INSTANT,
    P_LOOKBACK_EDGE,
    P_NEAR_MISS,
    P_OTHERS_OUT_OF_WINDOW_ONLY,
    P_PAID_NOISE,
    P_REG_AFTER_ONLY,
    P_REG_NO_SESSION,
    P_SECOND_REGISTRATION,
    P_TWIN,
    _Period,
)


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
