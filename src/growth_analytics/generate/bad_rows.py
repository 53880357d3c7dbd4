"""Malformed lines of every kind in ``BAD_ROW_KINDS``, added beside the good rows (never replacing one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from growth_analytics.generate.shape import BAD_ROW_KINDS, FEEDS, MEDIUMS
from growth_analytics.generate.simulate import _Table


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
