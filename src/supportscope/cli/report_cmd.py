"""`supportscope report RUN_DIR`: rebuild report.html from a saved analysis (no recomputation);
:func:`supportscope.pipeline.saved.rebuild_report` does the work and refuses anything that is not a
complete analysis of this version."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console


def report(run_dir: Path = typer.Argument(..., help="Folder written by `supportscope analyze --out`.")) -> None:
    """Rebuild report.html (one self-contained file, works offline) from saved results."""
    from supportscope.pipeline.saved import rebuild_report

    path = rebuild_report(run_dir)
    Console().print(f"wrote {path}")
