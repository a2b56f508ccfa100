"""The report's table of the most interesting problems (created and lost first, then the largest
changes)."""

from __future__ import annotations

import math

from supportscope.report.html_blocks import _e, _table
from supportscope.report.style import fmt_est_ci, fmt_int, fmt_num, num

N_INTERESTING = 50


def interesting_problems(per_problem, limit: int = N_INTERESTING) -> list[dict]:
    """All created and lost problems, then the largest |p_tuned - p_base|; at least `limit` rows."""
    if per_problem is None or per_problem.num_rows == 0:
        return []
    rows = per_problem.to_pylist()

    def gap(r):
        d = abs(num(r.get("p_tuned")) - num(r.get("p_base")))
        return d if math.isfinite(d) else -1.0

    key = {"created": 0, "lost": 1}
    rows.sort(key=lambda r: (key.get(r.get("label"), 2), -gap(r)))
    n_special = sum(1 for r in rows if r.get("label") in key)
    return rows[:max(limit, n_special)]


def _regime_cell(r: dict, which: str) -> str:
    reg = r.get(f"regime_{which}")
    pos = r.get(f"regime_{which}_possible")
    if reg == "undetermined" and pos:
        return f'<span class="undet">{_e(str(pos).replace("|", "/"))}?</span>'
    return _e(reg)


def problems_section(s: dict, per_problem) -> str:
    """Most interesting problems: the rows of `interesting_problems`, p̂ with intervals, regimes and labels."""
    rows = interesting_problems(per_problem)
    if not rows:
        return '<p class="muted">No per-problem table.</p>'
    out = []
    for r in rows:
        lab = r.get("label") or ""
        lab_cell = _e(lab)
        if lab == "undetermined" and r.get("label_possible"):
            lab_cell += f' <span class="muted">({_e(str(r["label_possible"]).replace("|", "/"))})</span>'
        origin = r.get("created_from")
        if lab == "created" and origin:
            origin = "inaccessible" if origin == "unknown" else origin
            lab_cell += f' <span class="muted">(from {_e(origin)})</span>'
        need = num(r.get("n_needed_label"))
        d = num(r.get("p_tuned")) - num(r.get("p_base"))
        out.append([
            _e(r.get("problem_id")),
            f"{fmt_int(r.get('c_base'))}/{fmt_int(r.get('n_base'))}",
            fmt_est_ci(r.get("p_base"), r.get("p_base_lo"), r.get("p_base_hi")),
            f"{fmt_int(r.get('c_tuned'))}/{fmt_int(r.get('n_tuned'))}",
            fmt_est_ci(r.get("p_tuned"), r.get("p_tuned_lo"), r.get("p_tuned_hi")),
            fmt_num(d, signed=True),
            _regime_cell(r, "base") + " → " + _regime_cell(r, "tuned"),
            lab_cell,
            "—" if need == 0 or math.isnan(need) else fmt_int(need),
            _e(r.get("tilt_flag") or ""),
        ])
    total = per_problem.num_rows
    intro = (f"<p>{len(rows)} of {total} problems: every created and lost problem first, then the largest "
             "changes |p̂ tuned − p̂ base|. p̂ with its Clopper–Pearson interval; a regime such as "
             "“basin/tail?” is undetermined between the two; “n to decide” is the n per model that "
             "would decide an undetermined label.</p>")
    table = _table(["problem", "base c/n", "base p̂ [CI]", "tuned c/n", "tuned p̂ [CI]", "Δp̂",
                    "regime base → tuned", "label", "n to decide", "tilt flag"],
                   out, left={0, 6, 7, 9}, cls={6: "wrap", 7: "wrap"}, table_class="problems")
    return intro + table
