"""Reports for people: review-meeting lists (民主评议) per village/township/county, and model
evaluation reports for data scientists.

Built from score files (``riskml score``) and MLflow run artifacts / model cards, never from a
booster. HTML via Jinja2 templates (autoescaped), PDF via WeasyPrint (A4, page numbers, repeated
table headers), charts via matplotlib (Agg) with a CJK font; Chinese never prints as boxes:
without a CJK font riskml stops with :class:`CJKFontNotFoundError`.
"""

from riskml.reports._fonts import CJKFont, CJKFontNotFoundError, find_cjk_font
from riskml.reports._model import ARTIFACT_LAYOUT, ModelReportResult, render_model_report
from riskml.reports._output import ReportOutputError, safe_filename
from riskml.reports._render import ReportPrivacyError
from riskml.reports._review import ReviewReportResult, render_review_reports
from riskml.reports._scorefile import ReportInputError, ScoreFile, load_score_file

__all__ = [
    "ARTIFACT_LAYOUT",
    "CJKFont",
    "CJKFontNotFoundError",
    "ModelReportResult",
    "ReportInputError",
    "ReportOutputError",
    "ReportPrivacyError",
    "ReviewReportResult",
    "ScoreFile",
    "find_cjk_font",
    "load_score_file",
    "render_model_report",
    "render_review_reports",
    "safe_filename",
]
