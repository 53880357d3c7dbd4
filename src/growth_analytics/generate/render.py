"""Rendering rows to CSV bytes, vectorised: every line is a row of a padded byte matrix plus a mask."""

from __future__ import annotations

import numpy as np

from growth_analytics.generate.shape import (
    _BOOL_FALSE,
    _BOOL_TRUE,
    _SPELLING_WEIGHTS,
    _TS_FORMS,
    _ZONE_SHIFT,
    DAY,
    HOUR,
    MEDIUMS,
)
from growth_analytics.generate.simulate import _Table


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
