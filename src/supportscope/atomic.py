"""The one atomic file writer (temp file, fsync, rename, fsync the folder) and its set form.

Every file supportscope writes goes through :func:`atomic_write` (run shards and manifests in
:mod:`supportscope.store`) or :func:`write_set` (analysis outputs: a folder's files that belong
together), so a run killed at any point leaves each file either as it was or complete, never
half-written: the temp file ``.NAME.PID.HEX.tmp`` is renamed over ``NAME`` only after its bytes
are on disk, and the folder entry is made durable after the rename. A temp file left by a killed
writer is harmless (the run store deletes them when it resumes; :func:`write_set` deletes those of
dead processes). The new file's mode is 0666 less the umask, as for any file a user creates.

**Output sets** (:func:`write_set`): all files of a set are computed by the caller first (bytes in
memory), then

1. *write*: each file goes to a temp file in the target folder and is fsynced; a set member
   that would replace a folder is refused before anything is written. Any failure here (disk
   full, ``ulimit -f``, no permission) deletes the temp files (and the folders this call made):
   nothing visible changed, and the error is one :class:`~supportscope.errors.InputError` line.
2. *commit*: every existing member gets a hard link ``.NAME.PID.HEX.old`` (its backup); then the
   set's manifest (:data:`MANIFEST`, sha256 and size of each member) is deleted, every temp file
   is renamed over its member, the folder is fsynced, and last the new manifest is renamed in
   and the folder fsynced again. If a rename fails (an error, not a crash), the members already
   renamed are put back from their backups: the folder is again exactly as before.

The remaining window, stated honestly: renaming N files is not one atomic operation. A process
killed (SIGKILL, power loss) *between* the first and the last rename of step 2 -- a few
metadata operations, no data written, microseconds -- leaves a mix of old and new members. It
never leaves a mix *with a manifest*: the old manifest is gone before the first rename and the
new one arrives only after the renamed members are durable. So "manifest present and every hash
matches" (:func:`verify_set`) means "one complete set"; ``supportscope report`` refuses a
folder without it. The backups of such a crash stay as hidden ``.NAME.*.old`` files (the old
members, for a by-hand recovery) until the next write of the set removes them. Where hard links
are not supported, a failed rename cannot be rolled back (the manifest is then absent, so the
mix is still detected).

(The crash tests replace this module's ``os`` to kill the process inside a write.)
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["MANIFEST", "atomic_write", "ensure_dir", "fsync_dir", "read_manifest", "verify_set", "write_set"]

MANIFEST = ".supportscope-outputs.json"
"""The manifest of an output set: ``{"files": {NAME: {"sha256": HEX, "bytes": N}}}``, renamed in last."""


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (a rename, a new file) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that cannot fsync a directory
        pass
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> list[Path]:
    """Create ``path`` and missing parents, making each new directory entry durable; returns the
    folders it created, outermost first."""
    missing = []
    p = Path(path)
    while not p.is_dir():
        missing.append(p)
        p = p.parent
    made = []
    for d in reversed(missing):
        try:
            d.mkdir()
            made.append(d)
        except FileExistsError:
            if not d.is_dir():
                raise
        fsync_dir(d.parent)
    return made


def _write_temp(folder: Path, name: str, data: bytes, suffix: str = "tmp") -> Path:
    """``data`` in a new fsynced file ``.NAME.PID.HEX.SUFFIX`` of ``folder`` (deleted again on failure)."""
    tmp = folder / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.{suffix}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def atomic_write(final: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``final`` atomically (see the module docstring); creates missing folders."""
    final = Path(final)
    try:
        ensure_dir(final.parent)
        tmp = _write_temp(final.parent, final.name, data)
    except OSError as e:  # os.write names no file: name the one being written (cli.app says it)
        if e.filename is None:
            e.filename = str(final)
        raise
    try:
        os.replace(tmp, final)
    except BaseException:  # a failed write or rename leaves no temp file (a SIGKILL may: see RunStore)
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)


# ------------------------------------------------------------------------------ output sets
def _entry(data: bytes) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _file_entry(path: Path) -> dict:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return {"sha256": h.hexdigest(), "bytes": size}


def read_manifest(folder: str | os.PathLike[str]) -> dict | None:
    """The ``{NAME: {"sha256", "bytes"}}`` entries of ``folder``'s output-set manifest, or ``None``
    when there is none (or it is not one)."""
    try:
        files = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        return None
    return files if isinstance(files, dict) else None


def verify_set(folder: str | os.PathLike[str], names: Iterable[str]) -> str | None:
    """``None`` when ``folder`` has a manifest and each of ``names`` is in it with the same sha256
    and size; else why not (``"no manifest"``, ``"NAME is not the file written with the others
    ..."``)."""
    files = read_manifest(folder)
    if files is None:
        return "no manifest"
    for name in names:
        want = files.get(name)
        if not isinstance(want, dict):
            return f"{name} is not in the manifest"
        try:
            got = _file_entry(Path(folder) / name)
        except OSError as e:
            return f"{name} cannot be read ({e.strerror or e})"
        if got != {"sha256": want.get("sha256"), "bytes": want.get("bytes")}:
            return f"{name} is not the file written with the others (changed or replaced since)"
    return None


_STALE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.(tmp|old)$")


def _drop_stale(folder: Path, names: set[str]) -> None:
    """Delete temp and backup files of these names that a killed writer left behind."""
    for p in folder.iterdir():
        m = _STALE.match(p.name)
        if not m or m["name"] not in names or int(m["pid"]) == os.getpid():
            continue
        try:
            os.kill(int(m["pid"]), 0)
        except ProcessLookupError:
            p.unlink(missing_ok=True)
        except OSError:  # alive, someone else's
            pass


def _output_error(folder: Path, name: str, e: OSError, changed: bool = False):
    from supportscope.errors import InputError

    then = ("the folder may now hold a mix of old and new files (no output manifest)" if changed
            else "nothing in the folder was changed")
    if e.errno == errno.EISDIR:
        return InputError(str(folder / name), f"is a folder, so the output file cannot be written there; {then}",
                          "remove or rename that folder, or write to another folder")
    fixes = {errno.ENOSPC: "free disk space and run again, or write to another folder",
             errno.EDQUOT: "free space within your disk quota and run again, or write to another folder",
             errno.EFBIG: "raise the file-size limit (ulimit -f) or write to another folder",
             errno.EACCES: "make the folder writable, or write to another folder",
             errno.EPERM: "make the folder writable, or write to another folder",
             errno.EROFS: "the file system is read-only: write to another folder"}
    return InputError(str(folder), f"could not write {name} ({e.strerror or e}); {then}",
                      fixes.get(e.errno, "check the folder (space, permissions) and run again"))


def write_set(folder: str | os.PathLike[str], files: Mapping[str, bytes], *, manifest: str | None = MANIFEST,
              keep: Iterable[str] = ()) -> list[Path]:
    """Write ``files`` (``{name: bytes}``, names inside ``folder``) all or nothing (see the module
    docstring), plus the set's ``manifest`` unless ``None``. ``keep``: names of files already in the
    set that this call does not rewrite; their entries are carried over from the old manifest.
    Returns the paths written. Failures are one-line InputErrors; nothing visible changed then."""
    folder = Path(folder)
    names = list(files)
    for n in names:
        if not n or n in (".", "..", manifest) or "/" in n or os.sep in n:
            raise ValueError(f"bad output file name {n!r}")
    members = names + ([manifest] if manifest else [])
    made: list[Path] = []
    temps: dict[str, Path] = {}
    current = names[0] if names else str(manifest)
    try:
        made = ensure_dir(folder)
        _drop_stale(folder, set(members))
        for n in members:
            current = n
            if (folder / n).is_dir():
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(folder / n))
        for n in names:
            current = n
            temps[n] = _write_temp(folder, n, files[n])
        if manifest:
            current = manifest
            old = read_manifest(folder) or {}
            entries = {k: old[k] for k in keep if k in old and k not in files}
            entries.update({n: _entry(files[n]) for n in names})
            body = json.dumps({"files": entries}, indent=2, sort_keys=True) + "\n"
            temps[manifest] = _write_temp(folder, manifest, body.encode("utf-8"))
    except BaseException as e:
        _discard(temps.values(), made)
        if isinstance(e, OSError):
            raise _output_error(folder, current, e) from e
        raise
    _commit(folder, temps, names, manifest)
    return [folder / n for n in names]


def _discard(paths: Iterable[Path], made: list[Path]) -> None:
    for p in paths:
        p.unlink(missing_ok=True)
    for d in reversed(made):
        try:
            d.rmdir()
        except OSError:
            break


def _commit(folder: Path, temps: dict[str, Path], names: list[str], manifest: str | None) -> None:
    """Step 2 of the module docstring: backups, (old manifest out), renames, fsync, manifest in, fsync."""
    backups: dict[str, Path | None] = {}
    done: list[str] = []  # members whose old version is gone (replaced or, for the manifest, deleted)
    current = manifest or names[0]
    try:
        for n in temps:
            target = folder / n
            if os.path.lexists(target):
                current = n
                backups[n] = folder / f".{n}.{os.getpid()}.{secrets.token_hex(4)}.old"
                try:
                    os.link(target, backups[n], follow_symlinks=False)
                except OSError:  # no hard links here: this member cannot be rolled back
                    backups[n] = None
        if manifest and manifest in backups:
            current = manifest
            os.unlink(folder / manifest)
            done.append(manifest)
        for n in names:  # the window: renames only
            current = n
            os.replace(temps[n], folder / n)
            done.append(n)
        fsync_dir(folder)
        if manifest:
            current = manifest
            os.replace(temps[manifest], folder / manifest)
        fsync_dir(folder)
    except BaseException as e:
        restored = _roll_back(folder, done, backups)
        _discard(temps.values(), [])
        _discard((b for b in backups.values() if b is not None), [])
        if isinstance(e, OSError):
            raise _output_error(folder, current, e, changed=not restored) from e
        raise
    _discard((b for b in backups.values() if b is not None), [])


def _roll_back(folder: Path, done: list[str], backups: dict[str, Path | None]) -> bool:
    """Put back the old version of each member in ``done``; True when the folder is as before."""
    ok = True
    for n in reversed(done):
        try:
            if n not in backups:  # a new member: it was not there before
                os.unlink(folder / n)
            elif backups[n] is not None:
                os.replace(backups[n], folder / n)
            else:
                ok = False
        except OSError:
            ok = False
    try:
        fsync_dir(folder)
    except OSError:
        pass
    return ok
