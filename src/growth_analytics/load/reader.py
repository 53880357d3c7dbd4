"""Reading a file: plain or gzip stream, the header line, blocks of whole lines, and the content hash."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from growth_analytics.load import limits
from growth_analytics.load.results import RefusedFile

GZIP_MAGIC = b"\x1f\x8b"


def _open_stream(path: Path) -> IO[bytes]:
    handle = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    if handle.read(2) == GZIP_MAGIC:
        handle.seek(0)
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    handle.seek(0)
    return handle


def _read(stream: IO[bytes], size: int) -> bytes:
    try:
        return stream.read(size)
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(stream, gzip.GzipFile):
            raise RefusedFile(f"corrupt gzip file: {exc}") from None
        raise RefusedFile(f"cannot read the file: {exc}") from None


def read_header(stream: IO[bytes]) -> tuple[bytes, bytes]:
    """The header line and whatever was read after it."""
    buf = b""
    while b"\n" not in buf:
        block = _read(stream, min(limits.BLOCK_BYTES, limits.MAX_HEADER_BYTES))
        if not block:
            break
        buf += block
        if len(buf) > limits.MAX_HEADER_BYTES and b"\n" not in buf[: limits.MAX_HEADER_BYTES]:
            raise RefusedFile("not a CSV file: no line break in the first 64 KiB")
    if not buf:
        raise RefusedFile("empty file")
    line, _, rest = buf.partition(b"\n")
    return line, rest


def iter_chunks(stream: IO[bytes], pending: bytes) -> Iterator[tuple[bytes, int | None]]:
    """The stream's lines in blocks of about BLOCK_BYTES.

    Yields ``(chunk, too_long)``: ``chunk`` holds complete lines ending with a line break (the parsers
    reject those longer than MAX_LINE_BYTES). A line that grows beyond MAX_LINE_BYTES before its line
    break has been read is skipped without keeping it: it is yielded alone, its first bytes only, with
    ``too_long`` set to its length in bytes (without the line break), so that the caller rejects it. A last
    line without a line break gets one.
    """
    buf = pending
    eof = False
    while buf or not eof:
        if not eof:
            block = _read(stream, limits.BLOCK_BYTES)
            if block:
                buf += block
            else:
                eof = True
                if buf and not buf.endswith(b"\n"):
                    buf += b"\n"
        cut = buf.rfind(b"\n") + 1
        if cut:
            yield buf[:cut], None
            buf = buf[cut:]
        # What is left has no line break; one byte more than the limit may still be the CR of a CRLF.
        if len(buf) > limits.MAX_LINE_BYTES + 1:
            head, size, buf, eof = _skip_line(stream, buf)
            yield head, size


def _skip_line(stream: IO[bytes], start: bytes) -> tuple[bytes, int, bytes, bool]:
    """Read past the line that ``start`` begins: (its first bytes, its length without the line break,
    what follows its line break in the last block read, whether the stream ended)."""
    head = start[: limits.MAX_STORED_LINE_CHARS]
    size = len(start)
    last = start[-1:]
    while True:
        block = _read(stream, limits.BLOCK_BYTES)
        if not block:
            return head, size - (last == b"\r"), b"", True
        cut = block.find(b"\n")
        if cut >= 0:
            size += cut
            last = block[cut - 1 : cut] if cut else last
            return head, size - (last == b"\r"), block[cut + 1 :], False
        size += len(block)
        last = block[-1:]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        # large blocks: the hash releases the GIL while it digests one, and needs it rarely in between
        while block := handle.read(limits.BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()
