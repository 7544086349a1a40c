"""Fixtures for the report tests: score files written in the scorer's format, rendered reports."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from riskml.reports import ReviewReportResult, render_review_reports
from tests.reports._scores import ProvinceSpec, make_scores, write_scores

SMALL = ProvinceSpec(
    n_households=260, n_villages=6, villages_per_township=3, townships_per_county=2, seed=11
)
TINY = ProvinceSpec(
    n_households=90, n_villages=4, villages_per_township=2, townships_per_county=2, seed=5
)


def needs(tool: str) -> pytest.MarkDecorator:
    """Skip with a clear reason when a system tool is absent."""
    return pytest.mark.skipif(
        shutil.which(tool) is None,
        reason=f"{tool} is not installed (run `bash scripts/install-system-deps.sh` as root: it installs "
        "poppler-utils and chromium)",
    )


@pytest.fixture(scope="session")
def score_frame() -> pd.DataFrame:
    return make_scores(SMALL)


@pytest.fixture(scope="session")
def score_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scores")


@pytest.fixture(scope="session")
def internal_scores(score_frame: pd.DataFrame, score_dir: Path) -> Path:
    return write_scores(score_dir / "scores.internal.parquet", score_frame, mode="internal")


@pytest.fixture(scope="session")
def public_scores(score_frame: pd.DataFrame, score_dir: Path) -> Path:
    return write_scores(score_dir / "scores.public.parquet", score_frame, mode="public")


@pytest.fixture(scope="session")
def tiny_scores(score_dir: Path) -> Path:
    return write_scores(score_dir / "scores.tiny.parquet", make_scores(TINY), mode="internal")


@pytest.fixture(scope="session")
def rendered(
    tmp_path_factory: pytest.TempPathFactory, internal_scores: Path
) -> Callable[..., ReviewReportResult]:
    """Render (once per session and combination) review reports from the internal score file."""
    cache: dict[tuple[str, str, str, str], ReviewReportResult] = {}
    root = tmp_path_factory.mktemp("reports")

    def get(level: str, lang: str, mode: str, formats: str = "html") -> ReviewReportResult:
        key = (level, lang, mode, formats)
        if key not in cache:
            out = root / "_".join(key).replace(",", "+")
            cache[key] = render_review_reports(
                internal_scores, out, level=level, lang=lang, mode=mode, formats=formats
            )
        return cache[key]

    return get
