"""The resumable run store: Parquet shards written atomically, and a manifest that lists them.

A run directory (``RUN``) holds::

    RUN/manifest.json                      format, created, entries, shards, versions
    RUN/.lock                              the writer lock (flock; released when the writer dies)
    RUN/<kind>/<model>/<key>.parquet       kind: problems, samples or scores

A shard exists for the run only once it is listed in ``manifest.json``. Writing a shard: Parquet
bytes -> temp file in the shard's folder -> fsync -> rename to the final name -> fsync folder
-> manifest with the shard added, written the same way. A process killed at any point leaves
either the old manifest (the shard is not done; a file left under its name is overwritten when
the run resumes) or the new one (the shard is done, its file complete). So a run resumed after
SIGKILL, skipping the keys in :meth:`RunStore.done`, loses and duplicates nothing; and since
the same table gives the same Parquet bytes, a run with a fixed seed gives identical files.

    store = RunStore.open("out/run1")
    store.register("qwen-base", {"role": "base", "decoding": {"temperature": 1.0}})
    for key in keys:
        if key not in store.done("samples", "qwen-base"):
            store.write_shard("samples", "qwen-base", key, build_table("samples", rows_for(key)))
    store.read("samples")          # all shards, sorted by (model, key)

Readers need no lock: ``RunStore(path)`` opens an existing run and re-reads the manifest when it
changes, so a run can be read while it is being written.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..versions import library_versions
from .errors import InputError
from .lock import FileLock, LockHeld
from .run_schema import KINDS, ROW_KEYS, SchemaError, conform, duplicate_rows, schema_of
from .schema import COUNTS_SCHEMA

__all__ = ["RunStore", "StoreError", "counts_from_samples", "fs_name", "parquet_bytes", "FORMAT", "PARQUET_OPTIONS"]

PathLike = str | os.PathLike[str]

#: The manifest's ``format``; a reader refuses any other.
FORMAT = "supportscope-run/1"
MANIFEST = "manifest.json"
LOCK = ".lock"

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

_TMP = re.compile(r"^\..+\.tmp$")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_SHARD_FIELDS = ("kind", "model", "key", "file", "rows", "sha256", "written")
_FIX_OUT = "write to a new --out folder, or give the model a different --name"


class StoreError(InputError, ValueError):
    """A run directory cannot be used as asked. ``str`` is one line:
    ``"RUN/...: what. Fix: ..."`` (see :class:`~supportscope.records.errors.InputError`)."""


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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that cannot fsync a directory
        pass
    finally:
        os.close(fd)


def _ensure_dir(path: Path) -> None:
    """Create ``path`` and missing parents, making each new directory entry durable."""
    missing = []
    p = path
    while not p.is_dir():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            if not d.is_dir():
                raise
        _fsync_dir(d.parent)


def _atomic_write(final: Path, data: bytes) -> None:
    """Write ``data`` to a temp file next to ``final``, fsync, rename over ``final``, fsync dir."""
    tmp = final.parent / f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, final)
    _fsync_dir(final.parent)


def parquet_bytes(table: pa.Table) -> bytes:
    """The Parquet file of ``table`` with :data:`PARQUET_OPTIONS` (deterministic bytes)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **PARQUET_OPTIONS)
    return sink.getvalue().to_pybytes()


def _json_config(value: Any) -> Any:
    return json.loads(json.dumps(value, allow_nan=False))


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix or "(config)": value}


def _config_diff(old: dict, new: dict, limit: int = 4) -> str:
    a, b = _flatten(old), _flatten(new)
    absent = object()
    keys = [k for k in dict.fromkeys([*a, *b]) if a.get(k, absent) != b.get(k, absent)]
    parts = []
    for k in keys[:limit]:
        va = "(absent)" if k not in a else json.dumps(a[k])
        vb = "(absent)" if k not in b else json.dumps(b[k])
        parts.append(f"{k}: {va[:60]} in the run, {vb[:60]} now")
    more = f"; and {len(keys) - limit} more" if len(keys) > limit else ""
    return "; ".join(parts) + more


def _manifest_json(manifest: dict[str, Any]) -> str:
    """The manifest as JSON with one top-level field, entry and shard per line (readable, and
    fast: every line is made by the C encoder)."""

    def dump(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False, allow_nan=False)

    fields = []
    for key, value in manifest.items():
        if isinstance(value, dict) and value:
            inner = ",\n".join(f"  {dump(k)}: {dump(v)}" for k, v in value.items())
            fields.append(f" {dump(key)}: {{\n{inner}\n }}")
        elif isinstance(value, list) and value:
            inner = ",\n".join(f"  {dump(v)}" for v in value)
            fields.append(f" {dump(key)}: [\n{inner}\n ]")
        else:
            fields.append(f" {dump(key)}: {dump(value)}")
    return "{\n" + ",\n".join(fields) + "\n}\n"


class RunStore:
    """A run directory of Parquet shards and their manifest (see the module docstring).

    ``RunStore(path)`` opens an existing run (no lock is taken until the first write);
    ``RunStore.open(path)`` also creates the run when ``path`` is missing or an empty folder.
    The first :meth:`register`, :meth:`write_shard` or :meth:`discard` takes the writer lock,
    held until :meth:`close` (or the end of the process, killed or not); a second writer gets a
    :class:`StoreError`. Use it as a context manager to release the lock on exit.

    Args:
        path: the run directory. Messages name it as given.
        create: create the run when there is none (taking the lock).
        versions: library versions to record in a new run's manifest (default:
            :func:`supportscope.versions.library_versions`). A writer that resumes a run with
            other versions appends them, with the time, to the manifest's ``"resumed"`` list.
    """

    def __init__(self, path: PathLike, *, create: bool = False, versions: Mapping[str, str] | None = None) -> None:
        self._path = Path(path)
        self._versions_given = None if versions is None else dict(versions)
        self._lock = FileLock(self._path / LOCK)
        self._manifest: dict[str, Any] = {}
        self._index: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._files: dict[str, tuple[str, str, str]] = {}
        self._stamp: tuple[int, int, int] | None = None
        if self._manifest_path.is_file():
            self._load()
        elif create:
            self._create()
        else:
            raise StoreError(
                self._path,
                f"not a supportscope run (no {MANIFEST})",
                "check the path; a run directory is made by `supportscope sample --out RUN` (RunStore.open)",
            )

    @classmethod
    def open(cls, path: PathLike, create: bool = True, versions: Mapping[str, str] | None = None) -> RunStore:
        """Open the run at ``path``, creating it (when ``create``) if there is none."""
        return cls(path, create=create, versions=versions)

    # -- properties ------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The run directory, as given."""
        return self._path

    @property
    def manifest(self) -> dict[str, Any]:
        """A copy of the manifest (as on disk; re-read if another process changed it)."""
        self._sync()
        return copy.deepcopy(self._manifest)

    @property
    def writing(self) -> bool:
        """Whether this store holds the writer lock."""
        return self._lock.held

    @property
    def _versions(self) -> dict[str, str]:
        if self._versions_given is None:  # looked up only when writing
            self._versions_given = library_versions()
        return self._versions_given

    @property
    def _manifest_path(self) -> Path:
        return self._path / MANIFEST

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

    # -- writing ---------------------------------------------------------------------------

    def register(self, model: str, config: Mapping[str, Any]) -> None:
        """Record ``model``'s config (role, policy, decoding, task, ...) in the manifest.

        The same config again is a no-op (that is how a run resumes or grows); a different one
        raises :class:`StoreError` naming the differing keys. ``config`` must be JSON data.
        """
        if not isinstance(model, str) or not model.strip():
            raise StoreError(self._manifest_path, f"model name {model!r} is empty or not a string",
                             "give the model a non-empty name")
        if not isinstance(config, Mapping):
            raise StoreError(self._manifest_path, f"config of model {model!r} is a {type(config).__name__}, not a dict",
                             "pass the model's settings as a dict")
        try:
            new = _json_config(dict(config))
        except (TypeError, ValueError) as e:
            raise StoreError(self._manifest_path, f"config of model {model!r} is not JSON data ({e})",
                             "pass dicts, lists, strings, finite numbers, booleans and None only") from None
        self._begin_write()
        old = self._manifest["entries"].get(model)
        if old is None:
            self._publish({**self._manifest, "entries": {**self._manifest["entries"], model: new}})
        elif old != new:
            raise StoreError(
                self._manifest_path,
                f"model {model!r} is already in this run with another config ({_config_diff(old, new)})",
                f"resume with the run's settings, or {_FIX_OUT}",
            )

    def write_shard(self, kind: str, model: str, key: str, table: pa.Table) -> dict[str, Any]:
        """Write one shard atomically and add it to the manifest; return its shard record.

        ``table`` is checked and conformed to ``kind``'s schema (see
        :func:`~supportscope.records.run_schema.conform`); for samples, every row's ``model``
        must be ``model``. ``model`` must be registered. A key that is already done raises
        :class:`StoreError` (no duplicates); a file left under the key's name by a writer that
        was killed before it updated the manifest is overwritten.
        """
        self._check_kind(kind)
        self._check_name("key", key)
        self._begin_write()
        if model not in self._manifest["entries"]:
            raise StoreError(self._manifest_path, f"model {model!r} is not registered in this run",
                             "call register(model, config) before writing its shards")
        rel = self._rel(kind, model, key)
        where = self._path / rel
        if (kind, model, key) in self._index:
            raise StoreError(where, f"shard {key!r} of {kind} of model {model!r} is already done",
                             f"skip the keys in done({kind!r}, {model!r}); to write it again, discard it first")
        other = self._files.get(rel.casefold())
        if other is not None:
            raise StoreError(where, f"file name clashes with shard {other[2]!r} of model {other[1]!r}",
                             "use keys and model names that differ in more than case or punctuation")
        try:
            table = conform(kind, table)
        except SchemaError as e:
            raise StoreError(where, f"table does not fit the {kind} schema: {e}",
                             f"build it with supportscope.records.run_schema.build_table({kind!r}, rows)") from None
        if kind == "samples" and len(table):
            bad = pc.invert(pc.equal(table.column("model"), model))
            if pc.any(bad).as_py():
                row = int(pc.index(bad, True).as_py())
                raise StoreError(where, f"samples row {row} has model {table.column('model')[row].as_py()!r}, "
                                 f"not the shard's model {model!r}", "write each model's samples to its own shards")
        data = parquet_bytes(table)
        _ensure_dir(where.parent)
        _atomic_write(where, data)
        record = {"kind": kind, "model": model, "key": key, "file": rel, "rows": table.num_rows,
                  "sha256": hashlib.sha256(data).hexdigest(), "written": _now()}
        # shard records are never changed in place, so a shallow copy is enough
        manifest = {**self._manifest, "shards": [*self._manifest["shards"], record]}
        self._publish(manifest)
        return dict(record)

    def discard(self, kind: str, model: str, key: str) -> None:
        """Remove a done shard from the manifest, then delete its file, so that a resumed run
        writes it again (e.g. after :meth:`read` with ``verify=True`` found it changed)."""
        self._check_kind(kind)
        self._begin_write()
        rec = self._index.get((kind, model, key))
        if rec is None:
            raise StoreError(self._manifest_path, f"no shard {key!r} of {kind} of model {model!r}",
                             f"see done({kind!r}, {model!r}) for the shards there are")
        manifest = {**self._manifest, "shards": [s for s in self._manifest["shards"] if s is not rec]}
        self._publish(manifest)
        path = self._path / rec["file"]
        path.unlink(missing_ok=True)
        _fsync_dir(path.parent)

    def close(self) -> None:
        """Release the writer lock (if held). The store can still be read."""
        self._lock.release()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunStore({str(self._path)!r}, shards={len(self._index)}, writing={self.writing})"

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

    def _create(self) -> None:
        if self._path.exists() and not self._path.is_dir():
            raise StoreError(self._path, "exists and is not a folder", "choose a new --out folder")
        if self._path.is_dir():
            other = [p.name for p in self._path.iterdir() if p.name != LOCK and not _TMP.match(p.name)]
            if other:
                raise StoreError(self._path, f"folder is not empty and is not a supportscope run (no {MANIFEST}; "
                                 f"it has {other[0]!r})", "choose a new or empty --out folder")
        _ensure_dir(self._path)
        self._begin_write(creating=True)

    def _begin_write(self, creating: bool = False) -> None:
        """Take the writer lock (once); then re-read the manifest, which may have changed."""
        if self._lock.held:
            return
        try:
            self._lock.acquire()
        except LockHeld as e:
            if e.pid == os.getpid():
                who, fix = "another RunStore of this process", "close() the other RunStore first"
            else:
                who = f"another process (pid {e.pid if e.pid is not None else 'unknown'})"
                fix = ("wait for it to finish or stop it (a stopped or killed process releases the run), "
                       "or write to another --out folder")
            raise StoreError(self._path, f"the run is being written by {who}", fix) from None
        try:
            self._clean_temp_files()
            if self._manifest_path.is_file():
                self._load()
                self._note_versions()
            elif creating:
                self._publish({"format": FORMAT, "created": _now(), "entries": {}, "shards": [],
                               "versions": self._versions})
            else:
                raise StoreError(self._manifest_path, "manifest disappeared", "restore it or start a new run")
        except BaseException:
            self._lock.release()
            raise

    def _note_versions(self) -> None:
        resumed = self._manifest.get("resumed", [])
        last = resumed[-1]["versions"] if resumed else self._manifest.get("versions")
        if last != self._versions:
            self._publish({**self._manifest, "resumed": [*resumed, {"at": _now(), "versions": self._versions}]})

    def _clean_temp_files(self) -> None:
        """Delete temp files left by killed writers (only while holding the lock)."""
        for dirpath, _, filenames in os.walk(self._path):
            for name in filenames:
                if name != LOCK and _TMP.match(name):
                    Path(dirpath, name).unlink(missing_ok=True)

    def _publish(self, manifest: dict[str, Any]) -> None:
        """Write ``manifest`` atomically; adopt it only once it is on disk."""
        _atomic_write(self._manifest_path, _manifest_json(manifest).encode("utf-8"))
        self._adopt(manifest)
        self._stamp = self._stat()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self._manifest_path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _sync(self) -> None:
        if not self._lock.held and self._stat() != self._stamp:
            self._load()

    def _load(self) -> None:
        path = self._manifest_path
        fix = f"restore {MANIFEST} from a backup, or start a new run in a new --out folder"
        stamp = self._stat()
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StoreError(self._path, f"not a supportscope run (no {MANIFEST})", "check the path") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise StoreError(path, f"not readable JSON ({' '.join(str(e).split())[:120]})", fix) from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            got = manifest.get("format") if isinstance(manifest, dict) else None
            raise StoreError(path, f"format is {got!r}, expected {FORMAT!r}",
                             f"read it with the supportscope version that wrote it, or {fix}")
        if not isinstance(manifest.get("entries"), dict) or not isinstance(manifest.get("shards"), list):
            raise StoreError(path, "has no 'entries' object or no 'shards' list", fix)
        for i, s in enumerate(manifest["shards"]):
            if not isinstance(s, dict) or any(f not in s for f in _SHARD_FIELDS) or s["kind"] not in KINDS:
                raise StoreError(path, f"shard record {i} is malformed (needs {', '.join(_SHARD_FIELDS)})", fix)
        self._adopt(manifest, path)
        self._stamp = stamp

    def _adopt(self, manifest: dict[str, Any], path: Path | None = None) -> None:
        index: dict[tuple[str, str, str], dict[str, Any]] = {}
        files: dict[str, tuple[str, str, str]] = {}
        for s in manifest["shards"]:
            ident = (s["kind"], s["model"], s["key"])
            if ident in index and path is not None:
                raise StoreError(path, f"shard {s['key']!r} of {s['kind']} of model {s['model']!r} is listed twice",
                                 "remove one of the two records")
            index[ident] = s
            files[s["file"].casefold()] = ident
        self._manifest, self._index, self._files = manifest, index, files


def counts_from_samples(store: RunStore | PathLike, verify: bool = False) -> pa.Table:
    """The run's samples as a counts table, like :func:`~supportscope.records.load_counts`.

    One row per (problem_id, model) with ``n`` samples and ``correct`` successes, in order of
    each group's first sample (shards sorted by model and key, then row order); ``source`` is
    that sample's shard file (under the run path as given) and ``line`` its 0-based row in the
    shard. Schema :data:`~supportscope.records.COUNTS_SCHEMA`; empty when there are no samples.

    Raises:
        StoreError: a missing/corrupt shard, or a sample (problem_id, model, sample_idx) in two
            shards.
    """
    if not isinstance(store, RunStore):
        store = RunStore(store)
    recs = store.shards("samples")
    if not recs:
        return COUNTS_SCHEMA.empty_table()
    cols = ["problem_id", "model", "sample_idx", "correct"]
    tables = [store._read_shard(r, verify, columns=cols) for r in recs]
    store._check_unique("samples", recs, tables)
    shard_of = np.concatenate([np.full(t.num_rows, i, dtype=np.int64) for i, t in enumerate(tables)])
    line_of = np.concatenate([np.arange(t.num_rows, dtype=np.int64) for t in tables])
    allrows = pa.concat_tables(tables)
    order = pa.array(np.arange(allrows.num_rows, dtype=np.int64))
    grouped = (
        pa.table({"problem_id": allrows.column("problem_id"), "model": allrows.column("model"),
                  "correct": pc.cast(allrows.column("correct"), pa.int64()), "order": order})
        .group_by(["problem_id", "model"], use_threads=False)
        .aggregate([("correct", "sum"), ("order", "min"), ("order", "count")])
        .sort_by("order_min")
    )
    first = grouped.column("order_min").to_numpy()
    sources = np.array([str(store.path / r["file"]) for r in recs], dtype=object)
    return pa.Table.from_arrays(
        [
            grouped.column("problem_id"),
            grouped.column("model"),
            pc.cast(grouped.column("order_count"), pa.int64()),
            pc.cast(grouped.column("correct_sum"), pa.int64()),
            pa.array(sources[shard_of[first]], type=pa.string()),
            pa.array(line_of[first], type=pa.int64()),
        ],
        schema=COUNTS_SCHEMA,
    )
