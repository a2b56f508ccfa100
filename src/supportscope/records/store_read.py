"""Reading a run: its model configs and shard records, and its shards as one table
(:class:`ReadMixin`, the read side of :class:`~supportscope.records.store.RunStore`)."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .manifest import MANIFEST
from .run_schema import KINDS, ROW_KEYS, duplicate_rows, schema_of
from .shard_files import fs_name
from .store_error import StoreError


class ReadMixin:
    """The queries and reads of :class:`~supportscope.records.store.RunStore` (no lock needed)."""

    # -- queries ---------------------------------------------------------------------------

    def entry(self, model: str) -> dict[str, Any]:
        """The config registered for ``model`` (a copy)."""
        self._sync()
        entries = self._manifest["entries"]
        if model not in entries:
            known = ", ".join(repr(m) for m in entries) or "none"
            raise StoreError(self._manifest_path, f"no model {model!r} in this run (models: {known})",
                             "use one of the run's model names")
        return copy.deepcopy(entries[model])

    def shard_path(self, kind: str, model: str, key: str) -> Path:
        """Where the shard ``key`` of ``model`` is (or would be) stored."""
        return self._path / self._rel(kind, model, key)

    def done(self, kind: str, model: str) -> set[str]:
        """The keys of ``model``'s completed ``kind`` shards."""
        self._check_kind(kind)
        self._sync()
        return {k for (kd, m, k) in self._index if kd == kind and m == model}

    def shards(self, kind: str | None = None, model: str | None = None) -> list[dict[str, Any]]:
        """The manifest's shard records (copies), optionally of one kind/model, sorted by
        (kind, model, key)."""
        if kind is not None:
            self._check_kind(kind)
        self._sync()
        recs = [r for r in self._index.values() if (kind is None or r["kind"] == kind)
                and (model is None or r["model"] == model)]
        return [dict(r) for r in sorted(recs, key=lambda r: (r["kind"], r["model"], r["key"]))]

    def models(self, kind: str) -> list[str]:
        """The models with at least one ``kind`` shard, sorted."""
        self._check_kind(kind)
        self._sync()
        return sorted({m for (kd, m, _) in self._index if kd == kind})

    # -- reading ---------------------------------------------------------------------------

    def read(self, kind: str, model: str | None = None, verify: bool = False) -> pa.Table:
        """All ``kind`` shards (of ``model``, or of every model) as one table.

        Shards are concatenated sorted by (model, key) — not in the order they were written —
        so the result does not depend on the order work finished. Each shard's row count is
        checked against the manifest, and with ``verify`` its SHA-256 too. A row key (e.g.
        problem_id, model, sample_idx) found in two shards is an error.

        Raises:
            StoreError: a missing, unreadable, changed or duplicated shard, naming the file.
        """
        recs = self.shards(kind, model)
        if not recs:
            return schema_of(kind).empty_table()
        tables = [self._read_shard(r, verify) for r in recs]
        self._check_unique(kind, recs, tables)
        return pa.concat_tables(tables)

    def _read_shard(self, rec: dict[str, Any], verify: bool, columns: list[str] | None = None) -> pa.Table:
        path = self._path / rec["file"]
        fix = (f"restore the file, or run RunStore({str(self._path)!r}).discard({rec['kind']!r}, "
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
            raise StoreError(path, f"shard listed in {self._manifest_path} is missing", fix) from None
        except (pa.ArrowException, OSError) as e:
            raise StoreError(path, f"not a readable Parquet file ({' '.join(str(e).split())[:160]})", fix) from None
        if table.num_rows != rec["rows"]:
            raise StoreError(path, f"has {table.num_rows} rows, {MANIFEST} says {rec['rows']}", fix)
        schema = schema_of(rec["kind"])
        want = schema if columns is None else pa.schema([schema.field(c) for c in columns])
        if not table.schema.equals(want):
            raise StoreError(path, f"columns differ from the {rec['kind']} schema of this supportscope version", fix)
        return table.replace_schema_metadata(None)

    def _check_unique(self, kind: str, recs: list[dict[str, Any]], tables: list[pa.Table]) -> None:
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
            places.append(f"{self._path / recs[i]['file']} row {row - starts[i]}")
        raise StoreError(self._manifest_path, f"the same {kind} row occurs in two shards ({places[0]} and {places[1]})",
                         "discard one of the two shards (RunStore.discard) and resume the run")

    # -- internals -------------------------------------------------------------------------

    def _rel(self, kind: str, model: str, key: str) -> str:
        return f"{kind}/{fs_name(model)}/{fs_name(key)}.parquet"

    def _check_kind(self, kind: str) -> None:
        if kind not in KINDS:
            raise StoreError(self._path, f"unknown shard kind {kind!r}", f"use one of {', '.join(KINDS)}")

    def _check_name(self, what: str, name: str) -> None:
        if not isinstance(name, str) or not name or "\x00" in name:
            raise StoreError(self._path, f"shard {what} {name!r} is empty or not a string", f"give a non-empty {what}")
