"""``bundle.yaml``: what a bundle says about itself (extraction date, province, source)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from pydantic import ValidationError

from riskml.config import ConfigError, StrictModel, read_yaml
from riskml.data._errors import BundleError

__all__ = ["MANIFEST_NAME", "BundleManifest", "read_manifest", "write_manifest"]

MANIFEST_NAME = "bundle.yaml"


class BundleManifest(StrictModel):
    """The optional ``bundle.yaml`` of a bundle folder."""

    extracted_on: dt.date | None = None
    province: str | None = None
    source: str | None = None


def read_manifest(folder: Path) -> BundleManifest | None:
    """``bundle.yaml`` of ``folder``, or ``None`` when the folder has none."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        data = read_yaml(path)
    except ConfigError as exc:
        raise BundleError(f"{path}: {exc}. Fix: correct or remove {MANIFEST_NAME}.") from exc
    if data is None:
        return BundleManifest()
    if not isinstance(data, dict):
        raise BundleError(
            f"{path} must hold keys extracted_on/province/source, got {type(data).__name__}. "
            f"Fix: write e.g. 'extracted_on: 2025-12-31'."
        )
    try:
        return BundleManifest.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown key '{key}' (allowed: extracted_on, province, source)")
            else:
                problems.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
        raise BundleError(
            f"{path} is not a valid bundle manifest: {'; '.join(problems)}. Fix: use "
            "'extracted_on: YYYY-MM-DD' and optional 'province:' and 'source:' only."
        ) from exc


def write_manifest(folder: Path, manifest: BundleManifest) -> Path:
    """Write ``bundle.yaml`` (keys with no value are left out)."""
    data = {k: v for k, v in manifest.model_dump().items() if v is not None}
    path = folder / MANIFEST_NAME
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
