"""Plots of the HTML report, each returned as an inline SVG string (vector, text kept as text).

One function per plot; each takes the summary dict (from `compare()` or read back from
summary.json, where infinities are "inf"/"-inf" and NaN is null) and, where needed, the
per-problem pyarrow Table. A function returns None when the summary lacks what it plots.

The SVGs are made for inlining into one HTML page: no XML prolog, DOCTYPE, metadata or
external reference, and every element id carries a per-plot prefix so that several SVGs in
one document never share an id. Each report section draws its own plots (section_registry).
"""

from __future__ import annotations

from supportscope.report.plots import _svg  # noqa: F401  (first: selects the Agg backend)
from supportscope.report.plots.budget import plot_created_vs_budget
from supportscope.report.plots.frontier import plot_frontier
from supportscope.report.plots.kl import plot_kl_efficiency, plot_kl_singular, plot_kl_surprisal
from supportscope.report.plots.passk import plot_passk
from supportscope.report.plots.regimes import plot_transition
from supportscope.report.plots.scatter import plot_scatter
from supportscope.report.plots.support import plot_support

__all__ = ["plot_created_vs_budget", "plot_frontier", "plot_kl_efficiency", "plot_kl_singular", "plot_kl_surprisal",
           "plot_passk", "plot_scatter", "plot_support", "plot_transition"]

