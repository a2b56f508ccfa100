"""Keep the cyclic garbage collector off the long-lived heap during bulk work.

Sampling and scoring allocate many small container objects (a row dict, its id and log-prob lists,
per sample), so CPython runs full collections while they work, and a full collection walks every
tracked object of the process: the model's modules, torch, transformers, the tokenizer, the store.
On the organism (the demo's shape: 20,480 samples in batches of 1,024) sampling took 1.24 s with
the collector as is, about 0.9 s with the objects alive before the job frozen, and 0.73 s with the
collector off.

:func:`frozen_heap` moves every object alive when the outermost block starts to the permanent
generation (``gc.freeze``) and back when it ends (``gc.unfreeze``). Objects made inside the block
are collected as usual (a nested block freezes nothing more); cycles among the frozen objects wait
until the block ends. When something else has already frozen objects (a server that freezes
before forking), the block does nothing, so it never unfreezes what it did not freeze. Thread-safe;
nothing else changes: reference counting frees non-cyclic garbage as always.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_owner = False  # whether the outermost block froze the heap (and so unfreezes it)


def _enter() -> None:
    global _depth, _owner
    with _lock:
        if _depth == 0:
            _owner = gc.get_freeze_count() == 0
            if _owner:
                gc.freeze()
        _depth += 1


def _exit() -> None:
    global _depth, _owner
    with _lock:
        _depth -= 1
        if _depth == 0 and _owner:
            gc.unfreeze()
            _owner = False


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Run the block with the objects alive at the outermost block's start out of the collector's sight."""
    _enter()
    try:
        yield
    finally:
        _exit()


__all__ = ["frozen_heap"]
