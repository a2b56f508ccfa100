"""Plot 4: created and elicited counts as the audit budget K grows."""

from __future__ import annotations

import math

import numpy as np

from supportscope.report.plots._svg import _RC, _svg, plt
from supportscope.report.plots._common import _level, _log2_axis
from supportscope.report.style import OKABE_ITO, num


# ------------------------------------------------------------------- 4. created vs budget
def plot_created_vs_budget(summary: dict) -> str | None:
    rows = [r for r in (summary.get("created_vs_budget") or []) if math.isfinite(num(r.get("K")))]
    if not rows:
        return None
    rows.sort(key=lambda r: num(r["K"]))
    K = np.array([num(r["K"]) for r in rows])
    cert = np.array([bool(r.get("certifiable", True)) for r in rows])
    counts = lambda lab: np.array([num((r.get("counts") or {}).get(lab)) for r in rows])  # noqa: E731
    created, elicited = counts("created"), counts("elicited")
    lo = np.array([num(r.get("created_lo")) for r in rows])
    hi = np.array([num(r.get("created_hi")) for r in rows])
    could = np.array([num(r.get("undetermined_could_be_created")) for r in rows])
    audit_k = num((summary.get("budget") or {}).get("K"))
    lvl = _level(summary)
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        first = True
        for i in np.flatnonzero(~cert):
            ax.axvspan(K[i] / 2 ** 0.5, K[i] * 2 ** 0.5, facecolor="#eeeeee", hatch="xx", edgecolor="#aaaaaa",
                       linewidth=0, zorder=0, label="K not certifiable\n(open markers)" if first else None)
            first = False
        ok = np.isfinite(lo) & np.isfinite(hi)
        yerr = np.vstack([np.where(ok, created - lo, 0), np.where(ok, hi - created, 0)]).clip(min=0)
        vc, mc = OKABE_ITO["vermillion"], "^"
        ax.errorbar(K, created, yerr=yerr, color=vc, linestyle="-", linewidth=1.8, capsize=3,
                    marker=mc, markersize=7, label=f"created ({lvl} interval)")
        ax.plot(K[~cert], created[~cert], linestyle="none", marker=mc, markerfacecolor="white",
                markeredgecolor=vc, markersize=7)
        ec = OKABE_ITO["blue"]
        ax.plot(K, elicited, color=ec, linestyle="--", linewidth=1.5, marker="o", markersize=5.5,
                label="elicited")
        ax.plot(K[~cert], elicited[~cert], linestyle="none", marker="o", markerfacecolor="white",
                markeredgecolor=ec, markersize=5.5)
        if np.isfinite(could).any():
            ax.plot(K, could, color="#555555", linestyle=":", marker="+", markersize=7, linewidth=1.3,
                    label="undetermined, could\nbe created")
        if math.isfinite(audit_k):
            ax.axvline(audit_k, color="black", linestyle="-.", linewidth=1.0, label=f"audit budget K = {audit_k:g}")
        _log2_axis(ax, float(K.min()), float(K.max()))
        ax.set_xlim(K.min() / 2 ** 0.6, K.max() * 2 ** 0.6)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("K (audit budget: samples per problem, log₂ scale)")
        ax.set_ylabel("problems (count)")
        ax.set_title("Labels as the audit budget K grows: created turns into elicited")
        h, lab = ax.get_legend_handles_labels()
        first_keys = ("created", "elicited", "undetermined")
        order = sorted(range(len(lab)), key=lambda i: next((j for j, f in enumerate(first_keys)
                                                            if lab[i].startswith(f)), len(first_keys)))
        ax.legend([h[i] for i in order], [lab[i] for i in order], loc="center left",
                  bbox_to_anchor=(1.02, 0.5), frameon=False, borderaxespad=0)
        fig.subplots_adjust(left=0.1, right=0.66, top=0.92, bottom=0.13)
        return _svg(fig, "budget")
