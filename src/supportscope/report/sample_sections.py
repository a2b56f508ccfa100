"""Report sections from the per-sample blocks of summary.json (``analysis.sample_checks``): answers,
provenance and verifier agreement. Each is shown only when its block is present (``needs=``)."""

from __future__ import annotations

from supportscope.report.html_blocks import _dl, _e, _table
from supportscope.report.style import fmt_int, fmt_num

ROLES = ("base", "tuned")


def _flags(lines: list[str]) -> str:
    if not lines:
        return '<p class="muted">Nothing flagged.</p>'
    return "<ul>" + "".join(f"<li>{_e(x)}</li>" for x in lines) + "</ul>"


def answers_section(s: dict, per_problem=None) -> str:
    """Distinct answers, entropy, maj@k beside pass@k, and the problems not shown to beat guessing."""
    a = s["answers"]
    models = a.get("models") or {}
    rows = []
    for role in ROLES:
        m = models.get(role) or {}
        rows.append([_e(m.get("model", role)), fmt_int(m.get("problems")), fmt_num(m.get("mean_distinct"), 2),
                     fmt_num(m.get("mean_entropy"), 3), fmt_int(m.get("no_answer_samples")),
                     f"{fmt_int(m.get('n_guessable'))} of {fmt_int(m.get('n_tested'))}"])
    body = [_table(["model", "problems", "mean distinct answers", "mean answer entropy (nats)",
                    "samples without an answer", "guessable (of tested)"], rows, left={0})]
    head = ["k"] + [f"{_e((models.get(r) or {}).get('model', r))} {w}" for r in ROLES for w in ("pass@k", "maj@k")]
    krow = []
    for j, k in enumerate(a.get("k") or []):
        cells = [str(k)]
        for role in ROLES:
            pk = ((models.get(role) or {}).get("passk") or [])
            r = pk[j] if j < len(pk) else {}
            cells += [fmt_num(r.get("pass")), fmt_num(r.get("maj"))]
        krow.append(cells)
    body.append(_table(head, krow, caption="pooled pass@k and maj@k (majority vote over k samples) per model"))
    body.append(f"<p>maj@k below pass@k means correct answers are found but not the most frequent. A problem is "
                f"<em>guessable</em> when its success count is not shown to beat guessing from the model's "
                f"answers to other problems (exact binomial test, BH level {fmt_num(a.get('alpha'), 2)} per model"
                f"{', reference answers in the hit set' if a.get('reference') else ''}); tested: problems with a "
                f"known chance rate.</p>")
    return "\n".join(body)


def provenance_section(s: dict, per_problem=None) -> str:
    """Duplicated completions, truncation and prompt mismatch, with what was flagged."""
    p = s["provenance"]
    items = []
    for role in ROLES:
        name = p.get(role, role)
        d = (p.get("duplicates") or {}).get(name)
        if d:
            items.append((f"duplicates ({_e(name)})",
                          f"{fmt_int(d.get('duplicated_samples'))} duplicated samples "
                          f"({fmt_num(d.get('duplicated_share'), 3)} of {fmt_int(d.get('samples'))}); "
                          f"{fmt_int(d.get('problems_flagged'))} problems flagged for a reused seed"))
        t = (p.get("truncation") or {}).get(name)
        if t:
            items.append((f"truncated ({_e(name)})",
                          f"{fmt_int(t.get('truncated'))} of {fmt_int(t.get('samples'))} samples cut at the length "
                          f"limit (share {fmt_num(t.get('share'), 3)}) in {fmt_int(t.get('problems_with_truncated'))} "
                          "problems"))
    flips = p.get("label_flips_without_truncated") or []
    items.append(("labels that change without truncated samples",
                  (f"{fmt_int(len(flips))} ({fmt_int(sum(bool(f.get('flagged')) for f in flips))} flagged: created "
                   "or lost, truncated unequally in base and tuned)")))
    pm = p.get("prompt_mismatch")
    items.append(("problems whose base and tuned prompts differ",
                  "not checked" if pm is None else f"{fmt_int(pm)} ({_e(p.get('prompt_source'))})"))
    if p.get("reference_mismatch") is not None:
        items.append(("problems graded against different references", fmt_int(p["reference_mismatch"])))
    notes = "".join(f'<p class="muted">{_e(n)}</p>' for n in p.get("notes") or [])
    return _dl(items) + "\n<h3>Flagged</h3>\n" + _flags(p.get("flagged") or []) + notes


def verifier_agreement_section(s: dict, per_problem=None) -> str:
    """Per label: problems and samples on which the two verifiers disagree; created/lost labels that flip."""
    v = s["verifier_agreement"]
    rows = [[_e(lab), fmt_int(r.get("problems")), fmt_int(r.get("problems_with_disagreement")),
             fmt_int(r.get("disagreeing_samples")), fmt_int(r.get("samples"))]
            for lab, r in (v.get("per_label") or {}).items()]
    body = [f"<p>Labels from <code>{_e(v.get('primary'))}</code>; the samples the verifiers disagree on rescored "
            f"by <code>{_e(v.get('alternative'))}</code> (base, tuned, both).</p>",
            _table(["label", "problems", "with a disagreement", "disagreeing samples", "samples"], rows, left={0})]
    flips = v.get("flips") or []
    body.append(f"<p>{len(flips)} problems whose created/lost label depends on the verifier"
                + (": " + ", ".join(_e(f["problem_id"]) for f in flips[:20]) + ("…" if len(flips) > 20 else "")
                   if flips else "") + ".</p>")
    if v.get("recompute_mismatch"):
        body.append(f'<p class="muted">{len(v["recompute_mismatch"])} labels recomputed from the primary '
                    "verifier's counts differ from the analysis' (counts from another source): their flags are "
                    "less reliable.</p>")
    return "\n".join(body)
