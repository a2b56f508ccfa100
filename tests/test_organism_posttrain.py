"""Post-training interventions on the model organism (organism/posttrain.py): each writes a loadable
checkpoint and a JSON-lines log; RL elicits (raises the tail family) but cannot create (singular
problems stay at exact p == 0 when it samples with top_p = 0.95); SFT on new information creates
(absent facts leave p == 0); the same seed gives the same weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from supportscope.models.config import DecodingConfig  # noqa: E402
from supportscope.organism import CHECKPOINT  # noqa: E402
from supportscope.organism.exact import exact_p, organism_backend  # noqa: E402
from supportscope.organism.posttrain import (DistillConfig, NewInfoConfig, RLConfig, RSConfig,  # noqa: E402
                                             checkpoint_steps, distill, new_info_sft, rl, rs_sft, step_dir)
from supportscope.organism.pretrain import load_organism  # noqa: E402
from supportscope.organism.task import TEACHER, OrganismTask  # noqa: E402

DEC = DecodingConfig(top_p=0.95, max_new_tokens=16)


@pytest.fixture(scope="module")
def problems():
    return OrganismTask().organism_problems()


def p_by_family(path, problems) -> dict[str, np.ndarray]:
    p = exact_p(organism_backend(path), problems, DEC)
    fams = np.array([q.family for q in problems])
    return {f: p[fams == f] for f in dict.fromkeys(fams)}


@pytest.fixture(scope="module")
def base_p(problems):
    return p_by_family(CHECKPOINT, problems)


def read_log(path):
    return [json.loads(line) for line in (path / "train_log.jsonl").read_text().splitlines()]


def check_checkpoint(path, kind):
    for name in ("model.safetensors", "config.json", "tokenizer.json", "corpus_config.json", "posttrain_config.json"):
        assert (path / name).is_file(), name
    assert json.loads((path / "posttrain_config.json").read_text())["kind"] == kind
    model, tok, corpus = load_organism(path)
    assert tok.eos_token_id == 0 and corpus.n_absent > 0
    log = read_log(path)
    assert "done" in log[-1] and log[-1]["seconds"] >= 0
    return log


def test_rl_elicits_tail_but_not_singular(tmp_path, problems, base_p):
    cfg = RLConfig(beta=0.2, steps=25)
    out = rl(CHECKPOINT, tmp_path / "rl", cfg)
    log = check_checkpoint(out, "rl")
    steps = [r for r in log if "step" in r]
    assert [r["step"] for r in steps] == list(range(cfg.steps))
    assert all(0.0 <= r["reward"] <= 1.0 and np.isfinite(r["kl"]) and np.isfinite(r["loss"]) for r in steps)
    assert max(r["kl"] for r in steps) > 0  # the policy moved away from the base
    assert all(r["reward_by_family"].get("sub", 0.0) == 0.0 for r in steps)  # never rewarded under top_p 0.95
    after = p_by_family(out, problems)
    assert after["mul"].mean() > base_p["mul"].mean() + 0.05, (base_p["mul"].mean(), after["mul"].mean())
    assert (base_p["absent"] == 0).all() and (after["absent"] == 0).all(), after["absent"].max()
    # sub is singular only through the top_p cut (raw p0 ~ 0.004): moving mass that RL never rewards
    # can lift a few across the nucleus edge (one of 64, p 0.014, with the 47-token base), never most
    assert (base_p["sub"] == 0).all() and (after["sub"] == 0).mean() > 0.9, after["sub"].max()


def test_rl_logs_kl_with_beta_zero_and_k3(tmp_path):
    out = rl(CHECKPOINT, tmp_path / "rl0", RLConfig(beta=0.0, steps=3, problems_per_step=4, group_size=4,
                                                    kl_estimator="k3", families=("mul",), sample_top_p=1.0))
    steps = [r for r in read_log(out) if "step" in r]
    assert len(steps) == 3 and all("kl" in r and r["kl_estimator"] == "k3" for r in steps)
    assert steps[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # first step: the policy is still the base
    with pytest.raises(ValueError):
        rl(CHECKPOINT, tmp_path / "bad", RLConfig(steps=1, families=("nope",)))


def test_rs_sft(tmp_path, problems, base_p):
    out = rs_sft(CHECKPOINT, tmp_path / "rs", RSConfig(samples_per_problem=4, epochs=2, families=("add", "mul")))
    log = check_checkpoint(out, "rs_sft")
    assert log[0]["kept"] > 0 and log[0]["kept_by_family"]["mul"] > 0
    assert any("loss" in r for r in log)
    after = p_by_family(out, problems)
    assert after["mul"].mean() > base_p["mul"].mean()


def test_new_info_sft_creates(tmp_path, problems, base_p):
    out = new_info_sft(CHECKPOINT, tmp_path / "ni", NewInfoConfig())
    log = check_checkpoint(out, "new_info_sft")
    assert log[0]["demonstrations"] == len(base_p["absent"])
    after = p_by_family(out, problems)
    assert (base_p["absent"] == 0).all()
    assert after["absent"].mean() > 0.1 and (after["absent"] > 0).mean() > 0.5


def _state(path):
    model, _, _ = load_organism(path)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_determinism(tmp_path):
    """The same config gives the same weights and log, on 2 threads or 1 (the demo trains its variants
    in parallel processes of 1 thread each, and threads are not in the checkpoint cache key)."""
    from dataclasses import replace

    for name, fn, cfg in (("rl", rl, RLConfig(steps=3, problems_per_step=6, group_size=4, threads=2)),
                          ("ni", new_info_sft, NewInfoConfig(steps=3, threads=2))):
        a = fn(CHECKPOINT, tmp_path / f"{name}a", cfg)
        b = fn(CHECKPOINT, tmp_path / f"{name}b", replace(cfg, threads=1))
        sa, sb = _state(a), _state(b)
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
        base = _state(CHECKPOINT)
        assert any(not torch.equal(sa[k], base[k]) for k in sa)  # training changed the weights
        la = [{k: v for k, v in r.items() if k != "seconds"} for r in read_log(a)]
        lb = [{k: v for k, v in r.items() if k != "seconds"} for r in read_log(b)]
        assert la == lb


def read(path):
    return (path / "model.safetensors").read_bytes()


def test_rl_checkpoints_are_the_run_at_those_steps(tmp_path):
    """checkpoint_every saves the policy after 2 and 4 of 5 steps (not the base, not the final step) in
    the variant's format, atomically; saving changes nothing in the run: the final weights are
    byte-identical to those of the same run without checkpoints, and the step-2 checkpoint is
    byte-identical to a 2-step run's final weights."""
    small = {"problems_per_step": 4, "group_size": 4, "families": ("add", "mul")}
    out = rl(CHECKPOINT, tmp_path / "ck", RLConfig(steps=5, checkpoint_every=2, **small))
    plain = rl(CHECKPOINT, tmp_path / "plain", RLConfig(steps=5, **small))
    short = rl(CHECKPOINT, tmp_path / "short", RLConfig(steps=2, **small))
    assert checkpoint_steps(5, 2) == [2, 4] and checkpoint_steps(5, 0) == [] and checkpoint_steps(4, 2) == [2]
    assert sorted(p.name for p in (out / "steps").iterdir()) == ["step-0002", "step-0004"]  # no temp folder left
    assert not (plain / "steps").exists()
    for s in (2, 4):
        d = step_dir(out, s)
        for name in ("model.safetensors", "config.json", "tokenizer.json", "corpus_config.json"):
            assert (d / name).is_file(), (s, name)
        meta = json.loads((d / "posttrain_config.json").read_text())
        assert meta["kind"] == "rl" and meta["step"] == s and meta["config"]["checkpoint_every"] == 2
        _, tok, corpus = load_organism(d)
        assert tok.eos_token_id == 0 and corpus.n_absent > 0
    assert read(out) == read(plain)
    assert read(step_dir(out, 2)) == read(short)
    assert read(step_dir(out, 4)) != read(step_dir(out, 2)) != read(out)
    log, log_plain = read_log(out), read_log(plain)
    assert [r["checkpoint"] for r in log if "checkpoint" in r] == [
        {"step": 2, "path": "steps/step-0002"}, {"step": 4, "path": "steps/step-0004"}]
    assert log[-1]["checkpoint_steps"] == [2, 4] and log_plain[-1]["checkpoint_steps"] == []
    drop = {"seconds", "checkpoint", "checkpoint_steps"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in log] == \
        [{k: v for k, v in r.items() if k not in drop} for r in log_plain]


def test_distillation_from_a_sub_correct_teacher_creates_on_sub(tmp_path, problems, base_p):
    """SFT on the samples of the teacher (pretrained with sub always correct) moves sub off p = 0 under
    top_p = 0.95; the same SFT on the base's own samples (self-distillation) leaves sub at 0."""
    small = {"families": ("sub",), "samples_per_problem": 4, "epochs": 2}
    assert (base_p["sub"] == 0).mean() > 0.9
    out = distill(CHECKPOINT, tmp_path / "teacher", DistillConfig(teacher=str(TEACHER), **small))
    log = check_checkpoint(out, "distill")
    assert log[0]["teacher_correct_by_family"]["sub"] > 0.9 * log[0]["sampled_by_family"]["sub"]
    after = p_by_family(out, problems)
    assert (after["sub"] > 0).mean() > 0.8 and after["sub"].mean() > 0.3
    own = p_by_family(distill(CHECKPOINT, tmp_path / "self", DistillConfig(**small)), problems)
    assert (own["sub"] == 0).mean() > 0.9


def test_rl_with_an_environment_trains_only_on_policy_tokens(tmp_path):
    """RL with the calculator on sub: without it the base never earns a reward there under top_p = 0.95;
    with it the calls earn rewards (the log), the run is seeded, and the environment's reply is
    never a target (train_util.batch keeps only the completion's policy tokens)."""
    from supportscope.organism.train_util import batch

    ids, att, tgt, plen = batch([([5, 6], [7, 8, 9, 10], [1, 0, 0, 1]), ([5], [7], None)], pad=0)
    assert tgt[0].tolist() == [False, False, True, False, False, True] and tgt[1].tolist()[:2] == [False, True]
    assert plen == [2, 1] and att[1].tolist() == [1, 1, 0, 0, 0, 0]
    cfg = RLConfig(steps=3, problems_per_step=8, group_size=8, env="calc", families=("sub",))
    a, b = rl(CHECKPOINT, tmp_path / "a", cfg), rl(CHECKPOINT, tmp_path / "b", cfg)
    assert read(a) == read(b) and read(a) != read(CHECKPOINT)
    assert json.loads((a / "posttrain_config.json").read_text())["config"]["env"] == "calc"
    assert sum(r["reward"] for r in read_log(a) if "reward" in r) > 0
