"""lm-evaluation-harness ``--log_samples`` files: ``samples_<task>_<date>.jsonl``, one JSON object
per (document, filter) with ``doc_id``, ``resps``, ``filtered_resps``, ``filter``, ``metrics`` (the
metric names) and one field per metric (``acc``, ``exact_match``: 0/1, true/false or a float).

Each document of the chosen filter becomes one per-sample row: problem_id ``task/doc_id``, the
metric as ``reward`` (a success when >= the success threshold), sample_idx 0. lm-eval grades one
(filtered) answer per document, so n = 1: a note says so. With ``--regrade`` and ``repeats > 1``
each of the R generations of ``resps[0]`` becomes its own row (sample_idx j, ``correct`` 0/1),
graded again by :mod:`.lmeval_regrade` (the filter and exact_match replayed, else math-verify). The model is ``model_name`` of the
sibling ``results_<date>.json``, else the folder's name (``Qwen__Qwen3.5-4B`` -> ``Qwen/Qwen3.5-4B``);
the task's ``repeats`` and ``filter_list`` come from there too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from .importers import ImportOptions, folder_model_name, lmeval_task
from .lmeval_regrade import Regrader, objects, targets
from .source import Source
from .source_table import DerivedSource

__all__ = ["LmEvalSource", "sniff"]

_VOTES = ("majority_vote",)  # filter functions whose answer is not one sample of the model


def sniff(columns: list[str]) -> bool:
    """An lm-eval samples record: ``doc_id``, ``resps`` and ``filtered_resps``."""
    return {"doc_id", "resps", "filtered_resps"} <= set(columns)


class LmEvalSource(DerivedSource):
    """One lm-eval samples file, read as per-sample rows ``problem_id, model, sample_idx, reward``."""

    fmt = "lm-eval"

    @classmethod
    def wrap(cls, inner: Source, options: ImportOptions, note: Callable[[str], None]) -> LmEvalSource:
        return cls(inner, options, note)

    def __init__(self, inner: Source, options: ImportOptions, note: Callable[[str], None]) -> None:
        super().__init__(inner)
        first = _first_record(inner)
        if "doc_id" not in inner.columns:
            raise self._error("no 'doc_id' field: this is not an lm-eval samples file",
                              "pass the samples_<task>_<date>.jsonl files that lm-eval --log_samples writes")
        self.task = lmeval_task(self.path) or Path(self.path).stem
        results = _results_json(self.path)
        config = ((results or {}).get("configs") or {}).get(self.task) or {}
        self.model = options.model or (results or {}).get("model_name") or folder_model_name(self.path)
        metrics = [m for m in first.get("metrics") or [] if isinstance(m, str)]
        self.metric = options.metric_for(self.task) or (metrics[0] if metrics else None)
        if self.metric is None or self.metric not in inner.columns:
            have = ", ".join(metrics) or "none"
            what = f"metric {self.metric!r} is not a field of the samples" if self.metric else "the samples name no metric"
            raise self._error(f"{what} (task {self.task}; its metrics: {have})",
                              f"pass --metric {self.task}=NAME for this task, NAME one of: {have}")
        if isinstance(first.get(self.metric), (list, dict, str)):
            numeric = ", ".join(m for m in metrics if isinstance(first.get(m), (int, float))) or "none"
            raise self._error(f"metric {self.metric!r} is not a number per document (it is aggregated over the corpus, "
                              f"e.g. bleu; task {self.task}; its metrics: {', '.join(metrics)})",
                              f"pass --metric {self.task}=NAME of a per-document metric, one of: {numeric}")
        filters = {f.get("name"): f.get("filter") or [] for f in config.get("filter_list") or [] if isinstance(f, dict)}
        self.filter, self.chosen = self._choose_filter(options.filter, list(filters), note)
        self.filter = self.filter or first.get("filter")
        repeats = config.get("repeats") or _repeats(first)
        several = isinstance(repeats, int) and repeats > 1
        self.grader, self.note = None, note
        self.dup_fix = ("count each lm-eval document once per model: pass one samples file per task and model "
                        "(two files of one task are two runs)")
        if options.regrade and several:
            self._start_regrade(results, config, repeats, options, note)
            return
        if any(step.get("function") in _VOTES for step in filters.get(self.filter) or [] if isinstance(step, dict)):
            raise self._error(f"filter {self.filter!r} votes over the generations (majority_vote): its answer is "
                              "not one sample of the model", "pass --regrade to grade each generation as a sample, "
                              "or --filter NAME of a filter that keeps one generation (take_first)")
        extra = (f"; repeats {repeats}: only the filtered answer is graded, the other {repeats - 1} generations "
                 "are not counted (pass --regrade to grade each generation as its own sample)") if several else (
                 f"; --regrade: repeats {repeats or 1}, no other generation to grade" if options.regrade else "")
        note(f"{self.path}: lm-eval task {self.task}, model {self.model!r}, metric {self.metric!r}, filter "
             f"{self.filter!r}: one graded answer per document (n = 1) certifies nothing beyond pass@1{extra}")
        self.columns = ["problem_id", "model", "sample_idx", "reward"]

    def _start_regrade(self, results: dict | None, config: dict, repeats: int, options: ImportOptions,
                       note: Callable[[str], None]) -> None:
        """--regrade with repeats > 1: the grader of each generation (:mod:`.lmeval_regrade`)."""
        name = _results_name(self.path)
        where = str(Path(self.path).parent / name) if results is not None else self.path
        why = None if config else (f"{name} holds no config of task {self.task}" if results is not None
                                   else f"no {name} next to it")
        self.grader = Regrader(config or None, self.filter, self.metric, options.math_grader, where, why)
        note(f"{self.path}: lm-eval task {self.task}, model {self.model!r}, filter {self.filter!r}: --regrade: "
             f"each of the {repeats} generations of resps[0] is one sample (sample_idx 0..{repeats - 1}), graded "
             f"by {self.grader.describe()}")
        self.columns = ["problem_id", "model", "sample_idx", "correct"]
        self._lines: list[int] = []

    def _choose_filter(self, asked: str | None, known: list[str], note: Callable[[str], None]) -> tuple[str | None, bool]:
        """The filter to count and whether it was chosen (--filter): a file with one filter uses it."""
        if asked is None:
            if len(known) > 1:
                raise self._several(known)
            return (known[0] if known else None), False
        if not known and "filter" in self.inner.columns:  # no results_*.json: read the filter column
            known = []
            for batch in self.inner.batches(["filter"]):
                known += [f for f in batch.column("filter").cast(pa.string()).unique().to_pylist() if f not in known]
        if asked in known or not known:
            return asked, True
        if len(known) == 1:
            note(f"{self.path}: --filter {asked!r} is not a filter of task {self.task}; its only filter {known[0]!r} is used")
            return known[0], True
        raise self._error(f"--filter {asked!r} is not a filter of task {self.task} (filters: {', '.join(map(str, known))})",
                          f"pass --filter NAME, one of: {', '.join(map(str, known))}")

    def _error(self, what: str, fix: str) -> InputError:
        return InputError(self.path, what, fix, line=self.header_line)

    def _several(self, names: list[str], row: int | None = None) -> InputError:
        where = self.inner.place(row) if row is not None else {"line": self.header_line}
        return InputError(self.path, f"this file holds {len(names)} lm-eval filters ({', '.join(map(repr, names))}), "
                          "one row per document for each", f"pass --filter NAME to count one of them, e.g. "
                          f"--filter {names[0]}", **where)

    def batches(self, names: list[str], bool_columns: tuple[str, ...] = ()) -> Iterator[pa.RecordBatch]:
        if self.grader is not None:
            yield from self._regraded(names)
            return
        has_filter = "filter" in self.inner.columns
        wanted = ["doc_id", self.metric] + (["filter"] if has_filter else [])
        offset, kept, seen = 0, 0, []
        for batch in self.inner.batches(wanted, bool_columns=(self.metric,)):
            size = batch.num_rows
            keep = np.arange(size)
            if has_filter:
                flt = batch.column("filter").cast(pa.string())
                seen += [f for f in pc.unique(flt).to_pylist() if f not in seen]
                if self.filter is None:
                    self.filter = seen[0]
                other = np.asarray(pc.fill_null(pc.not_equal(flt, self.filter), True))
                if other.any() and not self.chosen:
                    raise self._several(seen, offset + int(np.argmax(other)))
                keep = np.flatnonzero(~other)
            docs = batch.column("doc_id").cast(pa.string()).take(keep)
            model = pa.DictionaryArray.from_arrays(pa.array(np.zeros(keep.size, np.int32)), pa.array([self.model]))
            cols = {"problem_id": pc.binary_join_element_wise(self.task, docs, "/"), "model": model,
                    "sample_idx": pa.array(np.zeros(keep.size, np.int64)), "reward": batch.column(self.metric).take(keep)}
            kept += keep.size
            yield self.emit({n: cols[n] for n in names}, offset + keep)
            offset += size
        if kept == 0:
            raise self._error(f"no record has filter {self.filter!r} (filters: {', '.join(map(str, seen))})",
                              f"pass --filter NAME, one of: {', '.join(map(str, seen))}")

    def _regraded(self, names: list[str]) -> Iterator[pa.RecordBatch]:
        """--regrade: one row per generation of resps[0] of each document of the chosen filter."""
        rows: dict[str, list] = {"problem_id": [], "sample_idx": [], "correct": []}
        self._lines, seen, kept = [], [], 0
        for row, (line, rec) in enumerate(objects(self.inner)):
            flt = rec.get("filter")
            if flt not in seen:
                seen.append(flt)
            if self.filter is None:
                self.filter = flt
            if flt != self.filter:
                if not self.chosen and "filter" in rec:
                    raise self._several([str(f) for f in seen], row)
                continue
            kept += 1
            resps = rec.get("resps")
            gens = resps[0] if isinstance(resps, list) and resps and isinstance(resps[0], list) else None
            refs = targets(rec.get("target"))
            if gens is None or refs is None or "doc_id" not in rec:
                what = "resps is not a list of generations" if gens is None else (
                    "target is missing" if refs is None else "doc_id is missing")
                raise InputError(self.path, f"{what} (--regrade grades each generation of resps[0] against target)",
                                 "pass the samples file as lm-eval --log_samples wrote it, or leave out --regrade",
                                 line=line)
            pid = f"{self.task}/{_doc_text(rec['doc_id'])}"
            for j, gen in enumerate(gens):
                ok = self.grader.grade(gen if isinstance(gen, str) else "", refs)
                if j == 0:
                    self.grader.check_first(ok, rec.get(self.metric))
                rows["problem_id"].append(pid)
                rows["sample_idx"].append(j)
                rows["correct"].append(int(ok))
                self._lines.append(line)
            if len(rows["correct"]) >= _BATCH:
                yield self._regraded_batch(rows, names)
        if kept == 0:
            raise self._error(f"no record has filter {self.filter!r} (filters: {', '.join(map(str, seen))})",
                              f"pass --filter NAME, one of: {', '.join(map(str, seen))}")
        if rows["correct"]:
            yield self._regraded_batch(rows, names)
        g = self.grader
        if g.mismatch:
            self.note(f"{self.path}: --regrade: the replayed grade of the first generation differs from lm-eval's own "
                      f"{self.metric} on {g.mismatch} of {g.checked} documents (another lm-eval version, or a "
                      "filter/metric option not replayed)")

    def _regraded_batch(self, rows: dict[str, list], names: list[str]) -> pa.RecordBatch:
        size = len(rows["correct"])
        cols = {"problem_id": pa.array(rows["problem_id"], pa.string()),
                "model": pa.DictionaryArray.from_arrays(pa.array(np.zeros(size, np.int32)), pa.array([self.model])),
                "sample_idx": pa.array(rows["sample_idx"], pa.int64()), "correct": pa.array(rows["correct"], pa.int64())}
        for v in rows.values():
            v.clear()
        return pa.RecordBatch.from_arrays([cols[n] for n in names], names=names)

    def place(self, row: int) -> dict[str, int]:
        if self.grader is None:
            return super().place(row)
        return {"line": self._lines[row]} if row < len(self._lines) else {"row": row}

    def lines(self, rows: np.ndarray) -> np.ndarray:
        if self.grader is None:
            return super().lines(rows)
        return np.asarray(self._lines, dtype=np.int64)[np.asarray(rows, dtype=np.int64)]


#: per-sample rows per batch under --regrade
_BATCH = 1 << 16


def _doc_text(doc_id: object) -> str:
    """A doc_id as the problem id's text (7 and 7.0 -> "7"), as the columnar path reads it."""
    if isinstance(doc_id, float) and doc_id.is_integer():
        return str(int(doc_id))
    return str(doc_id)


def _first_record(inner: Source) -> dict:
    """The first object of the file (its ``metrics``, ``filter`` and ``resps``)."""
    elements = getattr(inner, "elements", None)
    if elements is not None:
        return elements()[0][1]
    if inner.fmt != "jsonl":  # Parquet (lm-eval details pushed to the Hub): --metric names the metric
        return {}
    with open(inner.path, "rb") as fh:
        for raw in fh:
            text = raw.decode("utf-8", "replace").lstrip("\ufeff").strip()
            if text:
                try:
                    obj = json.loads(text)
                except ValueError:
                    return {}
                return obj if isinstance(obj, dict) else {}
    return {}


def _results_name(path: str) -> str:
    """The file name of the ``results_<date>.json`` that belongs to a samples file."""
    stem = Path(path).name.rsplit(".", 1)[0]
    date = stem.rsplit("_", 1)[-1] if stem.startswith("samples_") else stem.split("_samples_", 1)[0]
    return f"results_{date}.json"


def _results_json(path: str) -> dict | None:
    """The sibling ``results_<date>.json`` of a samples file (lm-eval writes both), or None."""
    p = Path(path)
    date = _results_name(path)[len("results_"):-len(".json")]
    for name in (f"results_{date}.json", f"{date}_results.json"):
        try:
            with open(p.parent / name, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return data
    return None


def _repeats(first: dict) -> int | None:
    """Generations per request from the first record: ``resps`` is one list per request."""
    resps = first.get("resps")
    if isinstance(resps, list) and resps and isinstance(resps[0], list):
        return len(resps[0])
    return None
