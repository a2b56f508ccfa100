"""Terminal summary of a multi-model analysis: the combined verdict, then one row per tuned model."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def _ci(d: dict | None, fmt: str = "{:.3f}") -> str:
    if not d or d.get("value") is None:
        return "-"
    lo, hi = d.get("lo"), d.get("hi")
    if lo is None or hi is None:
        return fmt.format(d["value"])
    return f"{fmt.format(d['value'])} [{fmt.format(lo)}, {fmt.format(hi)}]"


def above_text(f: dict | None) -> str:
    """The first k at which the model is above the frontier / above the certified ceiling."""
    if not f:
        return "-"
    a, c = f.get("first_k_above_frontier"), f.get("first_k_above_ceiling")
    return f"{a if a is not None else 'no'} / {c if c is not None else 'no'}"


def model_table(s: dict) -> Table:
    """One row per tuned model: step, pass@1, pass@K, efficiency gap, created / elicited / lost,
    the count test, the Gibbs lambda, the KL to the base (when scored) and the pairwise verdict."""
    k = s["base_passk"]["k"]
    t = Table(title=f"{len(s['models'])} tuned models against {s['base']} "
                    f"(base pass@1 {_ci(s['base_passk']['pass1'])}, pass@{k} {_ci(s['base_passk']['passK'])})")
    kl = any(r.get("kl") for r in s["models"])
    cols = ["model", "step", "pass@1", f"pass@{k}", f"base@{k} - pass@1", "created", "elicited", "lost",
            "creation", "lambda", "above frontier / ceiling at k", *(["KL"] if kl else []), "verdict"]
    for c in cols:
        t.add_column(c, justify="left" if c in ("model", "verdict", "creation") else "right", no_wrap=c == "model")
    for r in s["models"]:
        test = r["creation_test"]["created"]
        claim = "established" if test["claimed"] else f"p={test['p_count']:.2g}" if test["p_count"] is not None else "-"
        row = [r["name"], "" if r["step"] is None else str(r["step"]), _ci(r["pass1"]), _ci(r["passK"]),
               _ci(r["efficiency_gap"], "{:+.3f}"), str(r["labels"]["created"]), str(r["labels"]["elicited"]),
               str(r["labels"]["lost"]), claim, _ci(r["gibbs_lambda"], "{:.2f}"), above_text(r.get("frontier"))]
        if kl:
            row.append(_ci((r.get("kl") or {}).get("kl"), "{:.3g}"))
        row.append(r["verdict"]["kind"])
        t.add_row(*row)
    return t


def print_many(s: dict, console: Console | None = None, outputs: list[str] | None = None) -> None:
    con = console or Console(markup=False)
    if not con.is_terminal and con.width < 220:  # files and pipes: one line per model
        con.width = 220
    con.print(Panel(Text(s["verdict"]["sentence"]), title="verdict", subtitle=f"{s['base']} -> "
                    f"{len(s['models'])} tuned models", expand=True))
    b = s["budget"]
    con.print(f"{s['n_problems']} problems; audit budget K = {b['K']} (eps = {b['eps_K']:.4f}); "
              f"{1 - b['alpha']:.0%} paired-bootstrap intervals, the same resampled problems for every model")
    con.print(model_table(s))
    t = s.get("trajectory")
    if t:
        c = t["classes"]
        con.print(f"trajectory: {c['created-kept']} created and kept, {c['created-then-lost']} created then lost, "
                  f"{c['created-later-undetermined']} created then undetermined; {c['lost']} lost, "
                  f"{c['lost-then-recovered']} lost then recovered")
        for cls in ("created-kept", "created-then-lost", "lost"):
            for line in t["examples"][cls][:3]:
                con.print(f"  {line}")
    for d in s["differences"][:12]:
        con.print(f"{d['b']} - {d['a']}: pass@1 {_ci(d['pass1'], '{:+.3f}')}, pass@{d['k']} "
                  f"{_ci(d['passk'], '{:+.3f}')}, created {_ci(d['created'], '{:+.0f}')}")
    for c in s.get("contrasts") or []:
        con.print(f"contrast {c['tuned']} against {c['base']}: {c['verdict']['sentence']}")
    for n in s.get("notes") or []:
        con.print(f"note: {n}")
    if outputs:
        con.print("wrote " + ", ".join(outputs))
