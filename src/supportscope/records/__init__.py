"""Deprecated: ``supportscope.records`` was split into :mod:`supportscope.io` (external results ->
the counts table) and :mod:`supportscope.store` (the run directory); errors are in
:mod:`supportscope.errors`. This re-export is kept for one release (0.2 removes it)."""

import warnings

from supportscope.errors import InputError, SchemaError, StoreError
from supportscope.io import COUNTS_SCHEMA, load_counts
from supportscope.store import (PROBLEMS_SCHEMA, SAMPLES_SCHEMA, SCORES_SCHEMA, RunStore, build_table,
                                counts_from_samples)

warnings.warn("supportscope.records is deprecated: import from supportscope.io (load_counts, COUNTS_SCHEMA), "
              "supportscope.store (RunStore, counts_from_samples, build_table, the run schemas) and "
              "supportscope.errors (InputError, StoreError, SchemaError)", DeprecationWarning, stacklevel=2)

__all__ = ["COUNTS_SCHEMA", "InputError", "PROBLEMS_SCHEMA", "RunStore", "SAMPLES_SCHEMA", "SCORES_SCHEMA",
           "SchemaError", "StoreError", "build_table", "counts_from_samples", "load_counts"]
