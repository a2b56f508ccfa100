"""Provenance checks (analysis.provenance): planted faults are reported, an honest run is not flagged."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest

from supportscope.analysis import AnalyzeConfig, compare
from supportscope.analysis.inputs import ModelCounts
from supportscope.analysis.labels import LOST
from supportscope.analysis.provenance import provenance, provenance_from_summary
from supportscope.store.schema import build_table

SETTINGS = {"K": 8, "basin_budget": 8, "zeta": 0.05, "alpha": 0.05}
PROMPT = {f"p{i}": [1, 100 + i, 7, 8, 9] for i in range(8)}


def _row(pid, model, idx, *, correct, completion=None, seed=None, finish="stop", prompt=None):
    completion = f"{model} {pid} long reasoning number {idx}" if completion is None else completion
    toks = [ord(ch) for ch in completion]
    return {"problem_id": pid, "model": model, "sample_idx": idx,
            "seed": 1000 * int(pid[1:]) + idx if seed is None else seed,
            "prompt_ids": PROMPT[pid] if prompt is None else prompt, "token_ids": toks, "completion": completion,
            "n_tokens": len(toks), "finish_reason": finish, "correct": bool(correct), "reward": float(correct),
            "logp_decoding": -1.0, "logp_raw": -1.0, "token_logp_decoding": [-0.1] * len(toks),
            "token_logp_raw": [-0.1] * len(toks)}


def _honest_rows(n=32):
    """8 problems x n samples per model, distinct seeds, same prompts, no truncation.
    p0/p1: short answers ("42") that repeat under honest sampling; rates differ by problem."""
    rows = []
    for model, shift in (("base", 0), ("tuned", 4)):
        for q in range(8):
            pid = f"p{q}"
            c = min(n, 4 * q + shift)
            for i in range(n):
                short = q < 2 and i % 2 == 0
                rows.append(_row(pid, model, i, correct=i < c, completion="42" if short else None))
    return rows


def _table(rows):
    return build_table("samples", rows)


def _run(rows, **kw):
    return provenance(_table(rows), base="base", tuned="tuned", **{**SETTINGS, **kw})


def test_honest_control_flags_nothing():
    p = _run(_honest_rows())
    assert p.flagged == []
    assert p.label_flips_without_truncated == []
    assert p.prompt_mismatch == 0 and p.prompt_mismatch_examples == []
    for m in ("base", "tuned"):
        d = p.duplicates[m]
        assert d["source"] == "token_ids" and d["seed_available"] and d["seed_repeats"] is False
        assert d["problems_flagged"] == 0
        assert d["problems_with_duplicates"] == 2  # the short answers are counted, not flagged
        assert d["identical_pairs"] == 2 * (16 * 15 // 2)
        assert d["duplicated_samples"] == 2 * 15 and d["duplicated_share"] == pytest.approx(30 / 256)
        assert p.truncation[m] == {"samples": 256, "truncated": 0, "share": 0.0, "problems_with_truncated": 0,
                                   "problems_all_truncated": 0}
    json.dumps(p.to_dict())


def test_reused_seed_duplicates_are_flagged():
    """p5: 4 seeds each reused for 8 samples, each group one completion: A = 4 monochromatic groups
    against E[A] = 4 * 4 / C(32, 8), flagged. p3: one seed and one completion for all 32 samples: not
    testable within the problem, and a single such problem is counted, not flagged."""
    rows = [r for r in _honest_rows() if not (r["model"] == "tuned" and r["problem_id"] in ("p3", "p5"))]
    for i in range(32):
        rows.append(_row("p3", "tuned", i, correct=i < 8, seed=7, completion="the same long derivation = 12"))
    for i in range(32):
        g = i % 4
        rows.append(_row("p5", "tuned", i, correct=g == 0, seed=50 + g, completion=f"derivation variant {g}"))
    p = _run(rows)
    d = p.duplicates["tuned"]
    assert d["seed_repeats"] is True and d["problems_with_repeated_seed"] == 2 and d["problems_tested"] == 1
    assert (d["one_seed_problems"], d["one_seed_all_identical"]) == (1, 1)
    assert d["problems_flagged"] == 1
    (ex,) = d["examples"]
    assert ex["problem_id"] == "p5" and ex["monochromatic_groups"] == 4 and not ex["one_seed"]
    assert ex["expected"] == pytest.approx(4 * 4 / math.comb(32, 8)) and ex["p_value"] == pytest.approx(4 / math.comb(32, 8))
    assert d["duplicated_samples"] == 2 * 15 + 31 + 28
    assert p.duplicates["base"]["problems_flagged"] == 0
    assert p.flagged == [("duplicates: tuned: 1 problems with identical completions under a reused seed beyond what "
                         "their completion frequencies predict")]


def test_one_seed_for_a_whole_model_is_flagged():
    """The vLLM pitfall run-wide: every request of the tuned model got seed 7, so each problem's 32
    samples are one completion: all 8 one-seed problems identical (>= 5), all flagged."""
    rows = [r for r in _honest_rows() if r["model"] == "base"]
    for q in range(8):
        rows += [_row(f"p{q}", "tuned", i, correct=q > 3, seed=7, completion=f"long derivation of p{q}")
                 for i in range(32)]
    d = _run(rows).duplicates["tuned"]
    assert (d["one_seed_problems"], d["one_seed_all_identical"], d["problems_flagged"]) == (8, 8, 8)
    assert all(e["one_seed"] and e["p_value"] is None for e in d["examples"])


def test_reused_seed_on_short_answers_is_counted_not_flagged():
    """A few repeated seeds where the answer is "42" anyway: the frequencies predict the pairs."""
    rows = [r for r in _honest_rows() if not (r["model"] == "base" and r["problem_id"] == "p0")]
    for i in range(32):
        rows.append(_row("p0", "base", i, correct=True, seed=i % 28, completion="42"))
    p = _run(rows)
    d = p.duplicates["base"]
    assert d["seed_repeats"] is True and d["problems_with_repeated_seed"] == 1
    assert d["problems_flagged"] == 0 and p.flagged == []


def test_truncation_only_in_tuned_looks_lost_and_is_flagged():
    rows = [r for r in _honest_rows(64) if r["problem_id"] != "p6"]
    for i in range(64):
        rows.append(_row("p6", "base", i, correct=i % 2 == 0))
        cut = i >= 8  # the tuned model runs out of tokens on 56 of 64 samples (scored wrong)
        rows.append(_row("p6", "tuned", i, correct=not cut and i < 6, finish="length" if cut else "stop"))
    p = _run(rows)
    assert p.truncation["base"]["truncated"] == 0
    t = p.truncation["tuned"]
    assert t["truncated"] == 56 and t["share"] == pytest.approx(56 / 512) and t["problems_with_truncated"] == 1
    assert len(p.label_flips_without_truncated) == 1
    f = p.label_flips_without_truncated[0]
    assert f["problem_id"] == "p6" and f["label"] == LOST and f["label_without_truncated"] != LOST
    assert f["claim"] is True and f["truncated_tuned"] == 56 and f["truncated_base"] == 0
    assert (f["c_tuned"], f["n_tuned"], f["c_tuned_kept"], f["n_tuned_kept"]) == (6, 64, 6, 8)
    assert f["flagged"] is True and f["truncation_p_adjusted"] < 1e-10  # 0 of 64 against 56 of 64
    assert p.flagged == [("truncation: 1 created/lost labels change without truncated samples, truncated unequally "
                         "in base and tuned")]


def test_all_samples_truncated_is_listed_without_a_label():
    rows = [r for r in _honest_rows() if not (r["model"] == "tuned" and r["problem_id"] == "p7")]
    rows += [_row("p7", "tuned", i, correct=False, finish="length") for i in range(32)]
    p = _run(rows)
    (f,) = p.label_flips_without_truncated
    assert f["problem_id"] == "p7" and f["label_without_truncated"] is None and f["n_tuned_kept"] == 0
    assert p.truncation["tuned"]["problems_all_truncated"] == 1


def test_truncation_that_keeps_labels_is_counted_not_flagged():
    rows = _honest_rows(64)
    for r in rows:
        if r["problem_id"] == "p4" and r["sample_idx"] in (40, 41):  # wrong either way, label unchanged
            r["finish_reason"] = "length"
    p = _run(rows)
    assert p.truncation["base"]["truncated"] == p.truncation["tuned"]["truncated"] == 2
    assert p.label_flips_without_truncated == [] and p.flagged == []


def test_template_mismatch_is_reported():
    rows = _honest_rows()
    chat = [9001, 9002, *PROMPT["p3"], 9003]  # the tuned model got a chat template on p3 only
    for r in rows:
        if r["model"] == "tuned" and r["problem_id"] == "p3":
            r["prompt_ids"] = chat
    p = _run(rows)
    assert p.prompt_source == "prompt_ids" and p.prompt_mismatch == 1
    (ex,) = p.prompt_mismatch_examples
    assert ex["problem_id"] == "p3" and ex["first_differing_token"] == 0
    assert (ex["base_prompt_tokens"], ex["tuned_prompt_tokens"]) == (5, 8)
    assert ex["base_hashes"] != ex["tuned_hashes"]
    assert p.prompt_varies_within_model == {"base": 0, "tuned": 0}
    assert p.flagged == ["prompt: 1 problems whose base and tuned prompts differ (prompt_ids)"]


def test_imported_columns_prompt_hash_and_missing_columns():
    t = pa.table({"problem_id": ["a", "a", "b", "b"] * 2, "model": ["base"] * 4 + ["tuned"] * 4,
                  "completion": ["x", "x", "y", "z", "x", "w", "y", "y"],
                  "prompt_hash": ["h1", "h1", "h2", "h2", "h1", "h1", "h2", "H2"]})
    p = provenance(t, base="base", tuned="tuned", **SETTINGS)
    assert p.truncation is None and p.label_flips_without_truncated == []
    assert p.duplicates["base"]["source"] == "completion" and p.duplicates["base"]["seed_repeats"] is None
    assert p.duplicates["base"]["problems_with_duplicates"] == 1 and p.duplicates["base"]["problems_flagged"] == 0
    assert p.prompt_source == "prompt_hash" and p.prompt_mismatch == 1
    assert p.prompt_varies_within_model == {"base": 0, "tuned": 1}
    assert any("truncation not checked" in n for n in p.notes)
    bare = provenance(t.select(["problem_id", "model"]), base="base", tuned="tuned", **SETTINGS)
    assert bare.duplicates is None and bare.prompt_mismatch is None and bare.flagged == []
    with pytest.raises(ValueError, match="no samples of model 'other'"):
        provenance(t, base="base", tuned="other", **SETTINGS)


def _summary(table: pa.Table, **cfg) -> dict:
    def counts(name):
        t = table.filter(pa.compute.equal(table["model"], name))
        ids = sorted(set(t["problem_id"].to_pylist()))
        pid = np.asarray(t["problem_id"].to_pylist(), dtype=object)
        ok = np.asarray(t["correct"].to_pylist(), dtype=bool)
        return ModelCounts.from_arrays(name, ids, [int((pid == p).sum()) for p in ids],
                                       [int((ok & (pid == p)).sum()) for p in ids])

    return compare(counts("base"), counts("tuned"), AnalyzeConfig(bootstrap=200, **cfg)).summary


def test_from_summary_reads_the_analysis_settings():
    rows = [r for r in _honest_rows(64) if r["problem_id"] != "p6"]
    for i in range(64):
        rows.append(_row("p6", "base", i, correct=i % 2 == 0))
        rows.append(_row("p6", "tuned", i, correct=i < 6, finish="stop" if i < 8 else "length"))
    table = _table(rows)
    summary = json.loads(json.dumps(_summary(table, budget=8)))
    p = provenance_from_summary(table, summary)
    bud = summary["budget"]
    direct = provenance(table, base=summary["base"], tuned=summary["tuned"], K=bud["K"],
                        basin_budget=bud["basin_budget"], zeta=bud["zeta"], alpha=bud["alpha"])
    assert p.to_dict() == direct.to_dict()
    assert [f["problem_id"] for f in p.label_flips_without_truncated] == ["p6"]


def test_run_level_seed_with_differing_completions_is_not_flagged():
    """One seed recorded on every row (a harness's run seed): the outputs differ, so the seed does not
    fix them; the short answers' pairs are counted, nothing is flagged."""
    rows = _honest_rows()
    for r in rows:
        r["seed"] = 1234
    p = _run(rows)
    for m in ("base", "tuned"):
        d = p.duplicates[m]
        assert d["distinct_seeds"] == 1 and d["seed_repeats"] is True and d["problems_with_repeated_seed"] == 8
        assert d["problems_flagged"] == 0 and d["problems_with_duplicates"] == 2
    assert p.flagged == []
