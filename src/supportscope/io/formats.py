"""The input-format registry: format name -> its :class:`~supportscope.io.source.Source` class
and file extensions, and the checks made before a file is opened.

Adding a format is one module (a ``Source`` subclass: columns, record batches, places for
messages; see ``source_csv.py``) plus one line here::

    register_format("feather", "supportscope.io.source_feather:FeatherSource", extensions=(".feather",))

A format recognised by content rather than extension (lm-eval samples, LiveCodeBench, rate
tables) registers a ``sniff`` hook instead: ``sniff(columns) -> bool`` on the columns of the file
as its extension's reader sees them; its class has ``wrap(inner, options, note)`` returning the
source that reads the file (:mod:`.importers` runs the hooks). The source module is imported only
when a file of its format is read.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..registry import Registry
from .files import HEAD_BYTES, check_binary, check_text, regular_file

__all__ = ["FORMATS", "accepted_extensions", "check_path", "content_formats", "input_formats", "register_format",
           "source_class"]

#: format name -> Source subclass ("module:Class"), with meta ``extensions``
FORMATS = Registry("input format")


def register_format(name: str, source: str | type, extensions: tuple[str, ...] = (), *, sniff: str | None = None,
                    replace: bool = False) -> None:
    """Read files ending in ``extensions`` (lower case, with the dot) with ``source``, a
    :class:`~supportscope.io.source.Source` subclass or its ``"module:Class"``; or, with no
    extensions, files whose columns ``sniff`` (``"module:function"``) recognises."""
    taken = {e: f for f in FORMATS.names() for e in FORMATS.meta(f)["extensions"] if f != name}
    clash = [e for e in extensions if e in taken]
    if clash:
        raise ValueError(f"extension {clash[0]} is already read as {taken[clash[0]]}")
    if (not extensions and sniff is None) or any(not e.startswith(".") or e != e.lower() for e in extensions):
        raise ValueError(f"extensions must be lower case and start with '.', got {extensions!r}")
    FORMATS.register(name, source, replace=replace, extensions=tuple(extensions), sniff=sniff)


register_format("csv", "supportscope.io.source_csv:CsvSource", (".csv",))
register_format("jsonl", "supportscope.io.source_jsonl:JsonlSource", (".jsonl", ".ndjson"))
register_format("parquet", "supportscope.io.source_parquet:ParquetSource", (".parquet", ".pq"))
register_format("json", "supportscope.io.source_json:JsonArraySource", (".json",))
register_format("lm-eval", "supportscope.io.source_lmeval:LmEvalSource", sniff="supportscope.io.source_lmeval:sniff")
register_format("lcb", "supportscope.io.source_lcb:LcbSource", sniff="supportscope.io.source_lcb:sniff")
register_format("rates", "supportscope.io.source_rates:RatesSource", sniff="supportscope.io.source_rates:sniff")


def input_formats() -> dict[str, tuple[str, ...]]:
    """Format name -> its extensions, in registration order (formats read by extension)."""
    return {f: FORMATS.meta(f)["extensions"] for f in FORMATS.names() if FORMATS.meta(f)["extensions"]}


def content_formats() -> dict[str, str]:
    """Format name -> its sniff hook (``"module:function"``), for formats recognised by content."""
    return {f: FORMATS.meta(f)["sniff"] for f in FORMATS.names() if FORMATS.meta(f).get("sniff")}


def source_class(fmt: str) -> type:
    """The Source subclass that reads format ``fmt``."""
    return FORMATS.get(fmt)


def accepted_extensions() -> str:
    """The accepted extensions as text, for messages: ``".csv, .jsonl, ..."``."""
    return ", ".join(e for exts in input_formats().values() for e in exts)


def check_path(path: str | os.PathLike[str]) -> str:
    """Check that ``path`` is a readable, non-empty regular file with a known extension whose first
    bytes fit its format (:mod:`.files`: a FIFO is refused before it is opened, gzip or Parquet bytes
    in a ``.csv`` are named as such).

    Returns the format name (``"csv"``, ``"jsonl"``, ``"parquet"`` or a registered one); raises
    :class:`InputError` otherwise.
    """
    p = Path(path)
    fmt = next((f for f, exts in input_formats().items() if p.suffix.lower() in exts), None)
    st = regular_file(path, "pass the result files inside it, e.g. dir/*.csv")
    if fmt is None:
        raise InputError(
            path,
            f"unknown file extension {p.suffix or '(none)'!r}",
            f"save the results as one of {accepted_extensions()} (the extension picks the reader)",
        )
    try:
        with open(p, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as e:
        raise InputError(path, f"cannot be read ({e.strerror or e})", "check the file's permissions") from e
    if st.st_size == 0 or not head:
        raise InputError(path, "file is empty (0 bytes)", "write the results into it, with a header row for CSV")
    if fmt in _TEXT:
        check_text(path, head, _TEXT[fmt])
    elif fmt == "parquet":
        check_binary(path, head, "a Parquet file", b"PAR1")
    return fmt


#: the built-in text formats, as messages call them
_TEXT = {"csv": "CSV text", "jsonl": "JSON Lines text", "json": "JSON text"}
