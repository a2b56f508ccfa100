"""Records: read eval results (counts or per-sample rows; CSV, JSON Lines, Parquet) into one
validated counts table. See DESIGN.md section 5.

Public API: :func:`load_counts`, :class:`InputError`, :data:`COUNTS_SCHEMA`.
"""

from .errors import InputError
from .readers import load_counts
from .schema import COUNTS_SCHEMA

__all__ = ["InputError", "load_counts", "COUNTS_SCHEMA"]
