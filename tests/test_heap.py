"""heap.frozen_heap: the objects alive at the start are frozen for the block and unfrozen after it;
garbage made inside the block, nested blocks included, is still collected; a freeze made by someone
else is left alone."""

from __future__ import annotations

import gc
import weakref

from supportscope.heap import frozen_heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def cycle() -> weakref.ref:
    """A weak reference to a fresh cycle no one else holds."""
    return weakref.ref(Node())


def test_frozen_heap_nests_restores_and_still_collects():
    old = Node()
    old_ref = weakref.ref(old)
    with frozen_heap():
        outer = gc.get_freeze_count()
        assert outer > 0
        del old
        gc.collect()
        assert old_ref() is not None  # frozen: a cycle alive at the start is not walked
        with frozen_heap():
            assert gc.get_freeze_count() == outer  # a nested block freezes nothing more
            inner = cycle()
            gc.collect()
            assert inner() is None  # made inside a nested block: collected as usual
        assert gc.get_freeze_count() == outer  # the inner exit does not unfreeze the outer block
        new = cycle()
        gc.collect()
        assert new() is None  # made inside the block: collected as usual
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert old_ref() is None  # unfrozen: the old cycle is collected again


def test_frozen_heap_leaves_a_freeze_it_did_not_make():
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        with frozen_heap():
            pass
        assert gc.get_freeze_count() == before
    finally:
        gc.unfreeze()
