"""`supportscope demo --quick` end to end: the labels it estimates agree with the organism's exact
labels, "created" stays within alpha, and the free-energy predictions hold (DESIGN.md sections 4, 6).
About a minute on 2 cores (post-training four variants is most of it); a rerun reuses everything."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import run_cli
from supportscope.organism.demo_config import DemoConfig
from supportscope.organism.task import CHECKPOINT
from supportscope.pipeline.demo import checkpoint_key, trajectory_models, variants
from supportscope.store import RunStore

TRAJECTORY = ["base", "rl-beta0.05-step-0010", "rl-beta0.05-step-0020", "rl-beta0.05-step-0030", "rl-beta0.05"]


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    out, ck = root / "out", root / "ck"
    r = run_cli("demo", "--quick", "--out", out, "--checkpoints", ck, timeout=1500)
    assert r.returncode == 0, r.stderr[-3000:]
    return out, ck, r, json.loads((out / "demo.json").read_text())


def test_labels_agree_with_the_exact_ones(quick_demo):
    _, _, _, demo = quick_demo
    assert set(demo["variants"]) == {"rl-beta0.05", "rl-beta0.2", "rs-sft", "new-info-sft", "rl-calc", "rl-search",
                                     "rl-feedback", "distill-teacher", "distill-self"}
    for name, v in demo["variants"].items():
        gt = v["ground_truth"]
        assert gt["n_problems"] == 40 and gt["n_determined"] >= 30, (name, gt)
        assert gt["agreement"] >= 0.95, (name, gt)
        assert gt["false_created_rate"] <= 0.05, (name, gt)


def test_free_energy_predictions(quick_demo):
    _, _, _, demo = quick_demo
    vs = demo["variants"]
    for name in ("rl-beta0.05", "rl-beta0.2", "rs-sft"):
        v = vs[name]
        # at 8 problems per family the pass@1 rise of RL (exact mul p 0.13 -> 0.34-0.40) may not reach
        # significance; what must not happen is a creation claim
        assert v["verdict"] in ("elicitation", "mostly elicitation", "no significant change"), (name, v["sentence"])
        mul = v["ground_truth"]["by_family"]["mul"]
        assert mul["p_exact_tuned"] > mul["p_exact_base"], (name, mul)
        # nothing is created from outside the raw support: the absent facts (raw p ~ 1e-30) stay out of
        # reach; a problem singular only through the top_p cut may cross it (seen at full size)
        assert "created" not in v["ground_truth"]["by_family"]["absent"]["labels_exact"]
        low = v["ground_truth"]["singular_base"]["min_raw_p0_accessible_now"]
        assert low is None or low > 1e-6, (name, low)
    for name in ("rl-beta0.05", "rl-beta0.2"):
        g = vs[name]["gibbs"]
        # RL tilts the base towards success (lambda > 0), and the tilt predicts the tuned log-odds
        # better than a constant (R^2 > 0). Measured (quick demo, the 47-token organism): rl-beta0.05
        # lambda 0.86 [-0.08, 1.53], R^2 0.64; rl-beta0.2 lambda 0.72 [-0.01, 1.25], R^2 0.80 (at 8
        # problems per family the interval reaches 0). The deviance test rejects one tilt for both
        # (p = 0.001): a trained model is not the exact Gibbs optimum problem by problem, so the demo
        # does not claim that one tilt explains RL's gain.
        assert g["lambda"] > 0 and g["r2"] > 0.25, (name, g)
    # a smaller KL weight beta tilts more (lambda = 1/beta at the optimum)
    assert vs["rl-beta0.05"]["gibbs"]["lambda"] > vs["rl-beta0.2"]["gibbs"]["lambda"]
    new = vs["new-info-sft"]
    # SFT on new facts creates the absent facts and loses some mul/fact problems: both established
    assert new["verdict"] in ("creation", "creation with narrowing"), new["sentence"]
    fam = new["ground_truth"]["by_family"]["absent"]
    assert fam["labels_estimated"].get("created", 0) >= 4 and fam["p_exact_base"] == 0.0


def test_outputs_and_printout(quick_demo):
    out, _, r, demo = quick_demo
    for name in demo["variants"]:
        table = pq.read_table(out / name / "per_problem.parquet")
        assert {"label_exact", "p_exact_base", "p_exact_tuned", "label_consistent", "family"} <= set(table.column_names)
        summary = json.loads((out / name / "summary.json").read_text())
        assert summary["ground_truth"]["confusion"]["cols"][0] == "elicited"
        assert summary["kl"]["kl_observed"] == "kl_full"  # the base scored the variant with the exact KL
        assert 'id="truth"' in (out / name / "report.html").read_text()
    # 10 models, 3 trajectory checkpoints, 6 environment cells (base+E and rl-E+E for 3 environments)
    assert pq.read_table(out / "exact_p.parquet").num_rows == (10 + 3 + 6) * 40
    assert "against the exact labels" in r.stdout and "new-info-sft" in r.stdout
    assert "rl-beta0.05 trajectory" in r.stdout and "trajectory.json" in r.stdout
    assert demo["config"]["quick"] is True and demo["versions"]["torch"]


def test_rerun_reuses_checkpoints_and_samples(quick_demo):
    out, ck, _, demo = quick_demo
    r = run_cli("demo", "--quick", "--out", out, "--checkpoints", ck, timeout=1500)
    assert r.returncode == 0, r.stderr[-3000:]
    again = json.loads((out / "demo.json").read_text())
    assert all(again["cached"].values())
    for name, v in demo["variants"].items():
        assert again["variants"][name] == v  # same samples, same seeds: the same numbers


def test_bad_option_is_one_line(tmp_path):
    r = run_cli("demo", "--quick", "--n", "4", "--out", tmp_path / "x")
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "--n" in r.stderr
    assert not (tmp_path / "x").exists()


def test_follow_up_confirms_or_drops_the_candidates(quick_demo, tmp_path):
    """The loop of issue 12: candidates listed by `analyze` -> `sample --adaptive --problems-from
    per_problem.parquet --label created-candidate` for both models -> `analyze` again: each candidate is
    confirmed or dropped on fresh samples, and what it confirms is created under the exact p."""
    out, _, _, _ = quick_demo
    run, tuned = out / "run", "new-info-sft"
    pp = pq.read_table(out / tuned / "per_problem.parquet").to_pydict()
    cands = [p for p, c in zip(pp["problem_id"], pp["candidate"]) if c == "created"]
    exact = dict(zip(pp["problem_id"], pp["label_exact"]))
    assert cands, "the quick demo's new-info SFT has created candidates"
    summary = json.loads((out / tuned / "summary.json").read_text())
    K = summary["budget"]["K"]
    assert summary["support_change"]["plan"]["candidates"] >= len(cands)
    manifest = json.loads((run / "manifest.json").read_text())
    for name in ("base", tuned):
        e = manifest["entries"][name]
        dec = e["decoding"]
        r = run_cli("sample", "--model", e["policy"]["model"], "--name", name, "--tasks", e["task"]["spec"],
                    "--limit", e["task"]["problems"], "--n", e["n"],
                    "--temperature", dec["temperature"], "--top-p", dec["top_p"],
                    "--max-new-tokens", dec["max_new_tokens"], "--seed", dec["seed"],
                    "--adaptive", "--budget", K, "--max-n", 512, "--round", 32,
                    "--problems-from", out / tuned / "per_problem.parquet", "--label", "created-candidate",
                    "--out", run)
        assert r.returncode == 0, r.stderr[-2000:]
    again = tmp_path / "again"
    r = run_cli("analyze", run, "--base", "base", "--tuned", tuned, "--out", again, "--bootstrap", 1000)
    assert r.returncode == 0, r.stderr[-2000:]
    s = json.loads((again / "summary.json").read_text())
    conf = s["support_change"]["created"]["confirmation"]
    assert conf["problems"] == len(cands) and conf["confirmed"] >= 1
    assert set(conf["confirmed_ids"]) | set(conf["not_confirmed_ids"]) == set(cands)
    # a confirmed problem is created under the exact p (no false confirmation)
    assert all(exact[p] == "created" for p in conf["confirmed_ids"]), (conf, exact)
    assert s["support_change"]["created"]["claimed"] and "confirmed on fresh samples" in s["verdict"]["sentence"]
    # stage 1 (the labels) is what it was: the follow-up samples are kept apart
    assert s["labels"]["created"]["count"] == summary["labels"]["created"]["count"]


def test_trajectory_config_and_cache_key():
    on, off = (variants(DemoConfig(quick=True, trajectory_every=t).resolved()) for t in (None, 0))
    assert on[0].config.checkpoint_every == 10 and on[1].config.checkpoint_every == 0  # betas[0] only
    assert off[0].config.checkpoint_every == 0
    # the cache key tells a run with trajectory checkpoints from one without; other variants keep theirs
    assert checkpoint_key(on[0], CHECKPOINT) != checkpoint_key(off[0], CHECKPOINT)
    assert [checkpoint_key(v, CHECKPOINT) for v in on[1:]] == [checkpoint_key(v, CHECKPOINT) for v in off[1:]]
    assert trajectory_models(off[0], Path("unused")) == []


def test_trajectory_is_checked_against_exact_p(quick_demo, one_torch_thread):
    """trajectory.json: base, the RL run's checkpoints at steps 10, 20, 30 (folders of the cached variant,
    sampled and scored by the base in the run) and the variant; its exact p agrees with exact_p.parquet,
    with the pairwise ground truth of the variant, and with organism.exact recomputed on one checkpoint."""
    pytest.importorskip("torch")
    from supportscope.models.config import DecodingConfig
    from supportscope.organism.exact import exact_p_both, organism_backend
    from supportscope.organism.task import OrganismTask
    from supportscope.organism.truth import trajectory_point

    out, _, _, demo = quick_demo
    tr = json.loads((out / "trajectory.json").read_text())
    assert tr == demo["trajectory"] and tr["variant"] == "rl-beta0.05" and tr["config"]["checkpoint_every"] == 10
    rows = tr["checkpoints"]
    assert [r["step"] for r in rows] == [0, 10, 20, 30, 40] and [r["model"] for r in rows] == TRAJECTORY
    assert rows[0]["created"] == rows[0]["lost"] == 0 and rows[0]["labels_exact"]["unchanged"] > 0
    final = Path(demo["checkpoints"]["rl-beta0.05"])
    manifest = json.loads((out / "run" / "manifest.json").read_text())["entries"]
    for r in rows[1:-1]:
        assert Path(demo["checkpoints"][r["model"]]) == final / "steps" / f"step-{r['step']:04d}"
        assert manifest[r["model"]]["n"] == demo["n"]  # sampled like the variants
    run = RunStore(out / "run")
    try:
        sc = run.read("scores").select(["generator", "scorer", "kl_full"]).to_pydict()
    finally:
        run.close()
    for r in rows[1:-1]:  # the base scored every checkpoint's samples, with the full-vocabulary KL
        kl = [k for g, s, k in zip(sc["generator"], sc["scorer"], sc["kl_full"]) if g == r["model"] and s == "base"]
        assert len(kl) == 40 * demo["n"] and all(k is not None and k >= 0 for k in kl)
    assert "base" not in {g for g, s in zip(sc["generator"], sc["scorer"]) if s.endswith("step-0020")}
    assert "rl-beta0.05-step-0020" not in demo["variants"]  # no pairwise analysis of the checkpoints
    assert not (out / "rl-beta0.05-step-0020").exists()

    # the final row and the base row are the variant's pairwise ground truth
    K = tr["K"]
    assert K == demo["variants"]["rl-beta0.05"]["K"]
    gt = demo["variants"]["rl-beta0.05"]["ground_truth"]
    for f, d in gt["by_family"].items():
        assert rows[-1]["p_exact_mean_by_family"][f] == pytest.approx(d["p_exact_tuned"], rel=1e-12)
        assert rows[0]["p_exact_mean_by_family"][f] == pytest.approx(d["p_exact_base"], rel=1e-12)
    assert rows[-1]["created"] == gt["n_created_exact"]

    # exact_p.parquet has every checkpoint; one checkpoint recomputed from its folder by organism.exact
    ep = pq.read_table(out / "exact_p.parquet").to_pylist()
    by_model = {}
    for r in ep:
        by_model.setdefault(r["model"], {})[r["problem_id"]] = r["p_decoding"]
    assert set(TRAJECTORY) <= set(by_model)
    org = OrganismTask(size=8, seed=0).organism_problems()
    ids, fams = [p.id for p in org], [p.family for p in org]
    d = demo["decoding"]
    dec = DecodingConfig(temperature=d["temperature"], top_p=d["top_p"], max_new_tokens=d["max_new_tokens"],
                         seed=d["seed"])
    name = "rl-beta0.05-step-0020"
    p, _ = exact_p_both(organism_backend(demo["checkpoints"][name]), org, dec)
    assert np.allclose(p, [by_model[name][i] for i in ids], rtol=1e-6, atol=1e-12)
    p0 = [by_model["base"][i] for i in ids]
    again = trajectory_point(p0, p, fams, K, tr["basin_budget"], tr["zeta"], ids)
    row = rows[2]
    assert row["p_exact_mean"] == pytest.approx(again["p_exact_mean"], rel=1e-6)
    assert row["pass_at_K_exact"] == pytest.approx(again["pass_at_K_exact"], rel=1e-6)
    for f in set(fams):
        assert row["p_exact_mean_by_family"][f] == pytest.approx(again["p_exact_mean_by_family"][f], rel=1e-6)
    assert (row["labels_exact"], row["created_ids"], row["lost_ids"]) == \
        (again["labels_exact"], again["created_ids"], again["lost_ids"])
    # the run moves: the checkpoints differ from the base and from each other
    assert len({round(r["p_exact_mean"], 9) for r in rows}) == len(rows)


def test_trajectory_analysis_against_exact_labels(quick_demo):
    """The RL run's checkpoints are one multi-model analysis (OUT/trajectory) whose labels agree with
    the exact ones and whose combined report shows the check."""
    out, _, _, demo = quick_demo
    t = demo["trajectory"]["analysis"]
    s = json.loads((out / "trajectory" / "summary.json").read_text())
    steps = [m["step"] for m in s["models"]]
    assert steps == sorted(steps) and steps[-1] == demo["trajectory"]["config"]["steps"] and s["ordering"]["trajectory"]
    assert all(m["kl"] and m["kl"]["kl"]["value"] >= 0 for m in s["models"])  # the base scored every checkpoint
    gt = s["ground_truth"]
    for name, g in gt["models"].items():
        assert g["agreement"] is None or g["agreement"] >= 0.95, (name, g)
        assert g["false_created_rate"] is None or g["false_created_rate"] <= 0.05, (name, g)
    assert gt["created_claims_exactly_created_then"] == gt["created_claims"] or gt["created_claims"] <= 1
    assert t["agreement"] == {m: g["agreement"] for m, g in gt["models"].items()}
    assert "Against exact labels" in (out / "trajectory" / "report.html").read_text()
    assert (out / "trajectory" / "models" / s["models"][0]["name"] / "report.html").is_file()


def test_variants_as_one_analysis(quick_demo):
    """The variants side by side (OUT/variants): a set of methods with one row each, paired
    differences between them, and labels that agree with the exact ones."""
    out, _, _, demo = quick_demo
    s = json.loads((out / "variants" / "summary.json").read_text())
    assert [m["name"] for m in s["models"]] == list(demo["variants"])
    # 9 methods: more than the 8 whose every pair is compared, so the 8 neighbours in the given order
    assert not s["ordering"]["trajectory"] and len(s["differences"]) == len(demo["variants"]) - 1
    for name, g in s["ground_truth"]["models"].items():
        assert g["agreement"] is None or g["agreement"] >= 0.95, (name, g)
    assert demo["variants_analysis"]["agreement"] == {m: g["agreement"] for m, g in s["ground_truth"]["models"].items()}


def test_tool_runs_two_by_two_against_exact(quick_demo):
    """Issue 16: every pair of every tool run's 2 x 2 account agrees with the exact labels (exact p of
    policy + environment), claims creation only where the exact p has created problems, and the
    environment pair (same weights) pays exactly 0 KL: only policy tokens are scored."""
    out, _, r, demo = quick_demo
    assert set(demo["tools"]) == {"calc", "search", "feedback"}
    for env, block in demo["tools"].items():
        assert set(block["pairs"]) == {"environment", "training", "training_without_env", "total"}
        for pair, row in block["pairs"].items():
            assert row["agreement"] is None or row["agreement"] >= 0.95, (env, pair, row)
            assert row["false_created_rate"] is None or row["false_created_rate"] <= 0.05, (env, pair, row)
            assert not row["creation_claimed"] or row["n_created_exact"] > 0, (env, pair, row)
            summary = json.loads((out / "tools" / env / pair / "summary.json").read_text())
            assert summary["ground_truth"]["agreement"] == row["agreement"]
            assert summary["config"]["pair"] == {"name": pair, "base": row["base"], "tuned": row["tuned"], "env": env}
        assert abs(block["pairs"]["environment"]["kl_mean"]) < 1e-9, (env, block["pairs"]["environment"])
        assert block["pairs"]["training"]["kl_mean"] > 0
    assert "tool runs" in r.stdout
    # the environment's tokens are in the run store, masked
    store = RunStore.open(out / "run")
    try:
        t = store.read("samples", model="base+calc")
    finally:
        store.close()
    masks = [m for m in t["policy_mask"].to_pylist() if m is not None and 0 in m]
    assert masks and all(len(m) == len(i) for m, i in zip(t["policy_mask"].to_pylist(), t["token_ids"].to_pylist())
                         if m is not None)


def test_distillation_creates_only_from_a_stronger_teacher(quick_demo):
    _, _, _, demo = quick_demo
    teacher, own = demo["variants"]["distill-teacher"], demo["variants"]["distill-self"]
    fam = teacher["ground_truth"]["by_family"]["sub"]
    assert fam["p_exact_base"] == 0.0 and fam["labels_exact"].get("created", 0) >= 4, fam
    assert fam["labels_estimated"].get("created", 0) >= 1 and teacher["verdict"].startswith("creation")
    assert "created" not in own["ground_truth"]["by_family"]["sub"]["labels_exact"]
    assert not own["verdict"].startswith("creation"), own["sentence"]
