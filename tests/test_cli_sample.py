"""sample / score / run / audit-data end to end in subprocesses, on tiny random Llamas saved to disk
(the real loading path: safetensors + tokenizer files), plus the SIGKILL-and-resume guarantee."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from conftest import run_cli

PROBLEMS = [{"id": f"q{i}", "prompt": f"{i}+{i}=", "answer": str(2 * i)} for i in range(12)]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from supportscope.models.tiny import char_tokenizer, save_tiny_llama

    root = tmp_path_factory.mktemp("models")
    tok = char_tokenizer()
    base = save_tiny_llama(root / "base", seed=0, tokenizer=tok)
    tuned = save_tiny_llama(root / "tuned", seed=1, tokenizer=tok)
    problems = root / "problems.jsonl"
    problems.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    return base, tuned, problems


def sample_args(model, name, problems, out, *extra):
    return ("sample", "--model", model, "--name", name, "--tasks", problems, "--n", "4",
            "--max-new-tokens", "8", "--top-p", "0.9", "--problems-per-shard", "2", "--out", out, *extra)


@pytest.mark.slow
def test_sample_score_analyze(models, tmp_path):
    base, tuned, problems = models
    run = tmp_path / "run"
    for model, name in ((base, "base"), (tuned, "tuned")):
        r = run_cli(*sample_args(model, name, problems, run))
        assert r.returncode == 0, r.stderr
    r = run_cli("score", run, "--scorer", base, "--name", "base", "--kl")
    assert r.returncode == 0, r.stderr
    r = run_cli("score", run, "--scorer", tuned, "--name", "tuned")
    assert r.returncode == 0, r.stderr

    from supportscope.store import RunStore
    store = RunStore(run)
    samples = store.read("samples", "tuned")
    assert samples.num_rows == len(PROBLEMS) * 4
    scores = store.read("scores").to_pylist()
    by_gen = {g: [s for s in scores if s["generator"] == g] for g in ("base", "tuned")}
    assert len(by_gen["tuned"]) == len(by_gen["base"]) == len(PROBLEMS) * 4
    assert all(s["kl_full"] is not None and s["kl_full"] >= 0 for s in by_gen["tuned"])
    assert all(s["kl_full"] is None for s in by_gen["base"])
    # exact ids scored: one log-prob per generated token
    tok_len = {(r["problem_id"], r["sample_idx"]): r["n_tokens"] for r in samples.to_pylist()}
    assert all(len(s["token_logp_raw"]) == tok_len[(s["problem_id"], s["sample_idx"])] for s in by_gen["tuned"])

    out = tmp_path / "analysis"
    r = run_cli("analyze", run, "--base", "base", "--tuned", "tuned", "--bootstrap", "300", "--out", out)
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    kl = summary["kl"]
    assert kl["kl_observed"] == "kl_full" and kl["samples_scored"] == len(PROBLEMS) * 4
    assert kl["kl_full"]["mean"] > 0  # two different random models
    per = pq.read_table(out / "per_problem.parquet").to_pydict()
    assert len(per["kl_full"]) == len(PROBLEMS) and all(v >= 0 for v in per["kl_full"])
    assert 'id="kl"' in (out / "report.html").read_text()


def test_run_config(models, tmp_path):
    base, tuned, problems = models
    cfg = tmp_path / "run.toml"
    cfg.write_text(f"""
out = "runs/r"
tasks = "{problems}"
n = 3
problems_per_shard = 4
kl = true

[decoding]
max_new_tokens = 6
top_p = 0.95

[base]
model = "{base}"
[tuned]
model = "{tuned}"

[analyze]
bootstrap = 300
""")
    r = run_cli("run", cfg)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "runs" / "r" / "analysis" / "summary.json").read_text())
    assert summary["base"] == "base" and summary["tuned"] == "tuned"
    assert summary["n_base"]["min"] == 3 and "kl" in summary
    assert summary["config"]["run_config"]["decoding"]["top_p"] == 0.95
    # a second run resumes: nothing to do, same results
    before = (tmp_path / "runs" / "r" / "manifest.json").read_text()
    r = run_cli("run", cfg)
    assert r.returncode == 0, r.stderr
    after = json.loads((tmp_path / "runs" / "r" / "manifest.json").read_text())
    assert [s["sha256"] for s in after["shards"]] == [s["sha256"] for s in json.loads(before)["shards"]]


def test_run_config_errors(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('out = "x"\ntasks = "rg:chain_sum"\ntemprature = 1\n[base]\nmodel = "a"\n[tuned]\nmodel = "b"\n')
    r = run_cli("run", cfg)
    assert r.returncode == 2 and "bad.toml:3" in r.stderr and "temprature" in r.stderr


def test_sample_errors(models, tmp_path):
    base, tuned, problems = models
    r = run_cli(*sample_args(tmp_path / "nope", "x", problems, tmp_path / "run"))
    assert r.returncode == 2 and "nope" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    run = tmp_path / "run2"
    assert run_cli(*sample_args(base, "base", problems, run)).returncode == 0
    # same name, other decoding config: refused, naming the differing key
    r = run_cli(*sample_args(base, "base", problems, run, "--temperature", "0.7"))
    assert r.returncode == 2 and "temperature" in r.stderr and "Traceback" not in r.stderr


def test_audit_data(models, tmp_path):
    base, _, _ = models
    data = tmp_path / "sft.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"{i}+{i}=", "completion": f"{2 * i} done"}) + "\n"
                            for i in range(5)))
    r = run_cli("audit-data", "--model", base, data, "--top-p", "0.5", "--out", tmp_path / "audit")
    assert r.returncode == 0, r.stderr
    a = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert a["examples"] == 5 and a["surprisal_mean"] > 0
    assert 0 < a["out_of_support_token_share"] <= 1  # a random model's top-50% set misses some text
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": 1}\n')
    r = run_cli("audit-data", "--model", base, bad)
    assert r.returncode == 2 and "bad.jsonl:2" in r.stderr


def _shards(run):
    man = json.loads((run / "manifest.json").read_text())
    return {s["key"]: (run / s["file"]).read_bytes() for s in man["shards"] if s["kind"] == "samples"}


@pytest.mark.slow
def test_kill_and_resume_gives_identical_samples(models, tmp_path):
    """SIGKILL a sample run at a random point, resume it: same rows, same bytes as an uninterrupted run."""
    base, _, problems = models
    ref = tmp_path / "ref"
    assert run_cli(*sample_args(base, "base", problems, ref)).returncode == 0

    run = tmp_path / "killed"
    rng = random.Random(os.getpid())
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "supportscope", *map(str, sample_args(base, "base", problems, run))]
    kills = 0
    for _ in range(3):
        target = rng.randint(1, 5)  # shards done before the kill
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while proc.poll() is None and time.time() < deadline:
            if (run / "manifest.json").exists() and len(_shards(run)) >= target:
                time.sleep(rng.random() * 0.3)  # somewhere inside the next shard
                proc.send_signal(signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.02)
        proc.wait()
    assert kills >= 1
    r = run_cli(*sample_args(base, "base", problems, run))
    assert r.returncode == 0, r.stderr

    from supportscope.store import RunStore
    got = RunStore(run).read("samples", "base").to_pylist()
    want = RunStore(ref).read("samples", "base").to_pylist()
    assert got == want
    assert _shards(run) == _shards(ref)  # same bytes, shard by shard


def test_run_config_several_tuned(models, tmp_path):
    """[[tuned]] tables: every checkpoint sampled and scored, one multi-model analysis with the KL
    account per model and the steps from the file."""
    base, tuned, problems = models
    cfg = tmp_path / "run.toml"
    cfg.write_text(f"""
out = "runs/r"
tasks = "{problems}"
n = 3
problems_per_shard = 6
kl = true

[decoding]
max_new_tokens = 6

[base]
model = "{base}"
[[tuned]]
model = "{tuned}"
step = 20
[[tuned]]
model = "{tuned}"
name = "late"
step = 40

[analyze]
bootstrap = 200
""")
    r = run_cli("run", cfg)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "runs" / "r" / "analysis"
    s = json.loads((out / "summary.json").read_text())
    assert [m["name"] for m in s["models"]] == ["step-20", "late"] and [m["step"] for m in s["models"]] == [20, 40]
    assert all(m["kl"] and m["kl"]["kl"]["value"] > 0 for m in s["models"])
    assert s["config"]["step"] == ["step-20=20", "late=40"]
    assert (out / "models" / "late" / "summary.json").is_file()
    bad = tmp_path / "bad.toml"
    bad.write_text(cfg.read_text().replace('name = "late"', 'name = "step-20"'))
    r = run_cli("run", bad)
    assert r.returncode == 2 and "two models are named 'step-20'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
