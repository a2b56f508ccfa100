"""The one-sentence verdict, built from numbers already in the summary (no new statistics here).

Rules, at the audit budget K:
- "inconclusive": K exceeds what the base's n samples can certify, so "created" is unobservable;
- "creation": at least one problem is labelled created (base certified inaccessible at K, tuned
  certified accessible) and the created problems carry at least half of the mean success gain
  (or there is no gain);
- "mostly elicitation": some problems are created, but they carry less than half of the gain;
- "elicitation": none created and the pass@1 difference's interval lies above 0;
- "regression": none created and the pass@1 difference's interval lies below 0;
- "no significant change": none created and the pass@1 interval contains 0.
The sentence adds label counts, the pass@k crossover and, where relevant, how many undetermined
problems could still be created and how many samples would decide them.
"""

from __future__ import annotations


def _ci(x: float, lo: float, hi: float, fmt: str = "{:.3f}") -> str:
    return f"{fmt.format(x)} [{fmt.format(lo)}, {fmt.format(hi)}]"


def verdict(summary: dict) -> dict:
    """Return {"kind": ..., "sentence": ...} from a compare() summary."""
    K = summary["budget"]["K"]
    lab = summary["labels"]
    created, elicited, lost = (lab[x]["count"] for x in ("created", "elicited", "lost"))
    p1 = summary["passk"][0]
    gain = _ci(p1["difference"], p1["difference_lo"], p1["difference_hi"], "{:+.3f}")
    rates = f"pass@1 {p1['base']:.3f} -> {p1['tuned']:.3f} ({gain})"
    counts = f"{elicited} elicited, {created} created, {lost} lost of {summary['n_problems']} problems"
    cross = summary["curves"]["crossover"]
    cross_txt = ""
    if cross and cross["k"] is not None:
        hi = "n" if cross["hi"] is None else f"{cross['hi']:.0f}"
        lo = "n" if cross["lo"] is None else f"{cross['lo']:.0f}"
        who = "the base overtakes the tuned model" if cross["direction"].startswith("base") \
            else "the tuned model overtakes the base"
        cross_txt = f"; {who} at pass@{cross['k']} [{lo}, {hi}]"
    maybe = lab["undetermined"]["could_be_created"]
    maybe_txt = ""
    if maybe:
        need = summary["budget"]["samples_to_decide_created_candidates"]
        need_txt = f", deciding them needs about {need} samples per model" if need else ""
        maybe_txt = f"; {maybe} undetermined problem(s) could still be created{need_txt}"

    if not summary["budget"]["certifiable"]:
        kind = "inconclusive"
        sentence = (f"Inconclusive at K={K}: {summary['budget']['n_min_base']} base samples per problem "
                    f"cannot certify a problem inaccessible at K={K} (the largest certifiable budget is "
                    f"{summary['budget']['K_certifiable']}), so creation cannot be detected; {rates}, "
                    f"{counts}{cross_txt}.")
        return {"kind": kind, "sentence": sentence}
    if created > 0:
        c = lab["created"]
        ids = ", ".join(map(str, c["ids"][:5])) + (", ..." if created > 5 else "")
        share = c["share_of_gain"]
        what = (f"{created} problem(s) [{c['lo']:.0f}, {c['hi']:.0f}] (ids {ids}) that the base cannot "
                f"reach within {K} samples become reachable")
        if share is None or share >= 0.5:
            kind = "creation"
            head = f"Creation at K={K}: {what}" + ("" if share is None else f", carrying {share:.0%} of the gain")
        else:
            kind = "mostly elicitation"
            head = (f"Mostly elicitation at K={K}: most of the gain lies inside the base's reach, while "
                    f"{what} and carry only {share:.0%} of the gain")
    elif p1["difference_lo"] > 0:
        kind = "elicitation"
        head = (f"Elicitation at K={K}: success rises but no problem beyond the base's reach at "
                f"{K} samples becomes reachable")
    elif p1["difference_hi"] < 0:
        kind = "regression"
        head = f"Regression at K={K}: the tuned model succeeds less often and creates nothing"
    else:
        kind = "no significant change"
        head = f"No significant change at K={K}: nothing is created and pass@1 does not move significantly"
    return {"kind": kind, "sentence": f"{head} ({rates}; {counts}{cross_txt}{maybe_txt})."}
