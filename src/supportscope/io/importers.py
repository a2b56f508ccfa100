"""Open one results file as the :class:`~.source.Source` that reads it: the reader of its
extension, then a content format whose sniff hook recognises it (:func:`.formats.content_formats`:
lm-eval samples, LiveCodeBench, rate tables), or ``options.format`` when the user named one;
else column aliases (:mod:`.aliases`) for native counts or per-sample files.

Also the folder helpers of ``analyze DIR_BASE DIR_TUNED``: :func:`folder_files` lists the result
files in an lm-eval or LiveCodeBench output folder, :func:`default_model_name` names a file's model
when it has no model column.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .aliases import with_aliases
from .formats import content_formats, source_class
from .source import Source

__all__ = ["FORMAT_CHOICES", "ImportOptions", "default_model_name", "folder_files", "open_source", "parse_metrics",
           "stderr_note"]

#: values of ``--format`` (None: recognise each file by its content)
FORMAT_CHOICES = ("lm-eval", "lcb", "rates", "samples", "counts")

#: lm-eval's per-task samples file: samples_<task>_<date>.jsonl (older: <date>_samples_<task>.jsonl)
LMEVAL_SAMPLES = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d\d-\d\dT[0-9.:-]+)$")
LMEVAL_SAMPLES_OLD = re.compile(r"^(?P<date>\d{4}-\d\d-\d\dT[0-9.:-]+)_samples_(?P<task>.+)$")


def parse_metrics(specs: str | tuple[str, ...] | list[str] | None) -> tuple[str | None, dict[str, str]]:
    """``(metric for every task, {task: metric})`` of ``--metric`` values: each ``NAME`` (every
    task) or ``TASK=NAME`` (one task), several in one value separated by commas. At most one plain
    NAME and one NAME per task; raises ValueError saying which value is wrong."""
    items = [specs] if isinstance(specs, str) else list(specs or ())
    every: str | None = None
    per_task: dict[str, str] = {}
    for raw in items:
        for part in str(raw).split(","):
            task, sep, name = (x.strip() for x in part.strip().rpartition("="))
            if not name or (sep and not task):
                raise ValueError(f"{raw!r} has an empty {'task' if name else 'metric'} name; write NAME or TASK=NAME, "
                                 "e.g. acc or copa=acc")
            if not sep:
                if every not in (None, name):
                    raise ValueError(f"two metrics for every task ({every!r} and {name!r}); give one NAME, and "
                                     "TASK=NAME for the tasks that differ")
                every = name
            elif per_task.get(task, name) != name:
                raise ValueError(f"two metrics for task {task!r} ({per_task[task]!r} and {name!r}); give one")
            else:
                per_task[task] = name
    return every, per_task


@dataclass(frozen=True)
class ImportOptions:
    """How to read files of other harnesses.

    format: one of :data:`FORMAT_CHOICES` or None (by content). filter: lm-eval's filter (None:
    the file's only one). metric: lm-eval's metric, ``NAME`` for every task or ``TASK=NAME``
    (one value, a comma list or a tuple of them: :func:`parse_metrics`); a task not named gets the
    plain NAME, else its own first metric. model: the model name to give every row of a file
    (None: the file's own, from its content or folder). regrade: lm-eval files with ``repeats > 1``
    give one row per generation, graded again (:mod:`.lmeval_regrade`); ``math_grader(target,
    completion) -> bool`` is the fallback grader for tasks whose filter cannot be replayed (the
    pipeline passes math-verify; io itself cannot import the task layer).
    """

    format: str | None = None
    filter: str | None = None
    metric: str | tuple[str, ...] | None = None
    model: str | None = None
    regrade: bool = False
    math_grader: Callable[[str, str], bool] | None = None

    def __post_init__(self) -> None:
        parse_metrics(self.metric)  # a malformed --metric fails here, before any file is read

    def metric_for(self, task: str) -> str | None:
        """The metric asked for ``task``: its TASK=NAME, else the plain NAME, else None (the task's first)."""
        every, per_task = parse_metrics(self.metric)
        return per_task.get(task, every)

    def metric_tasks(self) -> set[str]:
        """The tasks named by TASK=NAME."""
        return set(parse_metrics(self.metric)[1])


def stderr_note(text: str) -> None:
    """Print one ``note:`` line on stderr."""
    print(f"note: {text}", file=sys.stderr)


def _hook(target: str) -> Callable:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def open_source(path: str, fmt: str, options: ImportOptions, note: Callable[[str], None]) -> Source:
    """The source reading ``path`` (its extension's format ``fmt``), see the module docstring."""
    inner = source_class(fmt)(path)
    content = content_formats()
    if options.format in content:
        return source_class(options.format).wrap(inner, options, note)
    if options.format is None:
        for name, sniff in content.items():
            if name != "rates" and _hook(sniff)(inner.columns):
                return source_class(name).wrap(inner, options, note)
    source = with_aliases(inner, note)
    if options.format is None and _hook(content["rates"])(source.columns):
        return source_class("rates").wrap(source, options, note)
    return source


def lmeval_task(path: str | Path) -> str | None:
    """The task of an lm-eval samples file, from its name; None if the name is not lm-eval's."""
    stem = Path(path).name.rsplit(".", 1)[0]
    m = LMEVAL_SAMPLES.match(stem) or LMEVAL_SAMPLES_OLD.match(stem)
    return m.group("task") if m else None


def folder_model_name(path: str | Path) -> str:
    """The model named by a file's folder: lm-eval writes ``org/name`` as ``org__name``."""
    return Path(path).resolve().parent.name.replace("__", "/")


def default_model_name(path: str | Path) -> str:
    """The model of a file with no model column: its folder's name for lm-eval and LiveCodeBench
    output files (whose names hold a task and a date, not a model), else the file's stem."""
    p = Path(path)
    if lmeval_task(p) or p.name.endswith("_eval_all.json"):
        return folder_model_name(p)
    return p.stem


def folder_files(folder: str | Path) -> list[Path] | None:
    """The result files of an lm-eval output folder (``samples_*.jsonl``, in the folder or one
    level down: ``--output_path`` holds one folder per model) or a LiveCodeBench one
    (``*_eval_all.json``); None when there are none."""
    root = Path(folder)
    for pattern in ("samples_*.jsonl", "*_samples_*.jsonl", "*_eval_all.json"):
        found = sorted(root.glob(pattern)) or sorted(root.glob(f"*/{pattern}"))
        if found:
            return found
    return None
