"""Shard files of the run store: safe deterministic names, deterministic Parquet bytes, reads checked
against the manifest (SHA-256, rows, schema), and the command that writes a bad shard again."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import StoreError
from .manifest import MANIFEST
from .paths import shard_file
from .schema import OPTIONAL_COLUMNS, ROW_KEYS, duplicate_rows, schema_of

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


def stored_table(kind: str, table: pa.Table) -> pa.Table:
    """``table`` as its shard file holds it: the :data:`~.schema.OPTIONAL_COLUMNS` whose values are
    all null left out (read back as null by :func:`read_shard`), so a run with no environment turns
    writes the bytes it wrote before ``policy_mask`` existed."""
    drop = [c for c in OPTIONAL_COLUMNS[kind] if table.column(c).null_count == table.num_rows]
    return table.drop_columns(drop) if drop else table


def with_optional_columns(kind: str, table: pa.Table, want: pa.Schema) -> pa.Table:
    """``table`` with the :data:`~.schema.OPTIONAL_COLUMNS` of ``want`` that it lacks added as all
    null, in ``want``'s order (a shard written without them: by :func:`stored_table`, or before
    they existed). Any other difference is left for the caller's schema check."""
    have = set(table.column_names)
    missing = [f.name for f in want if f.name not in have and f.name in OPTIONAL_COLUMNS[kind]]
    if not missing or any(f.name not in have and f.name not in missing for f in want):
        return table
    try:
        return pa.Table.from_arrays([table.column(f.name) if f.name in have else pa.nulls(table.num_rows, f.type)
                                     for f in want], schema=want)
    except (pa.ArrowException, ValueError, TypeError):
        return table


def shard_rel(kind: str, model: str, key: str) -> str:
    """A shard's file, relative to the run directory: ``KIND/MODEL/KEY.parquet`` (safe names)."""
    return f"{kind}/{fs_name(model)}/{fs_name(key)}.parquet"


def _shell(code: str) -> str:
    """``code`` quoted for a POSIX shell (in double quotes when that needs no escapes)."""
    return f'"{code}"' if not any(c in code for c in '"$`\\!') else shlex.quote(code)


def shard_fix(run: Path, rec: dict[str, Any]) -> str:
    """How to write the shard of ``rec`` again: the exact command that discards it from the run
    (:meth:`RunStore.discard`), then the job that made it, which writes the missing key again."""
    code = (f"from supportscope.store import RunStore; "
            f"RunStore({str(run)!r}).discard({rec['kind']!r}, {rec['model']!r}, {rec['key']!r})")
    job = "supportscope score" if rec["kind"] == "scores" else "supportscope sample"
    return (f"restore the file from a backup, or discard the shard with python -c {_shell(code)} and rerun the "
            f"same `{job}` (or `supportscope run`) command, which writes it again")


def _changed(path: Path, rec: dict[str, Any], digest: str, fix: str) -> StoreError:
    return StoreError(path, f"content changed since it was written (sha256 {digest[:12]}..., {MANIFEST} has "
                      f"{str(rec['sha256'])[:12]}...)", fix)


def _missing(run: Path, path: Path, fix: str) -> StoreError:
    return StoreError(path, f"shard listed in {run / MANIFEST} is missing", fix)


def _fetch(run: Path, rec: dict[str, Any]) -> tuple[Path, bytes]:
    """The checked path and the bytes of ``rec``'s shard, read once and hashed (sha256 and the
    read release the GIL, so this can run in a second thread); StoreError if the hash differs."""
    path = shard_file(run, rec, run / MANIFEST)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _missing(run, path, shard_fix(run, rec)) from None
    except OSError as e:
        raise StoreError(path, f"not a readable Parquet file ({' '.join(str(e).split())[:160]})",
                         shard_fix(run, rec)) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != rec["sha256"]:
        raise _changed(path, rec, digest, shard_fix(run, rec))
    return path, data


def _parse(run: Path, rec: dict[str, Any], path: Path, source: Any, columns: list[str] | None) -> pa.Table:
    """The table in ``source`` (a path, or a buffer of the bytes :func:`_fetch` read), its rows and
    columns checked against ``rec`` and the kind's schema."""
    try:
        with pq.ParquetFile(source) as parquet:
            table = parquet.read(columns=columns)
    except FileNotFoundError:
        raise _missing(run, path, shard_fix(run, rec)) from None
    except (pa.ArrowException, OSError) as e:
        raise StoreError(path, f"not a readable Parquet file ({' '.join(str(e).split())[:160]})",
                         shard_fix(run, rec)) from None
    if table.num_rows != rec["rows"]:
        raise StoreError(path, f"has {table.num_rows} rows, {MANIFEST} says {rec['rows']}", shard_fix(run, rec))
    schema = schema_of(rec["kind"])
    want = schema if columns is None else pa.schema([schema.field(c) for c in columns])
    table = with_optional_columns(rec["kind"], table, want)
    if not table.schema.equals(want):
        raise StoreError(path, f"columns differ from the {rec['kind']} schema of this supportscope version",
                         shard_fix(run, rec))
    return table.replace_schema_metadata(None)


def read_shard(run: Path, rec: dict[str, Any], verify: bool = True, columns: list[str] | None = None) -> pa.Table:
    """The shard of manifest record ``rec`` in run directory ``run`` (``columns`` only, if given).

    The file must lie inside the run (:func:`~.paths.shard_file`). With ``verify`` (the default)
    its bytes are read once, hashed, and parsed from the same buffer: a SHA-256 other than the
    manifest's is refused. Its row count is checked against the record and its columns against
    the kind's schema. Raises StoreError naming the file and how to write it again."""
    if verify:
        path, data = _fetch(run, rec)
        return _parse(run, rec, path, pa.BufferReader(data), columns)
    path = shard_file(run, rec, run / MANIFEST)
    return _parse(run, rec, path, path, columns)


def read_shard_tables(run: Path, recs: list[dict[str, Any]], verify: bool = True,
                      columns: list[str] | None = None) -> list[pa.Table]:
    """:func:`read_shard` of each record, in order. With ``verify``, shard i+1 is read and hashed
    in a second thread while shard i is parsed here (two shards' bytes in memory at most), so the
    hash costs little time; errors are raised in shard order, as one by one."""
    if not verify or len(recs) < 2:
        return [read_shard(run, r, verify, columns) for r in recs]
    tables = []
    with ThreadPoolExecutor(1, thread_name_prefix="supportscope-sha256") as pool:
        ahead = pool.submit(_fetch, run, recs[0])
        for i, rec in enumerate(recs):
            path, data = ahead.result()
            if i + 1 < len(recs):
                ahead = pool.submit(_fetch, run, recs[i + 1])
            tables.append(_parse(run, rec, path, pa.BufferReader(data), columns))
    return tables


def verify_shards(run: Path, recs: list[dict[str, Any]]) -> None:
    """Check that the shard file of every record in ``recs`` is inside the run, present, and has
    the manifest's SHA-256 (hashed in chunks, not parsed). Raises StoreError naming the first bad
    shard, how many more there are, and how to write it again."""
    bad: list[StoreError] = []
    for rec in recs:
        path = shard_file(run, rec, run / MANIFEST)
        try:
            with open(path, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
        except FileNotFoundError:
            bad.append(_missing(run, path, shard_fix(run, rec)))
            continue
        except OSError as e:
            bad.append(StoreError(path, f"not readable ({' '.join(str(e).split())[:160]})", shard_fix(run, rec)))
            continue
        if digest != rec["sha256"]:
            bad.append(_changed(path, rec, digest, shard_fix(run, rec)))
    if bad:
        first, n = bad[0], len(bad) - 1
        more = f" (and {n} more {'shard' if n == 1 else 'shards'} changed or missing)" if n else ""
        raise StoreError(first.path, first.message + more, first.fix)


def check_model_column(where: Path, table: pa.Table, model: str) -> None:
    """Refuse (StoreError) a samples table with a row of another model than the shard's ``model``."""
    if not len(table):
        return
    bad = pc.invert(pc.equal(table.column("model"), model))
    if pc.any(bad).as_py():
        row = int(pc.index(bad, True).as_py())
        raise StoreError(where, f"samples row {row} has model {table.column('model')[row].as_py()!r}, "
                         f"not the shard's model {model!r}", "write each model's samples to its own shards")


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


def check_new_run_folder(run: Path, keep: str) -> None:
    """Refuse (StoreError) to create a run in ``run`` unless it is missing or an empty folder
    (``keep``, the lock file, and temp files of a killed writer aside)."""
    if run.exists() and not run.is_dir():
        raise StoreError(run, "exists and is not a folder", "choose a new --out folder")
    if run.is_dir():
        other = [p.name for p in run.iterdir() if p.name != keep and not TEMP_FILE.match(p.name)]
        if other:
            raise StoreError(run, f"folder is not empty and is not a supportscope run (no {MANIFEST}; "
                             f"it has {other[0]!r})", "choose a new or empty --out folder")


def remove_temp_files(run: Path, keep: str) -> None:
    """Delete temp files left by killed writers under ``run`` (only while holding the lock)."""
    for dirpath, _, filenames in os.walk(run):
        for name in filenames:
            if name != keep and TEMP_FILE.match(name):
                Path(dirpath, name).unlink(missing_ok=True)
