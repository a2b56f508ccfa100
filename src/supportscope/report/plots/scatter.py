"""Plot 3: per-problem success rates, base vs tuned, on logit axes with Gibbs-tilt curves."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

from supportscope.report.plots._svg import _RC, _svg, plt
from supportscope.report.style import LABEL_ORDER, LABEL_STYLES, OKABE_ITO, num


# ------------------------------------------------------------------- 3. per-problem scatter
def _col(table, name) -> np.ndarray | None:
    if table is None or name not in table.column_names:
        return None
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False))


def _logit(p):
    return np.log(p) - np.log1p(-p)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def plot_scatter(summary: dict, per_problem) -> str | None:
    need = ("p_base", "p_tuned", "n_base", "n_tuned", "label")
    cols = {c: _col(per_problem, c) for c in need + ("p_base_lo", "p_base_hi", "p_tuned_lo", "p_tuned_hi")}
    if any(cols[c] is None for c in need) or len(cols["p_base"]) == 0:
        return None
    n0 = cols["n_base"].astype(float)
    n1 = cols["n_tuned"].astype(float)
    e0, e1 = 0.5 / (n0 + 1.0), 0.5 / (n1 + 1.0)

    def clip(v, e):
        v = np.where(np.isfinite(v.astype(float)), v.astype(float), 0.5)
        return np.clip(v, e, 1.0 - e)

    x, y = clip(cols["p_base"], e0), clip(cols["p_tuned"], e1)
    lim = 0.6 * float(min(e0.min(), e1.min()))
    labels = cols["label"].astype(str)
    g = summary.get("gibbs") or {}
    lam = num(g.get("lambda"))
    eps_k = num((summary.get("budget") or {}).get("eps_K"))
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(8, 5.4))
        ax.set_xscale("logit", nonpositive="clip")
        ax.set_yscale("logit", nonpositive="clip")
        grid = _sigmoid(np.linspace(_logit(lim), _logit(1 - lim), 200))
        ax.plot(grid, grid, color="black", linestyle="--", linewidth=1.0, label="diagonal (no change, λ = 0)")
        others = [(0.5, ":"), (1.0, (0, (5, 2, 1, 2))), (2.0, (0, (1, 1)))]
        for lv, ls in others:
            ax.plot(grid, _sigmoid(_logit(grid) + lv), color="#666666", linestyle=ls, linewidth=0.9,
                    label=f"uniform tilt λ = {lv:g}")
        if math.isfinite(lam):
            beta = num(g.get("beta"))
            bt = f", β = {beta:.2f}" if math.isfinite(beta) else ""
            ax.plot(grid, _sigmoid(_logit(grid) + lam), color=OKABE_ITO["black"], linestyle="-",
                    linewidth=2.0, label=f"fitted Gibbs tilt λ = {lam:.2f}{bt}")
        if math.isfinite(eps_k):
            ax.axvline(eps_k, color=OKABE_ITO["vermillion"], linestyle=(0, (2, 2)), linewidth=0.9)
            ax.axhline(eps_k, color=OKABE_ITO["vermillion"], linestyle=(0, (2, 2)), linewidth=0.9,
                       label=f"ε(K) = {eps_k:.3f} (accessible above/right)")
        have_ci = all(cols[c] is not None for c in ("p_base_lo", "p_base_hi", "p_tuned_lo", "p_tuned_hi"))
        order = list(LABEL_ORDER) + sorted(set(labels) - set(LABEL_ORDER))
        # common labels first, rare ones (created, lost) drawn last, on top
        order.sort(key=lambda lab: -int((labels == lab).sum()))
        for lab in order:
            sel = labels == lab
            if not sel.any():
                continue
            color, marker, filled, ms = LABEL_STYLES.get(lab, (OKABE_ITO["grey"], "*", True, 6.0))
            if have_ci:
                xl, xh = clip(cols["p_base_lo"][sel], e0[sel]), clip(cols["p_base_hi"][sel], e0[sel])
                yl, yh = clip(cols["p_tuned_lo"][sel], e1[sel]), clip(cols["p_tuned_hi"][sel], e1[sel])
                xs, ys = x[sel], y[sel]
                nan = np.full(xs.shape, np.nan)
                hx = np.stack([xl, xh, nan], 1).ravel()
                hy = np.stack([ys, ys, nan], 1).ravel()
                vx = np.stack([xs, xs, nan], 1).ravel()
                vy = np.stack([yl, yh, nan], 1).ravel()
                a = 0.5 if lab in ("created", "lost") else 0.22
                ax.plot(np.concatenate([hx, vx]), np.concatenate([hy, vy]), color=color, linewidth=0.6,
                        alpha=a, solid_capstyle="butt")
            ax.plot(x[sel], y[sel], linestyle="none", marker=marker, markersize=ms,
                    markerfacecolor=color if filled else "white", markeredgecolor=color,
                    markeredgewidth=1.0 if marker in "x+" or not filled else 0.5,
                    label=f"{lab} ({int(sel.sum())})", zorder=3 + (lab in ("created", "lost")))
        ax.set_xlim(lim, 1 - lim)
        ax.set_ylim(lim, 1 - lim)
        ticks = [t for t in (0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999) if lim < t < 1 - lim]
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(FixedLocator(ticks))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_locator(NullLocator())
            axis.set_minor_formatter(NullFormatter())
        ax.set_aspect("equal")
        ax.set_xlabel("p̂ base (success probability, logit scale)")
        ax.set_ylabel("p̂ tuned (success probability, logit scale)")
        ax.set_title("Per-problem success rate, base vs tuned")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, borderaxespad=0)
        fig.subplots_adjust(left=0.09, right=0.63, top=0.94, bottom=0.1)
        return _svg(fig, "scatter")
