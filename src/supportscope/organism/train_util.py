"""Pieces every organism training loop shares (``posttrain``, ``distill``): batching with a target
mask, teacher-forced log-probs, the SFT loop, checkpoint saving, thread settings.

A training sequence is ``(prompt ids, completion ids)`` or ``(prompt ids, completion ids, policy
mask)``: the loss and the KL are taken on the completion tokens whose mask is 1, so an
environment's reply (mask 0) is context only and never a target (issue 16).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

from .families import FAMILIES

def check_families(families: Sequence[str] | None) -> tuple[str, ...]:
    fams = tuple(families) if families else FAMILIES
    bad = sorted(set(fams) - set(FAMILIES))
    if bad:
        raise ValueError(f"unknown families {bad}; choose from {', '.join(FAMILIES)}")
    return fams


def batch(seqs: Sequence[tuple], pad: int) -> tuple[Any, Any, Any, list[int]]:
    """Right-padded (ids, attention mask, target mask, prompt lengths) of (prompt ids, completion ids[,
    policy mask]): the target mask is True at the completion's policy tokens."""
    import torch

    width = max(len(s[0]) + len(s[1]) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    att = torch.zeros((len(seqs), width), dtype=torch.long)
    comp = torch.zeros((len(seqs), width), dtype=torch.bool)  # completion token positions (targets)
    for i, seq in enumerate(seqs):
        p, c = seq[0], seq[1]
        n = len(p) + len(c)
        ids[i, :n] = torch.tensor(list(p) + list(c))
        att[i, :n] = 1
        comp[i, len(p):n] = True if len(seq) < 3 or seq[2] is None else torch.tensor(seq[2], dtype=torch.bool)
    return ids, att, comp, [len(s[0]) for s in seqs]


def target_logprobs(model: Any, ids: Any, att: Any, comp: Any) -> tuple[Any, Any]:
    """(log-softmax at every position predicting a completion token [n_tok, V], target ids [n_tok])."""
    import torch

    logits = model(input_ids=ids, attention_mask=att).logits.float()
    pred = comp[:, 1:]  # position t-1 predicts token t
    logp = torch.log_softmax(logits[:, :-1][pred], dim=-1)
    return logp, ids[:, 1:][pred]


def save_checkpoint(model: Any, tok: Any, base_dir: Path, out: Path, kind: str, cfg_dict: dict, **extra: Any) -> None:
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    shutil.copyfile(base_dir / "corpus_config.json", out / "corpus_config.json")
    (out / "posttrain_config.json").write_text(
        json.dumps({"kind": kind, "base": str(base_dir), "config": cfg_dict, **extra}, indent=2) + "\n")


def step_dir(out: str | Path, step: int) -> Path:
    """Folder of the intermediate checkpoint after ``step`` optimiser steps (``checkpoint_every``)."""
    return Path(out) / "steps" / f"step-{step:04d}"


def checkpoint_steps(steps: int, every: int) -> list[int]:
    """The steps :func:`rl` saves with ``checkpoint_every = every``: every, 2 every, ... below ``steps``
    (step 0 is the base, step ``steps`` the variant itself); none when ``every`` is 0."""
    return list(range(every, steps, every)) if every > 0 else []


def save_step(model: Any, tok: Any, base_dir: Path, out: Path, kind: str, cfg_dict: dict, step: int) -> Path:
    """Save an intermediate checkpoint atomically: written into a hidden temporary folder next to it,
    then renamed, so a folder named step-NNNN is always complete."""
    final = step_dir(out, step)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, tok, base_dir, tmp, kind, cfg_dict, step=step)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final


class Threads:
    def __init__(self, n: int) -> None:
        self.n = max(1, int(n))

    def __enter__(self) -> None:
        import torch

        self.old = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc: Any) -> None:
        import torch

        torch.set_num_threads(self.old)


def sft_loop(model: Any, tok: Any, batches: list[list[tuple]], lr: float,
              weight_decay: float, grad_clip: float, log: Any, extra: list[dict] | None = None) -> None:
    """Cross-entropy on the completion tokens, one optimiser step per batch, one log line per step."""
    import torch

    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=weight_decay)
    pad = int(tok.pad_token_id)
    for step, seqs in enumerate(batches):
        ids, att, comp, _ = batch(seqs, pad)
        logp, tgt = target_logprobs(model, ids, att, comp)
        loss = -logp.gather(-1, tgt[:, None]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        rec = {"step": step, "loss": round(float(loss.detach()), 6), "sequences": len(seqs)}
        if extra:
            rec.update(extra[step])
        log.write(json.dumps(rec) + "\n")
    model.eval()


def epoch_batches(seqs: list, epochs: int, size: int, rng: Any) -> list[list]:
    """``epochs`` passes over ``seqs``, each in a fresh ``rng.shuffle`` order, cut into batches of ``size``."""
    batches = []
    for _ in range(epochs):
        order = list(range(len(seqs)))
        rng.shuffle(order)
        batches += [[seqs[i] for i in order[s:s + size]] for s in range(0, len(order), size)]
    return batches


__all__ = ["Threads", "batch", "epoch_batches", "check_families", "checkpoint_steps", "save_checkpoint", "save_step", "sft_loop",
           "step_dir", "target_logprobs"]
