"""Roster scoring: the streaming local engine and the Spark engine (same per-partition function).

``score_roster`` runs a monthly scoring from a bundle folder to a score file: every household is
``scored`` (calibrated probability, rank in village and township, tier, flag, up to four reasons),
``not_eligible`` (already under monitoring) or ``rejected`` (with the reason). Columns of the
score file: :data:`SCORE_COLUMNS` (``riskml/scoring/_columns.py``).
"""

from riskml.scoring._change import ScoringChangeError, compare_with_previous
from riskml.scoring._columns import (
    CHANGE_VALUES,
    HEADER_ZH,
    SCORE_COLUMNS,
    STATUS_VALUES,
    columns_for_mode,
)
from riskml.scoring._local import BundleChunker
from riskml.scoring._outcomes import OUTCOME_COLUMNS, review_outcomes
from riskml.scoring._output import mask_ids, to_public
from riskml.scoring._partition import (
    ExplainSelection,
    PartitionResult,
    ScoringError,
    SignatureMismatchError,
    household_universe,
    score_partition,
)
from riskml.scoring._run import ScoringRun, parse_as_of, score_bundle, score_roster
from riskml.scoring._summary import ReconciliationError, print_summary, reconcile_households
from riskml.scoring._tiers import assign_tiers, rank_within
from riskml.scoring._writer import ScoringOutputError, read_scores, write_scores

__all__ = [
    "CHANGE_VALUES",
    "HEADER_ZH",
    "OUTCOME_COLUMNS",
    "SCORE_COLUMNS",
    "STATUS_VALUES",
    "BundleChunker",
    "ExplainSelection",
    "PartitionResult",
    "ReconciliationError",
    "ScoringChangeError",
    "ScoringError",
    "ScoringOutputError",
    "ScoringRun",
    "SignatureMismatchError",
    "assign_tiers",
    "columns_for_mode",
    "compare_with_previous",
    "household_universe",
    "mask_ids",
    "parse_as_of",
    "print_summary",
    "rank_within",
    "read_scores",
    "reconcile_households",
    "review_outcomes",
    "score_bundle",
    "score_partition",
    "score_roster",
    "to_public",
    "write_scores",
]
