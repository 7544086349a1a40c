"""Features: the declarative catalog, the point-in-time engine, labels and training sets.

- :func:`load_catalog` reads ``features/`` (feature definitions and named feature sets).
- :func:`compute_features` computes a feature set for (household, as_of) pairs, vectorised and
  partition-independent (village context comes from :func:`village_context`).
- :func:`monitoring_status` says who is under active monitoring on a date (not eligible).
- :func:`build_training_set` / :func:`write_training_set` assemble labelled training sets;
  :func:`write_training_set_spark` writes the same file from Spark partitions.
"""

from riskml.features._assistance import assistance_in_place
from riskml.features._catalog import (
    Catalog,
    CatalogError,
    Feature,
    FeatureSet,
    load_catalog,
)
from riskml.features._engine import FeatureEngine, compute_features, monitoring_status
from riskml.features._income import income_against_threshold
from riskml.features._primitives import FEATURE_RISK_TYPES, PRIMITIVES, VILLAGE_CONTEXT_COLUMNS
from riskml.features._spark import write_training_set_spark
from riskml.features._training import (
    AUDIT_COLUMNS,
    CONTEXT_COLUMNS,
    TrainingSet,
    TrainingSetError,
    as_of_schedule,
    build_training_set,
    data_fingerprint,
    write_training_set,
)
from riskml.features._village import village_context

__all__ = [
    "AUDIT_COLUMNS",
    "CONTEXT_COLUMNS",
    "FEATURE_RISK_TYPES",
    "PRIMITIVES",
    "VILLAGE_CONTEXT_COLUMNS",
    "Catalog",
    "CatalogError",
    "Feature",
    "FeatureEngine",
    "FeatureSet",
    "TrainingSet",
    "TrainingSetError",
    "as_of_schedule",
    "assistance_in_place",
    "build_training_set",
    "compute_features",
    "data_fingerprint",
    "income_against_threshold",
    "load_catalog",
    "monitoring_status",
    "village_context",
    "write_training_set",
    "write_training_set_spark",
]
