"""Chunked teacher-forced log-probabilities from hidden states (DESIGN.md section 5, scoring rule).

The transformer body gives hidden states; only here are they turned into next-token
distributions, `chunk_size` positions at a time, so a full [batch, length, vocab] float tensor is
never built: peak extra memory is O(chunk_size * vocab) whatever the batch and length.
"""

from __future__ import annotations

from typing import Callable

import torch

from supportscope.models.config import DecodingConfig
from supportscope.models.decoding import decoding_and_raw, raw_logprobs

LogitsFn = Callable[[torch.Tensor], torch.Tensor]


def kl_from_logprobs(logp_ref: torch.Tensor, logp_self: torch.Tensor) -> torch.Tensor:
    """KL(ref || self) = sum_v p_ref (log p_ref - log p_self) over the last axis, float64.

    Tokens with p_ref = 0 contribute 0; a token with p_ref > 0 and p_self = 0 makes it +inf.
    """
    p = logp_ref.exp()
    terms = torch.where(p > 0, p * (logp_ref - logp_self), torch.zeros_like(p))
    return terms.sum(dim=-1, dtype=torch.float64)


@torch.inference_mode()
def chunked_token_logprobs(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    logits_fn: LogitsFn,
    decoding: DecodingConfig,
    chunk_size: int = 512,
    ref_hidden: torch.Tensor | None = None,
    ref_logits_fn: LogitsFn | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Log-probs of `targets` [N] given the hidden states [N, H] of the positions that predict them.

    Returns float32 (logp_decoding [N], logp_raw [N]) and, when `ref_hidden` [N, H_ref] and
    `ref_logits_fn` are given, kl [N] (float64) = KL(pi_ref || pi_self) of the raw next-token
    distributions at each position. All on `hidden`'s device.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    n = hidden.shape[0]
    device = hidden.device
    out_dec = torch.empty(n, dtype=torch.float32, device=device)
    out_raw = torch.empty(n, dtype=torch.float32, device=device)
    out_kl = torch.empty(n, dtype=torch.float64, device=device) if ref_hidden is not None else None
    for s in range(0, n, chunk_size):
        e = min(n, s + chunk_size)
        tgt = targets[s:e, None]
        logits = logits_fn(hidden[s:e])
        if tgt.numel() and int(tgt.max()) >= logits.shape[-1]:
            raise ValueError(f"token id {int(tgt.max())} is outside the model's vocabulary of {logits.shape[-1]}")
        dec, raw = decoding_and_raw(logits, decoding)
        del logits
        out_dec[s:e] = dec.gather(-1, tgt).squeeze(-1)
        out_raw[s:e] = raw.gather(-1, tgt).squeeze(-1)
        del dec
        if ref_hidden is not None:
            assert ref_logits_fn is not None and out_kl is not None
            ref_logits = ref_logits_fn(ref_hidden[s:e])
            if ref_logits.shape[-1] != raw.shape[-1]:
                raise ValueError(f"the reference model has {ref_logits.shape[-1]} logits per position and the "
                                 f"scorer {raw.shape[-1]}; exact KL needs equal vocabularies")
            ref_raw = raw_logprobs(ref_logits).to(device)
            del ref_logits
            out_kl[s:e] = kl_from_logprobs(ref_raw, raw)
            del ref_raw
        del raw
    return out_dec, out_raw, out_kl


def count_singular(logp_decoding: torch.Tensor) -> int:
    """Number of tokens outside the decoding support (log-prob exactly -inf)."""
    return int(torch.isneginf(logp_decoding).sum())


__all__ = ["chunked_token_logprobs", "count_singular", "kl_from_logprobs", "LogitsFn"]
