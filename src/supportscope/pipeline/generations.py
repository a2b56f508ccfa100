"""Reading raw generations for ``supportscope grade``: one row per sample, in JSON Lines, CSV or Parquet.

Columns (other columns are ignored): ``problem_id`` (text or a whole number), ``model`` (text; may be
absent when a default model name is given), ``sample_idx`` (a whole number >= 0; when the column is
absent, the samples of a problem and model are numbered 0, 1, ... in file order) and ``completion``
(the model's text; ``null`` is refused). This is what vLLM or OpenAI-client sampling scripts
usually write. An optional ``prompt`` column (the text sent, chat template included; a list of chat
messages is kept as its canonical JSON) is carried to ``grade``'s ``prompt_hash``. Every problem is an :class:`~supportscope.errors.InputError` naming the file and
its line (JSON Lines, CSV) or row (Parquet) and the fix. The file's format is picked by its
extension (``.jsonl``/``.ndjson``, ``.csv``, ``.parquet``/``.pq``), checked by
:func:`supportscope.io.formats.check_path` (a folder, a FIFO, an empty or compressed file are refused
before they are opened).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

from supportscope.errors import InputError
from supportscope.io.formats import check_path

__all__ = ["COLUMNS", "Generation", "read_generations"]

COLUMNS = ("problem_id", "model", "sample_idx", "completion")
_FIX_ROW = ('write one row per sample: {"problem_id": "p1", "model": "base", "sample_idx": 0, '
            '"completion": "..."}')
#: CSV fields may hold whole completions (Python's csv module stops at 128 KiB by default)
_CSV_FIELD_LIMIT = 2**30


@dataclass(frozen=True)
class Generation:
    """One sample and where it is in its file (``line`` for text files, ``row`` for Parquet)."""

    problem_id: str
    model: str
    sample_idx: int | None
    completion: str
    path: str
    line: int | None
    row: int | None
    prompt: str | None = None

    def error(self, message: str, fix: str) -> InputError:
        return InputError(self.path, message, fix, line=self.line, row=self.row)

    @property
    def where(self) -> str:
        return self.error("", "").where


def read_generations(path: str | os.PathLike[str], default_model: str | None = None) -> list[Generation]:
    """The samples in ``path`` in file order (see the module docstring), with their places."""
    shown = os.fspath(path)
    fmt = check_path(shown)
    reader = {"jsonl": _jsonl_rows, "csv": _csv_rows, "parquet": _parquet_rows}.get(fmt)
    if reader is None:
        raise InputError(shown, f"generations cannot be read from {fmt} files",
                         "save them as .jsonl, .csv or .parquet")
    out = [_generation(shown, values, line, row, default_model) for values, line, row in reader(shown)]
    if not out:
        raise InputError(shown, "no generations in the file", _FIX_ROW)
    return out


def _generation(path: str, values: dict, line: int | None, row: int | None,
                default_model: str | None) -> Generation:
    def bad(message: str, fix: str) -> InputError:
        return InputError(path, message, fix, line=line, row=row)

    missing = [c for c in COLUMNS if c not in values and not (c == "sample_idx" or (c == "model" and default_model))]
    if missing:
        found = ", ".join(repr(k) for k in list(values)[:12]) or "none"
        fix = _FIX_ROW + ("; or give --model NAME for a file of one model" if "model" in missing else "")
        raise bad(f"missing {', '.join(repr(c) for c in missing)} (found: {found})", fix)
    pid = _text(values["problem_id"], "problem_id", bad)
    model = _text(values["model"], "model", bad) if "model" in values else str(default_model)
    idx = values.get("sample_idx")
    if idx is not None or "sample_idx" in values:
        idx = _index(idx, bad)
    completion = values["completion"]
    if not isinstance(completion, str):
        shown = "null" if completion is None else type(completion).__name__
        raise bad(f"completion must be text, got {shown}",
                  'write the model\'s output as a string (an empty string "" for a failed generation)')
    prompt = values.get("prompt")
    if isinstance(prompt, (list, dict)):
        prompt = json.dumps(prompt, sort_keys=True, ensure_ascii=False)
    elif prompt is not None and not isinstance(prompt, str):
        prompt = str(prompt)
    return Generation(pid, model, idx, completion, path, line, row, prompt or None)


def _text(value, name: str, bad) -> str:
    if isinstance(value, bool) or value is None or not isinstance(value, (str, int, float)):
        raise bad(f"{name} must be text or a whole number, got {json.dumps(value, default=str)[:40]}",
                  f'write {name} as a string, e.g. "p1"')
    if isinstance(value, float):
        if not value.is_integer():
            raise bad(f"{name} {value!r} is not a whole number", f'write {name} as a string, e.g. "p1"')
        value = int(value)
    text = str(value).strip()
    if not text:
        raise bad(f"{name} is empty", f"give every sample its {name}")
    return text


def _index(value, bad) -> int:
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value >= 2**32:
        raise bad(f"sample_idx must be a whole number in [0, 2^32), got {json.dumps(value, default=str)[:40]}",
                  "number the samples of each problem and model 0, 1, 2, ...")
    return value


def _jsonl_rows(path: str) -> Iterator[tuple[dict, int, None]]:
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise InputError(path, f"not UTF-8 text ({e.reason} at byte {e.start} of the line)",
                                 "save the file as UTF-8", line=lineno) from None
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                raise InputError(path, f"invalid JSON ({e.msg}, column {e.colno})", _FIX_ROW, line=lineno) from None
            if not isinstance(obj, dict):
                raise InputError(path, f"expected a JSON object, got {type(obj).__name__}", _FIX_ROW, line=lineno)
            yield obj, lineno, None


def _csv_rows(path: str) -> Iterator[tuple[dict, int, None]]:
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            start = 1
            header = None
            try:
                for fields in reader:
                    here, start = start, reader.line_num + 1
                    if header is None:
                        header = [h.strip() for h in fields]
                        continue
                    if not any(f.strip() for f in fields):
                        continue
                    if len(fields) != len(header):
                        raise InputError(path, f"{len(fields)} fields where the header has {len(header)}",
                                         "quote fields that contain commas, quotes or line breaks", line=here)
                    yield dict(zip(header, fields)), here, None
            except csv.Error as e:
                raise InputError(path, f"cannot be read as CSV ({e})",
                                 "save it as plain CSV text (UTF-8, quoted fields)", line=start) from None
    except UnicodeDecodeError as e:
        raise InputError(path, f"not UTF-8 text ({e.reason} at byte {e.start})", "save the file as UTF-8") from None


def _parquet_rows(path: str) -> Iterator[tuple[dict, None, int]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        names = [n for n in (*COLUMNS, "prompt") if n in pf.schema_arrow.names]
        row = 0
        for batch in pf.iter_batches(columns=names, batch_size=4096):
            for values in batch.to_pylist():
                yield values, None, row
                row += 1
    except (pa.ArrowException, OSError) as e:
        raise InputError(path, f"cannot be read as Parquet ({str(e).splitlines()[0][:200]})",
                         "write it again with pyarrow or pandas (to_parquet)") from None
