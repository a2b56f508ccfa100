"""Sampling and scoring workflows: fill a run directory, resumably (here or on a Ray cluster).

``run_sample(policy, decoding, job, out)`` samples one model into the run directory ``out`` (plain
n per problem, adaptive rounds, or a follow-up on selected problems); ``run_score(run, policy,
batch_size, kl, generators)`` scores the other models' samples under ``policy``. Both show
progress bars on stderr and return the number of rows written. ``supportscope sample`` /
``score`` and :mod:`.run_config` call these; so can a notebook.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from supportscope.errors import ConfigError, InputError, PromptTooLongError, split_fix
from supportscope.models.config import DecodingConfig, EngineConfig, Policy
from supportscope.models.registry import build_backend
from supportscope.pipeline.outputs import check_out_dir
from supportscope.pipeline.progress import progress_bar
from supportscope.scale.config import SampleJobConfig
from supportscope.scale.ray_exec import RayConfig
from supportscope.store import RunStore
from supportscope.versions import library_versions

__all__ = ["MODEL_LIBS", "load_backend", "open_store", "run_sample", "run_score"]

MODEL_LIBS = ("torch", "transformers", "tokenizers", "safetensors", "gguf", "math-verify", "reasoning-gym")


def open_store(out: Path) -> RunStore:
    return RunStore.open(out, create=True, versions=library_versions(MODEL_LIBS))


def load_backend(policy: Policy, batch_size: int, engine: EngineConfig | None = None):
    """The policy's backend (``engine``: the HF backend's token budget and decode path); errors of a
    bad path or prompt become one-line CLI errors."""
    policy.require()
    err = Console(stderr=True)
    what = "starting vLLM on" if policy.backend == "vllm" else "loading"
    with err.status(f"{what} {policy.model}"):
        return build_backend(policy, batch_size, engine)


def ray_executor(ray: RayConfig, policy: Policy, batch_size: int, references: dict | None = None,
                 engine: EngineConfig | None = None):
    """A RayExecutor whose workers each build_backend(policy) (see scale.ray_exec)."""
    from functools import partial

    from supportscope.scale.ray_exec import RayExecutor

    policy.require()
    for ref in (references or {}).values():
        ref.require()
    return RayExecutor(ray, policy, partial(build_backend, batch_size=batch_size, engine=engine),
                       references=references)


def _on_workers(executor) -> str:
    return f" on {executor.workers} Ray worker{'s' if executor.workers != 1 else ''}"


def _adaptive(store, backend, policy, decoding, task, job, adaptive, executor=None, followup=None) -> int:
    """Adaptive rounds with one progress bar per round; prints what was decided. With ``followup`` (a
    list of problems) the rounds are a follow-up of ``policy.name`` on them (scale.adaptive)."""
    from contextlib import ExitStack

    from supportscope.scale.adaptive import adaptive_sample_job, followup_sample_job

    err = Console(stderr=True)
    what = f"{policy.name} follow-up" if followup is not None else policy.name
    with ExitStack() as bars:
        def on_round(r: int, n_open: int, samples: int):
            bars.close()
            return bars.enter_context(progress_bar(f"{what} round {r} ({n_open} open problems)", samples))

        if followup is not None:
            res = followup_sample_job(store, backend, policy.name, policy, decoding, task, followup, adaptive,
                                      job.problems_per_shard, job.batch_size, on_round, executor=executor)
        else:
            res = adaptive_sample_job(store, backend, policy.name, policy, decoding, task, adaptive,
                                      job.problems_per_shard, job.batch_size, on_round, executor=executor)
    total = len(followup) if followup is not None else len(task.problems())
    head = (f"follow-up of {policy.name!r} on {total} problems (confirmation level alpha/(2m) = {res['level']:.3g})"
            if followup is not None else "adaptive")
    err.print(f"{head}: {res['rounds']} rounds, {res['samples']} samples, regime at K={adaptive.budget} decided "
              f"for {res['decided']} of {total} problems ({res['undecided']} undecided at --max-n "
              f"{adaptive.max_n} or stopped as futile)", markup=False)
    return res["written"]


def _sample_mode(out: Path, policy: Policy, decoding: DecodingConfig, task, selected, adaptive: bool) -> str:
    """What `sample` does: "full" (every problem; plain or adaptive), "subset" (plain run on the
    --problems-from problems) or "followup" (adaptive follow-up of a model already in ``out``).
    Refuses the combinations that make no sense, with one-line errors, before any model is loaded."""
    if selected is None:
        return "full"
    store = RunStore(out) if (out / "manifest.json").is_file() else None
    entries = store.manifest["entries"] if store is not None else {}
    entry = entries.get(policy.name)
    if adaptive:
        if entry is None:
            known = ", ".join(repr(m) for m, e in entries.items() if e.get("role") == "generator") or "none"
            raise ConfigError(f"--adaptive --problems-from follows up a model already sampled in {out}, but "
                              f"{policy.name!r} is not in it (models: {known}). Fix: give the --name of a model "
                              "in the run, or leave out --adaptive for a plain run on these problems")
        from supportscope.scale.adaptive import check_followup

        check_followup(store, policy.name, policy, decoding, task)
        return "followup"
    if entry is not None:
        from supportscope.tasks.base import problems_digest

        same = entry.get("task", {})
        if not (same.get("problems") == len(selected) and same.get("digest") == problems_digest(selected)):
            raise ConfigError(f"{policy.name!r} is already sampled in {out}; sampling it again on the "
                              "--problems-from problems would mix two designs under one name. Fix: add --adaptive "
                              "to follow it up on these problems (fresh samples, a confirmation stage), or give "
                              "it a new --name")
    return "subset"


def run_sample(policy: Policy, decoding: DecodingConfig, job: SampleJobConfig, out: Path, adaptive=None,
               ray: RayConfig | None = None, engine: EngineConfig | None = None) -> int:
    """Sample into ``out`` here, or with ``ray.ray`` over a Ray cluster (the same run directory).
    With ``job.problems_from``: only those problems (a plain run of a new model), or with adaptive
    sampling a follow-up of a model already in ``out`` (scale.adaptive.followup_sample_job)."""
    from contextlib import ExitStack

    from supportscope.models.loading import check_model_path
    from supportscope.scale.jobs import precheck_generator, sample_job
    from supportscope.tasks import load_task

    out = check_out_dir(out)  # a file, under a file, or not writable: refused before any loading
    job.require()  # the configs' values were checked when they were built; tasks must be set
    is_adaptive = adaptive is not None and adaptive.adaptive
    task = load_task(job.tasks, limit=job.limit, seed=job.task_seed)
    selected = None
    if job.problems_from:
        from supportscope.scale.select import select_problems

        selected = select_problems(task.problems(), job.problems_from, job.label)
    mode = _sample_mode(Path(out), policy, decoding, task, selected, is_adaptive)
    if mode == "subset":
        from supportscope.scale.select import SubsetTask

        task = SubsetTask(task, selected)
    policy.require()
    check_model_path(policy.model)  # a model path that is not there leaves no run folder behind
    store = open_store(out)
    total = len(task.problems()) * job.n
    try:
        if is_adaptive:
            store.verify(model=policy.name)  # changed shards refused before the model loads
        else:
            precheck_generator(store, policy.name, policy, decoding, task, job.n, job.problems_per_shard,
                               task.problems())
        with ExitStack() as stack:
            backend = executor = None
            if ray is not None and ray.ray:
                executor = stack.enter_context(ray_executor(ray, policy, job.batch_size, engine=engine))
            else:
                backend = load_backend(policy, job.batch_size, engine)
            if is_adaptive:
                return _adaptive(store, backend, policy, decoding, task, job, adaptive, executor,
                                 followup=selected if mode == "followup" else None)
            with progress_bar(f"sampling {policy.name}" + (_on_workers(executor) if executor else ""),
                              total) as advance:
                return sample_job(store, backend, policy.name, policy, decoding, task, job.n,
                                  job.problems_per_shard, job.batch_size, advance, executor=executor)
    except PromptTooLongError as e:
        what, fix = split_fix(e)  # keep ONE "Fix:" (the backend's own, which names the cause)
        raise InputError(job.tasks, what, fix or "lower --max-new-tokens or use shorter prompts") from None
    finally:
        store.close()


def run_score(run: Path, policy: Policy, batch_size: int, kl: bool, generators: list[str] | None,
              ray: RayConfig | None = None, engine: EngineConfig | None = None) -> int:
    """Score under ``policy`` here, or with ``ray.ray`` over a Ray cluster (the same run directory)."""
    from supportscope.scale.jobs import score_generators, score_job

    run = check_out_dir(run, flag="RUN")
    if not (run / "manifest.json").is_file():
        raise InputError(str(run), "not a run directory (no manifest.json)", "pass the --out folder of `supportscope sample`")
    store = open_store(run)
    try:
        gens = score_generators(store, generators, policy.name)  # before any model is loaded,
        for g in gens:  # and the samples to score checked (sha256) too: a changed shard is one line
            store.verify(model=g)
        if not gens:
            raise ConfigError(f"{run} holds no samples of a model other than {policy.name!r}. Fix: sample another "
                              "model into it first")
        total = sum(s["rows"] for g in gens for s in store.shards("samples", g))
        def ref_policy(gen: str) -> Policy:
            # the generator's model for --kl; without its environment: scoring reads the replies
            # from the samples, and the exact KL needs the plain backend
            return Policy(**{**store.entry(gen)["policy"], "name": gen, "env": None})

        try:
            if ray is not None and ray.ray:
                refs = {g: ref_policy(g) for g in gens} if kl else None
                with ray_executor(ray, policy, batch_size, refs, engine) as ex, \
                        progress_bar(f"scoring under {policy.name}{_on_workers(ex)}", total) as advance:
                    return score_job(store, None, policy.name, policy, gens, None, batch_size, advance, executor=ex)
            backend = load_backend(policy, batch_size, engine)
            loaded: dict = {}

            def reference(gen: str):
                if gen not in loaded:
                    loaded[gen] = load_backend(ref_policy(gen), batch_size, engine)
                return loaded[gen]

            with progress_bar(f"scoring under {policy.name}", total) as advance:
                return score_job(store, backend, policy.name, policy, gens, reference if kl else None,
                                 batch_size, advance)
        except PromptTooLongError as e:
            what, fix = split_fix(e)
            raise InputError(str(run), what, fix or "score with a model whose context fits the samples") from None
    finally:
        store.close()
