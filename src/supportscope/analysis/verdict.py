"""The one-sentence verdict, built from numbers already in the summary (no new statistics here).

The kind is a cell of a grid, not a chain of ifs:

    success at pass@1 (paired-bootstrap interval of the difference):  up (lo > 0) / flat / down (hi < 0)
    support at the audit budget K (`analysis.support_claims`):         creation established, loss
                                                                       established, both, neither

| pass@1 \\ support | neither               | creation                      | loss                      | both |
|------------------|-----------------------|-------------------------------|---------------------------|------|
| up               | elicitation           | creation / mostly elicitation | elicitation with narrowing| creation with narrowing |
| flat             | no significant change | creation                      | narrowing                 | creation with narrowing |
| down             | regression            | regression with creation      | regression with narrowing | regression with creation and narrowing |

"mostly elicitation": creation is established but the created problems carry less than half of the
gross positive pass@K gain (`analysis.label_summary`). "inconclusive": fewer problems than
:func:`min_problems` (``MIN_PROBLEMS`` = 6 at alpha = 0.05), too few for any comparison over
problems; or K exceeds what the base's n samples can certify, so creation is unobservable. A significant pass@1 drop is always called a
regression; a share is printed only when the pass@K gain's lower bound is above 0 (and is in [0, 1]
by construction), otherwise the created problems' absolute pass@K contribution. The sentence also
says how many created/lost labels were expected by chance, names candidates that are not
established with the samples a follow-up would need, and says so when undetermined problems carry
more of the gross gain than the determined labels.
"""

from __future__ import annotations

_GRID = {
    ("up", False, False): "elicitation",
    ("up", True, False): "creation",
    ("up", False, True): "elicitation with narrowing",
    ("up", True, True): "creation with narrowing",
    ("flat", False, False): "no significant change",
    ("flat", True, False): "creation",
    ("flat", False, True): "narrowing",
    ("flat", True, True): "creation with narrowing",
    ("down", False, False): "regression",
    ("down", True, False): "regression with creation",
    ("down", False, True): "regression with narrowing",
    ("down", True, True): "regression with creation and narrowing",
}
KINDS = tuple(sorted(set(_GRID.values()) | {"mostly elicitation", "inconclusive"}))


def min_problems(alpha: float) -> int:
    """The fewest problems a verdict needs at level ``alpha``: the smallest n with 2^(1-n) <= alpha.

    Why: pass@1 is called up or down from the paired-bootstrap interval over problems. The exact
    paired test over problems (sign flips of the n per-problem differences) has smallest two-sided
    p-value 2^(1-n), reached when every problem moves the same way; below this n no paired test can
    be significant, whatever the data. A bootstrap interval that excludes 0 there reflects only how
    few problems it resamples: with n <= 3 the 95% percentile interval is the range of the n
    differences, and with one problem (or every problem changing by exactly the same amount) it has
    zero width. From this n on, every problem moving the same way is significant by the exact test
    too, so a zero-width interval never decides the verdict alone. 6 at alpha = 0.05, 8 at 0.01.
    """
    n = 2
    while 2.0 ** (1 - n) > alpha:
        n += 1
    return n


#: :func:`min_problems` at the default alpha 0.05 (sign-flip p 2^-5 = 0.031; at 5 problems 0.0625).
MIN_PROBLEMS = min_problems(0.05)


def _ci(x: float, lo: float, hi: float, fmt: str = "{:.3f}") -> str:
    return f"{fmt.format(x)} [{fmt.format(lo)}, {fmt.format(hi)}]"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def success_direction(p1: dict) -> str:
    """up / flat / down from the pass@1 difference's interval."""
    if p1["difference_lo"] > 0:
        return "up"
    if p1["difference_hi"] < 0:
        return "down"
    return "flat"


def _num(x: float) -> str:
    return f"{x:.1f}" if x >= 0.1 else ("less than 0.001" if x < 1e-3 else f"{x:.2g}")


def _p(x: float) -> str:
    return "< 1e-12" if x < 1e-12 else f"= {x:.2g}"


def _chance(d: dict) -> str:
    exp = f"{'about ' if d['expected'] >= 1e-3 else ''}{_num(d['expected'])} expected by chance"
    if d.get("expected_ucb") is not None:
        exp += f", at most {_num(d['expected_ucb'])}"
    return exp


def _how(d: dict) -> str:
    parts = []
    if d.get("count_rejects"):
        parts.append(f"count test p {_p(d['p_count'])}")
    if d.get("established"):
        conf = d.get("confirmation")
        parts.append(f"{d['established']} confirmed on fresh samples" if conf else
                     f"{d['established']} established one by one")
    return "; ".join(parts)


def _subject(d: dict, lab: dict) -> tuple[int, str, str]:
    """(count, ids, verb) of the problems a clause is about: the labelled ones, plus those a follow-up
    confirmed in this direction without the stage-1 label (``established_unlabelled``)."""
    extra = int(d.get("established_unlabelled") or 0)
    shown = list(lab["ids"]) + [i for i in d.get("established_ids", []) if i not in set(lab["ids"])][:extra]
    count = lab["count"] + extra
    ids = ", ".join(map(str, shown[:5])) + (", ..." if count > 5 else "")
    return count, ids, "becomes" if count == 1 else "become"


def _created_clause(s: dict, K: int) -> str:
    d, lab, gain = s["support_change"]["created"], s["labels"]["created"], s["gain"]
    count, ids, verb = _subject(d, lab)
    txt = (f"{_plural(count, 'problem')} (ids {ids}) that the base cannot reach within {K} samples "
           f"{verb} reachable ({_chance(d)}; {_how(d)})")
    k = gain["k"]
    if d.get("established_unlabelled"):  # the label's pass@K figures do not cover the confirmed-only problems
        if lab["count"]:
            txt += f", the {lab['count']} labelled created adding {lab['passk_change']:+.3f} to pass@{k}"
    elif gain["lo"] > 0 and lab["share_of_gross_gain"] is not None:
        txt += f", carrying {lab['share_of_gross_gain']:.0%} of the gross pass@{k} gain"
    else:
        txt += f", adding {lab['passk_change']:+.3f} to pass@{k}"
    return txt


def _lost_clause(s: dict, K: int) -> str:
    d, lab = s["support_change"]["lost"], s["labels"]["lost"]
    count, ids, verb = _subject(d, lab)
    txt = (f"{_plural(count, 'problem')} (ids {ids}) that the base reaches within {K} samples {verb} "
           f"unreachable ({_chance(d)}; {_how(d)})")
    if d.get("established_unlabelled"):
        return txt + (f", the {lab['count']} labelled lost changing pass@{s['gain']['k']} by "
                      f"{lab['passk_change']:+.3f}" if lab["count"] else "")
    return txt + f", changing pass@{s['gain']['k']} by {lab['passk_change']:+.3f}"


def _unestablished(s: dict, direction: str) -> str:
    d = s["support_change"][direction]
    if d["claimed"] or not d["candidates"]:
        return ""
    n_lab = s["labels"][direction]["count"]
    what = f"{_plural(n_lab, direction + ' label')} not established ({_chance(d)})" if n_lab else ""
    maybe = s["labels"]["undetermined"].get(f"could_be_{direction}", 0)
    und = f"{maybe} undetermined could be {direction}" if maybe else ""
    return "; ".join(x for x in (what, und) if x)


def _numbers(s: dict) -> list[str]:
    """The parenthesis' first items: pass@1 with its interval, the label counts, a crossover."""
    lab, p1 = s["labels"], s["passk"][0]
    created, elicited, lost = (lab[x]["count"] for x in ("created", "elicited", "lost"))
    diff = _ci(p1["difference"], p1["difference_lo"], p1["difference_hi"], "{:+.3f}")
    out = [f"pass@1 {p1['base']:.3f} -> {p1['tuned']:.3f} ({diff})",
           f"{elicited} elicited, {created} created, {lost} lost of {s['n_problems']} problems"]
    cross = s["curves"]["crossover"]
    if cross and cross["k"] is not None:
        hi = "n" if cross["hi"] is None else f"{cross['hi']:.0f}"
        lo = "n" if cross["lo"] is None else f"{cross['lo']:.0f}"
        who = "the base overtakes the tuned model" if cross["direction"].startswith("base") \
            else "the tuned model overtakes the base"
        out.append(f"{who} at pass@{cross['k']} [{lo}, {hi}]")
    return out


def _open_questions(s: dict) -> list[str]:
    """The parenthesis' last items: labels not established, the follow-up that would decide them,
    undetermined problems that carry more of the gain than the determined labels."""
    out = [txt for txt in (_unestablished(s, d) for d in ("created", "lost")) if txt]
    sc = s["support_change"]
    plan = sc.get("plan")
    open_dirs = [d for d in ("created", "lost") if not sc[d]["claimed"] and sc[d]["candidates"]]
    if plan and open_dirs and plan.get("samples_per_problem_median"):
        out.append(f"a follow-up of about {plan['samples_per_problem_median']:.0f} fresh samples per "
                   f"candidate and model would decide the {_plural(plan['candidates'], 'candidate')}")
    g = s["gain"]
    und, det = g.get("undetermined_share_of_gross_gain"), g.get("determined_share_of_gross_gain")
    if und is not None and det is not None and und > det:
        out.append(f"undetermined problems carry {und:.0%} of the gross pass@{g['k']} gain, more than "
                   f"the determined labels")
    return out


def _clauses(s: dict) -> list[str]:
    sc, K = s["support_change"], s["budget"]["K"]
    return ([_created_clause(s, K)] if sc["created"]["claimed"] else []) + \
        ([_lost_clause(s, K)] if sc["lost"]["claimed"] else [])


def _too_few(s: dict, need: int) -> dict:
    """The inconclusive verdict of an analysis of fewer than ``need`` problems: pass@1 is not called
    up or down; the per-problem claims (each a test of its own) are still named."""
    n = s["n_problems"]
    head = (f"Inconclusive: {_plural(n, 'problem')} {'is' if n == 1 else 'are'} too few to compare the models "
            f"(at least {need} are needed at alpha = {s['budget'].get('alpha', 0.05):g}: with fewer, no paired "
            "test over problems can be significant and the bootstrap interval only shows how few problems "
            "it resampled), so success is not called up or down")
    clauses = _clauses(s)
    if clauses:
        head += "; per problem: " + "; and ".join(clauses)
    extras = _numbers(s) + _open_questions(s)
    return {"kind": "inconclusive", "sentence": f"{head} ({'; '.join(extras)}).", "success": "flat"}


def verdict(summary: dict) -> dict:
    """Return {"kind": ..., "sentence": ..., "success": up/flat/down} from a compare() summary.

    Fewer than :func:`min_problems` problems (``MIN_PROBLEMS`` at alpha = 0.05) give "inconclusive"
    with success "flat", whatever the interval says (see :func:`min_problems`)."""
    s = summary
    K = s["budget"]["K"]
    need = min_problems(s["budget"].get("alpha", 0.05))
    if s["n_problems"] < need:
        return _too_few(s, need)
    extras = _numbers(s)
    success = success_direction(s["passk"][0])
    if not s["budget"]["certifiable"]:
        sentence = (f"Inconclusive at K={K}: {s['budget']['n_min_base']} base samples per problem "
                    f"cannot certify a problem inaccessible at K={K} (the largest certifiable budget is "
                    f"{s['budget']['K_certifiable']}), so creation cannot be detected; {'; '.join(extras)}.")
        return {"kind": "inconclusive", "sentence": sentence, "success": success}

    sc, lab = s["support_change"], s["labels"]
    c_ok, l_ok = bool(sc["created"]["claimed"]), bool(sc["lost"]["claimed"])
    kind = _GRID[(success, c_ok, l_ok)]
    share = lab["created"]["share_of_gross_gain"]
    if (kind == "creation" and success == "up" and s["gain"]["lo"] > 0 and share is not None and share < 0.5
            and not sc["created"].get("established_unlabelled")):  # the share misses confirmed-only problems
        kind = "mostly elicitation"

    clauses = _clauses(s)
    if success == "down":
        head = f"Regression at pass@1 (the tuned model succeeds less often), K={K}"
        head += ": " + "; and ".join(clauses) if clauses else ": nothing is shown to be created"
    elif kind == "mostly elicitation":
        head = (f"Mostly elicitation at K={K}: most of the gross pass@{s['gain']['k']} gain lies inside the base's "
                f"reach, while {clauses[0]}" + ("; and " + clauses[1] if len(clauses) > 1 else ""))
    elif c_ok or l_ok:
        head = f"{kind[0].upper()}{kind[1:]} at K={K}: " + "; and ".join(clauses)
    elif success == "up":
        head = (f"Elicitation at K={K}: success rises and no problem beyond the base's reach at {K} samples "
                f"is shown to become reachable")
    else:
        head = f"No significant change at K={K}: nothing is shown to be created or lost and pass@1 does not move"
    extras += _open_questions(s)
    return {"kind": kind, "sentence": f"{head} ({'; '.join(extras)}).", "success": success}
