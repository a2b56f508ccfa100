"""The Arrow schema of the counts table that :func:`~supportscope.io.load_counts` returns."""

from __future__ import annotations

import pyarrow as pa

__all__ = ["COUNTS_SCHEMA"]

#: problem_id, model: as in the file (problem_id always text); n, correct: samples and successes;
#: source: the file path as given; line: line of the row in the file (for aggregated samples,
#: the line of the group's first sample; for Parquet, the 0-based row index).
COUNTS_SCHEMA = pa.schema(
    [
        ("problem_id", pa.string()),
        ("model", pa.string()),
        ("n", pa.int64()),
        ("correct", pa.int64()),
        ("source", pa.string()),
        ("line", pa.int64()),
    ]
)
