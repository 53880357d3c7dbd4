"""Load session, registration and spend CSV files into ``raw.*`` exactly once (see :mod:`.files`)."""

from growth_analytics.load.files import expand_paths, load_files, sort_by_feed
from growth_analytics.load.results import (
    STATUS_DUPLICATE,
    STATUS_IGNORED,
    STATUS_LOADED,
    STATUS_REFUSED,
    FileResult,
    RefusedFile,
    RowError,
)

__all__ = [
    "STATUS_DUPLICATE",
    "STATUS_IGNORED",
    "STATUS_LOADED",
    "STATUS_REFUSED",
    "FileResult",
    "RefusedFile",
    "RowError",
    "expand_paths",
    "load_files",
    "sort_by_feed",
]
