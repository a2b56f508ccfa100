"""Distillation on the organism (issue 16): SFT of the base on a *teacher's* samples.

``distill(base_dir, out_dir, cfg)``: the teacher (``cfg.teacher``, a checkpoint folder; empty = the
base itself) samples ``samples_per_problem`` completions of every training problem under its
sampling config (T, ``top_p = sample_top_p``); the student, initialised from the base, is trained by
cross-entropy on every sampled completion (no filtering: this is distillation, not rejection
sampling), ``epochs`` passes in seeded order. A teacher pretrained on a corpus where ``sub`` is
always answered correctly puts the correct answers of ``sub`` into the student's nucleus, where the
base has p = 0 under top_p = 0.95: new information brought by the teacher, so the support changes.
Self-distillation (teacher = base) only re-fits the base's own samples. The output folder has the
files every post-training intervention writes (``train_util.save_checkpoint``) and a train log whose
first line counts the teacher's correct samples per family.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from .posttrain_config import DistillConfig
from .train_util import Threads, check_families, epoch_batches, save_checkpoint, sft_loop


def distill(base_dir: str | Path, out_dir: str | Path, cfg: DistillConfig | None = None) -> Path:
    """SFT of the base on the teacher's samples (module docstring); returns ``out_dir``."""
    import torch

    from ..models.backend import SampleRequest
    from ..models.config import DecodingConfig, Policy
    from ..models.hf import HFBackend
    from .pretrain import load_organism
    from .task import OrganismTask, to_problem

    cfg = cfg or DistillConfig()
    fams = check_families(cfg.families)
    base_dir, out = Path(base_dir), Path(out_dir)
    teacher_dir = Path(cfg.teacher) if cfg.teacher else base_dir
    out.mkdir(parents=True, exist_ok=True)
    with Threads(cfg.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model, tok, corpus = load_organism(base_dir)
        teacher, ttok, _ = load_organism(teacher_dir)
        if ttok.get_vocab() != tok.get_vocab():
            raise ValueError(f"teacher {teacher_dir} and student {base_dir} have different tokenizers")
        task = OrganismTask(base_dir, families=fams, corpus=corpus)
        pool = task.organism_problems()
        t0 = time.perf_counter()
        backend = HFBackend.from_model(teacher, ttok, Policy(model=str(teacher_dir), name="teacher"),
                                       sample_batch_size=512)
        dec = DecodingConfig(temperature=cfg.sample_temperature, top_p=cfg.sample_top_p,
                             max_new_tokens=cfg.max_new_tokens, seed=cfg.seed)
        reqs = [SampleRequest(p.id, p.prompt, g) for p in pool for g in range(cfg.samples_per_problem)]
        samples = backend.sample(reqs, dec)
        del backend, teacher
        seqs, right, seen = [], {}, {}
        for p, s in zip((p for p in pool for _ in range(cfg.samples_per_problem)), samples, strict=True):
            seqs.append((list(s.prompt_ids), list(s.token_ids)))
            right[p.family] = right.get(p.family, 0) + int(task.verify(to_problem(p), s.completion) == 1.0)
            seen[p.family] = seen.get(p.family, 0) + 1
        batches = epoch_batches(seqs, cfg.epochs, cfg.batch, random.Random(f"supportscope-distill:{cfg.seed}"))
        with (out / "train_log.jsonl").open("w") as log:
            log.write(json.dumps({"teacher": str(teacher_dir), "sampled": len(samples),
                                  "teacher_correct_by_family": right, "sampled_by_family": seen}) + "\n")
            sft_loop(model, tok, batches, cfg.lr, cfg.weight_decay, cfg.grad_clip, log)
            log.write(json.dumps({"done": len(batches), "seconds": round(time.perf_counter() - t0, 2)}) + "\n")
        save_checkpoint(model, tok, base_dir, out, "distill", cfg.to_dict())
    return out


__all__ = ["DistillConfig", "distill"]
