"""`supportscope analyze` on what users already have (issue 18): lm-eval --log_samples folders,
LiveCodeBench *_eval_all.json, rate tables, column aliases and JSON arrays. Each fixture in
tests/data/importers/ is loaded with one CLI command and its counts are checked against a hand
conversion written here with plain json/csv; each failure mode is one error line (file:line, a
fix, exit 2, no traceback)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import run_cli

from supportscope.analysis import AnalyzeConfig
from supportscope.errors import ConfigError, InputError
from supportscope.io import ImportOptions, load_counts
from supportscope.io.importers import parse_metrics

DATA = Path(__file__).parent / "data" / "importers"
LMEVAL = DATA / "lmeval"
LCB = DATA / "lcb"
DATE = "2026-01-02T03-04-05.678901"
BASE_DIR = LMEVAL / "base" / "EleutherAI__pythia-160m"
TUNED_DIR = LMEVAL / "tuned" / "Qwen__Qwen3.5-4B"
LCB_FILE = "Scenario.codegeneration_10_0.2_eval_all.json"


def analyze(*args, out):
    return run_cli("analyze", *args, "--bootstrap", "200", "--out", out)


def per_problem(out: Path) -> dict[str, tuple[int, int, int, int]]:
    """problem_id -> (n_base, c_base, n_tuned, c_tuned) from per_problem.csv."""
    with open(out / "per_problem.csv", newline="") as f:
        return {r["problem_id"]: (int(r["n_base"]), int(r["c_base"]), int(r["n_tuned"]), int(r["c_tuned"]))
                for r in csv.DictReader(f)}


def joined(base: dict, tuned: dict) -> dict[str, tuple[int, int, int, int]]:
    return {p: (*base[p], *tuned[p]) for p in base}


def assert_bad(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Fix:" in errors[0], r.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def hand_lmeval(folder: Path, filter_name: str, metric: str | dict | None = None, threshold: float = 1.0,
                task_glob: str = "*") -> dict:
    """problem_id -> (n, correct) from lm-eval samples files, by plain json: one row per document of
    the chosen filter (or the file's only one), the given metric (a dict: per task) else the task's
    first metric, success when >= threshold."""
    out = {}
    for path in sorted(folder.glob(f"samples_{task_glob}_{DATE}.jsonl")):
        task = path.name[len("samples_"):-len(f"_{DATE}.jsonl")]
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        filters = {r["filter"] for r in rows}
        chosen = filter_name if filter_name in filters else rows[0]["filter"]
        name = metric.get(task) if isinstance(metric, dict) else metric
        for r in rows:
            if r["filter"] == chosen:
                value = float(r[name or r["metrics"][0]])
                out[f"{task}/{r['doc_id']}"] = (1, int(value >= threshold))
    return out


def hand_lcb(path: Path) -> dict:
    return {o["question_id"]: (len(o["graded_list"]), sum(map(bool, o["graded_list"])))
            for o in json.loads(path.read_text())}


def test_lmeval_two_folders_pair_tasks(tmp_path):
    """DIR_BASE DIR_TUNED: three tasks (greedy acc, repeats = 8 with two filters, a float f1); the
    model names come from results_*.json and from the folder name."""
    r = analyze(LMEVAL / "base", LMEVAL / "tuned", "--filter", "strict-match", out=tmp_path / "o")
    assert r.returncode == 0, r.stderr
    want = joined(hand_lmeval(BASE_DIR, "strict-match"), hand_lmeval(TUNED_DIR, "strict-match"))
    assert per_problem(tmp_path / "o") == want
    assert {p.split("/")[0] for p in want} == {"copa", "gsm8k", "drop"}
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert (s["base"], s["tuned"]) == ("EleutherAI/pythia-160m", "Qwen/Qwen3.5-4B")
    assert "n = 1" in r.stderr and "certifies nothing beyond pass@1" in r.stderr
    assert "repeats 8" in r.stderr


def test_lmeval_float_metric_threshold_and_metric_choice(tmp_path):
    """A float metric (f1) succeeds when >= --success-threshold; --metric picks another metric."""
    b, t = BASE_DIR / f"samples_drop_{DATE}.jsonl", TUNED_DIR / f"samples_drop_{DATE}.jsonl"
    r = analyze("--base-file", b, "--tuned-file", t, "--success-threshold", "0.5", out=tmp_path / "a")
    assert r.returncode == 0, r.stderr
    want = joined(hand_lmeval(BASE_DIR, "none", "f1", 0.5, "drop"), hand_lmeval(TUNED_DIR, "none", "f1", 0.5, "drop"))
    assert per_problem(tmp_path / "a") == want
    assert {v[1] for v in want.values()} == {0, 1}
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert (s["base"], s["tuned"]) == ("EleutherAI/pythia-160m", "Qwen/Qwen3.5-4B")  # not samples_drop_2026-...
    r = analyze("--base-file", b, "--tuned-file", t, "--metric", "em", out=tmp_path / "b")
    assert r.returncode == 0, r.stderr
    want = joined(hand_lmeval(BASE_DIR, "none", "em", 1.0, "drop"), hand_lmeval(TUNED_DIR, "none", "em", 1.0, "drop"))
    assert per_problem(tmp_path / "b") == want


def test_lmeval_metric_per_task(tmp_path):
    """Each task counts its own first metric by default; --metric TASK=NAME (repeated or a comma list)
    changes one task; a plain NAME applies to the other tasks; errors list the task's metrics."""
    import shutil

    lm = tmp_path / "lm"
    shutil.copytree(LMEVAL, lm)
    base_dir, tuned_dir = lm / BASE_DIR.relative_to(LMEVAL), lm / TUNED_DIR.relative_to(LMEVAL)
    for path in [*base_dir.glob("samples_copa_*"), *tuned_dir.glob("samples_copa_*"), *base_dir.glob("samples_drop_*"),
                 *tuned_dir.glob("samples_drop_*")]:  # make the second metric of each task differ from the first
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for i, r in enumerate(rows):
            second = r["metrics"][1]
            r[second] = type(r[second])(1 - float(r[r["metrics"][0]]) if i % 2 else float(r[second]))
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def run(*metric, out):
        return analyze(lm / "base", lm / "tuned", "--filter", "strict-match", *metric, out=tmp_path / out)

    r = run(out="a")  # default: copa acc, gsm8k exact_match, drop f1 (each task's first)
    assert r.returncode == 0, r.stderr
    assert per_problem(tmp_path / "a") == joined(hand_lmeval(base_dir, "strict-match"),
                                                 hand_lmeval(tuned_dir, "strict-match"))
    assert "task copa" in r.stderr and "metric 'acc'" in r.stderr and "metric 'f1'" in r.stderr
    chosen = {"drop": "em", "copa": "acc_norm"}
    want = joined(hand_lmeval(base_dir, "strict-match", chosen), hand_lmeval(tuned_dir, "strict-match", chosen))
    assert want != per_problem(tmp_path / "a")  # the metrics tell the documents apart
    r = run("--metric", "drop=em", "--metric", "copa=acc_norm", out="b")
    assert r.returncode == 0, r.stderr
    assert per_problem(tmp_path / "b") == want
    assert parse_metrics(["drop=em,copa=acc_norm"]) == parse_metrics(["drop=em", "copa=acc_norm"]) == \
        (None, chosen)
    assert parse_metrics(["acc", "drop=em"]) == ("acc", {"drop": "em"})  # NAME for the other tasks
    assert ImportOptions(metric=("acc", "drop=em")).metric_for("drop") == "em"
    assert ImportOptions(metric=("acc", "drop=em")).metric_for("copa") == "acc"

    def load(*metric):
        return load_counts(sorted(base_dir.glob("samples_*.jsonl")), note=lambda _: None,
                           options=ImportOptions(filter="strict-match", metric=metric))

    copa = base_dir / f"samples_copa_{DATE}.jsonl"
    with pytest.raises(InputError) as e:
        load("em")
    assert str(e.value).startswith(f"{copa}:1: metric 'em' is not a field of the samples (task copa; its metrics: "
                                   "acc, acc_norm)") and "--metric copa=NAME" in str(e.value)
    with pytest.raises(InputError, match="task 'dorp', which is not among the lm-eval tasks read .copa, drop, gsm8k."):
        load("dorp=em")
    for bad, what in (("=em", "empty task name"), ("drop=em,drop=f1", "two metrics for task 'drop'"),
                      ("acc,em", "two metrics for every task")):
        with pytest.raises(ConfigError, match=what):
            AnalyzeConfig(metric=[bad])
    assert_bad(run("--metric", "=em", out="e"), "--metric", "empty task name")


def test_lcb_folders_and_files(tmp_path):
    """LiveCodeBench: one row per graded generation; the model is the folder's name."""
    b, t = LCB / "Qwen2.5-Coder-7B" / LCB_FILE, LCB / "Qwen2.5-Coder-7B-RL" / LCB_FILE
    r = analyze(b.parent, t.parent, out=tmp_path / "a")
    assert r.returncode == 0, r.stderr
    assert per_problem(tmp_path / "a") == joined(hand_lcb(b), hand_lcb(t))
    r = analyze("--base-file", b, "--tuned-file", t, out=tmp_path / "b")
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert (s["base"], s["tuned"]) == ("Qwen2.5-Coder-7B", "Qwen2.5-Coder-7B-RL")
    assert per_problem(tmp_path / "b") == joined(hand_lcb(b), hand_lcb(t))


def test_rate_tables(tmp_path):
    """eval-arena JSONL (example_id, pass1, N) and an LCB-derived CSV (pass@1, count): n and rate * n."""
    rows = [json.loads(line) for line in (DATA / "rates" / "arena.jsonl").read_text().splitlines()]
    by = {m: {f"{r['benchmark_id']}/{r['example_id']}": (r["N"], round(r["pass1"] * r["N"])) for r in rows
              if r["model"] == m} for m in ("base-7b", "tuned-7b")}
    r = analyze(DATA / "rates" / "arena.jsonl", "--base", "base-7b", "--tuned", "tuned-7b", out=tmp_path / "a")
    assert r.returncode == 0, r.stderr
    assert per_problem(tmp_path / "a") == joined(by["base-7b"], by["tuned-7b"])
    assert "'example_id' as problem_id" in r.stderr
    with open(DATA / "rates" / "lcb_rates.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    by = {m: {r["question_id"]: (int(r["count"]), round(float(r["pass@1"]) * int(r["count"]))) for r in rows
              if r["model"] == m} for m in ("base", "tuned")}
    r = analyze(DATA / "rates" / "lcb_rates.csv", "--base", "base", "--tuned", "tuned", out=tmp_path / "b")
    assert r.returncode == 0, r.stderr
    assert per_problem(tmp_path / "b") == joined(by["base"], by["tuned"])


def test_rate_table_with_two_benchmarks_sharing_example_ids(tmp_path):
    """eval-arena tables hold several benchmarks; example id 0 of humaneval and of mbpp are two problems
    (benchmark_id/example_id), not one problem given twice."""
    rows = [{"benchmark_id": b, "model": m, "example_id": i, "pass1": ((i + len(b) + len(m)) % 5) / 4, "N": 4}
            for b in ("humaneval", "mbpp") for m in ("base", "tuned") for i in range(5)]
    path = tmp_path / "arena.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    r = analyze(path, "--base", "base", "--tuned", "tuned", out=tmp_path / "o")
    assert r.returncode == 0, r.stderr
    by = {m: {f"{x['benchmark_id']}/{x['example_id']}": (4, round(x["pass1"] * 4)) for x in rows if x["model"] == m}
          for m in ("base", "tuned")}
    got = per_problem(tmp_path / "o")
    assert got == joined(by["base"], by["tuned"]) and len(got) == 10
    assert "problem_id = benchmark_id/problem_id" in r.stderr
    text = path.read_text().splitlines()
    text[3] = "," + text[3].split(",", 1)[1]  # line 4: no benchmark_id
    path.write_text("\n".join(text) + "\n")
    assert_bad(analyze(path, "--base", "base", "--tuned", "tuned", out=tmp_path / "p"), f"{path}:4:",
               "benchmark_id is empty")


def test_aliases_in_a_json_array(tmp_path):
    """A .json array with example_id / passed is read like JSON Lines, with one note per alias use."""
    rows = [{"example_id": i, "model": m, "sample_idx": j, "passed": (i + j + len(m)) % 3 == 0}
            for m in ("a", "bb") for i in range(4) for j in range(6)]
    path = tmp_path / "samples.json"
    path.write_text(json.dumps(rows, indent=2))
    r = analyze(path, "--base", "a", "--tuned", "bb", out=tmp_path / "o")
    assert r.returncode == 0, r.stderr
    want = {m: {str(i): (6, sum((i + j + len(m)) % 3 == 0 for j in range(6))) for i in range(4)} for m in ("a", "bb")}
    assert per_problem(tmp_path / "o") == joined(want["a"], want["bb"])
    notes = [line for line in r.stderr.splitlines() if "column aliases" in line]
    assert len(notes) == 1 and "'example_id' as problem_id" in notes[0] and "'passed' as correct" in notes[0]


def test_lmeval_several_filters_need_filter(tmp_path):
    f = BASE_DIR / f"samples_gsm8k_{DATE}.jsonl"
    assert_bad(analyze("--base-file", f, "--tuned-file", TUNED_DIR / f"samples_gsm8k_{DATE}.jsonl", out=tmp_path / "o"),
               f"{f}:1:", "'strict-match', 'flexible-extract'", "--filter")
    # without results_*.json the second filter is found where it starts
    t = TUNED_DIR / f"samples_gsm8k_{DATE}.jsonl"
    assert_bad(analyze("--base-file", t, "--tuned-file", f, out=tmp_path / "o"), f"{t}:6:", "--filter strict-match")
    assert_bad(analyze("--base-file", f, "--tuned-file", t, "--filter", "loose", out=tmp_path / "o"),
               f"{f}:1:", "'loose'", "strict-match, flexible-extract")


def test_lmeval_unknown_metric_and_vote_filter(tmp_path):
    f = BASE_DIR / f"samples_copa_{DATE}.jsonl"
    assert_bad(analyze("--base-file", f, "--tuned-file", f, "--metric", "f2", out=tmp_path / "o"),
               f"{f}:1:", "'f2'", "acc, acc_norm")
    vote = DATA / "lmeval_vote" / "org__voter"
    assert_bad(analyze(vote, LMEVAL / "base", out=tmp_path / "o"), ":1:", "majority_vote", "take_first")


def test_rate_that_is_not_a_whole_count(tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text("example_id,model,pass1,N\nq1,a,0.4,5\nq2,a,0.33,5\n")
    assert_bad(analyze(path, "--base", "a", "--tuned", "b", out=tmp_path / "o"),
               f"{path}:3:", "looks like a rate", "n = 5 was used")
    path.write_text("example_id,model,pass1,N\nq1,a,0.4,5\nq2,a,abc,5\n")
    assert_bad(analyze(path, "--base", "a", "--tuned", "b", out=tmp_path / "o"), f"{path}:3:", "'abc' is not a number")


def test_bad_lcb_and_json_arrays_name_the_line(tmp_path):
    b = json.loads((LCB / "Qwen2.5-Coder-7B" / LCB_FILE).read_text())
    b[2]["graded_list"] = ["yes"]
    d = tmp_path / "m"
    d.mkdir()
    path = d / LCB_FILE
    text = json.dumps(b, indent=1)
    path.write_text(text)
    line = text.splitlines().index(" {", 1 + text.splitlines().index(" {", 1 + text.splitlines().index(" {"))) + 1
    assert_bad(analyze("--base-file", path, "--tuned-file", path, out=tmp_path / "o"), f"{path}:{line}:", "graded_list")
    bad = tmp_path / "bad.json"
    bad.write_text('[\n{"problem_id": "a", "model": "m", "n": 2, "correct": 1},\n{"problem_id": "b", "n": }\n]\n')
    assert_bad(analyze(bad, "--base", "m", "--tuned", "x", out=tmp_path / "o"), f"{bad}:3:", "invalid JSON")
    results = BASE_DIR / f"results_{DATE}.json"
    assert_bad(analyze(results, "--base", "m", "--tuned", "x", out=tmp_path / "o"), f"{results}:1:", "JSON object")


def test_duplicate_rows_of_lmeval_filters_hint(tmp_path):
    """Per-sample rows copied from lm-eval with their filter column: the fix names the filters,
    not 'give each sample its own sample_idx'."""
    path = tmp_path / "flat.csv"
    path.write_text("problem_id,model,sample_idx,correct,filter\np1,m,0,1,strict-match\np1,m,0,0,flexible-extract\n")
    err = assert_bad(analyze(path, "--base", "m", "--tuned", "x", out=tmp_path / "o"), f"{path}:3:", "filter")
    assert "its own sample_idx" not in err


def test_format_option(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("problem_id,model,sample_idx,correct\np1,m,0,1\n")
    assert_bad(analyze(path, "--base", "m", "--tuned", "x", "--format", "counts", out=tmp_path / "o"),
               f"{path}:1:", "--format counts", "samples")
    assert_bad(analyze(path, "--base", "m", "--tuned", "x", "--format", "feather", out=tmp_path / "o"),
               "--format", "lm-eval, lcb, rates, samples, counts")
    b = LCB / "Qwen2.5-Coder-7B" / LCB_FILE
    r = analyze("--base-file", b, "--tuned-file", LCB / "Qwen2.5-Coder-7B-RL" / LCB_FILE, "--format", "lcb",
                out=tmp_path / "p")
    assert r.returncode == 0, r.stderr


def test_two_runs_of_one_task_name_the_files(tmp_path):
    """Two samples files of one task and model (two lm-eval runs) are refused with a fix about runs,
    not 'give each sample its own sample_idx'."""
    import shutil

    d = tmp_path / "org__m"
    d.mkdir()
    src = TUNED_DIR / f"samples_copa_{DATE}.jsonl"
    shutil.copy(src, d / src.name)
    shutil.copy(src, d / "samples_copa_2026-02-03T00-00-00.000001.jsonl")
    err = assert_bad(analyze(d, LMEVAL / "tuned", out=tmp_path / "o"), "samples_copa_", "appears twice", "two runs")
    assert "its own sample_idx" not in err
