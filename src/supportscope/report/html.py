"""One self-contained HTML5 report of a compare() summary: inline SVG plots, inline CSS, no script.

`build_html(summary, per_problem)` returns the page; `write_html(path, summary, per_problem)`
writes it atomically (temp file in the target folder, then os.replace). The page works offline:
it references nothing outside itself. Every string from the data is HTML-escaped.

Sections (each an <h2> with a stable id): verdict, passk, regimes, per-problem, labels, support,
gibbs, [kl when the summary has one: three plots and a table], problems, config.
"""

from __future__ import annotations

import math
import shlex
from html import escape
from pathlib import Path

from supportscope.report.writers import write_text_atomic

from supportscope.report import plots
from supportscope.report.style import (CSS, LABEL_ORDER, fmt_ci, fmt_est_ci, fmt_int, fmt_num, fmt_pct,
                                       num)

N_INTERESTING = 50

_LEASH_MEANING = {
    "SRR": "support retention rate P/(P+S): share of the base's solved problems the tuned model keeps",
    "NDR": "net discovery rate E/(P+E): share of the tuned model's solved problems that are new",
    "NSCR": "net support change rate (E−S)/(P+E+S): net growth (+) or shrinkage (−) of the support",
    "SDS": "support dynamic score: harmonic mean of SRR and NDR",
}


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


# --------------------------------------------------------------------------------- sections
def _verdict(s: dict) -> str:
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
    return _section("verdict", "Verdict", "\n".join(body))


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


def _passk(s: dict, svg: str | None) -> str:
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
    return _section("passk", "pass@k", "\n".join([_figure(svg, cap), f"<p>{_crossover_sentence(s)}</p>", table]))


def _regimes(s: dict, svg: str | None) -> str:
    b = s.get("budget") or {}
    intro = (f"<p>Regimes at audit budget K = {fmt_int(b.get('K'))} and basin budget "
             f"{fmt_int(b.get('basin_budget'))}: basin p ≥ ε(k<sub>b</sub>), tail ε(K) ≤ p &lt; ε(k<sub>b</sub>), "
             "barrier 0 &lt; p &lt; ε(K) certified, inaccessible p &lt; ε(K) (barrier or singular), "
             "undetermined when the Clopper–Pearson interval straddles a threshold.</p>")
    cap = ("Read: row = regime under the base model, column = regime under the tuned model, each cell "
           "counts problems (totals in the tick labels); the dashed diagonal is no change, cells left of it "
           "are problems the tuned model reaches more easily (e.g. tail → basin), cells right of it "
           "(before the undetermined column) less easily; all-zero rows and columns are dropped.")
    return _section("regimes", "Regimes", intro + "\n" + _figure(svg, cap))


def _per_problem(s: dict, svg: str | None) -> str:
    cap = ("Read: one marker per problem (shape and colour = label), whiskers are Clopper–Pearson "
           "intervals; both axes are logit scaled, and p̂ = 0 or 1 is drawn at 0.5/(n+1) or "
           "1 − 0.5/(n+1) so those problems sit at the edges; curves show where a uniform Gibbs tilt "
           "logit p₁ = logit p₀ + λ would put each problem, the solid one at the fitted λ.")
    return _section("per-problem", "Per-problem", _figure(svg, cap))


def _labels(s: dict, svg: str | None) -> str:
    labs = s.get("labels") or {}
    b = s.get("budget") or {}
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
            detail = f"{fmt_int(r.get('could_be_created'))} could still be created"
            need = b.get("samples_to_decide_created_candidates")
            if need is not None:
                detail += f"; deciding them needs about {fmt_int(need)} samples per model"
        share = r.get("share_of_gain")
        rows.append([_e(lab), fmt_int(r.get("count")), fmt_ci(r.get("lo"), r.get("hi"), 0),
                     "n/a" if share is None else fmt_pct(share, signed=True), detail])
    table = _table(["label", "problems", f"{_level(s)} interval", "share of pass@1 gain", "details"], rows,
                   left={0, 4}, cls={4: "ids"},
                   caption=f"Labels at K = {fmt_int(b.get('K'))} [interval over problems]")
    cap = ("Read: labels recomputed for audit budgets K = 1, 2, 4, …; the created count (triangles, with "
           "whiskers) falls as K grows and gains become elicited (circles); hatched K cannot be certified "
           "with the available samples, so created and unsolved cannot appear there (open markers).")
    return _section("labels", "Labels", table + "\n" + _figure(svg, cap))


def _support(s: dict, svg: str | None) -> str:
    v = s.get("venn") or {}
    lvl = _level(s)
    vrows = []
    for key, what in (("both", "preserved P: solved by both"), ("base_only", "shrunk S: base only"),
                      ("tuned_only", "expanded E: tuned only"), ("neither", "solved by neither")):
        ids = v.get(f"{key}_ids") or []
        shown = ", ".join(_e(i) for i in ids[:40]) + (f" (and {len(ids) - 40} more)" if len(ids) > 40 else "")
        vrows.append([_e(what), fmt_int(v.get(key)), shown if key != "both" else ""])
    venn = _table(["set (at k = n)", "problems", "ids"], vrows, left={0, 2}, cls={2: "ids"},
                  caption="Venn sets: solved means at least one success among all samples")
    lrows = []
    for name, d in (s.get("leash") or {}).items():
        d = d or {}
        lrows.append([_e(name), fmt_num(d.get("value")), fmt_ci(d.get("lo"), d.get("hi")),
                      _e(_LEASH_MEANING.get(name, ""))])
    leash = _table(["metric", "value", f"{lvl} interval", "meaning"], lrows, left={0, 3},
                   caption="Support metrics of “The Invisible Leash” (Wu et al. 2025)")
    cap = ("Read: left, the problems each model solves at least once in its n samples (circle sizes are "
           f"not proportional); right, each support metric as a diamond with its {lvl} bootstrap interval.")
    return _section("support", "Support", "\n".join([_figure(svg, cap), venn, leash]))


def _gibbs(s: dict) -> str:
    g = s.get("gibbs")
    if not g:
        return _section("gibbs", "Gibbs fit", '<p class="muted">No Gibbs fit in this summary.</p>')
    lvl = _level(s)
    se = f" (standard error {fmt_num(g.get('lambda_se'))})" if g.get("lambda_se") is not None else ""
    items = [
        ("λ = 1/β (log-odds shift)", fmt_est_ci(g.get("lambda"), g.get("lambda_lo"), g.get("lambda_hi")) + se),
        ("β (temperature)", fmt_est_ci(g.get("beta"), g.get("beta_lo"), g.get("beta_hi"))),
        ("Share of gain explained", f"{fmt_pct(g.get('share_of_gain_explained'))} "
                                    f"[{fmt_pct(g.get('share_lo'))}, {fmt_pct(g.get('share_hi'))}]"
                                    + (f" (defined in {fmt_pct(g.get('share_replicates_defined'))} of replicates)"
                                       if g.get("share_replicates_defined") is not None else "")),
        ("Over-tilt problems", fmt_int(g.get("over_tilt")) + " (far above the tilt: candidate creation)"),
        ("Anti-tilt problems", fmt_int(g.get("anti_tilt")) + " (far below the tilt: squeezed or lost)"),
        ("Share of gain on over-tilt problems", fmt_pct(g.get("gain_on_over_tilt"))),
        ("Fitted on", fmt_int(g.get("fitted_on")) + " problems (those the base solves)"),
    ]
    known = {"lambda", "lambda_lo", "lambda_hi", "lambda_se", "beta", "beta_lo", "beta_hi",
             "share_of_gain_explained", "share_lo", "share_hi", "share_replicates_defined", "over_tilt",
             "anti_tilt", "gain_on_over_tilt", "fitted_on"}
    items += [(_e(k), _e(_plain(v))) for k, v in g.items() if k not in known]
    intro = ("<p>One uniform reweighting (Gibbs tilt of the base by a binary reward) moves every problem's "
             "log-odds by the same λ: logit p₁ = logit p₀ + λ; it cannot create (p₀ = 0 stays 0). λ is fitted "
             "by maximum likelihood; over- and anti-tilt flags are posterior-predictive residuals with "
             f"Benjamini–Hochberg control; intervals are {lvl} paired-bootstrap intervals.</p>")
    return _section("gibbs", "Gibbs fit", intro + _dl(items))


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


_KL_KNOWN = {"generator", "scorer", "samples_scored", "decoding_is_raw", "kl_observed", "k1", "k3", "kl_full",
             "kl_min", "surprisal_tuned_outputs", "surprisal_base_outputs", "efficiency_aggregate",
             "efficiency_median", "dpi_violations", "dpi_violation_ids", "singular_tokens",
             "samples_with_singular_tokens", "problems_left_support", "surprisal_histogram", "note"}
N_DPI_IDS = 20


def _kl_mean(d, unit: str = "") -> str:
    """A {"mean","lo","hi","n_infinite","n_missing"} entry: mean [interval], with ∞ and missing counts."""
    if not isinstance(d, dict):
        return "n/a" if d is None else _e(_plain(d))
    n_inf, n_miss = num(d.get("n_infinite")), num(d.get("n_missing"))
    n_inf = int(n_inf) if math.isfinite(n_inf) else 0
    n_miss = int(n_miss) if math.isfinite(n_miss) else 0
    txt = fmt_est_ci(d.get("mean"), d.get("lo"), d.get("hi"))
    if txt != "n/a" and unit:
        txt += f" {unit}"
    extra = []
    if n_inf:
        extra.append(f"∞ for {n_inf} problem{'s' if n_inf != 1 else ''}"
                     + (" (left out of the mean)" if txt != "n/a" else ""))
    if n_miss:
        extra.append(f"missing for {n_miss}")
    return txt + (f'<span class="sub">{"; ".join(extra)}</span>' if extra else "")


def _kl_rows(kl: dict) -> list[list[str]]:
    obs = kl.get("kl_observed")
    full = kl.get("kl_full")
    rows = [
        ["k1 = mean(−log r)", _kl_mean(kl.get("k1"), "nats"),
         "unbiased estimate of KL(π₁ ‖ π₀) of the decoding distributions from the tuned samples, "
         "r = π₀(y)/π₁(y)" + (" (observed KL of this report)" if obs != "kl_full" else "")],
        ["k3 = mean((r − 1) − log r)", _kl_mean(kl.get("k3"), "nats"),
         "unbiased, never-negative terms; lower variance than k1 when π₁ is close to π₀"],
        ["kl_full (full vocabulary)",
         _kl_mean(full, "nats") if full is not None else "not scored (score with --kl)",
         "exact per-position KL of the raw next-token distributions along the tuned samples"
         + (" (observed KL of this report)" if obs == "kl_full" else "")],
        ["kl_min = kl(p₁ ‖ p₀)", _kl_mean(kl.get("kl_min"), "nats"),
         "least KL of any policy moving success from p₀ to p₁ (Bernoulli KL of Jeffreys-smoothed rates)"],
        ["efficiency, aggregate", fmt_num(kl.get("efficiency_aggregate")),
         "Σ kl_min / Σ observed KL over problems with a finite KL: share of the shift spent on success"],
        ["efficiency, median", fmt_num(kl.get("efficiency_median")),
         "median over problems of kl_min / observed KL"],
    ]
    nd = num(kl.get("dpi_violations"))
    ids = list(kl.get("dpi_violation_ids") or [])
    shown = ", ".join(_e(i) for i in ids[:N_DPI_IDS])
    more = (int(nd) if math.isfinite(nd) else len(ids)) - min(len(ids), N_DPI_IDS)
    if shown and more > 0:
        shown += f" (and {more} more)"
    rows.append(["data-processing violations",
                 fmt_int(nd) + (f'<span class="sub ids">ids: {shown}</span>' if shown else ""),
                 "problems with observed KL + 2 SE &lt; kl_min, impossible for exact quantities: an "
                 "estimator or scoring fault, or too few samples"])
    rows.append(["singular tokens", f"{fmt_int(kl.get('singular_tokens'))} tokens in "
                 f"{fmt_int(kl.get('samples_with_singular_tokens'))} samples of "
                 f"{fmt_int(kl.get('problems_left_support'))} problems",
                 "tuned tokens with probability 0 under the base's decoding distribution; each makes its "
                 "problem's decoding KL (k1, k3) infinite: the tuned model left the base's support"])
    rows.append(["base surprisal, tuned outputs", _kl_mean(kl.get("surprisal_tuned_outputs"), "nats/token"),
                 "mean per-token −log π₀ (raw) of the tuned model's samples"])
    rows.append(["base surprisal, base outputs", _kl_mean(kl.get("surprisal_base_outputs"), "nats/token"),
                 "the same for the base's own samples: the reference level"])
    return rows


def _kl_as_recorded(kl) -> str:
    """A KL entry of a form this report does not know: scalars as a list, the rest as text."""
    if not isinstance(kl, dict):
        return f"<pre>{_e(_pretty(kl))}</pre>"
    body = _dl([(_e(k), _e(_plain(v))) for k, v in kl.items() if not isinstance(v, (dict, list))])
    for k, v in kl.items():
        if isinstance(v, (dict, list)):
            body += f"\n<h3>{_e(k)}</h3>\n<pre>{_e(_pretty(v))}</pre>"
    return body


def _kl(s: dict, figs: dict | None = None) -> str:
    """The KL account of the tuned model against its base: three plots and a table."""
    kl = s["kl"]
    figs = figs or {}
    if not isinstance(kl, dict) or not (_KL_KNOWN - {"note"}) & set(kl):
        return _section("kl", "KL account", _kl_as_recorded(kl))
    lvl = _level(s)
    obs_full = kl.get("kl_observed") == "kl_full"
    raw = kl.get("decoding_is_raw")
    models = (f"the tuned model <strong>{_e(kl.get('generator', s.get('tuned', '')))}</strong> against the "
              f"base <strong>{_e(kl.get('scorer', s.get('base', '')))}</strong>")
    decoding = "is raw (T = 1, no truncation)" if raw else "is not raw" if raw is not None else "is not recorded"
    intro = (f"<p>KL(π₁ ‖ π₀) of {models}, in nats per problem (whole sampled answer), from "
             f"{fmt_int(kl.get('samples_scored'))} tuned samples scored by the base. The observed KL is "
             + ("the exact full-vocabulary KL (kl_full)" if obs_full else "the k1 estimate (kl_full was not scored)")
             + "; kl_min is the least KL any policy needs to move success from p₀ to p₁, so the efficiency "
             f"kl_min / observed KL is the share of the shift spent on success. Decoding {decoding}. "
             f"Intervals are {lvl} paired-bootstrap intervals over problems.</p>")
    parts = [intro]
    note = kl.get("note")
    if note:
        parts.append(f'<p class="kl-note">{_e(note)}</p>')
    obs = "kl_full" if obs_full else "k1"
    cap1 = ("Read: one marker per problem, observed KL (" + obs + ") against kl_min, both symlog scaled "
            "(linear near 0); the solid diagonal is efficiency 1 and the grey area below it is impossible "
            "for an exact KL, and diamonds mark data-processing violations (more than 2 SE below it); dashed "
            "lines mark efficiency 0.1 and 0.01 (ten and a hundred times the minimum); open triangles on the top "
            "edge (∞) left the base's support"
            + ("; a black ring marks a problem with singular tokens whose raw kl_full is finite." if obs_full
               else "."))
    parts.append(_figure(figs.get("kl_efficiency"), cap1, "The per-problem KL plot"))
    cap2 = ("Read: share of samples per bin of mean per-token −log π₀ under the base; solid blue = tuned "
            "outputs, dashed hatched orange = the base's own outputs; the dotted (tuned, square) and "
            "dash-dotted (base, circle) vertical lines mark the means over problems; mass to the right of "
            "the base's histogram is text the base finds unlikely.")
    parts.append(_figure(figs.get("kl_surprisal"), cap2, "The surprisal histogram"))
    n_sing = num(kl.get("singular_tokens"))
    if math.isfinite(n_sing) and n_sing == 0:
        parts.append("<p>No tuned token fell outside the base's decoding support: every token of the scored "
                     "tuned samples has non-zero probability under the base's decoding distribution.</p>")
    else:
        cap3 = ("Read: one bar per problem with at least one singular token (a tuned token with probability "
                "0 under the base's decoding distribution), highest first; open diamonds count the samples "
                "holding one; each such problem has infinite k1 and k3 (the decoding-distribution KL).")
        parts.append(_figure(figs.get("kl_singular"), cap3, "The singular-token plot"))
    parts.append(_table(["quantity", f"value: mean per problem [{lvl} interval]", "meaning"],
                        _kl_rows(kl), left={0, 2}, cls={0: "q", 1: "v", 2: "meaning"}, table_class="kl",
                        caption="KL account, in nats per problem unless stated"))
    extra = [(_e(k), _e(_plain(v) if not isinstance(v, (dict, list)) else _pretty(v)))
             for k, v in kl.items() if k not in _KL_KNOWN]
    if extra:
        parts.append("<h3>Other recorded values</h3>" + _dl(extra))
    return _section("kl", "KL account", "\n".join(parts))


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


def _problems(per_problem) -> str:
    rows = interesting_problems(per_problem)
    if not rows:
        return _section("problems", "Most interesting problems", '<p class="muted">No per-problem table.</p>')
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
    return _section("problems", "Most interesting problems", intro + table)


def _config(s: dict) -> str:
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
    return _section("config", "Config and versions", "\n".join(parts))


# --------------------------------------------------------------------------------- page
def build_html(summary: dict, per_problem) -> str:
    """The whole report as one self-contained HTML5 page (no script, no external reference)."""
    s = summary or {}
    figs = plots.all_plots(s, per_problem)
    title = f"supportscope: {s.get('base', 'base')} → {s.get('tuned', 'tuned')}"
    version = (s.get("versions") or {}).get("supportscope")
    if version is None:
        from supportscope import __version__ as version
    sections = [
        _verdict(s),
        _passk(s, figs["passk"]),
        _regimes(s, figs["regimes"]),
        _per_problem(s, figs["scatter"]),
        _labels(s, figs["budget"]),
        _support(s, figs["support"]),
        _gibbs(s),
    ]
    has_kl = s.get("kl") is not None
    if has_kl:
        sections.append(_kl(s, figs))
    sections += [_problems(per_problem), _config(s)]
    links = [("verdict", "Verdict"), ("passk", "pass@k"), ("regimes", "Regimes"), ("per-problem", "Per-problem"),
             ("labels", "Labels"), ("support", "Support"), ("gibbs", "Gibbs fit")]
    links += [("kl", "KL account")] * has_kl + [("problems", "Problems"), ("config", "Config")]
    nav = " · ".join(f'<a href="#{i}">{t}</a>' for i, t in links)
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>\n{CSS}\n</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_e(s.get('base', 'base'))} → {_e(s.get('tuned', 'tuned'))}</h1>",
        '<p class="sub">supportscope report: did post-training elicit a capability the base model had, '
        "or create one?</p>",
        f"<nav>{nav}</nav>",
        "</header>",
        "<main>",
        *sections,
        "</main>",
        f"<footer>Generated by supportscope {_e(version)}. Self-contained: no scripts, no external "
        "resources.</footer>",
        "</body>",
        "</html>",
        "",
    ])


def write_html(path, summary: dict, per_problem) -> Path:
    """Write the report atomically: a temp file in the same folder, then os.replace."""
    path = Path(path)
    text = build_html(summary, per_problem)
    write_text_atomic(path, text)
    return path
