"""The multi-model analysis workflow: several tuned models against one base, written as one report.

:func:`analyse_many_and_write` runs :func:`supportscope.analysis.many.compare_many` and writes

    OUT/summary.json           the combined summary (``models``, ``differences``, ``trajectory``,
                               ``frontier``, ``contrasts``, verdict) + config, inputs, versions
    OUT/per_problem.parquet/.csv   one row per problem: base counts and regime, the trajectory
                               columns, and each model's label (``label:NAME``)
    OUT/per_model.parquet/.csv     one row per (problem, tuned model)
    OUT/report.html            the combined report (``report.many_html``)
    OUT/models/NAME/           each tuned model's pairwise analysis (the files of ``analyze`` with
                               one tuned model: per_problem, summary.json, report.html)
    OUT/contrasts/T1_vs_T2/    each --contrast's pairwise analysis

Every file is rendered before anything is written; each folder is then written as one set
(:func:`supportscope.atomic.write_set`), the per-model folders first and OUT's own set last, so a
complete OUT/summary.json means every folder it lists is complete.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from rich.console import Console

from supportscope.analysis import AnalyzeConfig
from supportscope.analysis.many import compare_many
from supportscope.atomic import write_set
from supportscope.pipeline.outputs import ANALYSIS_FILES, check_out_dir
from supportscope.pipeline.progress import progress_bar
from supportscope.report.writers import json_bytes, table_files
from supportscope.versions import library_versions

MANY_FILES = ("per_problem.parquet", "per_problem.csv", "per_model.parquet", "per_model.csv", "summary.json",
              "report.html")


def folder_names(names: list[str]) -> list[str]:
    """A distinct, filesystem-safe folder name per model name."""
    out: list[str] = []
    for n in names:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", n).strip(".") or "model"
        name, i = base, 2
        while name in out:
            name, i = f"{base}-{i}", i + 1
        out.append(name)
    return out


def analyse_many_and_write(base, tuned: list, config: AnalyzeConfig, out: Path, inputs: list[Path], run=None,
                           extra: dict | None = None, augment=None, quiet: bool = False,
                           input_hashes: list[dict] | None = None, augment_summary=None) -> dict:
    """compare_many(), then every output (module docstring), then the terminal table (unless `quiet`).

    ``augment(name, summary, per_problem) -> per_problem`` may add to each tuned model's pairwise
    outputs before anything is written (the demo adds exact ground truth); ``augment_summary(summary,
    per_problem) -> per_problem`` does the same for the combined outputs; ``input_hashes``: the
    ``inputs`` block (path and sha256 of each input), computed by the caller."""
    from supportscope.report.html import build_html
    from supportscope.report.many_html import build_many_html
    from supportscope.report.many_terminal import print_many

    out = check_out_dir(out, MANY_FILES)
    err = Console(stderr=True)
    with progress_bar(f"analysing {len(tuned)} models against {base.name} ({config.bootstrap} bootstrap replicates)",
                      len(tuned), unit="models") as adv:
        result = compare_many(base, tuned, config, run=run, progress=lambda i: adv(1))
    common = {"config": {**config.to_dict(), **(extra or {})}, "inputs": input_hashes or [],
              "command": ["supportscope", *sys.argv[1:]],
              "versions": library_versions(("torch", "transformers") if run is not None else ())}
    sets: list[tuple[Path, dict]] = []
    names = list(result.ordering.names)
    with err.status(f"rendering {len(names) + len(result.contrasts) + 1} reports"):
        for name, folder, pair in zip(names, folder_names(names), result.pairs):
            s, pp = pair.summary, pair.per_problem
            if augment is not None:
                pp = augment(name, s, pp)
            s.update(common)
            sets.append((out / "models" / folder, {**table_files("per_problem", pp), "summary.json": json_bytes(s),
                                                   "report.html": build_html(s, pp).encode("utf-8")}))
        cnames = folder_names([f"{a}_vs_{b}" for a, b in (
            (c["base"], c["tuned"]) for c in result.summary["contrasts"])])
        for folder, pair in zip(cnames, result.contrasts):
            s = pair.summary
            s.update(common)
            sets.append((out / "contrasts" / folder, {**table_files("per_problem", pair.per_problem),
                                                      "summary.json": json_bytes(s),
                                                      "report.html": build_html(s, pair.per_problem).encode("utf-8")}))
        summary, per_problem = result.summary, result.per_problem
        if augment_summary is not None:
            per_problem = augment_summary(summary, per_problem)
        summary["model_folders"] = {n: f"models/{f}" for n, f in zip(names, folder_names(names))}
        summary["contrast_folders"] = [f"contrasts/{f}" for f in cnames]
        summary.update(common)
        top = {**table_files("per_problem", per_problem), **table_files("per_model", result.per_model),
               "summary.json": json_bytes(summary)}
        top["report.html"] = build_many_html(summary, per_problem).encode("utf-8")
    for folder, files in sets:
        check_out_dir(folder, ANALYSIS_FILES)
    for folder, files in sets:
        write_set(folder, files)
    written = write_set(out, top)
    if not quiet:
        print_many(summary, outputs=[str(p) for p in written] + [str(out / "models")])
    return summary
