"""The header line of a file: which feed it belongs to and its column order; and the CSV field splitter."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from growth_analytics.feeds import (
    COLUMN_ALIASES,
    FEEDS,
    Feed,
)
from growth_analytics.load.results import RefusedFile, RowError


@dataclass(frozen=True)
class Header:
    """The feed a file belongs to and its columns (canonical names) in file order."""

    feed: Feed
    columns: tuple[str, ...]


def _feed_signature(feed: Feed) -> str:
    return ",".join(feed.column_names)


def parse_header(line: bytes) -> Header:
    """Tell the feed and column order from a header line; raises RefusedFile with the problem."""
    if line.startswith(codecs.BOM_UTF8):
        line = line[len(codecs.BOM_UTF8) :]
    line = line.rstrip(b"\r\n")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise RefusedFile("not a CSV file: the header is not UTF-8 text") from None
    if any(ord(ch) < 32 and ch != "\t" for ch in text):
        raise RefusedFile("not a CSV file: the header contains binary data")
    if not text.strip():
        raise RefusedFile("empty header line")
    try:
        names = [name.strip().lower() for name in split_csv_line(text)]
    except RowError as exc:
        raise RefusedFile(f"unreadable header: {exc}") from None
    columns = [COLUMN_ALIASES.get(name, name) for name in names]
    seen: set[str] = set()
    for name, raw in zip(columns, names, strict=True):
        if not name:
            raise RefusedFile("header has an empty column name")
        if name in seen:
            raise RefusedFile(f"duplicate column {raw!r} in header")
        seen.add(name)
    for feed in FEEDS.values():
        if set(feed.column_names) - feed.optional <= seen <= set(feed.column_names):
            return Header(feed=feed, columns=tuple(columns))

    # Name the feed the header was meant for (it has a column only that feed has) and what is off.
    def own_columns(feed: Feed) -> set[str]:
        others = (set(other.column_names) for other in FEEDS.values() if other is not feed)
        return set(feed.column_names).difference(*others)

    meant = [feed for feed in FEEDS.values() if seen & own_columns(feed)]
    signatures = [f"{feed.name} ({_feed_signature(feed)})" for feed in FEEDS.values()]
    expected = ", ".join(signatures[:-1]) + " or " + signatures[-1]
    if len(meant) != 1:
        return _raise(f"header {','.join(names)!r} matches no feed: expected {expected}")
    feed = meant[0]
    missing = [name for name in feed.column_names if name not in seen and name not in feed.optional]
    unknown = [raw for name, raw in zip(columns, names, strict=True) if name not in feed.column_names]
    problems = []
    if missing:
        problems.append("missing column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing))
    if unknown:
        problems.append("unknown column" + ("s " if len(unknown) > 1 else " ") + ", ".join(unknown))
    return _raise(
        f"header does not fit the {feed.name} feed ({_feed_signature(feed)}): {'; '.join(problems)}"
    )


def _raise(problem: str) -> Header:
    raise RefusedFile(problem)


def split_csv_line(line: str) -> list[str]:
    """Split one CSV record (RFC 4180 quoting, no line breaks inside fields)."""
    if '"' not in line:
        return line.split(",")
    fields: list[str] = []
    i, n = 0, len(line)
    while True:
        if i < n and line[i] == '"':
            parts = []
            j = i + 1
            while True:
                k = line.find('"', j)
                if k < 0:
                    raise RowError("unterminated quote")
                parts.append(line[j:k])
                if k + 1 < n and line[k + 1] == '"':
                    parts.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            fields.append("".join(parts))
            if i == n:
                return fields
            if line[i] != ",":
                raise RowError("text after a closing quote")
            i += 1
        else:
            k = line.find(",", i)
            field = line[i:] if k < 0 else line[i:k]
            if '"' in field:
                raise RowError("quote inside an unquoted field")
            fields.append(field)
            if k < 0:
                return fields
            i = k + 1
