"""Per-problem regimes of one policy: basin, tail, barrier, singular (DESIGN.md section 2).

With eps(k) = 1 - zeta^(1/k), basin budget k_b and audit budget K >= k_b, and the
Clopper & Pearson (1934) interval [L, U] from c successes in n samples:

    basin         L >= eps(k_b)
    tail          L >= eps(K) and U < eps(k_b)
    inaccessible  U < eps(K)   -> barrier when p > 0 is certified, singular when p = 0 is known
    undetermined  otherwise, with the regimes still possible and the samples needed to decide.

``interval="cs"`` replaces [L, U] by the anytime-valid confidence sequence of
``stats.sequences.confidence_sequence`` (for runs whose sample counts were chosen by looking at the
data, i.e. adaptive sampling) and the samples needed by ``stats.sequences.samples_to_close``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_budgets, as_counts, check_level
from .bounds import _cp, eps, n_to_decide

INTERVALS = ("cp", "cs")


def _bounds(c: np.ndarray, n: np.ndarray, alpha: float, interval: str) -> tuple[np.ndarray, np.ndarray]:
    """Clopper-Pearson ("cp") or anytime-valid confidence-sequence ("cs") bounds."""
    if interval == "cp":
        return _cp(c.astype(np.float64), n.astype(np.float64), alpha)
    if interval == "cs":
        from .sequences import confidence_sequence

        lo, hi = confidence_sequence(c, n, alpha)
        return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    raise ValueError(f"interval must be one of {INTERVALS}, got {interval!r}")

BASIN = "basin"
TAIL = "tail"
BARRIER = "barrier"
SINGULAR = "singular"
INACCESSIBLE = "inaccessible"
UNDETERMINED = "undetermined"
#: Every value a regime column takes, in the order tables and plots show them: the four regimes
#: of a determined problem, then "inaccessible" (certified p < eps(K) but not which of barrier or
#: singular) and "undetermined" (the interval straddles a threshold).
REGIMES = (BASIN, TAIL, BARRIER, SINGULAR, INACCESSIBLE, UNDETERMINED)


def accessibility(c, n, budget, zeta: float = 0.05, alpha: float = 0.05, interval: str = "cp") -> np.ndarray:
    """Certified accessibility at a budget: 1 accessible, 0 inaccessible, -1 undetermined (int8).

    1 if L >= eps(budget), 0 if U < eps(budget), else -1, where [L, U] is the Clopper & Pearson
    (1934) interval at level 1 - alpha (or the confidence sequence with ``interval="cs"``) and
    eps(k) = 1 - zeta^(1/k) (DESIGN.md section 2): a problem is accessible at budget k when k
    samples find a success with probability >= 1 - zeta.
    """
    alpha = check_level(alpha, "alpha")
    c, n = as_counts(c, n)
    e = eps(budget, zeta)
    lo, hi = _bounds(c, n, alpha, interval)
    out = np.where(lo >= e, 1, np.where(hi < e, 0, -1)).astype(np.int8)
    return out


@dataclass(frozen=True, eq=False)
class RegimeResult:
    """Per-problem regimes (arrays of one entry per problem), see :func:`classify`.

    regime: object array of str (basin/tail/barrier/singular/inaccessible/undetermined).
    possible: regimes still possible joined by "|" in the order basin|tail|inaccessible (the last
        written barrier when p > 0 is certified); the regime itself when decided.
    accessible: int8, 1/0/-1 as in :func:`accessibility` at the audit budget (0 where
        ``singular`` is flagged).
    lo, hi: Clopper-Pearson bounds (confidence-sequence bounds with ``interval="cs"``).
    n_needed: float, total samples that would decide the regime at the observed rate
        (0 when decided, inf when the rate sits on a threshold).
    """

    regime: np.ndarray
    possible: np.ndarray
    accessible: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    n_needed: np.ndarray


def _optional(x, shape, name, dtype):
    if x is None:
        return None
    a = np.asarray(x, dtype=dtype)
    try:
        return np.broadcast_to(a, shape)
    except ValueError:
        raise ValueError(f"{name} must have one entry per problem, shape {shape}, got {a.shape}") from None


def classify(
    c,
    n,
    budget: int,
    basin_budget: int = 8,
    zeta: float = 0.05,
    alpha: float = 0.05,
    p_lower=None,
    singular=None,
    interval: str = "cp",
) -> RegimeResult:
    """Certified regime of each problem (DESIGN.md section 2).

    With [L, U] the Clopper & Pearson (1934) interval of c/n at level 1 - alpha and
    eps(k) = 1 - zeta^(1/k): basin if L >= eps(basin_budget); tail if L >= eps(budget) and
    U < eps(basin_budget); inaccessible if U < eps(budget), refined to barrier when p > 0 is
    certified (c > 0, or ``p_lower[i] > 0`` from a teacher-forced verified solution:
    p >= pi_D(y*|x)); otherwise undetermined. ``singular[i] = True`` states exact knowledge that
    p = 0 (every solution scores 0 under pi_D): the regime is then singular whenever the samples
    agree (c = 0); it contradicts c > 0 or p_lower > 0 (ValueError).

    Args:
        c, n: successes and samples per problem, shape [Q].
        budget: audit budget K (>= basin_budget).
        basin_budget: small budget k_b.
        p_lower: optional [Q] certified lower bounds on p (0 where none).
        singular: optional [Q] bool, True where p = 0 is known exactly.
        interval: "cp" (Clopper-Pearson, fixed n) or "cs" (anytime-valid confidence sequence, for
            adaptively sampled counts; n_needed then from ``sequences.samples_to_close``).
    """
    alpha = check_level(alpha, "alpha")
    c, n = as_counts(c, n)
    budget, basin_budget = as_budgets(budget, basin_budget)
    shape = c.shape
    e_b = float(eps(basin_budget, zeta))
    e_k = float(eps(budget, zeta))
    lo, hi = _bounds(c, n, alpha, interval)

    pos_known = c > 0
    pl = _optional(p_lower, shape, "p_lower", np.float64)
    if pl is not None:
        if not np.all((pl >= 0) & (pl <= 1)):
            raise ValueError("p_lower must be probabilities in [0, 1] (0 where no bound is known)")
        pos_known = pos_known | (pl > 0)
    sing = _optional(singular, shape, "singular", bool)
    if sing is None:
        sing = np.zeros(shape, dtype=bool)
    clash = sing & pos_known
    if clash.any():
        i = np.argwhere(clash)[0]
        raise ValueError(
            f"singular is True for problem {tuple(int(j) for j in i)} but p > 0 is certified there "
            "(c > 0 or p_lower > 0); a problem cannot be both"
        )

    can_basin = hi >= e_b
    can_tail = (hi >= e_k) & (lo < e_b) & (e_k < e_b)
    can_inacc = lo < e_k
    inacc_name = np.where(pos_known, BARRIER, INACCESSIBLE).astype(object)

    regime = np.full(shape, UNDETERMINED, dtype=object)
    regime[lo >= e_b] = BASIN
    regime[(lo >= e_k) & (hi < e_b)] = TAIL
    is_inacc = hi < e_k
    regime[is_inacc] = inacc_name[is_inacc]
    regime[sing] = SINGULAR

    possible = np.full(shape, "", dtype=object)
    for flag, name in ((can_basin, BASIN), (can_tail, TAIL), (can_inacc, inacc_name)):
        sep = np.where(possible == "", "", "|").astype(object)
        possible = np.where(flag, possible + sep + name, possible)
    possible = np.where(regime == UNDETERMINED, possible, regime).astype(object)

    if interval == "cs":
        from .sequences import samples_to_close

        n_needed = np.where(regime == UNDETERMINED,
                            samples_to_close(c, n, budget, basin_budget, zeta, alpha), 0.0)
    else:
        need_b = n_to_decide(c, n, e_b, alpha)
        need_k = n_to_decide(c, n, e_k, alpha)
        n_needed = np.where(regime == UNDETERMINED, np.maximum(need_b, need_k), 0.0)

    acc = np.where(lo >= e_k, 1, np.where(hi < e_k, 0, -1)).astype(np.int8)
    acc[sing] = 0  # p = 0 known exactly: inaccessible at every budget
    return RegimeResult(
        regime=regime,
        possible=possible,
        accessible=acc,
        lo=np.asarray(lo, dtype=np.float64),
        hi=np.asarray(hi, dtype=np.float64),
        n_needed=np.asarray(n_needed, dtype=np.float64),
    )
