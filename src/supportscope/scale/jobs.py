"""Sampling and scoring jobs over a run store, one shard at a time (resumable).

Work is cut into fixed units (a block of `problems_per_shard` problems with all their n samples)
whose content depends only on the run's config, never on what happened before: a killed run
resumed with the same config redoes exactly the missing units, in the same batches, and gives
the same bytes. The store (`store.RunStore`) writes each unit atomically and refuses to
mix configs under one model name.

Scoring: every sample of a generator is scored by teacher forcing under the scorer, on the exact
token ids that were generated, conditioned on the problem's prompt *as the scorer formats it*
(its own chat template or raw text): pi_scorer(y | x). With `kl=True` the generator model is
loaded too and the exact per-position full-vocabulary KL(pi_generator || pi_scorer) is stored;
this needs both models to see the same prompt ids (same prompt format). A sample with environment
turns (its ``policy_mask``) counts only its policy tokens in the scores (``policy_score``): the
environment's replies are part of the context, never the policy's choice.

Where the rows are made: a unit is a ``SampleWork`` / ``ScoreWork`` whose rows come from
``sample_work_rows`` / ``score_work_rows`` alone. The jobs make them here with ``backend``, or hand
them to an ``executor`` (``scale.ray_exec.RayExecutor``: backend replicas on a Ray cluster) that
calls the same functions elsewhere and passes each unit's rows back; either way this process alone
writes the store, one atomic shard per unit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


from supportscope.models.backend import Backend, SampleRequest, Score
from supportscope.models.config import BATCH_SIZE, DecodingConfig, Policy
from supportscope.errors import InputError
from supportscope.heap import frozen_heap
from supportscope.registry import suggest
from supportscope.store import SCORER_PREFIX, RunStore, build_table
from supportscope.store.manifest import MANIFEST, check_same_entry, entry_config
from supportscope.store.shard_files import fs_name
from supportscope.tasks import SUCCESS, Task
from supportscope.tasks.base import problems_digest

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Unit:
    key: str
    problems: list  # list[Problem]


def units(problems: list, per_shard: int) -> list[Unit]:
    return [Unit(f"p{i // per_shard:06d}", problems[i:i + per_shard]) for i in range(0, len(problems), per_shard)]


def generator_config(policy: Policy, decoding: DecodingConfig, task: Task, problems: list) -> dict:
    """What makes two samplings of one model the same design: its policy (minus the name), decoding
    and task (spec, size, digest of ``problems``), as recorded in the run's manifest."""
    pol = policy.to_dict()
    pol.pop("name", None)
    return {"policy": pol, "decoding": decoding.to_dict(),
            "task": {"spec": task.spec, "problems": len(problems), "digest": problems_digest(problems)}}


def register_generator(store: RunStore, name: str, policy: Policy, decoding: DecodingConfig, task: Task,
                       n: int, problems_per_shard: int, fingerprint: str, problems: list,
                       adaptive: dict | None = None) -> None:
    """Record a generator's config; ``adaptive`` (the adaptive sampling settings) marks an adaptive run."""
    entry = {"role": "generator", **generator_config(policy, decoding, task, problems),
             "n": n, "problems_per_shard": problems_per_shard, "tokenizer": fingerprint}
    if adaptive is not None:
        entry["adaptive"] = adaptive
    store.register(name, entry)


def precheck_generator(store: RunStore, name: str, policy: Policy, decoding: DecodingConfig, task: Task,
                       n: int, problems_per_shard: int, problems: list) -> None:
    """Before a model is loaded (seconds to minutes): the checks a resumed plain run makes after
    loading it -- the config :func:`register_generator` would record must equal the run's (the
    tokenizer, known only once loaded, is compared later), and every done shard of ``name`` must
    still have its manifest SHA-256. Raises StoreError; a new name passes."""
    old = store.manifest["entries"].get(name)
    if old is None:
        return
    manifest = store.path / MANIFEST
    new = entry_config(manifest, {"role": "generator", **generator_config(policy, decoding, task, problems),
                                  "n": n, "problems_per_shard": problems_per_shard, "tokenizer": old.get("tokenizer")},
                       f"config of model {name!r}", "the model's settings")
    check_same_entry(manifest, name, old, new)
    store.verify(model=name)


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
                "policy_mask": s.policy_mask,
            })
        if progress:
            progress(len(batch))
    return rows


def policy_score(score: Score, mask: Sequence[int] | None) -> Score:
    """``score`` with the environment's tokens taken out (issue 16): with m_t = mask[t] (1 = a policy
    token, 0 = an environment reply's; ``None`` = every m_t = 1, ``score`` returned unchanged),

        token_logp_decoding'[t] = token_logp_decoding[t] if m_t else 0.0   (likewise token_logp_raw,
        token_kl'[t]            = token_kl[t]            if m_t else 0.0    token_kl when scored)
        n_singular'             = #{t : m_t = 1 and token_logp_decoding[t] = -inf}

    so logp_decoding' = sum_{t: m_t=1} log pi_D(y_t | x, y_<t) (-inf when n_singular' > 0), logp_raw'
    likewise, and kl_full' = sum_{t: m_t=1} KL(pi_gen(.|x, y_<t) || pi_scorer(.|x, y_<t)): the scorer's
    log-probability and the KL of the *policy's* choices given the transcript, the environment's
    replies being fixed by it. The sample's own logp_decoding is the same sum (env tokens are
    recorded as 0.0), so scorer = generator reproduces it. Lists keep n_tokens entries."""
    if mask is None:
        return score
    if len(mask) != score.n_tokens:
        raise ValueError(f"policy_mask of {score.problem_id!r} #{score.sample_idx} has {len(mask)} entries for "
                         f"{score.n_tokens} tokens")

    def keep(values: list[float]) -> list[float]:
        return [v if m else 0.0 for v, m in zip(values, mask)]

    singular = sum(1 for v, m in zip(score.token_logp_decoding, mask) if m and v == -math.inf)
    return Score(score.problem_id, score.sample_idx, keep(score.token_logp_decoding), keep(score.token_logp_raw),
                 singular, None if score.token_kl is None else keep(score.token_kl))


@dataclass(frozen=True)
class SampleWork:
    """One samples shard to make: its store key, its requests in order, and their problems. Its rows
    depend on nothing else (given the backend, decoding and task), so any process may make them."""

    key: str
    requests: list  # list[SampleRequest]
    problems: list  # list[Problem]

    @property
    def size(self) -> int:
        return len(self.requests)


def unit_work(unit: Unit, n: int) -> SampleWork:
    """The work of a uniform unit: n samples of each of its problems, problem by problem."""
    return SampleWork(unit.key, [SampleRequest(p.id, p.prompt, j) for p in unit.problems for j in range(n)],
                      list(unit.problems))


def sample_work_rows(backend: Backend, work: SampleWork, decoding: DecodingConfig, task: Task, name: str,
                     batch_size: int, progress: Progress | None = None) -> list[dict]:
    """The rows of one samples shard (the single-process jobs and the Ray workers both call this)."""
    return sample_rows(backend, work.requests, decoding, task, {p.id: p for p in work.problems}, name, batch_size,
                       progress)


Write = Callable[[Any, list[dict]], None]


class UnitExecutor(Protocol):
    """Runs work units somewhere else (``scale.ray_exec.RayExecutor``) and hands each unit's rows back
    to ``write`` in this process, which alone writes the store."""

    kl: bool

    def tokenizer_fingerprint(self) -> str: ...

    def run_samples(self, works: Iterable[SampleWork], decoding: DecodingConfig, task: Task, name: str,
                    batch_size: int, write: Write, progress: Progress | None = None) -> None: ...

    def run_scores(self, works: Iterable["ScoreWork"], scorer: str, batch_size: int, write: Write,
                   progress: Progress | None = None) -> None: ...


def run_sample_works(backend: Backend | None, executor: UnitExecutor | None, works: Iterable[SampleWork],
                     decoding: DecodingConfig, task: Task, name: str, batch_size: int, write: Write,
                     progress: Progress | None = None) -> None:
    """Make each work's rows here with ``backend``, or through ``executor``, and pass them to ``write``."""
    if executor is not None:
        executor.run_samples(works, decoding, task, name, batch_size, write, progress)
        return
    with frozen_heap():  # the model and libraries out of the collector's walks (heap.py)
        for work in works:
            write(work, sample_work_rows(backend, work, decoding, task, name, batch_size, progress))


def sample_job(store: RunStore, backend: Backend | None, name: str, policy: Policy, decoding: DecodingConfig,
               task: Task, n: int, problems_per_shard: int = 8, batch_size: int = BATCH_SIZE,
               progress: Progress | None = None, executor: UnitExecutor | None = None) -> int:
    """Sample n completions of every problem of `task`; returns the number of samples written now.

    With ``executor`` (``backend`` may then be None) the units are made elsewhere and written here:
    the run directory is the same as without it."""
    problems = task.problems()
    register_generator(store, name, policy, decoding, task, n, problems_per_shard,
                       (executor or backend).tokenizer_fingerprint(), problems)
    store.verify(model=name)  # a done shard whose file changed is refused, not skipped as done
    if "all" not in store.done("problems", name):
        store.write_shard("problems", name, "all", build_table("problems", [
            {"problem_id": p.id, "prompt": p.prompt, "answer": p.answer, "task": task.spec} for p in problems]))
    done = store.done("samples", name)
    written = 0

    def works():
        for unit in units(problems, problems_per_shard):
            if unit.key in done:
                if progress:
                    progress(len(unit.problems) * n)
                continue
            yield unit_work(unit, n)

    def write(work: SampleWork, rows: list[dict]) -> None:
        nonlocal written
        store.write_shard("samples", name, work.key, build_table("samples", rows))
        written += len(rows)

    run_sample_works(backend, executor, works(), decoding, task, name, batch_size, write, progress)
    return written


def generators(store: RunStore) -> list[str]:
    return [m for m in store.models("samples")]


def score_generators(store: RunStore, names: Sequence[str] | None, scorer: str) -> list[str]:
    """The generators whose samples ``scorer`` scores: ``names`` (default: every model with samples
    in the run), the scorer itself left out. A name with no samples in the run is refused with one
    line naming the run and the generators it has ("did you mean"), before anything is loaded or
    written (it used to register the scorer, which then blocked ``score --kl``)."""
    have = generators(store)
    for name in names or ():
        if name not in have:
            known = ", ".join(repr(g) for g in have) or "none"
            raise InputError(str(store.path), f"has no samples of generator {name!r}",
                             f"{suggest(name, have)}the generators with samples in this run: {known}")
    return [g for g in (names or have) if g != scorer]


def scoring_decoding(store: RunStore, scorer: str, generator: str) -> DecodingConfig:
    """The scorer's own decoding config when it sampled in this run, else the generator's."""
    for name in (scorer, generator):
        entry = store.manifest.get("entries", {}).get(name)
        if entry and entry.get("role") == "generator":
            return DecodingConfig.from_dict(entry["decoding"])
    raise InputError(str(store.path / "manifest.json"), f"model {generator!r} has no samples in this run",
                     "run `supportscope sample` first")


@dataclass(frozen=True)
class ScoreWork:
    """One scores shard to make: a generator's samples shard (the columns scoring needs, in order),
    the prompts of its problems, and the decoding config to score under."""

    generator: str
    key: str
    samples: list  # dicts: problem_id, sample_idx, prompt_ids, token_ids, policy_mask
    prompts: dict  # problem_id -> prompt text
    decoding: DecodingConfig
    manifest: str  # the run's manifest path, for error messages

    @property
    def size(self) -> int:
        return len(self.samples)


def score_work_rows(backend: Backend, work: ScoreWork, scorer: str, reference: Backend | None = None,
                    batch_size: int = BATCH_SIZE, progress: Progress | None = None,
                    encoded: dict[str, list[int]] | None = None) -> list[dict]:
    """The rows of one scores shard (the single-process jobs and the Ray workers both call this).
    A sample with a ``policy_mask`` (environment turns) is scored over its policy tokens only
    (:func:`policy_score`). ``encoded`` caches the scorer's prompt ids by problem id across calls (one cache per generator)."""
    encoded = {} if encoded is None else encoded
    gen, rows = work.generator, []
    for start in range(0, len(work.samples), batch_size):
        batch = work.samples[start:start + batch_size]
        items = []
        for r in batch:
            pid = r["problem_id"]
            if pid not in encoded:
                encoded[pid] = backend.encode_prompt(work.prompts[pid])
            items.append((pid, r["sample_idx"], encoded[pid], r["token_ids"]))
        if reference is not None and any(list(it[2]) != list(r["prompt_ids"]) for it, r in zip(items, batch)):
            raise InputError(work.manifest,
                             f"--kl needs {scorer!r} and {gen!r} to see the same prompt ids, but their "
                             "prompt formats differ (chat template vs raw text)",
                             "use the same --chat setting for both models, or score without --kl")
        scores = backend.score(items, work.decoding, reference=reference)
        for r, s in zip(batch, scores):
            s = policy_score(s, r.get("policy_mask"))
            rows.append({
                "problem_id": s.problem_id, "generator": gen, "sample_idx": s.sample_idx, "scorer": scorer,
                "logp_decoding": s.logp_decoding, "logp_raw": s.logp_raw,
                "n_singular_tokens": s.n_singular_tokens, "token_logp_decoding": s.token_logp_decoding,
                "token_logp_raw": s.token_logp_raw, "kl_full": s.kl, "token_kl": s.token_kl,
            })
        if progress:
            progress(len(batch))
    return rows


def score_job(store: RunStore, backend: Backend | None, scorer: str, policy: Policy,
              generator_names: Sequence[str] | None = None, reference: Callable[[str], Backend] | None = None,
              batch_size: int = BATCH_SIZE, progress: Progress | None = None,
              executor: UnitExecutor | None = None) -> int:
    """Score every generator's samples (other than the scorer's own) under `backend`.

    With ``executor`` (``backend`` may then be None; ``reference`` is unused: the executor loads the
    generators' models itself when its ``kl`` is set) the shards are scored elsewhere and written here."""
    entries = store.manifest.get("entries", {})
    gens = score_generators(store, generator_names, scorer)
    for model in gens:  # the samples read, checked once, before the scorer is registered
        store.verify(model=model)
    pol = policy.to_dict()
    pol.pop("name", None)
    fingerprint = (executor or backend).tokenizer_fingerprint()
    kl = executor.kl if executor is not None else reference is not None
    store.register(SCORER_PREFIX + scorer, {"role": "scorer", "policy": pol, "tokenizer": fingerprint, "kl": kl})
    store.verify(model=SCORER_PREFIX + scorer)  # the done scores
    manifest = str(store.path / "manifest.json")
    written = 0

    def works():
        for gen in gens:
            fp = entries.get(gen, {}).get("tokenizer")
            if fp is not None and fp != fingerprint:
                raise InputError(manifest,
                                 f"scorer {scorer!r} has a different tokenizer from generator {gen!r}; scoring "
                                 "token ids across tokenizers would compare different strings",
                                 "cross-score only models that share a tokenizer")
            decoding = scoring_decoding(store, scorer, gen)
            prompts = {r["problem_id"]: r["prompt"] for r in store.read("problems", gen).to_pylist()}
            done = store.done("scores", SCORER_PREFIX + scorer)
            for shard, table in store.read_shards("samples", gen,  # hash-checked, paths inside the run
                                                  columns=["problem_id", "sample_idx", "prompt_ids", "token_ids",
                                                           "policy_mask"]):
                key = fs_name(f"{gen}--{shard['key']}")
                table = table.to_pylist()
                if key in done:
                    if progress:
                        progress(len(table))
                    continue
                yield ScoreWork(gen, key, table, {r["problem_id"]: prompts[r["problem_id"]] for r in table},
                                decoding, manifest)

    def write(work: ScoreWork, rows: list[dict]) -> None:
        nonlocal written
        store.write_shard("scores", SCORER_PREFIX + scorer, work.key, build_table("scores", rows))
        written += len(rows)

    if executor is not None:
        executor.run_scores(works(), scorer, batch_size, write, progress)
        return written
    refs: dict[str, Backend] = {}
    encoded: dict[str, dict[str, list[int]]] = {}  # per generator: problem ids are only unique within one
    with frozen_heap():  # the model and libraries out of the collector's walks (heap.py)
        for work in works():
            ref = None
            if reference is not None:
                if work.generator not in refs:
                    refs[work.generator] = reference(work.generator)
                ref = refs[work.generator]
            write(work, score_work_rows(backend, work, scorer, ref, batch_size, progress,
                                        encoded.setdefault(work.generator, {})))
    return written
