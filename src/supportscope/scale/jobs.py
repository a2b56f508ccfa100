"""Sampling and scoring jobs over a run store, one shard at a time (resumable).

Work is cut into fixed units (a block of `problems_per_shard` problems with all their n samples)
whose content depends only on the run's config, never on what happened before: a killed run
resumed with the same config redoes exactly the missing units, in the same batches, and gives
the same bytes. The store (`records.store.RunStore`) writes each unit atomically and refuses to
mix configs under one model name.

Scoring: every sample of a generator is scored by teacher forcing under the scorer, on the exact
token ids that were generated, conditioned on the problem's prompt *as the scorer formats it*
(its own chat template or raw text): pi_scorer(y | x). With `kl=True` the generator model is
loaded too and the exact per-position full-vocabulary KL(pi_generator || pi_scorer) is stored;
this needs both models to see the same prompt ids (same prompt format).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow.parquet as pq

from supportscope.models.backend import Backend, SampleRequest
from supportscope.models.config import DecodingConfig, Policy
from supportscope.records import InputError, RunStore, build_table
from supportscope.records.store import fs_name
from supportscope.tasks import SUCCESS, Task
from supportscope.tasks.base import problems_digest

Progress = Callable[[int], None]
SCORER_PREFIX = "scorer:"


@dataclass(frozen=True)
class Unit:
    key: str
    problems: list  # list[Problem]


def units(problems: list, per_shard: int) -> list[Unit]:
    return [Unit(f"p{i // per_shard:06d}", problems[i:i + per_shard]) for i in range(0, len(problems), per_shard)]


def register_generator(store: RunStore, name: str, policy: Policy, decoding: DecodingConfig, task: Task,
                       n: int, problems_per_shard: int, fingerprint: str, problems: list,
                       adaptive: dict | None = None) -> None:
    """Record a generator's config; ``adaptive`` (the adaptive sampling settings) marks an adaptive run."""
    pol = policy.to_dict()
    pol.pop("name", None)
    entry = {
        "role": "generator", "policy": pol, "decoding": decoding.to_dict(),
        "task": {"spec": task.spec, "problems": len(problems), "digest": problems_digest(problems)},
        "n": n, "problems_per_shard": problems_per_shard, "tokenizer": fingerprint,
    }
    if adaptive is not None:
        entry["adaptive"] = adaptive
    store.register(name, entry)


def sample_rows(backend: Backend, requests: list[SampleRequest], decoding: DecodingConfig, task: Task,
                by_id: dict, name: str, batch_size: int, progress: Progress | None = None) -> list[dict]:
    """Sample the requests in batches, verify each completion, and return the samples-schema rows."""
    rows = []
    for start in range(0, len(requests), batch_size):
        batch = requests[start:start + batch_size]
        for s in backend.sample(batch, decoding):
            reward = float(task.verify(by_id[s.problem_id], s.completion))
            rows.append({
                "problem_id": s.problem_id, "model": name, "sample_idx": s.sample_idx, "seed": s.seed,
                "prompt_ids": s.prompt_ids, "token_ids": s.token_ids, "completion": s.completion,
                "n_tokens": s.n_tokens, "finish_reason": s.finish_reason, "correct": reward >= SUCCESS,
                "reward": reward, "logp_decoding": s.logp_decoding, "logp_raw": s.logp_raw,
                "token_logp_decoding": s.token_logp_decoding, "token_logp_raw": s.token_logp_raw,
            })
        if progress:
            progress(len(batch))
    return rows


def sample_job(store: RunStore, backend: Backend, name: str, policy: Policy, decoding: DecodingConfig,
               task: Task, n: int, problems_per_shard: int = 8, batch_size: int = 64,
               progress: Progress | None = None) -> int:
    """Sample n completions of every problem of `task`; returns the number of samples written now."""
    problems = task.problems()
    register_generator(store, name, policy, decoding, task, n, problems_per_shard,
                       backend.tokenizer_fingerprint(), problems)
    if "all" not in store.done("problems", name):
        store.write_shard("problems", name, "all", build_table("problems", [
            {"problem_id": p.id, "prompt": p.prompt, "answer": p.answer, "task": task.spec} for p in problems]))
    done = store.done("samples", name)
    written = 0
    for unit in units(problems, problems_per_shard):
        if unit.key in done:
            if progress:
                progress(len(unit.problems) * n)
            continue
        requests = [SampleRequest(p.id, p.prompt, j) for p in unit.problems for j in range(n)]
        rows = sample_rows(backend, requests, decoding, task, {p.id: p for p in unit.problems}, name, batch_size,
                           progress)
        store.write_shard("samples", name, unit.key, build_table("samples", rows))
        written += len(rows)
    return written


def generators(store: RunStore) -> list[str]:
    return [m for m in store.models("samples")]


def scoring_decoding(store: RunStore, scorer: str, generator: str) -> DecodingConfig:
    """The scorer's own decoding config when it sampled in this run, else the generator's."""
    for name in (scorer, generator):
        entry = store.manifest.get("entries", {}).get(name)
        if entry and entry.get("role") == "generator":
            return DecodingConfig.from_dict(entry["decoding"])
    raise InputError(str(store.path / "manifest.json"), f"model {generator!r} has no samples in this run",
                     "run `supportscope sample` first")


def score_job(store: RunStore, backend: Backend, scorer: str, policy: Policy,
              generator_names: Sequence[str] | None = None, reference: Callable[[str], Backend] | None = None,
              batch_size: int = 64, progress: Progress | None = None) -> int:
    """Score every generator's samples (other than the scorer's own) under `backend`."""
    entries = store.manifest.get("entries", {})
    gens = [g for g in (generator_names or generators(store)) if g != scorer]
    pol = policy.to_dict()
    pol.pop("name", None)
    store.register(SCORER_PREFIX + scorer, {"role": "scorer", "policy": pol,
                                            "tokenizer": backend.tokenizer_fingerprint(),
                                            "kl": reference is not None})
    written = 0
    for gen in gens:
        fp = entries.get(gen, {}).get("tokenizer")
        if fp is not None and fp != backend.tokenizer_fingerprint():
            raise InputError(str(store.path / "manifest.json"),
                             f"scorer {scorer!r} has a different tokenizer from generator {gen!r}; scoring "
                             "token ids across tokenizers would compare different strings",
                             "cross-score only models that share a tokenizer")
        decoding = scoring_decoding(store, scorer, gen)
        prompts = {r["problem_id"]: r["prompt"] for r in store.read("problems", gen).to_pylist()}
        ref = reference(gen) if reference is not None else None
        done = store.done("scores", SCORER_PREFIX + scorer)
        encoded: dict[str, list[int]] = {}
        for shard in store.shards("samples", gen):
            key = fs_name(f"{gen}--{shard['key']}")
            table = pq.read_table(store.path / shard["file"],
                                  columns=["problem_id", "sample_idx", "prompt_ids", "token_ids"]).to_pylist()
            if key in done:
                if progress:
                    progress(len(table))
                continue
            rows = []
            for start in range(0, len(table), batch_size):
                batch = table[start:start + batch_size]
                items = []
                for r in batch:
                    pid = r["problem_id"]
                    if pid not in encoded:
                        encoded[pid] = backend.encode_prompt(prompts[pid])
                    items.append((pid, r["sample_idx"], encoded[pid], r["token_ids"]))
                if ref is not None and any(list(it[2]) != list(r["prompt_ids"]) for it, r in zip(items, batch)):
                    raise InputError(str(store.path / "manifest.json"),
                                     f"--kl needs {scorer!r} and {gen!r} to see the same prompt ids, but their "
                                     "prompt formats differ (chat template vs raw text)",
                                     "use the same --chat setting for both models, or score without --kl")
                scores = backend.score(items, decoding, reference=ref)
                for s in scores:
                    rows.append({
                        "problem_id": s.problem_id, "generator": gen, "sample_idx": s.sample_idx, "scorer": scorer,
                        "logp_decoding": s.logp_decoding, "logp_raw": s.logp_raw,
                        "n_singular_tokens": s.n_singular_tokens, "token_logp_decoding": s.token_logp_decoding,
                        "token_logp_raw": s.token_logp_raw, "kl_full": s.kl, "token_kl": s.token_kl,
                    })
                if progress:
                    progress(len(batch))
            store.write_shard("scores", SCORER_PREFIX + scorer, key, build_table("scores", rows))
            written += len(rows)
    return written
