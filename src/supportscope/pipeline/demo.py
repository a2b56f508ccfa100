"""`supportscope demo`: the whole tool on the model organism, checked against exact ground truth.

Steps (everything under one output folder OUT; every step resumes or reuses what exists):

1. Post-training (``organism.posttrain``) of the packaged base checkpoint into the variants
   ``rl-beta{b}`` (KL-regularised RL, one per beta), ``rs-sft`` (rejection-sampling SFT) and
   ``new-info-sft`` (SFT on the absent facts). A variant is cached in the checkpoint folder under
   ``NAME-HASH``, HASH = sha256 of (kind, its config, the base weights' sha256): a cached checkpoint
   is reused only when it was made by the same config from the same base (``pipeline.demo_train``,
   which trains the missing ones in parallel processes). The first RL variant
   (``betas[0]``) also saves its policy every ``trajectory_every`` steps (part of its config, so of
   its HASH); each such checkpoint is the model ``rl-beta{b}-step-NNNN`` in the run from here on.
   Issue 16 adds ``rl-E`` per environment E of ``envs`` (RL whose samples are episodes with E) and
   the distillation variants ``distill-teacher`` / ``distill-self`` (``pipeline.demo_tools``).
2. Sampling: n samples per problem from the base and every variant under pi_D (T, top_p) into one
   run store ``OUT/run`` (``scale.jobs.sample_job``: sharded, seeded, resumable).
3. Cross-scoring: the base scores every variant's and every trajectory checkpoint's samples (with
   the exact full-vocabulary KL of that model to the base along them); every variant scores the
   base's samples.
4. Exact p (``organism.exact``) of every problem under pi_D for every model (trajectory checkpoints
   included) -> ``OUT/exact_p.parquet``; ``OUT/trajectory.json``: per checkpoint of the first RL run
   (step 0 = the base, the intermediate steps, the final variant) its exact summary against the base
   at the analysis' K (``organism.truth.trajectory_point``): the ground truth of a trajectory analysis.
5. Analysis of each variant against the base (not of the intermediate checkpoints) (``analysis.compare`` with the run store, so with
   the KL account) -> ``OUT/NAME/`` (per_problem.parquet/.csv with exact columns added,
   summary.json with a ``ground_truth`` block, report.html), and the estimated labels set against
   the exact ones (``organism.truth``).
   Then each tool run's 2 x 2 account {base, rl-E} x {without, with E} (``OUT/tools/E/PAIR/``, the
   environment cells sampled as episodes, scored on policy tokens only, exact p by
   ``organism.exact_env``).
6. ``OUT/demo.json``: config, versions, timings and, per variant, the verdict, label counts,
   agreement with the truth, the false-created rate, the Gibbs share of the gain and what happened
   to the base's singular problems (the free-energy predictions of DESIGN.md section 4).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from rich.console import Console

from supportscope.analysis import AnalyzeConfig
from supportscope.atomic import write_set
from supportscope.pipeline.demo_train import checkpoint_key, checkpoints
from supportscope.pipeline.outputs import check_out_dir
from supportscope.pipeline.progress import progress_bar
from supportscope.models.config import DecodingConfig, Policy
from supportscope.organism.demo_config import DemoConfig
from supportscope.organism.truth import trajectory_point
from supportscope.pipeline.demo_many import BASE
from supportscope.pipeline.demo_pairs import ManyJob, PairJob, run_analyses
from supportscope.pipeline.demo_tools import env_cells, env_model_names, exact_env_all, tool_jobs, tools_block
from supportscope.store import RunStore
from supportscope.report.writers import table_files, write_json
from supportscope.versions import library_versions

LIBS = ("torch", "transformers", "tokenizers", "safetensors")


@dataclass
class Variant:
    name: str
    kind: str  # rl | rs_sft | new_info_sft | distill
    config: object
    expect: str  # what the free-energy account predicts: "elicitation" or "creation"


def variants(cfg: DemoConfig) -> list[Variant]:
    """The post-trained variants; the first (RL at ``betas[0]``) saves its trajectory checkpoints every
    ``cfg.trajectory_every`` steps (None is read as 0: call with a resolved config)."""
    from supportscope.organism.posttrain import NewInfoConfig, RLConfig, RSConfig

    out = [Variant(f"rl-beta{b:g}", "rl", RLConfig(beta=b, seed=cfg.seed, threads=cfg.threads,
                                                   checkpoint_every=(cfg.trajectory_every or 0) if i == 0 else 0),
                   "elicitation")
           for i, b in enumerate(cfg.betas)]
    out.append(Variant("rs-sft", "rs_sft", RSConfig(seed=cfg.seed, threads=cfg.threads), "elicitation"))
    out.append(Variant("new-info-sft", "new_info_sft", NewInfoConfig(seed=cfg.seed, threads=cfg.threads), "creation"))
    out += [Variant(f"rl-{e}", "rl", RLConfig(beta=cfg.betas[0], env=e, seed=cfg.seed, threads=cfg.threads),
                    "see the tools account") for e in cfg.envs]
    if cfg.distill:
        from supportscope.organism.posttrain_config import DistillConfig
        from supportscope.organism.task import TEACHER

        out.append(Variant("distill-teacher", "distill", DistillConfig(teacher=str(TEACHER), seed=cfg.seed,
                                                                       threads=cfg.threads), "creation"))
        out.append(Variant("distill-self", "distill", DistillConfig(seed=cfg.seed, threads=cfg.threads),
                           "elicitation"))
    return out


def trajectory_models(v: Variant, path: Path) -> list[tuple[int, str, Path]]:
    """(step, model name, checkpoint folder) of the intermediate checkpoints the variant's RL run saved
    (none unless its config has ``checkpoint_every``); a missing folder is an error naming it."""
    from supportscope.organism.posttrain import checkpoint_steps, step_dir

    every = getattr(v.config, "checkpoint_every", 0)
    out = [(s, f"{v.name}-step-{s:04d}", step_dir(path, s)) for s in checkpoint_steps(v.config.steps, every)]
    for _, _, d in out:
        if not (d / "model.safetensors").is_file():
            raise FileNotFoundError(f"{d}: the RL run's checkpoint is missing; remove {path} to post-train again")
    return out


def run_demo(cfg: DemoConfig, out: Path, con: Console | None = None) -> dict:
    """Run the demo (see the module docstring); returns what it writes to OUT/demo.json."""
    import torch

    from supportscope.organism.task import CHECKPOINT, OrganismTask
    from supportscope.scale.jobs import sample_job

    from transformers.utils import logging as hf_logging

    cfg = cfg.resolved()  # validated at construction, and again by resolved() (dataclasses.replace)
    out = check_out_dir(out, ("demo.json", "exact_p.parquet", "exact_p.csv", "trajectory.json"))  # before training
    con = con or Console(stderr=True)
    torch.set_num_threads(cfg.threads)
    hf_logging.disable_progress_bar()  # tiny checkpoints: their loading bars are noise
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)

    # 1. checkpoints
    t0 = time.perf_counter()
    vs = variants(cfg)
    finals, cached = checkpoints(vs, CHECKPOINT, Path(cfg.checkpoints), cfg.threads)
    paths = {BASE: CHECKPOINT, **finals}
    traj = trajectory_models(vs[0], paths[vs[0].name])
    for _, name, d in traj:
        paths[name] = d
    timings["post_training_s"] = time.perf_counter() - t0

    # 2. sampling
    t0 = time.perf_counter()
    task = OrganismTask(size=cfg.size, seed=cfg.seed)
    problems = task.problems()
    decoding = DecodingConfig(temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens,
                              seed=cfg.seed)
    cells = env_cells(cfg.envs, paths)
    policies, hf, backends = _backends(paths, cells, task.corpus)
    store = RunStore.open(out / "run", create=True, versions=library_versions(LIBS))
    try:
        with progress_bar(f"sampling {len(backends)} models", len(backends) * len(problems) * cfg.n) as adv:
            for name, be in backends.items():
                sample_job(store, be, name, policies[name], decoding, task, cfg.n, problems_per_shard=8,
                           batch_size=2048, progress=adv)
        timings["sampling_s"] = time.perf_counter() - t0

        # 3. cross-scoring
        t0 = time.perf_counter()
        names = [v.name for v in vs]
        traj_names = [name for _, name, _ in traj]
        _cross_score(store, hf, policies, names, traj_names, cfg.envs, len(problems) * cfg.n)
        timings["scoring_s"] = time.perf_counter() - t0

        # 4. exact p
        t0 = time.perf_counter()
        org = task.organism_problems()
        families = {p.id: p.family for p in org}
        with con.status("exact success probabilities (teacher forcing; episode trees with the environments)"):
            exact = exact_env_all({n: (hf[n].model, hf[n].tokenizer) for n in cells}, cells, org, decoding,
                                  task.corpus)
            exact.update(_exact_p({n: b for n, b in hf.items() if n not in cells}, org, decoding, out, exact))
        timings["exact_p_s"] = time.perf_counter() - t0

        # 5. analysis: the many-model analyses first (the longest jobs), then the pairs
        t0 = time.perf_counter()
        acfg = AnalyzeConfig(bootstrap=cfg.bootstrap, seed=cfg.seed)
        extra = {"demo": cfg.to_dict()}
        many_jobs = [ManyJob("variants_analysis", (vs, out, cfg))]
        if traj:  # the RL run's checkpoints, against exact labels
            many_jobs.append(ManyJob("trajectory_analysis", (vs[0], traj, out, cfg)))
        jobs = many_jobs + [PairJob(BASE, v.name, out / v.name, {**extra, "variant": {
            "name": v.name, "kind": v.kind, "config": v.config.to_dict(), "checkpoint": str(paths[v.name]),
            "cached": cached[v.name]}}) for v in vs] + tool_jobs(cfg.envs, out, extra)
        done = run_analyses(jobs, out / "run", acfg, exact, families, cfg.threads)
        variants_digest, many = done[0], (done[1] if traj else None)
        summaries = done[len(many_jobs):]
        results = {v.name: _digest(v, s) for v, s in zip(vs, summaries)}
        tools = tools_block(cfg.envs, summaries[len(vs):])
        timings["analysis_s"] = time.perf_counter() - t0
    finally:
        store.close()
    trajectory = _trajectory(vs[0], traj, exact, org, results[vs[0].name]["K"], acfg) if traj else None
    if trajectory:
        trajectory["analysis"] = many
        write_json(out / "trajectory.json", trajectory)
    timings["total_s"] = time.perf_counter() - t_all
    demo = {"config": cfg.to_dict(), "problems": len(problems), "n": cfg.n,
            "decoding": decoding.to_dict(), "checkpoints": {k: str(p) for k, p in paths.items()},
            "cached": cached, "variants": results, "tools": tools, "variants_analysis": variants_digest, "trajectory": trajectory,
            "timings": {k: round(x, 2) for k, x in timings.items()}, "versions": library_versions(LIBS)}
    write_json(out / "demo.json", demo)
    return demo


def _exact_p(backends: dict, org: list, decoding: DecodingConfig, out: Path, known: dict) -> dict:
    """Exact p (under pi_D, raw) of every problem for every model: {model: {problem id: (p, p raw)}};
    writes OUT/exact_p.parquet and .csv (both or neither) with these and the ``known`` ones (the
    environment cells, p raw null)."""
    from supportscope.organism.exact import exact_p_both

    exact = {}
    for name, be in backends.items():
        dec, raw = exact_p_both(be, org, decoding)
        exact[name] = dict(zip((p.id for p in org), zip(dec.tolist(), raw.tolist())))
    fam = {p.id: p.family for p in org}
    rows = [{"problem_id": i, "family": fam[i], "model": name, "p_decoding": d, "p_raw": None if r != r else r}
            for name, ps in {**known, **exact}.items() for i, (d, r) in ps.items()]
    write_set(out, table_files("exact_p", pa.Table.from_pylist(rows)), manifest=None)
    return exact


def _backends(paths: dict, cells: dict, corpus) -> tuple[dict, dict, dict]:
    """(policies, plain HF backends, sampling backends) of every model: an environment cell samples
    episodes (``EnvBackend``) and scores as its plain weights."""
    from supportscope.models.hf import HFBackend
    from supportscope.organism.envs import build_env
    from supportscope.organism.envs.rollout import EnvBackend

    policies = {name: Policy(model=str(p), name=name) for name, p in paths.items()}
    policies.update({name: Policy(model=str(p), name=name, env=e) for name, (p, e) in cells.items()})
    hf = {name: HFBackend(pol, sample_batch_size=1024, score_batch_size=512) for name, pol in policies.items()}
    backends = dict(hf)
    for name, (_, e) in cells.items():
        backends[name] = EnvBackend(hf[name], build_env(e, corpus))
    return policies, hf, backends


def _cross_score(store, hf: dict, policies: dict, names: list, traj_names: list, envs: list, per_model: int) -> None:
    """The base scores every other model's samples (with the exact KL of that model to it along them);
    every variant scores the base's; in each environment's account, base+E and rl-E+E score each
    other's episodes (base+E with the base's weights). Environment tokens are not scored (scale.jobs)."""
    from supportscope.scale.jobs import score_job

    cells = [n for e in envs for n in env_model_names(e)[::2]]
    pairs = [(name, BASE, False) for name in names]  # (scorer, generator, with the KL of the generator)
    for e in envs:
        be, _, te = env_model_names(e)
        pairs += [(be, te, True), (te, be, False)]
    with progress_bar("cross-scoring", (len(names) + len(traj_names) + len(cells) + len(pairs)) * per_model) as adv:
        score_job(store, hf[BASE], BASE, policies[BASE], names + traj_names + cells,
                  reference=lambda g: hf[g], batch_size=2048, progress=adv)
        for scorer, gen, kl in pairs:
            score_job(store, hf[scorer], scorer, policies[scorer], [gen], reference=(lambda g: hf[g]) if kl else None,
                      batch_size=2048, progress=adv)


def _trajectory(v: Variant, traj: list[tuple[int, str, Path]], exact: dict, org: list, K: int,
                acfg: AnalyzeConfig) -> dict:
    """``trajectory.json``: per checkpoint of the RL run (step 0 = the base, the ``traj`` checkpoints,
    the variant at its last step), :func:`~supportscope.organism.truth.trajectory_point` of its exact
    p under pi_D against the base's, at the analysis' K."""
    steps = [(0, BASE)] + [(s, name) for s, name, _ in traj] + [(v.config.steps, v.name)]
    ids = [p.id for p in org]
    fam = [p.family for p in org]
    p0 = [exact[BASE][i][0] for i in ids]
    rows = [{"step": s, "model": name,
             **trajectory_point(p0, [exact[name][i][0] for i in ids], fam, K, acfg.basin_budget, acfg.zeta, ids)}
            for s, name in steps]
    return {"what": "exact ground truth of the RL run's trajectory: per checkpoint (step 0 = the base, the last "
                    "= the variant) the mean exact p under pi_D per family (= exact pass@1), the exact pass@K = "
                    "mean_i 1 - (1 - p_i)^K, the exact regimes at K and the exact labels against the base at K "
                    "(supportscope.organism.truth)",
            "variant": v.name, "kind": v.kind, "config": v.config.to_dict(), "K": K, "zeta": acfg.zeta,
            "basin_budget": acfg.basin_budget, "problems": len(ids), "checkpoints": rows}


def _digest(v: Variant, s: dict) -> dict:
    """What the demo prints for one variant, from its summary."""
    g, gt = s.get("gibbs") or {}, s["ground_truth"]
    kl = s.get("kl") or {}
    lab = s["labels"]
    return {
        "kind": v.kind, "expected": v.expect, "verdict": s["verdict"]["kind"], "sentence": s["verdict"]["sentence"],
        "K": s["budget"]["K"], "eps_K": s["budget"]["eps_K"],
        "labels": {k: d["count"] for k, d in lab.items() if isinstance(d, dict) and "count" in d},
        "pass1": {k: s["passk"][0][k] for k in ("base", "tuned", "difference", "difference_lo", "difference_hi")},
        "gibbs": {"lambda": g.get("lambda"), "lambda_lo": g.get("lambda_lo"), "lambda_hi": g.get("lambda_hi"),
                  "p_value": (g.get("fit") or {}).get("p_value"),
                  "one_tilt_fits": (g.get("fit") or {}).get("one_tilt_fits"), "r2": g.get("r2")},
        "kl": {"observed": kl.get("kl_observed"), "mean": (kl.get(kl.get("kl_observed") or "k1") or {}).get("mean"),
               "kl_min_mean": (kl.get("kl_min") or {}).get("mean"),
               "problems_left_support": kl.get("problems_left_support")},
        "ground_truth": {k: gt[k] for k in ("n_problems", "n_determined", "n_undetermined", "agreement",
                                            "strict_agreement", "n_created_estimated", "n_created_exact",
                                            "n_false_created", "false_created_rate", "n_missed_created",
                                            "confusion", "singular_base", "by_family")},
    }


__all__ = ["run_demo", "variants", "Variant", "checkpoint_key", "trajectory_models"]
