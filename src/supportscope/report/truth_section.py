"""Report section of the organism's ground truth (only when the summary has `ground_truth`, which
`supportscope demo` adds): agreement of estimated with exact labels, the false-created rate, the
confusion matrix, what happened to the base's singular problems, and exact p per family."""

from __future__ import annotations

from supportscope.report.html_blocks import _dl, _e, _table
from supportscope.report.style import fmt_int, fmt_num, fmt_pct


def truth_section(s: dict, per_problem=None) -> str:
    """Ground truth: estimated labels against the exact ones (shown only when the summary has them)."""
    gt = s["ground_truth"]
    sb = gt.get("singular_base") or {}
    items = [
        ("Agreement on determined problems", f"{fmt_pct(gt.get('agreement'))} of {fmt_int(gt.get('n_determined'))} "
                                             f"(strict equality {fmt_pct(gt.get('strict_agreement'))}); "
                                             f"{fmt_int(gt.get('n_undetermined'))} undetermined"),
        ("False “created”", f"{fmt_int(gt.get('n_false_created'))} "
                            f"({fmt_pct(gt.get('false_created_rate'))} of the problems not created; level α = "
                            f"{fmt_num(gt.get('alpha'))})"),
        ("Created", f"{fmt_int(gt.get('n_created_estimated'))} estimated, {fmt_int(gt.get('n_created_exact'))} exact, "
                    f"{fmt_int(gt.get('n_missed_created'))} exact-created labelled otherwise"),
        ("Base singular problems (exact p₀ = 0)", f"{fmt_int(sb.get('singular_base'))}; left p = 0: "
                                                  f"{fmt_int(sb.get('moved_off_zero'))}; accessible at K: "
                                                  f"{fmt_int(sb.get('accessible_now'))}; largest tuned p: "
                                                  f"{fmt_num(sb.get('max_p_tuned'), 4)}"
                                                  + ("" if sb.get("min_raw_p0_accessible_now") is None else
                                                     "; smallest raw-sampling p₀ of those now accessible: "
                                                     f"{sb['min_raw_p0_accessible_now']:.2g}")),
    ]
    conf = gt["confusion"]
    rows = [[_e(r)] + [str(x) if x else "·" for x in counts] for r, counts in zip(conf["rows"], conf["counts"])
            if sum(counts)]
    matrix = _table(["estimated \\ exact"] + [_e(c) for c in conf["cols"]], rows, left={0},
                    caption="Estimated labels (rows) against exact labels (columns)")
    fam_rows = [[_e(f), fmt_int(d["problems"]), fmt_num(d["p_exact_base"]), fmt_num(d["p_exact_tuned"]),
                 _e(", ".join(f"{k} {v}" for k, v in d["labels_estimated"].items())),
                 _e(", ".join(f"{k} {v}" for k, v in d["labels_exact"].items()))]
                for f, d in (gt.get("by_family") or {}).items()]
    fams = _table(["family", "problems", "mean exact p₀", "mean exact p₁", "estimated labels", "exact labels"],
                  fam_rows, left={0, 4, 5}, caption="Per family")
    what = str(gt.get("what", ""))
    intro = (f"<p>{_e(what[:1].upper() + what[1:])}. An estimated label agrees when its claim holds under the exact "
             "probabilities; “unchanged” (no significant difference) agrees with any exact label between two "
             "accessible states; undetermined problems claim nothing.</p>")
    return intro + _dl(items) + matrix + fams


__all__ = ["truth_section"]
