"""Plot 5: the Venn diagram of solved problems next to the support (leash) metrics."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch

from supportscope.report.plots._svg import _RC, _svg, plt
from supportscope.report.plots._common import _level
from supportscope.report.style import BASE_STYLE, OKABE_ITO, TUNED_STYLE, fmt_num, num


# ------------------------------------------------------------------- 5. Venn + leash metrics
_LEASH = ("SRR", "NDR", "NSCR", "SDS")


def plot_support(summary: dict) -> str | None:
    v = summary.get("venn")
    if not v:
        return None
    expected = bool(v.get("expected"))  # expected counts at a common budget k < some n: floats
    both, bo, to, ne = (num(v.get(k, 0)) if math.isfinite(num(v.get(k, 0))) else 0.0
                        for k in ("both", "base_only", "tuned_only", "neither"))

    def cnt(x: float) -> str:
        return f"{x:.1f}" if expected else f"{int(round(x))}"

    budget = "n" if v.get("k") is None else str(v.get("k"))
    leash = summary.get("leash") or {}
    with plt.rc_context(_RC):
        fig, (ax, axl) = plt.subplots(1, 2, figsize=(8, 3.6), gridspec_kw={"width_ratios": [1.15, 1]})
        ax.set_aspect("equal")
        ax.axis("off")
        bs, ts = BASE_STYLE, TUNED_STYLE
        ax.add_patch(Circle((-0.5, 0), 1.0, facecolor=bs["color"], alpha=0.18, edgecolor="none"))
        ax.add_patch(Circle((0.5, 0), 1.0, facecolor=ts["color"], alpha=0.18, edgecolor="none"))
        ax.add_patch(Circle((-0.5, 0), 1.0, fill=False, hatch="////", edgecolor=bs["color"], linewidth=0))
        ax.add_patch(Circle((-0.5, 0), 1.0, fill=False, edgecolor=bs["color"], linestyle="--", linewidth=1.8))
        ax.add_patch(Circle((0.5, 0), 1.0, fill=False, edgecolor=ts["color"], linestyle="-", linewidth=1.8))
        box = {"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "none", "alpha": 0.9}
        for xx, n, what in ((-1.0, bo, "base only"), (0.0, both, "both"), (1.0, to, "tuned only")):
            ax.text(xx, 0.0, f"{cnt(n)}\n{what}", ha="center", va="center", fontsize=9.5, bbox=box)
        ax.text(-0.5, 1.12, f"base solves ({cnt(both + bo)})", ha="center", va="bottom", color="black")
        ax.text(0.5, -1.12, f"tuned solves ({cnt(both + to)})", ha="center", va="top", color="black")
        ax.text(1.65, 1.12, f"neither: {cnt(ne)}", ha="right", va="bottom", fontsize=9, bbox=box)
        ax.set_xlim(-1.65, 1.65)
        ax.set_ylim(-1.45, 1.45)
        ax.set_title(f"Problems solved at least once in k = {budget} samples"
                     + (" (expected)" if expected else ""))
        vals = [(name, leash.get(name) or {}) for name in _LEASH if name in leash]
        if vals:
            ys = np.arange(len(vals))[::-1]
            allv = [0.0, 1.0]
            for y, (name, d) in zip(ys, vals):
                val, lo, hi = num(d.get("value")), num(d.get("lo")), num(d.get("hi"))
                if math.isfinite(lo) and math.isfinite(hi):
                    axl.plot([lo, hi], [y, y], color="black", linewidth=1.6, solid_capstyle="butt")
                    axl.plot([lo, hi], [y, y], linestyle="none", marker="|", color="black", markersize=8)
                    allv += [lo, hi]
                if math.isfinite(val):
                    axl.plot([val], [y], marker="D", color=OKABE_ITO["bluish_green"], markeredgecolor="black",
                             markersize=6, linestyle="none")
                    axl.text(val, y + 0.22, fmt_num(val), ha="center", va="bottom", fontsize=8)
                    allv.append(val)
            axl.axvline(0, color="black", linestyle=":", linewidth=0.9)
            axl.set_yticks(ys, [n for n, _ in vals])
            axl.set_ylim(-0.6, len(vals) - 0.3)
            axl.set_xlim(min(allv) - 0.08, max(allv) + 0.08)
            axl.set_xlabel("metric value (ratio of problem counts)")
            axl.set_title(f"Support metrics with {_level(summary)} intervals")
            axl.legend(handles=[Line2D([], [], marker="D", color=OKABE_ITO["bluish_green"], markeredgecolor="black",
                                       linestyle="none", label="estimate"),
                                Line2D([], [], color="black", marker="|", label="interval")],
                       loc="lower right", frameon=True, framealpha=0.9)
        else:
            axl.axis("off")
        fig.legend(handles=[Patch(facecolor=bs["color"], alpha=0.4, hatch="////", edgecolor=bs["color"],
                                  linestyle="--", label="base"),
                            Patch(facecolor=ts["color"], alpha=0.4, edgecolor=ts["color"], label="tuned")],
                   loc="lower left", ncols=2, frameon=False, bbox_to_anchor=(0.02, 0.0))
        fig.subplots_adjust(left=0.02, right=0.97, top=0.9, bottom=0.15, wspace=0.25)
        return _svg(fig, "support")
