"""Counts from a run store's samples: one row per (problem_id, model), like ``load_counts``.

A run may hold follow-up samples (a confirmation stage, ``scale.adaptive.followup_sample_job``) in
shards whose keys match :data:`FOLLOWUP_KEY` (``f00-r0000-p000000``); ``stage`` chooses the main
samples (default: the numbers of a run without follow-ups), the follow-up's alone, or all.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..io.schema import COUNTS_SCHEMA
from .run import PathLike, RunStore



#: Keys of follow-up shards (``f<NN>-...``); every other samples shard is a main-stage shard.
FOLLOWUP_KEY = re.compile(r"^f\d\d-")

#: The values of ``counts_from_samples(stage=...)``.
STAGES = ("main", "followup", "all")


def is_followup_key(key: str) -> bool:
    """Whether a samples shard key belongs to a follow-up (see :data:`FOLLOWUP_KEY`)."""
    return FOLLOWUP_KEY.match(key) is not None


def counts_from_samples(store: RunStore | PathLike, verify: bool = True, stage: str = "main") -> pa.Table:
    """The run's samples as a counts table, like :func:`~supportscope.io.load_counts`.

    ``stage``: ``"main"`` (default) counts every samples shard except the follow-up shards (keys
    matching :data:`FOLLOWUP_KEY`), ``"followup"`` only those (the confirmation stage, judged on
    its own samples), ``"all"`` every shard.

    One row per (problem_id, model) with ``n`` samples and ``correct`` successes, in order of
    each group's first sample (shards sorted by model and key, then row order); ``source`` is
    that sample's shard file (under the run path as given) and ``line`` its 0-based row in the
    shard. Schema :data:`~supportscope.io.COUNTS_SCHEMA`; empty when there are no samples.

    Each shard's SHA-256 is checked against the manifest (``verify=False`` skips it: then only
    the four columns needed are read; see :meth:`RunStore.read`).

    Raises:
        StoreError: a missing/changed/corrupt shard, or a sample (problem_id, model, sample_idx)
            in two shards.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    if not isinstance(store, RunStore):
        store = RunStore(store)
    parts = store.read_shards("samples", verify=verify, columns=["problem_id", "model", "sample_idx", "correct"],
                              select=lambda r: stage == "all" or is_followup_key(r["key"]) == (stage == "followup"))
    if not parts:
        return COUNTS_SCHEMA.empty_table()
    recs, tables = [r for r, _ in parts], [t for _, t in parts]
    shard_of = np.concatenate([np.full(t.num_rows, i, dtype=np.int64) for i, t in enumerate(tables)])
    line_of = np.concatenate([np.arange(t.num_rows, dtype=np.int64) for t in tables])
    allrows = pa.concat_tables(tables)
    order = pa.array(np.arange(allrows.num_rows, dtype=np.int64))
    grouped = (
        pa.table({"problem_id": allrows.column("problem_id"), "model": allrows.column("model"),
                  "correct": pc.cast(allrows.column("correct"), pa.int64()), "order": order})
        .group_by(["problem_id", "model"], use_threads=False)
        .aggregate([("correct", "sum"), ("order", "min"), ("order", "count")])
        .sort_by("order_min")
    )
    first = grouped.column("order_min").to_numpy()
    sources = np.array([str(store.path / r["file"]) for r in recs], dtype=object)
    return pa.Table.from_arrays(
        [
            grouped.column("problem_id"),
            grouped.column("model"),
            pc.cast(grouped.column("order_count"), pa.int64()),
            pc.cast(grouped.column("correct_sum"), pa.int64()),
            pa.array(sources[shard_of[first]], type=pa.string()),
            pa.array(line_of[first], type=pa.int64()),
        ],
        schema=COUNTS_SCHEMA,
    )
