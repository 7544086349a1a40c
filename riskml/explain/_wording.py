"""Wording rules every sentence riskml writes about a household must follow.

Checked by the tests over every catalog statement and over the reasons of real provinces, and
usable by anyone adding a statement (``wording_problems(text, lang)`` lists what is wrong):

* no zero counts ("0 人", "0 个月前", "0 members"): an absence is said in words, or not at all;
* no negative, missing or unknown values ("-1,230 元", "未知", "nan", "<NA>");
* every money figure names its year ("2023 年人均纯收入 4,184 元"), in the same clause;
* English counts agree in number ("1 member", "2 members").
"""

from __future__ import annotations

import re

__all__ = ["wording_problems"]

_MISSING = re.compile(r"未知|unknown|\bnan\b|\bNaN\b|\bNone\b|<NA>|\binf\b", re.IGNORECASE)
_NEGATIVE = re.compile(r"(?<![\w])[-−]\s?\d")
_ZERO_ZH = re.compile(r"(?<![\d.,])0\s*(个月|人次|人|名|次|例|笔|项|口|户|元|岁|年)")
_ZERO_EN = re.compile(r"(?<![\d.,])0(\.0+)?\s+[a-z]")
_ZERO_PCT = re.compile(r"(?<![\d.,])0(\.0+)?%")
_MONEY_ZH = re.compile(r"\d[\d,]*(\.\d+)?\s*元")
_MONEY_EN = re.compile(r"\d[\d,]*(\.\d+)?\s*yuan")
_YEAR_ZH = re.compile(r"(19|20)\d\d\s*年")
_YEAR_EN = re.compile(r"\b(19|20)\d\d\b")
_PLURAL_NOUNS = (
    "member|child|person|time|month|year|bill|stay|loss|failure|accident|disaster|baby|household"
    "|return|grant|payment|dropout|enrolment|measure|episode"
)
_ONE_PLURAL = re.compile(
    r"(?<![\d.,])1 (?:[a-z-]+ )?(members|children|people|persons|times|months|years|bills|stays|"
    r"losses|failures|accidents|disasters|babies|households|returns|grants|payments|measures)\b"
)
_MANY_SINGULAR = re.compile(
    r"(?<![\d.,])(?:[2-9]|\d{2,}) (?:[a-z-]+ )?(" + _PLURAL_NOUNS + r")\b(?!s)(?! [a-z-]+s\b)"
)
"""A count above one before a singular noun, unless the noun is an attribute of a plural noun
that follows ("2 household members")."""


def _clauses(text: str, lang: str) -> list[str]:
    parts = re.split(r"[；;]" if lang == "zh" else r";", text)
    return [p for p in parts if p.strip()]


def wording_problems(text: str, lang: str) -> list[str]:
    """What is wrong with one sentence about a household (empty list = it follows the rules)."""
    problems: list[str] = []
    if not text or not text.strip():
        return ["empty text"]
    if _MISSING.search(text):
        problems.append(f"missing or unknown value in {text!r}")
    if _NEGATIVE.search(text):
        problems.append(f"negative number in {text!r}")
    if _ZERO_PCT.search(text):
        problems.append(f"a zero percentage in {text!r}")
    if lang == "zh":
        if _ZERO_ZH.search(text):
            problems.append(f"a zero count in {text!r}: say the absence in words or omit it")
        for clause in _clauses(text, "zh"):
            if _MONEY_ZH.search(clause) and not _YEAR_ZH.search(clause):
                problems.append(f"a money figure without its year in {clause!r}")
    else:
        if _ZERO_EN.search(text):
            problems.append(f"a zero count in {text!r}: say the absence in words or omit it")
        for clause in _clauses(text, "en"):
            if _MONEY_EN.search(clause) and not _YEAR_EN.search(clause):
                problems.append(f"a money figure without its year in {clause!r}")
        m = _ONE_PLURAL.search(text) or _MANY_SINGULAR.search(text)
        if m:
            problems.append(f"number and noun disagree ({m.group(0)!r}) in {text!r}")
    return problems
