"""Console progress bars over households, for the commands that take minutes.

``riskml synth`` uses :func:`household_progress`; ``riskml.scoring`` still builds the same bar
itself (``riskml/scoring/_local.py``) and can move to :func:`household_bar`.
"""

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

__all__ = ["household_bar", "household_progress"]


def household_bar(console: Console, label: str = "{task.description}") -> Progress:
    """A bar of households done: label, bar, done/total, elapsed, remaining (not started)."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("households"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


@contextmanager
def household_progress(
    console: Console, total: int, label: str = "[bold]synth[/]"
) -> Iterator[Callable[[int], None]]:
    """Show a :func:`household_bar` while the block runs; yields a callback taking the number
    of households done so far (the ``progress`` argument of
    :func:`riskml.synth.write_synthetic_province`)."""
    with household_bar(console, label) as bar:
        task = bar.add_task("households", total=total)
        yield lambda done: bar.update(task, completed=done)
