"""Small helpers to read rendered report pages in tests (standard library only)."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

ID_18 = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")


def section(page: str, section_id: str) -> str:
    """The HTML of ``<section id="...">`` (empty when absent)."""
    m = re.search(rf'<section id="{re.escape(section_id)}">(.*?)</section>', page, flags=re.S)
    return m.group(1) if m else ""


def household_cells(fragment: str) -> list[str]:
    """Households as shown in a fragment (the full id internally, 村内编号 N in meeting mode),
    in page order (unescaped)."""
    return [
        html_lib.unescape(x.strip())
        for x in re.findall(r'<(?:td|span) class="hid">(.*?)</(?:td|span)>', fragment, flags=re.S)
    ]


def ranks(fragment: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-rank="(\d+)"', fragment)]


def text_of(page: str) -> str:
    """Visible text, roughly: tags removed, entities unescaped."""
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", page))


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")
