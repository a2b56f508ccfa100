"""Plot 1: pooled pass@k curves of both models and their difference, with bootstrap bands."""

from __future__ import annotations

import math

import numpy as np

from supportscope.report.plots._svg import _RC, _svg, plt
from supportscope.report.plots._common import _ints, _level, _log2_axis, _tex_safe
from supportscope.report.style import BASE_STYLE, DIFF_STYLE, OKABE_ITO, TUNED_STYLE, num


# ---------------------------------------------------------------------------- 1. pass@k curves
def plot_passk(summary: dict) -> str | None:
    cv = summary.get("curves") or {}
    k = np.array(_ints(cv.get("k")), dtype=float)
    if k.size == 0 or not all(m in cv for m in ("base", "tuned", "difference")):
        return None
    series = {m: {f: np.array(_ints(cv[m].get(f)), dtype=float) for f in ("estimate", "lo", "hi")}
              for m in ("base", "tuned", "difference")}
    pow2 = [i for i, v in enumerate(k) if v >= 1 and float(v).is_integer() and (int(v) & (int(v) - 1)) == 0]
    lvl = _level(summary)
    base, tuned = _tex_safe(summary.get("base", "base")), _tex_safe(summary.get("tuned", "tuned"))
    with plt.rc_context(_RC):
        fig, (ax, axd) = plt.subplots(2, 1, figsize=(7, 5.6), sharex=True,
                                      gridspec_kw={"height_ratios": [2.1, 1], "hspace": 0.08})
        for m, st, name in (("base", BASE_STYLE, f"base: {base}"), ("tuned", TUNED_STYLE, f"tuned: {tuned}")):
            s = series[m]
            ax.fill_between(k, s["lo"], s["hi"], facecolor=st["color"], alpha=0.22, linewidth=0,
                            label=f"{lvl} band, {m}" + (" (hatched)" if st["hatch"] else ""))
            if st["hatch"]:  # hatch drawn on its own so the band's transparency does not wash it out
                ax.fill_between(k, s["lo"], s["hi"], facecolor="none", hatch=st["hatch"],
                                edgecolor=st["color"], alpha=0.55, linewidth=0)
            ax.plot(k, s["estimate"], color=st["color"], linestyle=st["linestyle"], marker=st["marker"],
                    markevery=pow2, markersize=4.5, linewidth=1.8, label=name)
        d = series["difference"]
        axd.fill_between(k, d["lo"], d["hi"], facecolor=DIFF_STYLE["color"], alpha=0.25, linewidth=0,
                         label=f"{lvl} band")
        axd.plot(k, d["estimate"], color=DIFF_STYLE["color"], linestyle=DIFF_STYLE["linestyle"],
                 marker=DIFF_STYLE["marker"], markevery=pow2, markersize=4, linewidth=1.6,
                 label="tuned − base")
        axd.axhline(0.0, color="black", linestyle=":", linewidth=1.1, label="zero (no difference)")

        cr = cv.get("crossover")
        kmax = float(np.nanmax(k))
        if cr and cr.get("k") is not None:
            kc, lo, hi = num(cr.get("k")), num(cr.get("lo")), num(cr.get("hi"))
            lo = lo if math.isfinite(lo) else kc
            hi = hi if math.isfinite(hi) else kmax
            txt = f"crossover k = {kc:g} [{lo:g}, {'> n' if not math.isfinite(num(cr.get('hi'))) else f'{hi:g}'}]"
            for a in (ax, axd):
                a.axvspan(lo, hi, facecolor=OKABE_ITO["vermillion"], alpha=0.08, linewidth=0)
                a.axvline(kc, color=OKABE_ITO["vermillion"], linestyle="-.", linewidth=1.3)
            ax.plot([], [], color=OKABE_ITO["vermillion"], linestyle="-.", label=txt)
        else:
            why = ("no crossover: pass@1 is equal" if not cr else
                   f"no crossover up to k = {cr.get('searched_up_to', int(kmax))}")
            ax.plot([], [], linestyle="none", label=why)

        ax.set_ylabel("pass@k (success probability)")
        ax.set_title(f"Pooled pass@k over {summary.get('n_problems', '?')} problems "
                     f"({lvl} paired-bootstrap bands)")
        ax.legend(loc="lower right", frameon=True, framealpha=0.9)
        axd.set_ylabel("tuned − base\n(probability)")
        axd.set_xlabel("k (samples per problem, log₂ scale)")
        axd.legend(loc="upper right", frameon=True, framealpha=0.9, ncols=3)
        _log2_axis(axd, float(np.nanmin(k)), kmax)
        ax.set_xlim(float(np.nanmin(k)), kmax)
        fig.subplots_adjust(left=0.11, right=0.98, top=0.93, bottom=0.1)
        return _svg(fig, "passk")
