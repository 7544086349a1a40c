"""``check_bundle``: load and validate a bundle folder, write its quarantine beside it, summarise.

This is what ``riskml validate`` runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskml.config.mapping import BundleMapping
from riskml.data._bundle import Bundle
from riskml.data._errors import BundleError
from riskml.data._load import load_bundle, write_quarantine
from riskml.data._summary import summarize_bundle

__all__ = ["CheckResult", "check_bundle", "default_quarantine_path"]


@dataclass
class CheckResult:
    bundle: Bundle
    summary: dict[str, Any]
    quarantine_path: Path | None
    """Where the quarantined rows were written (``None`` when there were none)."""


def default_quarantine_path(folder: str | Path) -> Path:
    """``<parent>/<folder name>.quarantine.csv``: beside the bundle, never inside it."""
    folder = Path(folder).resolve()
    return folder.parent / f"{folder.name}.quarantine.csv"


def check_bundle(
    path: str | Path,
    *,
    mapping: str | Path | BundleMapping | None = None,
    encoding: str | None = None,
    quarantine_path: str | Path | None = None,
    extracted_on: dt.date | str | None = None,
) -> CheckResult:
    """Load and validate ``path``; write quarantined rows (if any) to ``quarantine_path``.

    ``quarantine_path`` defaults to :func:`default_quarantine_path`. Raises ``BundleError`` (also
    when the quarantine file cannot be written) or ``riskml.config.ConfigError``.
    """
    bundle = load_bundle(path, mapping=mapping, encoding=encoding, extracted_on=extracted_on)
    summary = summarize_bundle(bundle)
    written = None
    if len(bundle.quarantine):
        target = Path(quarantine_path) if quarantine_path else default_quarantine_path(path)
        try:
            written = write_quarantine(bundle.quarantine, target)
        except OSError as exc:
            raise BundleError(
                f"The bundle loaded with {len(bundle.quarantine)} quarantine records, but they could "
                f"not be written to {target} ({exc.strerror or exc}). Fix: give a writable file "
                "with --quarantine FILE."
            ) from exc
    summary["quarantine"]["file"] = str(written) if written else None
    return CheckResult(bundle=bundle, summary=summary, quarantine_path=written)
