"""The report's sections from verdict to Gibbs fit, and the config section: each a function
``(summary, per_problem) -> body`` returning the HTML inside one <section> (drawing its own plot,
an SVG string or None); `section_registry.SECTIONS` names them and gives each its heading."""

from __future__ import annotations

import math
import shlex

from supportscope.report.html_blocks import _dl, _e, _figure, _level, _plain, _raw, _table
from supportscope.report.plots import (plot_created_vs_budget, plot_passk, plot_scatter, plot_support,
                                      plot_transition)
from supportscope.report.style import LABEL_ORDER, NEGATIVE_TILT, fmt_ci, fmt_est_ci, fmt_int, fmt_num, fmt_pct, num

_LEASH_MEANING = {
    "SRR": "support retention rate P/(P+S): share of the base's solved problems the tuned model keeps",
    "NDR": "net discovery rate E/(P+E): share of the tuned model's solved problems that are new",
    "NSCR": "net support change rate (E−S)/(P+E+S): net growth (+) or shrinkage (−) of the support",
    "SDS": "support dynamic score: harmonic mean of SRR and NDR",
}


# --------------------------------------------------------------------------------- sections
def verdict_section(s: dict, per_problem=None) -> str:
    """Verdict: the verdict sentence, the facts of the comparison (models, n, budgets, α) and notes."""
    v = s.get("verdict") or {}
    b = s.get("budget") or {}
    nb, nt = s.get("n_base") or {}, s.get("n_tuned") or {}

    def nrange(d):
        lo, hi = fmt_int(d.get("min")), fmt_int(d.get("max"))
        return lo if lo == hi else f"{lo}–{hi}"

    facts = [
        ("Models", f"{_e(s.get('base', 'base'))} → {_e(s.get('tuned', 'tuned'))}"),
        ("Problems", fmt_int(s.get("n_problems"))),
        ("Samples per problem", f"base {nrange(nb)}, tuned {nrange(nt)}"),
        ("Audit budget K", f"{fmt_int(b.get('K'))} (ε(K) = {fmt_num(b.get('eps_K'), 4)}; "
                           f"largest certifiable K = {fmt_int(b.get('K_certifiable'))})"),
        ("Basin budget k<sub>b</sub>", f"{fmt_int(b.get('basin_budget'))} "
                                       f"(ε = {fmt_num(b.get('eps_basin'), 4)})"),
        ("ζ (failure tolerance)", _e(b.get("zeta", "n/a"))),
        ("α (test and interval level)", f"{_e(b.get('alpha', 'n/a'))} ({_level(s)} intervals)"),
    ]
    body = [f'<div class="verdict"><span class="kind">{_e(v.get("kind", "no verdict"))}</span>'
            f'<p>{_e(v.get("sentence", "No verdict in this summary."))}</p></div>', _dl(facts)]
    notes = [n for n in (s.get("notes") or []) if n]
    if notes:
        body.append('<h3>Notes</h3>\n<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    return "\n".join(body)


def _crossover_sentence(s: dict) -> str:
    cv = s.get("curves") or {}
    cr = cv.get("crossover")
    if not cr:
        return "No crossover is defined: both models have the same pass@1."
    upto = fmt_int(cr.get("searched_up_to", cv.get("n_min")))
    share = fmt_pct(cr.get("share_of_replicates_with_crossover"))
    direction = str(cr.get("direction", ""))
    if cr.get("k") is None:
        ahead = "tuned model" if direction.startswith("base") else "base model"
        return (f"No crossover up to k = {upto}: the {_e(ahead)} stays ahead at every k "
                f"({share} of bootstrap replicates show a crossover).")
    lo = fmt_int(cr.get("lo")) if math.isfinite(num(cr.get("lo"))) else "n/a"
    hi = fmt_int(cr.get("hi")) if math.isfinite(num(cr.get("hi"))) else f"&gt; {upto}"
    who = _e(direction.capitalize() if direction else "The curves cross")
    return (f"Crossover: {who} at k = <strong>{fmt_int(cr.get('k'))}</strong> [{lo}, {hi}] "
            f"({_level(s)} interval; {share} of bootstrap replicates cross over by k = {upto}).")


def passk_section(s: dict, per_problem=None) -> str:
    """pass@k: the pooled curves plot, the crossover sentence and the pass@k table."""
    svg = plot_passk(s)
    lvl = _level(s)
    rows = []
    for r in s.get("passk") or []:
        rows.append([fmt_int(r.get("k")),
                     fmt_est_ci(r.get("base"), r.get("base_lo"), r.get("base_hi")),
                     fmt_est_ci(r.get("tuned"), r.get("tuned_lo"), r.get("tuned_hi")),
                     fmt_est_ci(r.get("difference"), r.get("difference_lo"), r.get("difference_hi"),
                                signed=True)])
    table = _table(["k", f"base {_e(s.get('base', ''))}", f"tuned {_e(s.get('tuned', ''))}", "tuned − base"],
                   rows, caption=f"Pooled pass@k [{lvl} paired-bootstrap interval]")
    cap = ("Read: each line is the mean over problems of the unbiased pass@k; shaded bands are "
           f"{lvl} paired-bootstrap intervals; the lower panel is tuned − base, below the dotted zero "
           "line the base is ahead; the dash-dotted vertical line and the shaded span mark the crossover "
           "k and its interval.")
    return "\n".join([_figure(svg, cap), f"<p>{_crossover_sentence(s)}</p>", table])


def regimes_section(s: dict, per_problem=None) -> str:
    """Regimes: base regime → tuned regime transition matrix at the audit and basin budgets."""
    svg = plot_transition(s)
    b = s.get("budget") or {}
    intro = (f"<p>Regimes at audit budget K = {fmt_int(b.get('K'))} and basin budget "
             f"{fmt_int(b.get('basin_budget'))}: basin p ≥ ε(k<sub>b</sub>), tail ε(K) ≤ p &lt; ε(k<sub>b</sub>), "
             "barrier 0 &lt; p &lt; ε(K) certified, inaccessible p &lt; ε(K) (barrier or singular), "
             "undetermined when the Clopper–Pearson interval straddles a threshold.</p>")
    cap = ("Read: row = regime under the base model, column = regime under the tuned model, each cell "
           "counts problems (totals in the tick labels); the dashed diagonal is no change, cells left of it "
           "are problems the tuned model reaches more easily (e.g. tail → basin), cells right of it "
           "(before the undetermined column) less easily; all-zero rows and columns are dropped.")
    return intro + "\n" + _figure(svg, cap)


def per_problem_section(s: dict, per_problem) -> str:
    """Per-problem: p̂ tuned against p̂ base, one marker per problem, with the Gibbs-tilt curves."""
    svg = plot_scatter(s, per_problem)
    cap = ("Read: one marker per problem (shape and colour = label), whiskers are Clopper–Pearson "
           "intervals; both axes are logit scaled, and p̂ = 0 or 1 is drawn at 0.5/(n+1) or "
           "1 − 0.5/(n+1) so those problems sit at the edges; curves show where a uniform Gibbs tilt "
           "logit p₁ = logit p₀ + λ would put each problem, the solid one at the fitted λ.")
    return _figure(svg, cap)


def labels_section(s: dict, per_problem=None) -> str:
    """Labels: counts with intervals and pass@k shares, the support-change claims, created vs K."""
    svg = plot_created_vs_budget(s)
    labs = s.get("labels") or {}
    b = s.get("budget") or {}
    k = (s.get("gain") or {}).get("k", b.get("K"))
    order = [x for x in LABEL_ORDER if x in labs] + [x for x in labs if x not in LABEL_ORDER]
    rows = []
    for lab in order:
        r = labs[lab] or {}
        detail = ""
        ids = r.get("ids")
        if ids:
            more = int(num(r.get("count"))) - len(ids) if math.isfinite(num(r.get("count"))) else 0
            detail = "ids: " + ", ".join(_e(i) for i in ids) + (f" (and {more} more)" if more > 0 else "")
        if lab == "undetermined" and r.get("could_be_created") is not None:
            detail = (f"{fmt_int(r.get('could_be_created'))} could still be created, "
                      f"{fmt_int(r.get('could_be_lost'))} lost")
        share = r.get("share_of_gross_gain")
        rows.append([_e(lab), fmt_int(r.get("count")), fmt_ci(r.get("lo"), r.get("hi"), 0),
                     fmt_num(r.get("passk_change"), 3, signed=True) if r.get("passk_change") is not None else "n/a",
                     "n/a" if share is None else fmt_pct(share), detail])
    table = _table(["label", "problems", f"{_level(s)} interval", f"pass@{fmt_int(k)} change",
                    f"share of gross pass@{fmt_int(k)} gain", "details"], rows,
                   left={0, 5}, cls={5: "ids"},
                   caption=f"Labels at K = {fmt_int(b.get('K'))} [interval over problems]; the pass@k changes add "
                           f"up to the pooled pass@{fmt_int(k)} change, the shares of the gross gain lie in [0, 1]")
    cap = ("Read: labels recomputed for audit budgets K = 1, 2, 4, …; the created count (triangles, with "
           "whiskers) falls as K grows and gains become elicited (circles); hatched K cannot be certified "
           "with the available samples, so created and unsolved cannot appear there (open markers).")
    return table + "\n" + _support_change(s) + "\n" + _figure(svg, cap)


def _support_change(s: dict) -> str:
    """Created / lost as claims about the set, and the follow-up plan (analysis.support_claims)."""
    sc = s.get("support_change") or {}
    rows = []
    for d in ("created", "lost"):
        r = sc.get(d)
        if not r:
            continue
        conf = r.get("confirmation")
        rows.append([_e(d), fmt_int(r.get("observed")), fmt_num(r.get("expected"), 2),
                     "n/a" if r.get("expected_ucb") is None else fmt_num(r.get("expected_ucb"), 2),
                     "n/a" if r.get("p_count") is None else _e(f"{num(r.get('p_count')):.2g}"),
                     fmt_int(r.get("established")),
                     "" if not conf else f"{fmt_int(conf.get('confirmed'))} of {fmt_int(conf.get('problems'))}",
                     "established" if r.get("claimed") else "not established", fmt_int(r.get("candidates"))])
    if not rows:
        return ""
    table = _table(["direction", "labelled", "expected by chance", "upper bound", "count test p",
                    "established one by one", "confirmed by follow-up", "claim", "candidates"], rows, left={0, 7},
                   caption="Is creation (loss) established for the set? Count test against the number of labels "
                           "expected by chance (empirical-Bayes null count with a profile-likelihood bound), or "
                           "problems established one by one; each route at α/2")
    plan = sc.get("plan")
    if plan:
        med = plan.get("samples_per_problem_median")
        table += (f"<p>Follow-up plan: {fmt_int(plan.get('candidates'))} candidates, to be decided on fresh samples at "
                  f"level {_e(format(num(plan.get('level')), '.2g'))}"
                  + ("" if med is None else f", about {fmt_int(med)} samples per candidate and model")
                  + f". Run: <code>{_e(plan.get('how', ''))}</code></p>")
    return table


def support_section(s: dict, per_problem=None) -> str:
    """Support: Venn sets P, S, E at the common budget k and the support metrics SRR, NDR, NSCR, SDS."""
    svg = plot_support(s)
    v = s.get("venn") or {}
    lvl = _level(s)
    k = v.get("k")
    expected = bool(v.get("expected"))
    kk = "n" if k is None else fmt_int(k)
    vrows = []
    for key, what in (("both", "preserved P: solved by both"), ("base_only", "shrunk S: base only"),
                      ("tuned_only", "expanded E: tuned only"), ("neither", "solved by neither")):
        ids = v.get(f"{key}_ids") or []
        shown = ", ".join(_e(i) for i in ids[:40]) + (f" (and {len(ids) - 40} more)" if len(ids) > 40 else "")
        count = fmt_num(v.get(key), 1) if expected else fmt_int(v.get(key))
        vrows.append([_e(what), count, shown if key != "both" else ""])
    if k is None:  # a summary written before the common budget existed
        vcap = "Venn sets: solved means at least one success among all samples"
    elif expected:
        vcap = (f"Venn sets at the common budget k = {kk} (the smallest sample count): solved means at least one "
                f"success among k samples; expected counts from the unbiased pass@{kk} of each model, since "
                "some problems have more samples; ids: problems in the set with probability above 1/2")
    else:
        vcap = f"Venn sets at k = {kk} (every problem has n = k samples): solved means at least one success among them"
    venn = _table([f"set (at k = {kk})", "expected problems" if expected else "problems", "ids"], vrows,
                  left={0, 2}, cls={2: "ids"}, caption=vcap)
    lrows = []
    for name, d in (s.get("leash") or {}).items():
        d = d or {}
        lrows.append([_e(name), fmt_num(d.get("value")), fmt_ci(d.get("lo"), d.get("hi")),
                      _e(_LEASH_MEANING.get(name, ""))])
    leash = _table(["metric", "value", f"{lvl} interval", "meaning"], lrows, left={0, 3},
                   caption="Support metrics of “The Invisible Leash” (Wu et al. 2025)")
    cap = (f"Read: left, the problems each model solves at least once in k = {kk} samples"
           + (" (expected counts)" if expected else "")
           + " (circle sizes are not proportional); right, each support metric as a diamond with its "
           f"{lvl} bootstrap interval.")
    return "\n".join([_figure(svg, cap), venn, leash])


def gibbs_section(s: dict, per_problem=None) -> str:
    """Gibbs fit: logit p₁ = logit p₀ + λ, its goodness of fit, R² and the over-/anti-tilt flags."""
    g = s.get("gibbs")
    if not g:
        return '<p class="muted">No Gibbs fit in this summary.</p>'
    lvl = _level(s)
    f = g.get("fit") if isinstance(g.get("fit"), dict) else {}
    p = num(f.get("p_value"))
    if math.isnan(p):
        test = "not testable (no tilt, or one fitted problem)"
    else:
        stat = (f"deviance {fmt_num(f.get('deviance'), 1)} on {fmt_int(f.get('df'))} df, dispersion "
                f"{fmt_num(f.get('dispersion'), 2)}, p = {fmt_num(p, 3)} (parametric bootstrap, "
                f"{fmt_int(f.get('n_boot'))} replicates)")
        test = (f"yes: one tilt explains the tuned rates; {stat}" if f.get("one_tilt_fits") is True
                else f"no: one tilt does not fit; {stat}")
    items = [
        ("λ = 1/β (log-odds shift)", fmt_est_ci(g.get("lambda"), g.get("lambda_lo"), g.get("lambda_hi"))),
        ("β (temperature)", fmt_est_ci(g.get("beta"), g.get("beta_lo"), g.get("beta_hi"))
         if num(g.get("lambda")) >= 0 or math.isnan(num(g.get("lambda"))) else _e(f"none ({NEGATIVE_TILT})")),
        ("Does one tilt fit?", test),
        ("R² of the tuned log-odds", fmt_est_ci(g.get("r2"), g.get("r2_lo"), g.get("r2_hi"), 2)
         + " (1: one tilt accounts for every problem; below 0: a constant predicts better)"),
        ("Over-tilt problems", fmt_int(g.get("over_tilt")) + " (far above the tilt: candidate creation)"),
        ("Anti-tilt problems", fmt_int(g.get("anti_tilt")) + " (far below the tilt: squeezed or lost)"),
        ("Share of the gross gain on over-tilt problems", fmt_pct(g.get("gain_on_over_tilt"))),
        ("Fitted on", fmt_int(g.get("fitted_on")) + " problems (those the base solves)"),
    ]
    known = {"lambda", "lambda_lo", "lambda_hi", "beta", "beta_lo", "beta_hi", "fit", "r2", "r2_lo",
             "r2_hi", "over_tilt", "anti_tilt", "gain_on_over_tilt", "fitted_on"}
    items += [(_e(k), _e(_plain(v))) for k, v in g.items() if k not in known]
    intro = ("<p>One uniform reweighting (Gibbs tilt of the base by a binary reward) moves every problem's "
             "log-odds by the same λ: logit p₁ = logit p₀ + λ; it cannot create (p₀ = 0 stays 0). λ is fitted "
             "by maximum likelihood; whether one tilt fits is a deviance test with a parametric bootstrap "
             "(base and tuned counts redrawn from the fitted tilt); R² = 1 − Σ(l₁ − l₀ − λ)² / Σ(l₁ − l̄₁)² on "
             "Jeffreys log-odds; over- and anti-tilt flags are posterior-predictive residuals with "
             f"Benjamini–Hochberg control; intervals are {lvl} paired-bootstrap intervals.</p>")
    return intro + _dl(items)


def config_section(s: dict, per_problem=None) -> str:
    """Config and versions: config, budget, inputs with sha256, the command and package versions."""
    parts = []
    cfg = s.get("config")
    if isinstance(cfg, dict):
        parts.append("<h3>Config</h3>" + _dl([(_e(k), _e(_raw(v))) for k, v in cfg.items()]))
    budget = s.get("budget")
    if isinstance(budget, dict):
        parts.append("<h3>Budget</h3>" + _dl([(_e(k), _e(_raw(v))) for k, v in budget.items()]))
    inputs = s.get("inputs")
    if inputs:
        rows = []
        for i in inputs:
            i = i if isinstance(i, dict) else {"path": i}
            rows.append([_e(i.get("path", "")), f"<code>{_e(i.get('sha256', ''))}</code>"])
        parts.append("<h3>Inputs</h3>" + _table(["file", "sha256"], rows, left={0, 1}))
    cmd = s.get("command")
    if cmd:
        text = shlex.join(map(str, cmd)) if isinstance(cmd, (list, tuple)) else str(cmd)
        parts.append(f"<h3>Command</h3><pre>{_e(text)}</pre>")
    ver = s.get("versions")
    if isinstance(ver, dict):
        parts.append("<h3>Versions</h3>" + _dl([(_e(k), _e(v)) for k, v in ver.items()]))
    missing = [k for k in ("config", "inputs", "command", "versions") if not s.get(k)]
    if missing:
        parts.append(f'<p class="muted">Not recorded in this summary: {", ".join(missing)} '
                     "(for example when compare() is called from Python).</p>")
    return "\n".join(parts)
