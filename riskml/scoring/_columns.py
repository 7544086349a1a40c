"""Old private name of :mod:`riskml.scoring.columns` (the score-file contract), kept importable."""

from riskml.scoring.columns import *  # noqa: F403
from riskml.scoring.columns import __all__  # noqa: F401
