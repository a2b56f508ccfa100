"""What an input path is, found before it is opened for reading: every reader of a user's file
(:func:`.formats.check_path` for the results files, the task and demonstration JSONL readers)
asks here first.

- :func:`regular_file`: ``os.stat`` (which never blocks) and a one-line
  :class:`~supportscope.errors.InputError` unless the path is a regular file. A named pipe (FIFO)
  would block ``open`` until some other process writes to it (``analyze x.csv`` hung forever); a
  socket, a character or block device (``/dev/stdin``, ``/dev/zero``) is no results file either.
- :func:`check_text`: the first bytes of a file read as text (CSV, JSON Lines), checked for the
  magic numbers of compressed or binary formats, so gzip or Parquet bytes in ``results.csv`` are
  called what they are (``is gzip-compressed, not CSV text. Fix: decompress it ...``) instead of
  "not UTF-8" at some byte.
"""

from __future__ import annotations

import os
import stat

from ..errors import InputError

__all__ = ["HEAD_BYTES", "MAGIC", "check_binary", "check_text", "regular_file", "sniff"]

#: bytes read to recognise a format
HEAD_BYTES = 8

#: magic number -> (what the file is, the fix); a fix may name the file as ``{path}``
MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed",
     "decompress it first (gzip -dc {path} > plain-file) and pass the decompressed file"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed",
     "decompress it first (zstd -dc {path} > plain-file) and pass the decompressed file"),
    (b"BZh", "bzip2-compressed",
     "decompress it first (bzip2 -dc {path} > plain-file) and pass the decompressed file"),
    (b"\xfd7zXZ\x00", "xz-compressed",
     "decompress it first (xz -dc {path} > plain-file) and pass the decompressed file"),
    (b"PK\x03\x04", "a zip archive (or an .xlsx workbook)",
     "unzip it and pass the file inside (from a spreadsheet: save the sheet as CSV)"),
    (b"PAR1", "a Parquet file", "rename it to .parquet (the extension picks the reader)"),
)

_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def regular_file(path: str | os.PathLike[str], dir_fix: str, *, what: str = "file") -> os.stat_result:
    """``os.stat(path)`` (following symlinks) if ``path`` is a regular file; else a one-line
    :class:`InputError`: not found, a folder (``dir_fix``), or a pipe, socket or device (read it
    into a regular file first). Never opens ``path``, so a FIFO cannot block."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(path, f"{what} not found", "check the path and the working directory") from None
    except OSError as e:
        raise InputError(path, f"cannot be read ({e.strerror or e})", "check the path and its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(path, f"is a directory, not a {what}", dir_fix)
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        raise InputError(path, f"is {kind}, not a regular {what}; reading it could block or never end",
                         "save the data to a regular file first (e.g. cat PIPE > results.csv) and pass that")
    return st


def sniff(head: bytes) -> tuple[str, str] | None:
    """``(what the file is, fix)`` when ``head`` starts with a known magic number, else None."""
    for magic, what, fix in MAGIC:
        if head.startswith(magic):
            return what, fix
    return None


def check_text(path: str | os.PathLike[str], head: bytes, kind: str) -> None:
    """Refuse a file read as ``kind`` text (``"CSV text"``) whose first bytes are a compressed or
    binary format's magic number, naming that format and the fix."""
    found = sniff(head)
    if found is not None:
        what, fix = found
        raise InputError(path, f"is {what}, not {kind}", fix.format(path=os.fspath(path)))


def check_binary(path: str | os.PathLike[str], head: bytes, kind: str, magic: bytes) -> None:
    """Refuse a file read as the binary format ``kind`` (magic number ``magic``) that starts with
    another known format's magic number (a gzip-compressed ``.parquet``)."""
    found = sniff(head)
    if found is not None and not head.startswith(magic):
        what, fix = found
        raise InputError(path, f"is {what}, not {kind}", fix.format(path=os.fspath(path)))
