"""Sampling a policy together with an environment: :class:`EnvBackend` wraps a backend.

Per request, turn by turn (the rules of ``base``): the wrapped backend samples one policy turn from
the token ids of the context so far (``generate_ids``: nothing is re-tokenised), the turn is cut at
its end (a call string at the start of turn 0, the end token, or ``max_new_tokens`` policy tokens),
the environment's reply is encoded and appended, and the next turn is sampled, until the
environment ends the episode. Turn 0 uses the sample's own seed, so an episode without a call is
exactly the sample the plain backend gives; turn t > 0 uses ``sample_seed(seed, "turn", t)``.
Tokens sampled after a call string are discarded (inverse-CDF sampling: the kept tokens do not
depend on them).

The :class:`~supportscope.models.backend.Sample` of an episode has every token of the transcript
(policy and environment), ``policy_mask`` (1 = policy), and log-probs 0.0 on environment tokens,
so ``logp_decoding`` is the policy's log-probability of the transcript given the environment.
Scoring is delegated unchanged; callers mask environment tokens (``scale.jobs``). No torch here.
"""

from __future__ import annotations

from typing import Any

from ...models.backend import Sample, SampleRequest
from ...models.config import DecodingConfig
from ...models.sampling import sample_seed
from .base import Environment, is_call_prefix, turn_end


class EnvBackend:
    """A backend whose samples are episodes of its policy with ``env``; everything else delegates."""

    def __init__(self, inner: Any, env: Environment) -> None:
        self.inner, self.env = inner, env
        self.name = getattr(inner, "name", "policy") + "+" + env.name
        self.tokenizer = inner.tokenizer

    def __getattr__(self, item: str) -> Any:  # score, encode_prompt, tokenizer_fingerprint, ...
        return getattr(self.inner, item)

    def _text(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def _cut(self, ids: list[int], finish: str, turn: int, max_new: int) -> tuple[int, str]:
        """(policy tokens kept, how the turn ended) for one sampled turn: a call ends it where its text
        becomes a call string (checked only while the text is a call prefix: usually one decode);
        otherwise the backend stopped it at the end token or at ``max_new``."""
        for k in range(1, len(ids) + 1):
            text = self._text(ids[:k])
            if turn_end(text, k, False, turn, self.env.calls, max_new + 1) == "call":
                return k, "call"
            if not is_call_prefix(text, turn, self.env.calls):
                break
        return len(ids), "eos" if finish == "stop" else "length"

    def sample(self, requests: list[SampleRequest], decoding: DecodingConfig) -> list[Sample]:
        if decoding.stop:
            raise ValueError("environment rollouts do not model stop strings; use a DecodingConfig with stop=[]")
        seeds = [sample_seed(decoding.seed, r.problem_id, r.sample_idx) for r in requests]
        prompts = [self.inner.encode_prompt(r.prompt) for r in requests]
        ctx = [list(p) for p in prompts]
        toks: list[list[int]] = [[] for _ in requests]
        mask: list[list[int]] = [[] for _ in requests]
        lpd: list[list[float]] = [[] for _ in requests]
        lpr: list[list[float]] = [[] for _ in requests]
        turns: list[list[str]] = [[] for _ in requests]
        finish = ["length"] * len(requests)
        live = list(range(len(requests)))
        for t in range(self.env.max_turns):
            if not live:
                break
            tseeds = [seeds[i] if t == 0 else sample_seed(seeds[i], "turn", t) for i in live]
            rows = self.inner.generate_ids([ctx[i] for i in live], tseeds, decoding)
            nxt = []
            for i, (ids, dec, raw, fin, _) in zip(live, rows):
                k, ended = self._cut(list(ids), fin, t, decoding.max_new_tokens)
                kept = list(ids[:k])
                toks[i] += kept
                mask[i] += [1] * k
                lpd[i] += list(dec[:k])
                lpr[i] += list(raw[:k])
                ctx[i] += kept
                turns[i].append(self._text(kept))
                finish[i] = "stop" if ended == "eos" else "length"
                reply = self.env.reply(requests[i].prompt, turns[i], ended)
                if reply is None:
                    continue
                rid = [int(x) for x in self.tokenizer(reply, add_special_tokens=False)["input_ids"]]
                toks[i] += rid
                mask[i] += [0] * len(rid)
                lpd[i] += [0.0] * len(rid)
                lpr[i] += [0.0] * len(rid)
                ctx[i] += rid
                nxt.append(i)
            live = nxt
        return [Sample(problem_id=r.problem_id, sample_idx=r.sample_idx, seed=seeds[i], prompt_ids=list(prompts[i]),
                       token_ids=toks[i], completion=self._text(toks[i]), finish_reason=finish[i],  # type: ignore[arg-type]
                       token_logp_decoding=lpd[i], token_logp_raw=lpr[i], policy_mask=mask[i])
                for i, r in enumerate(requests)]


__all__ = ["EnvBackend"]
