"""JSON Lines input: line-aligned binary chunks, each checked for UTF-8 and parsed by pyarrow.

pyarrow's JSON reader needs one type per column. Each chunk is parsed on its own
(``read_json`` with an explicit schema for the needed columns, other fields ignored), so types
never clash between chunks: the type of a needed column follows what the file holds (ids as
text or integers; numbers; ``true``/``false`` where booleans are allowed). A chunk that mixes
kinds in one column (``"problem_id": 7`` next to ``"problem_id": "a7"``, ``"correct": true``
next to ``1``) is rewritten first: a regular expression (RE2, vectorised) quotes bare numbers
after the id keys and turns ``true``/``false`` into ``1``/``0``. On any parse error the chunk is
re-scanned with Python's json module to find the exact line.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ..errors import InputError
from .source import ID_COLUMNS, Source
from .textscan import Utf8Check, jsonl_record_lines, line_chunks

__all__ = ["JsonlSource"]

_CHANGED = re.compile(r"Column\(/([^)]*)\) changed from \w+ to (\w+)")
_FIX_JSON = 'write one JSON object per line, e.g. {"problem_id": "p1", "model": "base", "n": 8, "correct": 3}'


class JsonlSource(Source):
    """A JSON Lines file: one JSON object per line; blank lines are skipped."""

    fmt = "jsonl"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        self._lines: list[np.ndarray] = []
        self.header_line, first = self._first_record()
        self.columns = list(first)

    def _first_record(self) -> tuple[int, dict]:
        """The first non-blank line and its object, which give the columns of the file."""
        utf8 = Utf8Check(self.path)
        with open(self.path, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                utf8.feed(raw, number, final=not raw.endswith(b"\n"))  # the last line may end mid-character
                text = raw.decode("utf-8")
                if number == 1:
                    text = text.lstrip("\ufeff")
                if text.strip(" \t\r\n"):
                    obj = _parse_line(self.path, text, number)
                    return number, obj
        raise InputError(self.path, "the file has only blank lines", _FIX_JSON)

    def batches(self, names: list[str], bool_columns: tuple[str, ...] = ()) -> Iterator[pa.RecordBatch]:
        bools = [n for n in names if n in bool_columns]
        types = {n: _canonical(n) for n in names}  # current guess, carried from chunk to chunk
        utf8, line, rows = Utf8Check(self.path), 1, 0
        self._lines = []  # a second pass (an importer's pre-scan) starts afresh
        with open(self.path, "rb") as fh:
            for _, chunk in line_chunks(fh):
                utf8.feed(chunk, line)
                record_lines = jsonl_record_lines(chunk, line)
                if record_lines.size:
                    table = self._parse(chunk, line, types, bools)
                    if table.num_rows != record_lines.size:
                        raise self._find_bad_line(chunk, line, names, bools, "one object per line expected")
                    self._lines.append(record_lines)
                    rows += table.num_rows
                    yield from table.combine_chunks().to_batches()
                line += chunk.count(b"\n")
        utf8.feed(b"", line, final=True)
        if rows == 0:
            raise self.no_rows()

    def _parse(self, chunk: bytes, first_line: int, types: dict[str, pa.DataType], bools: list[str]) -> pa.Table:
        """Parse a chunk, adapting ``types`` to the file; rewrite the chunk if a column mixes kinds."""
        tried: set[tuple[str, pa.DataType]] = set()
        while True:
            try:
                return _read(pa.py_buffer(chunk), types)
            except pa.ArrowException as e:
                m = _CHANGED.search(str(e))
                alt = _alternative(m.group(1), m.group(2), m.group(1) in bools) if m and m.group(1) in types else None
                if alt is None or (m.group(1), alt) in tried:
                    break
                tried.add((m.group(1), alt))
                types[m.group(1)] = alt
        ids = [n for n in types if n in ID_COLUMNS]
        try:
            return _read(_rewrite(chunk, ids, bools), {n: _canonical(n) for n in types})
        except pa.ArrowException as e:
            raise self._find_bad_line(chunk, first_line, list(types), bools, str(e)) from None

    def _find_bad_line(self, chunk: bytes, first_line: int, names: list[str], bools: list[str], why: str) -> InputError:
        """Error path: re-scan a chunk with Python's json module to name the bad line."""
        for k, raw in enumerate(chunk.split(b"\n")):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:  # the file ends inside a character: name its line
                Utf8Check(self.path).feed(chunk, first_line, final=True)
                raise
            if first_line + k == 1:
                text = text.lstrip("\ufeff")
            if not text.strip(" \t\r"):
                continue
            obj = _parse_line(self.path, text, first_line + k)
            for name in names:
                problem = _type_problem(name, obj.get(name), name in bools)
                if problem:
                    return InputError(self.path, *problem, line=first_line + k)
        return InputError(self.path, f"cannot read JSON ({why})", _FIX_JSON, line=first_line)

    def place(self, row: int) -> dict[str, int]:
        lines = np.concatenate(self._lines) if self._lines else np.zeros(0, dtype=np.int64)
        return {"line": int(lines[row]), "row": row} if row < lines.size else {"row": row}

    def lines(self, rows: np.ndarray) -> np.ndarray:
        lines = np.concatenate(self._lines) if self._lines else np.zeros(0, dtype=np.int64)
        return lines[np.asarray(rows, dtype=np.int64)]


def _canonical(name: str) -> pa.DataType:
    """The type of a needed column in a rewritten chunk."""
    return pa.string() if name in ID_COLUMNS else pa.float64()


def _alternative(name: str, kind: str, allow_bool: bool) -> pa.DataType | None:
    """The type to try for column ``name`` after pyarrow met a JSON value of ``kind``."""
    if name in ID_COLUMNS:
        return {"string": pa.string(), "number": pa.int64()}.get(kind)
    if kind == "boolean" and allow_bool:
        return pa.bool_()
    return pa.float64() if kind == "number" else None


def _read(data: pa.Buffer, types: dict[str, pa.DataType]) -> pa.Table:
    """pyarrow's JSON reader on one chunk; fields other than ``types`` are skipped."""
    schema = pa.schema(list(types.items()))
    parse = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    return pj.read_json(pa.BufferReader(data), parse_options=parse)


def _rewrite(chunk: bytes, ids: list[str], bools: list[str]) -> pa.Buffer:
    """Quote bare numbers after id keys (``7`` and ``7.0`` -> ``"7"``, ``7.5`` -> ``"7.5"``) and
    turn true/false after boolean keys into 1/0."""
    if not ids and not bools:
        return pa.py_buffer(chunk)
    offsets = pa.py_buffer(np.array([0, len(chunk)], dtype=np.int32).tobytes())
    arr = pa.StringArray.from_buffers(1, offsets, pa.py_buffer(chunk))
    if ids:
        keys = "|".join(ids)
        whole = r"-?(?:0|[1-9][0-9]*)"
        number = whole + r"(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
        # 7.0 -> "7" (a whole number written as a float, as pandas does), like Parquet floats
        arr = pc.replace_substring_regex(arr, pattern=rf'("(?:{keys})"[ \t]*:[ \t]*)({whole})\.0+([ \t]*[,}}])', replacement=r'\1"\2"\3')
        arr = pc.replace_substring_regex(arr, pattern=rf'("(?:{keys})"[ \t]*:[ \t]*)({number})([ \t]*[,}}])', replacement=r'\1"\2"\3')
    if bools:
        keys = "|".join(bools)
        arr = pc.replace_substring_regex(arr, pattern=rf'("(?:{keys})"[ \t]*:[ \t]*)true([ \t]*[,}}])', replacement=r"\11\2")
        arr = pc.replace_substring_regex(arr, pattern=rf'("(?:{keys})"[ \t]*:[ \t]*)false([ \t]*[,}}])', replacement=r"\10\2")
    return arr[0].as_buffer()


def _parse_line(path: str, text: str, line: int) -> dict:
    """Parse one JSON Lines record, raising :class:`InputError` at ``line``."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(path, f"invalid JSON: {e.msg} (column {e.colno})", _FIX_JSON, line=line) from None
    if not isinstance(obj, dict):
        raise InputError(path, f"this line is a JSON {type(obj).__name__}, not an object", _FIX_JSON, line=line)
    return obj


def _type_problem(name: str, value: object, allow_bool: bool) -> tuple[str, str] | None:
    """``(message, fix)`` when a JSON value cannot be used for column ``name``; None if it can
    (a missing or null value is left to the validator)."""
    if value is None:
        return None
    shown = json.dumps(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    if name in ID_COLUMNS:
        if isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            return None
        return f"{name} must be a string or a number, got {shown}", f'write {name} as a JSON string, e.g. "p1"'
    if isinstance(value, (int, float)) and (allow_bool or not isinstance(value, bool)):
        return None
    also, example = (" or true/false", "1") if allow_bool else ("", "3")
    return f"{name} must be a number{also}, got {shown}", f'write {name} as a JSON number{also}, e.g. {example} (not "{example}")'
