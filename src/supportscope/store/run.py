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

Every read checks each shard's SHA-256 against the manifest, and a job checks the done shards
(:meth:`RunStore.verify`) before it resumes: a changed or missing shard is refused, naming the
command that writes it again. Every shard file a manifest names must lie inside the run (:mod:`.paths`).
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..atomic import atomic_write, ensure_dir, fsync_dir
from ..errors import SchemaError, StoreError
from ..versions import library_versions
from .lock import FileLock, LockHeld
from .manifest import (FORMAT, MANIFEST, check_same_entry, config_diff, entry_config, index_shards, manifest_json, manifest_stamp, now,
                       read_manifest)
from .paths import shard_file
from .schema import KINDS, ROW_KEYS, conform, schema_of
from .shard_files import (check_model_column, check_new_run_folder, check_unique, parquet_bytes, read_shard_tables,
                          remove_temp_files, shard_rel, stored_table, verify_shards)

__all__ = ["RunStore", "PathLike"]

PathLike = str | os.PathLike[str]

LOCK = ".lock"

_FIX_OUT = "write to a new --out folder, or give the model a different --name"


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
            raise StoreError(self._path, f"not a supportscope run (no {MANIFEST})", "check the path; a run directory "
                             "is made by `supportscope sample --out RUN` (RunStore.open)")

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

    # -- writing ---------------------------------------------------------------------------

    def register(self, model: str, config: Mapping[str, Any]) -> None:
        """Record ``model``'s config (role, policy, decoding, task, ...) in the manifest.

        The same config again is a no-op (that is how a run resumes or grows); a different one
        raises :class:`StoreError` naming the differing keys. ``config`` must be JSON data.
        """
        if not isinstance(model, str) or not model.strip():
            raise StoreError(self._manifest_path, f"model name {model!r} is empty or not a string",
                             "give the model a non-empty name")
        new = entry_config(self._manifest_path, config, f"config of model {model!r}", "the model's settings")
        self._begin_write()
        old = self._manifest["entries"].get(model)
        if old is None:
            self._publish({**self._manifest, "entries": {**self._manifest["entries"], model: new}})
        else:
            check_same_entry(self._manifest_path, model, old, new)

    def add_followup(self, model: str, spec: Mapping[str, Any]) -> None:
        """Record a follow-up (confirmation stage) of the registered ``model`` as its entry's
        ``"followup"`` (``scale.adaptive.followup_sample_job``; ``spec`` is JSON data: problems,
        budget, alpha, ...). The same spec again is a no-op (a resumed follow-up); another one
        raises :class:`StoreError` (one follow-up per model and run). :meth:`register` ignores the
        key, so the model's own config can still be re-registered (resumed) afterwards.
        """
        new = entry_config(self._manifest_path, spec, f"follow-up of model {model!r}", "the follow-up settings")
        self._begin_write()
        entry = self._manifest["entries"].get(model)
        if entry is None:
            raise StoreError(self._manifest_path, f"model {model!r} is not in this run, so it has nothing to "
                             "follow up", "sample it first, or follow up one of the run's models")
        old = entry.get("followup")
        if old is None:
            self._publish({**self._manifest, "entries": {**self._manifest["entries"],
                                                         model: {**entry, "followup": new}}})
        elif old != new:
            raise StoreError(
                self._manifest_path,
                f"this run already holds a follow-up of {model!r} with other settings ({config_diff(old, new)})",
                "resume it with its settings, or write the follow-up to a new --out (a copy of the run)",
            )

    def write_shard(self, kind: str, model: str, key: str, table: pa.Table) -> dict[str, Any]:
        """Write one shard atomically and add it to the manifest; return its shard record.

        ``table`` is checked and conformed to ``kind``'s schema (see
        :func:`~supportscope.store.schema.conform`); for samples, every row's ``model``
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
        rel = shard_rel(kind, model, key)
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
                             f"build it with supportscope.store.schema.build_table({kind!r}, rows)") from None
        if kind == "samples":
            check_model_column(where, table, model)
        data = parquet_bytes(stored_table(kind, table))
        atomic_write(where, data)
        record = {"kind": kind, "model": model, "key": key, "file": rel, "rows": table.num_rows,
                  "sha256": hashlib.sha256(data).hexdigest(), "written": now()}
        # shard entries are never changed in place, so a shallow copy is enough
        manifest = {**self._manifest, "shards": [*self._manifest["shards"], record]}
        self._publish(manifest)
        return dict(record)

    def discard(self, kind: str, model: str, key: str) -> None:
        """Remove a done shard from the manifest, then delete its file, so that a resumed run
        writes it again (e.g. after :meth:`read` or :meth:`verify` found it changed). Only a file
        inside the run is deleted: one that a symlink leads out of the run is refused first."""
        self._check_kind(kind)
        self._begin_write()
        rec = self._index.get((kind, model, key))
        if rec is None:
            raise StoreError(self._manifest_path, f"no shard {key!r} of {kind} of model {model!r}",
                             f"see done({kind!r}, {model!r}) for the shards there are")
        path = shard_file(self._path, rec, self._manifest_path)  # checked again: never delete outside the run
        manifest = {**self._manifest, "shards": [s for s in self._manifest["shards"] if s is not rec]}
        self._publish(manifest)
        path.unlink(missing_ok=True)
        fsync_dir(path.parent)

    def close(self) -> None:
        """Release the writer lock (if held). The store can still be read."""
        self._lock.release()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunStore({str(self._path)!r}, shards={len(self._index)}, writing={self.writing})"

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
        return self._path / shard_rel(kind, model, key)

    def done(self, kind: str, model: str) -> set[str]:
        """The keys of ``model``'s completed ``kind`` shards (as listed; :meth:`verify` checks
        their files, which a job does once before it skips them)."""
        self._check_kind(kind)
        self._sync()
        return {k for (kd, m, k) in self._index if kd == kind and m == model}

    def shards(self, kind: str | None = None, model: str | None = None) -> list[dict[str, Any]]:
        """The manifest's shard entries (copies), optionally of one kind/model, sorted by
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

    def verify(self, kind: str | None = None, model: str | None = None) -> int:
        """Check the files of the listed shards (of ``kind`` and ``model``, or all): inside the
        run, present, with the manifest's SHA-256 (hashed, not parsed); return how many. The jobs
        call this before they skip done shards, so a changed shard is never taken as done. Raises
        StoreError naming the first bad shard (and how many more) and the command to write it again."""
        recs = self.shards(kind, model)
        verify_shards(self._path, recs)
        return len(recs)

    # -- reading ---------------------------------------------------------------------------

    def read(self, kind: str, model: str | None = None, verify: bool = True,
             columns: list[str] | None = None) -> pa.Table:
        """All ``kind`` shards (of ``model``, or of every model) as one table.

        Shards are concatenated sorted by (model, key) — not in the order they were written —
        so the result does not depend on the order work finished. Each shard's SHA-256 and row
        count are checked against the manifest (each file is read once: hashed, then parsed from
        the same bytes; ``benchmarks/store_verify.py`` measures the cost). ``verify=False`` skips
        the hash only, e.g. to read a few columns of a large run that was just verified; ``columns``
        reads only these (a table of token lists is then not parsed at all). A row key
        (e.g. problem_id, model, sample_idx) found in two shards is an error.

        Raises:
            StoreError: a missing, unreadable, changed or duplicated shard, naming the file.
        """
        parts = self.read_shards(kind, model, verify, columns)
        if not parts:
            empty = schema_of(kind).empty_table()
            return empty if columns is None else empty.select(list(columns))
        return pa.concat_tables([t for _, t in parts])

    def read_shards(self, kind: str, model: str | None = None, verify: bool = True,
                    columns: list[str] | None = None,
                    select: Callable[[dict[str, Any]], bool] | None = None) -> list[tuple[dict[str, Any], pa.Table]]:
        """The ``kind`` shards (of ``model``, or of every model; those whose record passes
        ``select``) as (shard record, table) pairs, sorted by (model, key), checked as in
        :meth:`read`. ``columns``: read only these (the kind's row-key columns are always read,
        for the duplicate check, and dropped again when not asked for)."""
        recs = [r for r in self.shards(kind, model) if select is None or select(r)]
        keys = list(ROW_KEYS[kind])
        cols = None if columns is None else list(dict.fromkeys([*columns, *keys]))
        tables = read_shard_tables(self._path, recs, verify, cols)
        check_unique(self._path, kind, recs, tables)
        if columns is not None and cols != list(columns):
            tables = [t.select(list(columns)) for t in tables]
        return list(zip(recs, tables))

    # -- manifest --------------------------------------------------------------------------

    def _sync(self) -> None:
        """Re-read the manifest when another process changed it (readers only)."""
        if not self._lock.held and manifest_stamp(self._manifest_path) != self._stamp:
            self._load()

    def _load(self) -> None:
        stamp = manifest_stamp(self._manifest_path)
        manifest = read_manifest(self._path)
        self._adopt(manifest, self._manifest_path)
        self._stamp = stamp

    def _adopt(self, manifest: dict[str, Any], path: Path | None = None) -> None:
        self._index, self._files = index_shards(manifest, path)
        self._manifest = manifest

    # -- internals -------------------------------------------------------------------------

    def _create(self) -> None:
        check_new_run_folder(self._path, keep=LOCK)
        ensure_dir(self._path)
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
            remove_temp_files(self._path, keep=LOCK)
            if self._manifest_path.is_file():
                self._load()
                self._note_versions()
            elif creating:
                self._publish({"format": FORMAT, "created": now(), "entries": {}, "shards": [],
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
            self._publish({**self._manifest, "resumed": [*resumed, {"at": now(), "versions": self._versions}]})

    def _publish(self, manifest: dict[str, Any]) -> None:
        """Write ``manifest`` atomically; adopt it only once it is on disk."""
        atomic_write(self._manifest_path, manifest_json(manifest).encode("utf-8"))
        self._adopt(manifest)
        self._stamp = manifest_stamp(self._manifest_path)

    def _check_kind(self, kind: str) -> None:
        if kind not in KINDS:
            raise StoreError(self._path, f"unknown shard kind {kind!r}", f"use one of {', '.join(KINDS)}")

    def _check_name(self, what: str, name: str) -> None:
        if not isinstance(name, str) or not name or "\x00" in name:
            raise StoreError(self._path, f"shard {what} {name!r} is empty or not a string", f"give a non-empty {what}")
