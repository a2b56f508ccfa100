"""The CLI's last line of defence: an exception that is not a :class:`SupportscopeError` (a bug, or
a failure nobody turned into a message yet) prints ONE line and the path of a log file that holds
the full traceback, and the command exits 1 -- no user sees a raw traceback. Our own errors stay
``error: ...`` and exit 2 (:func:`supportscope.cli.app.main`).

The log goes to ``$SUPPORTSCOPE_LOG_DIR``, else ``$XDG_STATE_HOME/supportscope/logs``, else
``~/.local/state/supportscope/logs``, and to the temp folder when none of those can be written:
``crash-YYYYmmdd-HHMMSS-PID.log`` with the command line, versions and the traceback.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

__all__ = ["crash_line", "log_dirs", "write_crash_log"]

MAX_MESSAGE_CHARS = 300


def log_dirs() -> list[Path]:
    """Where a crash log may go, in order of preference."""
    dirs = []
    if os.environ.get("SUPPORTSCOPE_LOG_DIR"):
        dirs.append(Path(os.environ["SUPPORTSCOPE_LOG_DIR"]))
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    dirs.append(Path(state) / "supportscope" / "logs")
    dirs.append(Path(tempfile.gettempdir()) / "supportscope-logs")
    return dirs


def write_crash_log(exc: BaseException) -> Path | None:
    """The full report of ``exc`` in a new log file; its path, or None when no folder took it."""
    from supportscope import __version__

    stem = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    body = "".join([
        f"command: {' '.join(['supportscope', *sys.argv[1:]])}\n",
        f"cwd: {os.getcwd()}\n",
        f"supportscope {__version__}, Python {sys.version.split()[0]}, {platform.platform()}\n\n",
        *traceback.format_exception(type(exc), exc, exc.__traceback__),
    ])
    for d in log_dirs():
        for i in range(100):  # two crashes of one process in one second (the Python API) get two files
            path = d / (f"{stem}.log" if i == 0 else f"{stem}-{i}.log")
            try:
                d.mkdir(parents=True, exist_ok=True)
                with open(path, "x", encoding="utf-8") as f:
                    f.write(body)
                return path
            except FileExistsError:
                continue
            except OSError:
                break
    return None


def crash_line(exc: BaseException, log: Path | None) -> str:
    """``internal error: TYPE: message — please report it ...; traceback in PATH`` (one line)."""
    msg = " ".join(str(exc).split())
    if len(msg) > MAX_MESSAGE_CHARS:
        msg = msg[:MAX_MESSAGE_CHARS] + "..."
    what = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    where = f"traceback in {log}" if log is not None else "no traceback file could be written"
    return f"internal error: {what} — please report it with the command; {where}"
