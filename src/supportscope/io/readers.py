"""Load results from any eval harness as a counts table, validating as the data streams in.

>>> table = load_counts(["base.csv", "tuned_samples.jsonl"])            # doctest: +SKIP
>>> table.column_names
['problem_id', 'model', 'n', 'correct', 'source', 'line']

Each file is either counts (``problem_id, model, n, correct``) or per-sample rows
(``problem_id, model, sample_idx, correct`` or ``reward``), in CSV, JSON Lines or Parquet.
Per-sample rows are aggregated to counts, across files too: the samples of one problem and model
may be split over several per-sample files (shards, e.g. one file per seed), as long as each
``sample_idx`` occurs once. The first problem found raises
:class:`~supportscope.errors.InputError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from ..errors import InputError
from .aggregate import GroupTally
from .columns import Layout, detect_layout
from .formats import check_path
from .importers import ImportOptions, open_source, stderr_note
from .keys import SeenKeys, Vocab, pack_place, unpack_place
from .schema import COUNTS_SCHEMA
from .source import Source
from .validate import Issues, check_counts, check_samples

__all__ = ["load_counts"]

PathLike = str | os.PathLike[str]

_LOW32 = np.int64(0xFFFFFFFF)
_FIX_DUP_PAIR = (
    "keep one counts row per problem and model (add up n and correct if they are parts of one run), "
    "and give a problem and model either as a counts row or as per-sample rows, not both"
)
_FIX_DUP_SAMPLE = "give each sample of a problem and model its own sample_idx, and write each sample once"


def load_counts(
    paths: PathLike | Iterable[PathLike],
    *,
    default_model: str | None = None,
    success_threshold: float = 1.0,
    options: ImportOptions | None = None,
    note: Callable[[str], None] | None = None,
) -> pa.Table:
    """Read result files and return one counts table (schema :data:`COUNTS_SCHEMA`).

    Args:
        paths: one path or several; ``.csv``, ``.jsonl`` / ``.ndjson`` or ``.parquet`` / ``.pq``.
            Counts files and per-sample files may be mixed.
        default_model: the model name for the rows of a file with no ``model`` column (a
            file that has one keeps its own). If None, a missing ``model`` column is an error.
        success_threshold: a per-sample ``reward`` counts as a success when >= this.
        options: how to read other harnesses' files (:class:`~.importers.ImportOptions`: format,
            lm-eval filter and metric, a model name for their rows); default: recognised by content.
        note: called with each one-line note (column aliases, n = 1); default: printed on stderr.

    Returns:
        ``problem_id, model, n, correct, source, line``: one row per (problem_id, model), in
        file order; aggregated groups in order of their first sample (file order, then row
        order), with the ``source`` and ``line`` of that sample and the samples of every file.

    Raises:
        InputError: at the first problem in the files, naming the file, line (or row) and fix.
        ValueError: no paths, or a bad argument.
    """
    if not 0.0 < float(success_threshold) <= 1.0:
        raise ValueError(f"success_threshold must be in (0, 1], got {success_threshold!r}")
    if default_model is not None and not str(default_model).strip():
        raise ValueError("default_model must be a non-empty name or None")
    path_list = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not path_list:
        raise ValueError("no input files given")
    loader = _Loader(default_model, float(success_threshold), options or ImportOptions(), note or stderr_note)
    parts = [loader.read(i, p) for i, p in enumerate(path_list)]
    _check_metric_tasks(loader)
    return pa.concat_tables([loader.finish(part) for part in parts])


def _check_metric_tasks(loader: _Loader) -> None:
    """A ``--metric TASK=NAME`` whose task is not among the lm-eval files read is an error (a typo
    would otherwise leave that task on its first metric without a word)."""
    tasks = sorted({s.task for s in loader.sources if s.fmt == "lm-eval"})
    unknown = sorted(loader.options.metric_tasks() - set(tasks))
    if tasks and unknown:
        raise InputError("<command line>", f"--metric names task {unknown[0]!r}, which is not among the lm-eval "
                         f"tasks read ({', '.join(tasks)})", f"write --metric TASK=NAME with TASK one of: "
                         f"{', '.join(tasks)}")


class _Loader:
    """State shared by the files of one :func:`load_counts` call."""

    def __init__(self, default_model: str | None, threshold: float, options: ImportOptions,
                 note: Callable[[str], None]) -> None:
        self.default_model = default_model
        self.options, self.note = options, note
        self.threshold = threshold
        self.problem_ids = Vocab()
        self.models = Vocab()
        self.pairs = SeenKeys()  # (problem_id, model) of every counts row so far -> place
        self.tally = GroupTally()  # (problem_id, model) groups of the per-sample rows of all files
        self.sources: list[Source] = []
        self.real_paths: dict[str, str] = {}

    def read(self, index: int, path: PathLike) -> pa.Table | _Groups:
        """Read one file: a counts table, or the sample groups that first appear in it (their
        counts are final only after the last file; see :meth:`finish`)."""
        fmt = check_path(path)
        real = os.path.realpath(path)
        if real in self.real_paths:
            raise InputError(path, f"this file was already given (as {self.real_paths[real]})", "pass each file once")
        self.real_paths[real] = os.fspath(path)
        source = open_source(os.fspath(path), fmt, self.options, self.note)
        self.sources.append(source)
        layout = detect_layout(source, self.default_model)
        if self.options.format in ("counts", "samples") and layout.kind != self.options.format:
            raise InputError(path, f"--format {self.options.format} but the file holds {layout.kind} rows "
                             f"(columns {', '.join(source.columns[:8])})", "drop --format to read each file by its "
                             "content, or pass the right one", line=source.header_line)
        try:
            if layout.kind == "counts":
                return self._counts(index, source, layout)
            return self._samples(index, source, layout)
        except OSError as e:
            raise InputError(path, f"cannot be read ({e.strerror or e})", "check the file and its permissions") from None

    def finish(self, part: pa.Table | _Groups) -> pa.Table:
        """The counts table of one file's result from :meth:`read`, once all files are read."""
        if isinstance(part, pa.Table):
            return part
        counts = {"n": self.tally.n[part.groups], "correct": self.tally.correct[part.groups]}
        return pa.Table.from_arrays(
            [pa.array(counts[name], pa.int64()) if name in counts else part.table.column(name) for name in COUNTS_SCHEMA.names],
            schema=COUNTS_SCHEMA,
        )

    def _pair_keys(self, problem_id: pa.StringArray, model: pa.StringArray | None) -> np.ndarray:
        pid = self.problem_ids.codes(problem_id)
        if model is None:
            mod = np.full(pid.size, self.models.codes(pa.array([self.default_model], pa.string()))[0])
        else:
            mod = self.models.codes(model)
        return (pid << 32) | mod

    def _pair_text(self, key: int) -> str:
        pid = self.problem_ids.values[int(key) >> 32].as_py()
        model = self.models.values[int(key) & 0xFFFFFFFF].as_py()
        return f"problem_id {pid!r} with model {model!r}"

    def _elsewhere(self, place: int) -> str:
        source_index, row = unpack_place(place)
        return self.sources[source_index].where(row)

    def _counts(self, index: int, source: Source, layout: Layout) -> pa.Table:
        parts: list[tuple] = []
        offset = 0
        for batch in source.batches(list(layout.names)):
            issues = Issues()
            cb = check_counts(batch, layout.has_model, issues)
            keys = self._pair_keys(cb.problem_id, cb.model)
            rows = offset + np.arange(len(keys), dtype=np.int64)
            places = pack_place(index, rows)
            repeat = self.pairs.first_repeat(keys, places)
            group = self.tally.find(keys)  # a counts row must not be a group of sample rows either
            in_samples = np.flatnonzero(group >= 0)
            if in_samples.size and (repeat is None or in_samples[0] < repeat[0]):
                pos = int(in_samples[0])
                repeat = (pos, int(self.tally.first_place[group[pos]]))
            if repeat:
                pos, first = repeat
                issues.add(
                    pos,
                    f"{self._pair_text(keys[pos])} appears twice: at {self._elsewhere(first)} and at {source.where(offset + pos)}",
                    _FIX_DUP_PAIR,
                )
            _raise_earliest(issues, source, offset)
            self.pairs.add(keys, places)
            parts.append((cb.problem_id, keys, cb.n, cb.correct, rows))
            offset += len(keys)
        rows = np.concatenate([p[4] for p in parts])
        keys = np.concatenate([p[1] for p in parts])
        return _table(
            pa.concat_arrays([p[0] for p in parts]),
            self.models.strings(keys & _LOW32),
            np.concatenate([p[2] for p in parts]),
            np.concatenate([p[3] for p in parts]),
            source,
            rows,
        )

    def _samples(self, index: int, source: Source, layout: Layout) -> _Groups:
        tally = self.tally
        start = tally.pairs.size  # groups from here on first appear in this file
        offset = 0
        for batch in source.batches(list(layout.names), bool_columns=(layout.outcome,)):
            issues = Issues()
            sb = check_samples(batch, layout.has_model, layout.outcome, self.threshold, issues)
            pairs = self._pair_keys(sb.problem_id, sb.model)
            rows = offset + np.arange(pairs.size, dtype=np.int64)
            g, new_pairs, new_pos = tally.groups(pairs)
            sample_keys = (g << 32) | sb.sample_idx
            places = pack_place(index, rows)
            repeat = tally.samples.first_repeat(sample_keys, places)
            if repeat:
                pos, first = repeat
                issues.add(
                    pos,
                    f"sample_idx {int(sb.sample_idx[pos])} of {self._pair_text(pairs[pos])} appears twice: "
                    f"at {self._elsewhere(first)} and at {source.where(offset + pos)}",
                    _dup_sample_fix(source),
                )
            # a group new to the samples must not be a counts row (groups seen in an earlier
            # sample file were checked then; their samples merge)
            earlier = self.pairs.first_repeat(new_pairs, pack_place(index, new_pos))
            if earlier:
                j, first = earlier
                pos = int(new_pos[j])
                issues.add(
                    pos,
                    f"{self._pair_text(new_pairs[j])} appears twice: at {self._elsewhere(first)} "
                    f"and in this file from {source.where(offset + pos)}",
                    _FIX_DUP_PAIR,
                )
            _raise_earliest(issues, source, offset)
            tally.samples.add(sample_keys, places)
            tally.add(g, sb.success, places)
            offset += pairs.size
        groups = start + np.argsort(tally.first_place[start:], kind="stable")
        pairs = tally.pairs[groups]
        first_rows = tally.first_place[groups] - pack_place(index, np.int64(0))
        table = _table(
            self.problem_ids.strings(pairs >> 32),
            self.models.strings(pairs & _LOW32),
            None,
            None,
            source,
            first_rows,
        )
        return _Groups(groups, table)


class _Groups(NamedTuple):
    """The sample groups first seen in one file, in order of their first sample: group indices
    in the shared :class:`GroupTally`, and their columns but ``n`` and ``correct``."""

    groups: np.ndarray
    table: pa.Table


def _dup_sample_fix(source: Source) -> str:
    """The fix for a sample written twice: the source's own, or the lm-eval filter hint for a file
    with a ``filter`` column (one row per document and filter), else :data:`_FIX_DUP_SAMPLE`."""
    if source.dup_fix:
        return source.dup_fix
    if "filter" in source.columns:
        return ("the file has a 'filter' column: lm-eval writes one row per document for each filter; keep the "
                "rows of one filter, or pass the lm-eval samples file itself with --filter NAME")
    return _FIX_DUP_SAMPLE


def _raise_earliest(issues: Issues, source: Source, offset: int) -> None:
    issue = issues.earliest()
    if issue is not None:
        raise source.error(offset + issue.index, issue.message, issue.fix)


def _table(
    problem_id: pa.Array,
    model: pa.Array,
    n: np.ndarray | None,
    correct: np.ndarray | None,
    source: Source,
    rows: np.ndarray,
) -> pa.Table:
    """The counts table of ``rows`` of ``source``; without ``n`` and ``correct`` when None."""
    size = len(problem_id)
    columns = {
        "problem_id": problem_id.cast(pa.string()),
        "model": model.cast(pa.string()),
        "n": None if n is None else pa.array(n, pa.int64()),
        "correct": None if correct is None else pa.array(correct, pa.int64()),
        "source": pa.array([source.path], pa.string()).take(pa.array(np.zeros(size, dtype=np.int64))),
        "line": pa.array(source.lines(rows), pa.int64()),
    }
    fields = [f for f in COUNTS_SCHEMA if columns[f.name] is not None]
    return pa.Table.from_arrays([columns[f.name] for f in fields], schema=pa.schema(fields))
