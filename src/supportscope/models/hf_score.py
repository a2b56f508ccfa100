"""Teacher forcing with the prompt run once: the hidden states that predict each completion token.

Items that share a prompt (the n samples of a problem) are scored as: one forward of each distinct
prompt (left-padded, with a KV cache), its cache rows copied to its items, then the completions
(right-padded) in one forward on top of that cache, positions continuing after the prompt. The
hidden state that predicts completion token j is the prompt's last one for j = 0 and the
completion's (j - 1)-th for j >= 1. The prompt's L tokens are run once instead of once per item;
the values are today's (``HFBackend._score_batch``, a full forward of prompt + completion per item)
up to float rounding of different kernels.
"""

from __future__ import annotations

from typing import Any

import torch

from supportscope.models.batching import unique_rows
from supportscope.models.hf_generate import prefill


@torch.inference_mode()
def shared_prompt_hidden(be: Any, batch: list[tuple]) -> torch.Tensor:
    """Hidden states [sum of completion lengths, H] of the positions that predict every completion token
    of ``batch`` (items (problem_id, sample_idx, prompt_ids, token_ids)), in item and token order."""
    prompts = [list(p) for _, _, p, _ in batch]
    comps = [list(t) for _, _, _, t in batch]
    firsts, which = unique_rows([tuple(p) for p in prompts])
    kv, mask, h_last, pos = prefill(be, [prompts[i] for i in firsts], share=False)
    k, dev = len(firsts), be.device
    lc = max(len(t) for t in comps) - 1  # the last token predicts nothing that is scored
    parts = [h_last]
    if lc > 0:
        b = len(batch)
        ids = torch.full((b, lc), be._pad_id, dtype=torch.long)
        cmask = torch.zeros((b, lc), dtype=torch.long)
        for r, t in enumerate(comps):
            if len(t) > 1:
                ids[r, :len(t) - 1] = torch.tensor(t[:-1], dtype=torch.long)
                cmask[r, :len(t) - 1] = 1
        if k < b:  # copy each prompt's cache rows to its items (no copy when every prompt is distinct)
            sel = torch.tensor(which, dtype=torch.long, device=dev)
            kv.batch_select_indices(sel)
            mask, pos = mask[sel], pos[sel]
        full = torch.cat([mask, cmask.to(dev)], dim=-1)
        positions = pos.unsqueeze(-1) + torch.arange(lc, device=dev)
        out = be._body(input_ids=ids.to(dev), attention_mask=full, position_ids=positions, use_cache=True,
                       **{be._cache_kw: kv})
        parts.append(out.last_hidden_state.reshape(b * lc, -1))
        del out
    del kv
    index: list[int] = []
    for r, t in enumerate(comps):
        if t:
            index.append(which[r])
            index.extend(k + r * lc + j for j in range(len(t) - 1))
    return torch.cat(parts).index_select(0, torch.tensor(index, dtype=torch.long, device=dev))
