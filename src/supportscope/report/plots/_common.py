"""Small helpers shared by several plot families: numbers from the summary, axes, text."""

from __future__ import annotations

import math

from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

from supportscope.report.style import num


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
