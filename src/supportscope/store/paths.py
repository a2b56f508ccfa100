"""The path rule of the run store: every shard file a manifest names lies inside the run.

A shard record's ``file`` is relative, ``KIND/.../NAME.parquet`` (``shard_files.shard_rel``
writes ``KIND/MODEL/KEY.parquet``), and once resolved (symlinks followed, ``..`` removed) it
must lie under ``RUN/KIND/`` of the resolved run directory. So an absolute path, a path that
goes up with ``..``, a file outside its kind's folder (``manifest.json``, ``.lock``) and a
symlink (of the file or of a folder above it) that leads out of the run are refused: the store
reads and deletes (``RunStore.discard``) only files of its own run. The rule is checked when a
manifest is read from disk (:func:`check_shard_files`, the whole manifest is refused, naming the
record) and again just before a shard file is read or deleted (:func:`shard_file`), since a
symlink can be planted after the manifest was read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from ..errors import StoreError

__all__ = ["check_shard_files", "file_problem", "shard_file"]


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _lexical_problem(rec: dict[str, Any]) -> str | None:
    """Why ``rec["file"]`` breaks the rule as written (no file system access), or None."""
    f, kind = rec["file"], rec["kind"]
    if not isinstance(f, str) or not f or "\x00" in f:
        return "is not a file name"
    pure, win = PurePosixPath(f), PureWindowsPath(f)
    if pure.is_absolute() or win.drive or win.root:
        return "is an absolute path"
    if "\\" in f:
        return "has a backslash (a folder separator on Windows)"
    if ".." in pure.parts:
        return "goes up out of its folder with '..'"
    if len(pure.parts) < 2 or pure.parts[0] != kind or pure.suffix != ".parquet":
        return f"is not a .parquet file under the run's {kind}/ folder"
    return None


def file_problem(run_real: Path, rec: dict[str, Any], folders: dict[str, Path] | None = None) -> str | None:
    """Why the shard file of ``rec`` is not inside ``RUN/KIND/`` of the resolved run directory
    ``run_real`` (None when it is). ``folders`` caches resolved parent folders across calls."""
    why = _lexical_problem(rec)
    if why is not None:
        return why
    rel = PurePosixPath(rec["file"])
    parent = str(rel.parent)
    folder = None if folders is None else folders.get(parent)
    if folder is None:
        folder = _real(run_real / parent)
        if folders is not None:
            folders[parent] = folder
    target = folder / rel.name
    if target.is_symlink():
        target = _real(target)
    if not target.is_relative_to(run_real / rec["kind"]):
        return f"leads out of the run (to {str(target)!r}, through a symlink)"
    return None


def _refuse(where: Path, rec: dict[str, Any], why: str, index: int | None) -> StoreError:
    which = "shard record" if index is None else f"shard record {index}"
    return StoreError(where, f"{which} ({rec['kind']} {rec['key']!r} of model {rec['model']!r}) names file "
                      f"{rec['file']!r}, which {why}; supportscope reads and deletes only files of its own run",
                      "restore manifest.json from a backup, or correct the record's file to the shard's "
                      "KIND/MODEL/KEY.parquet inside the run (and remove any symlink that leads out of it)")


def check_shard_files(run: Path, shards: Iterable[dict[str, Any]], manifest: Path) -> None:
    """Refuse (StoreError naming ``manifest`` and the record) the first record whose file breaks
    the rule (see the module docstring). One ``lstat`` per file, one ``realpath`` per folder."""
    run_real = _real(run)
    folders: dict[str, Path] = {}
    for i, rec in enumerate(shards):
        why = file_problem(run_real, rec, folders)
        if why is not None:
            raise _refuse(manifest, rec, why, i)


def shard_file(run: Path, rec: dict[str, Any], manifest: Path) -> Path:
    """The shard file of ``rec`` (under ``run`` as given), checked against the rule right now."""
    why = file_problem(_real(run), rec)
    if why is not None:
        raise _refuse(manifest, rec, why, None)
    return run / rec["file"]
