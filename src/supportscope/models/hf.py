"""Hugging Face backend: batched sampling with per-sample generators, and chunked teacher-forced scoring.

Sampling does not use `model.generate` (it draws from the global RNG, so a sample depends on the
batch it ran in). Instead: prompts are left-padded with an attention mask and explicit
position_ids = cumsum(mask) - 1, a KV cache carries the prefix, and at every step each row draws
its token by inverse-CDF on pi_D with the next uniform of its own generator (`sampling.py`).
Rows are grouped by prompt and cut into batches of at most ``sample_batch_size`` rows and
``max_batch_tokens`` padded token slots (`batching.py`); each distinct prompt of a batch is
prefilled once, and by default each distinct prefix then runs once per step, so samples that
agree share their forwards (``EngineConfig.decode``: tree, `hf_tree.py`; or shared, static,
compiled, or the reference loop that prefills every row, `hf_generate.py`).

Scoring runs the transformer body only (hidden states), each distinct (prompt, completion) once (the
n samples of a short-answer problem repeat: the organism's 256 per problem hold about 5 distinct
ones, each copy gets the same Score): each distinct prompt once with the
completions batched on its cache (`hf_score.py`), or prompt + completion of every item in full
(decode='reference'), and turns the hidden states of
the positions that predict the given token ids into log-probs in chunks (`scoring.py`). Both paths go through the same `_logits` (lm_head plus the architecture's final
logit transform) and the same `decoding.decoding_logprobs`, so the log-prob recorded for a sampled
token equals its teacher-forced score up to float rounding (KV-cache vs full-sequence kernels).

KL direction: `scorer.score(items, decoding, reference=ref)` returns, per position i of each item,
token_kl[i] = KL(pi_ref(. | prefix_i) || pi_scorer(. | prefix_i)) = sum_v p_ref(v) (log p_ref(v) - log p_scorer(v))
over the raw (T = 1, untruncated) next-token distributions. For the observed KL(pi1 || pi0) of
DESIGN.md section 4, score the *tuned* samples with the *base* backend and reference = the tuned
backend: `base.score(tuned_items, d, reference=tuned)`; sum(token_kl) is then the exact
per-token full-vocabulary KL(tuned || base) summed along the tuned sample.
"""

from __future__ import annotations


import inspect
from dataclasses import replace
from typing import Any, Sequence

import torch

from supportscope.models.backend import (SCORE_FORWARD_MAX, Sample, SampleRequest, Score, ScoreItem,
                                         check_prompt_fits)
from supportscope.errors import PromptTooLongError
from supportscope.models.batching import group_order, token_batches, unique_rows
from supportscope.models.config import BATCH_SIZE, DecodingConfig, EngineConfig, Policy
from supportscope.models.loading import (ModelLoadError, prompt_ids, stop_token_ids as stop_ids,
                                         check_same_tokenizer, load_model_and_tokenizer, tokenizer_fingerprint)
from supportscope.models.hf_generate import decode_dynamic, decode_static
from supportscope.models.hf_tree import decode_tree
from supportscope.models.hf_score import shared_prompt_hidden
from supportscope.models.sampling import sample_seed
from supportscope.models.scoring import chunked_token_logprobs, count_singular




class HFBackend:
    """`Backend` for a local Hugging Face causal LM (safetensors directory or .gguf file).

    sample_batch_size: rows generated together; score_batch_size: sequences per scoring forward;
    score_chunk_size: token positions (over the whole batch) turned into [chunk, vocab] log-probs
    at once; stop_token_ids: ids that end generation (default: the tokenizer's and generation
    config's EOS, plus the chat template's end-of-turn token when policy.chat); pass () to never
    stop on a token (benchmarks).
    """

    def __init__(self, policy: Policy, *, sample_batch_size: int = BATCH_SIZE, score_batch_size: int = SCORE_FORWARD_MAX,
                 score_chunk_size: int = 512, stop_token_ids: Sequence[int] | None = None,
                 engine: EngineConfig | None = None) -> None:
        model, tokenizer, _ = load_model_and_tokenizer(policy)
        self._setup(policy, model, tokenizer, sample_batch_size, score_batch_size, score_chunk_size,
                    stop_token_ids, engine)

    @classmethod
    def build(cls, policy: Policy, batch_size: int = BATCH_SIZE, engine: EngineConfig | None = None) -> "HFBackend":
        """The backend for ``policy`` as the pipeline makes it (:func:`supportscope.models.registry.build_backend`):
        ``batch_size`` rows generated together, scoring forwards of at most :data:`SCORE_FORWARD_MAX` rows
        (of ``batch_size`` rows when ``engine.max_batch_tokens`` bounds them by tokens instead)."""
        cap = batch_size if engine is not None and engine.max_batch_tokens else min(batch_size, SCORE_FORWARD_MAX)
        return cls(policy, sample_batch_size=batch_size, score_batch_size=max(1, cap), engine=engine)

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, policy: Policy | None = None, **kw: Any) -> "HFBackend":
        """Wrap an already loaded model and tokenizer (e.g. the same weights with chat=True, or a model
        trained in memory). `policy` defaults to Policy(model=<name_or_path>)."""
        if policy is None:
            policy = Policy(model=str(getattr(model.config, "_name_or_path", "") or "in-memory"))
        obj = cls.__new__(cls)
        model.eval()
        obj._setup(policy, model, tokenizer, kw.pop("sample_batch_size", BATCH_SIZE), kw.pop("score_batch_size", SCORE_FORWARD_MAX),
                   kw.pop("score_chunk_size", 512), kw.pop("stop_token_ids", None), kw.pop("engine", None))
        if kw:
            raise TypeError(f"unexpected arguments: {sorted(kw)}")
        return obj

    def _setup(self, policy: Policy, model: Any, tokenizer: Any, sample_batch_size: int, score_batch_size: int,
               score_chunk_size: int, stop_token_ids: Sequence[int] | None, engine: EngineConfig | None) -> None:
        for nm, v in (("sample_batch_size", sample_batch_size), ("score_batch_size", score_batch_size),
                      ("score_chunk_size", score_chunk_size)):
            if int(v) < 1:
                raise ValueError(f"{nm} must be >= 1, got {v}")
        self.policy = policy
        self.name: str = policy.name or "model"
        self.model = model
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        self.sample_batch_size = int(sample_batch_size)
        self.score_batch_size = int(score_batch_size)
        self.score_chunk_size = int(score_chunk_size)
        self.engine = engine if engine is not None else EngineConfig()
        self.max_batch_tokens, self.decode = self.engine.max_batch_tokens, self.engine.decode
        self._body = model.get_decoder()
        params = inspect.signature(self._body.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"  # renamed in transformers 5.x
        self._head = model.get_output_embeddings()
        self._cfg = model.config.get_text_config(decoder=True) if hasattr(model.config, "get_text_config") \
            else model.config
        self.max_context: int | None = getattr(self._cfg, "max_position_embeddings", None)
        self._fingerprint = tokenizer_fingerprint(tokenizer)
        if stop_token_ids is None:
            gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
            stop_token_ids = stop_ids(tokenizer, gen_eos, policy.chat)
        self.stop_token_ids: list[int] = sorted(set(int(i) for i in stop_token_ids))
        pad = tokenizer.pad_token_id
        self._pad_id = int(pad if pad is not None else (tokenizer.eos_token_id or 0))
        self._check_head()

    # ------------------------------------------------------------------ protocol: identity, prompts

    def tokenizer_fingerprint(self) -> str:
        return self._fingerprint

    def encode_prompt(self, prompt: str) -> list[int]:
        return prompt_ids(self.tokenizer, prompt, self.policy.chat)

    # ------------------------------------------------------------------ logits

    def _logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """lm_head plus the final logit transform the architecture applies in its forward."""
        logits = self._head(hidden)
        cfg = self._cfg
        if getattr(cfg, "model_type", "") in ("cohere", "cohere2") and getattr(cfg, "logit_scale", None):
            logits = logits * cfg.logit_scale
        if getattr(cfg, "logits_scaling", None):
            logits = logits / cfg.logits_scaling
        cap = getattr(cfg, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return logits

    @torch.inference_mode()
    def _check_head(self) -> None:
        """The body + _logits path must reproduce model(...).logits, else scores would be wrong."""
        v = int(self._head.weight.shape[0])
        ids = torch.tensor([[1 % v, 7 % v, 11 % v, 3 % v]], device=self.device)
        ref = self.model(input_ids=ids).logits.float()
        mine = self._logits(self._body(input_ids=ids).last_hidden_state).float()
        tol = 1e-3 * (1.0 + float(ref.abs().max()))
        if ref.shape != mine.shape or float((ref - mine).abs().max()) > tol:
            raise ModelLoadError(
                f"model '{self.policy.model}' ({getattr(self._cfg, 'model_type', '?')}) transforms its logits in a "
                f"way supportscope does not reproduce from the hidden states. Fix: report this architecture")

    # ------------------------------------------------------------------ sampling

    def sample(self, requests: list[SampleRequest], decoding: DecodingConfig) -> list[Sample]:
        if not requests:
            return []
        cache: dict[str, list[int]] = {}
        prompt_ids: list[list[int]] = []
        for r in requests:
            if r.prompt not in cache:
                cache[r.prompt] = self.encode_prompt(r.prompt)
            ids = cache[r.prompt]
            if not ids:
                raise ValueError(f"problem {r.problem_id!r}: the prompt encodes to no tokens and the tokenizer has "
                                 f"no BOS token. Fix: give a non-empty prompt")
            check_prompt_fits(r.problem_id, len(ids), decoding.max_new_tokens, self.max_context, self.name)
            prompt_ids.append(ids)
        seeds = [sample_seed(decoding.seed, r.problem_id, r.sample_idx) for r in requests]
        rows = self._generate_all(prompt_ids, seeds, decoding)
        return [Sample(problem_id=r.problem_id, sample_idx=r.sample_idx, seed=seed, prompt_ids=list(ids),
                       token_ids=toks, completion=text, finish_reason=finish, token_logp_decoding=lpd,
                       token_logp_raw=lpr)
                for r, seed, ids, (toks, lpd, lpr, finish, text) in zip(requests, seeds, prompt_ids, rows)]

    def generate_ids(self, prompts: list[list[int]], seeds: list[int], decoding: DecodingConfig) -> list[tuple]:
        """Sample one continuation of each token-id prompt with its own per-sample seed (no re-tokenising).

        Returns per prompt ``(ids, token_logp_decoding, token_logp_raw, finish_reason, text)`` as
        :class:`~supportscope.models.backend.Sample` defines them. The tokens of a row depend only on its
        prompt ids, its seed and ``decoding`` (inverse-CDF sampling with the seed's uniforms), not on the
        batch it runs in. Used where a caller builds the context itself, e.g. environment turns.
        """
        if len(prompts) != len(seeds):
            raise ValueError(f"{len(prompts)} prompts and {len(seeds)} seeds")
        for p in prompts:
            check_prompt_fits("(ids)", len(p), decoding.max_new_tokens, self.max_context, self.name)
        if not prompts:
            return []
        return self._generate_all([[int(x) for x in p] for p in prompts], [int(s) for s in seeds], decoding)

    def _generate(self, prompts: list[list[int]], seeds: list[int], decoding: DecodingConfig,
                  path: str | None = None) -> list[tuple]:
        """One batch along ``path`` (default: this backend's ``decode``), see models/hf_tree.py and hf_generate.py."""
        path = path or self.decode
        if path == "tree":
            return decode_tree(self, prompts, seeds, decoding)
        if path in ("static", "compiled"):
            return decode_static(self, prompts, seeds, decoding, compiled=path == "compiled")
        return decode_dynamic(self, prompts, seeds, decoding, share=path == "shared")

    def _generate_all(self, prompts: list[list[int]], seeds: list[int], decoding: DecodingConfig) -> list[tuple]:
        """Every row, in input order: grouped by prompt (equal prompts adjacent, lengths ascending), cut into
        batches of at most sample_batch_size rows and max_batch_tokens padded token slots (batching.py)."""
        keys = [tuple(p) for p in prompts]
        order = group_order(keys, [len(p) for p in prompts])
        if self.decode == "reference":  # today's order: by length only
            order = sorted(range(len(prompts)), key=lambda i: (len(prompts[i]), i))
        sizes = [(len(prompts[i]), decoding.max_new_tokens) for i in order]
        out: list[tuple | None] = [None] * len(prompts)
        for pos in token_batches(sizes, self.sample_batch_size, self.max_batch_tokens):
            idx = [order[j] for j in pos]
            for i, row in zip(idx, self._generate([prompts[i] for i in idx], [seeds[i] for i in idx], decoding)):
                out[i] = row
        return out  # type: ignore[return-value]

    # ------------------------------------------------------------------ scoring

    def _check_items(self, items: list[ScoreItem]) -> None:
        vocab = int(self._head.weight.shape[0])
        for pid, sidx, p, t in items:
            if len(p) == 0:
                raise ValueError(f"problem {pid!r} sample {sidx}: empty prompt_ids; the first token needs a "
                                 f"conditioning position. Fix: score with the prompt ids the sample was generated from")
            n = len(p) + len(t)
            if self.max_context is not None and n > self.max_context:
                raise PromptTooLongError(
                    f"problem {pid!r} sample {sidx}: {n} tokens exceed the context of {self.max_context} tokens of "
                    f"'{self.name}'. Fix: drop or truncate this sample")
            bad = [i for i in list(p) + list(t) if not 0 <= int(i) < vocab]
            if bad:
                raise ValueError(f"problem {pid!r} sample {sidx}: token id {bad[0]} is outside the vocabulary of "
                                 f"{vocab} of '{self.name}'. Fix: score with the tokenizer the sample was made with")

    def score(self, items: list[ScoreItem], decoding: DecodingConfig,
              reference: "HFBackend | None" = None) -> list[Score]:
        """Teacher-forced scores of the exact ids, in item order (see the module docstring for token_kl)."""
        if reference is not None:
            if not isinstance(reference, HFBackend):
                raise TypeError("reference must be an HFBackend (exact KL needs its hidden states)")
            check_same_tokenizer(reference, self)
        items = [(str(a), int(b), list(map(int, p)), list(map(int, t))) for a, b, p, t in items]
        self._check_items(items)
        if self.decode != "reference":  # identical (prompt, completion) items are scored once
            firsts, which = unique_rows([(tuple(p), tuple(t)) for _, _, p, t in items])
            if len(firsts) < len(items):
                scores = self._score_items([items[i] for i in firsts], decoding, reference)
                return [replace(scores[w], problem_id=it[0], sample_idx=it[1]) for it, w in zip(items, which)]
        return self._score_items(items, decoding, reference)

    def _score_items(self, items: list[tuple], decoding: DecodingConfig,
                     reference: "HFBackend | None") -> list[Score]:
        """:meth:`score` of checked items, each scored (reference decode: in today's batches)."""
        if self.decode == "reference":  # today's batches: longest first, score_batch_size sequences
            order = sorted(range(len(items)), key=lambda i: (-(len(items[i][2]) + len(items[i][3])), i))
        else:  # equal prompts adjacent (one prefill each), lengths ascending
            order = group_order([tuple(it[2]) for it in items], [len(it[2]) for it in items],
                                [len(it[3]) for it in items])
        sizes = [(len(items[i][2]), len(items[i][3])) for i in order]
        out: list[Score | None] = [None] * len(items)
        for pos in token_batches(sizes, self.score_batch_size, self.max_batch_tokens):
            idx = [order[j] for j in pos]
            for i, sc in zip(idx, self._score_batch([items[i] for i in idx], decoding, reference)):
                out[i] = sc
        return out  # type: ignore[return-value]

    @torch.inference_mode()
    def _hidden(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self._body(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device),
                          use_cache=False).last_hidden_state

    @torch.inference_mode()
    def _score_batch(self, batch: list[tuple], decoding: DecodingConfig,
                     reference: "HFBackend | None") -> list[Score]:
        counts = [len(t) for _, _, _, t in batch]
        if sum(counts) == 0:
            return [Score(pid, sidx, [], [], 0, [] if reference is not None else None) for pid, sidx, _, _ in batch]
        if self.decode == "reference":
            hsel, href, tgts = self._full_hidden(batch, reference)
        else:  # each distinct prompt run once, the completions on top of its cache (hf_score.py)
            tgts = [x for _, _, _, t in batch for x in t]
            hsel = shared_prompt_hidden(self, batch)
            href = shared_prompt_hidden(reference, batch) if reference is not None else None
        dec, raw, kl = chunked_token_logprobs(
            hsel, torch.tensor(tgts, device=hsel.device), self._logits, decoding, self.score_chunk_size,
            href, reference._logits if reference is not None else None)
        dec_l, raw_l = dec.cpu().split(counts), raw.cpu().split(counts)
        kl_l = kl.cpu().split(counts) if kl is not None else [None] * len(batch)
        return [Score(pid, sidx, d.tolist(), r.tolist(), count_singular(d), None if k is None else k.tolist())
                for (pid, sidx, _, _), d, r, k in zip(batch, dec_l, raw_l, kl_l)]

    @torch.inference_mode()
    def _full_hidden(self, batch: list[tuple], reference: "HFBackend | None") -> tuple:
        """The reference scoring path: prompt + completion of every item right-padded and run in full; the
        hidden states (own, reference's) of the positions that predict each completion token, and the tokens."""
        length = max(len(p) + len(t) for _, _, p, t in batch)
        input_ids = torch.full((len(batch), length), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), length), dtype=torch.long)
        rows, cols, tgts = [], [], []
        for b, (_, _, p, t) in enumerate(batch):
            seq = p + t
            input_ids[b, :len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[b, :len(seq)] = 1
            rows += [b] * len(t)
            cols += range(len(p) - 1, len(seq) - 1)
            tgts += t
        rows_t, cols_t = torch.tensor(rows), torch.tensor(cols)
        h = self._hidden(input_ids, mask)
        hsel = h[rows_t.to(h.device), cols_t.to(h.device)]
        del h
        href = None
        if reference is not None:
            hr = reference._hidden(input_ids, mask)
            href = hr[rows_t.to(hr.device), cols_t.to(hr.device)]
            del hr
        return hsel, href, tgts


__all__ = ["HFBackend", "PromptTooLongError"]
