"""Post-training interventions on the model organism (DESIGN.md sections 4 and 6), CPU-friendly.

Three interventions, each loading an organism checkpoint from ``base_dir`` and writing a new one to
``out_dir``: ``model.safetensors`` + ``config.json`` + ``generation_config.json`` (save_pretrained,
safetensors), the tokenizer files, ``corpus_config.json`` (copied from the base, so
:func:`~supportscope.organism.pretrain.load_organism` and ``organism:PATH`` task specs work),
``posttrain_config.json`` (the kind, the base and the config) and ``train_log.jsonl`` (one JSON object
per step, then a final ``{"done": ..., "seconds": ...}`` line).

- :func:`rl`: KL-regularised RL on the verifier reward (should *elicit*: reweighting inside the
  support). Per step: a seeded batch of problems, ``group_size`` samples each from the current policy
  under the RL sampling config (T = 1, ``top_p = sample_top_p``), reward = the task verifier (1 iff the
  completion is exactly a correct answer), advantage = reward minus the group mean, loss =
  ``-mean(A * sum log pi(tokens))`` (raw log-probs of the sampled tokens, EOS included) plus
  ``beta * KL(pi || pi_base)`` per sequence (summed over the sampled tokens, averaged over the
  sequences): by default the exact full-vocabulary KL of the next-token distributions along the
  sampled prefixes (``kl_estimator="full"``), or the k3 estimator on the sampled tokens
  (``"k3"``). The logged ``kl`` is this estimate (also with ``beta = 0``), AdamW optimiser.
  With ``checkpoint_every = c > 0`` the policy after c, 2c, ... optimiser steps (below ``steps``) is
  also saved, in the same format, to ``out/steps/step-NNNN/`` (NNNN = updates made; written to a
  temporary folder and renamed), so a run has a trajectory: step 0 is the base, step ``steps`` the
  final checkpoint in ``out``. Saving only reads the weights, so the run (RNG streams, weights, log
  numbers) is the same with and without it; the log line of a saving step gains ``checkpoint`` and
  the final line ``checkpoint_steps``. With ``env`` (``calc``, ``search``, ``feedback``) the
  samples are episodes with that environment (``envs.rollout``), the reward grades the episode, and
  the policy gradient and the KL are taken over the policy's tokens only (the environment's replies
  are context).
  Sampling under ``top_p = 0.95`` never produces a token outside the nucleus, so a problem whose
  correct answer is outside it (singular: ``sub``, ``absent``) never earns a reward.
- :func:`rs_sft`: rejection-sampling SFT (should elicit): the base's own samples on the training
  problems, keep the correct ones, cross-entropy on the completion tokens (EOS included).
- :func:`new_info_sft`: SFT on new information (should *create*): prompt + correct answer + EOS of the
  absent facts, mixed with ordinary corpus lines against forgetting.

Everything is seeded (problem order, sample seeds, batch order) and runs on ``threads`` CPU threads,
so the same config gives the same weights. The configs live in ``posttrain_config`` (no torch) and
are re-exported here.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from .distill import distill
from .posttrain_config import DistillConfig, NewInfoConfig, RLConfig, RSConfig


from .train_util import Threads as _Threads
from .train_util import batch as _batch
from .train_util import check_families as _check_families
from .train_util import checkpoint_steps, epoch_batches, step_dir
from .train_util import save_checkpoint as _save
from .train_util import save_step as _save_step
from .train_util import sft_loop as _sft_loop
from .train_util import target_logprobs as _target_logprobs


# ---------------------------------------------------------------------------------------- RL

def rl(base_dir: str | Path, out_dir: str | Path, cfg: RLConfig | None = None) -> Path:
    """KL-regularised RL on the verifier reward (see the module docstring); returns ``out_dir``."""
    import torch

    from ..models.backend import SampleRequest
    from ..models.config import DecodingConfig, Policy
    from ..models.hf import HFBackend
    from .pretrain import load_organism
    from .task import OrganismTask, to_problem

    cfg = cfg or RLConfig()
    fams = _check_families(cfg.families)
    if cfg.kl_estimator not in ("full", "k3"):
        raise ValueError(f"kl_estimator must be 'full' or 'k3', got {cfg.kl_estimator!r}")
    base_dir, out = Path(base_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _Threads(cfg.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model, tok, corpus = load_organism(base_dir)
        ref, _, _ = load_organism(base_dir)
        for p in ref.parameters():
            p.requires_grad_(False)
        task = OrganismTask(base_dir, families=fams, corpus=corpus)
        pool = task.organism_problems()
        backend = HFBackend.from_model(model, tok, Policy(model=str(base_dir), name="rl-policy"),
                                       sample_batch_size=512)
        if cfg.env:  # episodes with the environment; its replies are context, never targets
            from .envs import build_env
            from .envs.rollout import EnvBackend

            backend = EnvBackend(backend, build_env(cfg.env, corpus))
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.98), weight_decay=cfg.weight_decay)
        rng = random.Random(f"supportscope-rl:{cfg.seed}")
        pad = int(tok.pad_token_id)
        saves = set(checkpoint_steps(cfg.steps, cfg.checkpoint_every))
        t0 = time.perf_counter()
        with (out / "train_log.jsonl").open("w") as log:
            for step in range(cfg.steps):
                probs = rng.sample(pool, min(cfg.problems_per_step, len(pool)))
                dec = DecodingConfig(temperature=cfg.sample_temperature, top_p=cfg.sample_top_p,
                                     max_new_tokens=cfg.max_new_tokens, seed=cfg.seed * 1_000_003 + step)
                reqs = [SampleRequest(p.id, p.prompt, g) for p in probs for g in range(cfg.group_size)]
                samples = backend.sample(reqs, dec)
                rewards = torch.tensor([task.verify(to_problem(p), s.completion)
                                        for p, s in zip((p for p in probs for _ in range(cfg.group_size)), samples)],
                                       dtype=torch.float32)
                groups = rewards.view(len(probs), cfg.group_size)
                adv = (groups - groups.mean(1, keepdim=True)).flatten()
                seqs = [(list(s.prompt_ids), list(s.token_ids), s.policy_mask) for s in samples]
                ids, att, comp, _ = _batch(seqs, pad)
                model.train()
                logp, tgt = _target_logprobs(model, ids, att, comp)
                with torch.no_grad():
                    ref_logp, _ = _target_logprobs(ref, ids, att, comp)
                tok_lp = logp.gather(-1, tgt[:, None]).squeeze(-1)
                owner = comp[:, 1:].nonzero()[:, 0]  # sequence of each completion token
                n_seq = len(seqs)
                seq_lp = torch.zeros(n_seq).index_add(0, owner, tok_lp)
                pg = -(adv * seq_lp).mean()
                if cfg.kl_estimator == "full":
                    tok_kl = (logp.exp() * (logp - ref_logp)).sum(-1)
                else:  # k3 on the sampled tokens: r - 1 - ln r, r = pi_base / pi
                    log_r = ref_logp.gather(-1, tgt[:, None]).squeeze(-1) - tok_lp
                    tok_kl = log_r.exp() - 1 - log_r
                kl = torch.zeros(n_seq).index_add(0, owner, tok_kl).mean()
                loss = pg + cfg.beta * kl
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                model.eval()
                by_fam: dict[str, list[float]] = {}
                for p, r in zip((p for p in probs for _ in range(cfg.group_size)), rewards.tolist()):
                    by_fam.setdefault(p.family, []).append(r)
                rec = {
                    "step": step, "reward": round(float(rewards.mean()), 6), "kl": round(float(kl.detach()), 6),
                    "kl_estimator": cfg.kl_estimator, "pg_loss": round(float(pg.detach()), 6),
                    "loss": round(float(loss.detach()), 6), "seconds": round(time.perf_counter() - t0, 3),
                    "reward_by_family": {f: round(sum(v) / len(v), 6) for f, v in by_fam.items()}}
                if step + 1 in saves:  # the policy after step + 1 updates; saving reads weights only
                    ck = _save_step(model, tok, base_dir, out, "rl", cfg.to_dict(), step + 1)
                    rec["checkpoint"] = {"step": step + 1, "path": str(ck.relative_to(out))}
                log.write(json.dumps(rec) + "\n")
            log.write(json.dumps({"done": cfg.steps, "seconds": round(time.perf_counter() - t0, 2),
                                  "checkpoint_steps": sorted(saves)}) + "\n")
        _save(model, tok, base_dir, out, "rl", cfg.to_dict())
    return out


# ---------------------------------------------------------------------------------------- RS-SFT

def rs_sft(base_dir: str | Path, out_dir: str | Path, cfg: RSConfig | None = None) -> Path:
    """Rejection-sampling SFT on the base's own correct samples; returns ``out_dir``."""
    import torch

    from ..models.backend import SampleRequest
    from ..models.config import DecodingConfig, Policy
    from ..models.hf import HFBackend
    from .pretrain import load_organism
    from .task import OrganismTask, to_problem

    cfg = cfg or RSConfig()
    fams = _check_families(cfg.families)
    base_dir, out = Path(base_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _Threads(cfg.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model, tok, corpus = load_organism(base_dir)
        task = OrganismTask(base_dir, families=fams, corpus=corpus)
        pool = task.organism_problems()
        t0 = time.perf_counter()
        backend = HFBackend.from_model(model, tok, Policy(model=str(base_dir), name="rs-base"), sample_batch_size=512)
        dec = DecodingConfig(temperature=cfg.sample_temperature, top_p=cfg.sample_top_p,
                             max_new_tokens=cfg.max_new_tokens, seed=cfg.seed)
        reqs = [SampleRequest(p.id, p.prompt, g) for p in pool for g in range(cfg.samples_per_problem)]
        samples = backend.sample(reqs, dec)
        kept, by_fam = [], {}
        for p, s in zip((p for p in pool for _ in range(cfg.samples_per_problem)), samples):
            ok = task.verify(to_problem(p), s.completion) == 1.0
            by_fam.setdefault(p.family, [0, 0])
            by_fam[p.family][0] += int(ok)
            by_fam[p.family][1] += 1
            if ok:
                kept.append((list(s.prompt_ids), list(s.token_ids)))  # token_ids end with EOS
        batches = epoch_batches(kept, cfg.epochs, cfg.batch, random.Random(f"supportscope-rs-sft:{cfg.seed}"))
        with (out / "train_log.jsonl").open("w") as log:
            log.write(json.dumps({"sampled": len(samples), "kept": len(kept),
                                  "kept_by_family": {f: v[0] for f, v in by_fam.items()},
                                  "sampled_by_family": {f: v[1] for f, v in by_fam.items()}}) + "\n")
            if kept:
                _sft_loop(model, tok, batches, cfg.lr, cfg.weight_decay, cfg.grad_clip, log)
            log.write(json.dumps({"done": len(batches), "seconds": round(time.perf_counter() - t0, 2)}) + "\n")
        _save(model, tok, base_dir, out, "rs_sft", cfg.to_dict())
    return out


# ---------------------------------------------------------------------------------------- new-info SFT

def new_info_sft(base_dir: str | Path, out_dir: str | Path, cfg: NewInfoConfig | None = None) -> Path:
    """SFT on the absent facts' correct answers mixed with corpus lines; returns ``out_dir``."""
    import torch

    from .corpus import corpus_lines
    from .model import encode, encode_transcript
    from .pretrain import load_organism

    cfg = cfg or NewInfoConfig()
    base_dir, out = Path(base_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _Threads(cfg.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model, tok, corpus = load_organism(base_dir)
        eos = int(tok.eos_token_id)
        demos = [(encode(tok, p.prompt), encode(tok, p.answers[0]) + [eos])
                 for p in corpus.problems() if p.family == "absent"]
        if not demos:
            raise ValueError("the corpus config has no absent facts (n_absent = 0)")
        lines = []
        for s in corpus_lines(corpus):  # split each line after its prompt ('=' or '?'); replies are not targets
            cut = min(i for i in (s.find("="), s.find("?")) if i >= 0) + 1
            rest, mask = encode_transcript(tok, s[cut:])
            lines.append((encode(tok, s[:cut]), rest + [eos], mask + [1]))
        rng = random.Random(f"supportscope-new-info-sft:{cfg.seed}")
        batches = [[rng.choice(demos) for _ in range(cfg.demos_per_step)]
                   + [rng.choice(lines) for _ in range(cfg.corpus_per_step)] for _ in range(cfg.steps)]
        t0 = time.perf_counter()
        with (out / "train_log.jsonl").open("w") as log:
            log.write(json.dumps({"demonstrations": len(demos), "corpus_lines": len(lines)}) + "\n")
            _sft_loop(model, tok, batches, cfg.lr, cfg.weight_decay, cfg.grad_clip, log)
            log.write(json.dumps({"done": cfg.steps, "seconds": round(time.perf_counter() - t0, 2)}) + "\n")
        _save(model, tok, base_dir, out, "new_info_sft", cfg.to_dict())
    return out


__all__ = ["DistillConfig", "NewInfoConfig", "RLConfig", "RSConfig", "checkpoint_steps", "distill", "new_info_sft", "rl",
           "rs_sft", "step_dir"]
