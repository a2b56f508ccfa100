"""Independent jobs of the demo in spawned processes, with a way back to the calling process.

Spawned, not forked, so no torch or thread state is copied; a script that reaches this must guard
its entry point with ``if __name__ == "__main__":`` (the children import the main module).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any, Callable

from rich.console import Console


def map_in_processes(fn: Callable, calls: list[tuple], workers: int, advance: Callable[[int], None], what: str,
                     initializer: Callable | None = None, initargs: tuple = ()) -> list[Any] | None:
    """``[fn(*args) for args in calls]`` in call order, run by ``workers`` spawned processes (each
    started with ``initializer(*initargs)``), ``advance(1)`` as each call finishes. None, after one
    warning line naming ``what``, when the processes cannot run or one dies: the caller then does the
    remaining work itself (an exception raised by ``fn`` is raised here as it is)."""
    try:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=initializer,
                                 initargs=initargs) as pool:
            futures = [pool.submit(fn, *args) for args in calls]
            for f in futures:
                f.add_done_callback(lambda f: None if f.exception() else advance(1))
            return [f.result() for f in futures]
    except (BrokenProcessPool, OSError) as e:
        Console(stderr=True).print(f"[yellow]{what} processes failed ({type(e).__name__}); "
                                   f"running the {what} in this process[/yellow]")
        return None


__all__ = ["map_in_processes"]
