"""Pretraining the organism on its corpus: a seeded AdamW loop on the CPU.

``pretrain(corpus_cfg, train_cfg, out_dir)`` writes to ``out_dir``: ``model.safetensors`` +
``config.json`` + ``generation_config.json`` (save_pretrained, safetensors), the tokenizer files,
``corpus_config.json``, ``train_config.json`` and ``train_log.jsonl`` (one ``{"step", "loss",
"lr"}`` per logged step, plus a final ``{"done": ..., "seconds": ...}`` line).

Each corpus line is one sequence ``prompt answer </s>`` (right-padded; the loss is the mean
next-token cross-entropy over every real position except the environment's replies ``<...>`` of
the corpus's tool and feedback transcripts, which are context only). Batches are drawn uniformly with a seeded
generator; the learning rate warms up linearly, then decays on a cosine to ``lr * final_lr_frac``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from supportscope.config_checks import SEED, check_fields
from supportscope.errors import ConfigError

from .corpus import CorpusConfig, corpus_lines


#: Most parameters of an organism model: it trains on the CPU (AdamW keeps three more copies).
MAX_PARAMS = 10**8


@dataclass
class TrainConfig:
    """Pretraining settings; values are checked at construction (:meth:`validate`), a bad one raising
    ConfigError naming the field (the CLI spells it as the flag, ``--hidden-size``)."""

    steps: int = field(default=1500, metadata={"help": "Optimiser steps.", "min": 1, "max": 10**7})
    batch: int = field(default=256, metadata={"help": "Corpus lines per step.", "min": 1, "max": 2**16})
    lr: float = field(default=3e-3, metadata={"help": "Peak AdamW learning rate.", "min": 0, "max": 10})
    warmup: int = field(default=100, metadata={"help": "Linear warm-up steps.", "min": 0, "max": 10**7})
    final_lr_frac: float = field(default=0.05, metadata={"help": "Final learning rate as a fraction of lr (cosine).",
                                                         "min": 0, "max": 1})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay.", "min": 0, "max": 10})
    seed: int = field(default=0, metadata={"help": "Seed of the initial weights and of the batch order.", **SEED})
    hidden_size: int = field(default=128, metadata={"help": "Model width (a multiple of --heads, with an even "
                                                            "width per head).", "min": 2, "max": 8192})
    layers: int = field(default=4, metadata={"help": "Transformer layers.", "min": 1, "max": 256})
    heads: int = field(default=4, metadata={"help": "Attention heads.", "min": 1, "max": 1024})
    kv_heads: int = field(default=2, metadata={"help": "Key/value heads (grouped-query attention; divides "
                                                       "--heads).", "min": 1, "max": 1024})
    intermediate_size: int = field(default=384, metadata={"help": "MLP width.", "min": 1, "max": 65536})
    threads: int = field(default=2, metadata={"help": "torch CPU threads while training.", "min": 1, "max": 1024})
    log_every: int = field(default=25, metadata={"help": "Steps between train_log.jsonl lines.",
                                                 "min": 1, "max": 10**7})

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the field when a value cannot work (before any training starts)."""
        check_fields(self)
        if self.lr <= 0:
            raise ConfigError(f"`lr` {self.lr} must be > 0. Fix: e.g. `lr` 0.003")
        if self.hidden_size % self.heads or (self.hidden_size // self.heads) % 2:
            raise ConfigError(f"`hidden_size` {self.hidden_size} is not `heads` {self.heads} times an even head "
                              f"width (rotary position embeddings). Fix: use e.g. `hidden_size` {16 * self.heads}")
        if self.heads % self.kv_heads:
            raise ConfigError(f"`kv_heads` {self.kv_heads} does not divide `heads` {self.heads} (grouped-query "
                              f"attention). Fix: use e.g. `kv_heads` 1")
        params = self.n_params()
        if params > MAX_PARAMS:
            raise ConfigError(f"`hidden_size` {self.hidden_size}, `layers` {self.layers} and `intermediate_size` "
                              f"{self.intermediate_size} make about {params:,} parameters, more than {MAX_PARAMS:,} "
                              "(the organism trains on the CPU). Fix: lower them, e.g. `hidden_size` 128")

    def n_params(self, vocab: int = 64) -> int:
        """About how many parameters the Llama model of this config has (tied embeddings)."""
        h, kv = self.hidden_size, self.hidden_size // self.heads * self.kv_heads
        return self.layers * (2 * h * h + 2 * h * kv + 3 * h * self.intermediate_size + 2 * h) + vocab * h + h

    def to_dict(self) -> dict:
        return asdict(self)


def _lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    lo = cfg.lr * cfg.final_lr_frac
    return lo + 0.5 * (cfg.lr - lo) * (1 + math.cos(math.pi * min(1.0, t)))


def pretrain(corpus_cfg: CorpusConfig | None = None, train_cfg: TrainConfig | None = None,
             out_dir: str | Path = "organism-checkpoint", *, progress: bool = True) -> Path:
    """Train the organism from scratch and save it to ``out_dir`` (see the module docstring)."""
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from .model import encode_transcript, organism_model, organism_tokenizer

    corpus_cfg = corpus_cfg or CorpusConfig()
    train_cfg = train_cfg or TrainConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, train_cfg.threads))
    try:
        tok = organism_tokenizer()
        lines = corpus_lines(corpus_cfg)
        eos = int(tok.eos_token_id)
        coded = [encode_transcript(tok, s) for s in lines]
        seqs = [c[0] + [eos] for c in coded]
        length = max(map(len, seqs))
        ids = torch.full((len(seqs), length), eos, dtype=torch.long)
        mask = torch.zeros((len(seqs), length), dtype=torch.long)
        labels = torch.full((len(seqs), length), -100, dtype=torch.long)
        for i, (s, (_, pol)) in enumerate(zip(seqs, coded)):
            ids[i, :len(s)] = torch.tensor(s)
            mask[i, :len(s)] = 1
            keep = torch.tensor(pol + [1], dtype=torch.bool)  # environment replies are never targets
            labels[i, :len(s)] = torch.where(keep, ids[i, :len(s)], -100)

        model = organism_model(tok, seed=train_cfg.seed, hidden_size=train_cfg.hidden_size, layers=train_cfg.layers,
                               heads=train_cfg.heads, kv_heads=train_cfg.kv_heads,
                               intermediate_size=train_cfg.intermediate_size)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=train_cfg.lr, betas=(0.9, 0.98),
                                weight_decay=train_cfg.weight_decay)
        gen = torch.Generator().manual_seed(train_cfg.seed)
        log = (out / "train_log.jsonl").open("w")
        t0 = time.perf_counter()
        n_tok, ema = 0, None
        columns = [TextColumn("pretrain"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("{task.fields[tps]:,.0f} tok/s"),
                   TimeElapsedColumn(), TimeRemainingColumn()]
        with Progress(*columns, disable=not progress, transient=False) as bar:
            task = bar.add_task("pretrain", total=train_cfg.steps, loss=float("nan"), tps=0.0)
            for step in range(train_cfg.steps):
                lr = _lr_at(step, train_cfg)
                for g in opt.param_groups:
                    g["lr"] = lr
                idx = torch.randint(0, len(seqs), (train_cfg.batch,), generator=gen)
                m = mask[idx]
                width = int(m.sum(1).max())
                loss = model(input_ids=ids[idx, :width], attention_mask=m[:, :width],
                             labels=labels[idx, :width]).loss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                n_tok += int(m.sum())
                val = float(loss.detach())
                ema = val if ema is None else 0.95 * ema + 0.05 * val
                if step % train_cfg.log_every == 0 or step == train_cfg.steps - 1:
                    log.write(json.dumps({"step": step, "loss": round(val, 6), "lr": lr}) + "\n")
                bar.update(task, advance=1, loss=ema, tps=n_tok / max(1e-9, time.perf_counter() - t0))
        seconds = time.perf_counter() - t0
        log.write(json.dumps({"done": train_cfg.steps, "seconds": round(seconds, 2), "tokens": n_tok}) + "\n")
        log.close()
        model.eval()
        model.save_pretrained(out, safe_serialization=True)
        tok.save_pretrained(out)
        corpus_cfg.save(out / "corpus_config.json")
        (out / "train_config.json").write_text(json.dumps(train_cfg.to_dict(), indent=2) + "\n")
    finally:
        torch.set_num_threads(old_threads)
    return out


def load_organism(path: str | Path) -> tuple[Any, Any, CorpusConfig]:
    """(model, tokenizer, corpus config) of a checkpoint written by :func:`pretrain`."""
    from transformers import AutoTokenizer, LlamaForCausalLM

    path = Path(path)
    model = LlamaForCausalLM.from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    return model, tok, CorpusConfig.load(path / "corpus_config.json")


__all__ = ["TrainConfig", "pretrain", "load_organism"]
