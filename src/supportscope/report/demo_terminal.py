"""Terminal summary of `supportscope demo` (rich, markup off for data): one row per variant, then
each variant's confusion matrix of estimated against exact labels and the free-energy checks, then
the 2 x 2 account of each tool run, then the exact trajectory of the first RL run (one row per saved
checkpoint) when the demo saved one."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _tilt_fit(g: dict) -> str:
    """Deviance-test p-value of one tilt ("fits" only when p >= alpha) and R^2 of the tuned log-odds."""
    p = g.get("p_value")
    if p is None:
        return "-"
    verdict = "fits" if g.get("one_tilt_fits") else "does not fit"
    r2 = g.get("r2")
    return f"{verdict}, p = {p:.2g}" + ("" if r2 is None else f", R^2 = {r2:.2f}")


def print_demo(demo: dict, out: str, console: Console | None = None) -> None:
    con = console or Console(soft_wrap=True)
    vs = demo["variants"]
    any_v = next(iter(vs.values()))
    con.print(Text(f"supportscope demo: the organism ({demo['problems']} problems, n = {demo['n']} samples per "
                   f"model, T = {demo['decoding']['temperature']:g}, top_p = {demo['decoding']['top_p']:g}), "
                   f"audit budget K = {any_v['K']} (eps(K) = {any_v['eps_K']:.4f})", style="bold"))
    t = Table(title="verdicts (each variant against the base)", title_justify="left")
    for col in ("variant", "verdict", "expected", "pass@1 base -> tuned", "elicited", "created", "lost", "undet."):
        t.add_column(col, overflow="fold")
    for name, v in vs.items():
        lab, p1 = v["labels"], v["pass1"]
        t.add_row(name, v["verdict"], v["expected"],
                  f"{p1['base']:.3f} -> {p1['tuned']:.3f} ({p1['difference']:+.3f})",
                  str(lab.get("elicited", 0)), str(lab.get("created", 0)), str(lab.get("lost", 0)),
                  str(lab.get("undetermined", 0)))
    con.print(t)
    t = Table(title="against the exact labels", title_justify="left")
    for col in ("variant", "agreement (determined)", "strict", "created est/exact", "false created",
                "one tilt (p, R^2)", "KL"):
        t.add_column(col, overflow="fold")
    for name, v in vs.items():
        gt, kl = v["ground_truth"], v["kl"]["mean"]
        t.add_row(name, f"{_pct(gt['agreement'])} of {gt['n_determined']}", _pct(gt["strict_agreement"]),
                  f"{gt['n_created_estimated']}/{gt['n_created_exact']}",
                  f"{gt['n_false_created']} ({_pct(gt['false_created_rate'])})", _tilt_fit(v["gibbs"]),
                  "-" if kl is None else f"{kl:.3f}")
    con.print(t)
    for name, v in vs.items():
        conf = v["ground_truth"]["confusion"]
        m = Table(title=f"{name}: estimated (rows) vs exact (columns) labels", title_justify="left")
        m.add_column("estimated \\ exact")
        for c in conf["cols"]:
            m.add_column(c, justify="right")
        for r, counts in zip(conf["rows"], conf["counts"]):
            if sum(counts):
                m.add_row(r, *[str(x) if x else "." for x in counts])
        con.print(m)
        sb = v["ground_truth"]["singular_base"]
        con.print(Text(f"  base singular problems (exact p0 = 0): {sb['singular_base']}; left p = 0: "
                       f"{sb['moved_off_zero']}; accessible at K: {sb['accessible_now']}; largest tuned p: "
                       + ("-" if sb["max_p_tuned"] is None else f"{sb['max_p_tuned']:.2g}")
                       + ("" if sb.get("min_raw_p0_accessible_now") is None else
                          f"; smallest raw-sampling p0 of those now accessible: {sb['min_raw_p0_accessible_now']:.2g}")))
    con.print(Text("free-energy predictions (DESIGN.md section 4): KL-regularised RL and rejection-sampling SFT "
                   "reweight inside the base's support (elicitation: p0 = 0 stays 0); SFT on new information "
                   "creates (absent facts). 'one tilt' = whether one tilt pi0 * exp(lambda r), fitted on the problems "
                   "the base solved, fits the tuned counts (deviance test, parametric-bootstrap p; 'fits' when "
                   "p >= alpha) and R^2 of the tuned log-odds under it (< 0: a constant does better). Problems that are "
                   "singular only because top_p cuts them (p0 = 0 under pi_D, p0 > 0 raw) can be lifted "
                   "across the nucleus edge by a reweighting: created under pi_D, from the raw support."))
    print_tools(demo.get("tools") or {}, con)
    tr = demo.get("trajectory")
    if tr:
        t = Table(title=f"{tr['variant']} trajectory (models {tr['variant']}-step-NNNN): exact mean p per family, "
                        f"exact pass@{tr['K']} and exact created / lost against the base (step 0 = the base, "
                        f"the last = {tr['variant']})", title_justify="left")
        fams = list(tr["checkpoints"][0]["p_exact_mean_by_family"])
        for col in ("step", "all", *fams, f"pass@{tr['K']}", "created", "lost"):
            t.add_column(col, justify="right", overflow="fold")
        for r in tr["checkpoints"]:
            t.add_row(str(r["step"]), f"{r['p_exact_mean']:.3f}",
                      *(f"{r['p_exact_mean_by_family'][f]:.3f}" for f in fams), f"{r['pass_at_K_exact']:.3f}",
                      str(r["created"]), str(r["lost"]))
        con.print(t)
    tm = demo["timings"]
    con.print(Text(f"wrote {out}/demo.json, {out}/exact_p.parquet, "
                   + (f"{out}/trajectory.json, " if tr else "") + f"{out}/run and one folder per variant with "
                   f"report.html; {tm['total_s']:.0f} s (post-training {tm['post_training_s']:.0f} s, sampling "
                   f"{tm['sampling_s']:.0f} s, scoring {tm['scoring_s']:.0f} s, analysis {tm['analysis_s']:.0f} s)"))


def print_tools(tools: dict, con: Console) -> None:
    """The 2 x 2 account of each tool run (pipeline.demo_tools): one row per pair, estimated against exact."""
    if not tools:
        return
    t = Table(title="tool runs: {base, tuned} x {without, with the environment}, each pair estimated against exact "
                    "(KL: mean nats per problem along the tuned side's samples, policy tokens only)",
              title_justify="left")
    for col in ("env", "pair", "models", "verdict", "exact", "created est/exact", "agreement", "false created",
                "pass@1", "KL"):
        t.add_column(col, overflow="fold")
    for env, block in tools.items():
        for pair, r in block["pairs"].items():
            p1 = r["pass1"]
            t.add_row(env, pair, f"{r['base']} -> {r['tuned']}", r["verdict"], r["exact_verdict"],
                      f"{r['n_created_estimated']}/{r['n_created_exact']}",
                      f"{_pct(r['agreement'])} of {r['n_determined']}",
                      f"{r['n_false_created']} ({_pct(r['false_created_rate'])})",
                      f"{p1['base']:.3f} -> {p1['tuned']:.3f}", "-" if r["kl_mean"] is None else f"{r['kl_mean']:.3f}")
    con.print(t)
    for env, block in tools.items():
        con.print(Text(f"  {env}: {block['reading']}"))


__all__ = ["print_demo", "print_tools"]
