"""Argument checks shared by the stats modules (private).

Each helper turns array-likes into numpy arrays and raises ``ValueError`` with a message that
names the argument and the first offending entry, so a user can find the bad row.
"""

from __future__ import annotations

import numpy as np


def _first_bad(mask: np.ndarray) -> str:
    """Index of the first True entry of ``mask`` as text ("" for a 0-d mask)."""
    if mask.ndim == 0:
        return ""
    idx = np.argwhere(mask)[0]
    return f" at index {tuple(int(i) for i in idx) if idx.size > 1 else int(idx[0])}"


def as_int_array(x, name: str, minimum: int | None = None) -> np.ndarray:
    """``x`` as an int64 array; ValueError if it has NaN/inf, non-integers or entries < minimum."""
    a = np.asarray(x)
    if a.dtype == bool:
        a = a.astype(np.int64)
    if not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.complexfloating):
        bad = ~np.isfinite(a)
        if bad.any():
            raise ValueError(f"{name} must be finite{_first_bad(bad)} (got {a[bad].flat[0]})")
        bad = a != np.round(a)
        if bad.any():
            raise ValueError(
                f"{name} must hold whole numbers (counts){_first_bad(bad)} (got {a[bad].flat[0]})"
            )
    a = a.astype(np.int64)
    if minimum is not None:
        bad = a < minimum
        if bad.any():
            raise ValueError(f"{name} must be >= {minimum}{_first_bad(bad)} (got {a[bad].flat[0]})")
    return a


def as_counts(c, n, c_name: str = "c", n_name: str = "n") -> tuple[np.ndarray, np.ndarray]:
    """Success counts ``c`` and sample counts ``n`` as broadcast int64 arrays with 0 <= c <= n, n >= 1."""
    c = as_int_array(c, c_name, minimum=0)
    n = as_int_array(n, n_name, minimum=1)
    try:
        c, n = np.broadcast_arrays(c, n)
    except ValueError:
        raise ValueError(
            f"{c_name} and {n_name} must have the same shape (one entry per problem), "
            f"got {np.shape(c)} and {np.shape(n)}"
        ) from None
    bad = c > n
    if bad.any():
        raise ValueError(
            f"{c_name} > {n_name}{_first_bad(bad)}: {int(c[bad].flat[0])} successes out of "
            f"{int(n[bad].flat[0])} samples; a success count cannot exceed the sample count"
        )
    return c, n


def as_probability(x, name: str) -> np.ndarray:
    """``x`` as a float64 array with every entry in [0, 1]."""
    a = np.asarray(x, dtype=np.float64)
    bad = ~((a >= 0.0) & (a <= 1.0))
    if bad.any():
        raise ValueError(
            f"{name} must be a probability in [0, 1]{_first_bad(bad)} (got {a[bad].flat[0]})"
        )
    return a


def check_level(x: float, name: str) -> float:
    """A level such as alpha or zeta: a float strictly between 0 and 1."""
    v = float(x)
    if not (0.0 < v < 1.0):
        raise ValueError(f"{name} must be strictly between 0 and 1, got {x}")
    return v


def as_paired_counts(c0, n0, c1, n1):
    """Base and tuned counts (c0, n0, c1, n1), validated and broadcast to one shape."""
    c0, n0 = as_counts(c0, n0, "c0", "n0")
    c1, n1 = as_counts(c1, n1, "c1", "n1")
    try:
        return np.broadcast_arrays(c0, n0, c1, n1)
    except ValueError:
        raise ValueError(
            f"base and tuned counts must have one entry per problem each, got {c0.shape} and {c1.shape}"
        ) from None


def as_budgets(budget, basin_budget) -> tuple[int, int]:
    """(K, k_b) as ints >= 1 with K >= k_b: the audit budget bounds the tail from below, the basin
    budget from above (DESIGN.md section 2)."""
    budget = int(as_int_array(budget, "budget", minimum=1))
    basin_budget = int(as_int_array(basin_budget, "basin_budget", minimum=1))
    if budget < basin_budget:
        raise ValueError(
            f"budget ({budget}) must be >= basin_budget ({basin_budget}): the audit budget K "
            "bounds the tail from below, the basin budget from above"
        )
    return budget, basin_budget
