"""riskml: predict which rural households are at risk of falling (back) into poverty.

Data flows one way: history bundle -> features -> model -> scores -> reasons -> reports.
See ``docs/architecture.md``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
