"""Writing a data set: :func:`generate` (a whole period) and :func:`generate_day` (one more day).

Output is deterministic for a seed (byte-identical files, also gzipped ones) and is produced in blocks of
users, each simulated and rendered with numpy, so memory stays bounded whatever the size."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from growth_analytics.generate.bad_rows import _BadRows
from growth_analytics.generate.render import _render_conversions, _render_sessions
from growth_analytics.generate.shape import (
    _COST,
    _IS_PAID,
    _MEDIUM_SHARE,
    _NEW_USERS_OF_DAY,
    BLOCK_USERS,
    CONVERSIONS_HEADER,
    DAY,
    FEEDS,
    HOUR,
    MEDIUMS,
    P_REGISTER,
    ROWS_PER_USER,
    SESSIONS_HEADER,
    SPEND_HEADER,
    _Period,
)
from growth_analytics.generate.simulate import (
    _add_render_columns,
    _paid,
    _session_part,
    _simulate_block,
    _Table,
    _time_of_day,
    user_ids,
)
from growth_analytics.generate.sink import _Sink


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
