"""HTML reports in a real browser: headless Chromium screenshots, Chinese drawn with a CJK font.

The check that CJK glyphs were drawn: the same page is screenshotted twice, once normally and
once with the CJK font hidden from fontconfig (so Chromium can only draw boxes). The Chinese
title band must differ between the two, and must hold plenty of dark pixels in the normal one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from riskml.reports import ReviewReportResult, find_cjk_font

CHROMIUM = (
    shutil.which("chromium")
    or shutil.which("chromium-browser")
    or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="headless Chromium is not installed (run `bash scripts/install-system-deps.sh` as root; "
        ".ci/run does this)",
    ),
]


def screenshot(
    page: Path, png: Path, workdir: Path, *, env: dict[str, str] | None = None
) -> np.ndarray:
    """A 1200×1600 screenshot of ``page`` as a grey-level array."""
    profile = workdir / f"profile-{png.stem}"
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--screenshot={png}",
        "--window-size=1200,1600",
        page.resolve().as_uri(),
    ]
    subprocess.run(
        cmd, check=True, capture_output=True, timeout=120, env={**os.environ, **(env or {})}
    )
    assert png.is_file(), f"Chromium wrote no screenshot for {page}"
    return np.asarray(Image.open(png).convert("L"), dtype=int)


def fontconfig_without(font_path: Path, workdir: Path) -> dict[str, str]:
    """Environment for a fontconfig that hides every font file in ``font_path``'s folder."""
    conf = workdir / "fonts-without-cjk.conf"
    conf.write_text(
        f"""<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <selectfont><rejectfont><glob>{font_path.parent}/*</glob></rejectfont></selectfont>
  <cachedir>{workdir / "fc-cache"}</cachedir>
</fontconfig>
""",
        encoding="utf-8",
    )
    return {"FONTCONFIG_FILE": str(conf)}


@pytest.fixture(scope="module")
def public_zh(rendered) -> ReviewReportResult:
    return rendered("village", "zh", "public")


def test_report_page_draws_chinese_with_a_cjk_font(
    public_zh: ReviewReportResult, tmp_path: Path
) -> None:
    unit = next(u for u in public_zh.units if u["counts"]["flagged"] > 0)
    page = public_zh.out_dir / unit["html"]
    shot = screenshot(page, tmp_path / "normal.png", tmp_path)
    assert shot.shape == (1600, 1200)
    assert (shot < 128).mean() > 0.01, "the page looks blank"

    blocked = screenshot(
        page,
        tmp_path / "no-cjk.png",
        tmp_path,
        env=fontconfig_without(find_cjk_font().path, tmp_path),
    )
    # the top band holds the Chinese title (防返贫监测风险提示名单) and unit heading
    band = slice(0, 90)
    dark = int((shot[band] < 110).sum())
    assert dark > 1500, (
        f"too few dark pixels in the title band ({dark}): was the Chinese title drawn?"
    )
    changed = int((np.abs(shot[band] - blocked[band]) > 80).sum())
    assert changed > 1000, (
        f"the title band barely changes ({changed} pixels) when the CJK font is hidden: "
        "the normal page is not drawing Chinese with the CJK font"
    )


def test_index_page_renders(public_zh: ReviewReportResult, tmp_path: Path) -> None:
    shot = screenshot(public_zh.index, tmp_path / "index.png", tmp_path)
    assert (shot < 128).mean() > 0.005
