"""The report's KL account section: the tuned model's KL against its base, three plots and a table."""

from __future__ import annotations

import math

from supportscope.report.html_blocks import _dl, _e, _figure, _level, _plain, _pretty, _table
from supportscope.report.plots import plot_kl_efficiency, plot_kl_singular, plot_kl_surprisal
from supportscope.report.style import fmt_est_ci, fmt_int, fmt_num, num

_KL_KNOWN = {"generator", "scorer", "samples_scored", "decoding_is_raw", "kl_observed", "k1", "k3", "kl_full",
             "kl_min", "surprisal_tuned_outputs", "surprisal_base_outputs", "efficiency_aggregate",
             "efficiency_median", "efficiency_lo", "efficiency_hi", "efficiency_note", "dpi_fdr", "dpi_violations",
             "dpi_violation_ids", "singular_tokens",
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


def _efficiency(kl: dict) -> str:
    """The aggregate efficiency with its bootstrap interval (just the value for older summaries)."""
    e, lo, hi = kl.get("efficiency_aggregate"), kl.get("efficiency_lo"), kl.get("efficiency_hi")
    txt = fmt_num(e) if lo is None and hi is None else fmt_est_ci(e, lo, hi)
    note = kl.get("efficiency_note")
    return txt + (f'<span class="sub">{_e(note)}</span>' if note else "")


def _kl_rows(kl: dict, alpha: float = 0.05) -> list[list[str]]:
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
        ["efficiency, aggregate", _efficiency(kl),
         "Σ kl_min / Σ observed KL over problems with a finite KL, with its paired-bootstrap interval: share "
         "of the shift spent on success. kl_min is a plug-in of estimated rates, biased upward and noisy, so "
         "a value a little above 1 is estimation error unless problems are flagged below"],
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
                 "problems whose observed KL is significantly below kl(p₁ ‖ p₀), impossible for exact quantities "
                 "(data processing): an estimator or scoring fault. Per problem, p-value of the smallest level "
                 "γ at which the normal upper bound observed KL + z₁₋γ/₂·SE lies below the minimum of kl over "
                 "the Clopper–Pearson rectangle of (p₁, p₀) at level γ/2 (union bound); flagged at "
                 f"Benjamini–Hochberg FDR {alpha:g} across problems"])
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


def _alpha(s: dict) -> float:
    """The FDR level of the data-processing flags: kl.dpi_fdr, else the report's alpha, else 0.05."""
    a = num(s["kl"].get("dpi_fdr", (s.get("budget") or {}).get("alpha", 0.05)))
    return a if math.isfinite(a) else 0.05


def _kl_as_recorded(kl) -> str:
    """A KL entry of a form this report does not know: scalars as a list, the rest as text."""
    if not isinstance(kl, dict):
        return f"<pre>{_e(_pretty(kl))}</pre>"
    body = _dl([(_e(k), _e(_plain(v))) for k, v in kl.items() if not isinstance(v, (dict, list))])
    for k, v in kl.items():
        if isinstance(v, (dict, list)):
            body += f"\n<h3>{_e(k)}</h3>\n<pre>{_e(_pretty(v))}</pre>"
    return body


def kl_section(s: dict, per_problem=None) -> str:
    """The KL account of the tuned model against its base: three plots and a table.

    Shown only when the summary has a ``kl`` entry; one of a form this report does not know is
    shown as recorded."""
    kl = s["kl"]
    if not isinstance(kl, dict) or not (_KL_KNOWN - {"note"}) & set(kl):
        return _kl_as_recorded(kl)
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
            "for an exact KL, and diamonds mark data-processing violations (significantly below it, see the "
            "table); dashed "
            "lines mark efficiency 0.1 and 0.01 (ten and a hundred times the minimum); open triangles on the top "
            "edge (∞) left the base's support"
            + ("; a black ring marks a problem with singular tokens whose raw kl_full is finite." if obs_full
               else "."))
    parts.append(_figure(plot_kl_efficiency(s, per_problem), cap1, "The per-problem KL plot"))
    cap2 = ("Read: share of samples per bin of mean per-token −log π₀ under the base; solid blue = tuned "
            "outputs, dashed hatched orange = the base's own outputs; the dotted (tuned, square) and "
            "dash-dotted (base, circle) vertical lines mark the means over problems; mass to the right of "
            "the base's histogram is text the base finds unlikely.")
    parts.append(_figure(plot_kl_surprisal(s), cap2, "The surprisal histogram"))
    n_sing = num(kl.get("singular_tokens"))
    if math.isfinite(n_sing) and n_sing == 0:
        parts.append("<p>No tuned token fell outside the base's decoding support: every token of the scored "
                     "tuned samples has non-zero probability under the base's decoding distribution.</p>")
    else:
        cap3 = ("Read: one bar per problem with at least one singular token (a tuned token with probability "
                "0 under the base's decoding distribution), highest first; open diamonds count the samples "
                "holding one; each such problem has infinite k1 and k3 (the decoding-distribution KL).")
        parts.append(_figure(plot_kl_singular(s, per_problem), cap3, "The singular-token plot"))
    parts.append(_table(["quantity", f"value: mean per problem [{lvl} interval]", "meaning"],
                        _kl_rows(kl, _alpha(s)), left={0, 2}, cls={0: "q", 1: "v", 2: "meaning"},
                        table_class="kl",
                        caption="KL account, in nats per problem unless stated"))
    extra = [(_e(k), _e(_plain(v) if not isinstance(v, (dict, list)) else _pretty(v)))
             for k, v in kl.items() if k not in _KL_KNOWN]
    if extra:
        parts.append("<h3>Other recorded values</h3>" + _dl(extra))
    return "\n".join(parts)
