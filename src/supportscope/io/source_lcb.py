"""LiveCodeBench ``*_eval_all.json``: a JSON array with one object per problem, holding
``question_id``, ``code_list`` and ``graded_list`` (one true/false per generation), ``pass@1`` and
``metadata``. Each graded generation becomes one per-sample row (sample_idx = its position); the
model is the folder's name (LiveCodeBench writes ``output/<model>/...``) unless one is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

from ..errors import InputError
from .importers import ImportOptions, folder_model_name
from .source import Source
from .source_table import DerivedSource

__all__ = ["LcbSource", "sniff"]

_FIX = 'each problem needs "question_id" and "graded_list" (a list of true/false, one per generation)'


def sniff(columns: list[str]) -> bool:
    """A LiveCodeBench record: ``question_id`` and ``graded_list``."""
    return {"question_id", "graded_list"} <= set(columns)


class LcbSource(DerivedSource):
    """One LiveCodeBench eval file, read as per-sample rows ``problem_id, model, sample_idx, correct``."""

    fmt = "lcb"

    @classmethod
    def wrap(cls, inner: Source, options: ImportOptions, note: Callable[[str], None]) -> LcbSource:
        if getattr(inner, "elements", None) is None:
            raise InputError(inner.path, "LiveCodeBench results are a JSON array (*_eval_all.json)",
                             "pass the *_eval_all.json file that LiveCodeBench writes", line=inner.header_line)
        return cls(inner, options, note)

    def __init__(self, inner: Source, options: ImportOptions, note: Callable[[str], None]) -> None:
        super().__init__(inner)
        self.model = options.model or folder_model_name(self.path)
        self.columns = ["problem_id", "model", "sample_idx", "correct"]
        note(f"{self.path}: LiveCodeBench results of model {self.model!r} (one row per graded generation)")

    def batches(self, names: list[str], bool_columns: tuple[str, ...] = ()) -> Iterator[pa.RecordBatch]:
        pids, idx, ok, rows = [], [], [], []
        for row, (line, obj) in enumerate(self.inner.elements()):
            qid, graded = obj.get("question_id"), obj.get("graded_list")
            if not isinstance(qid, (str, int)) or isinstance(qid, bool) or str(qid).strip() == "":
                raise InputError(self.path, f"question_id is {qid!r}, not a problem id", _FIX, line=line)
            if not isinstance(graded, list) or not all(isinstance(g, bool) or g in (0, 1) for g in graded):
                shown = repr(graded)[:40]
                raise InputError(self.path, f"graded_list of {qid!r} is {shown}, not a list of true/false", _FIX, line=line)
            pids += [str(qid)] * len(graded)
            idx += range(len(graded))
            ok += [int(bool(g)) for g in graded]
            rows += [row] * len(graded)
        if not pids:
            raise InputError(self.path, "no problem has a graded generation", _FIX, line=self.header_line)
        model = pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(pids), np.int32)), pa.array([self.model]))
        cols = {"problem_id": pa.array(pids, pa.string()), "model": model,
                "sample_idx": pa.array(idx, pa.int64()), "correct": pa.array(ok, pa.int64())}
        yield self.emit({n: cols[n] for n in names}, np.asarray(rows, dtype=np.int64))
