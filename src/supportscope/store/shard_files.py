"""Shard files of the run store: safe deterministic names, deterministic Parquet bytes, checked reads."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import StoreError
from .manifest import MANIFEST
from .schema import ROW_KEYS, duplicate_rows, schema_of

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


def shard_rel(kind: str, model: str, key: str) -> str:
    """A shard's file, relative to the run directory: ``KIND/MODEL/KEY.parquet`` (safe names)."""
    return f"{kind}/{fs_name(model)}/{fs_name(key)}.parquet"


def read_shard(run: Path, rec: dict[str, Any], verify: bool, columns: list[str] | None = None) -> pa.Table:
    """The shard of manifest record ``rec`` in run directory ``run`` (``columns`` only, if given).

    Its row count is checked against the record, with ``verify`` its SHA-256 too, and its columns
    against the kind's schema. Raises StoreError naming the file and how to write it again."""
    path = run / rec["file"]
    fix = (f"restore the file, or run RunStore({str(run)!r}).discard({rec['kind']!r}, "
           f"{rec['model']!r}, {rec['key']!r}) and resume the run to write it again")
    try:
        if verify:
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest != rec["sha256"]:
                raise StoreError(path, f"content changed since it was written (sha256 {digest[:12]}..., "
                                 f"{MANIFEST} has {rec['sha256'][:12]}...)", fix)
            source: Any = pa.BufferReader(data)
        else:
            source = path
        with pq.ParquetFile(source) as parquet:
            table = parquet.read(columns=columns)
    except FileNotFoundError:
        raise StoreError(path, f"shard listed in {run / MANIFEST} is missing", fix) from None
    except (pa.ArrowException, OSError) as e:
        raise StoreError(path, f"not a readable Parquet file ({' '.join(str(e).split())[:160]})", fix) from None
    if table.num_rows != rec["rows"]:
        raise StoreError(path, f"has {table.num_rows} rows, {MANIFEST} says {rec['rows']}", fix)
    schema = schema_of(rec["kind"])
    want = schema if columns is None else pa.schema([schema.field(c) for c in columns])
    if not table.schema.equals(want):
        raise StoreError(path, f"columns differ from the {rec['kind']} schema of this supportscope version", fix)
    return table.replace_schema_metadata(None)


def check_unique(run: Path, kind: str, recs: list[dict[str, Any]], tables: list[pa.Table]) -> None:
    """Raise StoreError when a row key (e.g. problem_id, model, sample_idx) is in two shards,
    naming both places. The tables must hold the kind's row-key columns."""
    if len(tables) < 2:
        return  # each shard was checked when it was written
    keys = list(ROW_KEYS[kind])
    dup = duplicate_rows(pa.concat_tables([t.select(keys) for t in tables]), keys)
    if dup is None:
        return
    starts = np.cumsum([0] + [t.num_rows for t in tables])
    places = []
    for row in dup:
        i = int(np.searchsorted(starts, row, side="right") - 1)
        places.append(f"{run / recs[i]['file']} row {row - starts[i]}")
    raise StoreError(run / MANIFEST, f"the same {kind} row occurs in two shards ({places[0]} and {places[1]})",
                     "discard one of the two shards (RunStore.discard) and resume the run")


#: Temp files of the atomic writer (``.NAME.PID.HEX.tmp``, :mod:`supportscope.atomic`).
TEMP_FILE = re.compile(r"^\..+\.tmp$")


def remove_temp_files(run: Path, keep: str) -> None:
    """Delete temp files left by killed writers under ``run`` (only while holding the lock)."""
    for dirpath, _, filenames in os.walk(run):
        for name in filenames:
            if name != keep and TEMP_FILE.match(name):
                Path(dirpath, name).unlink(missing_ok=True)
