"""Exact success probability of a policy together with an environment (issue 16).

With an environment the verifier no longer accepts a fixed set of token strings: a success is any
episode whose graded answer (``envs.final_answer``: the text after the last reply) is correct, and
an episode is a tree of policy tokens and deterministic environment replies (``envs.base``). So

    p(x) = sum over complete episodes e with a correct answer of  prod_{policy tokens t of e} pi_D(t | prefix),

environment tokens contributing factor 1. :func:`exact_p_env` computes it by expanding the tree
level by level (one batched forward of every live prefix per level, the next-token distribution of
``models.decoding``, the same function the sampler draws from): each policy token with nonzero
pi_D probability opens a branch; a turn ends at the end token, at a call string (turn 0) or at
``max_new_tokens`` policy tokens; the environment then replies (the branch goes on) or ends the
episode (the branch is graded). Under a truncated pi_D (top_p < 1) the tree is finite and the sum is
exact. Branches whose probability falls below ``prune`` are dropped and their total mass is
reported (``pruned``), an upper bound on the error (0 when nothing was dropped); raw sampling
(top_p = 1) needs ``prune > 0``. The paths this sums are the ones the issue names: a direct answer,
a call then a copy of the reply, a retry after feedback, and every other way to the right answer.
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
        lp = _next_logprobs(model, [b.ctx for b in live], decoding, eos, batch)
        nxt: list[_Branch] = []
        for b, row in zip(live, lp):
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
