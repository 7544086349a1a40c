"""The wording rules hold for every statement of the catalog, at the edges of its conditions.

Each statement is filled with values that satisfy its condition (each bound, and a value well
inside it) and with ordinary values for the other fields it quotes; the sentence must follow
``riskml.explain.wording_problems``: no zero counts, no negative or unknown values, a year with
every money figure, English number agreement. The same checker is applied to the reasons of real
provinces in tests/scoring/test_truthful_reasons.py.
"""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
import pytest

from riskml.explain import wording_problems
from riskml.features import load_catalog
from riskml.features._statements import as_of_values, first_statement, render_template

_ORDINARY = {
    "persons": [1.0, 3.0],
    "events": [1.0, 4.0],
    "share": [0.12, 0.4],
    "ratio": [0.3, 1.7],
    "yuan": [1234.0, 56789.0],
    "yuan/person": [4184.0, 9100.0],
    "years": [3.0, 70.0],
    "months": [2.0, 9.0],
    "flag": [1.0],
    "measures": [2.0],
    "episodes": [1.0, 2.0],
    "year": [2023.0],
    "yuan/person/year": [-850.0],
}


def _edge_values(clause: dict[str, Any]) -> list[Any]:
    """Values meeting every operator of one clause: its bounds and one inside."""
    if "in" in clause:
        return list(clause["in"])
    if "eq" in clause:
        return [clause["eq"]]
    lo = max(
        [clause[k] for k in ("ge",) if k in clause]
        + [clause[k] + 0.5 for k in ("gt",) if k in clause],
        default=None,
    )
    hi = min(
        [clause[k] for k in ("le",) if k in clause]
        + [clause[k] - 0.5 for k in ("lt",) if k in clause],
        default=None,
    )
    if lo is not None and hi is not None:
        return [lo, hi, (lo + hi) / 2]
    if lo is not None:
        return [lo, lo + 1, lo + 7.3]
    if hi is not None:
        return [hi, hi - 1 if hi > 1 else hi / 2, hi - 7.3 if hi > 8 else hi / 3]
    return [1.0]


def _cases() -> list[tuple[str, int]]:
    catalog = load_catalog()
    return [(f.name, k) for f in catalog.features.values() for k in range(len(f.statements))]


@pytest.mark.parametrize(("name", "k"), _cases())
def test_every_statement_follows_the_wording_rules(name: str, k: int) -> None:
    catalog = load_catalog()
    f = catalog.features[name]
    st = f.statements[k]
    fields = [x for x in st.fields(f.name) if x not in ("as_of_zh", "as_of_en")]
    options: dict[str, list[Any]] = {}
    for field in fields:
        target = catalog.features[field]
        clause = st.when.get(field)
        if clause is None and field == f.name:
            clause = st.when.get("value")
        if clause is not None:
            options[field] = _edge_values(clause)
        elif target.dtype == "category":
            options[field] = list(target.levels or {})
        else:
            options[field] = _ORDINARY.get(target.unit, [1.0])
    if "income_year_last" in options:
        options["income_year_last"] = [2023.0]
    stated = 0
    for combo in itertools.product(*options.values()):
        row = dict(zip(options, combo, strict=True)) | (as_of_values("2024-06-30") or {})
        frame = pd.DataFrame([row])
        # only sentences this statement would really be chosen for
        if first_statement(f.statements, f.name, frame, has_as_of=True)[0] != k:
            continue
        stated += 1
        for lang in ("zh", "en"):
            for public in (False, True):
                text = render_template(st.text(lang, public), f.name, row, lang, f.levels)
                assert text is not None, (name, k, row)
                assert not wording_problems(text, lang), (name, k, lang, public, row, text)
    assert stated > 0, f"{name} statement {k} is never chosen: an earlier statement shadows it"


def test_checker_catches_what_the_rules_forbid() -> None:
    bad = {
        "0 个月前有家庭成员住院": "zh",
        "抚养负担重：0 名儿童、1 名老人": "zh",
        "最近核实的家庭人均纯收入 -1,230 元": "zh",
        "占家庭纯收入 未知": "zh",
        "家庭纯收入 12,000 元": "zh",
        "1 members with a serious illness": "en",
        "3 job loss in the last 12 months": "en",
        "0 members away": "en",
        "income of 1,200 yuan": "en",
    }
    for text, lang in bad.items():
        assert wording_problems(text, lang), text
    good = {
        "2023 年人均纯收入 4,184 元，低于当年监测线 7,200 元": "zh",
        "家中无劳动年龄（16–64岁）人口（家庭共 3 人）": "zh",
        "one member with a serious illness": "en",
        "2 members with a serious illness": "en",
        "per-capita net income in 2023 was 4,184 yuan": "en",
    }
    for text, lang in good.items():
        assert not wording_problems(text, lang), text
