"""Shared look of the HTML report: Okabe-Ito palette, per-label styles, number formatting, CSS.

Colours come from the Okabe-Ito palette (safe for the common colour-vision deficiencies); every
series also differs by marker, line style or hatch, so the plots read in greyscale as well.
"""

from __future__ import annotations

import math

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#999999",
}

BASE_STYLE = {"color": OKABE_ITO["orange"], "linestyle": "--", "marker": "o", "hatch": "////"}
TUNED_STYLE = {"color": OKABE_ITO["blue"], "linestyle": "-", "marker": "s", "hatch": ""}
DIFF_STYLE = {"color": OKABE_ITO["bluish_green"], "linestyle": "-", "marker": "D"}

# label -> (colour, marker, filled, marker size in points)
LABEL_STYLES: dict[str, tuple[str, str, bool, float]] = {
    "elicited": (OKABE_ITO["blue"], "o", True, 4.0),
    "created": (OKABE_ITO["vermillion"], "^", True, 8.0),
    "lost": (OKABE_ITO["reddish_purple"], "v", True, 8.0),
    "unchanged": (OKABE_ITO["bluish_green"], "s", False, 4.0),
    "weakened": (OKABE_ITO["orange"], "D", False, 5.0),
    "unsolved": (OKABE_ITO["black"], "x", True, 5.0),
    "undetermined": (OKABE_ITO["grey"], "+", True, 6.0),
}
LABEL_ORDER = tuple(LABEL_STYLES)

# KL account plots: per-problem point kinds -> (colour, marker, filled, marker size in points)
KL_POINT_STYLES: dict[str, tuple[str, str, bool, float]] = {
    "finite": (OKABE_ITO["blue"], "o", True, 4.5),
    "dpi_violation": (OKABE_ITO["vermillion"], "D", True, 6.5),
    "infinite": (OKABE_ITO["reddish_purple"], "^", False, 7.5),
}
# lines of constant efficiency kl_min / KL_obs -> line style
KL_EFFICIENCY_LINES = ((1.0, "-"), (0.1, (0, (6, 3))), (0.01, (0, (2, 2))))
SINGULAR_STYLE = {"color": OKABE_ITO["vermillion"], "hatch": "xx"}


def num(x) -> float:
    """A number from summary.json or compare(): None/NaN -> nan, "inf"/"-inf" -> +-inf."""
    if x is None:
        return math.nan
    if isinstance(x, str):
        s = x.strip().lower()
        if s in ("inf", "+inf", "infinity"):
            return math.inf
        if s in ("-inf", "-infinity"):
            return -math.inf
        try:
            return float(s)
        except ValueError:
            return math.nan
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def fmt_num(x, digits: int = 3, signed: bool = False) -> str:
    """Fixed decimals; "n/a" for missing, "∞" for infinite."""
    v = num(x)
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def fmt_int(x) -> str:
    v = num(x)
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{int(round(v)):d}"


def fmt_ci(lo, hi, digits: int = 3, signed: bool = False) -> str:
    if digits == 0:
        return f"[{fmt_int(lo)}, {fmt_int(hi)}]"
    return f"[{fmt_num(lo, digits, signed)}, {fmt_num(hi, digits, signed)}]"


NEGATIVE_TILT = "lambda < 0: no positive temperature beta gives a negative tilt"
"""What to say of beta = 1/lambda when the fitted tilt is negative (the summary's beta is None then,
:mod:`supportscope.analysis.gibbs_fit`)."""


def beta_text(g: dict) -> str:
    """beta = 1/lambda of a Gibbs summary as text: ``"beta = 0.500"``, ``"beta = inf"`` for
    lambda = 0 (no tilt), or :data:`NEGATIVE_TILT` for lambda < 0 (it used to say "beta = inf")."""
    lam, beta = num(g.get("lambda")), num(g.get("beta"))
    if math.isfinite(beta):
        return f"beta = {beta:.3f}"
    if lam == 0:
        return "beta = inf"
    return NEGATIVE_TILT if lam < 0 else "beta = n/a"


def fmt_est_ci(x, lo, hi, digits: int = 3, signed: bool = False) -> str:
    if all(math.isnan(num(v)) for v in (x, lo, hi)):
        return "n/a"
    est = fmt_int(x) if digits == 0 else fmt_num(x, digits, signed)
    return f"{est} {fmt_ci(lo, hi, digits, signed)}"


def fmt_pct(x, digits: int = 1, signed: bool = False) -> str:
    v = num(x)
    if not math.isfinite(v):
        return "n/a"
    return f"{100 * v:+.{digits}f}%" if signed else f"{100 * v:.{digits}f}%"


CSS = """
:root{--fg:#1a1a1a;--muted:#555;--line:#d0d0d0;--bg:#fff;--accent:#0072B2;--warn:#D55E00}
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 color:var(--fg);background:var(--bg);margin:0 auto;max-width:1100px;padding:1.5rem 2rem 4rem}
h1{font-size:1.5rem;margin:.2rem 0 .3rem}
h2{font-size:1.25rem;margin:2.2rem 0 .6rem;padding-bottom:.2rem;border-bottom:2px solid var(--line)}
h3{font-size:1.05rem;margin:1.2rem 0 .4rem}
p.sub{color:var(--muted);margin:0 0 1rem}
.verdict{border-left:6px solid var(--accent);background:#f1f6fa;padding:.9rem 1.2rem;
 font-size:1.12rem;margin:.6rem 0 .8rem}
.verdict .kind{display:inline-block;font-weight:700;text-transform:uppercase;letter-spacing:.04em;
 font-size:.85rem;color:#fff;background:var(--accent);padding:.05rem .5rem;border-radius:3px;
 margin-bottom:.4rem}
.notes{border-left:6px solid var(--warn);background:#fdf3ec;padding:.5rem 1rem .5rem 2rem;margin:.6rem 0}
.notes li{margin:.2rem 0}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1.2rem;margin:.4rem 0}
dl.facts dt{font-weight:600;color:var(--muted)}
dl.facts dd{margin:0;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-variant-numeric:tabular-nums;font-size:.9rem}
caption{caption-side:top;text-align:left;font-weight:600;padding:.2rem 0}
th,td{border-bottom:1px solid var(--line);padding:.25rem .6rem;text-align:right;vertical-align:top}
th{background:#f4f4f4;border-bottom:2px solid #bbb}
td.l,th.l{text-align:left}
td.ids{text-align:left;max-width:28rem;word-break:break-word;font-size:.85rem}
tbody tr:nth-child(even){background:#fafafa}
table.problems{font-size:.82rem}
table.problems td{white-space:nowrap;padding:.2rem .45rem}
table.problems th{padding:.2rem .45rem}
table.problems td.wrap{white-space:normal;min-width:8rem}
.undet{font-style:italic}
.scroll{overflow-x:auto}
figure{margin:1rem 0 1.4rem}
figure svg{width:100%;height:auto;display:block}
figcaption{color:var(--muted);font-size:.9rem;margin-top:.3rem}
pre{background:#f6f6f6;border:1px solid var(--line);padding:.5rem .8rem;overflow-x:auto;
 font-size:.85rem;white-space:pre-wrap;overflow-wrap:anywhere}
code{font-size:.9em}
.muted{color:var(--muted)}
table.kl td.q{white-space:nowrap}
table.kl td.v{white-space:nowrap}
table.kl td.v .sub{display:block;white-space:normal;color:var(--muted);font-size:.85rem}
table.kl td.v .ids{max-width:22rem;margin-left:auto;word-break:break-word}
table.kl td.meaning{text-align:left;color:var(--muted);font-size:.85rem;min-width:16rem}
p.kl-note{border-left:6px solid var(--warn);background:#fdf3ec;padding:.5rem 1rem;margin:.6rem 0}
footer{margin-top:3rem;color:var(--muted);font-size:.85rem}
""".strip()
