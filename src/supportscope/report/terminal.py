"""Rich terminal summary of a compare() summary: the verdict first, then the numbers behind it."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from supportscope.analysis.labels import LABELS
from supportscope.report.style import beta_text
from supportscope.stats.regimes import REGIMES


def _ci(x, lo, hi, fmt="{:.3f}") -> str:
    return f"{fmt.format(x)} [{fmt.format(lo)}, {fmt.format(hi)}]"


def print_summary(s: dict, console: Console | None = None, outputs: list[str] | None = None) -> None:
    con = console or Console(markup=False)  # data such as "[nan, nan]" must not be read as markup
    if not con.is_terminal and con.width < 120:  # files and pipes: do not wrap the tables
        con.width = 120
    b = s["budget"]
    con.print(Panel(Text(s["verdict"]["sentence"]), title=f"verdict: {s['verdict']['kind']}",
                    subtitle=f"{s['base']} -> {s['tuned']}", expand=True))
    con.print(f"{s['n_problems']} problems, n = {s['n_base']['min']}..{s['n_base']['max']} base / "
              f"{s['n_tuned']['min']}..{s['n_tuned']['max']} tuned samples; audit budget K = {b['K']} "
              f"(eps = {b['eps_K']:.4f}), basin budget {b['basin_budget']} (eps = {b['eps_basin']:.4f}), "
              f"zeta = {b['zeta']}, {1 - b['alpha']:.0%} intervals")

    t = Table(title="pooled pass@k [95% paired-bootstrap interval]" if abs(b["alpha"] - 0.05) < 1e-12
              else f"pooled pass@k [{1 - b['alpha']:.0%} interval]")
    for col in ("k", s["base"], s["tuned"], "tuned - base"):
        t.add_column(col, justify="right")
    for r in s["passk"]:
        t.add_row(str(r["k"]), _ci(r["base"], r["base_lo"], r["base_hi"]),
                  _ci(r["tuned"], r["tuned_lo"], r["tuned_hi"]),
                  _ci(r["difference"], r["difference_lo"], r["difference_hi"], "{:+.3f}"))
    con.print(t)
    cr = s["curves"]["crossover"]
    if cr is not None:
        if cr["k"] is None:
            con.print(f"pass@k crossover: none up to k = {cr['searched_up_to']} "
                      f"({cr['share_of_replicates_with_crossover']:.0%} of bootstrap replicates have one)")
        else:
            hi = "> n" if cr["hi"] is None else f"{cr['hi']:.0f}"
            con.print(f"pass@k crossover ({cr['direction']}): k = {cr['k']} [{cr['lo']:.0f}, {hi}]")

    k = s["gain"]["k"]
    t = Table(title=f"labels at K = {b['K']} [interval over problems]; gains at pass@{k}")
    t.add_column("label")
    t.add_column("problems", justify="right")
    t.add_column("interval", justify="right")
    t.add_column(f"pass@{k} change", justify="right")
    t.add_column(f"share of gross pass@{k} gain", justify="right")
    for lab in LABELS:
        r = s["labels"][lab]
        share = "" if r["share_of_gross_gain"] is None else f"{r['share_of_gross_gain']:.0%}"
        t.add_row(lab, str(r["count"]), f"[{r['lo']:.0f}, {r['hi']:.0f}]", f"{r['passk_change']:+.3f}", share)
    con.print(t)
    for line in support_change_lines(s):
        con.print(line)

    tr = s["transition"]
    rows = [a for a in REGIMES if any(tr[a].values())]
    cols = [c for c in REGIMES if any(tr[a][c] for a in REGIMES)]
    t = Table(title=f"regime transition at K = {b['K']} (rows: base, columns: tuned)")
    t.add_column("base \\ tuned")
    for c in cols:
        t.add_column(c, justify="right")
    for a in rows:
        t.add_row(a, *[str(tr[a][c]) if tr[a][c] else "." for c in cols])
    con.print(t)

    v, le, g = s["venn"], s["leash"], s["gibbs"]
    con.print(f"Venn at k = {v.get('k', 'n')}" + (" (expected counts)" if v.get("expected") else "") + ": "
              + ", ".join(f"{lab} " + (f"{v[key]:.1f}" if v.get("expected") else f"{v[key]}")
                          for key, lab in (("both", "both"), ("base_only", "base only"),
                                           ("tuned_only", "tuned only"), ("neither", "neither")))
              + f"; SRR {_ci(**_v(le['SRR']))}, NDR {_ci(**_v(le['NDR']))}, NSCR {_ci(**_v(le['NSCR']))}, "
              f"SDS {_ci(**_v(le['SDS']))}")
    if g["lambda"] is None:
        con.print("Gibbs fit: none (the base never succeeds, so no tilt is identified)")
    else:
        con.print(_gibbs_line(g))
    if s.get("kl"):
        con.print(_kl_line(s["kl"]))
    cvb = " ".join(f"K={r['K']}:{r['counts']['created']}" + ("" if r["certifiable"] else "*")
                   for r in s["created_vs_budget"])
    con.print(f"created vs budget: {cvb}  (* = n too small to certify inaccessibility at that K)")
    for line in sample_check_lines(s):
        con.print(line)
    for note in s["notes"]:
        con.print(Text.assemble(("note: ", "yellow"), note))
    for path in outputs or []:
        con.print(f"wrote {path}")


def _gibbs_line(g: dict) -> str:
    """One line on the single-tilt account; "one tilt explains" only when the deviance test does
    not reject one tilt (p >= alpha)."""
    beta = beta_text(g)
    f = g.get("fit") or {}
    p = f.get("p_value")
    if p is None:
        test = "the fit of one tilt is not testable (one fitted problem)"
    else:
        stat = (f"deviance {f['deviance']:.1f} on {f['df']} df, dispersion {f['dispersion']:.2f}, "
                f"p = {p:.2g}, parametric bootstrap")
        test = (f"one tilt explains the tuned rates ({stat})" if f.get("one_tilt_fits")
                else f"one tilt does not fit ({stat})")
    r2 = "" if g.get("r2") is None else "; R^2 of the tuned log-odds " + (
        f"{g['r2']:.2f}" if g.get("r2_lo") is None else _ci(g["r2"], g["r2_lo"], g["r2_hi"], "{:.2f}"))
    over = ("" if g["gain_on_over_tilt"] is None
            else f", carrying {g['gain_on_over_tilt']:.0%} of the gross gain")
    return (f"Gibbs fit: lambda = 1/beta = {_ci(g['lambda'], g['lambda_lo'], g['lambda_hi'])} "
            f"({beta}) on {g['fitted_on']} problems the base solves; {test}{r2}; "
            f"{g['over_tilt']} over-tilted problems{over}, {g['anti_tilt']} anti-tilted")


def sample_check_lines(s: dict) -> list[str]:
    """One line per per-sample block (answers, provenance, verifier agreement) that flags something."""
    out = []
    a = s.get("answers")
    if a:
        ms = a.get("models") or {}
        g = [f"{m['model']} {m['n_guessable']}" for m in ms.values() if m.get("n_guessable")]
        if g:
            out.append(f"answers: problems not shown to beat guessing: {', '.join(g)}")
    p = s.get("provenance")
    if p and p.get("flagged"):
        out.append("provenance: " + "; ".join(p["flagged"]))
    v = s.get("verifier_agreement")
    if v and v.get("flips"):
        out.append(f"verifier agreement: {len(v['flips'])} created/lost labels change when the samples "
                   f"{v['primary']} and {v['alternative']} disagree on are rescored")
    return out


def support_change_lines(s: dict) -> list[str]:
    """Created/lost as claims about the set (analysis.support_claims) and the follow-up plan."""
    sc = s.get("support_change") or {}
    out = []
    for d in ("created", "lost"):
        r = sc.get(d)
        if not r:
            continue
        ucb = "" if r["expected_ucb"] is None else f" (at most {r['expected_ucb']:.2f})"
        test = "" if r["p_count"] is None else f"; count test p = {r['p_count']:.2g}"
        conf = r.get("confirmation")
        conf_txt = "" if not conf else (f"; follow-up: {conf['confirmed']} of {conf['problems']} confirmed on fresh "
                                        f"samples at {conf['level']:.2g}")
        out.append(f"{d}: {r['observed']} labelled, {r['expected']:.2f} expected by chance{ucb}{test}; "
                   f"{r['established']} established one by one{conf_txt} -> "
                   f"{'ESTABLISHED' if r['claimed'] else 'not established'}"
                   + (f"; {r['candidates']} candidates" if r["candidates"] else ""))
    plan = sc.get("plan")
    if plan:
        med = plan["samples_per_problem_median"]
        need = "" if med is None else (f": about {med:.0f} (up to {plan['samples_per_problem_max']:.0f}) fresh samples "
                                       "per candidate and model decide them")
        out.append(f"follow-up plan for {plan['candidates']} candidates at level {plan['level']:.2g}{need}. "
                   f"Run: {plan['how']}")
    return out


def _v(d: dict) -> dict:
    return {"x": d["value"], "lo": d["lo"], "hi": d["hi"]}


def _mean_txt(d: dict | None, unit: str = "") -> str:
    if not d:
        return "n/a"
    txt = "n/a" if d["mean"] is None else f"{d['mean']:.3f} [{d['lo']:.3f}, {d['hi']:.3f}]{unit}"
    if d.get("n_infinite"):
        txt += f" (infinite for {d['n_infinite']} problems, left out)"
    return txt


def _kl_line(k: dict) -> str:
    e, lo, hi = k.get("efficiency_aggregate"), k.get("efficiency_lo"), k.get("efficiency_hi")
    eff = "n/a" if e is None else f"{e:.3f}" + ("" if lo is None or hi is None else f" [{lo:.3f}, {hi:.3f}]")
    if e is not None and e > 1 and k.get("efficiency_note"):
        eff += " (above 1: kl(p1||p0) is an upward-biased plug-in; within error unless flagged)"
    return (f"KL({k['generator']} || {k['scorer']}) per problem, nats: k1 {_mean_txt(k['k1'])}, "
            f"k3 {_mean_txt(k['k3'])}, full-vocab {_mean_txt(k['kl_full'])}; minimum reweighting "
            f"kl(p1||p0) {_mean_txt(k['kl_min'])}; efficiency {eff}; {k['dpi_violations']} data-processing "
            f"violations (BH FDR {k.get('dpi_fdr', 0.05):g}); {k['singular_tokens']} singular tokens in "
            f"{k['samples_with_singular_tokens']} samples; "
            f"base surprisal (nats/token) of tuned outputs {_mean_txt(k['surprisal_tuned_outputs'])} vs base "
            f"outputs {_mean_txt(k['surprisal_base_outputs'])}")
