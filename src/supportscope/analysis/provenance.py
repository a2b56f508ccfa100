"""Provenance checks on the samples behind an analysis: duplicates, truncation, prompt/reference mismatch.

Reported next to the labels whenever completions are known (imported samples or our own runs).
Each check needs only some columns of the samples table and is ``None`` (with a note) when they
are missing; ``problem_id`` and ``model`` are always needed.

1. **Duplicated completions** (per model, within a problem). Two samples are identical when their
   ``token_ids`` are (when the model's rows carry token ids) or else their ``completion`` texts.
   Reported: problems with duplicates, identical pairs (sum over distinct completions of C(m, 2)),
   duplicated samples (n minus the number of distinct completions) and their share, and whether
   ``seed`` repeats within a problem. Identical completions alone are no fault: short answers
   repeat under honest sampling. Problems are *flagged* by the reused-seed screen of
   :mod:`supportscope.stats.duplicates` (the known vLLM pitfall: one seed reused for "independent"
   requests gives identical outputs): where seeds repeat within a problem, A = the seed groups whose
   samples are all one completion against its expectation E[A] when the seed does not fix the
   output (the completions of the problem exchangeable), p = min(1, E[A]/A) (Markov), flagged by
   Benjamini-Hochberg at alpha over the model's tested problems; where one seed covers every sample
   of a problem, the model's one-seed problems (at least 5) are flagged only when every one has all
   its samples identical. Without a ``seed`` column only the counts are reported. (The former
   screen, a binomial tail of identical same-seed pairs against a collision rate from each seed
   group's first sample, flagged 15% of honest problems with 8 seeds reused 4 times and small
   answer spaces, and 24% with one seed per problem: ``tests/test_provenance_sim.py``.)
2. **Truncation**: the share of samples cut at the length limit (``finish_reason`` in
   :data:`TRUNCATED`) per model. The problems both models have are relabelled without the
   truncated samples (c and n recounted, labels from
   :func:`supportscope.analysis.labels.label_counts` with the analysis' K, basin_budget, zeta,
   alpha, anytime); each problem with truncated samples whose label changes, or that keeps no
   sample of a model, is listed (``claim``: the label with or without truncated samples is created
   or lost, e.g. a tuned model that writes longer answers looks "lost"). Dropping samples conditions
   on finishing (harder attempts run longer), so the relabel is a sensitivity check, not a
   corrected estimate; labels near a threshold also change when any samples are dropped. A listed
   problem is *flagged* only when the label with or without truncated samples is created or lost
   and its truncation differs between the models: the two-sided (central) Fisher exact test of
   truncated / n, base against tuned (:func:`supportscope.stats.two_proportion_pvalues`,
   p = min(1, 2 min(p_greater, p_less))), Benjamini-Hochberg adjusted over the problems with
   truncated samples, <= alpha. With truncation equally likely in both models (per sample, whatever
   its outcome) the chance of any flag is at most alpha. When truncation hits only samples that
   fail anyway, its share follows each model's failure rate, so the test finds a difference
   wherever the success rates differ; such label changes (1.7% of problems in
   ``tests/test_provenance_sim.py``) were never created/lost there, and none was flagged. (The former
   rule flagged every label change: 4-6% of honest problems, some in every model, at 5-20%
   truncation in both.)
3. **Prompt mismatch**: per problem and model the set of prompt hashes (SHA-256 of the
   ``prompt_ids`` as little-endian int32 bytes; else a ``prompt_hash`` column; else SHA-256 of a
   ``prompt`` text column, the first source every row has, else the first any row has). A problem
   whose base and tuned sets differ is a mismatch (another chat template, system prompt or
   tokenizer: models with different vocabularies differ everywhere, compare ``prompt`` texts
   then); a few examples give the hashes, prompt lengths and the first differing token. Likewise
   the ``reference`` answers (``supportscope grade`` writes the gold answer it graded against on
   every row): a problem whose base and tuned files were graded against different references is a
   mismatch, whatever the prompts.

``flagged`` lists one line per check that found a fault (empty for honest samples).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from supportscope.analysis.labels import CREATED, LOST, label_counts
from supportscope.analysis.provenance_duplicates import N_EXAMPLES, duplicates
from supportscope.analysis.provenance_rows import by_problem, list_bytes, prompt_keys
from supportscope.stats.answers import bh_adjust
from supportscope.stats.difference import two_proportion_pvalues

__all__ = ["TRUNCATED", "Provenance", "provenance", "provenance_from_summary", "truncation_differs", "truncation_flips"]

#: ``finish_reason`` values of a sample cut at the length limit (vLLM/OpenAI, Anthropic).
TRUNCATED = ("length", "max_tokens")


@dataclass(frozen=True)
class Provenance:
    """What :func:`provenance` finds (see the module docstring).

    duplicates: model -> ``{"source", "samples", "problems", "distinct_seeds", "problems_with_duplicates",
        "identical_pairs", "duplicated_samples", "duplicated_share", "seed_available",
        "seed_repeats", "problems_with_repeated_seed", "problems_tested", "one_seed_problems",
        "one_seed_all_identical", "problems_flagged", "examples"}``; None without completions.
    truncation: model -> ``{"samples", "truncated", "share", "problems_with_truncated",
        "problems_all_truncated"}``; None without ``finish_reason``.
    label_flips_without_truncated: one dict per listed problem: ``problem_id``, ``label``,
        ``label_without_truncated`` (None when a model keeps no sample), ``claim``, ``truncation_p``
        and ``truncation_p_adjusted`` (Fisher, BH), ``flagged``,
        ``truncated_base``, ``truncated_tuned`` and the counts ``c_/n_base``, ``c_/n_tuned`` with and
        without (``_kept``) the truncated samples.
    prompt_mismatch: problems whose base and tuned prompt hashes differ; None without prompts.
    reference_mismatch: problems whose base and tuned reference answers differ; None without a
        ``reference`` column.
    """

    base: str
    tuned: str
    duplicates: dict | None
    truncation: dict | None
    label_flips_without_truncated: list[dict] = field(default_factory=list)
    prompt_mismatch: int | None = None
    prompt_mismatch_examples: list[dict] = field(default_factory=list)
    prompt_source: str | None = None
    prompt_varies_within_model: dict | None = None
    reference_mismatch: int | None = None
    reference_mismatch_examples: list[dict] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"base": self.base, "tuned": self.tuned, "duplicates": self.duplicates,
                "truncation": self.truncation, "label_flips_without_truncated": self.label_flips_without_truncated,
                "prompt_mismatch": self.prompt_mismatch, "prompt_mismatch_examples": self.prompt_mismatch_examples,
                "prompt_source": self.prompt_source, "prompt_varies_within_model": self.prompt_varies_within_model,
                "reference_mismatch": self.reference_mismatch,
                "reference_mismatch_examples": self.reference_mismatch_examples,
                "flagged": self.flagged, "notes": self.notes}


# ---------------------------------------------------------------------------------------------
# 2. truncation


def _counts(t: pa.Table, ids: list[str]) -> dict[str, np.ndarray]:
    """Per problem of ``ids``: n, c, truncated, c and n of the untruncated samples (int64 arrays)."""
    ok = pc.fill_null(pc.greater(pc.cast(t["correct"], pa.float64()), 0.0), False)
    tr = pc.fill_null(pc.is_in(pc.cast(t["finish_reason"], pa.string()), pa.array(TRUNCATED)), False)
    keep = pc.invert(tr)
    g = pa.table({"problem_id": pc.cast(t["problem_id"], pa.string()), "c": pc.cast(ok, pa.int64()),
                  "tr": pc.cast(tr, pa.int64()), "ck": pc.cast(pc.and_(ok, keep), pa.int64()),
                  "nk": pc.cast(keep, pa.int64())})
    g = g.group_by("problem_id").aggregate([("c", "count"), ("c", "sum"), ("tr", "sum"), ("ck", "sum"),
                                            ("nk", "sum")])
    where = {pid: i for i, pid in enumerate(g["problem_id"].to_pylist())}
    rows = np.array([where[p] for p in ids], dtype=np.int64)
    return {k: np.asarray(g[col].to_numpy(zero_copy_only=False), dtype=np.int64)[rows]
            for k, col in (("n", "c_count"), ("c", "c_sum"), ("tr", "tr_sum"), ("ck", "ck_sum"),
                           ("nk", "nk_sum"))}


def _truncation_stats(k: dict[str, np.ndarray]) -> dict:
    n, tr = int(k["n"].sum()), int(k["tr"].sum())
    return {"samples": n, "truncated": tr, "share": tr / n if n else 0.0,
            "problems_with_truncated": int((k["tr"] > 0).sum()), "problems_all_truncated": int((k["nk"] == 0).sum())}


def truncation_differs(b: dict, t: dict, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(p, BH-adjusted p) of "truncation differs between the models", per problem (module docstring,
    check 2): two-sided central Fisher test of b["tr"] / b["n"] against t["tr"] / t["n"], adjusted
    over the problems with truncated samples (NaN elsewhere)."""
    some = (b["tr"] + t["tr"]) > 0
    p = np.full(b["tr"].shape, np.nan)
    if some.any():
        greater, less = two_proportion_pvalues(b["tr"][some], b["n"][some], t["tr"][some], t["n"][some])
        p[some] = np.minimum(1.0, 2.0 * np.minimum(greater, less))
    return p, bh_adjust(p)


def truncation_flips(ids: list[str], b: dict, t: dict, settings: dict) -> list[dict]:
    """Problems with truncated samples whose label changes without them, each ``flagged`` when its
    truncation differs between the models (module docstring, check 2)."""
    K, bb, zeta, alpha, anytime = (settings[k] for k in ("K", "basin_budget", "zeta", "alpha", "anytime"))
    before = label_counts(b["c"], b["n"], t["c"], t["n"], K, bb, zeta, alpha, anytime).label
    after = np.full(len(ids), None, dtype=object)
    left = (b["nk"] > 0) & (t["nk"] > 0)
    if left.any():
        after[left] = label_counts(b["ck"][left], b["nk"][left], t["ck"][left], t["nk"][left], K, bb, zeta,
                                   alpha, anytime).label
    p, p_adj = truncation_differs(b, t, alpha)
    flips = []
    for i in np.flatnonzero((b["tr"] + t["tr"] > 0) & (after != before)):
        lab, new = str(before[i]), None if after[i] is None else str(after[i])
        flips.append({"problem_id": ids[i], "label": lab, "label_without_truncated": new,
                      "claim": lab in (CREATED, LOST) or new in (CREATED, LOST),
                      "truncation_p": float(p[i]), "truncation_p_adjusted": float(p_adj[i]),
                      "flagged": bool(p_adj[i] <= alpha and (lab in (CREATED, LOST) or new in (CREATED, LOST))),
                      "truncated_base": int(b["tr"][i]), "truncated_tuned": int(t["tr"][i]),
                      "c_base": int(b["c"][i]), "n_base": int(b["n"][i]), "c_tuned": int(t["c"][i]),
                      "n_tuned": int(t["n"][i]), "c_base_kept": int(b["ck"][i]), "n_base_kept": int(b["nk"][i]),
                      "c_tuned_kept": int(t["ck"][i]), "n_tuned_kept": int(t["nk"][i])})
    return flips


# ---------------------------------------------------------------------------------------------
# 3. prompt mismatch


def _first_difference(a: bytes | None, b: bytes | None) -> int | None:
    if a is None or b is None:
        return None
    x, y = np.frombuffer(a, "<i4"), np.frombuffer(b, "<i4")
    m = min(len(x), len(y))
    diff = np.flatnonzero(x[:m] != y[:m])
    return int(diff[0]) if len(diff) else m


def _prompts(t0: pa.Table, t1: pa.Table, ids: list[str]) -> tuple[str, int, list[dict], dict] | None:
    """(source, mismatches, examples, problems whose prompt varies within each model)."""
    both = pa.concat_tables([t0, t1])
    got = prompt_keys(both)
    if got is None:
        return None
    source, keys = got
    ids_b = list_bytes(both, "prompt_ids") if source == "prompt_ids" else [None] * both.num_rows
    sets: list[dict[str, dict]] = []
    first: list[dict[str, int]] = []
    for off, tab in ((0, t0), (t0.num_rows, t1)):
        rows = by_problem(tab)
        sets.append({p: {keys[off + i] for i in r} - {None} for p, r in rows.items()})
        first.append({p: off + r[0] for p, r in rows.items()})
    varies = {"base": sum(len(s) > 1 for s in sets[0].values()), "tuned": sum(len(s) > 1 for s in sets[1].values())}
    mism, examples = 0, []
    for p in ids:
        h0, h1 = sets[0].get(p, set()), sets[1].get(p, set())
        if not h0 or not h1 or h0 == h1:
            continue
        mism += 1
        if len(examples) < N_EXAMPLES:
            a, b = ids_b[first[0][p]], ids_b[first[1][p]]
            examples.append({"problem_id": p, "base_hashes": sorted(h[:16] for h in h0),
                             "tuned_hashes": sorted(h[:16] for h in h1),
                             "base_prompt_tokens": None if a is None else len(a) // 4,
                             "tuned_prompt_tokens": None if b is None else len(b) // 4,
                             "first_differing_token": _first_difference(a, b)})
    return source, mism, examples, varies


# ---------------------------------------------------------------------------------------------
# entry points


def _references(t0: pa.Table, t1: pa.Table, ids: list[str]) -> tuple[int, list[dict]] | None:
    """(problems whose base and tuned ``reference`` sets differ, examples); None without the column."""
    if "reference" not in t0.column_names or "reference" not in t1.column_names:
        return None
    sets = []
    for t in (t0, t1):
        refs: dict[str, set[str]] = {}
        for p, a in zip(pc.cast(t["problem_id"], pa.string()).to_pylist(), pc.cast(t["reference"], pa.string()).to_pylist()):
            if a is not None and a.strip():
                refs.setdefault(p, set()).add(a.strip())
        sets.append(refs)
    bad = [p for p in ids if sets[0].get(p) and sets[1].get(p) and sets[0][p] != sets[1][p]]
    return len(bad), [{"problem_id": p, "base_references": sorted(r[:80] for r in sets[0][p]),
                       "tuned_references": sorted(r[:80] for r in sets[1][p])} for p in bad[:N_EXAMPLES]]


def _model(samples: pa.Table, name: str) -> pa.Table:
    t = samples.filter(pc.equal(pc.cast(samples["model"], pa.string()), name))
    if t.num_rows == 0:
        raise ValueError(f"no samples of model {name!r} (models: {sorted(set(samples['model'].to_pylist()))})")
    return t


def _flag_lines(dups: dict | None, flips: list[dict], prompt, refs) -> list[str]:
    out = []
    for m, d in (dups or {}).items():
        if d and d["problems_flagged"]:
            out.append(f"duplicates: {m}: {d['problems_flagged']} problems with identical completions under a "
                       f"reused seed beyond what their completion frequencies predict")
    flagged = sum(f["flagged"] for f in flips)
    if flagged:
        out.append(f"truncation: {flagged} created/lost labels change without truncated samples, truncated unequally "
                   "in base and tuned")
    if prompt is not None and prompt[1]:
        out.append(f"prompt: {prompt[1]} problems whose base and tuned prompts differ ({prompt[0]})")
    if refs is not None and refs[0]:
        out.append(f"reference: {refs[0]} problems graded against different reference answers for base and tuned")
    return out


def provenance(samples: pa.Table, *, base: str, tuned: str, K: int, basin_budget: int, zeta: float,
               alpha: float, anytime: bool = False) -> Provenance:
    """The three provenance checks of the module docstring on the samples of ``base`` and ``tuned``.

    Args:
        samples: per-sample rows of both models (``problem_id``, ``model``; ``completion`` or
            ``token_ids``, ``seed``, ``sample_idx``, ``finish_reason``, ``correct``, ``prompt_ids`` /
            ``prompt_hash`` / ``prompt``, ``reference`` as available), e.g. ``RunStore.read("samples")``
            or ``supportscope grade``'s output.
        base, tuned: the two values of ``model``.
        K, basin_budget, zeta, alpha, anytime: the analysis' settings (summary.json's ``budget``);
            alpha is also the level of the duplicate screen.

    Raises:
        ValueError: a column or a model's samples are missing.
    """
    for col in ("problem_id", "model"):
        if col not in samples.column_names:
            raise ValueError(f"the samples have no column {col!r} (found {samples.column_names})")
    t0, t1 = _model(samples, base), _model(samples, tuned)
    notes = []
    dups = {base: duplicates(t0, alpha), tuned: duplicates(t1, alpha)}
    if all(d is None for d in dups.values()):
        dups = None
        notes.append("no completion or token_ids column: duplicates not checked")
    in0 = set(pc.cast(t0["problem_id"], pa.string()).to_pylist())
    ids = [p for p in dict.fromkeys(pc.cast(t1["problem_id"], pa.string()).to_pylist()) if p in in0]
    ids.sort()
    trunc, flips = None, []
    if "finish_reason" not in samples.column_names or "correct" not in samples.column_names:
        notes.append("no finish_reason or correct column: truncation not checked")
    elif not ids:
        notes.append("no problem has samples of both models: truncation not relabelled")
    else:
        k0, k1 = _counts(t0, ids), _counts(t1, ids)
        trunc = {base: _truncation_stats(k0), tuned: _truncation_stats(k1)}
        settings = {"K": int(K), "basin_budget": int(basin_budget), "zeta": float(zeta), "alpha": float(alpha),
                    "anytime": bool(anytime)}
        flips = truncation_flips(ids, k0, k1, settings)
    prompt, refs = _prompts(t0, t1, ids), _references(t0, t1, ids)
    if prompt is None:
        notes.append("no prompt_ids, prompt_hash or prompt column: prompt mismatch not checked")
    return Provenance(base=base, tuned=tuned, duplicates=dups, truncation=trunc,
                      label_flips_without_truncated=flips,
                      prompt_mismatch=None if prompt is None else prompt[1],
                      prompt_mismatch_examples=[] if prompt is None else prompt[2],
                      prompt_source=None if prompt is None else prompt[0],
                      prompt_varies_within_model=None if prompt is None else prompt[3],
                      reference_mismatch=None if refs is None else refs[0],
                      reference_mismatch_examples=[] if refs is None else refs[1],
                      flagged=_flag_lines(dups, flips, prompt, refs), notes=notes)


def provenance_from_summary(samples: pa.Table, summary: Mapping) -> Provenance:
    """:func:`provenance` with the models and settings of an analysis' ``summary`` (summary.json:
    ``base``, ``tuned`` and the ``budget`` block's ``K``, ``basin_budget``, ``zeta``, ``alpha``, ``intervals``)."""
    bud = summary["budget"]
    return provenance(samples, base=str(summary["base"]), tuned=str(summary["tuned"]), K=int(bud["K"]),
                      basin_budget=int(bud["basin_budget"]), zeta=float(bud["zeta"]), alpha=float(bud["alpha"]),
                      anytime="anytime" in str(bud.get("intervals", "")))
