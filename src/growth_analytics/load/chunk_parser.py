"""The chunk parser: lines in the common shape, checked and converted a whole chunk at a time with numpy.

The common shape is printable ASCII, at most one field quoted (with no comma or quote inside) and timestamps
with up to six fraction digits; every other line goes to the exact line parser, so that a client parsing
with numpy and sending binary rows keeps up with a bare text ``COPY``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from growth_analytics.feeds import (
    MAX_TEXT_CHARS,
)
from growth_analytics.load import limits
from growth_analytics.load.copy_writer import _FIXED_FORMAT, RowLayout
from growth_analytics.load.header import Header
from growth_analytics.load.line_parser import BOOL_WORDS, EARLIEST_MICROS, INT8_MAX, MICROS_BEFORE, parse_line
from growth_analytics.load.results import RowError

_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _special_bytes(a: np.ndarray) -> np.ndarray:
    """Positions of bytes that send a line to the exact parser: quotes, control characters (a CR
    right before the LF is taken as part of the line break later) and non-ASCII (UTF-8 is checked there)."""
    return np.flatnonzero(((a < 32) ^ (a == 10)) | (a > 126) | (a == ord('"')))


def _bool_key(word: bytes) -> int:
    key = len(word) << 40
    for j, byte in enumerate(word):
        key |= byte << (8 * j)
    return key


_BOOL_KEYS_TRUE = np.array(sorted(_bool_key(w.encode()) for w, v in BOOL_WORDS.items() if v), np.int64)
_BOOL_KEYS_FALSE = np.array(sorted(_bool_key(w.encode()) for w, v in BOOL_WORDS.items() if not v), np.int64)

# Fields are read as 24-byte windows viewed as three little-endian 64-bit words, eight bytes at a time
# ("SWAR"): byte j of a word is the (j+1)-th character of its eight.
_WINDOW = 24
_PAD = 32
_U64 = np.dtype("<u8")
_ZEROS = np.uint64(0x3030303030303030)
_LOW_NIBBLES = np.uint64(0x0F0F0F0F0F0F0F0F)
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)
_SIXES = np.uint64(0x0606060606060606)
# _TOP_BYTES[c]: a mask of the c most significant bytes (the last c characters of the eight)
_TOP_BYTES = np.array([((1 << (8 * c)) - 1) << (64 - 8 * c) for c in range(9)], dtype=np.uint64)


def _byte_mask(*positions: int) -> np.uint64:
    return np.uint64(sum(0xFF << (8 * p) for p in positions))


def _word(text: bytes) -> np.uint64:
    return np.uint64(int.from_bytes(text.ljust(8, b"\0"), "little"))


def _all_digits(x: np.ndarray) -> np.ndarray:
    """Every byte of each word is an ASCII digit (bytes above 126 never get here)."""
    return ((x & _HIGH_NIBBLES) == _ZEROS) & (((x + _SIXES) & _HIGH_NIBBLES) == _ZEROS)


def _eight_digits(x: np.ndarray) -> np.ndarray:
    """The number written by eight ASCII digits (first digit in the lowest byte)."""
    x = x - _ZEROS
    x = x * np.uint64(10) + (x >> np.uint64(8))
    pairs = np.uint64(0x000000FF000000FF)
    x = (x & pairs) * np.uint64(100 + (1000000 << 32)) + ((x >> np.uint64(16)) & pairs) * np.uint64(
        1 + (10000 << 32)
    )
    return x >> np.uint64(32)


@dataclass
class _Bytes:
    """A chunk as a byte array, plus overlapping 24-byte windows for reading fields a row at a time."""

    a: np.ndarray
    windows: np.ndarray  # windows[i] = the 24 bytes from position i - _PAD of the chunk

    @classmethod
    def of(cls, buf: bytes) -> _Bytes:
        padding = b"\n" * _PAD
        padded = np.frombuffer(padding + buf + padding, dtype=np.uint8)
        return cls(a=np.frombuffer(buf, dtype=np.uint8), windows=sliding_window_view(padded, _WINDOW))

    def words(self, start: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The 24 bytes at each start (may begin up to _PAD bytes before the chunk) as three words."""
        w = np.ascontiguousarray(self.windows[start + _PAD]).view(_U64)
        return w[:, 0], w[:, 1], w[:, 2]


def _fast_bigint(b: _Bytes, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unsigned decimal integers of 1-19 digits within the bigint range."""
    length = e - s
    ok = (length >= 1) & (length <= 19)
    words = b.words(e - _WINDOW)  # right-aligned: the field is in the last `length` bytes
    number = np.zeros(len(s), dtype=np.uint64)
    for k, word in enumerate(words):
        inside = _TOP_BYTES[np.clip(length - 16 + 8 * k, 0, 8)]
        x = (word & inside) | (_ZEROS & ~inside)  # characters before the field read as '0'
        ok &= _all_digits(x)
        number = number * np.uint64(10**8) + _eight_digits(x)
    ok &= number <= np.uint64(INT8_MAX)
    return ok, number.astype(np.int64)


_TS_DIGITS = (_byte_mask(0, 1, 2, 3, 5, 6), _byte_mask(0, 1, 3, 4, 6, 7), _byte_mask(1, 2))
_TS_SEPARATORS = (_byte_mask(4, 7), _byte_mask(5), _byte_mask(0))
_TS_SEPARATOR_VALUES = tuple(
    _word(text) & mask for text, mask in zip((b"    -  -", b"     :", b":"), _TS_SEPARATORS, strict=True)
)


def _days_since_2000(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days from 2000-01-01 of proleptic Gregorian dates (H. Hinnant's days_from_civil)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468 - 10957


def _fast_timestamp(b: _Bytes, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``YYYY-MM-DD[T ]HH:MM:SS``, then ``.`` and 1-6 digits or nothing, then ``Z``, ``±HH:MM`` or nothing
    -> microseconds since 2000. Longer fractions (rounded by the exact parser) go to the exact parser."""
    length = e - s
    ok = (length >= 19) & (length <= 19 + _TS_TAIL)
    words = b.words(s)
    pairs = []
    for word, digits, seps, sep_values in zip(
        words, _TS_DIGITS, _TS_SEPARATORS, _TS_SEPARATOR_VALUES, strict=True
    ):
        ok &= _all_digits((word & digits) | (_ZEROS & ~digits)) & ((word & seps) == sep_values)
        x = word & digits & _LOW_NIBBLES
        pairs.append(x * np.uint64(10) + (x >> np.uint64(8)))  # byte j: 10 * digit j + digit j+1

    def byte(word: np.ndarray, j: int) -> np.ndarray:
        return ((word >> np.uint64(8 * j)) & np.uint64(0xFF)).astype(np.int64)

    t_or_space = byte(words[1], 2)
    ok &= (t_or_space == ord(" ")) | (t_or_space == ord("T"))
    year = byte(pairs[0], 0) * 100 + byte(pairs[0], 2)
    month, day = byte(pairs[0], 5), byte(pairs[1], 0)
    hour, minute, second = byte(pairs[1], 3), byte(pairs[1], 6), byte(pairs[2], 1)
    ok &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    month = np.clip(month, 1, 12)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    ok &= day <= _DAYS_IN_MONTH[month] + (leap & (month == 2))
    micros = (_days_since_2000(year, month, day) * 86400 + hour * 3600 + minute * 60 + second) * 1_000_000
    with_tail = np.flatnonzero(ok & (length > 19))
    if len(with_tail):
        tail_ok, tail_micros = _timestamp_tail(b, s[with_tail] + 19, length[with_tail] - 19)
        ok[with_tail] = tail_ok
        micros[with_tail] += tail_micros
    ok &= (micros >= EARLIEST_MICROS) & (micros < MICROS_BEFORE)
    return ok, micros


_TS_TAIL = 13  # the longest tail read here: ".ffffff+HH:MM"
_FRACTION_SCALE = 10 ** np.arange(5, -1, -1, dtype=np.int64)


def _timestamp_tail(b: _Bytes, at: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The part after the seconds (1 to _TS_TAIL bytes): valid?, and microseconds to add."""
    rows = np.arange(len(at))[:, None]
    t = b.windows[at + _PAD].astype(np.int64)  # the tail's first _WINDOW bytes, one row each
    fraction = t[:, 0] == ord(".")
    digit = (t[:, 1:8] >= ord("0")) & (t[:, 1:8] <= ord("9"))
    digits = np.where(fraction, np.argmin(np.c_[digit, np.zeros(len(at), bool)], axis=1), 0)
    ok = ~fraction | ((digits >= 1) & (digits <= 6))
    values = np.where(np.arange(6) < digits[:, None], t[:, 1:7] - ord("0"), 0)
    micros = values @ _FRACTION_SCALE
    zone_at = np.where(fraction, digits + 1, 0)
    zone_size = size - zone_at
    z = t[rows, zone_at[:, None] + np.arange(6)]
    zulu = (zone_size == 1) & (z[:, 0] == ord("Z"))
    zone_digits = z[:, [1, 2, 4, 5]]
    offset = (zone_size == 6) & ((z[:, 0] == ord("+")) | (z[:, 0] == ord("-"))) & (z[:, 3] == ord(":"))
    offset &= ((zone_digits >= ord("0")) & (zone_digits <= ord("9"))).all(axis=1)
    hours = (z[:, 1] - ord("0")) * 10 + z[:, 2] - ord("0")
    minutes = (z[:, 4] - ord("0")) * 10 + z[:, 5] - ord("0")
    offset &= (hours <= 23) & (minutes <= 59)
    ok &= (zone_size == 0) | zulu | offset
    shift = np.where(offset, (hours * 60 + minutes) * 60_000_000, 0)
    micros -= np.where(z[:, 0] == ord("+"), shift, -shift)
    return ok, micros


def _fast_boolean(b: _Bytes, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    length = e - s
    ok = (length >= 1) & (length <= 5)
    w = (b.windows[s + _PAD][:, :5] | np.uint8(0x20)).astype(np.int64)  # lower case (digits unchanged)
    w = np.where(np.arange(5) < length[:, None], w, 0)
    keys = (length << 40) | w[:, 0] | (w[:, 1] << 8) | (w[:, 2] << 16) | (w[:, 3] << 24) | (w[:, 4] << 32)
    true = np.isin(keys, _BOOL_KEYS_TRUE)
    ok &= true | np.isin(keys, _BOOL_KEYS_FALSE)
    return ok, true


def _fast_text(b: _Bytes, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, None]:
    """Non-empty, not all blank (other whitespace is a control or non-ASCII byte: never here) and at most
    MAX_TEXT_CHARS long (ASCII: one byte is one character)."""
    ok = (e > s) & (e - s <= MAX_TEXT_CHARS)
    for i in np.flatnonzero(ok & (b.a[np.minimum(s, len(b.a) - 1)] == ord(" "))).tolist():
        ok[i] = bool((b.a[s[i] : e[i]] != ord(" ")).any())  # rare: a value that starts with a space
    return ok, None


_FAST_PARSERS = {"bigint": _fast_bigint, "timestamptz": _fast_timestamp, "boolean": _fast_boolean}


def chunk_parsable(layout: RowLayout) -> bool:
    """Whether the chunk parser knows every column (else every line goes through the exact parser)."""
    return all(kind in _FAST_PARSERS for _, kind in layout.fixed)


@dataclass
class _QuotedFields:
    """Lines whose only special bytes are the two quotes around one whole field with no comma inside
    (``...,false,"Organic Search"``): the chunk parser reads the field between the quotes."""

    lines: np.ndarray  # line index in the chunk, ascending
    field: np.ndarray  # index of the quoted field on the line

    @classmethod
    def none(cls) -> _QuotedFields:
        return cls(lines=np.empty(0, dtype=np.int64), field=np.empty(0, dtype=np.int64))

    @classmethod
    def of(
        cls,
        a: np.ndarray,
        special: np.ndarray,
        line_of: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        commas: np.ndarray,
        first_comma: np.ndarray,
    ) -> _QuotedFields:
        lines, first, count = np.unique(line_of, return_index=True, return_counts=True)
        two = count == 2
        lines, opening = lines[two], special[first[two]]
        closing = special[first[two] + 1]
        comma_before_opening = np.searchsorted(commas, opening)
        ok = (a[opening] == ord('"')) & (a[closing] == ord('"'))
        ok &= (opening == starts[lines]) | (a[opening - 1] == ord(","))
        ok &= (closing + 1 == ends[lines]) | (a[closing + 1] == ord(","))
        ok &= comma_before_opening == np.searchsorted(commas, closing)
        return cls(lines=lines[ok], field=(comma_before_opening - first_comma[lines])[ok])

    def where(self, keep: np.ndarray) -> _QuotedFields:
        return _QuotedFields(lines=self.lines[keep], field=self.field[keep])

    def unquote(self, bounds: list[tuple[np.ndarray, np.ndarray]], cand: np.ndarray) -> None:
        """Narrow the quoted fields' (start, end) bounds of the candidate lines to the text inside."""
        if not len(self.lines):
            return
        at = np.searchsorted(cand, self.lines)  # every quoted line is a candidate
        for j, (s, e) in enumerate(bounds):
            rows = at[self.field == j]
            s[rows] += 1
            e[rows] -= 1


@dataclass
class ChunkResult:
    rows: list[bytes]  # COPY binary data (several blocks)
    loaded: int
    rejects: list[tuple[int, bytes, str]]  # (line number, raw line, reason)
    lines: int = 0  # lines in the chunk
    exact_lines: int = 0  # lines that went through the line-by-line parser


def parse_chunk(buf: bytes, first_line: int, header: Header, layout: RowLayout) -> ChunkResult:
    """Parse complete lines (``buf`` ends with a line break) whose first line has number ``first_line``."""
    if not chunk_parsable(layout):
        return _parse_chunk_exactly(buf, first_line, header, layout)
    b = _Bytes.of(buf)
    a = b.a
    newlines = np.flatnonzero(a == 10)
    n = len(newlines)
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = newlines[:-1] + 1
    ends = newlines.copy()
    ncols = len(header.columns)
    commas = np.flatnonzero(a == ord(","))
    commas_before_end = np.searchsorted(commas, newlines)
    first_comma = np.empty(n, dtype=np.int64)
    first_comma[0] = 0
    first_comma[1:] = commas_before_end[:-1]
    exact = (commas_before_end - first_comma) != ncols - 1  # lines for the exact parser
    quoted = _QuotedFields.none()
    special = _special_bytes(a)
    if len(special):
        line_of = np.searchsorted(newlines, special)
        crlf = (a[special] == 13) & (special + 1 == newlines[line_of])
        ends[line_of[crlf]] -= 1
        special, line_of = special[~crlf], line_of[~crlf]
        quoted = _QuotedFields.of(a, special, line_of, starts, ends, commas, first_comma)
        quoted = quoted.where(~exact[quoted.lines])  # the field count is right
        exact[line_of] = True
        exact[quoted.lines] = False
    too_long = ends - starts > limits.MAX_LINE_BYTES  # the exact parser rejects them
    if too_long.any():
        exact |= too_long
        quoted = quoted.where(~too_long[quoted.lines])
    cand = np.flatnonzero(~exact)

    bounds: list[tuple[np.ndarray, np.ndarray]] = []
    field_start = starts[cand]
    for j in range(ncols):
        if j < ncols - 1:
            comma = commas[first_comma[cand] + j]
            bounds.append((field_start, comma))
            field_start = comma + 1
        else:
            bounds.append((field_start, ends[cand]))
    quoted.unquote(bounds, cand)
    types = dict(header.feed.columns)
    ok = np.ones(len(cand), dtype=bool)
    values: dict[str, np.ndarray] = {}
    for name, (s, e) in zip(header.columns, bounds, strict=True):
        kind = types[name]
        if kind == "text":
            good, _ = _fast_text(b, s, e)
        else:
            good, values[name] = _FAST_PARSERS[kind](b, s, e)
        ok &= good
    exact[cand[~ok]] = True
    taken = cand[ok]

    blocks: list[bytes] = []
    line_numbers = first_line + taken
    if len(taken):
        keep = {name: v[ok] for name, v in values.items()}
        if layout.text is None:
            blocks.append(_pack_fixed(layout, keep, line_numbers, None, None, None).tobytes())
        else:
            text_pos = header.columns.index(layout.text)
            ts, te = bounds[text_pos][0][ok], bounds[text_pos][1][ok]
            lengths = (te - ts).astype(np.uint16 if MAX_TEXT_CHARS < 2**16 else np.int64)
            order = np.argsort(lengths, kind="stable")
            counts = np.bincount(lengths)
            offset = 0
            for size in np.flatnonzero(counts):
                group = order[offset : offset + counts[size]]
                offset += counts[size]
                text = sliding_window_view(a, size)[ts[group]] if size else None
                rec = _pack_fixed(
                    layout,
                    {k: v[group] for k, v in keep.items()},
                    line_numbers[group],
                    text,
                    size,
                    layout.text,
                )
                blocks.append(rec.tobytes())

    rejects: list[tuple[int, bytes, str]] = []
    loaded = len(taken)
    slow_rows: list[bytes] = []
    for i in np.flatnonzero(exact).tolist():
        raw = buf[starts[i] : newlines[i]]
        line_number = first_line + i
        try:
            row = parse_line(raw, header)
        except RowError as exc:
            rejects.append((line_number, raw, str(exc)))
            continue
        slow_rows.append(layout.pack_row(row, line_number))
        loaded += 1
    if slow_rows:
        blocks.append(b"".join(slow_rows))
    return ChunkResult(rows=blocks, loaded=loaded, rejects=rejects, lines=n, exact_lines=int(exact.sum()))


def _parse_chunk_exactly(buf: bytes, first_line: int, header: Header, layout: RowLayout) -> ChunkResult:
    """Every line of the chunk through the exact parser (feeds with columns the chunk parser lacks)."""
    rows: list[bytes] = []
    rejects: list[tuple[int, bytes, str]] = []
    lines = buf.split(b"\n")[:-1]
    for line_number, raw in enumerate(lines, start=first_line):
        try:
            rows.append(layout.pack_row(parse_line(raw, header), line_number))
        except RowError as exc:
            rejects.append((line_number, raw, str(exc)))
    return ChunkResult(
        rows=[b"".join(rows)] if rows else [],
        loaded=len(rows),
        rejects=rejects,
        lines=len(lines),
        exact_lines=len(lines),
    )


def _pack_fixed(
    layout: RowLayout,
    values: dict[str, np.ndarray],
    line_numbers: np.ndarray,
    text: np.ndarray | None,
    text_bytes: int | None,
    text_name: str | None,
) -> np.ndarray:
    count = len(line_numbers)
    rec = np.empty(count, dtype=layout.numpy_dtype(text_bytes))
    rec["nfields"] = len(layout.copy_columns)
    for name, kind in layout.fixed:
        rec[f"{name}__len"] = _FIXED_FORMAT[kind][1]
        rec[name] = values[name]
    rec["_line_number__len"] = 8
    rec["_line_number"] = line_numbers
    if text_name is not None:
        rec[f"{text_name}__len"] = text_bytes
        if text_bytes:
            rec[text_name] = np.ascontiguousarray(text).view(f"S{text_bytes}").ravel()
    return rec
