"""`analyze` with per-sample rows: the answers, provenance and verifier_agreement blocks and their
report sections, from a graded file and from a run directory; counts-only inputs give none."""

from __future__ import annotations

import json
import random

import pyarrow.parquet as pq
from conftest import BASE, EXAMPLE, TUNED, run_cli

from supportscope.analysis import AnalyzeConfig, compare, model_counts
from supportscope.io import load_counts
from supportscope.store import RunStore
from supportscope.store.schema import build_table

BLOCKS = ("answers", "provenance", "verifier_agreement")
SECTIONS = ('id="answers"', 'id="provenance"', 'id="verifiers"')
ANSWER_COLS = [f"{c}_{r}" for r in ("base", "tuned") for c in ("distinct", "entropy", "maj_at_8", "guessable")]


def _graded(tmp_path, suffix=".parquet"):
    """12 problems x 8 samples per model through `supportscope grade` (boxed answers, some the
    strict verifier and math-verify score differently)."""
    rng = random.Random(0)
    probs, gens = [], []
    for i in range(12):
        gold = str(3 * i)
        probs.append({"id": f"q{i}", "prompt": f"question {i}", "answer": gold})
        for model, rate in (("base", 0.3), ("tuned", 0.6)):
            for j in range(8):
                r = rng.random()
                text = (rf"so \boxed{{{gold}}}" if r < rate
                        else f"The answer is **{gold}**, or {int(gold) + 1} if we count" if r < rate + 0.1
                        else rf"\boxed{{{rng.randint(0, 40)}}}")
                gens.append({"problem_id": f"q{i}", "model": model, "sample_idx": j, "completion": text})
    (tmp_path / "problems.jsonl").write_text("".join(json.dumps(p) + "\n" for p in probs))
    (tmp_path / "gens.jsonl").write_text("".join(json.dumps(g) + "\n" for g in gens))
    out = tmp_path / f"graded{suffix}"
    r = run_cli("grade", tmp_path / "gens.jsonl", "--problems", tmp_path / "problems.jsonl", "--out", out)
    assert r.returncode == 0, r.stderr
    return out


def _analyze(path, out, *names):
    base, tuned = names or ("base", "tuned")
    r = run_cli("analyze", path, "--base", base, "--tuned", tuned, "--bootstrap", "100", "--out", out)
    assert r.returncode == 0, r.stderr
    return r, json.loads((out / "summary.json").read_text()), pq.read_table(out / "per_problem.parquet"), \
        (out / "report.html").read_text()


def test_graded_file_gives_three_blocks_and_sections(tmp_path):
    graded = _graded(tmp_path)
    _, s, pp, html = _analyze(graded, tmp_path / "an")
    for key in BLOCKS:
        assert s.get(key) is not None, key
    a = s["answers"]
    assert a["k"] == [row["k"] for row in s["passk"]] == [1, 2, 4, 8]
    for role in ("base", "tuned"):
        m = a["models"][role]
        assert m["problems"] == 12 and m["samples"] == 96 and m["mean_distinct"] >= 1
        assert all(x["maj"] <= x["pass"] + 1e-12 for x in m["passk"])  # here maj@k never beats pass@k
        assert m["passk"][0]["pass"] == m["passk"][0]["maj"]  # k = 1: the same
    assert s["verifier_agreement"]["primary"] == "correct_math"
    assert sum(v["disagreeing_samples"] for v in s["verifier_agreement"]["per_label"].values()) == 18
    assert s["provenance"]["base"] == "base" and s["provenance"]["flagged"] == []
    for sid in SECTIONS:
        assert sid in html, sid
    plain = _plain_columns(graded)
    assert pp.column_names == plain + ANSWER_COLS  # existing columns unchanged, in order, then the new ones
    assert all(1 <= d <= 8 for d in pp["distinct_base"].to_pylist())


def test_graded_csv_and_jsonl_give_the_same_blocks(tmp_path):
    want = None
    for suffix in (".csv", ".jsonl"):
        _, s, pp, _ = _analyze(_graded(tmp_path, suffix), tmp_path / f"an{suffix}")
        got = {key: s.get(key) for key in BLOCKS}
        assert all(v is not None for v in got.values()), suffix
        assert pp.column_names[-8:] == ANSWER_COLS
        want = want or got
        assert got == want, suffix


def _plain_columns(path, base="base", tuned="tuned"):
    """The per-problem columns of compare() on the counts alone."""
    t = load_counts([path])
    res = compare(model_counts(t, base, [str(path)]), model_counts(t, tuned, [str(path)]), AnalyzeConfig(bootstrap=100))
    return res.per_problem.column_names


def test_counts_file_gives_no_blocks(tmp_path):
    _, s, pp, html = _analyze(EXAMPLE, tmp_path / "an", BASE, TUNED)
    for key in BLOCKS:
        assert key not in s, key
    for sid in SECTIONS:
        assert sid not in html, sid
    assert pp.column_names == _plain_columns(EXAMPLE, BASE, TUNED)


def test_graded_file_without_marker_columns_gives_no_blocks(tmp_path):
    graded = pq.read_table(_graded(tmp_path)).drop_columns(["answer", "correct_math", "correct_exact", "disagree"])
    pq.write_table(graded, tmp_path / "plain.parquet")
    _, s, pp, _ = _analyze(tmp_path / "plain.parquet", tmp_path / "an")
    assert not any(key in s for key in BLOCKS)
    assert pp.column_names == _plain_columns(tmp_path / "plain.parquet")


def _row(pid, model, idx, *, correct, completion, seed, finish="stop"):
    toks = [ord(ch) for ch in completion]
    return {"problem_id": pid, "model": model, "sample_idx": idx, "seed": seed, "prompt_ids": [1, 2, int(pid[1:])],
            "token_ids": toks, "completion": completion, "n_tokens": len(toks), "finish_reason": finish,
            "correct": bool(correct), "reward": float(correct), "logp_decoding": -1.0, "logp_raw": -1.0,
            "token_logp_decoding": [-0.1] * len(toks), "token_logp_raw": [-0.1] * len(toks)}


def _run(tmp_path):
    """A run directory written directly: 6 problems x 8 samples per model; the tuned model's p0
    samples reuse two seeds, each for 4 samples of one completion (the reused-seed fault: A = 2
    monochromatic groups against E[A] = 4 / C(8, 4), p = 0.029)."""
    store = RunStore.open(tmp_path / "run")
    problems = build_table("problems", [{"problem_id": f"p{i}", "prompt": f"{i}+{i}=", "answer": str(2 * i),
                                         "task": "add"} for i in range(6)])
    for m, shift in (("base", 0), ("tuned", 3)):
        store.register(m, {"role": m, "policy": {"name": m}})
        store.write_shard("problems", m, "all", problems)
        rows = []
        for i in range(6):
            for j in range(8):
                ok = j < min(8, i + shift)
                ans = 2 * i if ok else 100 + j
                if m == "tuned" and i == 0:  # two seeds, each reused for 4 samples of one completion
                    rows.append(_row(f"p{i}", m, j, correct=True, completion=f"v{j % 2} <answer>{2 * i}</answer>",
                                     seed=7 + j % 2))
                else:
                    rows.append(_row(f"p{i}", m, j, correct=ok, completion=f"work {j} <answer>{ans}</answer>",
                                     seed=1000 * i + j))
        store.write_shard("samples", m, "s0", build_table("samples", rows))
    store.close()
    return tmp_path / "run"


def test_run_directory_gives_blocks_and_flag_line(tmp_path):
    r, s, pp, html = _analyze(_run(tmp_path), tmp_path / "an")
    for key in ("answers", "provenance"):
        assert s.get(key) is not None, key
    assert "verifier_agreement" not in s and 'id="verifiers"' not in html
    assert s["answers"]["reference"] is True
    assert s["provenance"]["duplicates"]["tuned"]["problems_flagged"] == 1
    assert s["provenance"]["prompt_mismatch"] == 0
    assert "provenance: duplicates: tuned: 1 problems" in r.stdout
    assert 'id="answers"' in html and 'id="provenance"' in html
    assert pp.column_names[-8:] == ANSWER_COLS
    assert pp["guessable_tuned"].type == "bool" and min(pp["distinct_base"].to_pylist()) >= 1


def test_graded_files_carry_prompt_hash_and_reference_to_provenance(tmp_path):
    """Base and tuned graded separately: the tuned problems file wraps two prompts in a chat template
    and holds another reference answer for one problem. The graded rows carry prompt_hash and
    reference, and analyze reports both mismatches; a generation's own prompt wins over the
    problems file's."""
    import hashlib

    from supportscope.pipeline.grade import grade

    rng = random.Random(1)
    gens = []
    for model, rate in (("base", 0.3), ("tuned", 0.6)):
        for i in range(6):
            for j in range(8):
                ans = 3 * i if rng.random() < rate else 100 + j
                gens.append({"problem_id": f"q{i}", "model": model, "sample_idx": j, "completion": rf"\boxed{{{ans}}}"})
    for model in ("base", "tuned"):
        probs = [{"id": f"q{i}", "prompt": f"question {i}", "answer": str(3 * i)} for i in range(6)]
        if model == "tuned":
            for i in (1, 4):
                probs[i]["prompt"] = f"<|im_start|>user\nquestion {i}<|im_end|>\n<|im_start|>assistant\n"
            probs[5]["answer"] = "16"
        (tmp_path / f"problems_{model}.jsonl").write_text("".join(json.dumps(p) + "\n" for p in probs))
        (tmp_path / f"gens_{model}.jsonl").write_text("".join(json.dumps(g) + "\n" for g in gens if g["model"] == model))
        table = grade(tmp_path / f"gens_{model}.jsonl", tmp_path / f"problems_{model}.jsonl", tmp_path / f"{model}.parquet")
        want = {p["id"]: hashlib.sha256(p["prompt"].encode()).hexdigest() for p in probs}
        assert table["prompt_hash"].to_pylist() == [want[p] for p in table["problem_id"].to_pylist()]
        assert table["reference"].to_pylist() == [{p["id"]: p["answer"] for p in probs}[q]
                                                  for q in table["problem_id"].to_pylist()]
    r = run_cli("analyze", "--base-file", tmp_path / "base.parquet", "--tuned-file", tmp_path / "tuned.parquet",
                "--bootstrap", "100", "--out", tmp_path / "an")
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "an" / "summary.json").read_text())
    p = s["provenance"]
    assert p["prompt_source"] == "prompt_hash" and p["prompt_mismatch"] == 2
    assert sorted(e["problem_id"] for e in p["prompt_mismatch_examples"]) == ["q1", "q4"]
    assert p["reference_mismatch"] == 1 and p["reference_mismatch_examples"] == [
        {"problem_id": "q5", "base_references": ["15"], "tuned_references": ["16"]}]
    assert "prompt: 2 problems whose base and tuned prompts differ (prompt_hash)" in p["flagged"]
    assert "reference: 1 problems graded against different reference answers for base and tuned" in p["flagged"]
    assert s["answers"]["reference"] is True
    html = (tmp_path / "an" / "report.html").read_text()
    assert "graded against different references" in html
    # a generation's own prompt (the text actually sent) is hashed instead of the problems file's
    (tmp_path / "own.jsonl").write_text(json.dumps({**gens[0], "prompt": [{"role": "user", "content": "q0"}]}) + "\n")
    own = grade(tmp_path / "own.jsonl", tmp_path / "problems_base.jsonl", tmp_path / "own.parquet")
    sent = json.dumps([{"role": "user", "content": "q0"}], sort_keys=True, ensure_ascii=False)
    assert own["prompt_hash"].to_pylist() == [hashlib.sha256(sent.encode()).hexdigest()]
