"""Support overlap at k = n and the metrics of "The Invisible Leash" (DESIGN.md section 3).

Wu et al. 2025, "The Invisible Leash: Why RLVR May Not Escape Its Origin" (arXiv 2507.14843).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_int_array


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
