"""heap.frozen_heap: the objects alive at the start are frozen for the block (nested blocks too) and
unfrozen after it; garbage made inside the block is still collected."""

from __future__ import annotations

import gc
import weakref

from supportscope.heap import frozen_heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


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
            assert gc.get_freeze_count() >= outer
        assert gc.get_freeze_count() >= outer  # the inner exit does not unfreeze the outer block
        new = Node()
        new_ref = weakref.ref(new)
        del new
        gc.collect()
        assert new_ref() is None  # made inside the block: collected as usual
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert old_ref() is None  # unfrozen: the old cycle is collected again
