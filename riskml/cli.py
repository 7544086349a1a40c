"""The ``riskml`` command line: thin — parse arguments, load config, call one library function.

Each stage registers its commands below; heavy imports happen inside the commands so that
``riskml --help`` stays fast.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from riskml import __version__

app = typer.Typer(
    name="riskml",
    help="Predict which rural households are at risk of falling (back) into poverty, and explain why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print a clear error (no traceback) and exit non-zero."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


@app.command()
def version() -> None:
    """Print riskml's version."""
    console.print(f"riskml {__version__}")


# ---- stage commands (keep each block self-contained; add new ones above the end marker) ----


# ---- end of stage commands ----


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
