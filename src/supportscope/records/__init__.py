"""Records (DESIGN.md section 5): read eval results (counts or per-sample rows; CSV, JSON Lines,
Parquet) into one validated counts table, and the resumable run store of sampled and scored runs.

Public API: :func:`load_counts`, :class:`InputError`, :data:`COUNTS_SCHEMA`; :class:`RunStore`,
:func:`counts_from_samples`, the run schemas and :func:`build_table`.
"""

from .errors import InputError
from .readers import load_counts
from .run_schema import PROBLEMS_SCHEMA, SAMPLES_SCHEMA, SCORES_SCHEMA, SchemaError, build_table
from .schema import COUNTS_SCHEMA
from .store import RunStore, StoreError, counts_from_samples

__all__ = ["COUNTS_SCHEMA", "InputError", "PROBLEMS_SCHEMA", "RunStore", "SAMPLES_SCHEMA", "SCORES_SCHEMA",
           "SchemaError", "StoreError", "build_table", "counts_from_samples", "load_counts"]
