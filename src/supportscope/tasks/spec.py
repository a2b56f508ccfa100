"""Parsing the ``NAME?key=value&key=value`` part of a task spec.

``+`` is kept as a plus sign (it is not a space here, unlike in HTML forms), so
``rg:basic_arithmetic?operators=+,-`` means the operators ``+`` and ``-``; ``%XX`` escapes are
decoded. Values are read as JSON where they parse as JSON (``5``, ``0.5``, ``true``,
``["+", "-"]``), Python's ``True``/``False``/``None`` are accepted, anything else is a string.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, unquote

__all__ = ["split_spec", "parse_value", "format_query"]

_SAFE = "+-,.:[]{}_\"'"  # kept as they are in a canonical spec (readable JSON lists)
_PY_LITERALS = {"True": True, "False": False, "None": None}


def split_spec(spec: str, rest: str) -> tuple[str, list[tuple[str, str]]]:
    """Split ``head?k=v&k2=v2`` into ``head`` and ``[(k, v), (k2, v2)]`` (raw value strings).

    ``spec`` is the whole spec, used in error messages only.
    """
    from .base import TaskSpecError

    head, sep, query = rest.partition("?")
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    if sep and query:
        for part in query.split("&"):
            if not part:
                continue
            key, eq, value = part.partition("=")
            key = unquote(key).strip()
            if not eq or not key:
                raise TaskSpecError(spec, f"'{part}' in the query is not key=value",
                                    "write options as ?key=value&key=value")
            if key in seen:
                raise TaskSpecError(spec, f"option '{key}' is given twice", "give each option once")
            seen.add(key)
            pairs.append((key, unquote(value)))
    return head, pairs


def parse_value(text: str) -> Any:
    """``"5"`` -> 5, ``"0.5"`` -> 0.5, ``"true"``/``"True"`` -> True, ``"[1,2]"`` -> [1, 2], else str."""
    if text in _PY_LITERALS:
        return _PY_LITERALS[text]
    try:
        return json.loads(text)
    except ValueError:
        return text


def format_query(options: dict[str, Any]) -> str:
    """The inverse of :func:`split_spec` + :func:`parse_value`: ``"?k=v&..."`` or ``""``."""
    if not options:
        return ""
    parts = []
    for key, value in options.items():
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        # Keep a string that would read back as another type (e.g. "5") quoted as JSON.
        if isinstance(value, str) and parse_value(value) != value:
            text = json.dumps(value)
        parts.append(quote(str(key), safe="") + "=" + quote(text, safe=_SAFE))
    return "?" + "&".join(parts)
