"""An exclusive, non-blocking writer lock on a file (``fcntl.flock``), released by the OS when the
holding process exits or is killed. POSIX only.

    lock = FileLock(run_dir / ".lock")
    lock.acquire()          # raises LockHeld(path, pid) if another process holds it
    ...
    lock.release()          # or let the process end: the OS releases it
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["FileLock", "LockHeld"]


class LockHeld(Exception):
    """Another process (or another open of the same file in this process) holds the lock."""

    def __init__(self, path: Path, pid: int | None) -> None:
        super().__init__(path, pid)
        self.path = path
        self.pid = pid


class FileLock:
    """``flock(LOCK_EX | LOCK_NB)`` on ``path``; the holder's pid is written into the file.

    The lock belongs to this object's open file description: a second :class:`FileLock` on the
    same path fails even in the same process. The descriptor is not inherited by child
    processes (Python opens it non-inheritable), so a worker started by the holder does not keep
    the lock alive after the holder dies.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`LockHeld` with the holder's pid (None if unknown)."""
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # BlockingIOError (EWOULDBLOCK), or EACCES on some systems
            pid = _read_pid(fd)
            os.close(fd)
            raise LockHeld(self.path, pid) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:  # the pid is informational only
            pass
        self._fd = fd

    def release(self) -> None:
        """Release the lock (closing the descriptor); a no-op when not held."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:  # a forgotten store must not keep its run locked
        try:
            self.release()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
