"""A rich progress bar with rate and ETA for long jobs (on stderr, so stdout stays clean)."""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)


@contextmanager
def progress_bar(description: str, total: int, unit: str = "samples"):
    """Yields advance(k); shows done/total, rate and time remaining."""
    cols = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("[cyan]{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    with Progress(*cols, console=Console(stderr=True), transient=False) as prog:
        task = prog.add_task(description, total=total, rate="")

        def advance(k: int) -> None:
            prog.advance(task, k)
            speed = prog.tasks[task].speed
            prog.update(task, rate=f"{speed:.2f} {unit}/s" if speed else "")

        yield advance
