"""The protocol every sampling/scoring engine implements (Hugging Face now, vLLM later). No torch.

Log-probabilities always say which distribution they are under (DESIGN.md section 1):
`*_decoding` is the decoding distribution pi_D (temperature + truncation, renormalised; -inf for a
token outside the kept set), `*_raw` is T = 1 with no truncation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal, Protocol, Sequence, runtime_checkable

from supportscope.errors import PromptTooLongError
from supportscope.models.config import DecodingConfig

#: The most sequences the HF backend scores in one forward pass (the [tokens, vocab] log-softmax of
#: a longer batch is what runs out of memory); a larger --batch-size is scored in such pieces.
SCORE_FORWARD_MAX = 16

FinishReason = Literal["stop", "length", "stop_string"]
FINISH_REASONS: tuple[str, ...] = ("stop", "length", "stop_string")

#: One teacher-forcing item: (problem_id, sample_idx, prompt_ids, token_ids).
ScoreItem = tuple[str, int, Sequence[int], Sequence[int]]


@dataclass(frozen=True)
class SampleRequest:
    problem_id: str
    prompt: str
    sample_idx: int


@dataclass
class Sample:
    """One generated completion.

    `token_ids` are all generated ids (the EOS token included when the model stopped on it; for
    finish_reason "stop_string", up to and including the token that completed the stop string).
    `completion` is `tokenizer.decode(token_ids, skip_special_tokens=True)`, cut before a stop string.
    `seed` is the per-sample seed actually used (a stable hash of the base seed, problem_id and
    sample_idx). `token_logp_decoding[i]` / `token_logp_raw[i]` are the log-probabilities of
    `token_ids[i]` under the decoding / raw next-token distribution (float32 log-softmax).
    With environment turns, `policy_mask` says which tokens are the policy's.
    """

    problem_id: str
    sample_idx: int
    seed: int
    prompt_ids: list[int]
    token_ids: list[int]
    completion: str
    finish_reason: FinishReason
    token_logp_decoding: list[float]
    token_logp_raw: list[float]
    #: 1 for a token the policy generated, 0 for an environment token (a tool's or a verifier's reply,
    #: whose log-probs are recorded as 0.0: given the transcript it is certain); None = all policy.
    policy_mask: list[int] | None = None

    @property
    def n_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def logp_decoding(self) -> float:
        return math.fsum(self.token_logp_decoding)

    @property
    def logp_raw(self) -> float:
        return math.fsum(self.token_logp_raw)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Score:
    """Teacher-forced log-probabilities of given (prompt_ids, token_ids) under the scoring model.

    `n_singular_tokens` counts tokens whose decoding log-prob is -inf (outside the scorer's
    decoding support: the sample has probability exactly 0 under the scorer's pi_D).
    `token_kl[i]`, when a reference model was given, is the exact full-vocabulary
    KL(pi_ref(. | prefix_i) || pi_scorer(. | prefix_i)) between the *raw* next-token distributions
    at the position that predicts token_ids[i] (nats); None otherwise.
    """

    problem_id: str
    sample_idx: int
    token_logp_decoding: list[float]
    token_logp_raw: list[float]
    n_singular_tokens: int
    token_kl: list[float] | None = None

    @property
    def n_tokens(self) -> int:
        return len(self.token_logp_raw)

    @property
    def logp_decoding(self) -> float:
        """Sum of decoding log-probs; -inf when any token is singular."""
        if self.n_singular_tokens:
            return -math.inf
        return math.fsum(self.token_logp_decoding)

    @property
    def logp_raw(self) -> float:
        return math.fsum(self.token_logp_raw)

    @property
    def kl(self) -> float | None:
        """Sum over positions of token_kl (the sequence-level KL along this sample), or None."""
        return None if self.token_kl is None else math.fsum(self.token_kl)

    def to_dict(self) -> dict:
        return asdict(self)


@runtime_checkable
class Backend(Protocol):
    """A model that samples completions and scores given token ids (DESIGN.md section 5)."""

    name: str

    def tokenizer_fingerprint(self) -> str:
        """Identity of the tokenizer (vocab + special ids); equal fingerprints allow cross-scoring."""
        ...

    def encode_prompt(self, prompt: str) -> list[int]:
        """Prompt text -> the exact ids the model is conditioned on (chat template applied if asked)."""
        ...

    def sample(self, requests: list[SampleRequest], decoding: DecodingConfig) -> list[Sample]:
        """One Sample per request, in request order; reproducible per (seed, problem_id, sample_idx)."""
        ...

    def score(self, items: list[ScoreItem], decoding: DecodingConfig,
              reference: "Backend | None" = None) -> list[Score]:
        """Teacher-forced scores of the exact ids, in item order.

        With `reference`, also token_kl = KL(pi_reference || pi_self) per position (raw distributions).
        """
        ...


def check_prompt_fits(problem_id: str, n_prompt: int, max_new_tokens: int, max_context: int | None,
                      name: str) -> None:
    """Raise PromptTooLongError when prompt + max_new_tokens exceeds the model's context (any backend)."""
    if max_context is not None and n_prompt + max_new_tokens > max_context:
        raise PromptTooLongError(
            f"problem {problem_id!r}: prompt of {n_prompt} tokens + max_new_tokens {max_new_tokens} "
            f"exceeds the context of {max_context} tokens of '{name}'. Fix: shorten the prompt "
            f"or lower --max-new-tokens")
