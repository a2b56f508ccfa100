"""The report of a multi-model analysis (``analysis.many``): one self-contained page.

Sections: verdict; models (one row per tuned model, linking to its pairwise report); frontier
(pass@1 vs pass@K plane with the base's elicitation frontier, when computed); series (small
multiples over the steps or methods, with bands); trajectory (classes, examples, regime flow; for
an ordered trajectory only); differences between tuned models; contrasts; config and versions.
"""

from __future__ import annotations

from supportscope.report.html import page
from supportscope.report.html_blocks import _dl, _e, _figure, _table
from supportscope.report.many_terminal import above_text
from supportscope.report.sections import config_section
from supportscope.report.style import fmt_num


def _ci(d: dict | None, digits: int = 3, signed: bool = False) -> str:
    if not d or d.get("value") is None:
        return "–"
    v = fmt_num(d["value"], digits, signed)
    if d.get("lo") is None or d.get("hi") is None:
        return v
    return f"{v} [{fmt_num(d['lo'], digits, signed)}, {fmt_num(d['hi'], digits, signed)}]"


def _est(d: dict | None) -> dict | None:
    """The frontier block's {estimate, lo, hi} as {value, lo, hi}."""
    return None if not d else {"value": d.get("estimate"), "lo": d.get("lo"), "hi": d.get("hi")}


def _verdict(s: dict) -> str:
    kinds = s["verdict"]["kinds"]
    rows = [[_e(n), _e(k)] for n, k in kinds.items()]
    return (f'<p class="verdict">{_e(s["verdict"]["sentence"])}</p>'
            + _table(["model", "pairwise verdict"], rows, left={0, 1}))


def _models(s: dict) -> str:
    k = s["base_passk"]["k"]
    folders = s.get("model_folders") or {}
    head = ["model", "step", "pass@1", f"pass@{k}", f"base pass@{k} − pass@1", "created", "elicited", "lost",
            "count test (created)", "λ", "above frontier / ceiling at k", "KL", "crossover k", "verdict"]
    rows = []
    for r in s["models"]:
        name = _e(r["name"])
        if r["name"] in folders:
            name = f'<a href="{_e(folders[r["name"]])}/report.html">{name}</a>'
        t = r["creation_test"]["created"]
        test = "established" if t["claimed"] else (f"p = {fmt_num(t['p_count'], 2)}" if t["p_count"] is not None else "–")
        kl = (r.get("kl") or {}).get("kl")
        rows.append([name, _e("" if r["step"] is None else r["step"]), _ci(r["pass1"]), _ci(r["passK"]),
                     _ci(r["efficiency_gap"], signed=True), _ci(r["created"], 0), _e(r["labels"]["elicited"]),
                     _ci(r["lost"], 0), _e(test), _ci(r["gibbs_lambda"], 2), _e(above_text(r.get("frontier"))), _ci(kl, 3),
                     _e(r["crossover"]["k"] if r["crossover"]["k"] is not None else "none"), _e(r["verdict"]["kind"])])
    base = s["base_passk"]
    cap = (f"Base {_e(s['base'])}: pass@1 {_ci(base['pass1'])}, pass@{k} {_ci(base['passK'])}. Intervals: "
           "paired bootstrap over problems, the same resampled problems for every model.")
    return _table(head, rows, left={0, 13}, caption=cap)


def _frontier(s: dict) -> str:
    f = s.get("frontier")
    if not f:
        return '<p class="muted">The elicitation frontier was not computed for this summary.</p>'
    from supportscope.report.plots.frontier import plot_frontier

    order = s["ordering"]["names"] if s["ordering"]["trajectory"] else None
    svg = plot_frontier(f, order=order)
    k = f["budget"]
    rows = [[_e(m["name"]), _ci(_est(m["lambda_star"]), 2)] + [_ci(_est(b["gap"]), 3, True) for b in m["by_k"]]
            + [_e(m["first_k_above_frontier"] or "no"), _e(m["first_k_above_ceiling"] or "no")] for m in f["models"]]
    head = ["model", "λ*"] + [f"gap at k={b['k']}" for b in f["models"][0]["by_k"]] + ["above frontier at k",
                                                                                        "above ceiling at k"]
    cc, c = f["ceiling_certified"], f["ceiling"]
    return (_figure(svg, f"pass@1 against pass@{k}. The curve F is what a uniform reweighting (Gibbs tilt λ) of the "
                    "base reaches, each problem's rate averaged over its Jeffreys posterior; each model sits at its "
                    "posterior-mean pass@1 and pass@K. A model above the curve reaches more at K than a tilt with its "
                    f"pass@1 would; below it, it is narrower (the pass@k crossover). The certified ceiling C+ = "
                    f"{fmt_num(cc['estimate'])} is the share of problems the base is not certified unable to reach at K "
                    f"(Clopper-Pearson upper bound >= eps(K)); pass@K above it means problems outside the base's "
                    f"reach were solved. The posterior ceiling C = {fmt_num(c['estimate'])} (the expected share with "
                    "p0 >= eps(K)) can lie below the base's own point: problems just above eps(K) count about "
                    "half in C and fully in pass@K.", "The frontier plot")
            + _table(head, rows, left={0}, caption="gap at k: the model's pass@k minus the frontier at its own "
                     "λ* (the tilt with its pass@1), with paired-bootstrap intervals; \"above at k\": the first k "
                     "whose lower bound (at alpha over the k's searched) is above 0. Creation itself is the count "
                     "test's claim (models table)."))


def _series(s: dict) -> str:
    from supportscope.report.plots.series import plot_series

    return _figure(plot_series(s), "Each panel: the statistic per model with its paired-bootstrap band; the "
                   "dashed line is the base.", "The series plot")


def _trajectory(s: dict) -> str:
    t = s.get("trajectory")
    if not t:
        return '<p class="muted">The models are a set of methods, not an ordered trajectory.</p>'
    from supportscope.report.plots.series import plot_regime_flow

    c = t["classes"]
    parts = [_dl([(_e(k), _e(v)) for k, v in c.items()])]
    parts.append(_table(["checkpoint", "first created here", "first lost here"],
                        [[_e(n), _e(t["created_at"][n]), _e(t["lost_at"][n])] for n in s["ordering"]["names"]],
                        left={0}))
    ex = [e for cls in ("created-kept", "created-then-lost", "lost", "lost-then-recovered") for e in t["examples"][cls][:10]]
    if ex:
        parts.append("<ul>" + "".join(f"<li>{_e(e)}</li>" for e in ex) + "</ul>")
    parts.append(_figure(plot_regime_flow(s), "Problems per regime at the base and each checkpoint; bands are "
                         "problems moving between regimes from one checkpoint to the next.", "The regime-flow plot"))
    return "\n".join(parts)


def _differences(s: dict) -> str:
    rows = [[_e(d["b"]), _e(d["a"]), _ci(d["pass1"], signed=True), _ci(d["passk"], signed=True),
             _ci(d["created"], 0, True), _ci(d["lost"], 0, True)] for d in s["differences"]]
    if not rows:
        return '<p class="muted">One tuned model: no differences.</p>'
    k = s["base_passk"]["k"]
    return _table(["model", "minus", "Δ pass@1", f"Δ pass@{k}", "Δ created", "Δ lost"], rows, left={0, 1},
                  caption="Paired-bootstrap intervals of differences between tuned models.")


def _contrasts(s: dict) -> str:
    cs = s.get("contrasts") or []
    if not cs:
        return '<p class="muted">No contrast asked for (--contrast T1 T2).</p>'
    folders = s.get("contrast_folders") or []
    out = []
    for i, c in enumerate(cs):
        link = f' (<a href="{_e(folders[i])}/report.html">report</a>)' if i < len(folders) else ""
        out.append(f"<p><b>{_e(c['tuned'])}</b> against <b>{_e(c['base'])}</b>{link}: {_e(c['verdict']['sentence'])}</p>")
    return "\n".join(out)


def _truth(s: dict) -> str:
    """The demo's check against exact labels (``ground_truth``), when present."""
    g = s.get("ground_truth")
    if not g:
        return ""
    rows = [[_e(m), _e(x["n_determined"]), fmt_num(x["agreement"]), _e(x["n_created_estimated"]),
             _e(x["n_created_exact"]), fmt_num(x["false_created_rate"])] for m, x in g["models"].items()]
    facts = [(_e(k.replace("_", " ")), _e(v)) for k, v in g.items() if k not in ("models", "what", "classes_exact")]
    return (f"<p>{_e(g['what'])}.</p>" + _table(["model", "determined", "agreement", "created (estimated)",
                                                 "created (exact)", "false created rate"], rows, left={0})
            + _dl(facts + ([("exact classes", _e(g["classes_exact"]))] if "classes_exact" in g else [])))


def build_many_html(summary: dict, per_problem=None) -> str:
    s = summary
    version = (s.get("versions") or {}).get("supportscope")
    if version is None:
        from supportscope import __version__ as version
    sections = [("verdict", "Verdict", _verdict(s), "Verdict"), ("models", "Models", _models(s), "Models"),
                ("frontier", "Elicitation frontier", _frontier(s), "Frontier"),
                ("series", "Across models", _series(s), "Series"),
                ("trajectory", "Trajectory of problems", _trajectory(s), "Trajectory"),
                ("differences", "Differences between models", _differences(s), "Differences"),
                ("contrasts", "Contrasts", _contrasts(s), "Contrasts"),
                *([("truth", "Against exact labels", _truth(s), "Truth")] if s.get("ground_truth") else []),
                ("config", "Config and versions", config_section(s), "Config")]
    n = len(s["models"])
    return page(f"supportscope: {s['base']} → {n} models", f"{_e(s['base'])} → {n} tuned models", sections, version)
