"""Display names of the official risk types (因病, 因残, ...) and the measure separator.

They belong to ``configs/explain.yaml`` (riskml.explain's reason codes); reports read them from
there and never repeat them. A risk type code the configuration does not know is shown as is.
"""

from __future__ import annotations

from riskml.config.explain import ExplainConfig, load_explain_config

__all__ = ["measures_separator", "public_measures", "risk_type_labels", "sensitive_measures"]


def risk_type_labels(lang: str, config: ExplainConfig | None = None) -> dict[str, str]:
    """Risk type code -> display name in ``lang`` (``zh`` or ``en``)."""
    config = config or load_explain_config()
    labels = {}
    for code, wording in config.risk_types.items():
        name = wording.zh if lang == "zh" else wording.en
        labels[code] = name if lang == "zh" else name[:1].upper() + name[1:]
    return labels


def measures_separator(lang: str, config: ExplainConfig | None = None) -> str:
    """The separator explain uses to join several measures in one ``reason_k_measures_*`` cell."""
    config = config or load_explain_config()
    return config.measures_separator_zh if lang == "zh" else config.measures_separator_en


def public_measures(lang: str, config: ExplainConfig | None = None) -> dict[str, str]:
    """Risk type code -> the measures a public report may show, joined as explain joins them.

    Sensitive types (illness, disability) have their own public measures: their internal ones
    (e.g. 医疗救助) would reveal the type.
    """
    config = config or load_explain_config()
    sep = measures_separator(lang, config)
    return {code: sep.join(w.public_measures(lang)) for code, w in config.risk_types.items()}


def sensitive_measures(lang: str, config: ExplainConfig | None = None) -> set[str]:
    """Internal measures of sensitive risk types that no public wording uses."""
    config = config or load_explain_config()
    public = {m for w in config.risk_types.values() for m in w.public_measures(lang)}
    internal = {
        m
        for w in config.risk_types.values()
        if w.sensitive
        for m in (w.measures_zh if lang == "zh" else w.measures_en)
    }
    return internal - public
