"""External eval results -> one validated counts table (DESIGN.md section 5).

``load_counts(paths)`` reads counts or per-sample rows from any harness, in any registered format
(CSV, JSON Lines, JSON arrays, Parquet; :mod:`.formats` is the registry: one module per format, one
``register`` line), validating as the data streams in. Other harnesses' layouts are recognised by
content (:mod:`.importers`: lm-eval ``--log_samples``, LiveCodeBench ``*_eval_all.json``, rate
tables; column aliases such as ``doc_id`` for ``problem_id``). Errors are
:class:`~supportscope.errors.InputError`: one line naming the file, the line and the fix.
``io`` never imports :mod:`supportscope.store`.

Public API: :func:`load_counts`, :class:`ImportOptions`, :data:`COUNTS_SCHEMA`, :func:`register_format`,
:func:`input_formats`.
"""

from ..errors import InputError
from .formats import input_formats, register_format
from .importers import ImportOptions
from .readers import load_counts
from .schema import COUNTS_SCHEMA

__all__ = ["COUNTS_SCHEMA", "ImportOptions", "InputError", "input_formats", "load_counts", "register_format"]
