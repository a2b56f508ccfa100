"""The one atomic file writer: temp file beside the target, fsync, rename, fsync the folder.

Every file supportscope writes goes through :func:`atomic_write` (run shards and manifests in
:mod:`supportscope.store`, analysis outputs in :mod:`supportscope.report.writers`), so a run
killed at any point leaves each file either as it was or complete, never half-written: the
temp file ``.NAME.PID.HEX.tmp`` is renamed over ``NAME`` only after its bytes are on disk, and
the folder entry is made durable after the rename. A temp file left by a killed writer is
harmless (the run store deletes them when it resumes). The new file's mode is 0666 less the
umask, as for any file a user creates.

(The crash tests replace this module's ``os`` to kill the process inside a write.)
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["atomic_write", "ensure_dir", "fsync_dir"]


def fsync_dir(path: Path) -> None:
    """Make a folder's entries (a rename, a new file) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that cannot fsync a directory
        pass
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    """Create ``path`` and missing parents, making each new directory entry durable."""
    missing = []
    p = Path(path)
    while not p.is_dir():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            if not d.is_dir():
                raise
        fsync_dir(d.parent)


def atomic_write(final: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``final`` atomically (see the module docstring); creates missing folders."""
    final = Path(final)
    ensure_dir(final.parent)
    tmp = final.parent / f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    except BaseException:  # a failed write or rename leaves no temp file (a SIGKILL may: see RunStore)
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)
