"""Figure -> inline SVG: the shared matplotlib settings and the serialiser every plot ends with.

Importing this module selects the non-interactive Agg backend before pyplot is loaded.
"""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

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
