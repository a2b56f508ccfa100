"""`supportscope grade GENERATIONS --problems PROBLEMS --out FILE`: raw generations in, per-sample
verdicts out (:func:`supportscope.pipeline.grade.grade` does the work)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from supportscope.cli.options import with_config_options
from supportscope.pipeline.grade import GradeConfig


@with_config_options(GradeConfig)
def grade(generations: Path = typer.Argument(..., help="Raw generations, one row per sample: problem_id, model, "
                                             "sample_idx, completion (JSONL, CSV or Parquet)."),
          problems: Path = typer.Option(..., "--problems", help="JSONL of the problems: {id, prompt, answer}."),
          out: Path = typer.Option(..., "--out", help="Output file (.parquet, .csv or .jsonl): one row per sample "
                                   "with each verifier's decision, correct and disagree; a samples file for "
                                   "`supportscope analyze`."),
          config: GradeConfig = None) -> None:
    """Score raw generations against the problems' gold answers with two verifiers (default: math-verify,
    and a strict final-answer match), mark where they disagree, and write per-sample rows that
    `supportscope analyze` reads."""
    from supportscope.pipeline.grade import grade as run_grade
    from supportscope.pipeline.grade import summary_lines
    from supportscope.pipeline.progress import progress_bar

    if config.executes():
        Console(stderr=True, soft_wrap=True).print(Text.assemble(
            ("warning: ", "bold yellow"),
            f"the code verifier EXECUTES model output (each program in a subprocess limited to "
            f"{config.code_timeout:g} s and {config.code_memory_mb} MiB; not a sandbox: it can read your files)"))
    table = run_grade(generations, problems, out, config, progress_bar=progress_bar)
    console = Console(soft_wrap=True)
    for line in summary_lines(table, config):
        console.print(line, markup=False)
    console.print(f"wrote {table.num_rows} graded samples to {out}", markup=False)
