"""Exact success probability of a policy together with an environment (issue 16).

With an environment the verifier no longer accepts a fixed set of token strings: a success is any
episode whose graded answer (``envs.final_answer``: the text after the last reply) is correct, and
an episode is a tree of policy tokens and deterministic environment replies (``envs.base``). So

    p(x) = sum over complete episodes e with a correct answer of  prod_{policy tokens t of e} pi_D(t | prefix),

environment tokens contributing factor 1. :func:`exact_p_env` computes it on the tree of episodes,
level by level (one batched forward of every live prefix per level, the next-token distribution of
``models.decoding``, the same function the sampler draws from). A turn ends at the end token, at a
call string (turn 0) or at ``max_new_tokens`` policy tokens; the environment then replies (the
branch goes on) or ends the episode. Two kinds of branch:

- while the environment may still reply after the current turn (``Environment.may_reply``: the turn
  text is a call prefix, or a feedback turn with turns left), every policy token with nonzero pi_D
  probability opens a branch;
- once it cannot, the turn is the episode's last and the graded answer is the turn's text (after a
  reply) or the whole completion (without one), so the branch's success probability is the
  teacher-forced sum over the correct answers a that extend the text so far t:
  ``sum_a pi_D(a[len(t):] + </s> | context)`` (no end token when the answer fills the turn's
  budget), exactly as ``organism.exact`` does for a bare prompt.

Under a truncated pi_D (top_p < 1) every sum is finite and exact. Branches whose probability falls
below ``prune`` are dropped and their total mass is reported (``pruned``), an upper bound on the
error (0 when nothing was dropped). The paths this sums are the ones the issue names: a direct
answer, a call then a copy of the reply, a retry after feedback, and every other way to the answer.
Like ``organism.exact`` it takes a completion to be graded on its last turn, i.e. it assumes the
policy does not itself write the reply delimiter ``>`` (under pi_D it has probability 0 on the
organism: the delimiters are never trained on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..models.config import DecodingConfig
from .envs.base import Environment, final_answer, turn_end
from .families import OrganismProblem


@dataclass(frozen=True)
class ExactEnv:
    """Per problem: ``p`` (success probability under pi_D with the environment), ``pruned`` (mass of
    dropped branches: p is exact to within it), ``call`` (probability that turn 0 is a call; 0 without
    calls) and ``nodes`` (policy prefixes expanded)."""

    p: np.ndarray
    pruned: np.ndarray
    call: np.ndarray
    nodes: int


def _split_last_turns(live: list, problems: Sequence[OrganismProblem], env: Environment | None,
                      tokenizer: Any) -> tuple[list, list]:
    """(branches whose current turn can no longer get a reply, the others)."""
    last, rest = [], []
    for b in live:
        text = tokenizer.decode(b.ctx[b.start:], skip_special_tokens=True)
        more = env is not None and env.may_reply(problems[b.i].prompt, b.turn, text)
        (rest if more else last).append(b)
    return last, rest


def _score_last_turns(model: Any, tokenizer: Any, last: list, problems: Sequence[OrganismProblem],
                      decoding: DecodingConfig, p: np.ndarray, eos: int, batch: int) -> None:
    """Add to ``p`` each last-turn branch's probability times the teacher-forced probability that the
    turn finishes as a correct answer (module docstring)."""
    ctxs, sufs, owner = [], [], []
    for b in last:
        have = b.ctx[b.start:]
        text = tokenizer.decode(have, skip_special_tokens=True)
        left = decoding.max_new_tokens - len(have)
        for a in dict.fromkeys(problems[b.i].answers):
            if not a.startswith(text):
                continue
            suf = [int(x) for x in tokenizer(a[len(text):], add_special_tokens=False)["input_ids"]]
            if len(suf) > left or (len(suf) == left == 0):
                continue
            ctxs.append(b.ctx)
            sufs.append(suf if len(suf) == left else suf + [eos])
            owner.append(b)
    if ctxs:
        lp = _suffix_logprob(model, ctxs, sufs, decoding, eos, batch)
        for b, x in zip(owner, lp, strict=True):
            p[b.i] += float(np.exp(b.logp + x))


@dataclass
class _Branch:
    i: int  # problem index
    ctx: list[int]  # prompt + transcript ids
    start: int  # where the current turn starts in ctx
    prompt_len: int
    turn: int
    turns: list[str]
    logp: float


def _next_logprobs(model: Any, seqs: list[list[int]], decoding: DecodingConfig, pad: int, batch: int) -> np.ndarray:
    """pi_D log-probs of the next token after each sequence, float64 [len(seqs), V]."""
    import torch

    from ..models.decoding import decoding_and_raw

    out = []
    with torch.inference_mode():
        for s in range(0, len(seqs), batch):
            part = seqs[s:s + batch]
            width = max(map(len, part))
            ids = torch.full((len(part), width), pad, dtype=torch.long)
            att = torch.zeros((len(part), width), dtype=torch.long)
            for r, q in enumerate(part):
                ids[r, :len(q)] = torch.tensor(q)
                att[r, :len(q)] = 1
            logits = model(input_ids=ids, attention_mask=att).logits
            last = logits[torch.arange(len(part)), att.sum(1) - 1]
            out.append(decoding_and_raw(last, decoding)[0].double().numpy())
    return np.concatenate(out)


def _suffix_logprob(model: Any, ctxs: list[list[int]], sufs: list[list[int]], decoding: DecodingConfig, pad: int,
                    batch: int) -> np.ndarray:
    """log pi_D(suffix | context) for each pair (teacher forcing), float64; -inf outside the support."""
    import torch

    from ..models.decoding import decoding_and_raw

    out = np.zeros(len(ctxs))
    with torch.inference_mode():
        for s in range(0, len(ctxs), batch):
            cs, ss = ctxs[s:s + batch], sufs[s:s + batch]
            width = max(len(c) + len(x) for c, x in zip(cs, ss, strict=True))
            ids = torch.full((len(cs), width), pad, dtype=torch.long)
            att = torch.zeros((len(cs), width), dtype=torch.long)
            rows, cols, tgt = [], [], []
            for r, (c, x) in enumerate(zip(cs, ss, strict=True)):
                ids[r, :len(c) + len(x)] = torch.tensor(c + x)
                att[r, :len(c) + len(x)] = 1
                rows += [r] * len(x)
                cols += range(len(c) - 1, len(c) + len(x) - 1)
                tgt += x
            logits = model(input_ids=ids, attention_mask=att).logits[torch.tensor(rows), torch.tensor(cols)]
            lp = decoding_and_raw(logits, decoding)[0].double()
            tok = lp.gather(-1, torch.tensor(tgt)[:, None]).squeeze(-1)
            out[s:s + len(cs)] = torch.zeros(len(cs), dtype=torch.float64).index_add(0, torch.tensor(rows), tok).numpy()
    return out


def exact_p_env(model: Any, tokenizer: Any, problems: Sequence[OrganismProblem], env: Environment | None,
                decoding: DecodingConfig, *, prune: float = 0.0, batch: int = 2048,
                max_nodes: int = 2_000_000) -> ExactEnv:
    """Exact p of every problem for ``model`` with ``env`` (None: no environment, one turn) under
    ``decoding`` (module docstring). ``model`` is an organism LlamaForCausalLM in eval mode."""
    if decoding.stop:
        raise ValueError("exact_p_env does not model stop strings; use a DecodingConfig with stop=[]")
    if decoding.top_p >= 1.0 and decoding.top_k == 0 and decoding.min_p == 0 and prune <= 0:
        raise ValueError("raw sampling makes the episode tree infinite; give prune > 0 (e.g. 1e-9)")
    eos = int(tokenizer.eos_token_id)
    calls = env.calls if env is not None else ()
    max_turns = env.max_turns if env is not None else 1
    p = np.zeros(len(problems))
    pruned = np.zeros(len(problems))
    call = np.zeros(len(problems))
    live = []
    for i, pr in enumerate(problems):
        ids = [int(x) for x in tokenizer(pr.prompt, add_special_tokens=False)["input_ids"]]
        live.append(_Branch(i, ids, len(ids), len(ids), 0, [], 0.0))
    nodes = 0
    while live:
        nodes += len(live)
        if nodes > max_nodes:
            raise RuntimeError(f"the episode tree passed {max_nodes:,} prefixes; raise prune")
        last, live = _split_last_turns(live, problems, env, tokenizer)
        _score_last_turns(model, tokenizer, last, problems, decoding, p, eos, batch)
        if not live:
            break
        lp = _next_logprobs(model, [b.ctx for b in live], decoding, eos, batch)
        nxt: list[_Branch] = []
        for b, row in zip(live, lp, strict=True):
            for v in np.flatnonzero(np.isfinite(row)):
                logp = b.logp + float(row[v])
                prob = float(np.exp(logp))
                if prob < prune:
                    pruned[b.i] += prob
                    continue
                ctx = b.ctx + [int(v)]
                turn_ids = ctx[b.start:]
                text = tokenizer.decode(turn_ids, skip_special_tokens=True)
                end = turn_end(text, len(turn_ids), int(v) == eos, b.turn, calls, decoding.max_new_tokens)
                if end is None:
                    nxt.append(_Branch(b.i, ctx, b.start, b.prompt_len, b.turn, b.turns, logp))
                    continue
                if end == "call":
                    call[b.i] += prob
                turns = b.turns + [text]
                reply = env.reply(problems[b.i].prompt, turns, end) if env is not None else None
                if reply is not None and len(turns) < max_turns:
                    rid = [int(x) for x in tokenizer(reply, add_special_tokens=False)["input_ids"]]
                    ctx = ctx + rid
                    nxt.append(_Branch(b.i, ctx, len(ctx), b.prompt_len, b.turn + 1, turns, logp))
                    continue
                answer = final_answer(tokenizer.decode(ctx[b.prompt_len:], skip_special_tokens=True))
                if answer in problems[b.i].answers:
                    p[b.i] += prob
        live = nxt
    return ExactEnv(p, pruned, call, nodes)


__all__ = ["ExactEnv", "exact_p_env"]
