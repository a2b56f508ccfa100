"""Support overlap (Venn sets) and the metrics of "The Invisible Leash" (DESIGN.md section 3).

Wu et al. 2025, "The Invisible Leash: Why RLVR May Not Escape Its Origin" (arXiv 2507.14843).
:func:`venn` takes the sets at k = n ("solved" = some success among all samples); :func:`venn_at_k`
takes them at one common budget k for both models, as expected counts from the unbiased pass@k, so
that models sampled with different n are compared at the same budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_counts, as_int_array
from .passk import passk_at


@dataclass(frozen=True, eq=False)
class Venn:
    """Problems solved (some success among all samples, i.e. at k = n) by base and/or tuned."""

    both: int
    base_only: int
    tuned_only: int
    neither: int
    base_only_idx: np.ndarray
    tuned_only_idx: np.ndarray
    neither_idx: np.ndarray


def venn(c_base, c_tuned) -> Venn:
    """Venn sets at k = n: problem i is solved by a model when its success count c_i > 0.

    both = #{c_base > 0 and c_tuned > 0}, base_only = shrunk S, tuned_only = expanded E,
    both = preserved P in Wu et al. 2025 ("The Invisible Leash", arXiv 2507.14843).
    """
    cb = np.atleast_1d(as_int_array(c_base, "c_base", minimum=0))
    ct = np.atleast_1d(as_int_array(c_tuned, "c_tuned", minimum=0))
    if cb.shape != ct.shape or cb.ndim != 1:
        raise ValueError(
            f"c_base and c_tuned must be 1-D with one entry per problem, got {cb.shape} and {ct.shape}"
        )
    sb, st = cb > 0, ct > 0
    return Venn(
        both=int(np.count_nonzero(sb & st)),
        base_only=int(np.count_nonzero(sb & ~st)),
        tuned_only=int(np.count_nonzero(~sb & st)),
        neither=int(np.count_nonzero(~sb & ~st)),
        base_only_idx=np.flatnonzero(sb & ~st),
        tuned_only_idx=np.flatnonzero(~sb & st),
        neither_idx=np.flatnonzero(~sb & ~st),
    )


@dataclass(frozen=True, eq=False)
class VennAtK:
    """Venn sets at one common budget k: expected counts of problems solved within k samples.

    ``both``/``base_only``/``tuned_only``/``neither`` are sums of the per-problem membership
    probabilities ``p_both``... (floats; whole numbers when ``expected`` is False, i.e. k = n_i for
    every problem and model, where they equal :func:`venn`'s counts). The ``*_idx`` arrays list the
    problems whose membership probability exceeds 1/2 (with expected sets a problem may be in no
    list, and the list lengths need not add up to the counts).
    """

    k: int
    expected: bool
    both: float
    base_only: float
    tuned_only: float
    neither: float
    p_both: np.ndarray
    p_base_only: np.ndarray
    p_tuned_only: np.ndarray
    p_neither: np.ndarray
    base_only_idx: np.ndarray
    tuned_only_idx: np.ndarray
    neither_idx: np.ndarray


def common_budget(n_base, n_tuned) -> int:
    """The common budget k = min_i min(n_base_i, n_tuned_i) (DESIGN.md section 3)."""
    nb = np.atleast_1d(as_int_array(n_base, "n_base", minimum=1))
    nt = np.atleast_1d(as_int_array(n_tuned, "n_tuned", minimum=1))
    if nb.size == 0 or nt.size == 0:
        raise ValueError("n_base and n_tuned need at least one problem")
    return int(min(nb.min(), nt.min()))


def venn_at_k(c_base, n_base, c_tuned, n_tuned, k: int | None = None) -> VennAtK:
    """Expected Venn sets at one common budget k, from per-problem unbiased pass@k.

    With a_i = pass@k of the base and b_i = pass@k of the tuned model on problem i, the unbiased
    estimator pass@k = 1 - C(n-c, k)/C(n, k) (Chen et al. 2021, arXiv 2107.03374; ``passk_at``)
    of the probability that k samples contain a success, and the two models sampled independently:

        P = sum_i a_i b_i             preserved (both solve within k)
        S = sum_i a_i (1 - b_i)       shrunk (base only)
        E = sum_i (1 - a_i) b_i       expanded (tuned only)
        neither = sum_i (1 - a_i)(1 - b_i),

    the expected sizes of the Venn sets of Wu et al. 2025 ("The Invisible Leash", arXiv 2507.14843)
    had each model drawn k samples per problem. They are unbiased for the sets at budget k: a_i b_i
    is unbiased for pass@k(base) pass@k(tuned) since the samples of the two models are independent.
    When k = n_i for both models on every problem, a_i = 1{c_base_i > 0} and b_i = 1{c_tuned_i > 0}
    exactly, and the sets are :func:`venn`'s 0/1 sets.

    Args:
        c_base, n_base, c_tuned, n_tuned: successes and samples per problem, shape [Q] (n may be
            scalars); 0 <= c <= n.
        k: the common budget, 1 <= k <= min(n); defaults to :func:`common_budget` (min over all
            problems and both models). Taking each model at its own n would compare different
            budgets: more samples find more rare successes.

    Returns:
        :class:`VennAtK`; ``expected`` is True when some n_i > k (then counts are expected counts).
    """
    cb, nb = as_counts(c_base, n_base, "c_base", "n_base")
    ct, nt = as_counts(c_tuned, n_tuned, "c_tuned", "n_tuned")
    cb, nb, ct, nt = (np.atleast_1d(x) for x in (cb, nb, ct, nt))
    if cb.shape != ct.shape or cb.ndim != 1:
        raise ValueError(
            f"c_base and c_tuned must be 1-D with one entry per problem, got {cb.shape} and {ct.shape}"
        )
    kmax = common_budget(nb, nt)
    k = kmax if k is None else int(as_int_array(k, "k", minimum=1))
    if k > kmax:
        raise ValueError(f"k = {k} exceeds the smallest sample count min(n) = {kmax}")
    a = passk_at(cb, nb, [k])[:, 0]
    b = passk_at(ct, nt, [k])[:, 0]
    expected = bool((nb > k).any() or (nt > k).any())
    p_both, p_s, p_e, p_ne = a * b, a * (1.0 - b), (1.0 - a) * b, (1.0 - a) * (1.0 - b)
    counts = [float(x.sum()) for x in (p_both, p_s, p_e, p_ne)]
    if not expected:  # 0/1 memberships: whole numbers, as venn()
        counts = [int(round(x)) for x in counts]
    return VennAtK(
        k=k, expected=expected,
        both=counts[0], base_only=counts[1], tuned_only=counts[2], neither=counts[3],
        p_both=p_both, p_base_only=p_s, p_tuned_only=p_e, p_neither=p_ne,
        base_only_idx=np.flatnonzero(p_s > 0.5),
        tuned_only_idx=np.flatnonzero(p_e > 0.5),
        neither_idx=np.flatnonzero(p_ne > 0.5),
    )


def _ratio(num, den):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)


def leash_metrics(preserved, expanded, shrunk) -> dict:
    """Support metrics of Wu et al. 2025 ("The Invisible Leash", arXiv 2507.14843).

    With P preserved (both solve), E expanded (tuned only), S shrunk (base only):
        SRR  = P / (P + S)               support retention rate
        NDR  = E / (P + E)               net discovery rate
        NSCR = (E - S) / (P + E + S)     net support change rate
        SDS  = 2 SRR NDR / (SRR + NDR)   support dynamic score (harmonic mean; 0 when both are 0)
    0/0 gives NaN. Counts may be arrays (e.g. bootstrap replicates): metrics are elementwise.

    Returns:
        dict with keys "SRR", "NDR", "NSCR", "SDS" (floats, or arrays for array input).
    """
    p, e, s = (np.asarray(x, dtype=np.float64) for x in (preserved, expanded, shrunk))
    for name, x in (("preserved", p), ("expanded", e), ("shrunk", s)):
        if (x < 0).any() or np.isnan(x).any():
            raise ValueError(f"{name} must be non-negative counts")
    srr = _ratio(p, p + s)
    ndr = _ratio(e, p + e)
    nscr = _ratio(e - s, p + e + s)
    both_zero = (srr == 0) & (ndr == 0)
    sds = np.where(both_zero, 0.0, _ratio(2.0 * srr * ndr, srr + ndr))
    out = {"SRR": srr, "NDR": ndr, "NSCR": nscr, "SDS": sds}
    return {k: (v[()] if v.ndim == 0 else v) for k, v in out.items()}
