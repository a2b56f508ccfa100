"""Plots of a multi-model analysis: small multiples over the models (trajectory steps or methods)
with their bands, and the regime flow of problems across checkpoints."""

from __future__ import annotations

import numpy as np

from supportscope.report.plots._common import _tex_safe
from supportscope.report.plots._svg import _RC, _svg, plt
from supportscope.report.style import OKABE_ITO, num

FLOW_COLORS = {"basin": OKABE_ITO["blue"], "tail": OKABE_ITO["sky_blue"], "inaccessible": OKABE_ITO["vermillion"],
               "undetermined": "#bbbbbb"}


def _x(s: dict) -> tuple[np.ndarray, list[str], str]:
    """x positions, tick labels and axis label: steps for a trajectory with steps, else indices."""
    rows = s["models"]
    steps = [r["step"] for r in rows]
    if s["ordering"]["trajectory"] and all(st is not None for st in steps):
        return np.array(steps, dtype=float), [str(st) for st in steps], "training step"
    return np.arange(len(rows), dtype=float), [_tex_safe(r["name"]) for r in rows], ""


def _panel(ax, x, vals, title, color, base=None, fmt_ticks=None):
    v = np.array([num((d or {}).get("value")) for d in vals], dtype=float)
    lo = np.array([num((d or {}).get("lo")) for d in vals], dtype=float)
    hi = np.array([num((d or {}).get("hi")) for d in vals], dtype=float)
    ax.plot(x, v, marker="o", color=color, lw=1.4, ms=4)
    ok = np.isfinite(lo) & np.isfinite(hi)
    if ok.any():
        ax.fill_between(x[ok], lo[ok], hi[ok], color=color, alpha=0.18, lw=0)
    if base is not None and np.isfinite(num(base)):
        ax.axhline(num(base), color=OKABE_ITO["orange"], ls="--", lw=1, label="base")
        ax.legend(loc="best")
    ax.set_title(title)


def plot_series(s: dict) -> str | None:
    """pass@1, pass@K, efficiency gap, created / lost counts, Gibbs lambda and (when scored) the KL to
    the base, one panel each, against the step (or per model), with paired-bootstrap bands."""
    rows = s.get("models") or []
    if not rows:
        return None
    x, ticks, xlabel = _x(s)
    k = s["base_passk"]["k"]
    has_kl = any(r.get("kl") and (r["kl"].get("kl") or {}).get("value") is not None for r in rows)
    panels = [
        ([r["pass1"] for r in rows], "pass@1", OKABE_ITO["blue"], s["base_passk"]["pass1"]["value"]),
        ([r["passK"] for r in rows], f"pass@{k}", OKABE_ITO["blue"], s["base_passk"]["passK"]["value"]),
        ([r["efficiency_gap"] for r in rows], f"base pass@{k} - pass@1", OKABE_ITO["bluish_green"], None),
        ([r["created"] for r in rows], "created problems", OKABE_ITO["vermillion"], None),
        ([r["lost"] for r in rows], "lost problems", OKABE_ITO["reddish_purple"], None),
        ([r["gibbs_lambda"] for r in rows], "Gibbs tilt lambda", OKABE_ITO["yellow"], None),
    ]
    if has_kl:
        panels.append(([(r.get("kl") or {}).get("kl") for r in rows], "KL(tuned || base) per problem",
                       OKABE_ITO["black"], None))
    ncol = 3
    nrow = -(-len(panels) // ncol)
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(nrow, ncol, figsize=(10.5, 2.9 * nrow), squeeze=False)
        for ax, (vals, title, color, base) in zip(axes.ravel(), panels):
            _panel(ax, x, vals, title, color, base)
            if not xlabel:
                ax.set_xticks(x)
                ax.set_xticklabels(ticks, rotation=30, ha="right", fontsize=7)
            else:
                ax.set_xlabel(xlabel)
        for ax in axes.ravel()[len(panels):]:
            ax.set_visible(False)
        fig.tight_layout()
        return _svg(fig, "series")


def plot_regime_flow(s: dict) -> str | None:
    """Stacked bars: problems per regime (basin / tail / inaccessible / undetermined) at the base and
    at each checkpoint, with the transitions between consecutive columns drawn as bands whose width
    is the number of problems moving (a Sankey-style flow)."""
    t = s.get("trajectory")
    if not t:
        return None
    counts, flows, cols = t["regime_counts"], t["regime_flow"], t["columns"]
    states = list(FLOW_COLORS)
    q = sum(counts[0].values()) or 1
    width = 0.28
    with plt.rc_context(_RC | {"axes.grid": False}):
        fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(cols) + 2), 4.2))
        tops = []
        for j, c in enumerate(counts):
            y, pos = 0.0, {}
            for st in states:
                h = c.get(st, 0) / q
                ax.bar(j, h, bottom=y, width=width, color=FLOW_COLORS[st], edgecolor="white", lw=0.5,
                       label=st if j == 0 else None)
                pos[st] = y
                y += h
            tops.append(pos)
        for j, f in enumerate(flows):
            out_y = dict(tops[j])
            in_y = dict(tops[j + 1])
            for a in states:
                for b in states:
                    m = f.get(a, {}).get(b, 0) / q
                    if m <= 0:
                        continue
                    y0, y1 = out_y[a], in_y[b]
                    xs = np.linspace(j + width / 2, j + 1 - width / 2, 20)
                    sm = (1 - np.cos(np.linspace(0, np.pi, 20))) / 2
                    lo = y0 + (y1 - y0) * sm
                    ax.fill_between(xs, lo, lo + m, color=FLOW_COLORS[a], alpha=0.25 if a == b else 0.55, lw=0)
                    out_y[a] += m
                    in_y[b] += m
        ax.set_xticks(range(len(cols)))
        ax.set_xticklabels([_tex_safe(c) for c in cols], rotation=30, ha="right", fontsize=7)
        ax.set_ylabel("share of problems")
        ax.set_ylim(0, 1)
        ax.set_title(f"regimes at K = {s['budget']['K']}: base and each checkpoint")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        return _svg(fig, "flow")
