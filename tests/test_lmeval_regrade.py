"""`analyze --regrade` of lm-eval samples with repeats = 8 (issue 18): every generation of resps[0]
is a sample, graded by the task's filter and exact_match replayed from results_*.json, else by
math-verify. The fixtures are written here in lm-eval's layout (two filters per document, GSM8K's
real filter_list and metric_list); each generation is built from a kind whose grade under each
filter is known by construction, which is the hand conversion the counts are checked against."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_importers import analyze, assert_bad, joined, per_problem

from supportscope.analysis import AnalyzeConfig
from supportscope.errors import InputError
from supportscope.io import ImportOptions, load_counts
from supportscope.io.lmeval_regrade import Regrader, exact_match, regex_step
from supportscope.pipeline.analyse import import_options, result_files

DATE = "2026-03-04T05-06-07.123456"
R, DOCS = 8, 6
GSM8K = {  # configs["gsm8k"] of results_*.json, as lm-eval 0.4 writes it
    "task": "gsm8k", "output_type": "generate_until", "repeats": R,
    "filter_list": [
        {"name": "strict-match", "filter": [{"function": "regex", "regex_pattern": "#### (\\-?[0-9\\.\\,]+)"},
                                            {"function": "take_first"}]},
        {"name": "flexible-extract", "filter": [{"function": "regex", "group_select": -1,
                                                 "regex_pattern": "(-?[$0-9.,]{2,})|(-?[0-9]+)"},
                                                {"function": "take_first"}]}],
    "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True, "ignore_case": True,
                     "ignore_punctuation": False, "regexes_to_ignore": [",", "\\$", "(?s).*#### ", "\\.$"]}],
}
FILTERS = ("strict-match", "flexible-extract")
ANSWERS = ["72", "1234", "5", "18", "300", "42"]


def _text(kind: str, value: str) -> tuple[str, dict[str, bool], bool]:
    """(generation, its grade under each filter, its math-verify grade) when ``value`` is the answer."""
    shown = "1,234" if value == "1234" else value
    if kind == "strict":  # "#### v": both regexes find v (flexible: the last number)
        return f"Adding them up gives {shown}.\n#### {shown}", {"strict-match": True, "flexible-extract": True}, True
    if kind == "flex":  # no "####": strict falls back to [invalid]; flexible reads "v." and drops the dot
        return f"So the answer is {shown}.", {"strict-match": False, "flexible-extract": True}, True
    if kind == "dollar":  # "$v": flexible keeps the $, exact_match's regexes_to_ignore drop it
        return f"She earns ${shown} in all", {"strict-match": False, "flexible-extract": True}, True
    if kind == "boxed":
        return f"The answer is $\\boxed{{{value}}}$.", {"strict-match": False, "flexible-extract": False}, True
    return "I am not sure.", {"strict-match": False, "flexible-extract": False}, False


def write_run(folder, model: str, seed: int, kinds=("strict", "flex", "dollar", "none"), results: bool = True):
    """One model's lm-eval output folder: samples_gsm8k_<date>.jsonl (one record per document and
    filter) and results_<date>.json. Returns problem_id -> {filter or 'math': correct count of R}."""
    rng = np.random.default_rng(seed)
    d = folder / model.replace("/", "__")
    d.mkdir(parents=True)
    truth, docs = {}, []
    for i, ans in enumerate(ANSWERS[:DOCS]):
        gens, grades = [], []
        for _ in range(R):
            right = rng.random() < 0.2 + 0.12 * i
            value = ans if right else str(int(ans) + int(rng.integers(1, 9)))
            text, by_filter, by_math = _text(str(rng.choice(kinds)), value)
            gens.append(text)
            grades.append(({f: ok and right for f, ok in by_filter.items()}, by_math and right))
        target = f"Step one: 3 + 4 = 7, then more work.\n#### {'1,234' if ans == '1234' else ans}"
        docs.append((i, target, gens, grades))
        truth[f"gsm8k/{i}"] = {**{f: sum(g[0][f] for g in grades) for f in FILTERS}, "math": sum(g[1] for g in grades)}
    lines = []
    for flt in FILTERS:  # lm-eval writes each filter's records in turn
        for i, target, gens, grades in docs:
            lines.append({"doc_id": i, "doc": {"question": f"q{i}", "answer": target}, "target": target,
                          "arguments": {"gen_args_0": {"arg_0": f"Question: q{i}\nAnswer:", "arg_1": {"until": ["Q:"]}}},
                          "resps": [gens], "filtered_resps": ["?"], "filter": flt, "metrics": ["exact_match"],
                          "doc_hash": f"d{i}", "prompt_hash": f"p{i}", "target_hash": f"t{i}",
                          "exact_match": float(grades[0][0][flt])})  # lm-eval's own grade: take_first
    (d / f"samples_gsm8k_{DATE}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    if results:
        (d / f"results_{DATE}.json").write_text(json.dumps({"model_name": model, "configs": {"gsm8k": GSM8K}}))
    return truth


def counts(truth: dict, key: str) -> dict:
    return {p: (R, t[key]) for p, t in truth.items()}


def test_regrade_replays_filter_and_exact_match(tmp_path):
    """repeats = 8, two filters: --regrade gives n = 8 per document and the hand counts of the chosen
    filter; lm-eval's own grade of the first generation is reproduced (no mismatch note)."""
    tb = write_run(tmp_path / "base", "org/base-7b", 1)
    tt = write_run(tmp_path / "tuned", "org/tuned-7b", 2)
    for flt in FILTERS:
        r = analyze(tmp_path / "base", tmp_path / "tuned", "--filter", flt, "--regrade", out=tmp_path / flt)
        assert r.returncode == 0, r.stderr
        assert per_problem(tmp_path / flt) == joined(counts(tb, flt), counts(tt, flt))
        assert "--regrade: each of the 8 generations" in r.stderr and "exact_match" in r.stderr
        assert "differs from lm-eval's own" not in r.stderr
    assert counts(tb, "strict-match") != counts(tb, "flexible-extract")  # the filters are told apart
    s = json.loads((tmp_path / FILTERS[0] / "summary.json").read_text())
    assert (s["base"], s["tuned"]) == ("org/base-7b", "org/tuned-7b") and s["config"]["regrade"] is True
    notes = []  # without --regrade: one filtered answer per document, and a note naming --regrade
    table = load_counts(result_files([tmp_path / "base"]), options=ImportOptions(filter="strict-match"),
                        note=notes.append)
    assert set(table["n"].to_pylist()) == {1} and any("repeats 8" in n and "pass --regrade" in n for n in notes)


def test_regrade_without_results_json_falls_back_to_math_verify(tmp_path):
    """No results_*.json: math-verify grades every generation against target (GSM8K's '#### v' read
    after the ####), with a note saying why; counts equal the math-verify grades by construction."""
    tb = write_run(tmp_path / "base", "org/base-7b", 3, kinds=("boxed", "none"), results=False)
    tt = write_run(tmp_path / "tuned", "org/tuned-7b", 4, kinds=("boxed", "none"), results=False)
    r = analyze(tmp_path / "base", tmp_path / "tuned", "--filter", "strict-match", "--regrade", out=tmp_path / "o")
    assert r.returncode == 0, r.stderr
    assert per_problem(tmp_path / "o") == joined(counts(tb, "math"), counts(tt, "math"))
    assert f"math-verify against target (no results_{DATE}.json next to it)" in r.stderr
    assert {t["math"] for t in tb.values()} != {0}


def _load(folder, filter_name=None):
    """load_counts of one lm-eval folder with --regrade (math-verify injected as the CLI does): (table, notes)."""
    notes = []
    options = import_options(AnalyzeConfig(regrade=True, filter=filter_name))
    return load_counts(result_files([folder]), options=options, note=notes.append), notes


def test_regrade_errors_and_mismatch_note(tmp_path):
    tb = write_run(tmp_path / "base", "org/base-7b", 5)
    samples = tmp_path / "base" / "org__base-7b" / f"samples_gsm8k_{DATE}.jsonl"
    with pytest.raises(InputError, match="'strict-match', 'flexible-extract'.*--filter"):
        _load(tmp_path / "base")  # two filters need --filter
    # lm-eval's own grade of the first generation flipped on one document: a note counts it
    rows = [json.loads(x) for x in samples.read_text().splitlines()]
    rows[0]["exact_match"] = 1.0 - rows[0]["exact_match"]
    samples.write_text("".join(json.dumps(x) + "\n" for x in rows))
    table, notes = _load(tmp_path / "base", "strict-match")
    assert any(f"differs from lm-eval's own exact_match on 1 of {DOCS} documents" in n for n in notes)
    assert dict(zip(table["problem_id"].to_pylist(), zip(table["n"].to_pylist(), table["correct"].to_pylist()))) \
        == counts(tb, "strict-match")
    # a record without generations is one error line at its line
    text = samples.read_text()
    rows[2]["resps"] = "none"
    samples.write_text("".join(json.dumps(x) + "\n" for x in rows))
    with pytest.raises(InputError) as e:
        _load(tmp_path / "base", "strict-match")
    assert str(e.value).startswith(f"{samples}:3: resps is not a list of generations") and "Fix:" in str(e.value)
    samples.write_text(text)
    # a task config with a regex that does not compile: one line naming the results file
    res = samples.parent / f"results_{DATE}.json"
    bad = json.loads(res.read_text())
    bad["configs"]["gsm8k"]["filter_list"][0]["filter"][0]["regex_pattern"] = "(unclosed"
    res.write_text(json.dumps(bad))
    with pytest.raises(InputError) as e:
        _load(tmp_path / "base", "strict-match")
    assert str(e.value).startswith(f"{res}: the regex filter step") and "--regrade" in str(e.value)
    # the CLI prints such an error as one line, exit 2
    assert_bad(analyze(tmp_path / "base", tmp_path / "base", "--filter", "strict-match", "--regrade",
                       out=tmp_path / "d"), f"{res}:", "regex filter step")


def test_regex_step_and_exact_match_follow_lm_eval():
    """lm-eval's RegexFilter: findall, group_select (negative too), the first non-empty group of a
    tuple, the fallback; exact_match with regexes_to_ignore, ignore_case/punctuation/numbers."""
    strict = regex_step("#### (\\-?[0-9\\.\\,]+)")
    assert strict("a\n#### 12\n#### 13") == "12" and strict("no marker 12") == "[invalid]"
    flexible = regex_step("(-?[$0-9.,]{2,})|(-?[0-9]+)", group_select=-1)
    assert flexible("3 apples and 4 pears") == "4" and flexible("cost $1,200.") == "$1,200."
    assert regex_step("(a)|(b)", group_select=5, fallback="F")("a b") == "F"
    assert regex_step("x(y?)(z?)", fallback="F")("x") == "F"  # every group of a tuple empty: the fallback
    assert regex_step("x(y?)", fallback="F")("x") == ""  # one group: findall gives the empty string itself
    opts = GSM8K["metric_list"][0]
    assert exact_match("$1,200.", ["work\n#### 1200"], opts) and not exact_match("1200", ["#### 120"], opts)
    assert exact_match(" Paris ", ["paris"], {"ignore_case": True})
    assert not exact_match("Paris", ["paris"], {})
    assert exact_match("paris!", ["Paris"], {"ignore_case": True, "ignore_punctuation": True})
    assert exact_match("b", ["a", "b"], {})  # a list target: any


def test_regrader_modes():
    vote = {"filter_list": [{"name": "maj@64", "filter": [{"function": "regex"}, {"function": "majority_vote"},
                                                          {"function": "take_first"}]}], "metric_list": []}
    g = Regrader(vote, "maj@64", "exact_match", None, "r.json", None)
    assert g.mode == "replay" and not g.plan.keeps_first  # the vote is skipped; its answer is not generation 0
    assert g.grade("so #### 7", ["7"]) and not g.grade("so 7", ["7"])
    mc = {"filter_list": [{"name": "m", "filter": [{"function": "multi_choice_regex"}]}]}
    g = Regrader(mc, "m", "exact_match", lambda t, c: t in c, "r.json", None)
    assert g.mode == "math-verify" and "'multi_choice_regex'" in g.describe() and g.grade("is 7", ["7"])
    g = Regrader(GSM8K, "strict-match", "f1", lambda t, c: False, "r.json", None)
    assert "metric 'f1' is not exact_match" in g.describe()
    with pytest.raises(InputError, match="needs math-verify"):
        Regrader(None, "strict-match", "exact_match", None, "s.jsonl", "no results_x.json next to it")
