"""Logits -> log-probabilities under the decoding distribution pi_D and under the raw distribution.

`decoding_logprobs` is the ONE function that defines pi_D; sampling (`hf.HFBackend.sample`) draws
from it and scoring (`scoring.chunked_token_logprobs`) evaluates it, so a sampled token's recorded log-prob and its teacher-forced
score come from the same code. Order of operations (as in Hugging Face `generate` and vLLM):

1. divide the logits by the temperature T (T = 0: greedy, all mass on the argmax);
2. top-k: keep the k highest;
3. top-p (nucleus): on the distribution left after top-k, keep the smallest set of highest-probability
   tokens whose cumulative probability is >= top_p (the top token is always kept);
4. min-p: keep tokens with p >= min_p * p_max;
5. renormalise with a float32 log-softmax over the kept tokens; every other token gets exactly -inf.

Ties are broken deterministically: tokens are ranked by descending logit and, among equal logits,
by ascending token id. top-k keeps exactly k tokens in that order, top-p keeps a prefix of that
order, and greedy takes the lowest id among the maxima. The nucleus cumulative sum is accumulated
in float64 from float64 probabilities. No full sort of the vocabulary is needed: the kept set is found with torch.topk on a
candidate set that grows until it holds the nucleus, and is then described by a threshold value
(plus the lowest-id rule among tokens tied at it).
"""

from __future__ import annotations

import math

import torch

from supportscope.models.config import DecodingConfig


def raw_logprobs(logits: torch.Tensor) -> torch.Tensor:
    """Raw next-token log-probabilities: float32 log-softmax at T = 1, no truncation."""
    return torch.log_softmax(logits.float(), dim=-1)


_FIRST_K = 1024  # candidates tried first for the nucleus; grown x8 (up to the vocabulary) when too few
_BLOCK = 1 << 22  # rows x vocab elements handled at once while searching the cut (bounds extra memory)


def _cut(z: torch.Tensor, top_k: int, top_p: float, sync_free: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(n [R, 1], z_n [R, 1]) for rows z [R, V]: how many tokens top-k/top-p keep and the n-th largest value.

    torch.topk on a candidate set that grows until it holds the nucleus (a trained model's nucleus is
    usually far smaller than the vocabulary), over blocks of rows so the extra memory stays bounded.
    Probabilities of the candidates are exact: the normaliser is over the whole row (or over the
    top-k set when top-k is on). ``sync_free``: the candidate set is the whole vocabulary from the
    start (a full sort; never grown, so the host never reads a device value). Same n and z_n: the
    ranks beyond a candidate set that already holds the nucleus have cumulative mass >= top_p and are
    not counted, and the cumulative sums of the common prefix are the same additions.
    """
    r, v = z.shape
    n_out = torch.empty((r, 1), dtype=torch.long, device=z.device)
    zn_out = torch.empty((r, 1), dtype=z.dtype, device=z.device)
    kk = top_k if top_k else (v if sync_free else min(v, _FIRST_K))
    todo: torch.Tensor | None = None  # None = all rows, in order
    while True:
        rows = r if todo is None else int(todo.numel())
        block = max(1, _BLOCK // v)
        left = []
        for s in range(0, rows, block):
            sel = slice(s, min(rows, s + block)) if todo is None else todo[s:s + block]
            zb = z[sel]  # a view for the first pass, a bounded copy of the unresolved rows after
            vals = torch.topk(zb, kk, dim=-1, sorted=True).values
            if top_p >= 1.0:
                n = torch.full_like(vals[:, :1], kk, dtype=torch.long)
                ok = None
            else:
                # float64: float32 rounding of ~1e-7 per token would move the cut of a wide nucleus
                vd = vals.double()
                ps = torch.softmax(vd, dim=-1) if top_k else \
                    torch.exp(vd - torch.logsumexp(zb.double(), -1, keepdim=True))
                del vd
                cum = torch.cumsum(ps, dim=-1)
                del ps
                # keep rank i iff the mass of the better-ranked tokens is < top_p; rank 0 always
                n = 1 + (cum[:, :-1] < top_p).sum(dim=-1, keepdim=True)
                ok = None if (top_k or kk == v) else cum[:, -1] >= top_p
                del cum
            zn = vals.gather(-1, n - 1)
            del vals
            if ok is None or bool(ok.all()):
                n_out[sel], zn_out[sel] = n, zn
                continue
            idx = torch.arange(s, min(rows, s + block), device=z.device) if todo is None else sel
            n_out[idx[ok]], zn_out[idx[ok]] = n[ok], zn[ok]
            left.append(idx[~ok])
        if not left:
            return n_out, zn_out
        todo, kk = torch.cat(left), min(v, kk * 8)


def _keep(z: torch.Tensor, decoding: DecodingConfig, sync_free: bool = False) -> torch.Tensor | None:
    """Kept-token mask for temperature-scaled logits z [..., V] (T > 0); None when nothing is cut.
    ``sync_free``: no device value is read on the host (see :func:`_cut`; the tie rule is applied
    unconditionally, a no-op when no tie exceeds the room)."""
    v = z.shape[-1]
    keep = None
    top_k = decoding.top_k if 0 < decoding.top_k < v else 0
    if top_k or decoding.top_p < 1.0:
        n, zn = _cut(z.reshape(-1, v), top_k, decoding.top_p, sync_free)
        n, zn = n.reshape(*z.shape[:-1], 1), zn.reshape(*z.shape[:-1], 1)
        keep = z > zn
        ties = z == zn
        # of the tokens tied at the n-th value, keep the lowest ids: as many as the rank order still needs
        room = n - keep.sum(dim=-1, keepdim=True)
        if sync_free or bool((ties.sum(dim=-1, keepdim=True) > room).any()):
            ties &= torch.cumsum(ties, dim=-1, dtype=torch.int32) <= room
        keep |= ties
        del ties
    if decoding.min_p > 0:
        # p_i >= min_p * p_max  <=>  z_i - z_max >= log(min_p)   (same normaliser)
        mp = (z - z.amax(dim=-1, keepdim=True)) >= math.log(decoding.min_p)
        keep = mp if keep is None else keep.logical_and_(mp)
    return keep


def keep_mask(logits: torch.Tensor, decoding: DecodingConfig) -> torch.Tensor | None:
    """Boolean [..., V] mask of the tokens pi_D keeps, or None when nothing is truncated (T > 0)."""
    z = logits.float()
    if decoding.temperature == 0:
        idx = z.argmax(dim=-1, keepdim=True)  # first maximum = lowest token id among ties
        return torch.zeros(z.shape, dtype=torch.bool, device=z.device).scatter_(-1, idx, True)
    if decoding.temperature != 1:
        z = z / decoding.temperature
    return _keep(z, decoding)


def decoding_logprobs(logits: torch.Tensor, decoding: DecodingConfig, sync_free: bool = False) -> torch.Tensor:
    """Log-probabilities [..., V] of the decoding distribution pi_D (float32; -inf outside its support).
    ``sync_free``: computed without reading any device value on the host (full sort for top-p)."""
    if decoding.is_raw:
        return raw_logprobs(logits)
    if decoding.temperature == 0:
        keep = keep_mask(logits, decoding)
        return torch.zeros(keep.shape, dtype=torch.float32, device=keep.device).masked_fill_(~keep, -math.inf)
    z = logits.float()
    z = z / decoding.temperature if decoding.temperature != 1 else z.clone()  # a tensor this function owns
    keep = _keep(z, decoding, sync_free)
    if keep is not None:
        z.masked_fill_(keep.logical_not_(), -math.inf)
        del keep
    return z.sub_(torch.logsumexp(z, dim=-1, keepdim=True))  # in-place log-softmax over the kept tokens


def decoding_and_raw(logits: torch.Tensor, decoding: DecodingConfig,
                     sync_free: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(decoding log-probs, raw log-probs); one tensor shared when pi_D is the raw distribution."""
    raw = raw_logprobs(logits)
    if decoding.is_raw:
        return raw, raw
    return decoding_logprobs(logits, decoding, sync_free), raw
