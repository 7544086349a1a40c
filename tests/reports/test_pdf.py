"""PDF reports: A4, page numbers, repeated table headers, a CJK font embedded, pixels drawn."""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from riskml.config.reports import load_reports_config
from riskml.reports import render_review_reports
from riskml.reports._output import MANIFEST_NAME
from tests.reports._html import ID_18
from tests.reports.conftest import needs

pytestmark = [needs("pdftoppm"), needs("pdffonts"), needs("pdftotext"), needs("pdfinfo")]

CJK_FONT = re.compile(r"WenQuanYi|Noto\S*CJK|SourceHan|Source Han|NotoSansSC|SimHei|YaHei", re.I)


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=120).stdout


def _pages(pdf: Path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), re.M).group(1))


def _page_text(pdf: Path, page: int) -> str:
    return _run("pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-")


def _embedded_fonts(pdf: Path) -> list[str]:
    rows = [line.split() for line in _run("pdffonts", str(pdf)).splitlines()[2:]]
    return [
        r[0] for r in rows if len(r) >= 6 and r[-5] == "yes"
    ]  # columns end: emb sub uni object gen


@pytest.fixture(scope="module")
def pdf_reports(tiny_scores: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("pdf")
    return {
        # county level: one long multi-page report and the single-household county
        ("zh", "public"): render_review_reports(
            tiny_scores, root / "zh", level="county", lang="zh", mode="public", formats="html,pdf"
        ),
        # two worker processes render these PDFs (the pool path of write_pdfs)
        ("en", "internal"): render_review_reports(
            tiny_scores,
            root / "en",
            level="village",
            lang="en",
            mode="internal",
            formats="pdf",
            workers=2,
        ),
    }


@pytest.mark.parametrize("key", [("zh", "public"), ("en", "internal")])
def test_pdf_is_a4_with_a_cjk_font_and_drawn_pages(pdf_reports, key, tmp_path: Path) -> None:
    result = pdf_reports[key]
    lang, mode = key
    t = load_reports_config().text[lang]
    for unit in result.units:
        pdf = result.out_dir / unit["pdf"]
        assert pdf.is_file() and pdf.read_bytes()[:5] == b"%PDF-"
        info = _run("pdfinfo", str(pdf))
        assert "(A4)" in info
        fonts = _embedded_fonts(pdf)
        assert any(CJK_FONT.search(f) for f in fonts), (
            f"no CJK font embedded in {pdf.name}: {fonts}"
        )
        n = _pages(pdf)
        text = "\n".join(_page_text(pdf, p) for p in range(1, n + 1))
        for p in (1, n):  # page numbers "p / n" in the footer
            assert re.search(rf"(?<!\d){p}\s*/\s*{n}(?!\d)", text), (
                f"no page number {p}/{n} in {pdf.name}"
            )
        if mode == "public":
            assert t["disclaimer_short"] in text.replace(" ", "")
            assert ID_18.search(text) is None
        if unit["name"].isascii() is False:  # Chinese unit names come out as text, not boxes
            assert unit["name"].replace(" ", "") in text.replace(" ", "")
    # first page as an image: not blank, with dark text pixels
    pdf = result.out_dir / result.units[0]["pdf"]
    subprocess.run(
        ["pdftoppm", "-r", "50", "-f", "1", "-l", "1", "-png", str(pdf), str(tmp_path / "p")],
        check=True,
        timeout=120,
    )
    png = next(tmp_path.glob("p*.png"))
    gray = np.asarray(Image.open(png).convert("L"))
    assert (gray < 128).mean() > 0.005, "the first page looks blank"


def test_long_tables_repeat_their_header_on_every_page(pdf_reports) -> None:
    """A county report has a long household table: every page that lists households repeats the
    column headers (rows are never split, so each page starts with the header)."""
    result = pdf_reports[("zh", "public")]
    big = max(result.units, key=lambda u: u["counts"]["flagged"])
    pdf = result.out_dir / big["pdf"]
    n = _pages(pdf)
    header = load_reports_config().text["zh"]["col_household"]  # in every household table's header
    numbered = re.compile(r"村内编号\s*[0-9]+")  # meeting mode numbers households in their village
    pages_with_rows = 0
    for p in range(1, n + 1):
        text = _page_text(pdf, p)
        if numbered.search(text):
            pages_with_rows += 1
            assert header in text.replace(" ", ""), (
                f"page {p} lists households without the table header"
            )
    assert pages_with_rows >= 2, f"expected the household table to span pages ({n} pages)"


def test_verification_sheets_one_page_per_household(pdf_reports) -> None:
    """Internal PDFs come with <unit>.verification.pdf: a cover listing the households, then one
    A4 page per flagged household, in rank order, each with its id and the conclusion boxes."""
    result = pdf_reports[("en", "internal")]
    units = [u for u in result.units if u["counts"]["flagged"]]
    assert units
    t = load_reports_config().text["en"]
    for u in units:
        pdf = result.out_dir / u["verification"]
        assert pdf.suffix == ".pdf" and pdf.is_file()
        n = u["counts"]["flagged"]
        assert _pages(pdf) == n + 1, "each household's sheet must fit on one page"
        ids = ID_18.findall(_page_text(pdf, 1))
        assert len(ids) == n
        for k, hid in enumerate(ids, start=2):
            text = _page_text(pdf, k)
            assert ID_18.findall(text) == [hid]
            assert t["v_conclusion"] in text and t["v_signatures"][0] in text
    assert all(u["verification"] is None for u in pdf_reports[("zh", "public")].units)


class _PageTexts(HTMLParser):
    """The text nodes of an HTML page as printed (``no-print`` elements and the head left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden: list[bool] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "meta", "link", "img"):
            return
        classes = (dict(attrs).get("class") or "").split()
        self.hidden.append(tag in ("head", "title") or "no-print" in classes)

    def handle_endtag(self, tag: str) -> None:
        if tag not in ("br", "meta", "link", "img") and self.hidden:
            self.hidden.pop()

    def handle_data(self, data: str) -> None:
        if data.strip() and not any(self.hidden):
            self.texts.append(data.strip())


def _squashed(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("key", [("zh", "public"), ("en", "internal")])
def test_pdf_holds_every_text_of_its_html_page(pdf_reports, key) -> None:
    """Typst typesets the PDF from the page data, not from the HTML: every sentence the HTML page
    shows (reasons, measures, ids, follow-up notes, wording) is in the PDF, word for word (in
    drawing order, whitespace aside), for the lists and the verification sheets."""
    result = pdf_reports[key]
    checked = 0
    for unit in result.units:
        pairs = [(unit["pdf"], unit["html"])]
        if unit["verification"]:
            pairs.append((unit["verification"], unit["verification"].replace(".pdf", ".html")))
        for pdf, html in pairs:
            text = _squashed(_run("pdftotext", "-raw", str(result.out_dir / pdf), "-"))
            page = _PageTexts()
            page.feed((result.out_dir / html).read_text(encoding="utf-8"))
            missing = [s for s in page.texts if _squashed(s) not in text]
            assert not missing, f"{pdf} lacks {missing[:5]}"
            checked += len(page.texts)
    assert checked > 200


def test_weasyprint_engine_renders_the_html_itself(tiny_scores: Path, tmp_path: Path) -> None:
    """pdf_engine: weasyprint lays out the HTML page (the engine before Typst); the default
    typesets with Typst. Both write A4 PDFs with the CJK font embedded."""
    config = load_reports_config()
    producers = {}
    for engine in ("typst", "weasyprint"):
        result = render_review_reports(
            tiny_scores,
            tmp_path / engine,
            level="county",
            lang="zh",
            mode="public",
            formats="pdf",
            config=config.model_copy(update={"pdf_engine": engine}),
        )
        manifest = json.loads((result.out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        assert manifest["pdf_engine"] == engine
        pdf = result.out_dir / result.units[0]["pdf"]
        info = _run("pdfinfo", str(pdf))
        assert "(A4)" in info
        assert any(CJK_FONT.search(f) for f in _embedded_fonts(pdf))
        producers[engine] = " ".join(re.findall(r"^(?:Producer|Creator):\s+(.*)$", info, re.M))
    assert "typst" in producers["typst"].lower()
    assert "weasyprint" in producers["weasyprint"].lower()
