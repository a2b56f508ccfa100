"""The model organism: exact success probabilities (teacher forcing) against Monte Carlo sampling,
the singular/barrier split, the organism: task, corpus determinism and a pretraining smoke run."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from supportscope.models.backend import SampleRequest  # noqa: E402
from supportscope.models.config import DecodingConfig  # noqa: E402
from supportscope.organism import CHECKPOINT, FAMILIES, CorpusConfig, corpus_lines  # noqa: E402
from supportscope.organism.exact import exact_p_both, organism_backend  # noqa: E402
from supportscope.tasks import load_task  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DEC = DecodingConfig(top_p=0.95, max_new_tokens=12, seed=7)


@pytest.fixture(scope="module")
def backend():
    return organism_backend()


@pytest.fixture(scope="module")
def task():
    return load_task("organism:default")


def test_task_spec_roundtrip(task):
    assert task.spec == "organism:default?seed=0"
    again = load_task(task.spec)
    assert [p.id for p in again.problems()] == [p.id for p in task.problems()]
    sub = load_task("organism:?size=3&seed=1&families=mul,absent")
    assert [p.meta["family"] for p in sub.problems()] == ["mul"] * 3 + ["absent"] * 3
    assert load_task(sub.spec).problems() == sub.problems()
    p = sub.problems()[0]
    assert task.verify(p, p.answer) == 1.0 and task.verify(p, p.answer + "</s>") == 1.0
    assert task.verify(p, " " + p.answer) == 0.0 and task.verify(p, p.answer + "0") == 0.0
    assert task.verify(p, p.meta["wrong"]) == 0.0


def test_exact_matches_monte_carlo(backend, task):
    """For every family, n = 400 samples of 2 problems: the success count lies in the binomial
    99.9% interval around the exact p (20 checks: a false alarm has probability < 2%)."""
    from scipy.stats import binom

    org = load_task("organism:default?size=2&seed=3").organism_problems()
    assert {p.family for p in org} == set(FAMILIES)
    p_exact, _ = exact_p_both(backend, org, DEC)
    n = 400
    reqs = [SampleRequest(p.id, p.prompt, i) for p in org for i in range(n)]
    samples = backend.sample(reqs, DEC)
    by_id = {q.id: q for q in task.problems()}
    for k, p in enumerate(org):
        got = samples[k * n:(k + 1) * n]
        c = sum(task.verify(by_id[p.id], s.completion) >= 1.0 for s in got)
        lo, hi = binom.interval(0.999, n, p_exact[k])
        assert lo <= c <= hi, (p.family, p.id, c, n, p_exact[k])


def test_exact_sums_to_at_most_one(backend, task):
    org = [p for p in task.organism_problems() if p.wrong is not None]
    dec_c, raw_c = exact_p_both(backend, org, DEC)
    dec_w, raw_w = exact_p_both(backend, org, DEC, answers=[[p.wrong] for p in org])
    both_d, both_r = exact_p_both(backend, org, DEC, answers=[[p.answers[0], p.wrong] for p in org])
    np.testing.assert_allclose(both_d, dec_c + dec_w, rtol=1e-9)
    np.testing.assert_allclose(both_r, raw_c + raw_w, rtol=1e-9)
    assert both_d.max() <= 1 + 1e-5 and both_r.max() <= 1 + 1e-5
    assert both_r.mean() > 0.9  # the two corpus answers hold nearly all the mass


def test_regimes(backend, task):
    org = task.organism_problems()
    dec, raw = exact_p_both(backend, org, DEC)
    fam = np.array([p.family for p in org])
    eps8, eps64 = 1 - 0.05 ** (1 / 8), 1 - 0.05 ** (1 / 64)
    # sub (q = 0.01): singular under top_p = 0.95, yet in the raw support (barrier raw)
    assert (dec[fam == "sub"] == 0).all() and (raw[fam == "sub"] > 0).all()
    assert (raw[fam == "sub"] < eps64).all()
    assert (dec[fam == "absent"] == 0).all() and (raw[fam == "absent"] > 0).all()
    assert dec[fam == "add"].mean() >= eps8 and dec[fam == "fact"].mean() >= eps8
    assert eps64 <= dec[fam == "mul"].mean() < eps8


def test_exact_respects_max_new_tokens(backend, task):
    org = [p for p in task.organism_problems() if p.family == "fact"][:3]  # 3-letter answers
    full = exact_p_both(backend, org, DecodingConfig(max_new_tokens=8))[1]
    cut = exact_p_both(backend, org, DecodingConfig(max_new_tokens=3))[1]  # no EOS needed
    none = exact_p_both(backend, org, DecodingConfig(max_new_tokens=2))[1]
    assert (cut >= full).all() and (none == 0).all()
    with pytest.raises(ValueError, match="stop strings"):
        exact_p_both(backend, org, DecodingConfig(stop=["x"]))


def test_corpus_deterministic():
    a, b = CorpusConfig(), CorpusConfig()
    assert corpus_lines(a) == corpus_lines(b)
    assert a.problems() == b.problems()
    assert corpus_lines(CorpusConfig(seed=1)) != corpus_lines(a)
    lines = corpus_lines(CorpusConfig(repeats=100))
    sub = [p for p in a.problems() if p.family == "sub"][0]
    assert lines.count(sub.prompt + sub.answers[0]) == 1 and lines.count(sub.prompt + sub.wrong) == 99
    assert not any(p.prompt in line for p in a.problems() if p.family == "absent" for line in lines)
    saved = CorpusConfig.load(CHECKPOINT / "corpus_config.json")
    assert saved.problems() == CorpusConfig.from_dict(saved.to_dict()).problems()


def test_pretrain_smoke(tmp_path):
    from supportscope.organism.pretrain import TrainConfig, load_organism, pretrain

    cc = CorpusConfig(n_arith=4, n_fact=2, n_absent=2, repeats=10)
    tc = TrainConfig(steps=20, batch=16, hidden_size=32, layers=1, heads=2, kv_heads=1, intermediate_size=64,
                     threads=1, log_every=5)
    out = pretrain(cc, tc, tmp_path / "ck", progress=False)
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "step" in r] == [0, 5, 10, 15, 19] and log[-1]["done"] == 20
    model, tok, cfg = load_organism(out)
    assert cfg == cc and len(tok) == 47
    t = load_task(f"organism:{out}?size=1")
    assert len(t.problems()) == len(FAMILIES)
