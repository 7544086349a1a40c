"""The synth config repeats two contract vocabularies (config may not import data): keep them equal."""

from riskml.config.synth import CAUSES, LIVELIHOOD_KEYS
from riskml.data._schema import LIVELIHOODS, RISK_TYPES


def test_synth_livelihoods_are_the_contracts() -> None:
    """config.synth.LIVELIHOOD_KEYS → exactly the contract's livelihood vocabulary, same order."""
    assert LIVELIHOOD_KEYS == LIVELIHOODS


def test_synth_causes_are_the_contracts_risk_types() -> None:
    """config.synth.CAUSES → exactly the contract's monitoring risk types, same order."""
    assert CAUSES == RISK_TYPES
