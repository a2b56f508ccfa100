"""Issue 17: the fast decode paths and the token-budget batcher against today's loop (decode='reference').

Real models (a tiny random Llama on disk, the packaged organism), no mocks. Every path must give the
same tokens for the same seeds and the same log-probs within 1e-4 (float32) as the reference path,
per sample whatever the batch it runs in; the batcher is checked against brute force.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from supportscope.errors import ModelConfigError
from supportscope.models import DecodingConfig, HFBackend, Policy, SampleRequest
from supportscope.models.batching import (
    group_order,
    padded_tokens,
    token_batches,
    unique_rows,
)
from supportscope.models.config import DECODE_PATHS, EngineConfig
from supportscope.models.tiny import save_tiny_llama, tiny_llama

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PROMPTS = {"p0": "the cat", "p1": "a longer prompt, with punctuation!", "p2": "x", "p3": "the cat sat"}
REQS = [SampleRequest(pid, text, i) for i in range(5) for pid, text in PROMPTS.items()]  # interleaved problems
DECODINGS = [
    DecodingConfig(max_new_tokens=20),
    DecodingConfig(max_new_tokens=20, temperature=0.7, top_k=20, top_p=0.8, seed=5),
    DecodingConfig(max_new_tokens=20, min_p=0.1, top_p=0.95, seed=2),
    DecodingConfig(max_new_tokens=12, temperature=0.0),
]
FAST = [p for p in DECODE_PATHS if p not in ("reference", "compiled")]  # compiled: ~45 s per shape on CPU


def backend(be: HFBackend, decode: str, **kw) -> HFBackend:
    return HFBackend.from_model(be.model, be.tokenizer, be.policy, engine=EngineConfig(decode=decode, **kw),
                                **{k: getattr(be, k) for k in ("sample_batch_size", "score_batch_size")})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> HFBackend:
    path = save_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama", seed=0)
    return HFBackend(Policy(model=str(path)), sample_batch_size=16, engine=EngineConfig(decode="reference"))


@pytest.fixture(scope="module")
def organism() -> HFBackend:
    from supportscope.organism.exact import organism_backend
    from supportscope.organism.task import OrganismTask

    be = organism_backend(sample_batch_size=128)
    be.problems = OrganismTask(size=3, seed=0).problems()
    return be


def nucleus_on_edge(be: HFBackend, prompt_ids, token_ids, j: int, d: DecodingConfig, eps: float = 1e-4) -> bool:
    """True when, at position j (full forward, float64), the top-p cut falls within eps of a rank's
    cumulative mass: float rounding of the logits (~1e-6 between kernels and batch shapes) can then
    move one token in or out of the nucleus, and the decoding log-probs of that step differ by the
    mass of that token (DESIGN: a token flips only within that rounding)."""
    ids = torch.tensor([list(prompt_ids) + list(token_ids[:j])])
    with torch.no_grad():
        z = be.model(input_ids=ids).logits[0, -1].double() / (d.temperature or 1.0)
    if d.top_k:
        z = torch.topk(z, d.top_k).values
    cum = torch.cumsum(torch.softmax(z, -1).sort(descending=True).values, 0)
    return d.top_p < 1 and bool(((cum - d.top_p).abs() < eps).any())


def assert_same_rows(ref, new, tol=1e-4, be=None, d=None):
    """Same tokens, completions, finish reasons; raw log-probs within tol; decoding log-probs within tol
    except at a step whose nucleus cut is on a float-rounding edge (checked, when ``be`` is given)."""
    assert len(ref) == len(new)
    edges = 0
    for a, b in zip(ref, new):
        assert (a.token_ids, a.completion, a.finish_reason, a.seed) == (b.token_ids, b.completion, b.finish_reason,
                                                                          b.seed)
        np.testing.assert_allclose(a.token_logp_raw, b.token_logp_raw, atol=tol, rtol=0)
        diff = np.abs(np.subtract(a.token_logp_decoding, b.token_logp_decoding))
        for j in np.flatnonzero(~(diff <= tol)):
            assert be is not None and nucleus_on_edge(be, a.prompt_ids, a.token_ids, int(j), d), (a, b, j)
            edges += 1
    assert edges <= max(1, sum(s.n_tokens for s in ref) // 100)


def items(samples):
    return [(s.problem_id, s.sample_idx, s.prompt_ids, s.token_ids) for s in samples]


@pytest.mark.parametrize("decoding", DECODINGS, ids=["raw", "topk-topp-T", "minp-topp", "greedy"])
@pytest.mark.parametrize("path", FAST)
def test_sampling_paths_equal_reference(tiny, path, decoding):
    ref = tiny.sample(REQS, decoding)
    new = backend(tiny, path).sample(REQS, decoding)
    assert_same_rows(ref, new, be=tiny, d=decoding)
    assert {s.finish_reason for s in ref} >= {"length"}


@pytest.mark.parametrize("path", FAST)
def test_stop_tokens_and_strings_equal_reference(tiny, path):
    """Rows ending at different steps (stop token, stop string) mid-batch: the same cut as the reference."""
    d = DECODINGS[1]
    full = tiny.sample(REQS, d)
    common = max(range(len(tiny.tokenizer)), key=lambda t: sum(s.token_ids.count(t) for s in full))
    stops = [full[0].completion[3:5], full[1].completion[2:4]]
    for kw, dec in (({"stop_token_ids": [common]}, d), ({}, DecodingConfig(**{**d.to_dict(), "stop": stops}))):
        ref = HFBackend.from_model(tiny.model, tiny.tokenizer, tiny.policy, engine=tiny.engine, **kw).sample(REQS, dec)
        new = HFBackend.from_model(tiny.model, tiny.tokenizer, tiny.policy, engine=EngineConfig(decode=path),
                                   **kw).sample(REQS, dec)
        assert_same_rows(ref, new, be=tiny, d=dec)
        assert len({s.finish_reason for s in ref}) >= 2 and any(s.n_tokens < dec.max_new_tokens for s in ref)


@pytest.mark.parametrize("path", FAST)
def test_same_seed_same_tokens_whatever_the_batch(tiny, path):
    be = backend(tiny, path)
    d = DECODINGS[2]
    allr = be.sample(REQS, d)
    pick = [7, 0, 13, 2]
    alone = be.sample([REQS[i] for i in pick], d)
    one = HFBackend.from_model(tiny.model, tiny.tokenizer, tiny.policy, sample_batch_size=1,
                               engine=EngineConfig(decode=path)).sample([REQS[i] for i in pick], d)
    for rows in (alone, one):
        assert_same_rows([allr[i] for i in pick], rows, be=tiny, d=d)
    ids = [s.prompt_ids for s in allr[:6]]
    gen = be.generate_ids(ids, [s.seed for s in allr[:6]], d)
    assert [g[0] for g in gen] == [s.token_ids for s in allr[:6]]


@pytest.mark.parametrize("reference", [False, True], ids=["plain", "kl"])
def test_shared_prompt_scoring_equals_full_forward(tiny, reference):
    """Scores (and exact KL) with each prompt run once equal the full forward of every item within 1e-4;
    items mix shared and distinct prompts, empty and one-token completions, in shuffled order."""
    other = HFBackend.from_model(tiny_llama(tiny.tokenizer, seed=1), tiny.tokenizer, Policy(model="other"),
                                 engine=tiny.engine)
    samples = tiny.sample(REQS, DECODINGS[1])
    dups = [("dup", j, samples[3].prompt_ids, samples[3].token_ids) for j in range(3)]  # scored once, copied
    its = items(samples) + [("e", 0, samples[0].prompt_ids, []), ("o", 0, samples[1].prompt_ids, [5])] + dups
    its = [its[i] for i in np.random.default_rng(0).permutation(len(its))]
    d = DECODINGS[2]
    ref = other.score(its, d, reference=tiny if reference else None)
    new = backend(other, "shared").score(its, d, reference=tiny if reference else None)
    for a, b in zip(ref, new):
        assert (a.problem_id, a.sample_idx, a.n_singular_tokens) == (b.problem_id, b.sample_idx, b.n_singular_tokens)
        for f in ("token_logp_decoding", "token_logp_raw") + (("token_kl",) if reference else ()):
            np.testing.assert_allclose(getattr(a, f), getattr(b, f), atol=1e-4, rtol=0)
    assert any(a.n_singular_tokens for a in ref)
    same = [(s.token_logp_decoding, s.token_logp_raw, s.token_kl) for s in new if s.problem_id == "dup"]
    assert len(same) == 3 and same[0] == same[1] == same[2]
    assert sorted(s.sample_idx for s in new if s.problem_id == "dup") == [0, 1, 2]


def test_token_budget_batches_and_same_results(tiny):
    """--max-batch-tokens: every forward batch within the budget (a longer row alone), the rows unchanged."""
    d = DECODINGS[1]
    plain = backend(tiny, "shared").sample(REQS, d)
    budget = 3 * (max(len(s.prompt_ids) for s in plain) + d.max_new_tokens)
    be = backend(tiny, "shared", max_batch_tokens=budget)
    seen = []
    run = be._generate
    be._generate = lambda p, s, dec: seen.append([len(x) for x in p]) or run(p, s, dec)
    assert_same_rows(plain, be.sample(REQS, d), be=tiny, d=d)
    assert sum(map(len, seen)) == len(REQS) and len(seen) > -(-len(REQS) // be.sample_batch_size)
    assert all(len(b) * (max(b) + d.max_new_tokens) <= budget for b in seen)
    scores = backend(tiny, "shared").score(items(plain), d)
    tight = backend(tiny, "shared", max_batch_tokens=1).score(items(plain), d)  # every item alone
    for a, b in zip(scores, tight):
        np.testing.assert_allclose(a.token_logp_raw, b.token_logp_raw, atol=1e-5, rtol=0)


@pytest.mark.parametrize("path", FAST)
def test_organism_paths_equal_reference(organism, path):
    """The packaged organism (its vocabulary and ids are read from it, not assumed): n samples per problem,
    stop on its end token; same tokens and log-probs as the reference loop, and scores of them too."""
    reqs = [SampleRequest(p.id, p.prompt, i) for p in organism.problems for i in range(24)]
    d = DecodingConfig(top_p=0.95, max_new_tokens=8, seed=3)
    ref = backend(organism, "reference").sample(reqs, d)
    assert_same_rows(ref, backend(organism, path).sample(reqs, d))
    assert {s.finish_reason for s in ref} >= {"stop"}
    a = backend(organism, "reference").score(items(ref), d)
    for x, y in zip(a, backend(organism, path).score(items(ref), d)):
        np.testing.assert_allclose(x.token_logp_decoding, y.token_logp_decoding, atol=1e-4, rtol=0)
        np.testing.assert_allclose(x.token_logp_raw, y.token_logp_raw, atol=1e-4, rtol=0)
    for s, sc in zip(ref, a):  # and the sampled log-probs are the teacher-forced ones
        np.testing.assert_allclose(s.token_logp_raw, sc.token_logp_raw, atol=1e-4, rtol=0)


# ------------------------------------------------------------------ the batcher, against brute force

def _best_split(sizes, max_rows, max_tokens):
    """Fewest consecutive batches within the limits, by trying every set of cut points."""
    n = len(sizes)
    for k in range(1, n + 1):
        for cuts in itertools.combinations(range(1, n), k - 1):
            bounds = (0, *cuts, n)
            parts = [sizes[a:b] for a, b in itertools.pairwise(bounds)]
            if all(len(p) <= max_rows and (not max_tokens or len(p) == 1 or padded_tokens(p) <= max_tokens)
                   for p in parts):
                return k
    return 0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.integers(0, 20)), min_size=0, max_size=9),
       st.integers(1, 5), st.integers(0, 120))
def test_token_batches_against_brute_force(sizes, max_rows, max_tokens):
    out = token_batches(sizes, max_rows, max_tokens)
    assert [i for b in out for i in b] == list(range(len(sizes)))  # consecutive, every row once
    for b in out:
        rows = [sizes[i] for i in b]
        assert len(b) <= max_rows
        assert not max_tokens or len(b) == 1 or padded_tokens(rows) <= max_tokens
    assert len(out) == _best_split(sizes, max_rows, max_tokens)


def test_group_order_and_unique_rows():
    keys = ["b", "a", "b", "c", "a", "b"]
    lens = [2, 1, 2, 2, 1, 2]
    order = group_order(keys, lens, within=[5, 0, 1, 0, 0, 3])
    assert order == [1, 4, 2, 5, 0, 3]  # length, then first appearance of the key, then within, then index
    firsts, which = unique_rows(keys)
    assert firsts == [0, 1, 3] and [keys[firsts[w]] for w in which] == keys
    with pytest.raises(ValueError):
        token_batches([(1, 1)], 0)


def test_engine_config_checked():
    with pytest.raises(ModelConfigError, match="decode 'fast' is not one of"):
        EngineConfig(decode="fast")
    with pytest.raises(ModelConfigError, match="max_batch_tokens"):
        EngineConfig(max_batch_tokens=-1)
    assert EngineConfig().decode == "tree"


def test_engine_reaches_the_backend_through_the_registry(tiny):
    """`--max-batch-tokens` / `--decode` (EngineConfig) as the pipeline builds a backend: build_backend."""
    from supportscope.models.registry import build_backend

    be = build_backend(tiny.policy, 64, EngineConfig(max_batch_tokens=4096, decode="static"))
    assert (be.max_batch_tokens, be.decode, be.sample_batch_size, be.score_batch_size) == (4096, "static", 64, 64)
    plain = build_backend(tiny.policy, 64)  # no budget: scoring forwards stay capped at 16 rows
    assert (plain.max_batch_tokens, plain.decode, plain.score_batch_size) == (0, "tree", 16)


def test_static_host_check_schedule():
    from supportscope.models.hf_generate import CHECK_EVERY, check_due

    due = [t for t in range(1, 5 * CHECK_EVERY + 1) if check_due(t)]
    early = [2**i for i in range(CHECK_EVERY.bit_length()) if 2**i < CHECK_EVERY]
    assert due == early + [CHECK_EVERY * k for k in range(1, 6)]


@pytest.mark.parametrize("path", FAST)
def test_one_prompt_per_batch_equals_reference(tiny, path):
    """A batch of one prompt's samples has no left padding: the shared loop then steps without a mask."""
    d = DECODINGS[2]
    reqs = [SampleRequest("p1", PROMPTS["p1"], i) for i in range(6)]
    assert_same_rows(tiny.sample(reqs, d), backend(tiny, path).sample(reqs, d), be=tiny, d=d)
