"""A console progress bar for writing a province (used by ``riskml synth``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["household_progress"]


@contextmanager
def household_progress(console: Console, total: int) -> Iterator[Callable[[int], None]]:
    """A bar of households written so far; yields the ``progress`` callback of
    :func:`riskml.synth.write_synthetic_province` (called with the households done)."""
    columns = (
        TextColumn("[bold]synth[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("households"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("synth", total=total)
        yield lambda done: bar.update(task, completed=done)
