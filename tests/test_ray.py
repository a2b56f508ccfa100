"""Scale-out over Ray (scale.ray_exec) on a real local Ray cluster with tiny random Llamas saved to disk:
sampling, adaptive sampling and scoring over 2 workers write the same shard bytes as a single-process
run; killing a worker (idle or in the middle of a unit) loses and duplicates nothing; and the CLI's
`sample --ray` end to end, then `analyze`."""

from __future__ import annotations

import json
import shutil
from functools import partial

import pytest

from conftest import run_cli

ray = pytest.importorskip("ray")

from supportscope.models.registry import build_backend  # noqa: E402
from supportscope.models.config import DecodingConfig, Policy  # noqa: E402
from supportscope.store import RunStore  # noqa: E402
from supportscope.scale.jobs import sample_job, score_job  # noqa: E402
from supportscope.scale.ray_exec import RayConfig, RayExecutor, ray_session  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # Ray workers get 1 thread each too

PROBLEMS = [{"id": f"q{i}", "prompt": f"{i}+{i}=", "answer": str(2 * i)} for i in range(12)]
DEC = DecodingConfig(top_p=0.9, max_new_tokens=8, seed=5)
N, PER_SHARD, BATCH = 4, 2, 3  # batches of 3 cross problem boundaries: the batching must match too
CFG = RayConfig(ray=True, ray_workers=2)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Models, problems, and the single-process reference run (samples of both models, and the tuned
    samples scored under base with the exact KL)."""
    from supportscope.models.tiny import char_tokenizer, save_tiny_llama
    from supportscope.tasks import load_task

    root = tmp_path_factory.mktemp("ray")
    tok = char_tokenizer()
    base = Policy(model=str(save_tiny_llama(root / "base", seed=0, tokenizer=tok)), name="base")
    tuned = Policy(model=str(save_tiny_llama(root / "tuned", seed=1, tokenizer=tok)), name="tuned")
    problems = root / "problems.jsonl"
    problems.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    task = load_task(str(problems))
    ref = root / "ref"
    backends = {p.name: build_backend(p, BATCH) for p in (base, tuned)}
    with _store(ref) as store:
        for p in (base, tuned):
            sample_job(store, backends[p.name], p.name, p, DEC, task, N, PER_SHARD, BATCH)
    shutil.copytree(ref, root / "unscored")
    with _store(ref) as store:
        score_job(store, backends["base"], "base", base, ["tuned"], reference=lambda g: backends[g], batch_size=5)
    return {"root": root, "base": base, "tuned": tuned, "task": task, "problems": problems, "ref": ref,
            "unscored": root / "unscored"}


@pytest.fixture(scope="module")
def cluster():
    # 4 logical CPUs (on 2 cores): the sampling actors stay up while the scoring test starts 2 more
    with ray_session(CFG, num_cpus=4) as r:
        yield r


@pytest.fixture(scope="module")
def base_ex(setup, cluster):
    """Two actors holding the base model, shared by the sampling tests (the kill test replaces some)."""
    with RayExecutor(CFG, setup["base"], partial(build_backend, batch_size=BATCH)) as ex:
        yield ex


def _store(path):
    return RunStore.open(path, create=True, versions={"test": "1"})


def _shards(run, kind="samples"):
    man = json.loads((run / "manifest.json").read_text())
    return {(s["model"], s["key"]): (run / s["file"]).read_bytes() for s in man["shards"] if s["kind"] == kind}


def _only(shards, model):
    return {k: v for k, v in shards.items() if k[0] == model}


def test_sample_over_ray_writes_the_single_process_bytes(setup, base_ex, tmp_path):
    seen = []
    with _store(tmp_path / "run") as store:
        written = sample_job(store, None, "base", setup["base"], DEC, setup["task"], N, PER_SHARD, BATCH,
                             progress=seen.append, executor=base_ex)
    assert written == len(PROBLEMS) * N and sum(seen) == written
    got, want = _shards(tmp_path / "run"), _only(_shards(setup["ref"]), "base")
    assert len(got) == len(PROBLEMS) // PER_SHARD and got == want
    # the manifest entry too: same config, same tokenizer fingerprint
    ref_entry = json.loads((setup["ref"] / "manifest.json").read_text())["entries"]["base"]
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["entries"]["base"] == ref_entry


def test_killed_workers_lose_and_duplicate_nothing(setup, base_ex, tmp_path):
    events, killed, first = [], [], []

    def on_event(what, key, actor):
        events.append((what, key))
        if what == "done" and not killed:  # an actor that has just returned its first unit
            killed.append(key)
            first.append(actor)
            ray.kill(actor)
        elif what == "dispatched" and len(killed) == 1 and actor is not first[0]:  # another one, mid-unit
            killed.append(key)
            ray.kill(actor)

    restarts = base_ex.restarts
    base_ex.on_event = on_event
    try:
        with _store(tmp_path / "run") as store:
            sample_job(store, None, "base", setup["base"], DEC, setup["task"], N, PER_SHARD, BATCH,
                       executor=base_ex)
    finally:
        base_ex.on_event = None
    assert len(killed) == 2 and base_ex.restarts - restarts >= 2
    assert ("died", killed[1]) in events  # the unit in flight died with its actor and was run again
    done = [k for w, k in events if w == "done"]
    assert sorted(done) == sorted(set(done)) and len(done) == len(PROBLEMS) // PER_SHARD
    assert _shards(tmp_path / "run") == _only(_shards(setup["ref"]), "base")
    got = RunStore(tmp_path / "run").read("samples").to_pylist()
    assert got == RunStore(setup["ref"]).read("samples", "base").to_pylist()


def test_adaptive_rounds_over_ray_equal_single_process(setup, base_ex, tmp_path):
    from supportscope.scale.adaptive import AdaptiveConfig, adaptive_sample_job

    cfg = AdaptiveConfig(adaptive=True, budget=8, basin_budget=4, max_n=12, round=4, futility=0)
    with _store(tmp_path / "local") as store:
        local = adaptive_sample_job(store, build_backend(setup["base"], BATCH), "base", setup["base"], DEC,
                                    setup["task"], cfg, PER_SHARD, BATCH)
    with _store(tmp_path / "ray") as store:
        over = adaptive_sample_job(store, None, "base", setup["base"], DEC, setup["task"], cfg, PER_SHARD, BATCH,
                                   executor=base_ex)
    assert over == local and local["rounds"] >= 2
    assert _shards(tmp_path / "ray") == _shards(tmp_path / "local")


def test_score_over_ray_with_kl_equals_single_process(setup, cluster, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(setup["unscored"], run)
    with RayExecutor(CFG, setup["base"], partial(build_backend, batch_size=BATCH),
                     references={"tuned": setup["tuned"]}) as ex, _store(run) as store:
        written = score_job(store, None, "base", setup["base"], ["tuned"], batch_size=5, executor=ex)
    assert written == len(PROBLEMS) * N
    got, want = _shards(run, "scores"), _shards(setup["ref"], "scores")
    assert len(got) == len(PROBLEMS) // PER_SHARD and got == want
    rows = RunStore(run).read("scores").to_pylist()
    assert all(r["kl_full"] is not None and r["kl_full"] >= 0 for r in rows)
    man = json.loads((run / "manifest.json").read_text())["entries"]["scorer:base"]
    assert man == json.loads((setup["ref"] / "manifest.json").read_text())["entries"]["scorer:base"]


def test_cli_sample_with_ray_then_analyze(setup, tmp_path):
    """`supportscope sample --ray --ray-workers 2` in a subprocess (its own local cluster), then analyze."""
    run = tmp_path / "run"
    r = run_cli("sample", "--model", setup["base"].model, "--name", "base", "--tasks", setup["problems"],
                "--n", N, "--max-new-tokens", 8, "--top-p", 0.9, "--seed", 5, "--problems-per-shard", PER_SHARD,
                "--batch-size", BATCH, "--out", run, "--ray", "--ray-workers", 2, timeout=240)
    assert r.returncode == 0, r.stderr
    assert "on 2 Ray workers" in r.stderr and f"wrote {len(PROBLEMS) * N} new samples" in r.stdout
    assert _shards(run) == _only(_shards(setup["ref"]), "base")  # the same bytes as in-process, 1 thread
    with _store(run) as store:  # the tuned model single-process into the same run
        sample_job(store, build_backend(setup["tuned"], BATCH), "tuned", setup["tuned"], DEC, setup["task"], N,
                   PER_SHARD, BATCH)
    r = run_cli("analyze", run, "--base", "base", "--tuned", "tuned", "--bootstrap", 200, "--out", tmp_path / "a")
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["base"] == "base" and summary["n_base"]["min"] == N


def test_ray_options_and_run_config(tmp_path):
    from supportscope.analysis.config import ConfigError
    from supportscope.pipeline.run_config import load_run_config

    with pytest.raises(ConfigError, match="ray_workers is set but ray is not"):
        RayConfig(ray_workers=2)
    with pytest.raises(ConfigError, match="must be >= 1"):
        RayConfig(ray=True, ray_workers=0)
    head = 'out = "o"\ntasks = "p.jsonl"\n[base]\nmodel = "a"\n[tuned]\nmodel = "b"\n'
    cfg = tmp_path / "run.toml"
    for line, want in (('ray = "auto"\nray_workers = 8\n', RayConfig(True, "auto", 8)),
                       ("ray = true\n", RayConfig(True, None, None)),
                       ("", RayConfig())):
        cfg.write_text(line + head)
        assert load_run_config(cfg)["ray"] == want
    cfg.write_text("ray = 3\n" + head)
    r = run_cli("run", cfg)
    assert r.returncode == 2 and "run.toml:1" in r.stderr and "ray" in r.stderr
    # --ray-workers without --ray: refused in one line, before anything is loaded
    r = run_cli("sample", "--model", tmp_path, "--tasks", "x.jsonl", "--out", tmp_path / "o", "--ray-workers", 2)
    assert r.returncode == 2 and "--ray-workers is set but --ray is not" in r.stderr
