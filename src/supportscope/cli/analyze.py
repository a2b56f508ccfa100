"""`supportscope analyze`: arguments in, :func:`supportscope.pipeline.analyse.analyse` does the work."""

from __future__ import annotations

from pathlib import Path

import typer

from supportscope.analysis import AnalyzeConfig
from supportscope.cli.options import with_config_options
from supportscope.pipeline.analyse import analyse


@with_config_options(AnalyzeConfig, flags={"anytime": "--anytime/--no-anytime"})
def analyze(
    results: list[Path] = typer.Argument(None, help="Counts, per-sample or rate files (CSV, JSONL, "
                                 "JSON, Parquet), lm-eval --log_samples files, LiveCodeBench *_eval_all.json, run "
                                 "directories; or two lm-eval/LiveCodeBench output folders DIR_BASE DIR_TUNED."),
    base: str = typer.Option(None, "--base", help="Base model: a value of the `model` column."),
    tuned: list[str] = typer.Option(None, "--tuned", help="Tuned model: a value of the `model` column. Repeat it, "
                                    "or pass a quoted glob ('step-*'), to analyse several tuned models against the same "
                                    "base in one report (see --order, --step, --contrast)."),
    base_file: Path = typer.Option(None, "--base-file", help="A file holding the base model's results "
                                   "(the model column may be absent)."),
    tuned_file: Path = typer.Option(None, "--tuned-file", help="A file holding the tuned model's results."),
    out: Path = typer.Option(None, "--out", help="Output folder. Default: results/BASE_vs_TUNED."),
    config: AnalyzeConfig = None,
) -> None:
    """Analyse base vs tuned results: pass@k with bands, regimes, elicited/created/lost labels, verdict.

    Writes per_problem.parquet/.csv, summary.json (config, versions, inputs) and report.html
    (one self-contained file with plots) to --out. With several --tuned models (a training trajectory,
    or methods side by side): one combined report, plus each model's own analysis under --out/models/.
    """
    analyse(results, base=base, tuned=tuned, base_file=base_file, tuned_file=tuned_file, out=out, config=config)
