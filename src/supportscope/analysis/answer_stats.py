"""Answer-level statistics per problem and model (issue 18): distinct answers, answer entropy,
maj@k beside pass@k, and the guessing baseline with its "guessable" flag.

Input: per-sample rows ``problem_id, model, sample_idx, answer, correct``. The answer comes from,
in order: an ``answer`` column (``supportscope grade`` writes one), lm-eval's ``filtered_resps``
(first element when a list), or ``completion`` through ``tasks.extract.extract_answer``. Answers
are compared as strings after stripping surrounding whitespace (normalise equivalent forms such
as "0.5" and "1/2" before, e.g. with the grader); an empty string is a missing answer.

Choices (formulas in ``stats.answers``):

* **Missing answers** form one category, "no answer". It counts in the entropy and can win the
  majority vote (as lm-eval's "[invalid]" does): a model that mostly fails to answer gets no
  maj@k credit from one lucky answer. ``distinct`` counts distinct non-missing answers only;
  ``no_answer`` gives the number of missing ones.
* **Category value** v_j = fraction of the category's samples graded correct (0/1 when the
  grader is consistent per answer string); maj@k averages v over the plurality, ties uniform.
* **Chance baseline** q_i for problem i and model M: the hit set H_i = {reference_i} (when a
  reference is given) plus every answer graded correct on problem i (by any model; v_j >= 1/2),
  and q_i = the share of M's answered samples on the *other* problems whose answer lies in H_i
  (leave-one-out pooled answer distribution; missing answers left out, which makes q larger and
  the baseline conservative). No reference and no correct answer: q = NaN (unknown, not
  tested). chance pass@k = 1 - (1 - q)^k.
* **guessable**: the one-sided exact binomial test of c successes in n against q (one test for
  every k, see ``stats.answers.GuessTest``), Benjamini-Hochberg at level alpha across the
  problems of each model separately; guessable = q > 0 and not rejected. The set-level claim
  is "``n_guessable(model)`` problems are not shown to beat guessing", with the FDR of the
  complementary "above guessing" claims <= alpha.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from supportscope.stats.answers import (
    answer_entropy,
    chance_pass_at_k,
    guess_test,
    maj_at_k,
)
from supportscope.stats.passk import passk_at

REQUIRED = ("problem_id", "model", "sample_idx", "correct")


@dataclass(frozen=True, eq=False)
class AnswerStats:
    """Per (model, problem) answer statistics; every array has one entry (row) per pair."""

    problem_id: np.ndarray  #: [R] str
    model: np.ndarray  #: [R] str
    n: np.ndarray  #: [R] samples
    correct: np.ndarray  #: [R] samples graded correct (c)
    no_answer: np.ndarray  #: [R] samples without an answer
    distinct: np.ndarray  #: [R] distinct non-missing answers
    entropy: np.ndarray  #: [R] plug-in answer entropy, nats ("no answer" is a category)
    entropy_mm: np.ndarray  #: [R] Miller-Madow corrected entropy, nats
    ks: tuple[int, ...]
    pass_at_k: np.ndarray  #: [R, len(ks)] unbiased pass@k (NaN where k > n)
    maj_at_k: np.ndarray  #: [R, len(ks)] unbiased maj@k (NaN where k > n)
    chance_q: np.ndarray  #: [R] leave-one-out guessing hit rate (NaN: unknown)
    chance_pass_at_k: np.ndarray  #: [R, len(ks)] 1 - (1 - q)^k
    guess_pvalue: np.ndarray  #: [R] P(Binom(n, q) >= c)
    guess_p_adjusted: np.ndarray  #: [R] BH-adjusted within the model
    guessable: np.ndarray  #: [R] bool
    alpha: float

    def n_guessable(self) -> dict[str, int]:
        """Problems marked guessable, per model."""
        return {str(m): int(self.guessable[self.model == m].sum()) for m in np.unique(self.model)}

    def to_table(self) -> pa.Table:
        """One row per (model, problem); k-dependent columns named ``pass_at_{k}``, ``maj_at_{k}``,
        ``chance_pass_at_{k}``."""
        cols: dict[str, pa.Array] = {
            "problem_id": pa.array(self.problem_id.tolist(), pa.string()),
            "model": pa.array(self.model.tolist(), pa.string()),
            "n": pa.array(self.n, pa.int64()),
            "correct": pa.array(self.correct, pa.int64()),
            "no_answer": pa.array(self.no_answer, pa.int64()),
            "distinct": pa.array(self.distinct, pa.int64()),
            "entropy": pa.array(self.entropy, pa.float64()),
            "entropy_mm": pa.array(self.entropy_mm, pa.float64()),
        }
        for name, arr in (("pass_at", self.pass_at_k), ("maj_at", self.maj_at_k),
                          ("chance_pass_at", self.chance_pass_at_k)):
            for j, k in enumerate(self.ks):
                cols[f"{name}_{k}"] = pa.array(arr[:, j], pa.float64())
        cols["chance_q"] = pa.array(self.chance_q, pa.float64())
        cols["guess_pvalue"] = pa.array(self.guess_pvalue, pa.float64())
        cols["guess_p_adjusted"] = pa.array(self.guess_p_adjusted, pa.float64())
        cols["guessable"] = pa.array(self.guessable, pa.bool_())
        return pa.table(cols)


def _clean(a: str | None) -> str | None:
    if a is None:
        return None
    a = str(a).strip()
    return a or None


def answers_of(samples: pa.Table) -> list[str | None]:
    """Each row's final answer: ``answer``, else lm-eval ``filtered_resps``, else extracted from
    ``completion`` (``tasks.extract.extract_answer``); stripped, "" -> None."""
    names = set(samples.column_names)
    if "answer" in names:
        raw = samples.column("answer").to_pylist()
    elif "filtered_resps" in names:
        raw = [r[0] if isinstance(r, (list, tuple)) and r else (None if isinstance(r, (list, tuple)) else r)
               for r in samples.column("filtered_resps").to_pylist()]
    elif "completion" in names:
        from supportscope.tasks.extract import extract_answer

        raw = [extract_answer(c) for c in samples.column("completion").to_pylist()]
    else:
        raise ValueError("samples need an 'answer', 'filtered_resps' or 'completion' column to take answers from")
    return [_clean(None if a is None else str(a)) for a in raw]


def _codes(values: list) -> tuple[np.ndarray, list]:
    """Integer codes of ``values`` (None -> -1) and the list of distinct non-None values."""
    uniq = sorted({v for v in values if v is not None})
    index = {v: i for i, v in enumerate(uniq)}
    return np.array([-1 if v is None else index[v] for v in values], dtype=np.int64), uniq


def _check(samples: pa.Table) -> None:
    if samples.num_rows == 0:
        raise ValueError("samples is empty: answer statistics need at least one sample")
    missing = [c for c in REQUIRED if c not in samples.column_names]
    if missing:
        raise ValueError(f"samples lack column(s) {missing}; need {list(REQUIRED)} and an answer column")
    if samples.column("correct").null_count:
        raise ValueError("samples: 'correct' has nulls; grade every sample first")
    keys = pa.table({c: samples.column(c).cast(pa.string()) for c in ("problem_id", "model", "sample_idx")})
    if keys.group_by(["problem_id", "model", "sample_idx"]).aggregate([]).num_rows != keys.num_rows:
        raise ValueError("samples: a (problem_id, model, sample_idx) appears twice; drop duplicate samples")


def _categories(row: np.ndarray, ans: np.ndarray, ok: np.ndarray, n_rows: int):
    """Padded [R, J] category counts, values and answer codes (-1: no answer, -2: padding)."""
    key, inv = np.unique(np.stack([row, ans]), axis=1, return_inverse=True)
    inv = inv.reshape(-1)
    cnt = np.bincount(inv)
    val = np.bincount(inv, weights=ok) / cnt
    crow, cans = key[0], key[1]
    start = np.searchsorted(crow, np.arange(n_rows))
    slot = np.arange(crow.size) - start[crow]
    width = int(slot.max()) + 1
    counts = np.zeros((n_rows, width), dtype=np.int64)
    values = np.zeros((n_rows, width))
    codes = np.full((n_rows, width), -2, dtype=np.int64)
    counts[crow, slot], values[crow, slot], codes[crow, slot] = cnt, val, cans
    return counts, values, codes


def _chance_q(codes, counts, values, row_model, row_prob, uniq, reference, prob_names) -> np.ndarray:
    """Leave-one-out pooled hit rate of each (model, problem) row (see the module docstring)."""
    n_prob, n_mod = len(prob_names), int(row_model.max()) + 1
    hits: list[set[int]] = [set() for _ in range(n_prob)]
    if reference is not None:
        index = {v: i for i, v in enumerate(uniq)}
        refs = {str(key): val for key, val in reference.items()}
        for p, name in enumerate(prob_names):
            ref = _clean(None if refs.get(name) is None else str(refs[name]))
            if ref is not None:
                hits[p].add(index.get(ref, -3))  # -3: never answered by anyone, counts 0
    good = (values >= 0.5) & (codes >= 0)
    for r, j in zip(*np.nonzero(good)):
        hits[row_prob[r]].add(int(codes[r, j]))
    answered = np.where(codes >= 0, counts, 0)
    pooled: list[dict[int, int]] = [{} for _ in range(n_mod)]
    for r, j in zip(*np.nonzero(answered)):
        d = pooled[row_model[r]]
        d[int(codes[r, j])] = d.get(int(codes[r, j]), 0) + int(answered[r, j])
    total_m = np.bincount(row_model, weights=answered.sum(axis=1), minlength=n_mod)
    q = np.full(row_model.size, np.nan)
    for r in range(row_model.size):
        h = hits[row_prob[r]]
        denom = total_m[row_model[r]] - answered[r].sum()
        if not h or denom <= 0:
            continue
        own = dict(zip(codes[r].tolist(), answered[r].tolist()))
        num = sum(pooled[row_model[r]].get(a, 0) - own.get(a, 0) for a in h)
        q[r] = num / denom
    return q


_MAJ_MEMO: "OrderedDict[str, np.ndarray]" = OrderedDict()
_MAJ_MEMO_SIZE = 64


def _maj_by_model(counts: np.ndarray, values: np.ndarray, ks: tuple[int, ...], row_model: np.ndarray) -> np.ndarray:
    """``stats.answers.maj_at_k`` of each model's rows, remembered by content for this process.

    maj@k is a function of each row's multiset of (count, value) pairs, so each row's categories are
    put in a canonical order (count descending, then value) and the empty ones dropped; that array is
    what is computed and hashed (SHA-256). An analysis of many pairs (the demo: one base against
    every variant) computes each model's maj@k once instead of once per pair, with the same result."""
    out = np.full((counts.shape[0], len(ks)), np.nan)
    for m in np.unique(row_model):
        sel = np.flatnonzero(row_model == m)
        c, v = counts[sel], np.where(counts[sel] > 0, values[sel], 0.0)
        order = np.lexsort((v, -c))  # per row: count descending, then value
        c, v = np.take_along_axis(c, order, axis=1), np.take_along_axis(v, order, axis=1)
        width = max(1, int((c > 0).sum(axis=1).max(initial=0)))
        c, v = np.ascontiguousarray(c[:, :width], dtype=np.int64), np.ascontiguousarray(v[:, :width])
        key = hashlib.sha256(repr((c.shape, ks)).encode() + c.tobytes() + v.tobytes()).hexdigest()
        if key not in _MAJ_MEMO:
            _MAJ_MEMO[key] = maj_at_k(c, v, ks)
            while len(_MAJ_MEMO) > _MAJ_MEMO_SIZE:
                _MAJ_MEMO.popitem(last=False)
        _MAJ_MEMO.move_to_end(key)
        out[sel] = _MAJ_MEMO[key]
    return out


def answer_stats(samples: pa.Table, *, reference: Mapping[str, str] | None = None,
                 k: Sequence[int] = (1,), alpha: float = 0.05) -> AnswerStats:
    """Answer statistics of every (model, problem) in ``samples`` (see the module docstring).

    Args:
        samples: per-sample rows ``problem_id, model, sample_idx, correct`` and an answer column
            (``answer`` str or null; or ``filtered_resps``; or ``completion``).
        reference: problem_id -> reference answer (str); adds to the answers graded correct in
            the hit set of the chance baseline. None: the graded-correct answers alone.
        k: budgets for pass@k, maj@k and chance pass@k.
        alpha: BH level of the guessable test (per model).

    Returns:
        :class:`AnswerStats`, rows sorted by model then problem_id.
    """
    _check(samples)
    ks = tuple(int(x) for x in k)
    if not ks or min(ks) < 1:
        raise ValueError(f"k must list budgets >= 1, got {list(k)}")
    answers = answers_of(samples)
    ans, uniq = _codes(answers)
    prob, prob_names = _codes([str(p) for p in samples.column("problem_id").to_pylist()])
    mod, mod_names = _codes([str(m) for m in samples.column("model").to_pylist()])
    ok = np.asarray(pc.cast(samples.column("correct"), pa.float64()).to_numpy(zero_copy_only=False))
    pair, row = np.unique(mod * len(prob_names) + prob, return_inverse=True)
    row = row.reshape(-1)
    row_model, row_prob = pair // len(prob_names), pair % len(prob_names)
    counts, values, codes = _categories(row, ans, ok, pair.size)
    n = counts.sum(axis=1)
    c = np.rint(np.bincount(row, weights=ok, minlength=pair.size)).astype(np.int64)
    entropy, entropy_mm = answer_entropy(counts)
    q = _chance_q(codes, counts, values, row_model, row_prob, uniq, reference, prob_names)
    pvalue, p_adj = np.full(pair.size, np.nan), np.full(pair.size, np.nan)
    guessable = np.zeros(pair.size, dtype=bool)
    for m in range(len(mod_names)):
        sel = row_model == m
        t = guess_test(c[sel], n[sel], q[sel], alpha)
        pvalue[sel], p_adj[sel], guessable[sel] = t.pvalue, t.p_adjusted, t.guessable
    return AnswerStats(
        problem_id=np.asarray(prob_names, dtype=object)[row_prob],
        model=np.asarray(mod_names, dtype=object)[row_model],
        n=n, correct=c, no_answer=np.where(codes == -1, counts, 0).sum(axis=1),
        distinct=((codes >= 0) & (counts > 0)).sum(axis=1),
        entropy=entropy, entropy_mm=entropy_mm, ks=ks,
        pass_at_k=passk_at(c, n, ks), maj_at_k=_maj_by_model(counts, values, ks, row_model),
        chance_q=q, chance_pass_at_k=chance_pass_at_k(q, ks),
        guess_pvalue=pvalue, guess_p_adjusted=p_adj, guessable=guessable, alpha=float(alpha))
