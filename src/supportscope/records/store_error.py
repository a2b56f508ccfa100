"""The error of the run store (:mod:`supportscope.records.store` and its parts)."""

from __future__ import annotations

from .errors import InputError


class StoreError(InputError, ValueError):
    """A run directory cannot be used as asked. ``str`` is one line:
    ``"RUN/...: what. Fix: ..."`` (see :class:`~supportscope.records.errors.InputError`)."""
