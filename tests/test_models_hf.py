"""HFBackend on a tiny random Llama saved to disk (safetensors) and loaded back through the backend.

Real model, real tokenizer, no mocks: sampling, teacher-forced scoring, decoding truncation,
reproducibility per sample, chunking, stop conditions and exact KL.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_models_decoding import reference_probs

from supportscope.models import (Backend, DecodingConfig, HFBackend, Policy, PromptTooLongError, SampleRequest,
                                 TokenizerMismatchError, check_same_tokenizer)
from supportscope.models.decoding import decoding_logprobs
from supportscope.models.tiny import char_tokenizer, save_tiny_llama, tiny_llama

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PROMPTS = {"p0": "the cat", "p1": "a longer prompt, with punctuation!", "p2": "x"}
REQS = [SampleRequest(pid, text, i) for pid, text in PROMPTS.items() for i in range(4)]
DECODINGS = [
    DecodingConfig(max_new_tokens=20),
    DecodingConfig(max_new_tokens=20, temperature=0.7, top_k=20, top_p=0.8, seed=5),
    DecodingConfig(max_new_tokens=20, min_p=0.1, top_p=0.95, seed=2),
    DecodingConfig(max_new_tokens=12, temperature=0.0),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> HFBackend:
    path = save_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama", seed=0)
    return HFBackend(Policy(model=str(path)), sample_batch_size=16)


@pytest.fixture(scope="module")
def other(tiny) -> HFBackend:
    """Different random weights, same tokenizer: a stand-in for a tuned model."""
    return HFBackend.from_model(tiny_llama(tiny.tokenizer, seed=1), tiny.tokenizer, Policy(model="other"))


@pytest.fixture(scope="module")
def samples(tiny):
    return tiny.sample(REQS, DECODINGS[1])


def items(samples):
    return [(s.problem_id, s.sample_idx, s.prompt_ids, s.token_ids) for s in samples]


def naive_logprobs(model, prompt_ids, token_ids):
    """Full forward on one unpadded sequence, full log-softmax: the obvious reference."""
    ids = torch.tensor([list(prompt_ids) + list(token_ids)])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float()
    return logits[len(prompt_ids) - 1:ids.shape[1] - 1]


def test_loads_through_backend(tiny):
    assert isinstance(tiny, Backend)
    assert tiny.name == "tiny-llama" and tiny.stop_token_ids == [2] and tiny.max_context == 96
    assert tiny.encode_prompt("the cat") == tiny.tokenizer("the cat")["input_ids"]
    assert tiny.tokenizer_fingerprint().startswith(f"vocab={len(tiny.tokenizer)};")


@pytest.mark.parametrize("decoding", DECODINGS, ids=["raw", "topk-topp-T", "minp-topp", "greedy"])
def test_sampled_logprobs_equal_teacher_forced(tiny, decoding):
    samples = tiny.sample(REQS, decoding)
    assert [(s.problem_id, s.sample_idx) for s in samples] == [(r.problem_id, r.sample_idx) for r in REQS]
    scores = tiny.score(items(samples), decoding)
    for s, sc in zip(samples, scores):
        assert s.n_tokens >= 1 and len(s.token_logp_decoding) == len(s.token_logp_raw) == s.n_tokens
        assert s.completion == tiny.tokenizer.decode(s.token_ids, skip_special_tokens=True)
        assert (s.finish_reason == "length") == (s.n_tokens == decoding.max_new_tokens and s.token_ids[-1] != 2)
        if s.finish_reason == "stop":
            assert s.token_ids[-1] in tiny.stop_token_ids
        np.testing.assert_allclose(s.token_logp_decoding, sc.token_logp_decoding, atol=1e-4, rtol=0)
        np.testing.assert_allclose(s.token_logp_raw, sc.token_logp_raw, atol=1e-4, rtol=0)
        assert sc.n_singular_tokens == 0 and np.isfinite(s.token_logp_decoding).all()
        assert s.prompt_ids == tiny.encode_prompt(PROMPTS[s.problem_id])
        if decoding.greedy:
            assert s.token_logp_decoding == [0.0] * s.n_tokens
        if decoding.is_raw:
            assert s.token_logp_decoding == s.token_logp_raw
        else:
            assert s.logp_decoding != s.logp_raw


def test_scores_equal_naive_full_log_softmax(tiny, samples):
    d = DECODINGS[1]
    for s, sc in zip(samples, tiny.score(items(samples), d)):
        logits = naive_logprobs(tiny.model, s.prompt_ids, s.token_ids)
        tgt = torch.tensor(s.token_ids)[:, None]
        raw = torch.log_softmax(logits, -1).gather(-1, tgt)[:, 0]
        np.testing.assert_allclose(sc.token_logp_raw, raw.numpy(), atol=1e-5, rtol=0)
        ref_dec = [np.log(reference_probs(row, d.temperature, d.top_k, d.top_p, d.min_p)[t])
                   for row, t in zip(logits.numpy(), s.token_ids)]
        np.testing.assert_allclose(sc.token_logp_decoding, ref_dec, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kw", [dict(top_p=0.9), dict(top_k=7), dict(min_p=0.2), dict(top_p=0.6, temperature=0.5)])
def test_model_decoding_distribution_against_numpy(tiny, kw):
    ids = torch.tensor([tiny.encode_prompt(PROMPTS["p1"])])
    with torch.no_grad():
        logits = tiny._logits(tiny._hidden(ids, torch.ones_like(ids)))[0]
    lp = decoding_logprobs(logits, DecodingConfig(**kw))
    p = lp.exp().double().numpy()
    for row, lrow, z in zip(p, lp.numpy(), logits.numpy()):
        ref = reference_probs(z, **kw)
        assert np.array_equal(row > 0, ref > 0) and np.isneginf(lrow[ref == 0]).all()
        assert abs(row.sum() - 1) < 1e-5
        np.testing.assert_allclose(row, ref, atol=1e-6)
    assert (p > 0).sum(-1).min() < p.shape[-1]  # truncation really removed tokens


def test_same_seed_identical_subset_alone_identical(tiny, samples):
    again = tiny.sample(REQS, DECODINGS[1])
    assert [s.to_dict() for s in again] == [s.to_dict() for s in samples]
    pick = [7, 0, 10]
    alone = tiny.sample([REQS[i] for i in pick], DECODINGS[1])
    for i, s in zip(pick, alone):
        ref = samples[i]
        assert (s.token_ids, s.completion, s.seed, s.finish_reason) == \
            (ref.token_ids, ref.completion, ref.seed, ref.finish_reason)
        np.testing.assert_allclose(s.token_logp_raw, ref.token_logp_raw, atol=1e-5, rtol=0)
    one = HFBackend.from_model(tiny.model, tiny.tokenizer, tiny.policy, sample_batch_size=1).sample(REQS[:5],
                                                                                                    DECODINGS[1])
    assert [s.token_ids for s in one] == [s.token_ids for s in samples[:5]]


def test_different_sample_idx_and_seed_differ(tiny, samples):
    for pid in PROMPTS:
        toks = [tuple(s.token_ids) for s in samples if s.problem_id == pid]
        assert len(set(toks)) == len(toks)
        assert len({s.seed for s in samples if s.problem_id == pid}) == 4
    other_seed = DecodingConfig(**{**DECODINGS[1].to_dict(), "seed": 6})
    assert [s.token_ids for s in tiny.sample(REQS, other_seed)] != [s.token_ids for s in samples]


def test_self_score_kl_zero_no_singular(tiny, samples):
    scores = tiny.score(items(samples), DECODINGS[1], reference=tiny)
    for sc in scores:
        assert sc.n_singular_tokens == 0
        assert sc.token_kl is not None and max(abs(k) for k in sc.token_kl) <= 1e-6
        assert len(sc.token_kl) == sc.n_tokens


def test_cross_kl_exact_and_direction(tiny, other, samples):
    """other.score(tiny's samples, reference=tiny): token_kl = KL(pi_tiny || pi_other) per position."""
    scores = other.score(items(samples), DECODINGS[1], reference=tiny)
    for s, sc in list(zip(samples, scores))[:4]:
        lr = torch.log_softmax(naive_logprobs(tiny.model, s.prompt_ids, s.token_ids).double(), -1)
        ls = torch.log_softmax(naive_logprobs(other.model, s.prompt_ids, s.token_ids).double(), -1)
        fwd = (lr.exp() * (lr - ls)).sum(-1).numpy()
        rev = (ls.exp() * (ls - lr)).sum(-1).numpy()
        np.testing.assert_allclose(sc.token_kl, fwd, rtol=1e-4, atol=1e-5)
        assert np.abs(fwd - rev).max() > 1e-2  # the direction is tested, not a symmetric quantity
        assert min(sc.token_kl) > 0 and sc.kl == pytest.approx(fwd.sum(), rel=1e-4)
        np.testing.assert_allclose(sc.token_logp_raw, ls.gather(-1, torch.tensor(s.token_ids)[:, None])[:, 0],
                                   atol=1e-5)
    assert any(sc.n_singular_tokens > 0 for sc in scores)  # other's nucleus misses some of tiny's tokens


@pytest.mark.parametrize("chunk, batch", [(1, 8), (7, 3), (100_000, 1), (7, 100)])
def test_chunked_equals_unchunked(tiny, other, samples, chunk, batch):
    d = DECODINGS[2]
    base = other.score(items(samples), d, reference=tiny)
    b = HFBackend.from_model(other.model, other.tokenizer, other.policy, score_chunk_size=chunk,
                             score_batch_size=batch)
    for x, y in zip(base, b.score(items(samples), d, reference=tiny)):
        for f in ("token_logp_decoding", "token_logp_raw", "token_kl"):
            np.testing.assert_allclose(getattr(x, f), getattr(y, f), atol=1e-5, rtol=0)
        assert x.n_singular_tokens == y.n_singular_tokens


def test_stop_strings_cut_completion_and_keep_ids(tiny):
    d = DecodingConfig(max_new_tokens=30, seed=11)
    req = SampleRequest("p1", PROMPTS["p1"], 0)
    full = tiny.sample([req], d)[0]
    assert full.finish_reason == "length" and len(full.completion) >= 12
    stop = full.completion[6:8]
    at = full.completion.find(stop)
    cut = tiny.sample([req], DecodingConfig(max_new_tokens=30, seed=11, stop=["@@never@@", stop]))[0]
    assert cut.finish_reason == "stop_string"
    assert cut.completion == full.completion[:at]
    assert cut.token_ids == full.token_ids[:cut.n_tokens]
    dec = tiny.tokenizer.decode
    assert stop in dec(cut.token_ids) and stop not in dec(cut.token_ids[:-1])
    assert cut.token_logp_raw == full.token_logp_raw[:cut.n_tokens]


def test_stop_token_and_length(tiny):
    d = DecodingConfig(max_new_tokens=16, seed=3)
    req = SampleRequest("p0", PROMPTS["p0"], 1)
    full = tiny.sample([req], d)[0]
    assert full.finish_reason == "length" and full.n_tokens == 16
    stop_tok = full.token_ids[5]
    k = full.token_ids.index(stop_tok)
    b = HFBackend.from_model(tiny.model, tiny.tokenizer, tiny.policy, stop_token_ids=[stop_tok])
    s = b.sample([req], d)[0]
    assert s.finish_reason == "stop" and s.token_ids == full.token_ids[:k + 1]
    assert s.completion == tiny.tokenizer.decode(full.token_ids[:k + 1], skip_special_tokens=True)
    short = tiny.sample([req], DecodingConfig(max_new_tokens=3, seed=3))[0]
    assert short.finish_reason == "length" and short.token_ids == full.token_ids[:3]


def test_chat_template_path(tiny):
    chat = HFBackend.from_model(tiny.model, tiny.tokenizer, Policy(model=tiny.policy.model, chat=True))
    assert chat.stop_token_ids == [2, 3]  # EOS and the template's <|end|>
    ids = chat.encode_prompt("hi")
    assert tiny.tokenizer.decode(ids) == "<user>hi<|end|>\n<assistant>"
    s = chat.sample([SampleRequest("c", "hi", 0)], DecodingConfig(max_new_tokens=8))[0]
    assert s.prompt_ids == ids and s.n_tokens >= 1


def test_prompt_too_long_names_problem(tiny):
    with pytest.raises(PromptTooLongError, match="'long-one'.*context of 96"):
        tiny.sample([SampleRequest("long-one", "y" * 90, 0)], DecodingConfig(max_new_tokens=16))
    tiny.sample([SampleRequest("fits", "y" * 70, 0)], DecodingConfig(max_new_tokens=2))
    with pytest.raises(PromptTooLongError, match="'long-two'"):
        tiny.score([("long-two", 0, [5] * 90, [6] * 7)], DecodingConfig())
    with pytest.raises(ValueError, match="'empty'.*empty prompt_ids"):
        tiny.score([("empty", 0, [], [6])], DecodingConfig())
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tiny.score([("oov", 0, [5], [100_000])], DecodingConfig())


def test_tokenizer_mismatch_refused(tiny):
    tok = char_tokenizer(extra_letters="xyz ")
    odd = HFBackend.from_model(tiny_llama(tok, seed=2), tok, Policy(model="odd"))
    with pytest.raises(TokenizerMismatchError, match="tokenizers differ"):
        check_same_tokenizer(tiny, odd)
    with pytest.raises(TokenizerMismatchError):
        tiny.score([("p", 0, [5, 6], [7])], DecodingConfig(), reference=odd)
    check_same_tokenizer(tiny, tiny.tokenizer)  # a backend and a tokenizer compare too


def test_empty_inputs(tiny):
    assert tiny.sample([], DecodingConfig()) == []
    assert tiny.score([], DecodingConfig()) == []
    (sc,) = tiny.score([("p", 0, [5, 6], [])], DecodingConfig(), reference=tiny)
    assert sc.n_tokens == 0 and sc.token_kl == [] and sc.logp_raw == 0.0


def test_rows_finishing_early_leave_the_others_intact(tiny, samples):
    """Finished rows are dropped from the batch and the KV cache; the others continue unchanged."""
    common = max(range(len(tiny.tokenizer)), key=lambda t: sum(s.token_ids.count(t) for s in samples))
    b = HFBackend.from_model(tiny.model, tiny.tokenizer, tiny.policy, stop_token_ids=[common])
    for s, full in zip(b.sample(REQS, DECODINGS[1]), samples):
        if common in full.token_ids:
            k = full.token_ids.index(common)
            assert s.finish_reason == "stop" and s.token_ids == full.token_ids[:k + 1]
        else:
            assert s.finish_reason == "length" and s.token_ids == full.token_ids
        np.testing.assert_allclose(s.token_logp_raw, full.token_logp_raw[:s.n_tokens], atol=1e-5, rtol=0)
    stops = [full.completion[3:5] for full in samples[:3]]
    for s, full in zip(tiny.sample(REQS, DecodingConfig(**{**DECODINGS[1].to_dict(), "stop": stops})), samples):
        at = min((full.completion.find(x) for x in stops if x in full.completion), default=-1)
        assert s.completion == (full.completion[:at] if at >= 0 else full.completion)
        assert s.token_ids == full.token_ids[:s.n_tokens]
        assert (s.finish_reason == "stop_string") == (at >= 0)
