"""Per-row keys of the samples behind the provenance checks (:mod:`.provenance`): completions
(token ids, else text), prompts (token ids, a harness's prompt hash, or the prompt text) and the
rows of each problem."""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np
import pyarrow as pa

__all__ = ["by_problem", "completion_keys", "list_bytes", "prompt_keys", "texts"]



def list_bytes(t: pa.Table, name: str) -> list[bytes | None]:
    """Each row's list of ints as little-endian int32 bytes; None for a null or empty list."""
    arr = t[name].combine_chunks().cast(pa.list_(pa.int32()))
    offsets = arr.offsets.to_numpy()
    raw = np.asarray(arr.values.to_numpy(zero_copy_only=False), dtype="<i4").tobytes()
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    return [raw[4 * offsets[i]:4 * offsets[i + 1]] if valid[i] and offsets[i + 1] > offsets[i] else None
            for i in range(len(arr))]


def texts(t: pa.Table, name: str) -> list[str | None]:
    return [None if v is None or v == "" else str(v) for v in t[name].to_pylist()]


def completion_keys(t: pa.Table) -> tuple[str, list] | None:
    """(source, key per row): token ids when any row has them (an empty list then keys the empty
    completion), else the completion text; None without either."""
    if "token_ids" in t.column_names:
        toks = list_bytes(t, "token_ids")
        if any(k is not None for k in toks):
            return "token_ids", [k or b"" for k in toks]
    if "completion" in t.column_names:
        return "completion", [v or "" for v in t["completion"].to_pylist()]
    return None


def prompt_keys(t: pa.Table) -> tuple[str, list[str | None]] | None:
    """(source, hex hash per row or None): the first source every row has, else the first any row has."""
    cand = []
    if "prompt_ids" in t.column_names:
        cand.append(("prompt_ids", [None if b is None else hashlib.sha256(b).hexdigest()
                                    for b in list_bytes(t, "prompt_ids")]))
    if "prompt_hash" in t.column_names:
        cand.append(("prompt_hash", texts(t, "prompt_hash")))
    if "prompt" in t.column_names:
        cand.append(("prompt", [None if s is None else hashlib.sha256(s.encode()).hexdigest()
                                for s in texts(t, "prompt")]))
    cand = [(s, k) for s, k in cand if any(v is not None for v in k)]
    for s, k in cand:
        if all(v is not None for v in k):
            return s, k
    return cand[0] if cand else None


def by_problem(t: pa.Table) -> dict[str, list[int]]:
    """Row indices per problem, ordered by ``sample_idx`` when present."""
    pids = [str(p) for p in t["problem_id"].to_pylist()]
    order = range(len(pids))
    if "sample_idx" in t.column_names:
        order = np.argsort(np.asarray(t["sample_idx"].fill_null(0).to_numpy(zero_copy_only=False)), kind="stable")
    rows: dict[str, list[int]] = defaultdict(list)
    for i in order:
        rows[pids[i]].append(int(i))
    return dict(rows)
