"""The ``tree`` decode path of the HF backend: each distinct prefix runs once per step.

Rows of a batch with the same prompt and, so far, the same tokens have the same next-token
distribution, so it is computed once. A *node* is a distinct prefix (prompt + tokens drawn so far);
the KV cache holds one row per live node, and every row of the batch points at its node. Step t:

1. pi_D and the raw log-probs of every node, from its last hidden state (``decoding_and_raw``);
2. every live row draws its token by inverse CDF on its node's pi_D with its own t-th uniform: the
   rule and the uniform of every other path (`sampling.py`), so the same token up to float rounding
   of the logits;
3. rows that drew a stop token or completed a stop string finish (as in the reference loop);
4. the live rows' distinct (node, token) pairs are the next nodes, ordered by (node, token), so a node
   with one child keeps its place. When every node has exactly one child the cache is left as it is;
   otherwise its rows are indexed out to the children (``batch_select_indices``: a node with c
   children is copied c times, a node whose rows all finished is dropped);
5. one body forward of the next nodes' last tokens.

A step costs a forward of the distinct prefixes, not of the rows: ``rows / nodes`` is the saving. A
sharpened policy (RL-tuned, low temperature, the organism: its 64 samples of a problem hold about 5
distinct completions) has few nodes; a diverse one has one node per row after its first tokens, and
then runs the ``shared`` loop plus, per step, one ``torch.unique`` of the live rows, one more host
sync (is the node map the identity?) and a copy of each row's node distribution for its draw (in
blocks of :data:`DRAW_BLOCK` elements, :func:`draw_rows`).
"""

from __future__ import annotations

from typing import Any

import torch

from supportscope.models.batching import unique_rows
from supportscope.models.config import DecodingConfig
from supportscope.models.decoding import decoding_and_raw
from supportscope.models.hf_generate import LiveRows, prefill_rows, step_body
from supportscope.models.sampling import inverse_cdf, uniforms


def next_nodes(node: torch.Tensor, tok: torch.Tensor, vocab: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(parent [N'], token [N'], node of each row [A]) for rows at nodes ``node`` [A] that drew ``tok`` [A]:
    the distinct (node, token) pairs sorted by node, then token."""
    keys, row_node = torch.unique(node * vocab + tok, sorted=True, return_inverse=True)
    return torch.div(keys, vocab, rounding_mode="floor"), keys % vocab, row_node


#: rows x vocab elements of one block of draws: bounds the float64 CDFs a step builds (as decoding._BLOCK)
DRAW_BLOCK = 1 << 22


def draw_rows(dec: torch.Tensor, node: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Token [A] of each row: inverse CDF on its node's row of ``dec`` [N, V] with its uniform ``u`` [A], in
    blocks of rows, so the copies of the nodes' rows and their float64 CDFs stay within DRAW_BLOCK
    elements (each row's draw is computed on its own: blocks do not change a token)."""
    step = max(1, DRAW_BLOCK // dec.shape[-1])
    if node.numel() <= step:
        return inverse_cdf(dec.index_select(0, node), u)
    return torch.cat([inverse_cdf(dec.index_select(0, node[s:s + step]), u[s:s + step])
                      for s in range(0, node.numel(), step)])


@torch.inference_mode()
def decode_tree(be: Any, prompts: list[list[int]], seeds: list[int], decoding: DecodingConfig) -> list[tuple]:
    """Sample one continuation per prompt, each distinct prefix run once per step (module docstring)."""
    b, steps, dev = len(prompts), decoding.max_new_tokens, be.device
    firsts, which = unique_rows([tuple(p) for p in prompts])
    kv, mask, hidden, next_pos = prefill_rows(be, [prompts[i] for i in firsts])
    unpadded = bool(mask.all())  # one prompt length among the distinct prompts (step_body)
    u = uniforms(seeds, steps).to(dev)
    stop_ids = torch.tensor(be.stop_token_ids, dtype=torch.long, device=dev)
    rows = LiveRows(b, steps, dev)
    node = torch.tensor(which, dtype=torch.long, device=dev)  # node of each live row
    for t in range(steps):
        dec, raw = decoding_and_raw(be._logits(hidden), decoding)
        vocab = dec.shape[-1]
        tok = draw_rows(dec, node, u[rows.active_t, t])
        rows.record(t, tok, dec[node, tok], raw[node, tok])
        del dec, raw
        done = rows.finished(be, decoding, t, tok, stop_ids)
        if t + 1 == steps or len(done) == len(rows.active):
            break
        sel = rows.drop(done)
        if sel is not None:
            node, tok = node[sel], tok[sel]
        parent, last, node = next_nodes(node, tok, vocab)
        if parent.numel() != next_pos.numel() or not torch.equal(parent, torch.arange(parent.numel(), device=dev)):
            kv.batch_select_indices(parent)
            mask, next_pos = mask[parent], next_pos[parent]
        hidden, mask, next_pos = step_body(be, kv, last, mask, next_pos, unpadded)
    return rows.out(be)
