"""JSON array input (``.json``): ``[{...}, {...}]``, read like JSON Lines (one row per object).

The whole file is parsed with Python's json module, object by object, so each record keeps the
line where it starts for messages. Values are handed on as text (like CSV cells): the validator
turns numbers written as text into numbers and names a bad one. Importers (LiveCodeBench's
``*_eval_all.json``, lm-eval) read :meth:`JsonArraySource.elements` directly.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from ..errors import InputError
from .source import ID_COLUMNS, Source

__all__ = ["JsonArraySource"]

_FIX = 'write a JSON array of objects, e.g. [{"problem_id": "p1", "model": "base", "n": 8, "correct": 3}]'
_WS = " \t\r\n"


class JsonArraySource(Source):
    """A ``.json`` file holding one array of objects."""

    fmt = "json"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        self._elements = _parse(self.path)
        if not self._elements:
            raise InputError(self.path, "the JSON array is empty", _FIX, line=1)
        self.header_line = self._elements[0][0]
        self.columns = list(self._elements[0][1])

    def elements(self) -> list[tuple[int, dict]]:
        """``(line, object)`` of every element, in file order."""
        return self._elements

    def batches(self, names: list[str], bool_columns: tuple[str, ...] = ()) -> Iterator[pa.RecordBatch]:
        cols = {n: pa.array([_text(obj.get(n), n in ID_COLUMNS, n in bool_columns) for _, obj in self._elements],
                            pa.string()) for n in names}
        yield pa.RecordBatch.from_arrays(list(cols.values()), names=list(cols))

    def place(self, row: int) -> dict[str, int]:
        return {"line": self._elements[row][0], "row": row} if row < len(self._elements) else {"row": row}

    def lines(self, rows: np.ndarray) -> np.ndarray:
        lines = np.fromiter((line for line, _ in self._elements), np.int64, len(self._elements))
        return lines[np.asarray(rows, dtype=np.int64)]


def _text(value: object, is_id: bool, allow_bool: bool) -> str | None:
    """A JSON value as the text a CSV cell would hold (None for null/missing)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ("1" if value else "0") if allow_bool else json.dumps(value)
    if isinstance(value, float) and is_id and math.isfinite(value) and value == int(value):
        return str(int(value))  # 7.0 -> "7", as for JSON Lines
    if isinstance(value, (int, float, str)):
        return str(value)
    return json.dumps(value)[:60]


def _parse(path: str) -> list[tuple[int, dict]]:
    """The elements of the array in ``path`` with their first lines; InputError naming the line."""
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InputError(path, f"not UTF-8 text (byte {e.start})", "save the file as UTF-8", line=line) from None
    text = text.lstrip("\ufeff")
    decoder, out = json.JSONDecoder(), []
    i, line, counted = _skip(text, 0), 1, 0

    def line_at(pos: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, pos)
        counted = pos
        return line

    if i >= len(text) or text[i] != "[":
        what = "a JSON object" if text[i:i + 1] == "{" else "not a JSON array"
        raise InputError(path, f"the file is {what}, not an array of objects", _FIX, line=line_at(i))
    i = _skip(text, i + 1)
    while i < len(text) and text[i] != "]":
        try:
            obj, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise InputError(path, f"invalid JSON: {e.msg}", _FIX, line=line_at(e.pos)) from None
        if not isinstance(obj, dict):
            raise InputError(path, f"an element is a JSON {type(obj).__name__}, not an object", _FIX, line=line_at(i))
        out.append((line_at(i), obj))
        i = _skip(text, end)
        if i < len(text) and text[i] == ",":
            i = _skip(text, i + 1)
        elif i >= len(text) or text[i] != "]":
            raise InputError(path, "invalid JSON: expected ',' or ']' after an element", _FIX, line=line_at(min(i, len(text))))
    if i >= len(text):
        raise InputError(path, "invalid JSON: the array is not closed with ']'", _FIX, line=line_at(len(text)))
    if text[i + 1:].strip(_WS):
        raise InputError(path, "invalid JSON: text after the array", _FIX, line=line_at(i + 1))
    return out


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i
