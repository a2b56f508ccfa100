"""External eval results -> one validated counts table (DESIGN.md section 5).

``load_counts(paths)`` reads counts or per-sample rows from any harness, in any registered format
(CSV, JSON Lines, Parquet; :mod:`.formats` is the registry: one module per format, one
``register`` line), validating as the data streams in. Errors are
:class:`~supportscope.errors.InputError`: one line naming the file, the line and the fix.
``io`` never imports :mod:`supportscope.store`.

Public API: :func:`load_counts`, :data:`COUNTS_SCHEMA`, :func:`register_format`, :func:`input_formats`.
"""

from ..errors import InputError
from .formats import input_formats, register_format
from .readers import load_counts
from .schema import COUNTS_SCHEMA

__all__ = ["COUNTS_SCHEMA", "InputError", "input_formats", "load_counts", "register_format"]
