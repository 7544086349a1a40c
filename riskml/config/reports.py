"""Report settings (``configs/reports.yaml``): defaults, fonts, charts and the page wording.

The wording a cadre reads (titles, the disclaimer, the "how to read this" box, labels) lives in
the YAML file so that a province can adapt it without touching code. Both languages must define
exactly the same keys; a template that asks for a key the file lacks fails loudly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from riskml.config._base import StrictModel, config_dir, load_config

__all__ = [
    "LANGS",
    "LEVELS",
    "MODES",
    "ChartSettings",
    "ReportDefaults",
    "ReportsConfig",
    "load_reports_config",
]

LEVELS = ("village", "township", "county")
LANGS = ("zh", "en")
MODES = ("public", "internal")

Level = Literal["village", "township", "county"]
Lang = Literal["zh", "en"]
Mode = Literal["public", "internal"]
Format = Literal["html", "pdf", "xlsx"]
PdfEngine = Literal["typst", "weasyprint"]


class ReportDefaults(StrictModel):
    """What ``riskml report`` does when an option is not given."""

    level: Level = "village"
    lang: Lang = "zh"
    mode: Mode = "public"
    formats: tuple[Format, ...] = ("html",)


class ChartSettings(StrictModel):
    """Chart settings: review-report charts are SVG drawn by riskml; the model report's are
    matplotlib PNGs (``dpi``)."""

    dpi: int = Field(110, ge=50, le=400)
    width_in: float = Field(7.0, gt=0)
    max_households: int = Field(
        30,
        ge=1,
        description="Households shown in the internal per-household contribution chart; the "
        "table still lists every flagged household.",
    )
    risk_type_colors: dict[str, str]
    other_color: str = "#9e9e9e"


class ReportsConfig(StrictModel):
    """``configs/reports.yaml``."""

    defaults: ReportDefaults = ReportDefaults()
    cjk_fonts: tuple[str, ...] = Field(
        ..., min_length=1, description="CJK font families to look for, in order of preference."
    )
    public_show_score: bool = Field(
        False,
        description="Show the calibrated score in public reports (tier and rank always show).",
    )
    masked_id_visible_chars: int = Field(4, ge=0, le=6)
    pdf_engine: PdfEngine = Field(
        "typst",
        description="What prints the review lists and verification sheets as PDF: typst (about "
        "a millisecond a page, from the same data as the HTML) or weasyprint (renders the HTML "
        "itself, about 0.3 s a page). The model report always uses WeasyPrint.",
    )
    chart: ChartSettings
    text: dict[Lang, dict[str, str | list[str] | dict[str, str]]]

    @field_validator("text")
    @classmethod
    def _same_keys(
        cls, v: dict[str, dict[str, str | list[str] | dict[str, str]]]
    ) -> dict[str, dict[str, str | list[str] | dict[str, str]]]:
        missing_langs = [lang for lang in LANGS if lang not in v]
        if missing_langs:
            raise ValueError(
                f"text must define every language {list(LANGS)}; missing {missing_langs}"
            )
        keys = {lang: set(v[lang]) for lang in LANGS}
        only_zh, only_en = keys["zh"] - keys["en"], keys["en"] - keys["zh"]
        if only_zh or only_en:
            raise ValueError(
                f"text.zh and text.en must have the same keys; only in zh: {sorted(only_zh)}, "
                f"only in en: {sorted(only_en)}"
            )
        for key in keys["zh"]:
            a, b = v["zh"][key], v["en"][key]
            if isinstance(a, dict) and isinstance(b, dict) and set(a) != set(b):
                raise ValueError(f"text.zh.{key} and text.en.{key} must have the same keys")
        return v


@lru_cache(maxsize=8)
def _load(path: str) -> ReportsConfig:
    return load_config(path, ReportsConfig)


def load_reports_config(path: str | Path | None = None) -> ReportsConfig:
    """Load ``configs/reports.yaml`` (or ``path``)."""
    return _load(str(path or config_dir() / "reports.yaml"))
