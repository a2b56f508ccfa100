"""The checks :func:`~.schema.build_table` makes on dict rows before Arrow sees them: each row a
dict, no unknown field, every required field present and not None, every value of an accepted
Python type. The fast path (:func:`checked_columns`) checks each distinct Python type of a column
once (the sets are built in C); only when something is wrong are the rows walked one by one, so
the error names the first bad row and field, as a row-by-row check would."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import chain
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import SchemaError


def _type_ok(tp: type, typ: pa.DataType) -> bool:
    """A cheap check of a value's Python type ``tp`` (list elements are left to Arrow's conversion)."""
    if pa.types.is_string(typ):
        return issubclass(tp, str)
    if pa.types.is_boolean(typ):
        return issubclass(tp, (bool, np.bool_))
    if pa.types.is_integer(typ):
        return issubclass(tp, (int, np.integer)) and not issubclass(tp, (bool, np.bool_))
    if pa.types.is_floating(typ):
        return issubclass(tp, (int, float, np.integer, np.floating)) and not issubclass(tp, (bool, np.bool_))
    if pa.types.is_list(typ):
        return issubclass(tp, (list, tuple, np.ndarray))
    return True


def type_name(typ: pa.DataType) -> str:
    if pa.types.is_string(typ):
        return "a string"
    if pa.types.is_boolean(typ):
        return "true/false"
    if pa.types.is_integer(typ):
        return f"a whole number ({typ})"
    if pa.types.is_floating(typ):
        return "a number"
    if pa.types.is_list(typ):
        return f"a list of {typ.value_type} values"
    return str(typ)


def short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _columns_ok(schema: pa.Schema, rows: list) -> dict[str, list] | None:
    """The rows' values per field when every row passes :func:`check_row`, else None. Each type check
    is made once per distinct Python type of a column (sets built in C), not once per value."""
    if not all(issubclass(tp, Mapping) for tp in set(map(type, rows))):
        return None
    if not set(chain.from_iterable(rows)) <= set(schema.names):
        return None
    columns = {}
    for field in schema:
        values = [row.get(field.name) for row in rows]
        types = set(map(type, values))
        if type(None) in types and not field.nullable:
            return None
        if any(tp is not type(None) and not _type_ok(tp, field.type) for tp in types):
            return None
        columns[field.name] = values
    return columns


def check_row(kind: str, schema: pa.Schema, i: int, row: Any) -> None:
    """Raise SchemaError at the first problem of row ``i``: not a dict, an unknown field, a missing or
    None required field, a value of the wrong Python type."""
    if not isinstance(row, Mapping):
        raise SchemaError(f"{kind} row {i}: expected a dict of fields, got {type(row).__name__}")
    extra = [k for k in row if k not in schema.names]
    if extra:
        raise SchemaError(
            f"{kind} row {i}: unknown field {extra[0]!r}; the fields of {kind} are {', '.join(schema.names)}"
        )
    for field in schema:
        if field.name not in row or row[field.name] is None:
            if field.nullable:
                continue
            what = "is missing" if field.name not in row else "is None"
            raise SchemaError(f"{kind} row {i}: field {field.name!r} {what}; it must be {type_name(field.type)}")
        value = row[field.name]
        if not _type_ok(type(value), field.type):
            raise SchemaError(
                f"{kind} row {i}: field {field.name!r} must be {type_name(field.type)}, "
                f"got {type(value).__name__} {short(value)}"
            )


def checked_columns(kind: str, schema: pa.Schema, rows: list) -> dict[str, list]:
    """The values per field, every row checked (:func:`check_row`); the first bad row raises."""
    columns = _columns_ok(schema, rows)
    if columns is None:  # something is wrong: find it row by row, in order
        for i, row in enumerate(rows):
            check_row(kind, schema, i, row)
        columns = {field.name: [row.get(field.name) for row in rows] for field in schema}
    return columns


__all__ = ["check_row", "checked_columns", "short", "type_name"]
