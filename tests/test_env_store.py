"""Samples with environment turns in the run store (issue 16), on the real organism checkpoint.

The organism samples with the calculator (``Policy(env="calc")``: ``build_backend`` wraps it in
``EnvBackend``) through the sample job; the run store keeps each sample's ``policy_mask``. Scoring
the samples counts only policy tokens (``scale.jobs.policy_score``), so with scorer = generator the
teacher-forced log-prob equals the sampled one and the KL along the pair is 0; the KL account's
surprisal divides by policy tokens. A run store without the column (as written before it existed,
and still for plain runs) opens, verifies, resumes and scores. Then Ray and the CLI end to end.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_cli

from supportscope.models.config import DecodingConfig, Policy
from supportscope.models.registry import build_backend
from supportscope.organism.envs import calculate, final_answer
from supportscope.organism.task import CHECKPOINT
from supportscope.scale.jobs import policy_score, sample_job, score_job
from supportscope.store import SAMPLES_SCHEMA, RunStore, counts_from_samples
from supportscope.store.schema import SchemaError, build_table
from supportscope.store.shard_files import parquet_bytes
from supportscope.tasks import load_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CK = CHECKPOINT
DEC = DecodingConfig(top_k=12, max_new_tokens=6, seed=3)
N, PER_SHARD, BATCH = 24, 4, 32
GEN, SCORER = "org+calc", "org"
OLD_SCHEMA = pa.schema([f for f in SAMPLES_SCHEMA if f.name != "policy_mask"])  # before issue 16


def _can_call(ck: Path) -> bool:
    vocab = json.loads((ck / "tokenizer.json").read_text())["model"]["vocab"]
    return all(c in vocab for c in "[c]<>")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """One run: the organism with the calculator sampled on subtraction problems (where the base calls,
    in about 4% of its answers, as ``CorpusConfig.calc_sub`` makes it; 192 episodes, so no call at all
    has probability about 0.96^192 < 0.1%), then scored by the plain organism (the same weights) with the
    exact KL."""
    if not _can_call(CK):
        pytest.skip(f"the organism checkpoint at {CK} predates the alphabet with calls ([c], <...>)")
    root = tmp_path_factory.mktemp("env")
    gen = Policy(model=str(CK), env="calc", name=GEN)
    plain = Policy(model=str(CK), name=SCORER)
    task = load_task(f"organism:{CK}?size=8&families=sub")
    env_backend, backend = build_backend(gen, BATCH), build_backend(plain, BATCH)
    run = root / "run"
    with RunStore.open(run, versions={"test": "1"}) as store:
        written = sample_job(store, env_backend, GEN, gen, DEC, task, N, PER_SHARD, BATCH)
        samples = store.read("samples")
        score_job(store, backend, SCORER, plain, [GEN], reference=lambda g: backend, batch_size=BATCH)
        scores = store.read("scores")
    return {"root": root, "run": run, "gen": gen, "plain": plain, "task": task, "written": written,
            "env_backend": env_backend, "backend": backend, "samples": samples, "scores": scores}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random tiny Llama (character tokenizer: it can spell any reply) with verifier feedback on
    organism prompts: its answers are wrong, so nearly every episode is answer, ``<n>``, answer. Sampled
    and scored (by itself, with the exact KL) under top-k 20, where the reply's tokens mostly lie
    outside the scorer's decoding support. Independent of the organism checkpoint."""
    from supportscope.models.tiny import char_tokenizer, save_tiny_llama

    root = tmp_path_factory.mktemp("tiny")
    model = str(save_tiny_llama(root / "tiny", seed=0, tokenizer=char_tokenizer()))
    gen, plain = Policy(model=model, env="feedback"), Policy(model=model, name="tiny")
    task = load_task("organism:default?size=2&families=add,fact")
    dec = DecodingConfig(top_k=20, max_new_tokens=4, seed=1)
    env_backend, backend = build_backend(gen, BATCH), build_backend(plain, BATCH)
    run = root / "run"
    with RunStore.open(run, versions={"test": "1"}) as store:
        sample_job(store, env_backend, gen.name, gen, dec, task, 4, 2, BATCH)
        score_job(store, backend, "tiny", plain, [gen.name], reference=lambda g: backend, batch_size=BATCH)
    return {"run": run, "gen": gen, "plain": plain, "task": task, "dec": dec, "backend": backend}


def test_feedback_replies_are_masked_out_of_the_scores(tiny):
    store = RunStore(tiny["run"])
    samples, scores = store.read("samples").to_pylist(), store.read("scores").to_pylist()
    assert tiny["gen"].name == "tiny+feedback" and len(samples) == len(scores) == 4 * 4
    prompt = {p.id: p.prompt for p in tiny["task"].problems()}
    backend, by_key = tiny["backend"], {(s["problem_id"], s["sample_idx"]): s for s in scores}
    raw = backend.score([(s["problem_id"], s["sample_idx"], backend.encode_prompt(prompt[s["problem_id"]]),
                          s["token_ids"]) for s in samples], tiny["dec"])
    unmasked_singular = 0
    for s, full in zip(samples, raw):
        m, sc = s["policy_mask"], by_key[(s["problem_id"], s["sample_idx"])]
        replies = backend.tokenizer.decode([i for i, keep in zip(s["token_ids"], m) if not keep])
        assert replies in ("", "<n>") and (replies == "<n>") == ("<n>" in s["completion"])
        assert not s["correct"]  # a random model: the graded text is after the reply
        assert sc["n_singular_tokens"] == 0 and abs(sc["logp_decoding"] - s["logp_decoding"]) < 1e-4
        assert abs(sc["kl_full"]) < 1e-5
        pol = [v for v, keep in zip(full.token_logp_decoding, m) if keep]
        assert sc["logp_decoding"] == pytest.approx(math.fsum(pol), abs=1e-5)  # brute force: policy positions
        unmasked_singular += full.n_singular_tokens
    # unmasked, the verifier's reply would put most samples outside the scorer's support (KL infinite)
    assert unmasked_singular >= len(samples)


def _called(row) -> bool:
    return row["completion"].startswith("[c]")


def test_sampling_with_calc_writes_the_policy_mask(setup):
    rows = setup["samples"].to_pylist()
    prompts = {p.id: p.prompt for p in setup["task"].problems()}
    answers = {p.id: p.answer for p in setup["task"].problems()}
    tok = setup["backend"].tokenizer
    assert setup["written"] == len(rows) == 8 * N
    called = 0
    for r in rows:
        m = r["policy_mask"]
        assert m is not None and len(m) == r["n_tokens"] and set(m) <= {0, 1}
        for t, keep in enumerate(m):
            if not keep:
                assert r["token_logp_decoding"][t] == 0.0 and r["token_logp_raw"][t] == 0.0
        assert r["logp_decoding"] == math.fsum(r["token_logp_decoding"])
        assert r["correct"] == (final_answer(r["completion"]) == answers[r["problem_id"]])
        env_ids = [i for i, keep in zip(r["token_ids"], m) if not keep]
        if _called(r):
            called += 1
            reply = "<" + calculate(prompts[r["problem_id"]]) + ">"
            z, k = m.index(0), len(env_ids)
            assert m[z:z + k] == [0] * k and all(m[z + k:])  # call, reply, answer: one environment turn
            assert tok.decode(r["token_ids"][:z]) == "[c]" and tok.decode(env_ids) == reply
            assert r["completion"].startswith("[c]" + reply)
        else:
            assert env_ids == []
    assert called >= 1, f"none of {len(rows)} episodes called the calculator"


def test_scores_count_only_policy_tokens(setup):
    samples = {(r["problem_id"], r["sample_idx"]): r for r in setup["samples"].to_pylist()}
    scores = setup["scores"].to_pylist()
    assert len(scores) == len(samples)
    backend = setup["backend"]
    for sc in scores:
        s = samples[(sc["problem_id"], sc["sample_idx"])]
        m = s["policy_mask"]
        assert len(sc["token_logp_decoding"]) == len(sc["token_kl"]) == s["n_tokens"]
        # scorer = generator: teacher-forced log-probs of the policy's tokens = the sampled ones
        assert sc["n_singular_tokens"] == 0 and abs(sc["logp_decoding"] - s["logp_decoding"]) < 1e-4
        assert abs(sc["logp_raw"] - s["logp_raw"]) < 1e-4
        assert abs(sc["kl_full"]) < 1e-5  # the KL along a same-model pair
        for t, keep in enumerate(m):
            if not keep:
                assert sc["token_logp_decoding"][t] == sc["token_logp_raw"][t] == sc["token_kl"][t] == 0.0
    # brute force: the unmasked teacher-forced score, summed over policy positions by hand
    called = [s for s in samples.values() if _called(s)]
    prompt = {p.id: backend.encode_prompt(p.prompt) for p in setup["task"].problems()}
    raw = backend.score([(s["problem_id"], s["sample_idx"], prompt[s["problem_id"]], s["token_ids"])
                         for s in called], DEC)
    by_key = {(sc["problem_id"], sc["sample_idx"]): sc for sc in scores}
    env_mass = []
    for s, full in zip(called, raw):
        m, stored = s["policy_mask"], by_key[(s["problem_id"], s["sample_idx"])]
        pol = [v for v, keep in zip(full.token_logp_decoding, m) if keep]
        assert stored["logp_decoding"] == pytest.approx(math.fsum(pol), abs=1e-5)
        assert stored["n_singular_tokens"] == sum(v == -math.inf for v in pol)
        env_mass.append(math.fsum(v for v, keep in zip(full.token_logp_raw, m) if not keep))
        masked = policy_score(full, m)
        assert masked.logp_raw == pytest.approx(stored["logp_raw"], abs=1e-5) and masked.n_tokens == full.n_tokens
    assert min(env_mass) < -1e-3  # unmasked, the reply's tokens would have changed every called sum


def test_policy_score_rule_brute_force():
    from supportscope.models.backend import Score

    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(0, 9))
        dec = rng.normal(-1, 1, n).tolist()
        dec = [-math.inf if rng.random() < 0.15 else v for v in dec]
        raw, kl = rng.normal(-1, 1, n).tolist(), rng.exponential(1, n).tolist()
        m = rng.integers(0, 2, n).tolist()
        sc = Score("p", 0, dec, raw, sum(v == -math.inf for v in dec), kl)
        out = policy_score(sc, m)
        assert out.n_tokens == n and policy_score(sc, None) is sc
        assert out.n_singular_tokens == sum(1 for v, k in zip(dec, m) if k and v == -math.inf)
        want = -math.inf if out.n_singular_tokens else math.fsum(v for v, k in zip(dec, m) if k)
        assert out.logp_decoding == want
        assert out.logp_raw == math.fsum(v for v, k in zip(raw, m) if k)
        assert out.kl == math.fsum(v for v, k in zip(kl, m) if k)
    with pytest.raises(ValueError, match="policy_mask .* 1 entries for 2 tokens"):
        policy_score(Score("p", 0, [-1.0, -1.0], [-1.0, -1.0], 0), [1])


def test_kl_account_is_about_the_policy(tiny):
    """The generator's episodes scored by its own model: k1 = kl_full = 0 and no singular token (the
    verifier's replies are not the policy's), and surprisal per *policy* token."""
    from supportscope.analysis.kl_account import kl_account
    from supportscope.stats import PairedBootstrap

    store, name = RunStore(tiny["run"]), tiny["gen"].name
    samples, scores = store.read("samples"), store.read("scores")
    counts = counts_from_samples(store).to_pylist()
    ids = np.array([c["problem_id"] for c in counts])
    c, n = np.array([x["correct"] for x in counts]), np.array([x["n"] for x in counts])
    summary, per = kl_account(ids, c, n, c, n, samples, samples, scores, "tiny", name,
                              PairedBootstrap(len(ids), 200, 0), 0.05, tiny["dec"].is_raw)
    assert abs(summary["k1"]["mean"]) < 1e-4 and abs(summary["kl_full"]["mean"]) < 1e-5
    assert summary["singular_tokens"] == 0 and summary["samples_scored"] == samples.num_rows
    rows = samples.to_pylist()
    scored = {(r["problem_id"], r["sample_idx"]): r["logp_raw"] for r in scores.to_pylist()}
    assert any(0 in r["policy_mask"] for r in rows)
    for i, pid in enumerate(ids):  # surprisal: -logp_raw per policy token, not per token of the episode
        mine = [r for r in rows if r["problem_id"] == pid]
        n_pol = [max(sum(r["policy_mask"]), 1) for r in mine]
        base = np.mean([-r["logp_raw"] / k for r, k in zip(mine, n_pol)])  # sampled log-probs
        tuned = np.mean([-scored[(r["problem_id"], r["sample_idx"])] / k for r, k in zip(mine, n_pol)])  # scored
        assert per["surprisal_base_outputs"][i] == pytest.approx(base, rel=1e-12)
        assert per["surprisal_tuned_outputs"][i] == pytest.approx(tuned, rel=1e-12)


def test_store_rejects_a_bad_mask():
    row = {"problem_id": "p", "model": "m", "sample_idx": 0, "seed": 1, "prompt_ids": [1], "token_ids": [2, 3],
           "completion": "ab", "n_tokens": 2, "finish_reason": "stop", "correct": False, "reward": 0.0,
           "logp_decoding": -1.0, "logp_raw": -1.0, "token_logp_decoding": [-1.0, 0.0],
           "token_logp_raw": [-1.0, 0.0]}
    with pytest.raises(SchemaError, match="row 1: field 'policy_mask' has a value other than 0 and 1"):
        build_table("samples", [row, {**row, "sample_idx": 1, "policy_mask": [1, 2]}])
    with pytest.raises(SchemaError, match="row 0: field 'policy_mask' has 3 elements but n_tokens is 2"):
        build_table("samples", [{**row, "policy_mask": [1, 0, 1]}])
    t = build_table("samples", [row, {**row, "sample_idx": 1, "policy_mask": [1, 0]}])
    assert t.column("policy_mask").to_pylist() == [None, [1, 0]]


def test_shards_with_and_without_the_column_read_as_one_table(tmp_path):
    """The column is written only when some row has a mask; shards of both kinds read together."""
    from test_store import sample_rows  # the store tests' random rows

    with RunStore.open(tmp_path / "run", versions={"test": "1"}) as store:
        store.register("m", {"role": "generator"})
        plain = build_table("samples", sample_rows("m", "p0", range(2)))
        masked = build_table("samples", [{**r, "policy_mask": [1] * (r["n_tokens"] - 1) + [0] * (r["n_tokens"] > 0)}
                                         for r in sample_rows("m", "p1", range(2))])
        store.write_shard("samples", "m", "a", plain)
        store.write_shard("samples", "m", "b", masked)
        files = {s["key"]: tmp_path / "run" / s["file"] for s in store.shards("samples")}
        assert "policy_mask" not in pq.read_schema(files["a"]).names
        assert "policy_mask" in pq.read_schema(files["b"]).names
        got = store.read("samples")
        assert got.schema == SAMPLES_SCHEMA
        assert got.column("policy_mask").to_pylist() == [None, None, *masked.column("policy_mask").to_pylist()]
        (_, a), (_, b) = store.read_shards("samples", columns=["policy_mask", "n_tokens"])
        assert a.column("policy_mask").null_count == 2 and b.column("policy_mask").null_count == 0


def test_old_format_run_opens_resumes_and_scores(tiny, tmp_path):
    """A run without environment turns writes no policy_mask column: its shards are the bytes of the
    schema before issue 16, and such a run opens, verifies, resumes and scores."""
    plain, backend, task, dec = tiny["plain"], tiny["backend"], tiny["task"], tiny["dec"]
    run = tmp_path / "old"
    with RunStore.open(run, versions={"test": "1"}) as store:
        sample_job(store, backend, "tiny", plain, dec, task, 2, 4, BATCH)
    man = json.loads((run / "manifest.json").read_text())
    assert "env" not in man["entries"]["tiny"]["policy"]  # the manifest of a run without the field
    (rec,) = [s for s in man["shards"] if s["kind"] == "samples"]
    path = run / rec["file"]
    old = pq.read_table(path)
    assert old.schema.names == OLD_SCHEMA.names
    assert path.read_bytes() == parquet_bytes(old.cast(OLD_SCHEMA).replace_schema_metadata(None))
    store = RunStore(run)
    assert store.verify() == 2
    samples = store.read("samples")
    assert samples.column("policy_mask").null_count == samples.num_rows == 8
    gen = Policy(model=plain.model, name="gen2")
    with RunStore(run) as store:
        assert sample_job(store, backend, "tiny", plain, dec, task, 2, 4, BATCH) == 0  # resumes
        sample_job(store, backend, "gen2", gen, dec, task, 2, 4, BATCH)
        assert score_job(store, backend, "tiny", plain, ["gen2"], reference=lambda g: backend) == 8
        scores = {(r["problem_id"], r["sample_idx"]): r for r in store.read("scores").to_pylist()}
    for s in store.read("samples", "gen2").to_pylist():  # a null mask: every token the policy's
        sc = scores[(s["problem_id"], s["sample_idx"])]
        assert abs(sc["logp_decoding"] - s["logp_decoding"]) < 1e-4 and abs(sc["kl_full"]) < 1e-5
        assert sc["token_logp_raw"] == pytest.approx(s["token_logp_raw"], abs=1e-4)


def test_env_over_ray_writes_the_single_process_bytes(tiny, tmp_path):
    """Sampling with an environment and scoring its samples on a Ray worker (which builds the backend
    from the policy, env included; its ``score`` is the plain model's) give the single-process rows."""
    pytest.importorskip("ray")
    from supportscope.scale.ray_exec import RayConfig, RayExecutor, ray_session

    cfg, gen, name = RayConfig(ray=True, ray_workers=1), tiny["gen"], tiny["gen"].name
    with ray_session(cfg, num_cpus=1), RunStore.open(tmp_path / "ray", versions={"test": "1"}) as store, \
            RayExecutor(cfg, gen, partial(build_backend, batch_size=BATCH)) as ex:
        sample_job(store, None, name, gen, tiny["dec"], tiny["task"], 4, 2, BATCH, executor=ex)
        score_job(store, None, "tiny", gen, [name], batch_size=BATCH, executor=ex)
    want, got = RunStore(tiny["run"]), RunStore(tmp_path / "ray")
    recs = want.shards("samples")
    assert [r["file"] for r in got.shards("samples")] == [r["file"] for r in recs] and recs
    for r in recs:
        assert (tmp_path / "ray" / r["file"]).read_bytes() == (tiny["run"] / r["file"]).read_bytes()
    cols = ["problem_id", "sample_idx", "logp_decoding", "logp_raw", "n_singular_tokens", "token_logp_decoding",
            "token_logp_raw"]
    assert got.read("scores").select(cols).to_pylist() == want.read("scores").select(cols).to_pylist()


def test_cli_sample_with_env_then_score(setup, tmp_path):
    run = tmp_path / "run"
    r = run_cli("sample", "--model", CK, "--env", "calc", "--tasks", "organism:default?size=2", "--n", 2,
                "--max-new-tokens", 6, "--out", run, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    name = Path(CK).resolve().name + "+calc"
    assert f"wrote 20 new samples of {name!r}" in r.stdout
    store = RunStore(run)
    assert store.entry(name)["policy"]["env"] == "calc"
    rows = store.read("samples").to_pylist()
    assert all(r["policy_mask"] is not None and len(r["policy_mask"]) == r["n_tokens"] for r in rows)
    r = run_cli("score", run, "--scorer", CK, "--name", "org", "--kl", cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    scores = {(s["problem_id"], s["sample_idx"]): s for s in RunStore(run).read("scores").to_pylist()}
    for s in rows:
        sc = scores[(s["problem_id"], s["sample_idx"])]
        assert abs(sc["logp_decoding"] - s["logp_decoding"]) < 1e-4 and abs(sc["kl_full"]) < 1e-5


def test_cli_refuses_an_unknown_env_in_one_line(tmp_path):
    r = run_cli("sample", "--model", CK, "--env", "calk", "--tasks", "organism:default?size=2", "--out",
                tmp_path / "bad", cwd=tmp_path)
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert "--env 'calk' is not one of calc, search, feedback" in line and "did you mean calc?" in line
    assert not (tmp_path / "bad").exists()


def test_run_config_accepts_env_and_refuses_a_bad_one(tmp_path):
    from supportscope.errors import InputError
    from supportscope.pipeline.run_config import load_run_config

    cfg = tmp_path / "run.toml"
    head = 'out = "o"\ntasks = "p.jsonl"\n[base]\nmodel = "a"\n'
    cfg.write_text(head + '[[tuned]]\nmodel = "a"\nenv = "calc"\n[[tuned]]\nmodel = "b"\nenv = "search"\nstep = 2\n')
    loaded = load_run_config(cfg)
    assert [t.env for t in loaded["tuned_all"]] == ["calc", "search"] and loaded["base"].env is None
    assert loaded["tuned_all"][0] != replace(loaded["tuned_all"][0], env=None)  # the env is part of the policy
    cfg.write_text(head + '[tuned]\nmodel = "b"\nenv = "serch"\n')
    with pytest.raises(InputError, match=r"run\.toml:7: .*'serch'.*did you mean search\?"):
        load_run_config(cfg)


def test_policy_env_is_checked_and_recorded():
    from supportscope.errors import ModelConfigError

    p = Policy(model="x/base", env="feedback")
    assert p.name == "base+feedback" and p.to_dict()["env"] == "feedback" and p != Policy(model="x/base")
    assert "env" not in Policy(model="x/base").to_dict()  # manifests of runs without one are unchanged
    with pytest.raises(ModelConfigError, match=r"env 'feedbak' .* did you mean feedback\?"):
        Policy(model="x", env="feedbak")
    with pytest.raises(ModelConfigError, match="backend vllm cannot sample with an environment"):
        Policy(model="x", env="calc", backend="vllm")
