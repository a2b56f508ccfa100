"""The demo's post-trained checkpoints: cached by what made them, trained in parallel processes.

A variant's checkpoint lies in the cache folder under ``NAME-HASH`` (:func:`checkpoint_key`). The
variants not cached are trained by a pool of ``min(threads, missing)`` spawned processes (no torch
state is forked), each with ``threads // workers`` torch threads (at least 1), the longest runs
(RL, then distillation) first. One organism RL step is about 1.5x slower on one thread than on
two, so two 1-thread processes on two cores train about 1.3x as many variants per second as one
2-thread process, less the ~6 s each process spends importing torch. Threads change speed, not
weights: they are not in the key, and ``tests/test_organism_posttrain.py::test_determinism``
trains on 2 threads and on 1 and compares the weights bit for bit. Each run writes into a
temporary folder that is then renamed, so an interrupted run leaves no half checkpoint (the
processes: ``process_pool``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

from supportscope.pipeline.analyse import sha256_file
from supportscope.pipeline.process_pool import map_in_processes
from supportscope.pipeline.progress import progress_bar


def checkpoint_key(v, base_dir: Path) -> str:
    """First 12 hex digits of sha256 of (kind, config without ``threads``, sha256 of the base weights):
    the cache key of the variant's checkpoint. The config includes ``checkpoint_every`` when it is not
    0, so a cached RL run without the trajectory checkpoints is not taken for one with them, and a
    run without them keeps the key it had before the field existed (and likewise ``env``); a
    distillation teacher enters by the sha256 of its weights."""
    cfg = v.config.to_dict()
    cfg.pop("threads", None)  # threads change speed, not weights
    if not cfg.get("checkpoint_every", 1):
        cfg.pop("checkpoint_every")
    if not cfg.get("env", 1):
        cfg.pop("env")
    if cfg.get("teacher"):  # the teacher's weights, not where they lie
        cfg["teacher"] = sha256_file(Path(cfg["teacher"]) / "model.safetensors")
    return hashlib.sha256(json.dumps({"kind": v.kind, "config": cfg, "base": sha256_file(base_dir / "model.safetensors")},
                                     sort_keys=True).encode()).hexdigest()[:12]


def train_into(kind: str, config, base_dir: Path, final: Path) -> Path:
    """Post-train (``organism.posttrain.<kind>``) into a temporary folder beside ``final``, then rename
    it to ``final`` (unless another process made it meanwhile: same key, same weights)."""
    from transformers.utils import logging as hf_logging

    from supportscope.organism import posttrain

    hf_logging.disable_progress_bar()  # a spawned process starts with transformers' loading bars on
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    getattr(posttrain, kind)(base_dir, tmp, config)
    if final.exists():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        os.replace(tmp, final)
    return final


def _done(path: Path) -> bool:
    return (path / "model.safetensors").is_file() and (path / "posttrain_config.json").is_file()


_LONGEST_FIRST = {"rl": 0, "distill": 1, "new_info_sft": 2, "rs_sft": 3}


def checkpoints(vs: list, base_dir: Path, cache: Path, threads: int) -> tuple[dict, dict]:
    """({name: checkpoint folder}, {name: was cached}) of the variants ``vs``, training the missing
    ones in ``min(threads, missing)`` processes (1: here), with a progress bar."""
    finals = {v.name: cache / f"{v.name}-{checkpoint_key(v, base_dir)}" for v in vs}
    cached = {v.name: _done(finals[v.name]) for v in vs}
    todo = sorted((v for v in vs if not cached[v.name]),
                  key=lambda v: (_LONGEST_FIRST.get(v.kind, 0), not getattr(v.config, "env", None)))
    if not todo:
        return finals, cached
    cache.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(int(threads), len(todo)))
    each = max(1, int(threads) // workers)
    with progress_bar(f"post-training {len(todo)} variants in {workers} process(es)", len(todo),
                      unit="variants") as adv:
        calls = [(v.kind, replace(v.config, threads=each), base_dir, finals[v.name]) for v in todo]
        if workers > 1 and map_in_processes(train_into, calls, workers, adv, "post-training") is not None:
            return finals, cached
        for v in todo:
            if not _done(finals[v.name]):  # (after a failed pool: the ones it did not finish)
                train_into(v.kind, replace(v.config, threads=threads), base_dir, finals[v.name])
                adv(1)
    return finals, cached


__all__ = ["checkpoint_key", "checkpoints", "train_into"]
