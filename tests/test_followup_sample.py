"""Follow-up sampling (the confirmation stage, scale.adaptive.followup_sample_job) on the model
organism: only the selected problems get fresh samples, their sample_idx continue after stage 1, the
shards are f00- keys, the manifest records the follow-up, the counts split into main and follow-up,
a killed follow-up resumes to the same bytes, and the CLI refuses bad combinations in one line."""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import Crash, FlakyBackend, run_cli
from supportscope.models.config import DecodingConfig, Policy
from supportscope.organism.exact import organism_backend
from supportscope.organism.task import CHECKPOINT
from supportscope.errors import InputError, StoreError
from supportscope.store import RunStore, counts_from_samples
from supportscope.store.counts import FOLLOWUP_KEY
from supportscope.scale.adaptive import AdaptiveConfig, followup_level, followup_sample_job
from supportscope.scale.jobs import sample_job
from supportscope.scale.select import select_problems
from supportscope.tasks import load_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TASK = "organism:?size=2"
DEC = DecodingConfig(top_p=0.95, max_new_tokens=8, seed=3)
CFG = AdaptiveConfig(adaptive=True, budget=16, max_n=64, round=16)
N1 = 16
CANDIDATES = ["absent-000", "add-004", "mul-002"]  # in task order: add-004, mul-002, absent-000
DEC_ARGS = ("--max-new-tokens", "8", "--top-p", "0.95", "--seed", "3")


def policy(name):
    return Policy(model=str(CHECKPOINT), name=name)


@pytest.fixture(scope="module")
def backend():
    return organism_backend()


@pytest.fixture(scope="module")
def stage1(tmp_path_factory, backend):
    """A run with uniform n = 16 of the organism under two names, and a per_problem.parquet whose
    candidate column marks three problems "created" (one "lost")."""
    root = tmp_path_factory.mktemp("followup")
    task = load_task(TASK)
    with RunStore.open(root / "run", versions={"test": "1"}) as store:
        for name in ("base", "tuned"):
            sample_job(store, backend, name, policy(name), DEC, task, N1, problems_per_shard=4, batch_size=64)
    ids = [p.id for p in task.problems()]
    cand = {**{i: "" for i in ids}, **{i: "created" for i in CANDIDATES}, ids[-1]: "lost"}
    rows = list(reversed(ids))  # table order is not task order
    pq.write_table(pa.table({"problem_id": rows, "label": ["unchanged"] * len(rows),
                             "candidate": [cand[i] for i in rows]}), root / "per_problem.parquet")
    pq.write_table(pa.table({"problem_id": ids}), root / "ids_only.parquet")
    return root, task


def _copy(stage1, tmp_path, name="run"):
    root, _ = stage1
    shutil.copytree(root / "run", tmp_path / name)
    return tmp_path / name


def _followup(path, backend, task, problems, crash_after=None):
    with RunStore.open(path, versions={"test": "1"}) as store:
        try:
            return followup_sample_job(store, FlakyBackend(backend, crash_after), "base", policy("base"), DEC, task, problems, CFG,
                                       problems_per_shard=2, batch_size=16)
        except Crash:
            return None


def _shard_bytes(path, model="base"):
    store = RunStore(path)
    return {s["key"]: (store.path / s["file"]).read_bytes() for s in store.shards("samples", model)}


def test_select_problems(stage1):
    root, task = stage1
    got = select_problems(task.problems(), root / "per_problem.parquet", "created-candidate")
    assert [p.id for p in got] == ["add-004", "mul-002", "absent-000"]
    assert len(select_problems(task.problems(), root / "per_problem.parquet", "lost-candidate")) == 1
    assert len(select_problems(task.problems(), root / "per_problem.parquet", "unchanged")) == 10
    csv = root / "sel.csv"
    csv.write_text("problem_id,candidate\nmul-002,created\nadd-004,\n")
    assert [p.id for p in select_problems(task.problems(), csv, "created-candidate")] == ["mul-002"]
    for path, label, what in [(root / "nope.parquet", None, "no such file"),
                              (root / "ids_only.parquet", "created-candidate", "no candidate column"),
                              (root / "per_problem.parquet", "elicited", "no row has label")]:
        with pytest.raises(InputError, match=what):
            select_problems(task.problems(), path, label)
    with pytest.raises(InputError, match="not a problem of the task"):
        select_problems(task.problems()[:5], root / "per_problem.parquet")


def test_followup_samples_counts_and_manifest(stage1, backend, tmp_path):
    root, task = stage1
    run = _copy(stage1, tmp_path)
    main_before = counts_from_samples(run)
    stage1_bytes = _shard_bytes(run)
    problems = select_problems(task.problems(), root / "per_problem.parquet", "created-candidate")
    res = _followup(run, backend, task, problems)
    assert res["problems"] == 3 and res["level"] == pytest.approx(0.05 / 6) == followup_level(0.05, 3)
    assert res["rounds"] >= 2 and res["written"] == res["samples"]

    store = RunStore(run)
    entry = store.entry("base")
    spec = entry["followup"]
    assert spec["problems"] == ["add-004", "mul-002", "absent-000"] and spec["start"] == [N1] * 3
    assert spec["alpha"] == 0.05 and spec["level"] == pytest.approx(0.05 / 6) and spec["budget"] == CFG.budget
    assert spec["key_prefix"] == "f00-" and spec["max_n"] == CFG.max_n
    assert "followup" not in store.entry("tuned")
    # stage-1 shards untouched; new shards only f00- keys, only the selected problems
    after = _shard_bytes(run)
    assert {k: v for k, v in after.items() if k in stage1_bytes} == stage1_bytes
    new = [k for k in after if k not in stage1_bytes]
    assert new and all(k.startswith("f00-r") and FOLLOWUP_KEY.match(k) for k in new)
    rows = [r for r in store.read("samples", "base").to_pylist()]
    fu = [r for r in rows if r["sample_idx"] >= N1]
    assert {r["problem_id"] for r in fu} == set(spec["problems"])
    for pid in spec["problems"]:  # sample_idx continue after stage 1, without gaps
        idx = sorted(r["sample_idx"] for r in fu if r["problem_id"] == pid)
        assert idx == list(range(N1, N1 + len(idx))) and len(idx) >= CFG.round
    # the basin problem stops after one round; the p = 0 problem needs more at the level 0.05/6
    n_fu = {pid: sum(1 for r in fu if r["problem_id"] == pid) for pid in spec["problems"]}
    assert n_fu["add-004"] == CFG.round and n_fu["absent-000"] > CFG.round
    # counts: main unchanged, follow-up only the three, all = both
    assert counts_from_samples(run).equals(main_before)
    f = counts_from_samples(run, stage="followup").to_pylist()
    assert sorted((r["problem_id"], r["n"]) for r in f) == sorted(n_fu.items())
    assert all(r["model"] == "base" for r in f)
    total = counts_from_samples(run, stage="all")
    assert sum(total.column("n").to_pylist()) == sum(main_before.column("n").to_pylist()) + sum(n_fu.values())
    with pytest.raises(ValueError, match="stage"):
        counts_from_samples(run, stage="second")

    with RunStore.open(run, versions={"test": "1"}) as store:
        # stage 1 re-registers (resumes) with the follow-up in its entry; the same follow-up is a no-op
        assert sample_job(store, backend, "base", policy("base"), DEC, task, N1, 4, 64) == 0
        store.add_followup("base", spec)
        with pytest.raises(StoreError, match="already holds a follow-up of 'base'.*Fix:"):
            store.add_followup("base", {**spec, "budget": 32})
        with pytest.raises(StoreError, match="already holds a follow-up"):
            followup_sample_job(store, backend, "base", policy("base"), DEC, task, problems[:2], CFG, 2, 16)
        with pytest.raises(StoreError, match="decoding.top_p"):
            followup_sample_job(store, backend, "base", policy("base"), DecodingConfig(top_p=0.5, max_new_tokens=8,
                                                                                      seed=3), task, problems, CFG)
    assert RunStore(run).entry("base")["followup"] == spec

    # a shard lost at the end (removed from the manifest, as by a crash before it was listed) is redone
    with RunStore.open(run, versions={"test": "1"}) as store:
        last = max(k for k in store.done("samples", "base") if k.startswith("f00-"))
        store.discard("samples", "base", last)
    again = _followup(run, backend, task, problems)
    assert again["written"] > 0 and again["samples"] == res["samples"]
    assert _shard_bytes(run) == after

    # killed mid-follow-up, then resumed: the same shards, byte for byte
    run2 = _copy(stage1, tmp_path, "run2")
    assert _followup(run2, backend, task, problems, crash_after=2) is None
    resumed = _followup(run2, backend, task, problems)
    assert resumed["samples"] == res["samples"] and resumed["written"] < res["written"]
    assert _shard_bytes(run2) == after


def test_plain_subset_run(stage1, tmp_path):
    from supportscope.pipeline.sample import run_sample
    from supportscope.scale.config import SampleJobConfig

    root, _ = stage1
    run = _copy(stage1, tmp_path)
    job = SampleJobConfig(tasks=TASK, n=4, problems_per_shard=2, problems_from=str(root / "per_problem.parquet"),
                          label="created-candidate")
    assert run_sample(policy("subset"), DEC, job, run) == 12
    assert run_sample(policy("subset"), DEC, job, run) == 0  # resumes
    c = counts_from_samples(run).to_pylist()
    assert sorted(r["problem_id"] for r in c if r["model"] == "subset") == sorted(CANDIDATES)


def _one_line_error(r, *needles):
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().count("\n") == 0, r.stderr
    for s in needles:
        assert s in r.stderr, r.stderr


def test_cli_followup_and_errors(stage1, tmp_path):
    root, _ = stage1
    run = _copy(stage1, tmp_path)
    pp = root / "per_problem.parquet"
    common = ("--model", CHECKPOINT, "--tasks", TASK, *DEC_ARGS, "--out", run)
    adapt = ("--adaptive", "--budget", "16", "--max-n", "64", "--round", "16")
    r = run_cli("sample", "--name", "tuned", *common, *adapt, "--problems-from", pp, "--label", "created-candidate")
    assert r.returncode == 0, r.stderr
    assert "follow-up of 'tuned' on 3 problems" in r.stderr
    spec = json.loads((run / "manifest.json").read_text())["entries"]["tuned"]["followup"]
    assert spec["problems"] == ["add-004", "mul-002", "absent-000"] and spec["start"] == [N1] * 3
    assert all(FOLLOWUP_KEY.match(k) for k in RunStore(run).done("samples", "tuned") if not k.startswith("p"))

    _one_line_error(run_cli("sample", "--name", "base", *common, "--label", "created-candidate"),
                    "--label", "--problems-from", "Fix:")
    _one_line_error(run_cli("sample", "--name", "base", *common, *adapt, "--problems-from", root / "ids_only.parquet",
                            "--label", "created-candidate"), "no candidate column", "Fix:")
    bad = ("--model", CHECKPOINT, "--tasks", TASK, "--max-new-tokens", "8", "--top-p", "0.5", "--seed", "3",
           "--out", run)
    _one_line_error(run_cli("sample", "--name", "base", *bad, *adapt, "--problems-from", pp),
                    "decoding.top_p", "Fix:")
    _one_line_error(run_cli("sample", "--name", "base", *common, "--problems-from", pp, "--label", "created-candidate"),
                    "add --adaptive")
    _one_line_error(run_cli("sample", "--name", "newname", *common, *adapt, "--problems-from", pp),
                    "'newname' is not in it", "Fix:")
