"""Binary COPY: the row layout of a feed, the thread that feeds a COPY, and the spool of rejected lines."""

from __future__ import annotations

import queue
import struct
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from growth_analytics.feeds import (
    SPEND_DECIMALS,
    SPEND_TYPE,
    Feed,
)
from growth_analytics.load import limits

# Row layout: the fixed-size columns of the feed in canonical order, then _line_number, then the text
# column (sessions.medium) last, so that rows with equally long text have one fixed numpy layout.
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
_FIXED_FORMAT = {"bigint": ("q", 8), "timestamptz": ("q", 8), "boolean": ("?", 1), "date": ("i", 4)}


def _binary_amount(units: int) -> bytes:
    """Postgres' binary numeric of ``units`` * 10^-SPEND_DECIMALS (>= 0): base-10000 digits after a
    header of digit count, weight of the first digit, sign and display scale (the server strips zeros)."""
    whole, fraction = divmod(units, 10**SPEND_DECIMALS)
    digits = [fraction * 10 ** (4 - SPEND_DECIMALS)]
    while whole:
        whole, digit = divmod(whole, 10_000)
        digits.insert(0, digit)
    weight = len(digits) - 2
    return struct.pack(f">hhhh{len(digits)}h", len(digits), weight, 0, SPEND_DECIMALS, *digits)


# Binary COPY encoders of the columns only the exact parser takes (variable size).
_BINARY_ENCODERS: dict[str, Callable[[Any], bytes]] = {
    SPEND_TYPE: _binary_amount,
    "char(3)": lambda code: code.encode("ascii"),
}


@dataclass(frozen=True)
class RowLayout:
    fixed: tuple[tuple[str, str], ...]  # (column, type) of fixed-size columns
    text: str | None  # the text column, if any

    @classmethod
    def of(cls, feed: Feed) -> RowLayout:
        fixed = tuple((name, kind) for name, kind in feed.columns if kind != "text")
        texts = [name for name, kind in feed.columns if kind == "text"]
        if len(texts) > 1:  # pragma: no cover - the feeds have at most one text column
            raise NotImplementedError("one text column per feed")
        return cls(fixed=fixed, text=texts[0] if texts else None)

    @property
    def copy_columns(self) -> list[str]:
        return [name for name, _ in self.fixed] + ["_line_number"] + ([self.text] if self.text else [])

    def numpy_dtype(self, text_bytes: int | None) -> np.dtype:
        fields: list[tuple[str, str]] = [("nfields", ">i2")]
        for name, kind in self.fixed:
            size = _FIXED_FORMAT[kind][1]
            fields += [(f"{name}__len", ">i4"), (name, ">i8" if size == 8 else "u1")]
        fields += [("_line_number__len", ">i4"), ("_line_number", ">i8")]
        if self.text is not None:
            fields += [(f"{self.text}__len", ">i4")]
            if text_bytes:
                fields += [(self.text, f"S{text_bytes}")]
        return np.dtype(fields)

    def pack_row(self, values: dict[str, Any], line_number: int) -> bytes:
        """One row (from the exact parser) in COPY binary format; a column the file left out is null."""
        parts = [struct.pack(">h", len(self.copy_columns))]
        for name, kind in self.fixed:
            if name not in values:
                parts.append(struct.pack(">i", -1))
            elif kind in _FIXED_FORMAT:
                code, size = _FIXED_FORMAT[kind]
                parts.append(struct.pack(f">i{code}", size, values[name]))
            else:
                encoded = _BINARY_ENCODERS[kind](values[name])
                parts.append(struct.pack(">i", len(encoded)) + encoded)
        parts.append(struct.pack(">iq", 8, line_number))
        if self.text is not None:
            encoded = values[self.text].encode("utf-8")
            parts.append(struct.pack(">i", len(encoded)) + encoded)
        return b"".join(parts)


def _stored_text(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")
    if len(text) > limits.MAX_STORED_LINE_CHARS:
        text = text[: limits.MAX_STORED_LINE_CHARS] + "..."
    return text


def _copy_text_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class _RejectSpool:
    """Rejects of the file being loaded, kept in a spooled temp file until the data COPY is done."""

    def __init__(self, feed: str, source_file: str) -> None:
        self.count = 0
        self._prefix = f"{_copy_text_field(feed)}\t{_copy_text_field(source_file)}\t"
        self._file = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115 - closed in copy_to

    def add(self, line_number: int, raw: bytes, reason: str) -> None:
        text, why = _copy_text_field(_stored_text(raw)), _copy_text_field(reason)
        row = f"{self._prefix}{line_number}\t{text}\t{why}\n"
        self._file.write(row.encode("utf-8"))
        self.count += 1

    def copy_to(self, cur: psycopg.Cursor, load_id: int) -> None:
        with self._file:
            if not self.count:
                return
            self._file.seek(0)
            prefix = f"{load_id}\t".encode()
            statement = (
                "copy raw.load_rejects (load_id, feed, source_file, line_number, raw_line, reason) from stdin"
            )
            with cur.copy(statement) as copy:
                for line in self._file:
                    copy.write(prefix + line)


class _BackgroundWriter:
    """Feeds a COPY from a thread so that parsing the next chunk overlaps the server's work."""

    def __init__(self, copy: psycopg.Copy, depth: int = 3) -> None:
        self._copy = copy
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="copy-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._copy.write(data)
                except BaseException as exc:  # surfaced in the caller's thread
                    self._error = exc

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
