"""The decode loops of :class:`~supportscope.models.hf.HFBackend`: prefill, then one token per step.

Five paths (``EngineConfig.decode``), all drawing token t of a row by inverse-CDF on pi_D with the
t-th uniform of the row's own generator (`sampling.py`), so they give the same tokens for the same
seeds up to float rounding of the logits:

- ``tree`` (the default, `hf_tree.py`): the shared prefill, then each distinct prefix (prompt +
  tokens so far) runs once per step, however many samples agree on it.
- ``reference``: today's loop. Every row is left-padded and prefilled on its own, a DynamicCache
  carries the prefix, finished rows are dropped from the batch and the cache (one host sync per step
  for the stop check, and the nucleus search may sync to grow its candidate set).
- ``shared``: the same loop, but each *distinct* prompt of the batch is prefilled once and its KV
  cache rows are copied to its samples (``batch_select_indices`` with repeated indices). n samples
  of a prompt of L tokens prefill L tokens instead of n * L.
- ``static``: the shared prefill, then a preallocated cache of batch x (prompt + max_new_tokens)
  (transformers' StaticCache, filled here) and a fixed-shape step with no host sync inside it: the
  nucleus cut over the whole sorted vocabulary (no growing candidate set), the stop check as a mask
  (finished rows keep running and are cut afterwards, not dropped). The host looks at the rows only
  between steps, after steps 1, 2, 4, 8, 16 and every 16 after (:func:`check_due`). ``compiled`` is the same step under
  ``torch.compile`` (each new batch shape compiles once).

Rows are returned as ``(ids, token_logp_decoding, token_logp_raw, finish_reason, text)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from supportscope.models.batching import unique_rows
from supportscope.models.config import DecodingConfig
from supportscope.models.decoding import decoding_and_raw
from supportscope.models.sampling import find_stop, inverse_cdf, uniforms

#: The static path's host checks (all rows finished? a stop string completed?) come after steps 1, 2, 4,
#: ..., CHECK_EVERY and then every CHECK_EVERY steps: short completions end early, long ones pay one
#: sync per CHECK_EVERY steps.
CHECK_EVERY = 16


def check_due(t_done: int) -> bool:
    """Whether the static path checks on the host after ``t_done`` tokens (a power of two <= CHECK_EVERY,
    or a multiple of CHECK_EVERY)."""
    return t_done % CHECK_EVERY == 0 or (t_done < CHECK_EVERY and t_done & (t_done - 1) == 0)


def left_pad(prompts: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention mask) [len(prompts), longest], prompts right-aligned."""
    lp = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), lp), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), lp), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, lp - len(p):] = torch.tensor(p, dtype=torch.long)
        mask[i, lp - len(p):] = 1
    return ids, mask


@torch.inference_mode()
def prefill_rows(be: Any, prompts: list[list[int]]) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run the prompts through the body, one row each: (DynamicCache, mask [b, lp], last hidden [b, H],
    next position [b]). position_ids = cumsum(mask) - 1, so left padding does not shift a prompt."""
    from transformers import DynamicCache

    ids, mask = left_pad(prompts, be._pad_id)
    ids, mask = ids.to(be.device), mask.to(be.device)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    kv = DynamicCache(config=be.model.config)
    out = be._body(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, **{be._cache_kw: kv})
    return kv, mask, out.last_hidden_state[:, -1], pos[:, -1] + 1


@torch.inference_mode()
def prefill(be: Any, prompts: list[list[int]], share: bool) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`prefill_rows` of every row. With ``share`` each distinct prompt is prefilled once and its
    rows of the cache, mask and hidden state are then indexed out to every row that has it (cost:
    distinct prompts' tokens, not rows')."""
    if not share:
        return prefill_rows(be, prompts)
    firsts, which = unique_rows([tuple(p) for p in prompts])
    kv, mask, hidden, nxt = prefill_rows(be, [prompts[i] for i in firsts])
    if len(firsts) < len(prompts):
        sel = torch.tensor(which, dtype=torch.long, device=be.device)
        kv.batch_select_indices(sel)
        mask, nxt, hidden = mask[sel], nxt[sel], hidden[sel]
    return kv, mask, hidden, nxt


def rows_out(be: Any, tok_buf: torch.Tensor, lpd_buf: torch.Tensor, lpr_buf: torch.Tensor, n_tok: list[int],
             finish: list[str], texts: list[str | None]) -> list[tuple]:
    """The batch's rows, each completion's text decoded from its ids (once per distinct completion:
    samples of a sharpened policy repeat, and the tokenizer call costs more than the rest of a row)."""
    tok_all, lpd_all, lpr_all = tok_buf.cpu().tolist(), lpd_buf.cpu().tolist(), lpr_buf.cpu().tolist()
    decoded: dict[tuple[int, ...], str] = {}
    rows = []
    for i, n in enumerate(n_tok):
        ids = tok_all[i][:n]
        text = texts[i]
        if text is None:
            key = tuple(ids)
            text = decoded.get(key)
            if text is None:
                text = decoded[key] = be.tokenizer.decode(ids, skip_special_tokens=True)
        rows.append((ids, lpd_all[i][:n], lpr_all[i][:n], finish[i], text))
    return rows


class LiveRows:
    """The outputs of a batch's rows and which of them are still live, for the loops that drop finished
    rows (``decode_dynamic``, ``hf_tree.decode_tree``): token, log-prob buffers [b, steps] on the device;
    per row its length, finish reason and stop-string text; ``active`` (original row of each live row)
    and ``active_t`` (the same on the device); with stop strings, every live row's ids on the host."""

    def __init__(self, b: int, steps: int, dev: Any) -> None:
        self.tok = torch.zeros((b, steps), dtype=torch.long, device=dev)
        self.lpd = torch.zeros((b, steps), dtype=torch.float32, device=dev)
        self.lpr = torch.zeros((b, steps), dtype=torch.float32, device=dev)
        self.n_tok = [steps] * b
        self.finish: list[str] = ["length"] * b
        self.texts: list[str | None] = [None] * b
        self.tokens: list[list[int]] = [[] for _ in range(b)]  # kept on the CPU only for stop strings
        self.active = list(range(b))
        self.active_t = torch.arange(b, device=dev)

    def record(self, t: int, tok: torch.Tensor, lpd: torch.Tensor, lpr: torch.Tensor) -> None:
        """Step t's token and log-probs of every live row."""
        self.tok[self.active_t, t], self.lpd[self.active_t, t], self.lpr[self.active_t, t] = tok, lpd, lpr

    def finished(self, be: Any, decoding: DecodingConfig, t: int, tok: torch.Tensor,
                 stop_ids: torch.Tensor) -> list[int]:
        """Positions j of the live rows whose token ``tok[j]`` (step t) ends them: a stop token (finish
        "stop"), or, with stop strings, a decoded completion that now holds one (finish "stop_string",
        its text cut before it); their length becomes t + 1. One device sync per step, as in generate()."""
        done: list[int] = []
        if stop_ids.numel():
            is_stop = torch.isin(tok, stop_ids)
            if decoding.stop or bool(is_stop.any()):
                done = is_stop.nonzero().flatten().tolist()
                for j in done:
                    self.finish[self.active[j]] = "stop"
        if decoding.stop:
            for j, (row, tid) in enumerate(zip(self.active, tok.tolist())):
                self.tokens[row].append(tid)
                if j in done:
                    continue
                text = be.tokenizer.decode(self.tokens[row], skip_special_tokens=True)
                at = find_stop(text, decoding.stop)
                if at >= 0:
                    self.finish[row], self.texts[row] = "stop_string", text[:at]
                    done.append(j)
        for j in done:
            self.n_tok[self.active[j]] = t + 1
        return done

    def drop(self, done: list[int]) -> torch.Tensor | None:
        """Remove the live rows at positions ``done``; the positions kept (to index the caller's own
        per-row tensors with), or None when none was removed."""
        if not done:
            return None
        gone = set(done)
        keep = [j for j in range(len(self.active)) if j not in gone]
        sel = torch.tensor(keep, dtype=torch.long, device=self.active_t.device)
        self.active_t = self.active_t[sel]
        self.active = [self.active[j] for j in keep]
        return sel

    def out(self, be: Any) -> list[tuple]:
        """:func:`rows_out` of the batch."""
        return rows_out(be, self.tok, self.lpd, self.lpr, self.n_tok, self.finish, self.texts)


def step_body(be: Any, kv: Any, last: torch.Tensor, mask: torch.Tensor, next_pos: torch.Tensor,
              unpadded: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One body forward of the tokens ``last`` [r] on the DynamicCache ``kv`` (extended in place):
    (last hidden [r, H], mask grown by one column, next positions + 1). ``unpadded``: every row has the
    same prompt length, so the step needs no mask (a query attends to its whole cache), and without
    one SDPA reads grouped KV heads in place instead of copying them per step."""
    mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
    out = be._body(input_ids=last.unsqueeze(-1), attention_mask=None if unpadded else mask,
                   position_ids=next_pos.unsqueeze(-1), use_cache=True, **{be._cache_kw: kv})
    return out.last_hidden_state[:, -1], mask, next_pos + 1


@torch.inference_mode()
def decode_dynamic(be: Any, prompts: list[list[int]], seeds: list[int], decoding: DecodingConfig,
                   share: bool) -> list[tuple]:
    """The reference loop (``share`` False) or the same loop after a shared prefill (``share`` True)."""
    b, steps, dev = len(prompts), decoding.max_new_tokens, be.device
    kv, mask, hidden, next_pos = prefill(be, prompts, share)
    u = uniforms(seeds, steps).to(dev)
    stop_ids = torch.tensor(be.stop_token_ids, dtype=torch.long, device=dev)
    rows = LiveRows(b, steps, dev)
    unpadded = share and bool(mask.all())  # one prompt length in the batch (step_body)
    for t in range(steps):
        dec, raw = decoding_and_raw(be._logits(hidden), decoding)
        tok = inverse_cdf(dec, u[rows.active_t, t])
        col = tok.unsqueeze(-1)
        rows.record(t, tok, dec.gather(-1, col).squeeze(-1), raw.gather(-1, col).squeeze(-1))
        del dec, raw
        done = rows.finished(be, decoding, t, tok, stop_ids)
        if t + 1 == steps or len(done) == len(rows.active):
            break
        sel = rows.drop(done)
        if sel is not None:
            kv.batch_select_indices(sel)
            mask, next_pos, tok = mask[sel], next_pos[sel], tok[sel]
        hidden, mask, next_pos = step_body(be, kv, tok, mask, next_pos, unpadded)
    return rows.out(be)


def static_cache(be: Any, kv: Any, steps: int) -> Any:
    """A StaticCache of batch x (prompt + steps) holding the prefilled DynamicCache ``kv`` in its first
    slots (the generated tokens' keys and values are written after them, in place)."""
    from transformers import StaticCache

    lp = kv.get_seq_length()
    sc = StaticCache(config=be.model.config, max_cache_len=lp + steps)
    for layer, dl in zip(sc.layers, kv.layers):
        layer.lazy_initialization(dl.keys, dl.values)
        layer.keys[:, :, :lp].copy_(dl.keys)
        layer.values[:, :, :lp].copy_(dl.values)
        layer.cumulative_length.fill_(lp)
    return sc


def draw(be: Any, hidden: torch.Tensor, u: torch.Tensor, decoding: DecodingConfig):
    """(token [b], logp_decoding [b], logp_raw [b]) drawn from the last hidden states with uniforms u [b],
    reading nothing back to the host (sync-free pi_D, inverse CDF)."""
    dec, raw = decoding_and_raw(be._logits(hidden), decoding, sync_free=True)
    tok = inverse_cdf(dec, u)
    col = tok.unsqueeze(-1)
    return tok, dec.gather(-1, col).squeeze(-1), raw.gather(-1, col).squeeze(-1)


def make_step(be: Any, decoding: DecodingConfig, compiled: bool) -> Callable:
    """step(tok [b], u [b], pos [b], mask [b, L], cache) -> the next (token, logp_decoding, logp_raw).

    Fixed shapes, nothing read back to the host: one body forward of the previous tokens, which
    writes their keys and values into the static cache in place, then :func:`draw`."""

    def step(tok: torch.Tensor, u: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor, cache: Any):
        out = be._body(input_ids=tok.unsqueeze(-1), attention_mask=mask, position_ids=pos.unsqueeze(-1),
                       use_cache=True, **{be._cache_kw: cache})
        return draw(be, out.last_hidden_state[:, -1], u, decoding)

    return torch.compile(step, dynamic=False) if compiled else step


def _scan_stops(be: Any, toks: list[int], start: int, end: int, stops: list[str]) -> tuple[int, str] | None:
    """First m in (start, end] whose completion tokens[:m] contains a stop string: (m, text cut before it)."""
    for m in range(start + 1, end + 1):
        text = be.tokenizer.decode(toks[:m], skip_special_tokens=True)
        at = find_stop(text, stops)
        if at >= 0:
            return m, text[:at]
    return None


@torch.inference_mode()
def decode_static(be: Any, prompts: list[list[int]], seeds: list[int], decoding: DecodingConfig,
                  compiled: bool = False) -> list[tuple]:
    """Shared prefill, then the fixed-shape step of :func:`make_step` on a static cache. Finished rows
    keep stepping (masked: their later tokens are cut at the end). When :func:`check_due`, and at the
    end, the host reads the tokens: a row whose tokens[:m] first contains a stop string ends there
    (the same m the reference finds by decoding after every step), and the loop ends when every row
    has finished."""
    b, steps, dev = len(prompts), decoding.max_new_tokens, be.device
    kv, mask, hidden, pos = prefill(be, prompts, share=True)
    cache = static_cache(be, kv, steps)
    del kv
    mask = torch.cat([mask, torch.ones((b, steps), dtype=mask.dtype, device=dev)], dim=-1)
    u = uniforms(seeds, steps).to(dev)
    stop_ids = torch.tensor(be.stop_token_ids, dtype=torch.long, device=dev)
    tok_buf = torch.zeros((b, steps), dtype=torch.long, device=dev)
    lpd_buf = torch.zeros((b, steps), dtype=torch.float32, device=dev)
    lpr_buf = torch.zeros((b, steps), dtype=torch.float32, device=dev)
    first_stop = torch.full((b,), steps + 1, dtype=torch.long, device=dev)  # 1 + index of the first stop token
    step = make_step(be, decoding, compiled)
    n_tok, finish, texts = [steps] * b, ["length"] * b, [None] * b
    scanned, ended = [0] * b, [False] * b  # host view: positions checked for stop strings; row finished

    def check(t_done: int) -> bool:
        """Host check after t_done tokens: finish rows; True when every row has finished."""
        fs = first_stop.tolist()
        toks = tok_buf[:, :t_done].tolist() if decoding.stop else None
        for i in range(b):
            if ended[i]:
                continue
            upto = min(t_done, fs[i] - 1)
            hit = _scan_stops(be, toks[i], scanned[i], upto, decoding.stop) if toks is not None else None
            scanned[i] = upto
            if hit is not None:
                n_tok[i], texts[i], finish[i], ended[i] = hit[0], hit[1], "stop_string", True
            elif fs[i] <= t_done:
                n_tok[i], finish[i], ended[i] = fs[i], "stop", True
        return all(ended)

    for t in range(steps):
        if t == 0:
            tok, lpd, lpr = draw(be, hidden, u[:, 0].contiguous(), decoding)
            del hidden
        else:
            tok, lpd, lpr = step(tok, u[:, t].contiguous(), pos, mask, cache)
            pos = pos + 1
        tok_buf[:, t], lpd_buf[:, t], lpr_buf[:, t] = tok, lpd, lpr
        if stop_ids.numel():
            first_stop = torch.where(torch.isin(tok, stop_ids) & (first_stop > steps), t + 1, first_stop)
        if t + 1 < steps and check_due(t + 1) and check(t + 1):
            break
    check(steps)
    return rows_out(be, tok_buf, lpd_buf, lpr_buf, n_tok, finish, texts)
