"""Shard files of the run store: file-system-safe, deterministic names and deterministic Parquet bytes."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

#: Fixed Parquet writer options: with the same pyarrow version, the same table gives the same
#: bytes (pyarrow writes no timestamps; the only key-value metadata is ARROW:schema).
PARQUET_OPTIONS: dict[str, Any] = {
    "version": "2.6",
    "data_page_version": "1.0",
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "row_group_size": 1 << 16,
    "store_schema": True,
}

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def fs_name(name: str) -> str:
    """A file-system-safe, deterministic name for a model name or shard key.

    Names of letters, digits, ``.``, ``_`` and ``-`` (not starting with ``.``, at most 100
    characters) are kept; any other name becomes its safe characters (``_`` for the rest, at
    most 80) plus ``-`` and 10 hex digits of its SHA-256, so different names get different
    files. The manifest keeps the name verbatim.
    """
    safe = _SAFE.sub("_", name)
    if safe == name and not name.startswith(".") and 0 < len(name) <= 100:
        return name
    return safe.lstrip(".")[:80] + "-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]


def parquet_bytes(table: pa.Table) -> bytes:
    """The Parquet file of ``table`` with :data:`PARQUET_OPTIONS` (deterministic bytes)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **PARQUET_OPTIONS)
    return sink.getvalue().to_pybytes()
