"""The output files of a run: one per feed (or per feed and day), plain or gzipped, written in order."""

from __future__ import annotations

import gzip as gzip_module
from pathlib import Path
from typing import BinaryIO

import numpy as np

from growth_analytics.generate.shape import DAY


class _Sink:
    """Writes one feed: a single file, or one file per UTC day (opened on the day's first row)."""

    def __init__(self, out_dir: Path, feed: str, header: bytes, daily: bool, gzip: bool) -> None:
        self.out_dir, self.feed, self.header, self.daily, self.gzip = out_dir, feed, header, daily, gzip
        self.files: dict[str, tuple[BinaryIO, BinaryIO | None]] = {}
        self.paths: list[Path] = []

    def path_for(self, day: str | None) -> Path:
        name = f"{self.feed}_{day}.csv" if day else f"{self.feed}.csv"
        return self.out_dir / (name + ".gz" if self.gzip else name)

    def _open(self, day: str | None) -> BinaryIO:
        key = day or ""
        if key not in self.files:
            path = self.path_for(day)
            raw = path.open("wb")
            stream: BinaryIO = raw
            if self.gzip:  # no name, no time stamp in the gzip header: byte-identical for a seed
                stream = gzip_module.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)  # type: ignore[assignment]
            stream.write(self.header)
            self.files[key] = (stream, raw if self.gzip else None)
            self.paths.append(path)
        return self.files[key][0]

    def write_block(
        self,
        data: np.ndarray,
        lengths: np.ndarray,
        t: np.ndarray,
        bad_after: np.ndarray,
        bad_lines: list[bytes],
    ) -> None:
        """Write rows (sorted by time) with their malformed lines, each routed to its UTC day's file."""
        if len(lengths) == 0:
            return
        ends = np.cumsum(lengths)
        if self.daily:
            day = t // DAY
            cuts = np.flatnonzero(np.diff(day)) + 1
            bounds = [0, *cuts.tolist(), len(t)]
            names = np.datetime_as_string(day[bounds[:-1]].astype("datetime64[D]"))
            segments = [(bounds[i], bounds[i + 1], str(names[i])) for i in range(len(bounds) - 1)]
        else:
            segments = [(0, len(t), None)]
        bad = iter(zip(bad_after.tolist(), bad_lines, strict=True))
        pending = next(bad, None)
        for lo, hi, name in segments:
            stream = self._open(name)
            start = int(ends[lo - 1]) if lo else 0
            while pending is not None and pending[0] < hi:
                stop = int(ends[pending[0]])
                stream.write(data[start:stop].data)
                stream.write(pending[1])
                start = stop
                pending = next(bad, None)
            stream.write(data[start : int(ends[hi - 1])].data)

    def close(self) -> None:
        for stream, raw in self.files.values():
            stream.close()
            if raw is not None:
                raw.close()
        self.files.clear()
