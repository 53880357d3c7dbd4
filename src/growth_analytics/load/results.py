"""What a load reports: one :class:`FileResult` per file, its status, and the two errors a load raises."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATUS_LOADED = "loaded"
STATUS_DUPLICATE = "skipped_duplicate"
STATUS_REFUSED = "refused"
STATUS_IGNORED = "ignored"  # a folder's entry that is not a data file by its name (reported, not an error)


@dataclass
class FileResult:
    """What happened to one file; ``message`` is one line (for a refusal: the file and the problem)."""

    path: Path
    feed: str | None
    status: str
    load_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    seconds: float = 0.0
    message: str = ""

    def as_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["path"] = shown_name(str(self.path))
        data["seconds"] = round(self.seconds, 3)
        return data


def shown_name(name: str) -> str:
    """A file name as printable text: bytes that are not UTF-8 (kept by Python as surrogates) as ``\\xNN``."""
    try:
        encoded = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that did not come from the file system
        encoded = name.encode("utf-8", "backslashreplace")
    return encoded.decode("utf-8", "backslashreplace")


class RefusedFile(Exception):
    """The file as a whole cannot be loaded; the message names the problem (not the file)."""


class RowError(ValueError):
    """One line does not satisfy the input contract; the message is the reject reason."""
