"""Check 1 of :mod:`.provenance`: duplicated completions within a problem, and the reused-seed screen."""

from __future__ import annotations

from collections import Counter, defaultdict

import pyarrow as pa

from supportscope.analysis.provenance_rows import by_problem, completion_keys

__all__ = ["N_EXAMPLES", "duplicates"]

#: Examples kept per list (flagged duplicate problems, prompt mismatches).
N_EXAMPLES = 5



def _pairs(counts) -> int:
    return int(sum(m * (m - 1) // 2 for m in counts))


def _seed_screen(keys: list, seeds: list, alpha: float) -> dict | None:
    """Same-seed pairs S, identical among them D, collision rate r of the seed groups' first
    samples, and the binomial tail P(Bin(S, r) >= D); None when no seed repeats."""
    from scipy.stats import binom

    groups: dict = defaultdict(list)
    for k, s in zip(keys, seeds):
        groups[s].append(k)
    if len(groups) == len(seeds):
        return None
    S = _pairs(len(g) for g in groups.values())
    D = sum(_pairs(Counter(g).values()) for g in groups.values())
    G = len(groups)
    if G < 2:  # one seed for the problem: only "every sample identical" is told apart from collisions
        return {"same_seed_pairs": S, "identical_same_seed_pairs": D, "collision_rate": None, "p_value": None,
                "flagged": bool(D == S)}
    reps = Counter(g[0] for g in groups.values())
    r = _pairs(reps.values()) / (G * (G - 1) / 2)
    p = float(binom.sf(D - 1, S, r)) if D > 0 else 1.0
    return {"same_seed_pairs": S, "identical_same_seed_pairs": D, "collision_rate": r, "p_value": p,
            "flagged": bool(D > 0 and p <= alpha)}


def duplicates(t: pa.Table, alpha: float) -> dict | None:
    """One model's duplicate counts and seed screen (module docstring, check 1)."""
    got = completion_keys(t)
    if got is None:
        return None
    source, keys = got
    seeds = t["seed"].to_pylist() if "seed" in t.column_names else None
    n_dup_problems = pairs = dup = rep_seed = 0
    flagged = []
    rows = by_problem(t)
    for pid, idx in rows.items():
        counts = Counter(keys[i] for i in idx)
        pairs += _pairs(counts.values())
        dup += len(idx) - len(counts)
        n_dup_problems += len(counts) < len(idx)
        if seeds is None or any(seeds[i] is None for i in idx):
            continue
        screen = _seed_screen([keys[i] for i in idx], [seeds[i] for i in idx], alpha)
        if screen is not None:
            rep_seed += 1
            if screen["flagged"]:
                flagged.append({"problem_id": pid, "samples": len(idx), "distinct": len(counts), **screen})
    seed_ok = seeds is not None and all(s is not None for s in seeds)
    return {"source": source, "samples": t.num_rows, "problems": len(rows),
            "distinct_seeds": len(set(seeds)) if seed_ok else None,
            "problems_with_duplicates": n_dup_problems, "identical_pairs": pairs, "duplicated_samples": dup,
            "duplicated_share": dup / t.num_rows if t.num_rows else 0.0, "seed_available": seed_ok,
            "seed_repeats": (rep_seed > 0) if seed_ok else None, "problems_with_repeated_seed": rep_seed,
            "problems_flagged": len(flagged), "examples": flagged[:N_EXAMPLES]}
