"""Check 1 of :mod:`.provenance`: duplicated completions within a problem, and the reused-seed screen."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from supportscope.analysis.provenance_rows import by_problem, completion_keys
from supportscope.stats.duplicates import seed_screen

__all__ = ["N_EXAMPLES", "duplicates"]

#: Examples kept per list (flagged duplicate problems, prompt mismatches).
N_EXAMPLES = 5


def _pairs(counts) -> int:
    return int(sum(m * (m - 1) // 2 for m in counts))


def _codes(values: list) -> np.ndarray:
    """Integer codes of hashable values (equal values, equal codes)."""
    seen: dict = {}
    return np.fromiter((seen.setdefault(v, len(seen)) for v in values), np.int64, len(values))


def _screen(rows: dict[str, list[int]], keys: list, seeds: list, alpha: float) -> tuple[int, list[dict], dict]:
    """The reused-seed screen (:func:`supportscope.stats.duplicates.seed_screen`) over the problems whose
    samples all have a seed: (problems with a repeated seed, flagged examples, counts)."""
    pids = [p for p, idx in rows.items() if all(seeds[i] is not None for i in idx)]
    s = seed_screen([_codes([seeds[i] for i in rows[p]]) for p in pids], [_codes([keys[i] for i in rows[p]])
                                                                        for p in pids], alpha)
    repeated = int((s.tested | s.one_seed).sum())
    flagged = [{"problem_id": p, "samples": len(rows[p]), "distinct": len({keys[i] for i in rows[p]}),
                "one_seed": bool(s.one_seed[i]), "monochromatic_groups": None if s.monochromatic[i] < 0
                else int(s.monochromatic[i]), "expected": None if np.isnan(s.expected[i]) else float(s.expected[i]),
                "p_value": None if np.isnan(s.pvalue[i]) else float(s.pvalue[i]),
                "p_adjusted": None if np.isnan(s.p_adjusted[i]) else float(s.p_adjusted[i])}
               for i, p in enumerate(pids) if s.flagged[i]]
    counts = {"problems_tested": int(s.tested.sum()), "one_seed_problems": int(s.one_seed.sum()),
              "one_seed_all_identical": int((s.one_seed & s.all_identical).sum())}
    return repeated, flagged, counts


def duplicates(t: pa.Table, alpha: float) -> dict | None:
    """One model's duplicate counts and reused-seed screen (:mod:`.provenance`, check 1)."""
    got = completion_keys(t)
    if got is None:
        return None
    source, keys = got
    seeds = t["seed"].to_pylist() if "seed" in t.column_names else None
    n_dup_problems = pairs = dup = 0
    rows = by_problem(t)
    for idx in rows.values():
        counts = Counter(keys[i] for i in idx)
        pairs += _pairs(counts.values())
        dup += len(idx) - len(counts)
        n_dup_problems += len(counts) < len(idx)
    seed_ok = seeds is not None and all(s is not None for s in seeds)
    rep_seed, flagged, screen = _screen(rows, keys, seeds, alpha) if seeds is not None else (0, [], {
        "problems_tested": 0, "one_seed_problems": 0, "one_seed_all_identical": 0})
    return {"source": source, "samples": t.num_rows, "problems": len(rows),
            "distinct_seeds": len(set(seeds)) if seed_ok else None,
            "problems_with_duplicates": n_dup_problems, "identical_pairs": pairs, "duplicated_samples": dup,
            "duplicated_share": dup / t.num_rows if t.num_rows else 0.0, "seed_available": seed_ok,
            "seed_repeats": (rep_seed > 0) if seed_ok else None, "problems_with_repeated_seed": rep_seed,
            **screen, "problems_flagged": len(flagged), "examples": flagged[:N_EXAMPLES]}
