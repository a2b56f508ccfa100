"""Plot 6: the KL account (observed KL vs kl_min, base surprisal histograms, singular tokens)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
from matplotlib.transforms import blended_transform_factory

from supportscope.report.plots._svg import _RC, _svg, plt
from supportscope.report.plots._common import _ints, _tex_safe
from supportscope.report.style import (BASE_STYLE, KL_EFFICIENCY_LINES, KL_POINT_STYLES, SINGULAR_STYLE,
                                       TUNED_STYLE, num)


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
                                ("dpi_violation", dpi, "data-processing violation\n(BH: KL significantly < kl_min)")):
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
