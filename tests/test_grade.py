"""`supportscope grade`: verifiers of raw generations, planted math-verify traps, bad input, the
code verifier's limits, output read by `analyze`, and the verifier-agreement account of labels."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_cli

from supportscope.analysis import ModelCounts, compare
from supportscope.analysis.verifier_agreement import (
    labels_from_counts,
    verifier_agreement,
    verifier_agreement_from_summary,
)
from supportscope.errors import ConfigError, InputError
from supportscope.io.readers import load_counts
from supportscope.pipeline.grade import GradeConfig, grade
from supportscope.tasks.answers import (
    ExactVerifier,
    MathVerifier,
    final_answer,
    normalise,
)
from supportscope.tasks.code_exec import CodeVerifier, extract_code

#: (name, gold, completion, math-verify's decision, the strict match's decision): each a planted trap
TRAPS = [
    ("boxed-twice-last", "3", r"The answer is \boxed{5}. Wait, \boxed{3}.", 0, 1),
    ("boxed-twice-set", "3, 5", r"\boxed{3}, \boxed{5}", 1, 0),
    ("multi-part-one-matches", "5", r"The parts are (a) \boxed{2} and (b) \boxed{5}", 0, 1),
    ("bold-then-number", "74", "The answer is **73**, or 74 if we count the start", 1, 0),
    ("bold-then-check", "73", "The answer is **73**.\n\nCheck: 73 + 2 = 75", 0, 1),
    ("number-in-formula", "12", r"We need $x$ such that $x + 5 = 12$. Let me think.", 1, 0),
    ("number-in-formula-rhs", "144", r"Thus $n = 12$ satisfies $n^2 = 144$.", 1, 0),
]
#: samples both verifiers score alike (1 or 0)
CONTROLS = [
    ("boxed", "5", r"So the answer is \boxed{5}.", 1),
    ("bold", "73", "The total is\n**73**", 1),
    ("bold-label", "73", "**Answer: 73**", 1),
    ("dfrac", "\\frac{1}{2}", r"The answer is $\dfrac{1}{2}$.", 1),
    ("multi-part-in-one-box", "2, 3", r"\boxed{2, 5}", 0),
    ("wrong", "5", "The answer is 7", 0),
]


def _write_set(tmp_path, models=("base",)):
    problems, gens = [], []
    for name, gold, text, *_ in TRAPS + CONTROLS:
        problems.append({"id": name, "prompt": f"question {name}", "answer": gold})
        for model in models:
            gens.append({"problem_id": name, "model": model, "sample_idx": 0, "completion": text})
    pfile, gfile = tmp_path / "problems.jsonl", tmp_path / "generations.jsonl"
    pfile.write_text("".join(json.dumps(p) + "\n" for p in problems))
    gfile.write_text("".join(json.dumps(g) + "\n" for g in gens))
    return pfile, gfile


def test_planted_traps_are_disagreements(tmp_path):
    pfile, gfile = _write_set(tmp_path)
    out = tmp_path / "graded.jsonl"
    r = run_cli("grade", gfile, "--problems", pfile, "--out", out)
    assert r.returncode == 0, r.stderr
    rows = {row["problem_id"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert set(rows) == {c[0] for c in TRAPS + CONTROLS}
    for name, _, _, mv, strict in TRAPS:
        row = rows[name]
        assert (row["correct_math"], row["correct_exact"]) == (mv, strict), name
        assert row["disagree"] is True and row["correct"] == mv, name
    for name, _, _, both in CONTROLS:
        row = rows[name]
        assert (row["correct_math"], row["correct_exact"], row["disagree"]) == (both, both, False), name
    assert f"verifiers disagree on {len(TRAPS)} samples in {len(TRAPS)} problems" in r.stdout


def test_exact_primary_and_regex_verifier(tmp_path):
    pfile, gfile = _write_set(tmp_path)
    table = grade(gfile, pfile, tmp_path / "g.parquet", GradeConfig(verifier="exact"))
    assert table.column_names == ["problem_id", "model", "sample_idx", "answer", "correct_exact", "correct_math",
                                  "correct", "disagree", "reference", "prompt_hash"]
    assert table["correct"].to_pylist() == table["correct_exact"].to_pylist()
    assert pq.read_table(tmp_path / "g.parquet").equals(table)
    cfg = GradeConfig(verifier=r"regex:\\boxed\{([^}]*)\}", second_verifier="none")
    t2 = grade(gfile, pfile, tmp_path / "r.csv", cfg)
    assert t2.column_names == ["problem_id", "model", "sample_idx", "answer", "correct_regex", "correct", "disagree",
                               "reference", "prompt_hash"]
    got = dict(zip(t2["problem_id"].to_pylist(), t2["answer"].to_pylist()))
    assert got["boxed-twice-last"] == "3" and got["wrong"] is None
    assert not any(t2["disagree"].to_pylist())


def test_math_verdicts_unchanged_under_eval_guard():
    from supportscope.tasks.eval_guard import guarded

    mv = MathVerifier()
    cases = [(g, c) for _, g, c, *_ in TRAPS + CONTROLS]
    plain = [mv.check(f"plain{i}", g, c) for i, (g, c) in enumerate(cases)]
    with guarded():
        guard = [mv.check(f"guard{i}", g, c) for i, (g, c) in enumerate(cases)]
    assert plain == guard


def test_normalise_and_final_answer():
    assert normalise("$1,000$") == normalise("1000") == "1000"
    assert normalise("73.0") == normalise("+73") == "73"
    assert normalise(r"\left( 2, 3 \right)") == "(2,3)"
    assert normalise(r"\boxed{\tfrac{1}{2}}") == r"\frac{1}{2}"
    assert normalise("2, 300") != normalise("2300")
    assert final_answer("<answer>4</answer> and \\boxed{5}") == "4"
    assert final_answer("Final answer: $x^2$ here") == "x^2"
    assert final_answer("") is None
    assert ExactVerifier().check("p", "73", "73 apples") == 0  # strict: no units


def test_output_is_a_samples_file_for_analyze(tmp_path):
    pfile, gfile = _write_set(tmp_path, models=("base", "tuned"))
    for suffix in (".parquet", ".csv", ".jsonl"):
        out = tmp_path / f"graded{suffix}"
        table = grade(gfile, pfile, out)
        counts = load_counts(out)
        assert counts.num_rows == 2 * len(TRAPS + CONTROLS)
        assert int(np.sum(counts["correct"].to_numpy())) == sum(table["correct"].to_pylist())
    r = run_cli("analyze", tmp_path / "graded.parquet", "--base", "base", "--tuned", "tuned", "--bootstrap", "100",
                "--out", tmp_path / "analysis")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "analysis" / "per_problem.parquet").exists()


def test_without_model_or_sample_idx_columns(tmp_path):
    (tmp_path / "p.jsonl").write_text('{"id": "a", "prompt": "q", "answer": "5"}\n')
    (tmp_path / "g.csv").write_text('problem_id,completion\na,"line one\nso \\boxed{5}"\na,"\\boxed{4}"\n')
    with pytest.raises(InputError, match=r"g\.csv:2: missing 'model'.*--model NAME"):
        grade(tmp_path / "g.csv", tmp_path / "p.jsonl", tmp_path / "o.jsonl")
    table = grade(tmp_path / "g.csv", tmp_path / "p.jsonl", tmp_path / "o.jsonl", GradeConfig(model="m"))
    assert table["sample_idx"].to_pylist() == [0, 1] and table["correct"].to_pylist() == [1, 0]


@pytest.mark.parametrize("name, content, where", [
    ("bad-json", '{"problem_id": "a", "model": "m", "sample_idx": 0, "completion": "x"}\n{oops\n', ":2: invalid JSON"),
    ("no-completion", '{"problem_id": "a", "model": "m", "sample_idx": 0}\n', ":1: missing 'completion'"),
    ("null-completion", '{"problem_id": "a", "model": "m", "sample_idx": 0, "completion": null}\n',
     ":1: completion must be text, got null"),
    ("unknown-problem", '{"problem_id": "zz", "model": "m", "sample_idx": 0, "completion": "x"}\n',
     ":1: problem_id 'zz' is not in"),
    ("duplicate", ('{"problem_id": "a", "model": "m", "sample_idx": 0, "completion": "x"}\n'
                   '{"problem_id": "a", "model": "m", "sample_idx": 0, "completion": "y"}\n'), ":2: sample_idx 0 of"),
    ("negative-idx", '{"problem_id": "a", "model": "m", "sample_idx": -1, "completion": "x"}\n', ":1: sample_idx must"),
])
def test_bad_generations_name_file_and_line(tmp_path, name, content, where):
    (tmp_path / "p.jsonl").write_text('{"id": "a", "prompt": "q", "answer": "5"}\n')
    gfile = tmp_path / f"{name}.jsonl"
    gfile.write_text(content)
    with pytest.raises(InputError) as e:
        grade(gfile, tmp_path / "p.jsonl", tmp_path / "o.parquet")
    msg = str(e.value)
    assert msg.startswith(str(gfile) + where) and " Fix: " in msg and "\n" not in msg
    assert not (tmp_path / "o.parquet").exists()


def test_cli_errors_are_one_line_exit_2(tmp_path):
    pfile, gfile = _write_set(tmp_path)
    cases = [
        (["--verifier", "code"], "--verifier code runs the model's output as a program. Fix: add --allow-exec"),
        (["--verifier", "regex:("], "is not a valid regular expression"),
        (["--verifier", "sympy"], "--verifier 'sympy' is not a verifier"),
        (["--second-verifier", "math"], "--second-verifier 'math' is of the same kind"),
    ]
    for extra, text in cases:
        r = run_cli("grade", gfile, "--problems", pfile, "--out", tmp_path / "o.parquet", *extra)
        assert r.returncode == 2 and text in r.stderr and len(r.stderr.strip().splitlines()) == 1, (extra, r.stderr)
    r = run_cli("grade", gfile, "--problems", pfile, "--out", tmp_path / "o.txt")
    assert r.returncode == 2 and "unknown output extension '.txt'" in r.stderr
    r = run_cli("grade", gfile, "--problems", pfile, "--out", gfile.with_suffix(".jsonl"))
    assert r.returncode == 2 and "is the input file" in r.stderr
    with pytest.raises(ConfigError):
        GradeConfig(verifier="exact", second_verifier="code")


def test_code_verifier_limits(tmp_path):
    v = CodeVerifier(timeout_s=2, memory_mb=256)
    tests = "assert add(2, 3) == 5"
    assert v.check("p", tests, "Here:\n```python\ndef add(a, b):\n    return a + b\n```") == 1
    assert v.check("p", tests, "```python\ndef add(a, b):\n    return a - b\n```") == 0
    assert v.check("p", tests, "```python\nwhile True:\n    pass\n```") == 0  # wall/CPU limit
    assert v.check("p", tests, "```python\nx = bytearray(2**31)\ndef add(a, b): return a + b\n```") == 0  # memory
    assert v.check("p", tests, "") == 0
    assert extract_code("no fence") == "no fence"


def test_code_verifier_cli_warns(tmp_path):
    (tmp_path / "p.jsonl").write_text(json.dumps({"id": "a", "prompt": "q", "answer": "assert f() == 1"}) + "\n")
    gens = [{"problem_id": "a", "model": "m", "sample_idx": i, "completion": f"```python\ndef f(): return {i}\n```"}
            for i in range(2)]
    (tmp_path / "g.jsonl").write_text("".join(json.dumps(g) + "\n" for g in gens))
    r = run_cli("grade", tmp_path / "g.jsonl", "--problems", tmp_path / "p.jsonl", "--out", tmp_path / "o.jsonl",
                "--verifier", "code", "--allow-exec", "--code-timeout", "5")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("warning: the code verifier EXECUTES model output") == 1
    rows = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert [x["correct_code"] for x in rows] == [0, 1] and "correct_math" not in rows[0]


# ------------------------------------------------------------------------------ verifier agreement
def _graded(counts: dict[str, dict[str, tuple[int, int, int]]]) -> pa.Table:
    """Graded rows from per-model per-problem (n, primary successes, alternative successes); the
    alternative's successes are the primary's with the difference made up by disagreeing samples."""
    cols = {k: [] for k in ("problem_id", "model", "sample_idx", "correct_math", "correct_exact")}
    for model, probs in counts.items():
        for pid, (n, a, b) in probs.items():
            both = min(a, b)
            math = [1] * a + [0] * (n - a)
            exact = [1] * both + [0] * (a - both) + [1] * (b - both) + [0] * (n - a - (b - both))
            for i in range(n):
                for k, v in (("problem_id", pid), ("model", model), ("sample_idx", i),
                             ("correct_math", math[i]), ("correct_exact", exact[i])):
                    cols[k].append(v)
    return pa.table(cols)


def test_created_label_that_flips_under_other_verifier_is_flagged():
    n = 128
    spec = {  # problem -> (base (math, exact), tuned (math, exact))
        "flips": ((0, 20), (64, 64)),      # created under math; the base reaches 20/128 under exact
        "stable": ((0, 0), (64, 60)),      # created either way (4 tuned samples disagree)
        "lost-flips": ((64, 64), (0, 30)),  # lost under math, not under exact
        "same": ((60, 60), (62, 62)),
        "up": ((10, 10), (90, 90)),
        "down": ((90, 90), (60, 60)),
    }
    counts = {"base": {p: (n, *b) for p, (b, _) in spec.items()}, "tuned": {p: (n, *t) for p, (_, t) in spec.items()}}
    samples = _graded(counts)
    ids = list(spec)
    base = ModelCounts.from_arrays("base", ids, [n] * len(ids), [spec[p][0][0] for p in ids])
    tuned = ModelCounts.from_arrays("tuned", ids, [n] * len(ids), [spec[p][1][0] for p in ids])
    comp = compare(base, tuned)
    given = dict(zip(comp.per_problem["problem_id"].to_pylist(), comp.per_problem["label"].to_pylist()))
    assert given["flips"] == given["stable"] == "created" and given["lost-flips"] == "lost"
    K = comp.summary["budget"]["K"]
    assert list(labels_from_counts(base.correct, base.n, tuned.correct, tuned.n, K)) == [given[p] for p in ids]

    res = verifier_agreement_from_summary(samples, comp.per_problem, comp.summary)
    flagged = {f["problem_id"]: f for f in res.flips}
    assert set(flagged) == {"flips", "lost-flips"}
    f = flagged["flips"]
    assert f["label"] == "created" and f["label_if_base_rescored"] != "created"
    assert f["label_if_tuned_rescored"] == "created" and f["disagree_base"] == 20 and f["c_base_alt"] == 20
    assert flagged["lost-flips"]["label_if_tuned_rescored"] != "lost"
    assert res.per_label["created"] == {"problems": 2, "problems_with_disagreement": 2, "samples": 4 * n,
                                        "disagreeing_samples": 24}
    assert res.per_label["unchanged"]["problems_with_disagreement"] == 0
    assert res.recompute_mismatch == []
    # the same from explicit settings and a plain mapping of labels
    again = verifier_agreement(samples, given, base="base", tuned="tuned", K=K)
    assert again.flips == res.flips
    with pytest.raises(ValueError, match="no samples of model 'nope'"):
        verifier_agreement(samples, given, base="nope", tuned="tuned", K=K)

