"""Exact success probabilities of organism problems under a decoding config (DESIGN.md section 6).

The organism's verifier (task.py) accepts a completion iff it equals one of the problem's answer
strings, where the completion is everything the model generated with the end token removed (the
tokenizer's only special token, so nothing else is removed). With the character tokenizer every
string has exactly one token sequence, so for max_new_tokens = m

    success  <=>  generated ids = chars(a) + [EOS]   for some answer a with len(a) < m, or
                  generated ids = chars(a)           for some answer a with len(a) = m (cut by length).

These events are disjoint (distinct complete sequences), hence

    p(x) = sum_a pi_D(ids_a | prompt)   (teacher-forced, product of per-token decoding probabilities),

which :func:`exact_p` computes with ``HFBackend.score`` (decoding log-probs; a token outside the
nucleus has log-prob -inf and contributes 0). No sampling or approximation is involved: the
answers are short and the verifier accepts exactly these strings, so this is the ground truth that
sampled success frequencies estimate. ``exact_p_raw`` is the same under the raw distribution
(T = 1, no truncation). Stop strings would cut completions in ways this does not model, so a
decoding config with stop strings is refused.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..models.config import DecodingConfig
from .families import OrganismProblem


def answer_ids(tokenizer: Any, answer: str, max_new_tokens: int) -> list[int] | None:
    """The generated ids that make ``answer`` a success, or None when it cannot be generated."""
    from .model import encode

    ids = encode(tokenizer, answer)
    if len(ids) > max_new_tokens:
        return None
    return ids if len(ids) == max_new_tokens else ids + [int(tokenizer.eos_token_id)]


def exact_p_both(backend: Any, problems: Sequence[OrganismProblem], decoding: DecodingConfig,
                 answers: Sequence[Sequence[str]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(p under pi_D, p raw) per problem, as float64 arrays, from one batched teacher-forced pass.

    ``answers`` overrides the strings summed per problem (default: each problem's correct answers),
    e.g. to get the probability of the systematic wrong answer. ``backend`` is an HFBackend over an
    organism checkpoint (prompts are encoded with ``backend.encode_prompt``); it batches the items
    by its ``score_batch_size``.
    """
    if decoding.stop:
        raise ValueError("exact_p does not model stop strings; use a DecodingConfig with stop=[]")
    if answers is None:
        answers = [p.answers for p in problems]
    items, owner = [], []
    for i, (p, ans) in enumerate(zip(problems, answers, strict=True)):
        prompt = backend.encode_prompt(p.prompt)
        for j, a in enumerate(dict.fromkeys(ans)):  # each distinct string once
            ids = answer_ids(backend.tokenizer, a, decoding.max_new_tokens)
            if ids is not None:
                items.append((p.id, j, prompt, ids))
                owner.append(i)
    dec = np.zeros(len(problems), dtype=np.float64)
    raw = np.zeros(len(problems), dtype=np.float64)
    for i, sc in zip(owner, backend.score(items, decoding)):
        dec[i] += math.exp(sc.logp_decoding)  # -inf (outside the nucleus) -> 0
        raw[i] += math.exp(sc.logp_raw)
    return dec, raw


def exact_p(backend: Any, problems: Sequence[OrganismProblem], decoding: DecodingConfig | None = None) -> np.ndarray:
    """Exact success probability of each problem under pi_D (default DecodingConfig(top_p=0.95))."""
    return exact_p_both(backend, problems, decoding or DecodingConfig(top_p=0.95))[0]


def exact_p_raw(backend: Any, problems: Sequence[OrganismProblem], max_new_tokens: int = 256) -> np.ndarray:
    """Exact success probability of each problem under raw sampling (T = 1, no truncation)."""
    return exact_p_both(backend, problems, DecodingConfig(max_new_tokens=max_new_tokens))[1]


def organism_backend(path: Any = None, *, score_batch_size: int = 256, sample_batch_size: int = 512) -> Any:
    """An HFBackend over an organism checkpoint (default: the packaged one)."""
    from ..models.config import Policy
    from ..models.hf import HFBackend
    from .pretrain import load_organism
    from .task import resolve_checkpoint

    ck = resolve_checkpoint(path)
    model, tok, _ = load_organism(ck)
    return HFBackend.from_model(model, tok, Policy(model=str(ck), name="organism"),
                                score_batch_size=score_batch_size, sample_batch_size=sample_batch_size)


__all__ = ["answer_ids", "exact_p_both", "exact_p", "exact_p_raw", "organism_backend", "family_table"]


def family_table(backend: Any, problems: Sequence[OrganismProblem], decoding: DecodingConfig | None = None) -> list[dict]:
    """Per family: problems, mean exact p under ``decoding`` (default top_p = 0.95) and raw, min/max
    of the decoding p, and the share of problems with decoding p == 0 (singular)."""
    decoding = decoding or DecodingConfig(top_p=0.95, max_new_tokens=16)
    dec, raw = exact_p_both(backend, problems, decoding)
    rows = []
    for fam in dict.fromkeys(p.family for p in problems):
        m = np.array([p.family == fam for p in problems])
        rows.append({"family": fam, "n": int(m.sum()), "p_decoding_mean": float(dec[m].mean()),
                     "p_decoding_min": float(dec[m].min()), "p_decoding_max": float(dec[m].max()),
                     "p_raw_mean": float(raw[m].mean()), "share_singular": float((dec[m] == 0).mean())})
    return rows
