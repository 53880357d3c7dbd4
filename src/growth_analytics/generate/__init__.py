"""Realistic web-session, registration and spend CSVs (``growth generate``): the shape of a private data
set, deterministic for a seed, with the anomalies and malformed lines the pipeline must handle
(see :mod:`.shape`).
"""

from growth_analytics.generate.dataset import GenerateSummary, generate, generate_day, returning_user_pool
from growth_analytics.generate.shape import BAD_ROW_KINDS, MEDIUMS, PAID_MEDIUMS, RULE_WINDOWS
from growth_analytics.generate.simulate import user_ids

__all__ = [
    "BAD_ROW_KINDS",
    "MEDIUMS",
    "PAID_MEDIUMS",
    "RULE_WINDOWS",
    "GenerateSummary",
    "generate",
    "generate_day",
    "returning_user_pool",
    "user_ids",
]
