"""The analysis workflow: results in (files or run directories), outputs written, summary returned.

:func:`analyse` is ``supportscope analyze`` without the argument parsing; :func:`analyse_and_write`
takes counts already loaded (``analysis.model_counts``) and writes per_problem.parquet/.csv,
summary.json (with the config, input hashes, command line and versions) and report.html as one
set (:func:`supportscope.atomic.write_set`: every file rendered first, then all or nothing), then
prints the terminal summary. With per-sample rows at hand (a run directory, or a graded per-sample
file: :mod:`.per_sample`) summary.json also gets the ``answers``, ``provenance`` and
``verifier_agreement`` blocks (:mod:`supportscope.analysis.sample_checks`). ``--out`` is checked before anything is read or computed
(:func:`.outputs.check_out_dir`); nothing is written when the analysis or a write fails.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

from rich.console import Console

from supportscope.analysis import AnalyzeConfig, compare, model_counts
from supportscope.atomic import write_set
from supportscope.errors import InputError
from supportscope.io import load_counts
from supportscope.io.importers import default_model_name, folder_files
from supportscope.pipeline.outputs import ANALYSIS_FILES, check_out_dir
from supportscope.pipeline.per_sample import per_sample_rows
from supportscope.report.terminal import print_summary
from supportscope.report.writers import json_bytes, table_files
from supportscope.store import RunStore, counts_from_samples
from supportscope.versions import library_versions

__all__ = ["analyse", "analyse_and_write", "check_unique", "import_options", "load_results", "load_side", "pick_model",
           "result_files", "sha256_file"]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pick_model(table, name: str | None, path: Path, role: str):
    """The model of a single-model file: --base/--tuned if given, else the file's only model."""
    names = sorted(set(table["model"].to_pylist()))
    if name is None:
        if len(names) != 1:
            raise InputError(str(path), f"the file holds {len(names)} models ({', '.join(names[:10])})",
                             f"pass --{role} NAME to choose one")
        name = names[0]
    return model_counts(table, name, [str(path)])


def _is_run(p: Path) -> bool:
    return p.is_dir() and (p / "manifest.json").is_file()


def result_files(paths: list[Path]) -> list[Path]:
    """The files among ``paths``, with each lm-eval or LiveCodeBench output folder replaced by its
    result files; a folder that is neither (nor a run directory) is an error."""
    files: list[Path] = []
    for p in paths:
        if _is_run(p):
            continue
        if p.is_dir():
            found = folder_files(p)
            if found is None:
                raise InputError(str(p), "a folder without manifest.json, lm-eval samples_*.jsonl or LiveCodeBench "
                                 "*_eval_all.json files is not a results folder",
                                 "pass result files, the --out folder of `supportscope sample`, or an lm-eval "
                                 "--output_path folder")
            files += found
        else:
            files.append(p)
    return files


def load_results(paths: list[Path], success_threshold: float, options=None):
    """Counts from files, lm-eval/LiveCodeBench output folders and run directories (a folder with
    manifest.json), concatenated.

    Returns (counts table, the run store when exactly one run directory was given)."""
    import pyarrow as pa

    files = result_files(paths)
    runs = [RunStore(p) for p in paths if _is_run(p)]
    tables = [counts_from_samples(r) for r in runs]
    if files:
        tables.append(load_counts(files, success_threshold=success_threshold, options=options))
    if len(tables) == 1:
        return tables[0], (runs[0] if runs else None)
    table = pa.concat_tables(tables)
    check_unique(table)
    return table, (runs[0] if len(runs) == 1 else None)


def check_unique(table) -> None:
    """The same (problem_id, model) from two inputs (e.g. a run and a file) is an error."""
    import pyarrow.compute as pc

    keys = pc.binary_join_element_wise(table["problem_id"], table["model"], "\x1f").to_pylist()
    seen: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k in seen:
            j = seen[k]
            pid, model = k.split("\x1f", 1)
            raise InputError(str(table["source"][i]), f"problem {pid!r} of model {model!r} is also in "
                             f"{table['source'][j]} (line {table['line'][j]})",
                             "pass each model's results once", line=int(table["line"][i].as_py()))
        seen[k] = i


def import_options(config: AnalyzeConfig, model: str | None = None):
    """How the files are read under ``config``; with ``regrade``, math-verify
    (:func:`supportscope.tasks.answers.math_grader`) is the lm-eval importer's fallback grader."""
    grader = None
    if config.regrade:
        from supportscope.tasks.answers import math_grader

        grader = math_grader()
    return config.import_options(model=model, math_grader=grader)


def load_side(files: list[Path], name: str | None, role: str, config: AnalyzeConfig):
    """One model's counts from its own files (--base-file, or a DIR_BASE folder): rows without a
    model column, and lm-eval/LiveCodeBench rows, are named ``name`` (--base/--tuned) or else after
    the file's folder (lm-eval: the results_*.json model_name), never after a file stem such as
    samples_copa_2026-..."""
    table = load_counts(files, default_model=name or default_model_name(files[0]),
                        success_threshold=config.success_threshold, options=import_options(config, model=name))
    return pick_model(table, name, files[0] if len(files) == 1 else files[0].parent, role)


def analyse(results: list[Path] | None = None, *, base: str | None = None, tuned: str | list[str] | None = None,
            base_file: Path | None = None, tuned_file: Path | None = None, out: Path | None = None,
            config: AnalyzeConfig | None = None, quiet: bool = False) -> dict:
    """The whole analysis of existing results (``supportscope analyze``): read ``results`` (counts or
    per-sample files, or run directories) and pick ``base``/``tuned`` from their model column, or
    read one file per model (``base_file``/``tuned_file``); then :func:`analyse_and_write` to
    ``out`` (default ``results/BASE_vs_TUNED``). Returns the summary (as in summary.json).

    ``tuned`` may name several models (a list, globs such as ``step-*`` allowed): then every one is
    analysed against the base in one multi-model analysis (:mod:`.analyse_many`)."""
    config = config or AnalyzeConfig()
    tuned_list = [tuned] if isinstance(tuned, str) else list(tuned or [])
    if len(tuned_list) > 1 or any(ch in t for t in tuned_list for ch in "*?["):
        return _analyse_many(results, base, tuned_list, base_file, tuned_file, out, config, quiet)
    tuned = tuned_list[0] if tuned_list else None
    if out is not None:
        check_out_dir(out, ANALYSIS_FILES)  # before minutes of reading and bootstrap
    results = [Path(p) for p in results or []]
    base_file, tuned_file = (Path(p) if p is not None else None for p in (base_file, tuned_file))
    err = Console(stderr=True)
    with err.status("reading results"):
        if base_file or tuned_file:
            if not (base_file and tuned_file):
                raise InputError(str(base_file or tuned_file), "--base-file and --tuned-file go together",
                                 "pass both, or put both models in RESULTS and use --base/--tuned")
            if results:
                raise InputError(str(results[0]), "RESULTS cannot be combined with --base-file/--tuned-file",
                                 "use either RESULTS with --base/--tuned, or --base-file/--tuned-file")
            b, t = load_side([base_file], base, "base", config), load_side([tuned_file], tuned, "tuned", config)
            run = None
            inputs = [base_file, tuned_file]
        elif len(results) == 2 and all(p.is_dir() and not _is_run(p) for p in results):
            sides = [result_files([p]) for p in results]  # DIR_BASE DIR_TUNED: lm-eval or LiveCodeBench folders
            b, t = load_side(sides[0], base, "base", config), load_side(sides[1], tuned, "tuned", config)
            run = None
            inputs = sides[0] + sides[1]
        else:
            if not results:
                raise InputError("<command line>", "no results given",
                                 "pass one or more files: supportscope analyze FILE --base NAME --tuned NAME")
            if not (base and tuned):
                table, _ = load_results(results, config.success_threshold, import_options(config))
                names = sorted(set(table["model"].to_pylist()))
                raise InputError(str(results[0]), "--base and --tuned are required; the model column "
                                 f"holds: {', '.join(names[:10])}", "pass --base NAME --tuned NAME")
            table, run = load_results(results, config.success_threshold, import_options(config))
            srcs = [str(p) for p in results]
            b, t = model_counts(table, base, srcs), model_counts(table, tuned, srcs)
            inputs = result_files(results)
    out = Path(out) if out else _default_out(b.name, t.name)
    return analyse_and_write(b, t, config, out, inputs, run, quiet=quiet)



def _analyse_many(results, base, tuned: list[str], base_file, tuned_file, out, config: AnalyzeConfig, quiet: bool):
    """Several tuned models from RESULTS (files or run directories holding every model)."""
    from supportscope.analysis.model_order import expand_names
    from supportscope.pipeline.analyse_many import MANY_FILES, analyse_many_and_write

    if base_file or tuned_file:
        raise InputError(str(base_file or tuned_file), "--base-file/--tuned-file take one model each",
                         "put every model in RESULTS (one file or run directory, or several) and pass --base NAME "
                         "--tuned NAME --tuned NAME ...")
    if out is not None:
        check_out_dir(out, MANY_FILES)
    results = [Path(p) for p in results or []]
    if not results:
        raise InputError("<command line>", "no results given",
                         "pass one or more files: supportscope analyze FILE --base NAME --tuned NAME --tuned NAME")
    err = Console(stderr=True)
    with err.status("reading results"):
        table, run = load_results(results, config.success_threshold, config.import_options())
    names = sorted(set(table["model"].to_pylist()))
    if not base:
        raise InputError(str(results[0]), f"--base is required; the model column holds: {', '.join(names[:10])}",
                         "pass --base NAME")
    tuned = [t for t in expand_names(tuned, names, str(results[0])) if t != base]
    if len(tuned) > 1:  # the order and the contrasts are checked before minutes of analysis
        from supportscope.analysis.many import check_contrasts
        from supportscope.analysis.model_order import order_models, parse_steps

        check_contrasts([tuple(config.contrast)] if config.contrast else [],
                        order_models(tuned, config.order, parse_steps(config.step)).names)
    srcs = [str(p) for p in results]
    b = model_counts(table, base, srcs)
    ts = [model_counts(table, t, srcs) for t in tuned]
    inputs = result_files(results)
    hashes = [{"path": str(p), "sha256": sha256_file(p)} for p in inputs]
    if run is not None:
        hashes.append({"path": str(run.path), "run_manifest_sha256": sha256_file(run.path / "manifest.json")})
    if len(ts) == 1:
        return analyse_and_write(b, ts[0], config, Path(out) if out else _default_out(b.name, ts[0].name), inputs, run,
                                 quiet=quiet)
    out = Path(out) if out else _default_out(b.name, f"{len(ts)}_models")
    return analyse_many_and_write(b, ts, config, out, inputs, run, quiet=quiet, input_hashes=hashes)


def _default_out(base: str, tuned: str) -> Path:
    return Path("results") / re.sub(r"[^A-Za-z0-9._-]+", "_", f"{base}_vs_{tuned}")


def _add_sample_blocks(summary: dict, per_problem, inputs: list[Path], run):
    """The ``answers``, ``provenance`` and ``verifier_agreement`` blocks (``analysis.sample_checks``) when
    per-sample rows are at hand (a run directory, or a graded per-sample file); else nothing changes."""
    samples, reference = per_sample_rows(inputs, run, models=(str(summary["base"]), str(summary["tuned"])))
    if samples is None:
        return per_problem
    from supportscope.analysis.sample_checks import sample_blocks

    blocks, per_problem, notes = sample_blocks(samples, summary, per_problem, reference)
    summary.update(blocks)
    summary["notes"] = [*summary["notes"], *notes]
    return per_problem


def analyse_and_write(b, t, config: AnalyzeConfig, out: Path, inputs: list[Path], run=None,
                      extra: dict | None = None, augment=None, quiet: bool = False) -> dict:
    """compare(), then per_problem.parquet/.csv, summary.json and report.html in `out` (rendered
    first, then written as one set), then the terminal summary (unless `quiet`). Nothing is written
    when the analysis or any write fails.

    `augment(summary, per_problem) -> per_problem` may add to both before anything is written
    (the demo adds the organism's exact ground truth)."""
    out = check_out_dir(out, ANALYSIS_FILES)
    err = Console(stderr=True)
    with err.status(f"analysing {len(b.problem_id)} problems ({config.bootstrap} bootstrap replicates)"):
        result = compare(b, t, config, run=run)
    summary = result.summary
    per_problem = result.per_problem if augment is None else augment(summary, result.per_problem)
    per_problem = _add_sample_blocks(summary, per_problem, inputs, run)
    summary["config"] = {**config.to_dict(), **(extra or {})}
    summary["inputs"] = [{"path": str(p), "sha256": sha256_file(p)} for p in inputs]
    if run is not None:
        summary["inputs"].append({"path": str(run.path), "run_manifest_sha256": sha256_file(run.path / "manifest.json")})
    summary["command"] = ["supportscope", *sys.argv[1:]]
    summary["versions"] = library_versions(("torch", "transformers") if run is not None else ())
    files = {**table_files("per_problem", per_problem), "summary.json": json_bytes(summary)}
    with err.status("rendering report.html"):
        from supportscope.report.html import build_html  # matplotlib: only when writing

        files["report.html"] = build_html(summary, per_problem).encode("utf-8")
    written = write_set(out, files)  # all four or none (see supportscope.atomic)
    if not quiet:
        print_summary(summary, outputs=[str(p) for p in written])
    return summary
