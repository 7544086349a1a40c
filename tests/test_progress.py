"""The households progress bar that long commands show on the console."""

from __future__ import annotations

import io

from rich.console import Console

from riskml.progress import household_bar, household_progress


def test_household_progress_counts_what_the_callback_reports() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=False)
    with household_progress(console, 250, label="synth") as progress:
        progress(100)
        progress(250)
    text = out.getvalue()
    assert "synth" in text and "250/250" in text and "households" in text


def test_household_bar_is_not_started_until_used() -> None:
    bar = household_bar(Console(file=io.StringIO()), "score")
    assert not bar.live.is_started
    task = bar.add_task("chunk", total=10)
    bar.advance(task, 4)
    assert bar.tasks[0].completed == 4
