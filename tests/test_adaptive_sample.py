"""Adaptive sampling end to end on the model organism (real model, real verifier): rounds stop each
problem once its regime at K is decided, a run interrupted mid-round resumes to the same bytes, and
`analyze` switches to confidence sequences for adaptive runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import Crash, FlakyBackend, run_cli
from supportscope.models.config import DecodingConfig, Policy
from supportscope.organism.exact import exact_p, organism_backend
from supportscope.organism.task import CHECKPOINT, OrganismTask
from supportscope.store import RunStore
from supportscope.scale.adaptive import AdaptiveConfig, adaptive_sample_job
from supportscope.stats.allocation import futile_mask
from supportscope.stats.sequences import confidence_sequence, regime_decided_anytime

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DEC = DecodingConfig(top_p=0.95, max_new_tokens=8, seed=3)
CFG = AdaptiveConfig(adaptive=True, budget=16, max_n=256, round=16)
TASK = "organism:?size=3&families=add,mul,sub,absent"


@pytest.fixture(scope="module")
def backend():
    return organism_backend()


def _run(path, backend, task, crash_after=None):
    store = RunStore.open(path, create=True, versions={"test": "1"})
    try:
        return adaptive_sample_job(store, FlakyBackend(backend, crash_after), "base", Policy(model=str(CHECKPOINT), name="base"), DEC, task,
                                   CFG, problems_per_shard=2, batch_size=16)
    except Crash:
        return None
    finally:
        store.close()


def _counts(path, below: dict | None = None):
    """(c, n) per problem; with ``below`` {problem: m}, c counts only the samples with sample_idx < m."""
    store = RunStore(path)
    rows = store.read("samples").to_pylist()
    c, n = {}, {}
    for r in rows:
        pid = r["problem_id"]
        n[pid] = n.get(pid, 0) + 1
        if below is None or r["sample_idx"] < below[pid]:
            c[pid] = c.get(pid, 0) + int(r["correct"])
    return c, n


def test_rounds_stop_when_decided_and_resume_byte_identical(tmp_path, backend):
    from supportscope.tasks import load_task

    task = load_task(TASK)
    full = _run(tmp_path / "a", backend, task)
    assert full["rounds"] >= 3 and full["written"] == full["samples"]
    c, n = _counts(tmp_path / "a")
    ids = list(n)
    cc, nn = np.array([c[i] for i in ids]), np.array([n[i] for i in ids])
    decided = regime_decided_anytime(cc, nn, CFG.budget, CFG.basin_budget)
    # every problem is decided, at max_n, or stopped as futile (no plausible rate decides it by max_n);
    # a decided one got no round after the one that decided it
    futile = futile_mask(cc, nn, CFG.budget, max_n=CFG.max_n, futility=CFG.futility)
    assert np.all(decided | (nn >= CFG.max_n) | futile)
    c_prev, _ = _counts(tmp_path / "a", below={i: m - CFG.round for i, m in zip(ids, nn)})
    prev = regime_decided_anytime(np.array([c_prev.get(i, 0) for i in ids]), nn - CFG.round, CFG.budget,
                                  CFG.basin_budget)
    assert not np.any(prev & (nn > CFG.round))
    # basin problems close after the first round, p = 0 problems need far more samples
    fam = {p.id: p.meta["family"] for p in task.problems()}
    assert all(n[i] == CFG.round for i in ids if fam[i] == "add")
    assert all(n[i] >= 2 * CFG.round and c[i] == 0 for i in ids if fam[i] in ("sub", "absent"))
    assert len(set(nn.tolist())) >= 3
    # crash after a few backend calls (mid-round), then resume: the same shards, byte for byte
    for crash_after in (2, 7):
        path = tmp_path / f"b{crash_after}"
        assert _run(path, backend, task, crash_after=crash_after) is None
        again = _run(path, backend, task)
        assert again["samples"] == full["samples"] and again["written"] < full["written"]
        a, b = RunStore(tmp_path / "a"), RunStore(path)
        sa = {s["key"]: s["file"] for s in a.shards("samples", "base")}
        sb = {s["key"]: s["file"] for s in b.shards("samples", "base")}
        assert sa.keys() == sb.keys()
        for k in sa:
            assert (a.path / sa[k]).read_bytes() == (b.path / sb[k]).read_bytes(), k


def test_decisions_agree_with_exact_p(tmp_path, backend):
    """The confidence sequences at the stopping time cover the exact p of every problem."""
    task = OrganismTask(size=4)
    _run(tmp_path / "r", backend, task)
    c, n = _counts(tmp_path / "r")
    org = task.organism_problems()
    p = exact_p(backend, org, DEC)
    lo, hi = confidence_sequence(np.array([c[q.id] for q in org]), np.array([n[q.id] for q in org]), 0.05)
    assert np.all((lo <= p) & (p <= hi))


def test_cli_adaptive_sample_then_analyze(tmp_path):
    run = tmp_path / "run"
    common = ("--tasks", "organism:?size=2", "--max-new-tokens", "8", "--top-p", "0.95", "--adaptive",
              "--budget", "16", "--max-n", "128", "--round", "16", "--out", run)
    r = run_cli("sample", "--model", CHECKPOINT, "--name", "base", *common)
    assert r.returncode == 0, r.stderr
    assert "adaptive:" in r.stderr and "rounds" in r.stderr
    r = run_cli("sample", "--model", CHECKPOINT, "--name", "again", "--seed", "1", *common)
    assert r.returncode == 0, r.stderr
    entry = json.loads((run / "manifest.json").read_text())["entries"]["base"]
    assert entry["adaptive"]["budget"] == 16 and entry["adaptive"]["max_n"] == 128
    out = tmp_path / "an"
    r = run_cli("analyze", run, "--base", "base", "--tuned", "again", "--out", out, "--bootstrap", "200")
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["budget"]["K"] == 16 and s["budget"]["intervals"].startswith("confidence sequence")
    # basin problems stopped at n = 16 do not make the run uncertifiable
    assert s["budget"]["certifiable"] is True and s["verdict"]["kind"] != "inconclusive"
    assert any("Anytime-valid" in x for x in s["notes"])
    # the same weights sampled twice: nothing created or lost
    assert s["labels"]["created"]["count"] == 0 and s["labels"]["lost"]["count"] == 0


def test_bad_adaptive_option_is_one_line(tmp_path):
    r = run_cli("sample", "--model", CHECKPOINT, "--name", "base", "--tasks", "organism:?size=1", "--adaptive",
                "--round", "64", "--max-n", "32", "--out", tmp_path / "r")
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "--round" in r.stderr
