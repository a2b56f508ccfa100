"""A saved analysis (the ``--out`` folder of ``analyze``): read back, checked, and its report rebuilt.

``supportscope report DIR`` rebuilds report.html from summary.json and per_problem.parquet without
recomputing. It only does so for a complete analysis written by this version of supportscope:
summary.json must hold every block of an analysis and ``versions.supportscope`` equal to this
version, per_problem.parquet must be a readable Parquet file with the per-problem columns and one
row per problem of the summary, and both must be the files ``analyze`` wrote together (the output
set's manifest, :func:`supportscope.atomic.verify_set`). Anything else is refused with one line,
before the old report.html is touched.
"""

from __future__ import annotations

import json
from pathlib import Path

from supportscope import __version__
from supportscope.atomic import read_manifest, verify_set, write_set
from supportscope.errors import InputError
from supportscope.io.files import regular_file
from supportscope.pipeline.outputs import check_out_dir

__all__ = ["PER_PROBLEM_COLUMNS", "SUMMARY_BLOCKS", "load_saved", "rebuild_report"]

SUMMARY_BLOCKS = ("base", "tuned", "n_problems", "n_base", "n_tuned", "budget", "passk", "curves", "labels",
                  "gain", "support_change", "transition", "venn", "leash", "created_vs_budget", "gibbs", "notes",
                  "verdict", "config", "inputs", "versions")
"""Blocks every summary.json of ``analyze`` holds (``analysis.compare`` plus what the workflow adds)."""

PER_PROBLEM_COLUMNS = ("problem_id", "c_base", "n_base", "p_base", "p_base_lo", "p_base_hi", "regime_base",
                       "regime_base_possible", "n_needed_base", "c_tuned", "n_tuned", "p_tuned", "p_tuned_lo",
                       "p_tuned_hi", "regime_tuned", "regime_tuned_possible", "n_needed_tuned", "p_value_higher",
                       "p_value_lower", "label", "label_possible", "created_from", "n_needed_label")
"""Columns every per_problem table of ``analyze`` holds (more follow: Gibbs, support change, KL)."""

_RERUN = "re-run `supportscope analyze ... --out {dir}` with this version to write a complete analysis"


def _read_summary(path: Path, run_dir: Path) -> dict:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(str(path), f"not valid JSON ({e.__class__.__name__}: {e})",
                         "re-run `supportscope analyze` to rewrite it", line=getattr(e, "lineno", None)) from None
    if not isinstance(summary, dict):
        raise InputError(str(path), "not a supportscope summary (not a JSON object)",
                         "pass the --out folder of `supportscope analyze`")
    missing = [k for k in SUMMARY_BLOCKS if k not in summary]
    if missing:
        raise InputError(str(path), f"not a complete supportscope analysis (missing: {', '.join(missing[:8])}"
                         f"{', ...' if len(missing) > 8 else ''})", _RERUN.format(dir=run_dir))
    version = summary["versions"].get("supportscope") if isinstance(summary["versions"], dict) else None
    if version != __version__:
        raise InputError(str(path), f"written by supportscope {version or '(unknown version)'}; this is "
                         f"supportscope {__version__}", _RERUN.format(dir=run_dir))
    n = summary["n_problems"]
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InputError(str(path), f"n_problems is {n!r}, not a whole number >= 1", _RERUN.format(dir=run_dir))
    return summary


def _read_table(path: Path, run_dir: Path, n_problems: int):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        reason = " ".join(str(e).split())[:160]
        raise InputError(str(path), f"not a readable Parquet file, e.g. truncated ({reason})",
                         _RERUN.format(dir=run_dir)) from None
    missing = [c for c in PER_PROBLEM_COLUMNS if c not in table.column_names]
    if missing:
        raise InputError(str(path), f"not a per-problem table of supportscope (missing columns: "
                         f"{', '.join(missing[:8])}{', ...' if len(missing) > 8 else ''})", _RERUN.format(dir=run_dir))
    if table.num_rows != n_problems:
        raise InputError(str(path), f"{table.num_rows} rows, but summary.json is an analysis of {n_problems} "
                         "problems", _RERUN.format(dir=run_dir))
    return table


def load_saved(run_dir: str | Path):
    """(summary, per_problem table) of a complete analysis folder written by this version; else a
    one-line InputError naming the file and what is wrong."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(str(run_dir), "not a folder", "pass the --out folder of `supportscope analyze`")
    summary_path, table_path = run_dir / "summary.json", run_dir / "per_problem.parquet"
    for p in (summary_path, table_path):
        if not p.exists():
            raise InputError(str(p), "missing", "run `supportscope analyze ... --out "
                             f"{run_dir}` first, or pass the folder that holds its results")
        regular_file(p, f"remove that folder and run `supportscope analyze ... --out {run_dir}` again")
    summary = _read_summary(summary_path, run_dir)
    table = _read_table(table_path, run_dir, summary["n_problems"])
    why = verify_set(run_dir, ("summary.json", "per_problem.parquet"))
    if why is not None:
        what = ("no output manifest: the folder was not written completely by `supportscope analyze` "
                "(interrupted, or files copied in)") if why == "no manifest" else \
            f"the files are not one analysis: {why}"
        raise InputError(str(run_dir), what, _RERUN.format(dir=run_dir))
    return summary, table


def rebuild_report(run_dir: str | Path) -> Path:
    """Rebuild DIR/report.html from the saved analysis (checked by :func:`load_saved`); the old
    report is replaced only when the new one is complete. Returns its path."""
    from supportscope.report.html import build_html

    run_dir = Path(run_dir)
    summary, table = load_saved(run_dir)
    check_out_dir(run_dir, ("report.html",), flag="DIR")
    html = build_html(summary, table).encode("utf-8")
    keep = [n for n in (read_manifest(run_dir) or {}) if n != "report.html"]
    write_set(run_dir, {"report.html": html}, keep=keep)
    return run_dir / "report.html"
