"""``BundleError`` and the helpers that make its messages say what, where and how to fix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MAX_SHOWN_ROWS", "BundleError", "describe_rows"]

MAX_SHOWN_ROWS = 5
"""How many offending rows an error message lists."""


class BundleError(ValueError):
    """A bundle cannot be loaded: the message names table, column, rows and the fix.

    ``problems`` holds one message per problem found (a load reports every structural problem
    it finds in one go, not only the first).
    """

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} problems in the bundle:\n" + "\n".join(
                f"[{i}] {p}" for i, p in enumerate(self.problems, start=1)
            )
        super().__init__(message)


def _shown(value: object) -> str:
    if value is None:
        return "empty"
    text = str(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text)


def describe_rows(rows: np.ndarray | Sequence[int], values: Sequence[object] | None = None) -> str:
    """``"row 3 ('abc'), row 7 ('x') and 12 more rows"`` for the first offending rows.

    ``rows`` are 1-based data rows of the source file (the row after the header is row 1).
    """
    rows = np.asarray(rows)
    shown = []
    for i, row in enumerate(rows[:MAX_SHOWN_ROWS]):
        part = f"row {int(row)}"
        if values is not None:
            part += f" ({_shown(values[i])})"
        shown.append(part)
    text = ", ".join(shown)
    if len(rows) > MAX_SHOWN_ROWS:
        text += f" and {len(rows) - MAX_SHOWN_ROWS} more rows"
    return text
