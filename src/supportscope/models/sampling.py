"""Per-sample randomness and the draw rule, independent of the batch a sample runs in.

Each sample has its own seed, a stable hash of (base seed, problem_id, sample_idx), and its own
CPU `torch.Generator`; step t of the sample consumes the t-th uniform of that generator and draws
its token by inverse-CDF on the decoding distribution (token-id order, float64 cumulative sum).
So a sample's tokens depend only on its seed and its logits, never on which other samples share
the batch (up to floating-point differences in the logits themselves, which a different batch
composition or padding can change in the last bits; a token flips only when a uniform falls within
that rounding of a CDF boundary).
"""

from __future__ import annotations

import hashlib
import json

import torch


def sample_seed(seed: int, problem_id: str, sample_idx: int) -> int:
    """Stable 63-bit per-sample seed: sha256 of (seed, problem_id, sample_idx); same on every machine."""
    key = json.dumps([int(seed), str(problem_id), int(sample_idx)], ensure_ascii=True).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") >> 1


def uniforms(seeds: list[int], steps: int) -> torch.Tensor:
    """[len(seeds), steps] float64 uniforms in [0, 1): row i is the first `steps` draws of seed i's generator."""
    out = torch.empty(len(seeds), steps, dtype=torch.float64)
    for i, s in enumerate(seeds):
        g = torch.Generator(device="cpu")
        g.manual_seed(s)
        out[i] = torch.rand(steps, generator=g, dtype=torch.float64)
    return out


def inverse_cdf(logp: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Token ids [B] drawn from log-probs [B, V] (-inf = excluded) with uniforms u [B] in [0, 1).

    The first token whose cumulative probability (token-id order) exceeds u * total. A token with
    probability 0 can never be drawn.
    """
    p = logp.double().exp()
    cum = torch.cumsum(p, dim=-1)
    target = (u.to(cum.device, torch.float64) * cum[:, -1]).unsqueeze(-1)
    idx = torch.searchsorted(cum, target, right=True).squeeze(-1)
    # the last token with positive probability is the first index where cum reaches its total
    last = torch.searchsorted(cum, cum[:, -1:].contiguous(), right=False).squeeze(-1)
    return torch.minimum(idx, last)


def find_stop(text: str, stops: list[str]) -> int:
    """Index of the earliest stop string in text, or -1."""
    best = -1
    for s in stops:
        i = text.find(s)
        if i >= 0 and (best < 0 or i < best):
            best = i
    return best
