"""Type and range checks every config dataclass runs first in its ``validate()``.

A config value may come from the command line (typer has already typed it), from a TOML file (any
TOML type: ``chat = "false"`` is a non-empty string, hence truthy), or from Python. Before a
config's own checks compare or use a value, :func:`check_fields` checks each field against its type
hint and the bounds in its metadata, and raises :class:`~supportscope.errors.ConfigError` naming the
field in backticks (the CLI respells it as the flag, ``supportscope run`` as ``[table] key`` at its
line)::

    n: int = field(default=8, metadata={"help": "...", "min": 1, "max": 2**20,
                                        "why": "a shard's samples are held in memory"})

(``why`` explains the ``max``, ``why_min`` the ``min``; ``example`` replaces the default in the Fix;
``max_len`` bounds a string or list, ``items`` holds the metadata of a list's elements.)

Rules: a bool where a bool is expected (never a string or a number); a whole number (never a bool,
a float such as TOML's ``1e7`` or a string) where an int is expected; a finite number (int or
float, never a bool) where a float is expected; a string of at most ``max_len`` characters
(default :data:`MAX_STR`) and without a NUL character for ``str`` (a path object given from Python is stored as its string)
and ``Path``; a list or tuple of at most ``max_len`` elements (default :data:`MAX_ITEMS`), each
checked as its element type, for ``list[T]`` and ``tuple[T, ...]``; None only where the hint
allows it. An int without a ``max`` in its metadata is still bounded by :data:`INT_MAX` (the int64
columns and generators it may reach). Numpy scalars are accepted and stored as Python ``int`` /
``float``. A value echoed in a message is cut to :data:`SHOW` characters, so a 1 MB string is
never printed.
"""

from __future__ import annotations

import functools
import json
import math
import numbers
import os
import types
import typing
from dataclasses import MISSING, fields
from pathlib import Path

from supportscope.errors import ConfigError

__all__ = ["INT_MAX", "MAX_ITEMS", "MAX_STR", "SEED", "SHOW", "bounds_text", "check_fields", "check_value",
           "check_values", "short"]

#: Largest whole number any config field takes (int64: Parquet columns, numpy and torch generators).
INT_MAX = 2**63 - 1
#: Longest string (a path, a task spec, a name): PATH_MAX on Linux.
MAX_STR = 4096
#: Most elements of a list-valued field (``--k``, ``--stop``, ...).
MAX_ITEMS = 1024
#: Characters of a bad value shown in a message.
SHOW = 60
#: The bounds of every seed: numpy's SeedSequence, torch's manual_seed and int64 columns take them all.
SEED = {"min": 0, "max": INT_MAX}


def short(value: object) -> str:
    """``value`` as the user wrote it (true/false, "text", 3, 1.5), cut to about :data:`SHOW` characters."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if len(value) <= SHOW:
            return json.dumps(value)
        return json.dumps(value[:SHOW]) + f"... ({len(value):,} characters)"
    text = repr(value)
    return text if len(text) <= SHOW else text[:SHOW] + "..."


def _kind(value: object) -> str:
    for cls, name in ((bool, "a boolean"), (str, "a string"), (numbers.Integral, "a whole number"),
                      (float, "a float"), (list, "a list"), (tuple, "a list"), (dict, "a table")):
        if isinstance(value, cls):
            return name
    return "None" if value is None else f"a {type(value).__name__}"


def _range(meta: typing.Mapping) -> str:
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and hi is not None:
        return f" in [{lo}, {hi}]"
    if lo is not None:
        return f" >= {lo}"
    return f" <= {hi}" if hi is not None else ""


def bounds_text(meta: typing.Mapping) -> str:
    """The bounds of a field as help text (``"Range: 1..1048576."``), or ""."""
    lo, hi = meta.get("min"), meta.get("max")
    if lo is None and hi is None:
        return ""
    if hi is None:
        return f"Range: >= {lo}."
    return f"Range: {'' if lo is None else lo}..{hi}."


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict:
    return typing.get_type_hints(cls)


def _split(hint) -> tuple[bool, object]:
    """(None allowed, the hint without None)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"config_checks: unsupported union {hint}")
        return True, args[0]
    return False, hint


def _expects(hint, meta: typing.Mapping) -> str:
    """What a field of type ``hint`` takes, in words."""
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        elem = _expects(typing.get_args(hint)[0], meta.get("items", {}))
        return f"a list of at most {meta.get('max_len', MAX_ITEMS)} values, each {elem}"
    if hint is bool:
        return "true or false"
    if hint is int:
        return "a whole number" + _range(meta)
    if hint is float:
        return "a finite number" + _range(meta)
    if hint in (str, Path):
        return f"{'a path' if hint is Path else 'a string'} of at most {meta.get('max_len', MAX_STR)} characters"
    raise TypeError(f"config_checks: unsupported type {hint}")


def _fix(name: str, hint, meta: typing.Mapping, default: object) -> str:
    if hint is bool:
        return f"write `{name}` as true or false, without quotes"
    example = meta.get("example", default)
    if example is None or isinstance(example, (list, tuple)) or (hint is str and example == ""):
        return f"give `{name}` {_expects(hint, meta)}"
    return f"use e.g. `{name}` {example}"


def _type_error(name: str, value, hint, meta, default) -> ConfigError:
    return ConfigError(f"`{name}` expects {_expects(hint, meta)}, got {short(value)} ({_kind(value)}). "
                       f"Fix: {_fix(name, hint, meta, default)}")


def _check_number(name: str, value, hint, meta, default):
    """``value`` as a Python int or float, checked; raises ConfigError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real if hint is float else numbers.Integral):
        raise _type_error(name, value, hint, meta, default)
    if hint is int:
        value = int(value)
    elif not isinstance(value, (int, float)):
        value = float(value)
    if hint is float and not math.isfinite(value):
        raise _type_error(name, value, hint, meta, default)
    lo, hi = meta.get("min"), meta.get("max", INT_MAX if hint is int else None)
    for bad, bound, op, why in ((lo is not None and value < lo, lo, ">=", meta.get("why_min")),
                                (hi is not None and value > hi, hi, "<=", meta.get("why"))):
        if bad:
            why = f" ({why})" if why else ""
            raise ConfigError(f"`{name}` {short(value)} must be {op} {bound}{why}. "
                              f"Fix: {_fix(name, hint, meta, default)}")
    return value


def check_value(name: str, value, hint, meta: typing.Mapping | None = None, default: object = None):
    """``value`` checked against type ``hint`` and the bounds in ``meta`` (numpy scalars made Python
    ones); raises ConfigError naming ``name``."""
    meta = meta or {}
    optional, hint = _split(hint)
    if value is None:
        if optional:
            return None
        raise _type_error(name, value, hint, meta, default)
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)) or len(value) > meta.get("max_len", MAX_ITEMS):
            raise _type_error(name, value, hint, meta, default)
        elem, items = typing.get_args(hint)[0], meta.get("items", {})
        out = [_check_one(name, v, elem, items, None, whole=(value, hint, meta, default)) for v in value]
        return value if all(a is b for a, b in zip(out, value)) else type(value)(out)
    return _check_one(name, value, hint, meta, default)


def _check_one(name, value, hint, meta, default, whole=None):
    """One scalar value; ``whole`` = (list, its hint, meta, default) names the list in a type error."""
    try:
        if hint in (int, float):
            return _check_number(name, value, hint, meta, default)
        if hint is bool:
            if not isinstance(value, bool):
                raise _type_error(name, value, hint, meta, default)
            return value
        if hint in (str, Path):
            if hint is str and isinstance(value, os.PathLike):
                value = os.fspath(value)  # a path given from Python: kept as its string
            if not isinstance(value, (str, os.PathLike)) or len(str(os.fspath(value))) > meta.get("max_len", MAX_STR):
                raise _type_error(name, value, hint, meta, default)
            if "\x00" in str(os.fspath(value)):  # no path or name can hold one (the OS refuses it)
                raise ConfigError(f"`{name}` {short(value)} contains a NUL character. "
                                  f"Fix: {_fix(name, hint, meta, default)}")
            return value
    except ConfigError:
        if whole is None:
            raise
        raise _type_error(name, whole[0], whole[1], whole[2], whole[3]) from None
    raise TypeError(f"config_checks: unsupported type {hint}")


def check_fields(obj) -> None:
    """Check every field of the dataclass instance ``obj`` (type hint + metadata bounds); numpy
    scalars are replaced by Python ones. Raises ConfigError naming the first bad field."""
    hints = _hints(type(obj))
    for f in fields(obj):
        value = getattr(obj, f.name)
        checked = check_value(f.name, value, hints[f.name], f.metadata, _default(f))
        if checked is not value:
            object.__setattr__(obj, f.name, checked)


def check_values(cls: type, values: typing.Mapping) -> None:
    """Check raw ``values`` (e.g. a TOML table) against the fields of ``cls`` they name, before any is
    used; keys that are not fields are left to the caller."""
    hints = _hints(cls)
    for f in fields(cls):
        if f.name in values:
            check_value(f.name, values[f.name], hints[f.name], f.metadata, _default(f))


def _default(f):
    return f.default if f.default is not MISSING else None
