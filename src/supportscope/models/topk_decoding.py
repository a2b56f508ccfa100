"""Decoding log-probabilities of one token from the top-k raw log-probabilities at its position.

An engine that returns only the top-k raw log-probabilities per position (vLLM's
``prompt_logprobs``) still determines pi_D exactly in many cases, because at T = 1 the raw
log-probabilities l are normalised over the whole vocabulary (sum exp(l) = 1) and truncation keeps a
prefix of the ranked tokens. With the tokens ranked by descending l (ties: ascending id), exactly as
``models.decoding`` does:

- top-k (0 < top_k < V): the first top_k tokens; needs top_k <= k.
- top-p: on the distribution left after top-k (renormalised over it), keep rank i iff the mass of
  the better-ranked tokens is < top_p (rank 0 always); needs the returned tokens to reach top_p
  cumulatively, or top-k to lie inside them.
- min-p: keep l_i >= l_max + ln(min_p); when nothing else cuts, needs the last returned l below
  that threshold (every unreturned token is then cut too).
- T = 0 (greedy): the argmax only (rank 1 among the returned).

Then log pi_D(token) = l_token - logsumexp(l over the kept set) if the token is kept, else -inf.
When the kept set is not inside the returned top-k, pi_D is not determined and the functions return
None (the caller refuses rather than guesses). At T not in {0, 1} with truncation or scaling the
normaliser needs the whole vocabulary, so pi_D is never determined from a top-k list. Tokens tied
with the last kept one *outside* the returned list are not seen (measure-zero in practice).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from supportscope.models.config import DecodingConfig


def determinable(decoding: DecodingConfig) -> bool:
    """Whether pi_D can ever be read off top-k raw log-probabilities (T = 0 or T = 1, or raw)."""
    return decoding.is_raw or decoding.temperature in (0.0, 1.0)


def decoding_logprob(top: Mapping[int, float], token: int, decoding: DecodingConfig,
                     vocab_size: int) -> float | None:
    """log pi_D(token) from ``top`` (token id -> raw log-prob at T = 1, the top-k at this position,
    ``token`` included); -inf outside the kept set; None when the kept set is not determined."""
    if decoding.is_raw:
        return float(top[token])
    if not determinable(decoding):
        return None
    items = sorted(top.items(), key=lambda kv: (-kv[1], kv[0]))
    ids = [t for t, _ in items]
    lp = np.array([v for _, v in items], dtype=np.float64)
    k = len(ids)
    if decoding.temperature == 0:
        return 0.0 if ids[0] == token else -math.inf
    n = k  # kept prefix length within the returned list
    whole = False  # True when the kept set may extend beyond the returned list
    top_k = decoding.top_k if 0 < decoding.top_k < vocab_size else 0
    if top_k:
        if top_k > k:
            return None
        n = top_k
    if decoding.top_p < 1.0:
        ps = np.exp(lp[:n])
        if top_k:
            ps = ps / ps.sum()
        cum = np.cumsum(ps)
        cut = 1 + int((cum[:-1] < decoding.top_p).sum())
        if not top_k and cut == n and cum[-1] < decoding.top_p:
            return None  # the nucleus reaches past the returned tokens
        n = cut
    elif not top_k:
        whole = k < vocab_size
    keep = np.zeros(k, dtype=bool)
    keep[:n] = True
    if decoding.min_p > 0:
        thr = lp[0] + math.log(decoding.min_p)
        keep &= lp >= thr
        if whole and lp[-1] >= thr:
            return None  # unreturned tokens may pass min-p
        whole = False
    if whole:
        return None
    if token not in ids:
        return -math.inf
    i = ids.index(token)
    if not keep[i]:
        return -math.inf
    kept = lp[keep]
    m = kept.max()
    return float(lp[i] - (m + math.log(np.exp(kept - m).sum())))


__all__ = ["decoding_logprob", "determinable"]
