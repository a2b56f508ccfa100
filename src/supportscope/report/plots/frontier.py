"""The elicitation frontier: pass@1 vs pass@K, the curve pure reweighting traces, and the tuned models.

Takes the block of `analysis.frontier.frontier_block` (or that block read back from summary.json).
Drawn: the frontier (F(1, lam), F(K, lam)) traced by lam with its band (the y-interval of F(K, lam)
at each lam, drawn at the estimate of F(1, lam)); the reachable curve (F(1, lam), F_K(K, lam)) with
its band; the ceiling C_K with its interval and the certified ceiling C+_K (dashed); the base at
lam = 0; each tuned model at (pass@1, pass@K) on the frontier's scale (posterior-mean pass@k) with
2-D error bars, labelled by name, optionally joined in a given order (a training trajectory).
"""

from __future__ import annotations

import math

import numpy as np

from supportscope.report.plots._common import _ints, _tex_safe
from supportscope.report.plots._svg import _RC, _svg, plt
from supportscope.report.style import BASE_STYLE, OKABE_ITO, TUNED_STYLE, num

_LAMBDA_TICKS = (-2.0, 2.0, 4.0, 8.0)


def _curve(block: dict, group: str, key: str):
    c = (block.get(group) or {}).get(key) or {}
    return tuple(np.array(_ints(c.get(f)), dtype=float) for f in ("estimate", "lo", "hi"))


def _err(d: dict | None) -> tuple[float, float, float]:
    d = d or {}
    v, lo, hi = num(d.get("estimate")), num(d.get("lo")), num(d.get("hi"))
    return v, max(0.0, v - lo) if math.isfinite(lo) else 0.0, max(0.0, hi - v) if math.isfinite(hi) else 0.0


def _lambda_ticks(ax, lams: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    for lv in _LAMBDA_TICKS:
        hit = np.flatnonzero(np.isclose(lams, lv))
        if hit.size:
            i = int(hit[0])
            ax.plot(x[i], y[i], marker="|", color=OKABE_ITO["black"], markersize=7, linestyle="none")
            ax.annotate(f"λ = {lv:g}", (x[i], y[i]), textcoords="offset points", xytext=(3, -11),
                        fontsize=7, color="#444444")


def _models(ax, models: list[dict], order: list[str] | None) -> None:
    pts = {}
    for i, m in enumerate(models):
        p = m.get("point") or {}
        (x, xl, xh), (y, yl, yh) = _err(p.get("pass1")), _err(p.get("passK"))
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        pts[m.get("name")] = (x, y)
        above = m.get("first_k_above_frontier") is not None or m.get("first_k_above_ceiling") is not None
        ax.errorbar([x], [y], xerr=[[xl], [xh]], yerr=[[yl], [yh]], fmt=TUNED_STYLE["marker"],
                    color=OKABE_ITO["vermillion"] if above else TUNED_STYLE["color"], markersize=5,
                    elinewidth=0.9, capsize=2, zorder=4)
        ax.annotate(_tex_safe(m.get("name")), (x, y), textcoords="offset points",
                    xytext=(5, 4) if i % 2 == 0 else (5, -11), fontsize=7.5, zorder=5)
    if order:
        path = [pts[n] for n in order if n in pts]
        if len(path) > 1:
            xs, ys = zip(*path)
            ax.plot(xs, ys, color=TUNED_STYLE["color"], linewidth=0.9, alpha=0.7, zorder=3,
                    label="trajectory (in the given order)")
            ax.annotate("", xy=path[-1], xytext=path[-2],
                        arrowprops={"arrowstyle": "->", "color": TUNED_STYLE["color"], "lw": 0.9})
    ax.plot([], [], TUNED_STYLE["marker"], color=TUNED_STYLE["color"], markersize=5,
            label="tuned model (posterior-mean pass@k, bars: intervals)")
    if any(m.get("first_k_above_frontier") is not None or m.get("first_k_above_ceiling") is not None
           for m in models):
        ax.plot([], [], TUNED_STYLE["marker"], color=OKABE_ITO["vermillion"], markersize=5,
                label="tuned model above the frontier or the ceiling at some k")


def plot_frontier(block: dict | None, order: list[str] | None = None) -> str | None:
    """SVG of the frontier block (None when it holds no curve); ``order`` joins models into a path."""
    if not block:
        return None
    fx, _, _ = _curve(block, "frontier", "pass1")
    fy, fy_lo, fy_hi = _curve(block, "frontier", "passK")
    ry, ry_lo, ry_hi = _curve(block, "reachable", "passK")
    if fx.size == 0 or fx.size != fy.size:
        return None
    lams = np.array(_ints(block.get("lams")), dtype=float)
    budget = block.get("budget", "K")
    alpha = num(block.get("alpha"))
    lvl = f"{100 * (1 - alpha):.0f}%" if math.isfinite(alpha) else "95%"
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.6, 5.6))
        ax.fill_between(fx, fy_lo, fy_hi, facecolor=BASE_STYLE["color"], alpha=0.22, linewidth=0)
        ax.plot(fx, fy, color=BASE_STYLE["color"], linewidth=1.8,
                label=f"frontier: uniform tilt of the base, traced by λ ({lvl} band)")
        if ry.size == fx.size:
            ax.fill_between(fx, ry_lo, ry_hi, facecolor=OKABE_ITO["bluish_green"], alpha=0.18, linewidth=0)
            ax.plot(fx, ry, color=OKABE_ITO["bluish_green"], linestyle="--", linewidth=1.5,
                    label=f"reachable inside the support accessible at K = {budget}")
        c, c_lo, c_hi = _err(block.get("ceiling"))
        if math.isfinite(c):
            ax.axhspan(c - c_lo, c + c_hi, facecolor=OKABE_ITO["grey"], alpha=0.2, linewidth=0)
            ax.axhline(c, color=OKABE_ITO["black"], linestyle="-.", linewidth=1.1,
                       label=f"ceiling C_K = {c:.3f} (posterior share accessible at K)")
        cc = num((block.get("ceiling_certified") or {}).get("estimate"))
        if math.isfinite(cc):
            ax.axhline(cc, color=OKABE_ITO["black"], linestyle=(0, (2, 2)), linewidth=0.9,
                       label=f"certified ceiling C+_K = {cc:.3f} (not certified inaccessible)")
        _lambda_ticks(ax, lams, fx, fy)
        b = block.get("base") or {}
        (bx, bxl, bxh), (by, byl, byh) = _err(b.get("pass1")), _err(b.get("passK"))
        if math.isfinite(bx) and math.isfinite(by):
            ax.errorbar([bx], [by], xerr=[[bxl], [bxh]], yerr=[[byl], [byh]], fmt=BASE_STYLE["marker"],
                        color=BASE_STYLE["color"], markeredgecolor="black", markersize=7, capsize=2,
                        zorder=6, label="base (λ = 0)")
        _models(ax, list(block.get("models") or []), order)
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.02)
        ax.set_xlabel("pass@1 (success probability)")
        ax.set_ylabel(f"pass@{budget}")
        ax.set_title(f"Elicitation frontier: pass@1 vs pass@{budget} over "
                     f"{block.get('n_problems', '?')} problems ({lvl} paired-bootstrap intervals)")
        ax.legend(loc="lower right", frameon=True, framealpha=0.9, fontsize=7)
        fig.subplots_adjust(left=0.09, right=0.98, top=0.93, bottom=0.09)
        return _svg(fig, "frontier")
