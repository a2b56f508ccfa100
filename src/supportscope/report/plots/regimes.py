"""Plot 2: the regime transition matrix, base -> tuned."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import PowerNorm
from matplotlib.patches import Rectangle

from supportscope.report.plots._svg import _RC, _svg, plt
from supportscope.report.style import num
from supportscope.stats.regimes import REGIMES


# ------------------------------------------------------------------- 2. regime transition matrix
def plot_transition(summary: dict) -> str | None:
    tr = summary.get("transition")
    if not tr:
        return None
    names = [r for r in REGIMES if r in tr] + [r for r in tr if r not in REGIMES]
    cols_all = [c for c in REGIMES if any(c in (tr[r] or {}) for r in names)]
    cols_all += sorted({c for r in names for c in (tr[r] or {})} - set(cols_all))
    m = np.array([[num((tr[r] or {}).get(c, 0)) for c in cols_all] for r in names], dtype=float)
    m = np.nan_to_num(m)
    rows = [i for i in range(len(names)) if m[i].sum() > 0]
    cols = [j for j in range(len(cols_all)) if m[:, j].sum() > 0]
    if not rows or not cols:
        return None
    m = m[np.ix_(rows, cols)]
    rn, cn = [names[i] for i in rows], [cols_all[j] for j in cols]
    K = (summary.get("budget") or {}).get("K", "K")
    with plt.rc_context(_RC | {"axes.grid": False}):
        fig, ax = plt.subplots(figsize=(7, 4.4))
        norm = PowerNorm(gamma=0.5, vmin=0, vmax=max(1.0, float(m.max())))
        cmap = plt.get_cmap("Blues")
        ax.pcolormesh(np.arange(len(cn) + 1), np.arange(len(rn) + 1), m, cmap=cmap, norm=norm,
                             edgecolors="white", linewidth=1.5)
        for i in range(len(rn)):
            for j in range(len(cn)):
                v = m[i, j]
                dark = norm(v) > 0.55
                ax.text(j + 0.5, i + 0.5, f"{int(v)}", ha="center", va="center", fontsize=10,
                        fontweight="bold" if rn[i] == cn[j] else "normal",
                        color="white" if dark else "black")
                if rn[i] == cn[j]:
                    ax.add_patch(Rectangle((j + 0.04, i + 0.04), 0.92, 0.92, fill=False,
                                           edgecolor="black", linewidth=1.2, linestyle="--"))
        ax.set_xticks(np.arange(len(cn)) + 0.5,
                      [f"{c}\n({int(m[:, j].sum())})" for j, c in enumerate(cn)])
        ax.set_yticks(np.arange(len(rn)) + 0.5, [f"{r} ({int(m[i].sum())})" for i, r in enumerate(rn)])
        ax.set_xlim(0, len(cn))
        ax.set_ylim(len(rn), 0)
        ax.tick_params(length=0)
        ax.set_xlabel(f"regime of the tuned model at K = {K} (problems in column)")
        ax.set_ylabel(f"regime of the base model at K = {K}\n(problems in row)")
        ax.set_title("Regime transitions, base → tuned (problems per cell; shading ∝ √count)")
        for sp in ax.spines.values():
            sp.set_visible(False)
        fig.subplots_adjust(left=0.25, right=0.98, top=0.92, bottom=0.17)
        return _svg(fig, "regimes")
