"""Lazy, named registries: the one extension mechanism (tasks, backends, input formats, report
sections). A new one of each is one module plus one ``register`` line.

An entry is registered by name with its target: an object, or a ``"package.module:attribute"``
string imported only when the entry is first used, so registering costs nothing (no torch for
the ``hf`` backend until a model is loaded) and a registry never imports the layer above it.
Unknown names get a one-line :class:`~supportscope.errors.ConfigError` with "did you mean".

    BACKENDS = Registry("backend")
    BACKENDS.register("hf", "supportscope.models.hf:HFBackend", help="Hugging Face transformers")
    BACKENDS.get("hf")          # -> the HFBackend class (imported now)
    BACKENDS.get("hff")         # ConfigError: unknown backend 'hff'. Fix: did you mean hf? known: hf, vllm
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from supportscope.errors import ConfigError

__all__ = ["Registry", "close_matches", "suggest"]


def close_matches(name: str, known: list[str]) -> list[str]:
    """Up to three known names close to ``name`` (case-insensitive), best first."""
    return difflib.get_close_matches(str(name).lower(), known, n=3, cutoff=0.5)


def suggest(name: str, known: list[str], suffix: str = "") -> str:
    """``"did you mean a, b? "`` for the known names close to ``name`` (or ``""``); each name is
    shown with ``suffix`` (e.g. ``":"`` for task prefixes)."""
    close = close_matches(name, known)
    return f"did you mean {', '.join(c + suffix for c in close)}? " if close else ""


class Registry:
    """Named entries in registration order; each entry's target is resolved on first :meth:`get`.

    Args:
        kind: what an entry is, for messages ("backend", "input format", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._targets: dict[str, Any] = {}
        self._meta: dict[str, dict[str, Any]] = {}

    def register(self, name: str, target: Any, *, replace: bool = False, **meta: Any) -> None:
        """Add ``name`` -> ``target`` (an object or ``"module:attribute"``) with metadata ``meta``
        (e.g. ``help=``, ``extensions=``). Registering a name twice is an error unless ``replace``."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")
        if isinstance(target, str) and ":" not in target:
            raise ValueError(f"{self.kind} {name!r}: a target string is 'package.module:attribute', got {target!r}")
        if name in self._targets and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered; pass replace=True")
        self._targets[name] = target
        self._meta[name] = dict(meta)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (e.g. a test's temporary entry)."""
        self._check(name)
        del self._targets[name], self._meta[name]

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._targets)

    def meta(self, name: str) -> dict[str, Any]:
        """The metadata given with ``name`` (a copy)."""
        self._check(name)
        return dict(self._meta[name])

    def get(self, name: str) -> Any:
        """The entry's target, imported now if it was registered as a string."""
        self._check(name)
        target = self._targets[name]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
            self._targets[name] = target
        return target

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def _check(self, name: str) -> None:
        if name not in self._targets:
            known = ", ".join(self._targets) or "none"
            raise ConfigError(f"unknown {self.kind} {name!r}. Fix: {suggest(name, self.names())}known: {known}")
