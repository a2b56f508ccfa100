"""HTML building blocks of the report: escaping, figures, tables, definition lists, sections, and
data values as text. Every string from the data goes through `_e` (HTML-escaped)."""

from __future__ import annotations

import math
from html import escape

from supportscope.report.style import fmt_int, fmt_num, num


def _e(x) -> str:
    return escape("" if x is None else str(x), quote=True)


def _figure(svg: str | None, caption: str, what: str = "This plot") -> str:
    if not svg:
        return f'<p class="muted">{_e(what)} is not available for this summary.</p>'
    return f"<figure>\n{svg}\n<figcaption>{caption}</figcaption>\n</figure>"


def _table(head: list[str], rows: list[list[str]], left: set[int] = frozenset(), caption: str = "",
           cls: dict[int, str] | None = None, table_class: str = "") -> str:
    """head and cells are already-escaped HTML; `left`: left-aligned columns; `cls`: extra classes."""
    cls = cls or {}

    def attr(j):
        c = " ".join(x for x in ("l" if j in left else "", cls.get(j, "")) if x)
        return f' class="{c}"' if c else ""

    tc = f' class="{table_class}"' if table_class else ""
    out = [f'<div class="scroll"><table{tc}>']
    if caption:
        out.append(f"<caption>{caption}</caption>")
    out.append("<thead><tr>" + "".join(f"<th{attr(j)}>{h}</th>" for j, h in enumerate(head)) + "</tr></thead>")
    out.append("<tbody>")
    for r in rows:
        out.append("<tr>" + "".join(f"<td{attr(j)}>{c}</td>" for j, c in enumerate(r)) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def _dl(items: list[tuple[str, str]]) -> str:
    """items: (escaped term, escaped description)."""
    return '<dl class="facts">' + "".join(f"<dt>{t}</dt><dd>{d}</dd>" for t, d in items) + "</dl>"


def _section(sid: str, title: str, body: str) -> str:
    return f'<section>\n<h2 id="{sid}">{title}</h2>\n{body}\n</section>'


def _level(s: dict) -> str:
    a = num((s.get("budget") or {}).get("alpha", 0.05))
    return f"{100 * (1 - a):.0f}%" if math.isfinite(a) else "95%"


def _raw(v) -> str:
    """A config value as recorded: floats to 6 significant digits, None as "none"."""
    if v is None:
        return "none"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float) or (type(v).__module__ == "numpy" and not isinstance(v, str)):
        x = num(v)
        return fmt_num(x) if not math.isfinite(x) else f"{x:.6g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_raw(x) for x in v)
    return str(v)


def _plain(v) -> str:
    if isinstance(v, float) or (v is not None and type(v).__module__ == "numpy"):
        x = num(v)
        return fmt_num(x) if math.isfinite(x) and not float(x).is_integer() else fmt_int(x)
    if v is None:
        return "n/a"
    return str(v)


def _pretty(v, indent: int = 0) -> str:
    pad = "  " * indent
    if isinstance(v, dict):
        return "\n".join(f"{pad}{k}:" + ((" " + _plain(x)) if not isinstance(x, (dict, list))
                                       else "\n" + _pretty(x, indent + 1)) for k, x in v.items())
    if isinstance(v, (list, tuple)):
        if all(not isinstance(x, (dict, list)) for x in v):
            more = f", … ({len(v)} values)" if len(v) > 20 else ""
            return pad + ", ".join(_plain(x) for x in v[:20]) + more
        return "\n".join(_pretty(x, indent) + ("\n" + pad + "-" if i < len(v) - 1 else "")
                         for i, x in enumerate(v))
    return pad + _plain(v)
