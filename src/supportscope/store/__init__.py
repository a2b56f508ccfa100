"""The run directory (DESIGN.md section 5): sampled and scored shards, resumable and atomic.

:class:`RunStore` (:mod:`.run`) is the run: a manifest listing Parquet shards of three kinds
(problems, samples, scores; schemas in :mod:`.schema`), written under a writer lock
(:mod:`.lock`) with deterministic bytes (:mod:`.shard_files`). :func:`counts_from_samples`
(:mod:`.counts`) turns a run's samples into the counts table of :mod:`supportscope.io`.

Public API: :class:`RunStore`, :func:`counts_from_samples`, :func:`build_table`, the schemas,
:class:`~supportscope.errors.StoreError` and :class:`~supportscope.errors.SchemaError`.
"""

from ..errors import SchemaError, StoreError
from .counts import counts_from_samples
from .run import RunStore
from .schema import PROBLEMS_SCHEMA, SAMPLES_SCHEMA, SCORER_PREFIX, SCORES_SCHEMA, build_table

__all__ = ["PROBLEMS_SCHEMA", "RunStore", "SAMPLES_SCHEMA", "SCORER_PREFIX", "SCORES_SCHEMA", "SchemaError", "StoreError",
           "build_table", "counts_from_samples"]
