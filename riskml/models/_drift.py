"""Frozen reference distributions of the training matrix, for drift checks (PSI) at scoring.

Numeric features: quantile bin edges frozen at training time, plus a bin of their own for
missing values; a feature with few distinct values (flags, small counts, whole years, a village
share taken by few villages) gets one bin per value instead, since quantile edges collapse onto
its mass points. Categorical features: the frequency of each training level, plus a bin for
levels unseen at training and one for missing values. The population stability index (PSI)
compares a new matrix with these frozen shares; the usual reading is < 0.1 stable, 0.1-0.25
moderate shift, > 0.25 a shift worth investigating before trusting the scores.

:class:`SeasonalReference` is what a registered model carries: one snapshot per season of the
last year before the extraction date, each with its as-of date. A roster is compared with the
snapshot of the same season, and features that age by construction (years since leaving
poverty, months since a record) are compared after taking the elapsed time off, when the
training data showed that they do age (see :meth:`SeasonalReference.fit`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom

__all__ = ["LOCAL_ALPHA", "PSI_WARN", "ReferenceDistribution", "SeasonalReference"]

PSI_WARN = 0.25
"""PSI above which a feature's shift is worth a warning."""

_EPS = 1e-4  # floor for empty bins so that PSI stays finite
DISCRETE_MAX_VALUES = 24
"""A numeric feature with at most this many distinct values gets one bin per value."""
RARE_EVENT_SHARE = 0.2
"""A non-negative feature that is non-zero for at most this share of rows is a rare event
(a disaster, a job loss in the last 12 months): PSI barely moves when its rate doubles (7 % ->
14 % of households is a PSI near 0.05), so its rate is compared as a ratio too."""
RATE_RATIO_WARN = 1.5
"""Warn when a rare event's rate is this many times the reference's (or 1/this of it), and the
reference rate stands for at least :data:`RATE_MIN_ROWS` rows of the roster (at 50 expected
rows, a ratio of 1.5 is about 3.5 standard deviations of chance)."""
RATE_MIN_ROWS = 50
LOCAL_ALPHA = 0.01
"""Family-wise false-alarm rate of the per-area (county) rare-event alarms: an area's rate warns
when it moved by :data:`RATE_RATIO_WARN` or more and an exact binomial test gives a p-value
below ``LOCAL_ALPHA / m``, ``m`` the area x event pairs tested (Bonferroni)."""


def _numeric(col: pd.Series) -> np.ndarray:
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _categorical_spec(col: pd.Series) -> dict[str, list[Any]]:
    """The share of each training level, then unseen (0 at training), then missing."""
    levels = list(col.cat.categories)
    counts = np.bincount(col.cat.codes.to_numpy() + 1, minlength=len(levels) + 1)
    # codes -1 (missing) land in slot 0
    shares = np.concatenate((counts[1:], [0], counts[:1])) / max(len(col), 1)
    return {"levels": [_json_scalar(v) for v in levels], "shares": [float(v) for v in shares]}


def _numeric_spec(values: np.ndarray, n_bins: int) -> dict[str, Any]:
    """Frozen edges and shares of a numeric column; one bin per value for few whole numbers;
    the event rate of a rare event."""
    present = values[~np.isnan(values)]
    distinct = np.unique(present)
    discrete = 0 < len(distinct) <= DISCRETE_MAX_VALUES and bool(
        np.all(distinct == np.round(distinct))
    )
    if discrete:  # counts, flags, whole years: one bin per value
        edges = (distinct[:-1] + distinct[1:]) / 2
    else:
        edges = _quantile_edges(present, distinct, n_bins)
    spec: dict[str, Any] = {
        "edges": [float(v) for v in edges],
        "shares": [float(v) for v in _numeric_shares(values, edges)],
    }
    if discrete:
        spec["discrete"] = True
    if len(present) and present.min() >= 0:
        rate = float(np.count_nonzero(present) / len(values))
        if 0 < rate <= RARE_EVENT_SHARE:  # a rare event: its rate is watched too
            spec["event_rate"] = rate
    return spec


def _group_codes(groups: Sequence[Any] | pd.Series | None, n: int) -> np.ndarray | None:
    """Group codes as strings (missing -> ""), one per row; None without groups."""
    if groups is None:
        return None
    codes = pd.Series(np.asarray(groups, dtype=object)).astype("string").fillna("")
    if len(codes) != n:
        raise ValueError(f"groups has {len(codes)} codes but X has {n} rows; give one per row.")
    return codes.to_numpy(dtype=object)


def _group_event_counts(
    X: pd.DataFrame, codes: np.ndarray, features: Sequence[str], counted: Collection[str] = ()
) -> dict[str, dict[str, list[int]]]:
    """``feature -> {group: [events, rows]}`` (rows without a group left out).

    ``events`` is the sum of the values for a feature in ``counted`` (a count of records: a
    record entered twice counts twice), else the rows where the feature is non-zero.
    """
    keep = codes != ""
    out: dict[str, dict[str, list[int]]] = {}
    for name in features:
        values = np.nan_to_num(_numeric(X[name]), nan=0.0)
        events = np.round(values).astype(np.int64) if name in counted else (values != 0)
        frame = pd.DataFrame({"group": codes[keep], "event": events[keep]})
        agg = frame.groupby("group", sort=True)["event"].agg(["sum", "size"])
        out[name] = {str(g): [int(r["sum"]), int(r["size"])] for g, r in agg.iterrows()}
    return out


@dataclass
class ReferenceDistribution:
    """Per-feature reference shares frozen from a training matrix.

    Attributes
    ----------
    numeric : dict
        ``name -> {"edges": [...], "shares": [...]}``: ``edges`` are the inner cut points
        (bins ``(-inf, e0], (e0, e1], ..., (e_last, inf)``), ``shares`` has one entry per bin
        and a last one for missing values.
    categorical : dict
        ``name -> {"levels": [...], "shares": [...]}``: one share per level, then unseen, then
        missing.
        A feature with few distinct values has ``"discrete": true`` and edges halfway between
        its values (one bin per value).
    n_rows : int
        Rows the reference was computed from (after sampling, see :meth:`fit`).
    as_of : str or None
        The as-of date (``YYYY-MM-DD``) of the snapshot, when it is one.
    """

    numeric: dict[str, dict[str, Any]] = field(default_factory=dict)
    categorical: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    n_rows: int = 0
    as_of: str | None = None
    group_rates: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    """Rare events per group (e.g. county): ``feature -> {group: [events, rows]}``, events being
    the records for a whole-number count, the rows with the event otherwise; empty when fitted
    without ``groups``."""

    @classmethod
    def fit(
        cls,
        X: pd.DataFrame,
        *,
        n_bins: int = 10,
        max_rows: int | None = 500_000,
        as_of: Any = None,
        groups: Sequence[Any] | pd.Series | None = None,
    ) -> ReferenceDistribution:
        """Freeze the distribution of every column of ``X`` (category dtype = categorical).

        Above ``max_rows`` rows, a fixed-seed random sample of ``max_rows`` rows is used (shares
        then carry a standard error below 0.001, far under any PSI threshold). Numeric columns
        with at most :data:`DISCRETE_MAX_VALUES` distinct values get one bin per value.
        ``as_of`` records the snapshot's date. ``groups`` (one code per row, e.g. the county)
        adds the rare events' counts per group (:attr:`group_rates`).
        """
        if n_bins < 2:
            raise ValueError(f"n_bins must be >= 2. Got {n_bins} instead.")
        codes = _group_codes(groups, len(X))
        if max_rows is not None and len(X) > max_rows:
            rows = np.sort(np.random.default_rng(0).choice(len(X), size=max_rows, replace=False))
            X = X.iloc[rows]
            codes = codes[rows] if codes is not None else None
        ref = cls(n_rows=len(X), as_of=_iso_date(as_of))
        for name in X.columns:
            col = X[name]
            if isinstance(col.dtype, pd.CategoricalDtype):
                ref.categorical[str(name)] = _categorical_spec(col)
            else:
                ref.numeric[str(name)] = _numeric_spec(_numeric(col), n_bins)
        if codes is not None:
            events = [n for n, spec in ref.numeric.items() if "event_rate" in spec]
            ref.group_rates = _group_event_counts(X, codes, events, ref._counted())
        return ref

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def shares(
        self, X: pd.DataFrame, shift: Mapping[str, float] | None = None
    ) -> dict[str, np.ndarray]:
        """The shares of ``X`` in the frozen bins of each reference feature.

        ``shift`` (feature -> amount) is taken off a numeric feature's values before binning:
        a feature that grows with time, compared as it was at the reference date.
        """
        missing = [f for f in self.features if f not in X.columns]
        if missing:
            raise ValueError(
                f"The matrix lacks reference feature(s) {missing[:10]}; give the same features as at training."
            )
        out: dict[str, np.ndarray] = {}
        shift = shift or {}
        for name, spec in self.numeric.items():
            out[name] = _numeric_shares(
                _numeric(X[name]) - float(shift.get(name, 0.0)),
                np.asarray(spec["edges"], dtype=np.float64),
            )
        for name, spec in self.categorical.items():
            levels = spec["levels"]
            col = X[name]
            values = col.astype("object") if isinstance(col.dtype, pd.CategoricalDtype) else col
            codes = pd.Categorical(values, categories=levels).codes.astype(np.int64)
            isna = pd.isna(values).to_numpy()
            slot = np.where(codes >= 0, codes, np.where(isna, len(levels) + 1, len(levels)))
            counts = np.bincount(slot, minlength=len(levels) + 2)
            out[name] = counts / max(len(col), 1)
        return out

    def psi(self, X: pd.DataFrame, shift: Mapping[str, float] | None = None) -> pd.Series:
        """Population stability index of each feature of ``X`` against the reference.

        Missing values are their own bin; empty bins are floored at 1e-4 so the index stays
        finite. ``shift`` as in :meth:`shares`. Returns a Series indexed by feature name
        (reference order).
        """
        if len(X) == 0:
            raise ValueError("Cannot compute PSI of an empty matrix; give at least one row.")
        new = self.shares(X, shift)
        values = {}
        for name in self.features:
            spec = self.numeric.get(name) or self.categorical[name]
            expected = np.maximum(np.asarray(spec["shares"], dtype=np.float64), _EPS)
            actual = np.maximum(new[name], _EPS)
            values[name] = float(np.sum((actual - expected) * np.log(actual / expected)))
        return pd.Series(values, name="psi", dtype=np.float64)

    def event_rates(self, X: pd.DataFrame) -> pd.DataFrame:
        """Rare-event features: their non-zero share in the reference and in ``X``, the ratio.

        Only features with an ``event_rate`` (see :data:`RARE_EVENT_SHARE`) are listed.
        """
        rows = []
        for name, spec in self.numeric.items():
            if "event_rate" not in spec:
                continue
            values = _numeric(X[name])
            now = float(np.count_nonzero(np.nan_to_num(values, nan=0.0)) / max(len(values), 1))
            ref = float(spec["event_rate"])
            rows.append(
                {"feature": name, "reference": ref, "now": now, "ratio": now / ref, "rows": len(X)}
            )
        return pd.DataFrame(rows, columns=["feature", "reference", "now", "ratio", "rows"])

    def _counted(self) -> set[str]:
        """Rare events that are whole-number counts (records): counted per record by area."""
        return {n for n, spec in self.numeric.items() if spec.get("discrete")}

    def group_event_rates(self, X: pd.DataFrame, groups: Sequence[Any] | pd.Series) -> pd.DataFrame:
        """Rare events per group: ``feature, group, ref_events, ref_rows, events, rows``.

        One row per feature of :attr:`group_rates` and group present both in the reference and
        in ``groups`` (one code per row of ``X``).
        """
        columns = ["feature", "group", "ref_events", "ref_rows", "events", "rows"]
        codes = _group_codes(groups, len(X))
        if not self.group_rates or codes is None:
            return pd.DataFrame(columns=columns)
        now = _group_event_counts(X, codes, list(self.group_rates), self._counted())
        rows = [
            (name, group, *ref[group], *now[name][group])
            for name, ref in self.group_rates.items()
            for group in sorted(set(ref) & set(now[name]))
        ]
        return pd.DataFrame(rows, columns=columns)

    def drifted(self, X: pd.DataFrame, threshold: float = PSI_WARN) -> pd.Series:
        """Features whose PSI exceeds ``threshold``, largest first."""
        psi = self.psi(X)
        return psi[psi > threshold].sort_values(ascending=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (lists and floats)."""
        out: dict[str, Any] = {
            "numeric": self.numeric,
            "categorical": self.categorical,
            "n_rows": int(self.n_rows),
        }
        if self.as_of is not None:
            out["as_of"] = self.as_of
        if self.group_rates:
            out["group_rates"] = self.group_rates
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceDistribution:
        """Rebuild from :meth:`to_dict` output."""
        try:
            return cls(
                numeric={str(k): dict(v) for k, v in data["numeric"].items()},
                categorical={str(k): dict(v) for k, v in data["categorical"].items()},
                n_rows=int(data.get("n_rows", 0)),
                as_of=data.get("as_of"),
                group_rates={
                    str(f): {str(g): [int(c) for c in v] for g, v in by.items()}
                    for f, by in (data.get("group_rates") or {}).items()
                },
            )
        except (KeyError, AttributeError, TypeError) as exc:
            raise ValueError(
                f"Not a saved ReferenceDistribution (needs 'numeric' and 'categorical'): {exc}"
            ) from exc


def _quantile_edges(present: np.ndarray, distinct: np.ndarray, n_bins: int) -> np.ndarray:
    """Quantile cut points, each moved halfway to the next distinct value.

    A value shared by many rows (every household of a village carries its village's share)
    then never sits on an edge, where the smallest change would move all those rows to the
    next bin. Features with few distinct values get fewer bins (about five values per bin), so
    a bin is never one village's value.
    """
    if len(distinct) < 2:
        return np.array([])
    bins = max(2, min(n_bins, len(distinct) // 5))
    qs = np.linspace(0, 1, bins + 1)[1:-1]
    cuts = np.unique(np.quantile(present, qs, method="lower"))
    nxt = np.searchsorted(distinct, cuts, side="right")
    keep = nxt < len(distinct)  # a cut at the maximum separates nothing
    return (cuts[keep] + distinct[nxt[keep]]) / 2


def _numeric_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    isna = np.isnan(values)
    bins = np.searchsorted(edges, values[~isna], side="left")
    counts = np.bincount(bins, minlength=len(edges) + 1).astype(np.float64)
    counts = np.append(counts, isna.sum())
    return counts / max(len(values), 1)


def _json_scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _iso_date(value: Any) -> str | None:
    if value is None:
        return None
    return pd.Timestamp(value).date().isoformat()


_DAYS_PER_MONTH = 365.25 / 12


def _months_between(start: str, end: Any) -> float:
    """Months from ``start`` to ``end`` (fractional; negative when ``end`` is earlier)."""
    return (pd.Timestamp(end) - pd.Timestamp(start)).days / _DAYS_PER_MONTH


def _season_gap(a: Any, b: Any) -> int:
    """Days between two dates' places in the year (0-182), ignoring the year."""
    da, db = pd.Timestamp(a).dayofyear, pd.Timestamp(b).dayofyear
    gap = abs(da - db) % 366
    return int(min(gap, 366 - gap))


def _fit_snapshots(
    X: pd.DataFrame,
    dates: pd.Series,
    codes: np.ndarray | None,
    n_bins: int,
    max_rows: int | None,
) -> tuple[list[ReferenceDistribution], pd.DataFrame]:
    """One snapshot per distinct date (oldest first), and the latest date's rows."""
    snapshots: list[ReferenceDistribution] = []
    frame = X.iloc[:0]
    for day in sorted(dates.unique()):
        rows = np.flatnonzero((dates == day).to_numpy())
        frame = X.iloc[rows]
        snapshots.append(
            ReferenceDistribution.fit(
                frame,
                n_bins=n_bins,
                max_rows=max_rows,
                as_of=day,
                groups=codes[rows] if codes is not None else None,
            )
        )
    return snapshots, frame


def _aging_mode(tests: Mapping[str, tuple[float, float, float]]) -> str | None:
    """``elapsed``, ``within_year``, ``as_is`` or None from ``label -> (months, psi as is, psi
    after the elapsed time)`` over a year and over a month."""
    if "year" in tests and tests["year"][2] < tests["year"][1]:
        return "elapsed"  # grows with the calendar: years since leaving poverty
    if "month" in tests and tests["month"][2] < tests["month"][1]:
        # grows within the year but not over it (a yearly record): known only with a snapshot
        # a year back
        return "within_year" if "year" in tests else None
    if tests:
        return "as_is"  # stationary (new events keep resetting it)
    return None


@dataclass
class SeasonalReference:
    """Reference snapshots of the last year before the extraction date, one per season.

    Attributes
    ----------
    snapshots : list of ReferenceDistribution
        Each with its ``as_of`` date, oldest first. The latest is at (or near) the extraction
        date of the training bundle.
    aging : dict
        Features that may grow with time by construction (``years_since``, ``months_since`` and
        ``age`` primitives): ``name -> {"unit_months", "ages", "psi_as_is", "psi_aged",
        "over_months"}``. ``ages`` is what the training data showed: comparing the latest
        snapshot with one ``over_months`` earlier, does taking the elapsed time off bring the
        two together (True), or do they match as they are (False, e.g. a yearly record)?
        ``None``: no two snapshots far enough apart to tell; the feature is then left out of
        the alarm.
    """

    snapshots: list[ReferenceDistribution]
    aging: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_by: str | None = None
    """What the snapshots' :attr:`ReferenceDistribution.group_rates` are grouped by (e.g.
    ``county_code``), named in the per-group warnings; None when fitted without groups."""

    def __post_init__(self) -> None:
        if not self.snapshots:
            raise ValueError("A SeasonalReference needs at least one snapshot.")
        if any(s.as_of is None for s in self.snapshots):
            raise ValueError("Every snapshot of a SeasonalReference needs its as_of date.")
        self.snapshots = sorted(self.snapshots, key=lambda s: str(s.as_of))

    @classmethod
    def fit(
        cls,
        X: pd.DataFrame,
        as_of: Sequence[Any] | pd.Series,
        *,
        aging: Mapping[str, int] | None = None,
        groups: Sequence[Any] | pd.Series | None = None,
        group_by: str = "group",
        n_bins: int = 10,
        max_rows: int | None = 200_000,
        min_months_apart: int = 6,
    ) -> SeasonalReference:
        """One :class:`ReferenceDistribution` per distinct as-of date of ``X``.

        Parameters
        ----------
        X
            Feature rows of several as-of dates (the model's features).
        as_of
            The as-of date of each row.
        aging
            Features that may grow with time, and the months one unit stands for (1 for
            "months since", 12 for "years since" and ages). Whether each does grow is measured
            on the latest snapshot against the one closest to a year before it (at least
            ``min_months_apart`` months earlier).
        groups, group_by
            An area code per row (e.g. the county) and what it is (``county_code``): each
            snapshot then keeps its rare events' counts per area, so that :meth:`compare` can
            tell a shift confined to one area.
        n_bins, max_rows
            As in :meth:`ReferenceDistribution.fit` (``max_rows`` per snapshot).
        """
        dates = pd.to_datetime(pd.Series(np.asarray(as_of)), errors="raise")
        if len(dates) != len(X):
            raise ValueError(f"as_of has {len(dates)} dates but X has {len(X)} rows.")
        if len(X) == 0:
            raise ValueError("Cannot fit a reference on an empty matrix; give at least one row.")
        codes = _group_codes(groups, len(X))
        snapshots, latest_frame = _fit_snapshots(X, dates, codes, n_bins, max_rows)
        ref = cls(snapshots, group_by=group_by if codes is not None else None)
        ref._learn_aging(latest_frame, aging or {}, min_months_apart)
        return ref

    def _closest(self, target: float, lo: float, hi: float) -> ReferenceDistribution | None:
        """The earlier snapshot closest to ``target`` months before the latest, within
        ``[lo, hi]`` months of it."""
        latest = self.snapshots[-1].as_of
        found = [
            s for s in self.snapshots[:-1] if lo <= _months_between(str(s.as_of), latest) <= hi
        ]
        return (
            min(found, key=lambda s: abs(_months_between(str(s.as_of), latest) - target))
            if found
            else None
        )

    def _learn_aging(
        self, X_latest: pd.DataFrame, aging: Mapping[str, int], min_months_apart: int
    ) -> None:
        """For each feature that may age: compare the latest snapshot with the one a year (and
        a month) earlier, as is and after taking the elapsed time off; record the mode."""
        bases = {
            "year": self._closest(12, min_months_apart, 18),
            "month": self._closest(1, 0.5, 3),
        }
        latest = self.snapshots[-1]
        for name, unit in aging.items():
            if name not in latest.numeric or int(unit) < 1:
                continue
            entry: dict[str, Any] = {"unit_months": int(unit), "mode": None}
            self.aging[name] = entry
            tests: dict[str, tuple[float, float, float]] = {}
            for label, base in bases.items():
                if base is None:
                    continue
                months = _months_between(str(base.as_of), latest.as_of)
                frame = X_latest[[*base.features]]
                as_is = float(base.psi(frame)[name])
                aged = float(base.psi(frame, {name: self._amount(base, name, months)})[name])
                tests[label] = (round(months, 1), round(as_is, 4), round(aged, 4))
                entry[f"over_{label}"] = {
                    "months": tests[label][0],
                    "psi_as_is": tests[label][1],
                    "psi_after_elapsed": tests[label][2],
                }
            entry["mode"] = _aging_mode(tests)

    def _amount(self, snap: ReferenceDistribution, name: str, months: float) -> float:
        """The elapsed time in the feature's unit (whole units for a one-bin-per-value feature)."""
        unit = float(self.aging[name]["unit_months"]) if name in self.aging else 1.0
        amount = months / unit
        return float(round(amount)) if snap.numeric[name].get("discrete") else float(amount)

    @property
    def features(self) -> list[str]:
        return self.snapshots[-1].features

    @property
    def n_rows(self) -> int:
        return int(self.snapshots[-1].n_rows)

    def snapshot_for(self, as_of: Any) -> ReferenceDistribution:
        """The snapshot of the same season as ``as_of`` (closest day of the year; the latest on
        a tie)."""
        return min(
            reversed(self.snapshots), key=lambda s: _season_gap(s.as_of, as_of)
        )  # min keeps the first of equals: the latest

    def compare(
        self,
        X: pd.DataFrame,
        as_of: Any = None,
        *,
        psi_warn: float = PSI_WARN,
        rate_ratio_warn: float = RATE_RATIO_WARN,
        groups: Sequence[Any] | pd.Series | None = None,
        local_alpha: float = LOCAL_ALPHA,
    ) -> dict[str, Any]:
        """PSI of ``X`` (a roster's features as of ``as_of``) against the same-season snapshot.

        Features shown to age are compared after taking the time elapsed since the snapshot
        off; features whose aging could not be measured are left out of the warnings (their
        PSI is still reported). With ``groups`` (the area code of each row, as at fit), rare
        events are also compared area by area (:func:`_local_alarms`).

        Returns ``psi`` (all features, largest first), ``warnings`` (PSI >= ``psi_warn``,
        largest first; then rare events whose rate moved by ``rate_ratio_warn`` or more; then
        ``"<feature> in <group_by> <code>"`` for a rate that moved in one area only), the moved
        rates in ``event_rates`` (same keys), ``local`` (how the areas were tested),
        ``reference`` (snapshot date, elapsed months), ``aged`` (feature -> amount taken off)
        and ``left_out`` (feature -> reason).
        """
        if len(X) == 0:
            raise ValueError("Cannot compute PSI of an empty matrix; give at least one row.")
        snap = self.snapshot_for(as_of) if as_of is not None else self.snapshots[-1]
        months = _months_between(str(snap.as_of), as_of) if as_of is not None else 0.0
        shift, left_out = self._shifts(snap, months)
        psi = snap.psi(X, shift).sort_values(ascending=False)
        alarm = [str(f) for f in psi[(psi >= psi_warn) & ~psi.index.isin(list(left_out))].index]
        rates = _rate_alarms(snap.event_rates(X), rate_ratio_warn, exclude=alarm)
        province = [*alarm, *rates]
        local, tested = _local_alarms(snap, X, groups, rate_ratio_warn, local_alpha, self.group_by)
        unit_names = {1: "months", 12: "years"}
        return {
            "psi": {str(k): round(float(v), 4) for k, v in psi.items()},
            "warnings": [*province, *local],
            "event_rates": {**rates, **local},
            "local": tested,
            "reference": {
                "as_of": snap.as_of,
                "elapsed_months": round(months, 1),
                "snapshots": [s.as_of for s in self.snapshots],
            },
            "aged": {
                name: f"{amount:g} {unit_names.get(int(self.aging[name]['unit_months']), 'units')}"
                for name, amount in shift.items()
            },
            "left_out": left_out,
        }

    def _shifts(
        self, snap: ReferenceDistribution, months: float
    ) -> tuple[dict[str, float], dict[str, str]]:
        """What to take off each aging feature ``months`` after ``snap``, and the features left
        out of the alarm (aging unknown), with the reason."""
        shift: dict[str, float] = {}
        left_out: dict[str, str] = {}
        within = months - 12 * round(months / 12)  # the part of the gap inside one year
        for name, entry in self.aging.items():
            if name not in snap.numeric:
                continue
            mode = entry.get("mode")
            if mode is None:
                left_out[name] = (
                    "it may grow with time by construction, and the training bundle held no "
                    "snapshots a month and a year apart to tell how"
                )
            elif mode == "elapsed":
                shift[name] = self._amount(snap, name, months)
            elif mode == "within_year":
                shift[name] = self._amount(snap, name, within)
        return shift, left_out

    def psi(self, X: pd.DataFrame, as_of: Any = None) -> pd.Series:
        """PSI per feature against the same-season snapshot (aging features shifted); without
        ``as_of``, against the latest snapshot as is."""
        out = self.compare(X, as_of)["psi"]
        return pd.Series(out, name="psi", dtype=np.float64).reindex(self.features)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {
            "kind": "seasonal",
            "snapshots": [s.to_dict() for s in self.snapshots],
            "aging": self.aging,
        }
        if self.group_by is not None:
            out["group_by"] = self.group_by
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeasonalReference:
        """Rebuild from :meth:`to_dict` output."""
        try:
            return cls(
                snapshots=[ReferenceDistribution.from_dict(s) for s in data["snapshots"]],
                aging={str(k): dict(v) for k, v in (data.get("aging") or {}).items()},
                group_by=data.get("group_by"),
            )
        except (KeyError, AttributeError, TypeError) as exc:
            raise ValueError(f"Not a saved SeasonalReference (needs 'snapshots'): {exc}") from exc


def _rate_alarms(
    rates: pd.DataFrame, ratio_warn: float, *, exclude: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Rare events whose province-wide rate moved by ``ratio_warn`` (either way), on at least
    :data:`RATE_MIN_ROWS` expected rows, strongest first (features in ``exclude`` skipped)."""
    expected = rates["reference"] * rates["rows"]
    moved = (rates["ratio"] >= ratio_warn) | (rates["ratio"] <= 1 / ratio_warn)
    hit = rates.loc[moved & (expected >= RATE_MIN_ROWS) & ~rates["feature"].isin(list(exclude))]
    hit = hit.assign(strength=np.abs(np.log(np.maximum(hit["ratio"], 1e-9))))
    return {
        str(r.feature): {
            "reference": round(float(r.reference), 5),
            "now": round(float(r.now), 5),
            "ratio": round(float(r.ratio), 3),
        }
        for r in hit.sort_values("strength", ascending=False).itertuples()
    }


def _local_alarms(
    snap: ReferenceDistribution,
    X: pd.DataFrame,
    groups: Sequence[Any] | pd.Series | None,
    ratio_warn: float,
    alpha: float,
    label: str | None,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Rare events whose rate moved in some areas (counties), not everywhere.

    For every area and rare event of the snapshot, the roster's count (records for a count,
    households otherwise) is tested against the reference's with an exact conditional binomial
    test (two Poisson counts: given their sum, the roster's part follows Binomial(sum, rows /
    (rows + reference rows)) when the rate is the same). An area warns when its rate moved by
    ``ratio_warn`` or more and the two-sided p-value is below ``alpha / m``, ``m`` the number
    of area x event pairs tested (Bonferroni: at most ``alpha`` chance of any false alarm per
    comparison). A feature that moved in every area that has it is a province-wide shift: the
    province-wide checks say it, and its areas are not listed.
    """
    if groups is None or not snap.group_rates:
        reason = "no area codes given" if groups is None else "the reference has no area counts"
        return {}, {"by": label, "tested": 0, "reason": reason}
    t = snap.group_event_rates(X, groups)
    t = t.loc[(t["ref_events"] + t["events"]) > 0].reset_index(drop=True)
    m = len(t)
    if m == 0:
        return {}, {"by": label, "tested": 0, "reason": "no area with a rare event"}
    k0, n0 = t["ref_events"].to_numpy(float), t["ref_rows"].to_numpy(float)
    k1, n1 = t["events"].to_numpy(float), t["rows"].to_numpy(float)
    t["ref_rate"], t["now_rate"] = k0 / n0, k1 / n1
    with np.errstate(divide="ignore", invalid="ignore"):
        t["ratio"] = np.where(k0 > 0, t["now_rate"] / t["ref_rate"], np.inf)
    share = n1 / (n0 + n1)
    below = binom.cdf(k1, k0 + k1, share)
    above = binom.sf(k1 - 1, k0 + k1, share)
    t["p_value"] = np.minimum(1.0, 2 * np.minimum(below, above))
    moved = (t["ratio"] >= ratio_warn) | (t["ratio"] <= 1 / ratio_warn)
    t["alarm"] = moved & (t["p_value"] < alpha / m)
    everywhere = t.groupby("feature")["alarm"].transform(lambda a: len(a) > 1 and bool(a.all()))
    hit = t.loc[t["alarm"] & ~everywhere].sort_values("p_value", kind="stable")
    name = label or "group"
    counted = snap._counted()
    alarms = {
        f"{r.feature} in {name} {r.group}": {
            "reference": round(float(r.ref_rate), 5),
            "now": round(float(r.now_rate), 5),
            "ratio": round(float(r.ratio), 3) if np.isfinite(r.ratio) else None,
            "feature": str(r.feature),
            "per": "record" if r.feature in counted else "household",
            name: str(r.group),
            "p_value": float(f"{r.p_value:.3g}"),
        }
        for r in hit.itertuples()
    }
    return alarms, {"by": label, "tested": m, "p_threshold": float(f"{alpha / m:.3g}")}
