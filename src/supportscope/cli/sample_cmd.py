"""`supportscope sample`, `score` and `audit-data`: arguments in, :mod:`supportscope.pipeline` does the work."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from supportscope.cli.options import with_config_options
from supportscope.models.config import BATCH_SIZE, DecodingConfig, EngineConfig, Policy
from supportscope.pipeline.sample import run_sample, run_score
from supportscope.scale.adaptive import AdaptiveConfig
from supportscope.scale.config import SampleJobConfig
from supportscope.scale.ray_exec import RayConfig
from supportscope.store import RunStore


@with_config_options(policy=Policy, decoding=DecodingConfig, job=SampleJobConfig, adapt=AdaptiveConfig,
                     cluster=RayConfig, engine=EngineConfig)
def sample(out: Path = typer.Option(..., "--out", help="Run directory: created, appended to (another "
                                     "model) or resumed (same model and config)."),
           policy: Policy = None, decoding: DecodingConfig = None, job: SampleJobConfig = None,
           adapt: AdaptiveConfig = None, cluster: RayConfig = None, engine: EngineConfig = None) -> None:
    """Sample n completions per problem from one model (or, with --adaptive, in rounds until each
    problem's regime is decided), verify them, and store them in RUN (with --ray: on a Ray cluster).
    With --problems-from only those problems; with --adaptive --problems-from on a model already in
    RUN a follow-up (confirmation stage): fresh samples of the selected problems, each decided on the
    follow-up samples alone at the level --alpha / (2 m) (m = number of selected problems)."""
    n = run_sample(policy, decoding, job, out, adapt, cluster, engine)
    Console().print(f"wrote {n} new samples of {policy.name!r} to {out} "
                    f"(total in run: {sum(s['rows'] for s in RunStore(out).shards('samples', policy.name))})")


@with_config_options(policy=Policy, cluster=RayConfig, engine=EngineConfig, flags={"model": "--scorer"})
def score(run: Path = typer.Argument(..., help="Run directory written by `supportscope sample`."),
          kl: bool = typer.Option(False, "--kl", help="Also compute the exact full-vocabulary KL along each "
                                  "sample (loads the generating model too)."),
          generator: list[str] = typer.Option(None, "--generator", help="Score only these generators' samples."),
          batch_size: int = typer.Option(BATCH_SIZE, "--batch-size", min=1, max=2**16, help="Sequences scored per call of the backend (the HF backend runs forward passes of at most 16)."),
          policy: Policy = None, cluster: RayConfig = None, engine: EngineConfig = None) -> None:
    """Score every other model's samples in RUN under --scorer (teacher forcing on the exact token ids;
    with --ray: on a Ray cluster)."""
    n = run_score(run, policy, batch_size, kl, generator, cluster, engine)
    Console().print(f"wrote {n} new scores under {policy.name!r} to {run}")


@with_config_options(policy=Policy, decoding=DecodingConfig, engine=EngineConfig)
def audit_data(data: Path = typer.Argument(..., help="JSONL of {prompt, completion} demonstrations."),
               out: Path = typer.Option(None, "--out", help="Folder for audit.json and per_example.parquet "
                                        "(default: next to DATA)."),
               batch_size: int = typer.Option(BATCH_SIZE, "--batch-size", min=1, max=2**16, help="Sequences scored per call of the backend (the HF backend runs forward passes of at most 16)."),
               policy: Policy = None, decoding: DecodingConfig = None, engine: EngineConfig = None) -> None:
    """Before SFT: surprisal of a demonstration set under the base and its share of tokens outside the
    base's decoding support (DESIGN section 4)."""
    from supportscope.pipeline.audit import audit_data as run_audit

    summary, out = run_audit(data, policy, decoding, batch_size, out, engine)
    Console().print(
        f"{summary['examples']} demonstrations, {summary['tokens']} tokens under {policy.name!r}: surprisal "
        f"{summary['surprisal_mean']:.3f} [{summary['surprisal_lo']:.3f}, {summary['surprisal_hi']:.3f}] nats/token; "
        f"{summary['out_of_support_tokens']} tokens ({summary['out_of_support_token_share']:.2%}) outside the "
        f"decoding support, in {summary['examples_with_out_of_support_tokens']} examples. Wrote {out}")
