"""Scale-out over a Ray cluster: the units of a sample or score job run on N backend replicas.

``RayExecutor`` starts N Ray actors, each holding one backend built from the job's Policy (one GPU
each when the cluster has GPUs and the policy's device is not cpu; one CPU each otherwise), and
implements ``scale.jobs.UnitExecutor``: the job hands it its pending units (the same
``SampleWork``/``ScoreWork`` a single-process run makes, in the same batches), each idle actor takes
the next one and returns its rows (``scale.jobs.sample_work_rows`` / ``score_work_rows``, the very
functions the single-process path calls), and the driver, the only writer, writes each unit's shard
atomically into the run store. The run directory is byte for byte the one a single-process run
makes (per-sample seeds depend on (seed, problem_id, sample_idx) only; batches are the same).

Fault tolerance: when an actor dies (``ray.kill``, a crashed worker, a lost node), the unit it held is
put back at the head of the queue and a fresh actor is started in its place; the unit is written
once, when some actor returns it (the store refuses a second shard under one key anyway). A unit
that kills its worker ``max_attempts`` times, or more than ``max_restarts`` deaths in all, stops
the run with ``WorkerLostError``; every shard written until then is kept, and rerunning resumes.

Ray is imported only here, only when ``--ray`` is asked for; ``pip install 'supportscope[ray]'``.
"""

from __future__ import annotations

from supportscope.config_checks import check_fields
from supportscope.errors import ConfigError, WorkerLostError

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from supportscope.models.config import DecodingConfig, Policy
from supportscope.scale.jobs import Progress, SampleWork, ScoreWork, Write, sample_work_rows, score_work_rows
from supportscope.tasks import Task

BackendFactory = Callable[[Policy], Any]
#: on_event(event, unit_key, actor): "dispatched" when a unit is sent to an actor, "done" when its rows
#: came back (before they are written), "died" when the actor holding it died. Tests kill actors here.
OnEvent = Callable[[str, str, Any], None]


@dataclass
class RayConfig:
    """Whether and where to run a job's units over Ray. Values are checked at construction
    (:meth:`validate`); a bad one raises ConfigError naming the field (the CLI spells it as the flag,
    ``--ray-workers``)."""

    ray: bool = field(default=False, metadata={"help": "Run the job's units on a Ray cluster: one backend "
                                                       "replica per worker (one GPU each when the cluster has "
                                                       "GPUs and --device is not cpu); this process writes "
                                                       "the run directory, the same as without --ray."})
    ray_address: str | None = field(default=None, metadata={"help": "Ray cluster to join: auto (the one "
                                                                    "`ray start` runs on this machine) or "
                                                                    "HOST:PORT. Default: start a local one "
                                                                    "for this command."})
    ray_workers: int | None = field(default=None, metadata={"help": "Backend replicas (Ray actors). Default: "
                                                                    "the cluster's GPUs when the model runs "
                                                                    "on GPU, else 2.",
                                                            "min": 1, "max": 2**16, "example": 2})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the field when a value cannot work. Runs at construction (and
        ``dataclasses.replace``); call it again after changing a field in place."""
        check_fields(self)
        if not self.ray and (self.ray_address is not None or self.ray_workers is not None):
            given = "`ray_address`" if self.ray_address is not None else "`ray_workers`"
            raise ConfigError(f"{given} is set but `ray` is not. Fix: add `ray` (or drop {given})")

    def to_dict(self) -> dict:
        return asdict(self)




def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs the ray package, which is not installed. "
                          "Fix: pip install 'supportscope[ray]' (or pip install ray)") from None
    return ray


@contextmanager
def ray_session(cfg: RayConfig, num_cpus: int | None = None):
    """Connect to ``cfg.ray_address`` or start a local cluster, unless Ray is already up in this process
    (then it is reused and left running). Shuts down only what it started. Yields the ray module."""
    ray = _import_ray()
    if ray.is_initialized():
        yield ray
        return
    kw: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    if cfg.ray_address is None:  # "local": a new cluster even when RAY_ADDRESS names another one
        kw["num_cpus"] = max(os.cpu_count() or 1, num_cpus or cfg.ray_workers or 2)
    try:
        ray.init(address=cfg.ray_address or "local", **kw)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ConfigError(f"--ray-address {cfg.ray_address}: cannot join the Ray cluster ({' '.join(str(e).split())}). "
                          "Fix: start one with `ray start --head` (then --ray-address auto), or leave "
                          "--ray-address out for a local cluster") from None
    try:
        yield ray
    finally:
        ray.shutdown()


class Replica:
    """One backend replica (the body of a Ray actor). A failure to build the backend is kept and
    raised by ``ready()``, as an ordinary task error the driver can show as it is."""

    def __init__(self, policy: Policy, make_backend: BackendFactory,
                 references: dict[str, Policy] | None = None) -> None:
        self._make = make_backend
        self._ref_policies = {g: self._placed(p) for g, p in (references or {}).items()}
        self._refs: dict[str, Any] = {}
        self._encoded: dict[str, dict[str, list[int]]] = {}
        self._error: BaseException | None = None
        try:
            self.backend = make_backend(self._placed(policy))
        except Exception as e:  # noqa: BLE001 - re-raised by ready()
            self._error = e

    @staticmethod
    def _placed(policy: Policy) -> Policy:
        """On a GPU actor Ray sets CUDA_VISIBLE_DEVICES to its one GPU, which is then cuda:0."""
        if policy.device != "cpu" and os.environ.get("CUDA_VISIBLE_DEVICES", "").strip() not in ("", "-1"):
            return replace(policy, device="cuda")
        return policy

    def ready(self) -> int:
        if self._error is not None:
            raise self._error
        return os.getpid()

    def tokenizer_fingerprint(self) -> str:
        self.ready()
        return self.backend.tokenizer_fingerprint()

    def sample(self, work: SampleWork, decoding: DecodingConfig, task: Task, name: str,
               batch_size: int) -> list[dict]:
        return sample_work_rows(self.backend, work, decoding, task, name, batch_size)

    def score(self, work: ScoreWork, scorer: str, batch_size: int) -> list[dict]:
        ref = None
        if self._ref_policies:
            if work.generator not in self._refs:
                self._refs[work.generator] = self._make(self._ref_policies[work.generator])
            ref = self._refs[work.generator]
        return score_work_rows(self.backend, work, scorer, ref, batch_size,
                               encoded=self._encoded.setdefault(work.generator, {}))


class RayExecutor:
    """``scale.jobs.UnitExecutor`` over Ray actors (see the module docstring). Use as a context manager:

        with RayExecutor(RayConfig(ray=True, ray_workers=2), policy, make_backend) as ex:
            sample_job(store, None, name, policy, decoding, task, n, executor=ex, progress=advance)

    ``references`` (generator name -> Policy) loads those models in every actor for the exact KL when
    scoring (``kl`` is then True). Ray is started (or joined) on entry unless already up, and shut down
    on exit only if it was started here.
    """

    def __init__(self, cfg: RayConfig, policy: Policy, make_backend: BackendFactory,
                 references: dict[str, Policy] | None = None, on_event: OnEvent | None = None,
                 max_attempts: int = 3, max_restarts: int | None = None) -> None:
        self.cfg, self.policy, self.make_backend = cfg, policy, make_backend
        self.references = dict(references) if references else None
        self.kl = bool(references)
        self.on_event = on_event
        self.max_attempts = max_attempts
        self.max_restarts = max_restarts
        self.workers = 0
        self.use_gpu = False
        self.restarts = 0
        self._ray: Any = None
        self._session = None
        self._actor_cls: Any = None
        self._idle: deque = deque()
        self._starting: dict = {}  # ready() ref -> actor
        self._actors: list = []
        self._fingerprint: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def __enter__(self) -> "RayExecutor":
        self._session = ray_session(self.cfg)
        ray = self._ray = self._session.__enter__()
        try:
            res = ray.cluster_resources()
            gpus, cpus = int(res.get("GPU", 0)), int(res.get("CPU", 0))
            if self.policy.device.startswith("cuda") and not gpus:
                raise ConfigError(f"--device {self.policy.device} but the Ray cluster has no GPU. Fix: start "
                                  "the cluster on GPU machines, or use --device auto or cpu")
            self.use_gpu = self.policy.device != "cpu" and gpus > 0
            self.workers = self.cfg.ray_workers or (gpus if self.use_gpu else 2)
            have, what = (gpus, "GPUs") if self.use_gpu else (cpus, "CPUs")
            if self.workers > have:
                raise ConfigError(f"--ray-workers {self.workers} needs {self.workers} {what} but the Ray cluster "
                                  f"has {have}. Fix: --ray-workers {max(1, have)}, or add nodes to the cluster")
            free = int(ray.available_resources().get("GPU" if self.use_gpu else "CPU", 0))
            if free < self.workers:
                logging.getLogger(__name__).warning(
                    "the Ray cluster has %d of %d %s free now; the workers start as others free them",
                    free, have, what)
            if self.max_restarts is None:
                self.max_restarts = 2 * self.workers + 2
            self._actor_cls = ray.remote(num_cpus=1, num_gpus=1 if self.use_gpu else 0, max_restarts=0,
                                         max_task_retries=0)(Replica)
            for _ in range(self.workers):
                self._start_actor()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        ray = self._ray
        if ray is not None:
            for a in self._actors:
                try:
                    ray.kill(a)
                except Exception:  # noqa: BLE001 - already gone
                    pass
        self._actors, self._idle, self._starting = [], deque(), {}
        if self._session is not None:
            session, self._session = self._session, None
            session.__exit__(None, None, None)

    def _start_actor(self) -> None:
        a = self._actor_cls.remote(self.policy, self.make_backend, self.references)
        self._actors.append(a)
        self._starting[a.ready.remote()] = a

    def _replace(self, actor: Any, why: BaseException) -> None:
        self.restarts += 1
        if self.restarts > self.max_restarts:
            raise WorkerLostError(f"Ray workers died {self.restarts} times (last: {_first_line(why)}); the shards "
                                  "written so far are kept. Fix: look at the Ray logs (out of memory?), then "
                                  "rerun the same command to resume") from None
        try:
            self._ray.kill(actor)
        except Exception:  # noqa: BLE001
            pass
        if actor in self._actors:
            self._actors.remove(actor)
        self._start_actor()

    # -- UnitExecutor ----------------------------------------------------------------------------------
    def tokenizer_fingerprint(self) -> str:
        if self._fingerprint is None:
            self._await_one_ready()
            actor = self._idle[0]
            self._fingerprint = self._get(actor.tokenizer_fingerprint.remote())
        return self._fingerprint

    def run_samples(self, works: Iterable[SampleWork], decoding: DecodingConfig, task: Task, name: str,
                    batch_size: int, write: Write, progress: Progress | None = None) -> None:
        task_ref = self._ray.put(task)  # shipped once, not with every unit
        self._run(works, lambda a, w: a.sample.remote(w, decoding, task_ref, name, batch_size), write, progress)

    def run_scores(self, works: Iterable[ScoreWork], scorer: str, batch_size: int, write: Write,
                   progress: Progress | None = None) -> None:
        self._run(works, lambda a, w: a.score.remote(w, scorer, batch_size), write, progress)

    # -- the loop --------------------------------------------------------------------------------------
    def _get(self, ref: Any) -> Any:
        """ray.get, with an error raised in the actor re-raised as itself (one-line CLI errors stay so)."""
        ray = self._ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as e:
            cause = getattr(e, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from None
            raise

    def _lost(self) -> tuple[type, ...]:
        ex = self._ray.exceptions
        return tuple(getattr(ex, n) for n in ("RayActorError", "ActorDiedError", "WorkerCrashedError",
                                              "NodeDiedError", "ObjectLostError", "ActorUnavailableError")
                     if hasattr(ex, n))

    def _await_one_ready(self) -> None:
        """Block until an actor is idle (an actor that dies while starting is replaced)."""
        lost = self._lost()
        while not self._idle:
            if not self._starting:
                raise WorkerLostError("no Ray worker is left. Fix: rerun the same command to resume")
            ready, _ = self._ray.wait(list(self._starting), num_returns=1)
            actor = self._starting.pop(ready[0])
            try:
                self._get(ready[0])
            except lost as e:
                self._replace(actor, e)
                continue
            self._idle.append(actor)

    def _event(self, what: str, key: str, actor: Any) -> None:
        if self.on_event is not None:
            self.on_event(what, key, actor)

    def _run(self, works: Iterable, call: Callable[[Any, Any], Any], write: Write,
             progress: Progress | None) -> None:
        ray, lost = self._ray, self._lost()
        todo: Iterator = iter(works)
        retry: deque = deque()
        attempts: dict[str, int] = {}
        inflight: dict = {}  # result ref -> (actor, work)
        exhausted = False
        while True:
            while self._idle and (retry or not exhausted):
                if retry:
                    work = retry.popleft()
                else:
                    work = next(todo, None)
                    if work is None:
                        exhausted = True
                        break
                actor = self._idle.popleft()
                inflight[call(actor, work)] = (actor, work)
                self._event("dispatched", work.key, actor)
            if not inflight and exhausted and not retry:
                return
            waiting = list(inflight) + list(self._starting)
            if not waiting:
                raise WorkerLostError("no Ray worker is left. Fix: rerun the same command to resume")
            ready, _ = ray.wait(waiting, num_returns=1)
            ref = ready[0]
            if ref in self._starting:
                actor = self._starting.pop(ref)
                try:
                    self._get(ref)
                except lost as e:
                    self._replace(actor, e)
                    continue
                self._idle.append(actor)
                continue
            actor, work = inflight.pop(ref)
            try:
                rows = self._get(ref)
            except lost as e:
                self._event("died", work.key, actor)
                attempts[work.key] = attempts.get(work.key, 0) + 1
                if attempts[work.key] >= self.max_attempts:
                    raise WorkerLostError(f"unit {work.key} lost its Ray worker {attempts[work.key]} times (last: "
                                          f"{_first_line(e)}); the shards written so far are kept. Fix: look at "
                                          "the Ray logs (out of memory?), then rerun to resume") from None
                retry.appendleft(work)
                if isinstance(e, ray.exceptions.ObjectLostError):
                    self._idle.append(actor)  # the result was lost, not necessarily the actor
                else:
                    self._replace(actor, e)
                continue
            self._event("done", work.key, actor)
            write(work, rows)
            if progress:
                progress(work.size)
            self._idle.append(actor)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


__all__ = ["RayConfig", "RayExecutor", "Replica", "WorkerLostError", "ray_session"]
