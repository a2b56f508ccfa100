"""`supportscope run CONFIG.toml`: :func:`supportscope.pipeline.run_config.run_from_config` does the work
(the TOML format is documented there and in the README)."""

from __future__ import annotations

from pathlib import Path

import typer


def run(config: Path = typer.Argument(..., help="TOML file: out, tasks, n, [decoding], [base], [tuned], "
                                      "[analyze] (see the module docs / README).")) -> None:
    """Sample base and tuned, score each model's samples under the other, and analyse (resumable)."""
    from supportscope.pipeline.run_config import run_from_config

    run_from_config(config)
