"""Byte-level scans of text files: line-aligned chunks, UTF-8 check, record -> line maps.

Everything here works on binary chunks with numpy, so a 1,000,000-row file is scanned in a
fraction of a second and never decoded as a whole. Physical lines are counted by ``b"\\n"``.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from ..errors import InputError

__all__ = ["CHUNK_BYTES", "line_chunks", "Utf8Check", "CsvRecordScan", "jsonl_record_lines"]

#: bytes read per chunk (a chunk is extended to the next newline)
CHUNK_BYTES = 8 << 20

_NL, _CR, _QUOTE = 10, 13, 34
_JSON_WS = np.array([32, 9, 13, 10], dtype=np.uint8)


def line_chunks(fh: BinaryIO, chunk_bytes: int | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield ``(byte_offset, chunk)`` pairs; every chunk but the last ends with ``b"\\n"``.

    ``chunk_bytes`` defaults to :data:`CHUNK_BYTES`, read at call time.
    """
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    offset, tail = 0, b""
    while True:
        block = fh.read(chunk_bytes)
        if not block:
            if tail:
                yield offset, tail
            return
        buf = tail + block if tail else block
        cut = buf.rfind(b"\n")
        if cut < 0:
            tail = buf
            continue
        chunk, tail = buf[: cut + 1], buf[cut + 1 :]
        yield offset, chunk
        offset += len(chunk)


class Utf8Check:
    """Incremental UTF-8 validation over binary chunks that reports the line of a bad byte."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")

    def feed(self, chunk: bytes, first_line: int, final: bool = False) -> None:
        """Check ``chunk``, whose first byte is on physical line ``first_line``."""
        pending = len(self._decoder.getstate()[0])
        if not pending and not final and chunk.isascii():
            return
        try:
            self._decoder.decode(chunk, final)
        except UnicodeDecodeError as e:
            pos = max(e.start - pending, 0)
            line = first_line + chunk.count(b"\n", 0, pos)
            col = pos - (chunk.rfind(b"\n", 0, pos) + 1) + 1
            bad = chunk[pos] if pos < len(chunk) else None
            what = f"byte 0x{bad:02x}" if bad is not None else "a truncated character at the end"
            raise InputError(
                self.path,
                f"the file is not UTF-8: {what} (column {col}) is not valid UTF-8",
                "re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8 old > new)",
                line=line,
            ) from None


class CsvRecordScan:
    """Find the physical start line of every non-blank CSV record, vectorised.

    A newline ends a record when an even number of quote characters precedes it (RFC 4180
    quoting, where an escaped quote is two quotes). Blank rows (empty or ``"\\r"``) are
    dropped, as pyarrow's reader drops them. The result is checked against the number of rows
    pyarrow returns; files with quotes inside unquoted fields fall back to Python's csv module.
    """

    def __init__(self) -> None:
        self._parity = 0
        self._newlines = 0  # newlines before the current chunk
        self._prev_pos = -1  # byte offset of the last record-ending newline (-1: file start)
        self._prev_ord = -1  # its ordinal among all newlines (-1: file start, so line 1)
        self._end = 0
        self._last = b""
        self._starts: list[np.ndarray] = []

    def feed(self, offset: int, chunk: bytes) -> None:
        """Scan the next line-aligned chunk, which starts at byte ``offset``."""
        a = np.frombuffer(chunk, dtype=np.uint8)
        nl = np.flatnonzero(a == _NL)
        if b'"' in chunk:
            q = np.flatnonzero(a == _QUOTE)
            ends_record = ((np.searchsorted(q, nl) + self._parity) & 1) == 0
            self._parity = (self._parity + q.size) & 1
        else:
            ends_record = np.full(nl.size, self._parity == 0)
        local = np.flatnonzero(ends_record)
        pos = offset + nl[local]
        ords = self._newlines + local
        prev_pos = np.concatenate(([self._prev_pos], pos[:-1]))
        prev_ord = np.concatenate(([self._prev_ord], ords[:-1]))
        length = pos - prev_pos - 1
        blank = length == 0
        one = np.flatnonzero(length == 1)
        if one.size:
            rel = pos[one] - 1 - offset
            ok = rel >= 0
            blank[one[ok]] = a[rel[ok]] == _CR
        self._starts.append(prev_ord[~blank] + 2)
        if pos.size:
            self._prev_pos, self._prev_ord = int(pos[-1]), int(ords[-1])
        self._newlines += nl.size
        self._end = offset + len(chunk)
        self._last = chunk[-2:]

    def finish(self) -> np.ndarray:
        """Start lines (1-based, int64) of all non-blank rows, the header first."""
        tail = self._end - (self._prev_pos + 1)
        if tail > 1 or (tail == 1 and self._last[-1:] != b"\r"):
            self._starts.append(np.array([self._prev_ord + 2]))
        if not self._starts:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate(self._starts).astype(np.int64, copy=False)


def jsonl_record_lines(chunk: bytes, first_line: int) -> np.ndarray:
    """Physical line numbers (int64) of the non-blank lines of a line-aligned chunk.

    A line is blank when it holds only JSON whitespace (space, tab, CR); pyarrow skips such
    lines, so record i of the chunk is on the i-th returned line.
    """
    a = np.frombuffer(chunk, dtype=np.uint8)
    nl = np.flatnonzero(a == _NL)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [a.size]))
    nonempty = ends > starts
    first = np.zeros(starts.size, dtype=np.uint8)
    first[nonempty] = a[starts[nonempty]]
    blank = ~nonempty
    maybe = np.flatnonzero(nonempty & np.isin(first, _JSON_WS))
    for i in maybe.tolist():  # only lines that start with whitespace; normally none
        blank[i] = not chunk[starts[i] : ends[i]].strip(b" \t\r")
    return first_line + np.flatnonzero(~blank).astype(np.int64)
