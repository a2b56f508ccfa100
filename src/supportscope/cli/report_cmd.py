"""`supportscope report RUN_DIR`: rebuild report.html from a saved analysis (no recomputation)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import typer
from rich.console import Console

from supportscope.errors import InputError


def load_saved(run_dir: Path) -> tuple[dict, "pq.Table"]:
    """summary.json and per_problem.parquet of an analysis folder, with file-named errors."""
    if not run_dir.is_dir():
        raise InputError(str(run_dir), "not a folder", "pass the --out folder of `supportscope analyze`")
    summary_path, table_path = run_dir / "summary.json", run_dir / "per_problem.parquet"
    for p in (summary_path, table_path):
        if not p.is_file():
            raise InputError(str(p), "missing", "run `supportscope analyze ... --out "
                             f"{run_dir}` first, or pass the folder that holds its results")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(str(summary_path), f"not valid JSON ({e.__class__.__name__}: {e})",
                         "re-run `supportscope analyze` to rewrite it", line=getattr(e, "lineno", None))
    if not isinstance(summary, dict) or "verdict" not in summary:
        raise InputError(str(summary_path), "not a supportscope summary (no verdict)",
                         "pass the --out folder of `supportscope analyze`")
    return summary, pq.read_table(table_path)


def report(run_dir: Path = typer.Argument(..., help="Folder written by `supportscope analyze --out`.")) -> None:
    """Rebuild report.html (one self-contained file, works offline) from saved results."""
    from supportscope.report.html import write_html

    summary, table = load_saved(run_dir)
    write_html(run_dir / "report.html", summary, table)
    Console().print(f"wrote {run_dir / 'report.html'}")
