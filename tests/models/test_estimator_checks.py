"""scikit-learn conformance: ``parametrize_with_checks`` on RecurrenceRiskModel.

Two configurations: the default (isotonic calibration on a later slice, early stopping on the
slice before it) and no slices at all (no early stopping, no calibration), which runs every
check against the plain LightGBM wrapper. Platt scaling shares all code paths but the
calibrator's fit (tested in test_estimator.py), so it is not run through the suite again.

Checks skipped for the sliced configurations, and why:

The slices are cut in *time order* (row order without ``as_of``), and riskml refuses to
calibrate on a slice that holds a single class (an isotonic map fitted on one class would output
0 or 1 for every household). Several checks fit on 10-30 rows whose last rows share one label,
so the calibration slice holds one class and ``fit`` raises a ValueError that says so. These
checks pass in the unsliced configuration, which exercises the same code paths otherwise.
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from riskml.models import RecurrenceRiskModel

_ONE_CLASS_CALIBRATION_SLICE = (
    "tiny check data (10-30 rows) whose last rows share one label leaves a single class in the "
    "time-ordered calibration slice; riskml refuses to calibrate on one class (ValueError). "
    "Passes without calibration (the unsliced configuration)."
)
_SLICED_EXPECTED_FAILURES = {
    "check_dont_overwrite_parameters": _ONE_CLASS_CALIBRATION_SLICE,
    "check_positive_only_tag_during_fit": _ONE_CLASS_CALIBRATION_SLICE,
    "check_f_contiguous_array_estimator": _ONE_CLASS_CALIBRATION_SLICE,
    "check_classifier_data_not_an_array": _ONE_CLASS_CALIBRATION_SLICE,
    "check_methods_sample_order_invariance": _ONE_CLASS_CALIBRATION_SLICE,
    "check_methods_subset_invariance": _ONE_CLASS_CALIBRATION_SLICE,
    "check_dict_unchanged": _ONE_CLASS_CALIBRATION_SLICE,
    "check_fit2d_predict1d": _ONE_CLASS_CALIBRATION_SLICE,
}


def _expected_failed_checks(estimator: RecurrenceRiskModel) -> dict[str, str]:
    if estimator.calibration is None:
        return {}
    return dict(_SLICED_EXPECTED_FAILURES)


@parametrize_with_checks(
    [
        RecurrenceRiskModel(n_estimators=15, n_jobs=1, random_state=0),
        RecurrenceRiskModel(
            n_estimators=15, calibration=None, early_stopping_rounds=None, n_jobs=1, random_state=0
        ),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_conformance(estimator, check):
    """Every applicable scikit-learn estimator check -> passes (or fails exactly as documented)."""
    check(estimator)
