"""Display names of the official risk types (因病, 因残, ...) and the measure separator.

They belong to ``configs/explain.yaml`` (riskml.explain's reason codes); reports read them from
there and never repeat them. A risk type code the configuration does not know is shown as is.
"""

from __future__ import annotations

from riskml.config.explain import ExplainConfig, load_explain_config

__all__ = ["measures_separator", "risk_type_labels", "sensitive_measures"]


def risk_type_labels(lang: str, config: ExplainConfig | None = None) -> dict[str, str]:
    """Risk type code -> display name in ``lang`` (``zh`` or ``en``)."""
    config = config or load_explain_config()
    labels = {}
    for code, wording in config.risk_types.items():
        name = wording.zh if lang == "zh" else wording.en
        labels[code] = name if lang == "zh" else name[:1].upper() + name[1:]
    return labels


def measures_separator(lang: str, config: ExplainConfig | None = None) -> str:
    """The separator explain uses to join several measures in one ``measures_*`` cell."""
    config = config or load_explain_config()
    return config.measures_separator_zh if lang == "zh" else config.measures_separator_en


def sensitive_measures(lang: str, config: ExplainConfig | None = None) -> set[str]:
    """Internal measures of sensitive risk types that no public measure list uses (e.g. 医疗救助):
    they must never appear in a public report."""
    config = config or load_explain_config()
    public = {m for w in config.risk_types.values() for m in w.measures_for(True)}
    internal = {m for w in config.risk_types.values() if w.sensitive for m in w.measures}
    return {config.measures[m].label(lang) for m in internal - public}
