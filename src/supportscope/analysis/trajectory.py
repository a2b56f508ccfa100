"""Per-problem trajectories over ordered checkpoints: when a problem was created, lost, kept.

Input: the per-problem labels of every checkpoint j = 0..M-1 against the same base (each from
`analysis.labels.label_counts` at the same audit budget K), in training order. With L[i, j] the
label of problem i at checkpoint j:

- **first created** j_c = min{j : L[i, j] = created} (base certified inaccessible at K, the
  checkpoint certified accessible). After it the problem is
  - *kept* when L[i, j] = created for every j >= j_c;
  - *created then lost* when some later L[i, j'] = unsolved (the checkpoint certified
    inaccessible again): the first such j' is reported;
  - *created, later undetermined* otherwise (a later checkpoint's samples cannot decide).
- **first lost** j_l = min{j : L[i, j] = lost} (base accessible, checkpoint certified
  inaccessible); the **last accessible** checkpoint is j_l - 1 (the base when j_l = 0). After it
  the problem is *lost and stays lost* (L = lost at every later j), *lost, accessible again at
  j'* (the first later j' whose label certifies the checkpoint accessible: elicited, unchanged or
  weakened), or *lost, later undetermined*.

A problem is never both (created needs the base inaccessible at K, lost needs it accessible).
Each claim inherits the per-problem label's error control at one checkpoint; over M checkpoints a
problem near the threshold has M chances, which the simulation test in
tests/test_trajectory.py measures (the set-level statement remains each checkpoint's count test,
``support_change``).

Regime flow: the regime (basin / tail / inaccessible / undetermined; barrier and singular count as
inaccessible) of every problem at the base and at each checkpoint, and the transition counts
between consecutive columns: what the report's regime-flow plot draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from supportscope.analysis.labels import CREATED, ELICITED, LOST, UNCHANGED, UNSOLVED, WEAKENED
from supportscope.stats.regimes import BARRIER, BASIN, INACCESSIBLE, SINGULAR, TAIL, UNDETERMINED

FLOW_STATES = (BASIN, TAIL, INACCESSIBLE, UNDETERMINED)
_ACCESSIBLE_AGAIN = (ELICITED, UNCHANGED, WEAKENED)

KEPT, RELOST, CREATED_OPEN = "created-kept", "created-then-lost", "created-later-undetermined"
STAYS_LOST, RECOVERED, LOST_OPEN = "lost", "lost-then-recovered", "lost-later-undetermined"
CLASSES = (KEPT, RELOST, CREATED_OPEN, STAYS_LOST, RECOVERED, LOST_OPEN)


@dataclass(frozen=True)
class Trajectories:
    """Per problem (index -1 = never): first created / first lost checkpoint, the checkpoint where a
    created problem was certified inaccessible again or a lost one accessible again, and the class
    (one of :data:`CLASSES`, or "" for a problem never created or lost)."""

    first_created: np.ndarray
    first_lost: np.ndarray
    turned: np.ndarray
    cls: np.ndarray


def _first(mask: np.ndarray) -> np.ndarray:
    """Index of the first True per row, -1 where none."""
    return np.where(mask.any(axis=1), np.argmax(mask, axis=1), -1)


def _first_after(mask: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Index of the first True at a column > start per row (-1 where none or start = -1)."""
    cols = np.arange(mask.shape[1])[None, :]
    return _first(mask & (cols > start[:, None]) & (start[:, None] >= 0))


def trajectories(labels: np.ndarray) -> Trajectories:
    """Classify every problem's label path ``labels`` [Q, M] (object array of label strings, columns
    in training order); see the module docstring for the rules."""
    labels = np.asarray(labels, dtype=object)
    q, m = labels.shape
    created, lost = labels == CREATED, labels == LOST
    jc, jl = _first(created), _first(lost)
    cols = np.arange(m)[None, :]
    after_c = cols >= jc[:, None]
    after_l = cols >= jl[:, None]
    relost = _first_after(labels == UNSOLVED, jc)
    back = _first_after(np.isin(labels, _ACCESSIBLE_AGAIN), jl)
    kept = (jc >= 0) & np.all(created | ~after_c, axis=1)
    stays = (jl >= 0) & np.all(lost | ~after_l, axis=1)
    cls = np.full(q, "", dtype=object)
    cls[(jc >= 0)] = CREATED_OPEN
    cls[relost >= 0] = RELOST
    cls[kept] = KEPT
    cls[(jl >= 0)] = LOST_OPEN
    cls[back >= 0] = RECOVERED
    cls[stays] = STAYS_LOST
    turned = np.where(jc >= 0, relost, back)
    return Trajectories(jc, jl, turned, cls)


def describe(t: Trajectories, i: int, names: list[str]) -> str:
    """One problem's trajectory in words, e.g. "created at step-300 and kept"; names[j] is how
    checkpoint j is called ("step 300" or the model name)."""
    c = t.cls[i]
    if not c:
        return ""
    if c.startswith("created"):
        at = names[t.first_created[i]]
        return {KEPT: f"created at {at} and kept", RELOST: f"created at {at}, lost at {names[t.turned[i]]}",
                CREATED_OPEN: f"created at {at}, undetermined later"}[c]
    at = names[t.first_lost[i]]
    return {STAYS_LOST: f"lost at {at}", RECOVERED: f"lost at {at}, accessible again at {names[t.turned[i]]}",
            LOST_OPEN: f"lost at {at}, undetermined later"}[c]


def flow_state(regimes: np.ndarray) -> np.ndarray:
    """basin / tail / inaccessible / undetermined (barrier and singular -> inaccessible)."""
    r = np.asarray(regimes, dtype=object)
    return np.where(np.isin(r, (BARRIER, SINGULAR)), INACCESSIBLE, r)


def regime_flow(regimes: np.ndarray) -> list[dict]:
    """Transition counts between consecutive columns of ``regimes`` [Q, M+1] (base first):
    flows[j][a][b] = #{i : state(i, j) = a and state(i, j+1) = b}, and the state counts per column."""
    s = flow_state(regimes)
    out = []
    for j in range(s.shape[1] - 1):
        a, b = s[:, j], s[:, j + 1]
        out.append({x: {y: int(((a == x) & (b == y)).sum()) for y in FLOW_STATES} for x in FLOW_STATES})
    return out


def state_counts(regimes: np.ndarray) -> list[dict]:
    """Problems per flow state in each column of ``regimes`` [Q, M+1]."""
    s = flow_state(regimes)
    return [{x: int((s[:, j] == x).sum()) for x in FLOW_STATES} for j in range(s.shape[1])]
