"""pi_D read off top-k raw log-probabilities (the vLLM scoring path) equals models.decoding on the
full logits whenever it is determined, and says "undetermined" (None) otherwise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from supportscope.models.config import DecodingConfig
from supportscope.models.decoding import decoding_logprobs, raw_logprobs
from supportscope.models.topk_decoding import decoding_logprob, determinable

V = 200
CONFIGS = [DecodingConfig(top_p=0.95), DecodingConfig(top_p=0.5), DecodingConfig(top_k=5),
           DecodingConfig(top_k=5, top_p=0.8), DecodingConfig(min_p=0.05), DecodingConfig(top_p=0.9, min_p=0.1),
           DecodingConfig(temperature=0.0), DecodingConfig()]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"T{c.temperature}-k{c.top_k}-p{c.top_p}-m{c.min_p}")
def test_matches_full_vocabulary_decoding(cfg):
    rng = np.random.default_rng(0)
    determined = undetermined = 0
    for row in range(300):
        scale = [0.5, 2.0, 6.0][row % 3]  # flat to peaked
        logits = torch.tensor(rng.normal(0, scale, V), dtype=torch.float32)
        full_dec = decoding_logprobs(logits, cfg).double().numpy()
        raw = raw_logprobs(logits).double().numpy()
        k = [8, 20, 64][row % 3]
        order = np.lexsort((np.arange(V), -raw))[:k]
        for token in (int(order[0]), int(order[min(3, k - 1)]), int(np.argmin(raw))):
            top = {int(t): float(raw[t]) for t in order}
            top[token] = float(raw[token])
            got = decoding_logprob(top, token, cfg, V)
            if got is None:
                undetermined += 1
                continue
            determined += 1
            want = full_dec[token]
            if math.isinf(want):
                assert got == -math.inf
            else:
                assert abs(got - want) < 1e-5, (cfg, row, token, got, want)
    assert determined > 100
    if cfg.is_raw or cfg.temperature == 0 or cfg.top_k:
        assert undetermined == 0


def test_other_temperatures_are_not_determinable():
    cfg = DecodingConfig(temperature=0.7, top_p=0.95)
    assert not determinable(cfg)
    assert decoding_logprob({1: -0.1, 2: -3.0}, 1, cfg, V) is None
    assert determinable(DecodingConfig(temperature=0.7)) is False
    assert decoding_logprob({1: -0.1, 2: -3.0}, 2, DecodingConfig(temperature=1.0, top_p=1.0), V) == -3.0
