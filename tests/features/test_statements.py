"""Statement templates: parsed once, filled field by field, numbers formatted in bulk exactly as
one by one."""

from __future__ import annotations

import numpy as np
import pytest

from riskml.features._statements import (
    format_field,
    format_numbers,
    render_template,
    template_fields,
    template_parts,
)


@pytest.mark.parametrize("spec", ["", ".0f", ",.0f", ".0%", "abs:.0%", "abs:,.1f", ".3g"])
def test_numbers_formatted_in_bulk_equal_one_by_one(spec: str) -> None:
    """Signed zeros, halves, huge, tiny and integer values: the same strings as format_field."""
    rng = np.random.default_rng(2)
    values = np.concatenate(
        [
            [0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -0.004, 1e17, -3e-9, 12345.675],
            rng.normal(0, 1e4, 500),
            rng.random(500) - 0.5,
        ]
    )
    assert format_numbers(values, spec) == [format_field(v, spec, "zh") for v in values.tolist()]
    ints = np.array([0, -3, 7, 2**40], dtype=np.int64)
    assert format_numbers(ints, spec) == [format_field(v, spec, "en") for v in ints.tolist()]
    flags = np.array([True, False], dtype=object)
    assert format_numbers(flags, spec) == [format_field(v, spec, "en") for v in flags.tolist()]


def test_template_parts_keep_escaped_braces_and_the_trailing_text() -> None:
    template = "{{注}}{year:.0f} 年损失 {value:,.0f} 元{{估}}"
    parts = template_parts(template)
    assert template_fields(template) == ["year", "value"]
    assert [p[1] for p in parts if p[1]] == ["year", "value"]
    assert "".join(p[0] for p in parts) == "{注} 年损失  元{估}"
    assert render_template(template, "loss", {"year": 2024, "loss": 3500.0}, "zh") == (
        "{注}2024 年损失 3,500 元{估}"
    )
    assert render_template(template, "loss", {"year": 2024, "loss": float("nan")}, "zh") is None
