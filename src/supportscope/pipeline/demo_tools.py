"""The demo's tool, interaction and distillation runs (issue 16), and the 2 x 2 account of a tool run.

For each environment E in ``DemoConfig.envs`` the demo post-trains ``rl-E`` (KL-regularised RL whose
samples are episodes with E) and samples four cells on the same problems:

============ ======================= ==================
             without the environment with it
============ ======================= ==================
base         ``base``                ``base+E``
tuned        ``rl-E``                ``rl-E+E``
============ ======================= ==================

and analyses four pairs (``OUT/tools/E/PAIR/``, each a pairwise analysis with the exact columns):

- ``environment`` = base vs base+E: what the environment alone does to the support (same weights,
  so the KL to the base along its episodes is 0 exactly: only policy tokens are scored);
- ``training`` = base+E vs rl-E+E: what training did with the environment available (does it elicit
  the use of the tool, or create);
- ``training_without_env`` = base vs rl-E: what the trained weights do when the tool is taken away;
- ``total`` = base vs rl-E+E: the whole gain of the run as a user measures it.

Each pair reports the estimated verdict and labels, the exact labels (exact p of policy +
environment, ``organism.exact_env``), the agreement and false-created rate, the verdict the exact
labels imply ("creation" when some problem is exactly created at K) and the KL to the pair's base
model along the tuned side's samples (policy tokens only).

The distillation variants (``distill-teacher``: SFT on the samples of a teacher organism pretrained
with ``sub`` always correct, packaged in ``organism/teacher``; ``distill-self``: the same with the
base as its own teacher) are ordinary variants analysed against the base.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from supportscope.pipeline.demo_many import BASE

PAIRS = ("environment", "training", "training_without_env", "total")


def env_model_names(env: str) -> tuple[str, str, str]:
    """(base with E, tuned, tuned with E) model names of environment E's cells."""
    return f"{BASE}+{env}", f"rl-{env}", f"rl-{env}+{env}"


def pair_models(env: str) -> dict[str, tuple[str, str]]:
    """The four pairs of the 2 x 2 account: name -> (base side, tuned side)."""
    be, t, te = env_model_names(env)
    return {"environment": (BASE, be), "training": (be, te), "training_without_env": (BASE, t), "total": (BASE, te)}


def env_cells(envs: list[str], paths: dict[str, Path]) -> dict[str, tuple[Path, str]]:
    """Model name -> (checkpoint, environment) of every cell sampled with an environment."""
    out = {}
    for e in envs:
        be, t, te = env_model_names(e)
        out[be] = (paths[BASE], e)
        out[te] = (paths[t], e)
    return out


def exact_env_all(models: dict, cells: dict, org: list, decoding, corpus) -> dict:
    """{model: {problem id: (p under pi_D with its environment, nan)}} for every environment cell, by
    ``organism.exact_env.exact_p_env`` (raw sampling is not enumerated: p raw is nan). ``models``: name ->
    (HF model, tokenizer). Raises when a branch had to be pruned (the sums are exact)."""
    from supportscope.organism.envs import build_env
    from supportscope.organism.exact_env import exact_p_env

    out = {}
    for name, (_, env) in cells.items():
        model, tok = models[name]
        r = exact_p_env(model, tok, org, build_env(env, corpus), decoding)
        assert not r.pruned.any(), name
        out[name] = {p.id: (float(x), float("nan")) for p, x in zip(org, r.p, strict=True)}
    return out


def _pair_digest(s: dict) -> dict:
    """What demo.json keeps of one pair's summary (its ``ground_truth`` block is ``exact_columns``')."""
    gt = s["ground_truth"]
    conf = gt["confusion"]
    exact_counts = dict(zip(conf["cols"], np.asarray(conf["counts"]).sum(0).tolist()))
    kl = s.get("kl") or {}
    lab = s["labels"]
    return {"verdict": s["verdict"]["kind"], "sentence": s["verdict"]["sentence"],
            "labels": {k: d["count"] for k, d in lab.items() if isinstance(d, dict) and "count" in d},
            "labels_exact": {k: int(v) for k, v in exact_counts.items() if v},
            "exact_verdict": "creation" if gt["n_created_exact"] else "no creation",
            "creation_claimed": bool(s["support_change"]["created"]["claimed"]),
            **{k: gt[k] for k in ("agreement", "false_created_rate", "n_determined", "n_created_exact",
                                  "n_created_estimated", "n_false_created", "by_family")},
            "kl_mean": (kl.get(kl.get("kl_observed") or "k1") or {}).get("mean"),
            "pass1": {k: s["passk"][0][k] for k in ("base", "tuned", "difference", "difference_lo", "difference_hi")}}


def tool_jobs(envs: list[str], out: Path, extra: dict) -> list:
    """The four pairs of every environment (module docstring) as analysis jobs into
    ``OUT/tools/E/PAIR``, environments in order, pairs in :data:`PAIRS` order."""
    from supportscope.pipeline.demo_pairs import PairJob

    return [PairJob(a, b, out / "tools" / e / pair, {**extra, "pair": {"name": pair, "base": a, "tuned": b, "env": e}})
            for e in envs for pair, (a, b) in pair_models(e).items()]


def tools_block(envs: list[str], summaries: list[dict]) -> dict:
    """The ``tools`` block of demo.json from the summaries of :func:`tool_jobs` (same order): per
    environment, per pair, the digest (estimated against exact), and the one-sentence reading."""
    block, it = {}, iter(summaries)
    for e in envs:
        rows = {}
        for pair, (a, b) in pair_models(e).items():
            rows[pair] = {"base": a, "tuned": b, **_pair_digest(next(it))}
        block[e] = {"pairs": rows, "reading": reading(rows)}
    return block


def reading(rows: dict) -> str:
    """One sentence per environment: which part created and which reweighted, and what KL each paid."""
    def part(name: str) -> str:
        r = rows[name]
        what = "created" if r["creation_claimed"] else "reweighted (no creation shown)"
        kl = r["kl_mean"]
        return f"{what}" + (f" at a KL of {kl:.3g} nats per problem" if kl is not None else "")

    return (f"the environment alone {part('environment')}; training with it {part('training')}; "
            f"the trained weights without it {part('training_without_env')}")


__all__ = ["PAIRS", "env_model_names", "pair_models", "env_cells", "exact_env_all", "tool_jobs", "tools_block", "reading"]
