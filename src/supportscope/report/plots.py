"""Plots of the HTML report, each returned as an inline SVG string (vector, text kept as text).

One function per plot; each takes the summary dict (from `compare()` or read back from
summary.json, where infinities are "inf"/"-inf" and NaN is null) and, where needed, the
per-problem pyarrow Table. A function returns None when the summary lacks what it plots.

The SVGs are made for inlining into one HTML page: no XML prolog, DOCTYPE, metadata or
external reference, and every element id carries a per-plot prefix so that several SVGs in
one document never share an id.
"""

from __future__ import annotations

import io
import math
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import PowerNorm  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Circle, Patch, Rectangle  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator  # noqa: E402

from matplotlib.transforms import blended_transform_factory  # noqa: E402

from supportscope.report.style import (BASE_STYLE, DIFF_STYLE, KL_EFFICIENCY_LINES,  # noqa: E402
                                       KL_POINT_STYLES, LABEL_ORDER, LABEL_STYLES, OKABE_ITO, REGIMES,
                                       SINGULAR_STYLE, TUNED_STYLE, fmt_num, num)

_RC = {
    "svg.fonttype": "none",          # text stays text: small files, selectable, searchable
    "svg.hashsalt": "supportscope",  # deterministic ids
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
    "font.size": 9,
    "axes.titlesize": 10.5,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "hatch.linewidth": 0.6,
    "figure.dpi": 72,
}

_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(\bid="|href="#|url\(#)([^")]+)')


_SCALE = 1.3  # displayed size relative to the natural size, the same for every plot (equal text)


def _svg(fig, prefix: str) -> str:
    """Serialise and close `fig`; return an inlinable <svg> element with ids prefixed.

    The fixed width/height become a max-width, so the plot scales down on narrow screens and all
    plots share one text size on wide ones.
    """
    label = next((a.get_title() for a in fig.axes if a.get_title()), prefix)
    buf = io.StringIO()
    try:
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None,
                                                 "Type": None})
    finally:
        plt.close(fig)
    s = buf.getvalue()
    s = s[s.index("<svg"):]
    s = re.sub(r"<metadata>.*?</metadata>\s*", "", s, flags=re.S)
    # matplotlib's global "*{...}" rule would otherwise match every element of the page
    s = s.replace("*{stroke-linejoin", "svg *{stroke-linejoin")
    ids = set(_ID.findall(s))

    def sub(m):
        name = m.group(2)
        return m.group(1) + (f"{prefix}-{name}" if name in ids else name)

    s = _REF.sub(sub, s)
    m = re.match(r'<svg ([^>]*?)width="([\d.]+)pt" height="([\d.]+)pt"', s)
    if m:
        w = float(m.group(2)) * 4 / 3 * _SCALE
        s = (f'<svg {m.group(1)}role="img" aria-label="{_xml_attr(label)}" '
             f'style="max-width:{w:.0f}px"' + s[m.end():])
    return s.strip()


def _xml_attr(text: str) -> str:
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\n", " "))


def _ints(x) -> list[float]:
    return [num(v) for v in (x or [])]


def _log2_axis(ax, lo: float, hi: float) -> None:
    """log2 x axis with plain integer tick labels at powers of two."""
    ax.set_xscale("log", base=2)
    lo2, hi2 = int(math.floor(math.log2(max(lo, 1)))), int(math.ceil(math.log2(max(hi, 1))))
    step = max(1, (hi2 - lo2 + 1) // 12)
    ticks = [2.0 ** e for e in range(lo2, hi2 + 1, step)]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _level(summary: dict) -> str:
    a = num((summary.get("budget") or {}).get("alpha", 0.05))
    return f"{100 * (1 - a):.0f}%" if math.isfinite(a) else "95%"


def _tex_safe(s) -> str:
    """Model names and other data shown in matplotlib text: no mathtext interpretation."""
    return str(s).replace("$", r"\$")


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


# ------------------------------------------------------------------- 5. Venn + leash metrics
_LEASH = ("SRR", "NDR", "NSCR", "SDS")


def plot_support(summary: dict) -> str | None:
    v = summary.get("venn")
    if not v:
        return None
    both, bo, to, ne = (int(num(v.get(k, 0))) if math.isfinite(num(v.get(k, 0))) else 0
                        for k in ("both", "base_only", "tuned_only", "neither"))
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
            ax.text(xx, 0.0, f"{n}\n{what}", ha="center", va="center", fontsize=9.5, bbox=box)
        ax.text(-0.5, 1.12, f"base solves ({both + bo})", ha="center", va="bottom", color="black")
        ax.text(0.5, -1.12, f"tuned solves ({both + to})", ha="center", va="top", color="black")
        ax.text(1.65, 1.12, f"neither: {ne}", ha="right", va="bottom", fontsize=9, bbox=box)
        ax.set_xlim(-1.65, 1.65)
        ax.set_ylim(-1.45, 1.45)
        ax.set_title("Problems solved at least once in n samples")
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


# ------------------------------------------------------------------- 6. KL account
def _kl_summary(summary: dict) -> dict | None:
    kl = summary.get("kl")
    return kl if isinstance(kl, dict) else None


def _fcol(table, name) -> np.ndarray | None:
    """A numeric column as float (nulls -> NaN), or None when absent."""
    if table is None or name not in table.column_names:
        return None
    return np.array([num(v) for v in table.column(name).to_pylist()], dtype=float)


_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _nats_tick(v: float, _pos=None) -> str:
    """0, 0.001 … 1000 as plain numbers, smaller or larger powers of ten as 10ⁿ."""
    if v == 0:
        return "0"
    a = abs(v)
    if 1e-3 <= a < 1e4:
        return f"{v:g}"
    e = int(round(math.log10(a)))
    return ("−" if v < 0 else "") + "10" + str(e).translate(_SUP)


def _symlog_ticks(lo: float, hi: float, lt: float) -> list[float]:
    """0 and the powers of ten from the linear threshold `lt` out to the limits (both signs)."""
    e0, e1 = int(round(math.log10(lt))), int(math.floor(math.log10(max(abs(lo), abs(hi), lt))))
    pows = [10.0 ** e for e in range(e0, e1 + 1)]
    step = max(1, len(pows) // 7)
    pows = pows[::-1][::step][::-1]
    return sorted({0.0, *[p for p in pows if p <= hi], *[-p for p in pows if -p >= lo]})


def plot_kl_efficiency(summary: dict, per_problem) -> str | None:
    """Observed KL per problem against kl_min = kl(p1 || p0), symlog axes, ±2 SE whiskers."""
    kl = _kl_summary(summary)
    if kl is None:
        return None
    which = "kl_full" if kl.get("kl_observed") == "kl_full" else "kl_k1"
    x, y = _fcol(per_problem, "kl_min"), _fcol(per_problem, which)
    if x is None or y is None or len(x) == 0:
        return None
    se = _fcol(per_problem, which + "_se")
    se = np.full(len(x), np.nan) if se is None else se
    dpi = (np.array([bool(v) for v in per_problem.column("dpi_violation").to_pylist()])
           if "dpi_violation" in per_problem.column_names else np.zeros(len(x), bool))
    okx = np.isfinite(x)
    inf = okx & np.isposinf(y)
    fin = okx & np.isfinite(y)
    if not (inf.any() or fin.any()):
        return None
    dpi = dpi & fin
    plain = fin & ~dpi
    missing = int((~(inf | fin)).sum())
    whisk = np.where(np.isfinite(se), 2.0 * se, 0.0)

    pos = np.concatenate([x[okx & (x > 0)], y[fin & (y > 0)]])
    lt = 10.0 ** math.floor(math.log10(np.percentile(pos, 10))) if pos.size else 1e-3
    lt = min(max(lt, 1e-6), 1.0)
    hi = max([lt] + [float(v.max()) for v in (x[okx], y[fin], (y + whisk)[fin]) if v.size])
    top = 10.0 ** (math.ceil(math.log10(hi)) + 0.5)
    right = 10.0 ** (math.ceil(math.log10(max(float(x[okx].max()), lt))) + 0.3)
    ylo = float(min(0.0, y[fin].min())) if fin.any() else 0.0  # lower whiskers may run off the bottom
    bottom = -0.4 * lt if ylo > -0.4 * lt else -10.0 ** (math.ceil(math.log10(-ylo)) + 0.2)
    left = -0.4 * lt
    obs_name = "full-vocabulary KL" if which == "kl_full" else "k1 estimate"
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(8.2, 5.4))
        for axis in ("x", "y"):
            (ax.set_xscale if axis == "x" else ax.set_yscale)("symlog", linthresh=lt, linscale=0.6)
        gx = np.concatenate([np.linspace(left, lt, 60), np.geomspace(lt, right, 240)[1:]])
        ax.fill_between(gx, bottom, gx, facecolor="#efefef", edgecolor="none", zorder=0,
                        label="below y = x: impossible for an\nexact KL (data processing)")
        for e, ls in KL_EFFICIENCY_LINES:
            what = "y = x: efficiency 1" if e == 1 else f"efficiency {e:g} (KL = {1 / e:g}·kl_min)"
            ax.plot(gx, gx / e, color="black" if e == 1 else "#555555", linestyle=ls,
                    linewidth=1.3 if e == 1 else 1.0, label=what, zorder=1)
        for kind, sel, name in (("finite", plain, "problem, finite KL"),
                                ("dpi_violation", dpi, "data-processing violation\n(KL + 2 SE < kl_min)")):
            color, marker, filled, ms = KL_POINT_STYLES[kind]
            if sel.any():
                ax.errorbar(x[sel], y[sel], yerr=whisk[sel], fmt="none", ecolor=color, elinewidth=0.8,
                            alpha=0.45 if kind == "finite" else 0.8, zorder=2)
            ax.plot(x[sel], y[sel], linestyle="none", marker=marker, markersize=ms,
                    markerfacecolor=color if filled else "white", markeredgecolor="black" if filled else color,
                    markeredgewidth=0.5, label=f"{name}: {int(sel.sum())}",
                    zorder=3 + (kind != "finite"))
        sing = _fcol(per_problem, "singular_tokens")
        ring = fin & (np.nan_to_num(sing) > 0) if sing is not None and which == "kl_full" else fin & False
        if ring.any():  # decoding support left (k1 = k3 = ∞) while the raw full-vocabulary KL stays finite
            ax.plot(x[ring], y[ring], linestyle="none", marker="o", markersize=10, markerfacecolor="none",
                    markeredgecolor="black", markeredgewidth=0.9, zorder=4,
                    label=f"singular tokens (k1 = k3 = ∞;\nraw kl_full finite): {int(ring.sum())}")
        color, marker, filled, ms = KL_POINT_STYLES["infinite"]
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        ax.plot(x[inf], np.ones(int(inf.sum())), transform=trans, clip_on=False, linestyle="none",
                marker=marker, markersize=ms, markerfacecolor="white", markeredgecolor=color,
                markeredgewidth=1.4, zorder=5,
                label=f"left the base's support: {int(inf.sum())}\n(observed KL = ∞, at the top edge)")
        ax.text(-0.012, 1.0, "∞", transform=ax.transAxes, ha="right", va="center", fontsize=11)
        if missing:
            ax.plot([], [], linestyle="none", label=f"no KL estimate: {missing}")
        ax.set_xlim(left, right)
        ax.set_ylim(bottom, top)
        for axis, lo_, hi_ in ((ax.xaxis, left, right), (ax.yaxis, bottom, top)):
            axis.set_major_locator(FixedLocator(_symlog_ticks(lo_, hi_, lt)))
            axis.set_major_formatter(FuncFormatter(_nats_tick))
            axis.set_minor_locator(NullLocator())
        ax.set_xlabel("kl(p₁ ‖ p₀): least KL that moves success p₀ → p₁ (nats, symlog scale)")
        ax.set_ylabel(f"observed KL(π₁ ‖ π₀) per problem, {obs_name}\n(nats, symlog scale; ±2 SE whiskers)")
        ax.set_title("KL spent per problem vs the minimum reweighting cost")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, borderaxespad=0)
        fig.subplots_adjust(left=0.11, right=0.63, top=0.93, bottom=0.1)
        return _svg(fig, "klscatter")


def plot_kl_surprisal(summary: dict) -> str | None:
    """Step histograms of the per-token base surprisal of tuned and of base outputs, means marked."""
    kl = _kl_summary(summary)
    h = (kl or {}).get("surprisal_histogram")
    if not isinstance(h, dict):
        return None
    edges = np.array(_ints(h.get("edges")), dtype=float)
    counts = {m: np.nan_to_num(np.array(_ints(h.get(f"{m}_outputs")), dtype=float)) for m in ("tuned", "base")}
    if (edges.size < 2 or not np.isfinite(edges).all() or np.any(np.diff(edges) <= 0)
            or any(c.size != edges.size - 1 for c in counts.values())
            or sum(float(c.sum()) for c in counts.values()) <= 0):
        return None
    means = {m: (kl.get(f"surprisal_{m}_outputs") or {}) for m in ("tuned", "base")}
    x_lo, x_hi = float(edges[0]), float(edges[-1])
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.6, 4.2))
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        handles, ymax = [], 0.0
        for m, st, alpha in (("base", BASE_STYLE, 0.16), ("tuned", TUNED_STYLE, 0.14)):
            c = counts[m]
            total = float(c.sum())
            share = 100.0 * c / total if total > 0 else np.zeros_like(c)
            ymax = max(ymax, float(share.max()))
            ax.stairs(share, edges, fill=True, facecolor=st["color"], alpha=alpha, linewidth=0)
            if st["hatch"]:
                ax.stairs(share, edges, fill=True, facecolor="none", hatch=st["hatch"], edgecolor=st["color"],
                          alpha=0.5, linewidth=0)
            ax.stairs(share, edges, color=st["color"], linestyle=st["linestyle"], linewidth=1.8,
                      baseline=None)
            handles.append(Patch(facecolor=st["color"] + "40", hatch=st["hatch"] or None, edgecolor=st["color"],
                                 linestyle=st["linestyle"], linewidth=1.6,
                                 label=f"{m} outputs ({int(total)} samples)"))
        for m, st in (("base", BASE_STYLE), ("tuned", TUNED_STYLE)):
            d = means[m]
            mu = num(d.get("mean"))
            if not math.isfinite(mu):
                handles.append(Line2D([], [], linestyle="none", label=f"mean, {m} outputs: n/a"))
                continue
            lo, hi = num(d.get("lo")), num(d.get("hi"))
            ci = f" [{lo:.3f}, {hi:.3f}]" if math.isfinite(lo) and math.isfinite(hi) else ""
            ax.axvline(mu, color=st["color"], linestyle=(0, (1, 1.5)) if m == "tuned" else (0, (5, 2, 1, 2)),
                       linewidth=1.5, zorder=4)
            ax.plot([mu], [1.0], transform=trans, clip_on=False, marker=st["marker"], markersize=7,
                    color=st["color"], markeredgecolor="black", markeredgewidth=0.6, zorder=5)
            handles.append(Line2D([], [], color=st["color"], marker=st["marker"], markeredgecolor="black",
                                  markeredgewidth=0.6,
                                  linestyle=(0, (1, 1.5)) if m == "tuned" else (0, (5, 2, 1, 2)),
                                  label=f"mean over problems, {m}:\n{mu:.3f}{ci} nats/token"))
            x_lo, x_hi = min(x_lo, mu), max(x_hi, mu)
        pad = 0.02 * (x_hi - x_lo)
        ax.set_xlim(x_lo - pad, x_hi + pad)
        ax.set_ylim(0, ymax * 1.08 if ymax > 0 else 1.0)
        ax.set_xlabel("surprisal under the base: −log π₀ per token (nats/token, raw base distribution)")
        ax.set_ylabel("share of samples in the range (%)")
        ax.set_title("Base surprisal of tuned outputs vs the base's own outputs")
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, borderaxespad=0)
        fig.subplots_adjust(left=0.09, right=0.66, top=0.91, bottom=0.13)
        return _svg(fig, "klsurprisal")


def _short(text: str, width: int = 18) -> str:
    text = _tex_safe(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def plot_kl_singular(summary: dict, per_problem, limit: int = 60) -> str | None:
    """Bars of singular tokens per problem (only problems with any), sorted descending."""
    if _kl_summary(summary) is None:
        return None
    tok = _fcol(per_problem, "singular_tokens")
    if tok is None:
        return None
    tok = np.nan_to_num(tok)
    have = np.flatnonzero(tok > 0)
    if have.size == 0:
        return None
    order = have[np.argsort(-tok[have], kind="stable")]
    total_problems = order.size
    order = order[:limit]
    ids = (per_problem.column("problem_id").to_pylist() if "problem_id" in per_problem.column_names
           else list(range(per_problem.num_rows)))
    samples = _fcol(per_problem, "singular_samples")
    xs = np.arange(order.size)
    vals = tok[order]
    log = vals.max() / max(vals.min(), 1.0) > 50
    labels = [_short(str(ids[i])) for i in order]
    with plt.rc_context(_RC | {"axes.grid": False}):
        fig, ax = plt.subplots(figsize=(8.2, 4.4))
        ax.grid(axis="y")
        ax.bar(xs, vals, width=0.75, color=SINGULAR_STYLE["color"], alpha=0.85, hatch=SINGULAR_STYLE["hatch"],
               edgecolor="black", linewidth=0.5, label="singular tokens")
        if samples is not None:
            ax.plot(xs, np.nan_to_num(samples[order]), linestyle="none", marker="D", markersize=4.5,
                    markerfacecolor="white", markeredgecolor="black", markeredgewidth=0.9,
                    label="samples with a singular token")
        if log:
            ax.set_yscale("log")
            ax.set_ylim(0.7, vals.max() * 1.6)
        else:
            ax.set_ylim(0, vals.max() * 1.1)
        ax.set_xlim(-0.7, order.size - 0.3)
        ax.set_xticks(xs, labels, rotation=90, fontsize=7 if order.size > 25 else 8)
        ax.set_xlabel("problem (sorted by singular tokens, descending)")
        ax.set_ylabel("count (tokens or samples" + (", log scale)" if log else ")"))
        more = f"; top {order.size} of {total_problems} problems" if total_problems > order.size else ""
        ax.set_title(f"Tuned tokens with probability 0 under the base's decoding{more}")
        ax.legend(loc="upper right", frameon=True, framealpha=0.9)
        longest = max(len(t) for t in labels)
        fig.subplots_adjust(left=0.09, right=0.98, top=0.92, bottom=min(0.5, 0.14 + 0.014 * longest))
        return _svg(fig, "klsingular")


def all_plots(summary: dict, per_problem) -> dict[str, str | None]:
    """Every plot of the report by key; the kl_* plots are None when the summary has no KL account."""
    return {
        "passk": plot_passk(summary),
        "regimes": plot_transition(summary),
        "scatter": plot_scatter(summary, per_problem),
        "budget": plot_created_vs_budget(summary),
        "support": plot_support(summary),
        "kl_efficiency": plot_kl_efficiency(summary, per_problem),
        "kl_surprisal": plot_kl_surprisal(summary),
        "kl_singular": plot_kl_singular(summary, per_problem),
    }
