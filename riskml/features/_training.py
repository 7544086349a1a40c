"""Training sets: eligible (household, as_of) rows with features, labels and audit columns.

A row exists for every household of the bundle and every as-of date D on which it is *eligible*
(not under active monitoring on D). Its label is the contract's default: positive when the
household is identified (any category, or those configured) in (D, D + horizon]. When
D + horizon is after the extraction date the label is unknown (right-censored): such rows are
left out, or kept with ``label`` = NA on request — never counted as negatives. Audit columns
(county, livelihood, head sex and ethnicity, disability, female- or elderly-headed) sit beside the
features for fairness audits; they are never features. Every household-date is accounted for in
``metadata["counts"]``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import numbers
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskml import __version__
from riskml._memory import release_unused_memory
from riskml.config import ConfigError
from riskml.config.features import LabelConfig, load_training_config
from riskml.data import TABLES
from riskml.data._bundle import Bundle
from riskml.features._catalog import Catalog, FeatureSet, load_catalog
from riskml.features._engine import FeatureEngine, _Pairs
from riskml.features._tables import (
    dates_to_days,
    days_to_dates,
    pair_keys,
    shift_months,
    year_of,
)
from riskml.features._village import village_context

__all__ = [
    "AUDIT_COLUMNS",
    "CONTEXT_COLUMNS",
    "TrainingSet",
    "TrainingSetError",
    "as_of_schedule",
    "build_training_set",
    "data_fingerprint",
    "write_training_set",
]


class TrainingSetError(ValueError):
    """A training set cannot be built from these arguments (dates, steps, sizes); the message
    names the argument and what to give instead."""


log = logging.getLogger(__name__)

CONTEXT_COLUMNS = ("county_code", "township_code", "village_code")
AUDIT_COLUMNS = (
    "audit_county",
    "audit_livelihood",
    "audit_head_sex",
    "audit_head_ethnicity",
    "audit_disability_in_household",
    "audit_female_headed",
    "audit_elderly_headed",
)
_METADATA_KEY = b"riskml.training_set"


@dataclass
class TrainingSet:
    """A training set: ``frame`` plus what it was built from.

    ``frame`` columns: ``household_id``, ``as_of``, the features (``feature_names``), ``label``
    (Int8; NA only for censored rows kept on request), ``label_income`` (Int8; NA when that
    year's income is unknown), ``county_code``, ``township_code``, ``village_code`` and the audit
    columns (``audit_columns``). Rows are ordered by household (bundle order), then as-of date.
    """

    frame: pd.DataFrame
    feature_names: list[str]
    audit_columns: list[str] = field(default_factory=lambda: list(AUDIT_COLUMNS))
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def X(self) -> pd.DataFrame:
        """The feature columns only."""
        return self.frame[self.feature_names]

    @property
    def y(self) -> pd.Series:
        """The default label."""
        return self.frame["label"]

    def to_parquet(self, path: str | Path) -> Path:
        """Write the frame to Parquet with ``metadata`` in the schema metadata."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(self.frame, preserve_index=False)
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), _METADATA_KEY: _dump(self._full_metadata())}
        )
        pq.write_table(table, path)
        return path

    def _full_metadata(self) -> dict[str, Any]:
        return {
            **self.metadata,
            "feature_names": self.feature_names,
            "audit_columns": self.audit_columns,
        }

    @classmethod
    def read_parquet(cls, path: str | Path) -> TrainingSet:
        """Read a training set written by :meth:`to_parquet` or ``riskml features build``."""
        import pyarrow.parquet as pq

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"Training set {path} does not exist; build it with `riskml features build`."
            )
        table = pq.read_table(path)
        # to_parquet stores it in the schema, the streaming writer in the file's key-value footer
        raw = (table.schema.metadata or {}).get(_METADATA_KEY) or (
            pq.read_metadata(path).metadata or {}
        ).get(_METADATA_KEY)
        if raw is None:
            raise TrainingSetError(
                f"{path} is not a riskml training set (no '{_METADATA_KEY.decode()}' Parquet metadata)."
            )
        meta = json.loads(raw.decode("utf-8"))
        frame = table.to_pandas()
        feature_names = list(meta.pop("feature_names"))
        audit_columns = list(meta.pop("audit_columns"))
        return cls(
            frame=frame, feature_names=feature_names, audit_columns=audit_columns, metadata=meta
        )


def _dump(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")


def _column_digest_parts(s: pd.Series) -> list[bytes | memoryview]:
    """Bytes that stand for a column's values (and missing values), independent of its chunking."""
    import pyarrow as pa

    if isinstance(s.dtype, pd.CategoricalDtype):  # the labels once, the codes per row
        return [
            repr(list(s.cat.categories)).encode("utf-8"),
            np.ascontiguousarray(s.cat.codes.to_numpy()).data,
        ]
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return [np.ascontiguousarray(s.to_numpy(dtype="datetime64[ns]").view(np.int64)).data]
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        present = s.notna().to_numpy()
        values = s.to_numpy(dtype=np.float64, na_value=0.0)
        return [np.packbits(present).data, np.ascontiguousarray(values).data]
    # strings and ids: UTF-8 bytes plus lengths and the missing mask, via Arrow (no Python objects
    # for Arrow-backed columns)
    values = s.array
    if hasattr(values, "__arrow_array__"):
        converted = values.__arrow_array__()
    else:
        converted = pa.array(s.astype("object"), type=pa.large_string(), from_pandas=True)
    chunked = converted if isinstance(converted, pa.ChunkedArray) else pa.chunked_array([converted])
    arr = chunked.cast(pa.large_string()).combine_chunks()
    present = np.asarray(arr.is_valid())
    filled = arr.fill_null("")
    buffers = filled.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[
        filled.offset : filled.offset + len(filled) + 1
    ]
    data = memoryview(buffers[2])[int(offsets[0]) : int(offsets[-1])] if len(filled) else b""
    return [np.packbits(present).data, np.ascontiguousarray(np.diff(offsets)).data, data]


def data_fingerprint(bundle: Bundle) -> str:
    """A SHA-256 (first 16 hex digits) of the bundle's content: every table's rows and ids, the
    extraction date and province. Same content in the same row order -> same fingerprint."""
    digest = hashlib.sha256()
    digest.update(f"{bundle.extracted_on}|{bundle.province}".encode())
    for name in sorted(bundle.tables):
        frame = bundle.tables[name]
        digest.update(f"|{name}|{len(frame)}|{','.join(map(str, frame.columns))}".encode())
        for column in frame.columns:
            for part in _column_digest_parts(frame[column]):
                digest.update(part)
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# argument checks (sklearn-style messages)


def _check_positive_int(value: Any, name: str, caller: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise TrainingSetError(
            f"The '{name}' parameter of {caller} must be a positive int. Got {value!r} instead."
        )
    return int(value)


def _check_dates(as_of_dates: Any, caller: str, extracted_on: dt.date) -> np.ndarray:
    if isinstance(as_of_dates, str | dt.date | pd.Timestamp) or as_of_dates is None:
        raise TrainingSetError(
            f"The 'as_of_dates' parameter of {caller} must be a non-empty list of dates. Got {as_of_dates!r} instead."
        )
    values = list(as_of_dates)
    if not values:
        raise TrainingSetError(
            f"The 'as_of_dates' parameter of {caller} must be a non-empty list of dates. Got [] instead."
        )
    parsed = []
    for v in values:
        try:
            ts = pd.Timestamp(v)
        except (ValueError, TypeError) as exc:
            raise TrainingSetError(
                f"The 'as_of_dates' parameter of {caller} holds {v!r}, which is not a date."
            ) from exc
        if pd.isna(ts):
            raise TrainingSetError(
                f"The 'as_of_dates' parameter of {caller} holds an empty date ({v!r})."
            )
        parsed.append(ts.normalize())
    days = np.unique(dates_to_days(pd.Series(parsed)))
    extracted = int(dates_to_days(pd.Series([pd.Timestamp(extracted_on)]))[0])
    late = days[days > extracted]
    if len(late):
        shown = [str(x)[:10] for x in days_to_dates(late)][:5]
        raise TrainingSetError(
            f"as-of date(s) {shown} given to {caller} are after the bundle's extraction date {extracted_on}: "
            "nothing after the extraction is known. Choose as-of dates on or before it."
        )
    return days


# ---------------------------------------------------------------------------------------------
# labels and audit columns


def _label_counts(
    engine: FeatureEngine, h: np.ndarray, d: np.ndarray, horizon: int, categories: list[str] | None
) -> np.ndarray:
    """Identifications in (D, D + horizon] per pair: the only window the label looks at."""
    filters = {"category": tuple(categories)} if categories else {}
    sel = engine.prepared.selection("monitoring", filters, None)
    pairs = _Pairs(h, d)
    return pairs.upto(sel, horizon) - pairs.upto(sel)


def _income_label(
    engine: FeatureEngine, h: np.ndarray, d: np.ndarray, cfg: LabelConfig
) -> pd.arrays.IntegerArray:
    inc = engine.prepared.tables["income"]
    if not cfg.income.enabled:
        return pd.array([pd.NA] * len(h), dtype="Int8")
    rows, keys = engine.prepared.income_year_index()
    target = year_of(d) + cfg.income.target_year_offset
    pos = np.searchsorted(keys, pair_keys(h, target))
    pos_c = np.minimum(pos, max(len(keys) - 1, 0))
    found = (
        (pos < len(keys)) & (keys[pos_c] == pair_keys(h, target))
        if len(keys)
        else np.zeros(len(h), dtype=bool)
    )
    row = rows[pos_c] if len(rows) else np.zeros(len(h), dtype=np.int64)
    pc = np.where(found, inc.derived["pc_net_income"][row] if len(rows) else np.nan, np.nan)
    thr = np.where(found, inc.derived["threshold"][row] if len(rows) else np.nan, np.nan)
    known = np.isfinite(pc) & np.isfinite(thr)
    out = pd.array(
        np.where(known, (pc < thr * cfg.income.threshold_multiple).astype(np.int8), 0), dtype="Int8"
    )
    out[~known] = pd.NA
    return out


def _audit(engine: FeatureEngine, h: np.ndarray, d: np.ndarray, elderly_age: int) -> dict[str, Any]:
    hh = engine.prepared.households
    sex = hh.column("head_sex")[h]  # codes over the contract vocabulary (-1 = unknown)
    by = hh.column("head_birth_year")[h]
    sel = engine.prepared.selection("events", {"event_type": ("disability",)}, None)
    disability = (_Pairs(h, d).upto(sel) - sel.household_start(h)) > 0
    female = pd.array(sex == _vocab("households", "head_sex").index("F"), dtype="boolean")
    female[sex < 0] = pd.NA
    age = year_of(d) - by
    elderly = pd.array(age >= elderly_age, dtype="boolean")
    elderly[~np.isfinite(by)] = pd.NA
    return {
        "audit_county": hh.strings("county_code", h),
        "audit_livelihood": pd.Categorical.from_codes(
            hh.column("livelihood")[h], categories=_vocab("households", "livelihood")
        ),
        "audit_head_sex": pd.Categorical.from_codes(
            hh.column("head_sex")[h], categories=_vocab("households", "head_sex")
        ),
        "audit_head_ethnicity": hh.strings("head_ethnicity", h),
        "audit_disability_in_household": pd.array(disability, dtype="boolean"),
        "audit_female_headed": female,
        "audit_elderly_headed": elderly,
    }


def _vocab(table: str, column: str) -> list[str]:
    return list(TABLES[table].column(column).vocab or ())


def _check_label_categories(label_cfg: LabelConfig) -> None:
    """Label categories must be monitoring categories of the data contract."""
    known = _vocab("monitoring", "category")
    bad = [c for c in label_cfg.categories or () if c not in known]
    if bad:
        raise ConfigError(
            f"label.categories: unknown monitoring categories {bad}; use {known} "
            "(configs/labels.yaml or the LabelConfig given)."
        )


# ---------------------------------------------------------------------------------------------
# building


@dataclass
class _Plan:
    engine: FeatureEngine
    fs: FeatureSet
    catalog: Catalog
    dates: np.ndarray
    horizon: int
    label_cfg: LabelConfig
    elderly_age: int
    include_censored: bool
    chunk: int
    village: pd.DataFrame | None
    counts: dict[str, int]


def _plan(
    bundle: Bundle,
    as_of_dates: Sequence[Any],
    horizon_months: int,
    feature_set: FeatureSet | str,
    label_config: LabelConfig | None,
    include_censored: bool,
    chunk_households: int | None,
    catalog: Catalog | None,
    caller: str,
    *,
    engine_bundle: Bundle | None = None,
    with_village: bool = True,
) -> _Plan:
    """Checked arguments, the engine (over ``engine_bundle``, default ``bundle``) and the village
    context (unless ``with_village`` is false: the Spark engine computes it in a stage of its own)."""
    if not isinstance(bundle, Bundle):
        raise TypeError(
            f"The 'bundle' parameter of {caller} must be a riskml.data.Bundle. Got {type(bundle).__name__} instead."
        )
    horizon = _check_positive_int(horizon_months, "horizon_months", caller)
    cfg = load_training_config()
    chunk = _check_positive_int(
        chunk_households if chunk_households is not None else cfg.chunk_households,
        "chunk_households",
        caller,
    )
    if not isinstance(include_censored, bool):
        raise TrainingSetError(
            f"The 'include_censored' parameter of {caller} must be a bool. Got {include_censored!r} instead."
        )
    if label_config is not None and not isinstance(label_config, LabelConfig):
        raise TypeError(
            f"The 'label_config' parameter of {caller} must be a LabelConfig. Got {type(label_config).__name__} instead."
        )
    _check_label_categories(label_config or cfg.label)
    dates = _check_dates(as_of_dates, caller, bundle.extracted_on)
    catalog = catalog or load_catalog()
    fs = feature_set if isinstance(feature_set, FeatureSet) else catalog.feature_set(feature_set)
    if len(bundle.households) == 0:
        raise TrainingSetError(f"The bundle given to {caller} has no households.")
    extracted = int(dates_to_days(pd.Series([pd.Timestamp(bundle.extracted_on)]))[0])
    censored = shift_months(dates, horizon) > extracted
    if censored.all() and not include_censored:
        raise TrainingSetError(
            f"Every as-of date given to {caller} is right-censored: D + {horizon} months is after the extraction "
            f"date {bundle.extracted_on} for all of {[str(x)[:10] for x in days_to_dates(dates)][:5]}. Their labels are "
            "unknown; choose earlier dates, a shorter horizon, or include_censored=True (label NA)."
        )
    engine = FeatureEngine(engine_bundle if engine_bundle is not None else bundle, catalog=catalog)
    village = None
    if with_village and any(f.primitive == "context" for f in fs.required):
        village = village_context(bundle, days_to_dates(dates), settings=fs.village, engine=engine)
    counts = {
        "household_dates": 0,
        "excluded_under_monitoring": 0,
        "excluded_censored": 0,
        "rows": 0,
        "positives": 0,
        "censored_rows_kept": 0,
    }
    return _Plan(
        engine,
        fs,
        catalog,
        dates,
        horizon,
        label_config or cfg.label,
        cfg.audit.elderly_head_age,
        include_censored,
        chunk,
        village,
        counts,
    )


def _chunks(plan: _Plan) -> Iterator[pd.DataFrame]:
    engine = plan.engine
    n_h, n_d = engine.prepared.n_households, len(plan.dates)
    extracted = int(dates_to_days(pd.Series([pd.Timestamp(engine.bundle.extracted_on)]))[0])
    date_censored = shift_months(plan.dates, plan.horizon) > extracted
    hh = engine.prepared.households
    for start in range(0, n_h, plan.chunk):
        codes = np.arange(start, min(start + plan.chunk, n_h), dtype=np.int64)
        h = np.repeat(codes, n_d)
        d = np.tile(plan.dates, len(codes))
        censored = np.tile(date_censored, len(codes))
        under, _, _ = engine.status_arrays(h, d)
        keep = ~under & (plan.include_censored | ~censored)
        plan.counts["household_dates"] += len(h)
        plan.counts["excluded_under_monitoring"] += int(under.sum())
        plan.counts["excluded_censored"] += (
            int((~under & censored).sum()) if not plan.include_censored else 0
        )
        h, d, censored = h[keep], d[keep], censored[keep]
        frame = engine.compute_frame(
            h, d, plan.fs, village_table=plan.village, index=pd.RangeIndex(len(h))
        )
        positive = _label_counts(engine, h, d, plan.horizon, plan.label_cfg.categories) > 0
        label = pd.array(positive.astype(np.int8), dtype="Int8")
        label[censored] = pd.NA
        frame.insert(
            0,
            "household_id",
            pd.array(engine.prepared.household_index.to_numpy()[h], dtype="string"),
        )
        frame.insert(1, "as_of", days_to_dates(d))
        rest: dict[str, Any] = {
            "label": label,
            "label_income": _income_label(engine, h, d, plan.label_cfg),
            **{c: hh.strings(c, h) for c in CONTEXT_COLUMNS},
            **_audit(engine, h, d, plan.elderly_age),
        }
        for name, column in rest.items():
            frame[name] = column
        plan.counts["rows"] += len(frame)
        plan.counts["positives"] += int(positive[~censored].sum())
        plan.counts["censored_rows_kept"] += int(censored.sum())
        yield frame


def _metadata(plan: _Plan, bundle: Bundle) -> dict[str, Any]:
    extracted = int(dates_to_days(pd.Series([pd.Timestamp(bundle.extracted_on)]))[0])
    censored = shift_months(plan.dates, plan.horizon) > extracted
    return {
        # no creation time: the same bundle, dates and config must give byte-identical files
        "riskml_version": __version__,
        "catalog_version": plan.catalog.version,
        "feature_set": plan.fs.name,
        "feature_set_version": plan.fs.version,
        "data_fingerprint": data_fingerprint(bundle),
        "extracted_on": str(bundle.extracted_on),
        "province": plan.engine.prepared.province,
        "households": len(bundle.households),
        "horizon_months": plan.horizon,
        "as_of_dates": [str(x)[:10] for x in days_to_dates(plan.dates)],
        "censored_as_of_dates": [str(x)[:10] for x in days_to_dates(plan.dates[censored])],
        "include_censored": plan.include_censored,
        "label_definition": {
            "label": f"identified as a monitoring object ({', '.join(plan.label_cfg.categories or ['any category'])}) "
            f"in (as_of, as_of + {plan.horizon} months]; eligible = not under monitoring on as_of",
            "label_income": "per-capita net income of year(as_of) + "
            f"{plan.label_cfg.income.target_year_offset} below {plan.label_cfg.income.threshold_multiple} x that year's threshold",
            "config": plan.label_cfg.model_dump(mode="json"),
        },
        "counts": dict(plan.counts),
    }


def build_training_set(
    bundle: Bundle,
    as_of_dates: Sequence[Any],
    horizon_months: int = 12,
    *,
    feature_set: FeatureSet | str = "default",
    label_config: LabelConfig | None = None,
    include_censored: bool = False,
    chunk_households: int | None = None,
    catalog: Catalog | None = None,
) -> TrainingSet:
    """Build a training set: one row per eligible (household, as_of).

    Parameters
    ----------
    bundle
        The household-history bundle.
    as_of_dates
        The as-of dates (a non-empty list, each on or before ``bundle.extracted_on``).
    horizon_months
        The label horizon: positive when identified in (D, D + horizon_months].
    feature_set
        A :class:`FeatureSet` or a set name in the catalog.
    label_config
        Label settings (default: ``label`` of ``configs/labels.yaml``): categories counted as
        positive and the income-based alternative.
    include_censored
        Keep as-of dates whose horizon ends after the extraction date, with ``label`` = NA.
    chunk_households
        Households processed at once (default ``chunk_households`` of ``configs/labels.yaml``).
    catalog
        The catalog to resolve ``feature_set`` in (default :func:`load_catalog`).

    Returns
    -------
    TrainingSet

    Raises
    ------
    ValueError
        For a non-positive horizon, an empty date list, dates after the extraction date, an
        unknown feature set, or when every date is censored.

    Examples
    --------
    >>> ts = build_training_set(bundle, ["2022-06-30", "2022-12-31"], 12)  # doctest: +SKIP
    >>> ts.frame[ts.feature_names + ["label"]].head()  # doctest: +SKIP
    """
    plan = _plan(
        bundle,
        as_of_dates,
        horizon_months,
        feature_set,
        label_config,
        include_censored,
        chunk_households,
        catalog,
        "build_training_set",
    )
    frames = list(_chunks(plan))
    frame = (
        pd.concat(frames, ignore_index=True)
        if len(frames) > 1
        else frames[0].reset_index(drop=True)
    )
    return TrainingSet(
        frame=frame,
        feature_names=plan.fs.names,
        audit_columns=list(AUDIT_COLUMNS),
        metadata=_metadata(plan, bundle),
    )


def write_training_set(
    bundle: Bundle,
    as_of_dates: Sequence[Any],
    out: str | Path,
    horizon_months: int = 12,
    *,
    feature_set: FeatureSet | str = "default",
    label_config: LabelConfig | None = None,
    include_censored: bool = False,
    chunk_households: int | None = None,
    catalog: Catalog | None = None,
) -> dict[str, Any]:
    """Build a training set chunk by chunk straight into a Parquet file (bounded memory).

    Same rows, columns and metadata as ``build_training_set(...).to_parquet(out)``; the whole
    frame is never held in memory. Returns the metadata.
    """
    import pyarrow as pa

    plan = _plan(
        bundle,
        as_of_dates,
        horizon_months,
        feature_set,
        label_config,
        include_censored,
        chunk_households,
        catalog,
        "write_training_set",
    )
    release_unused_memory()  # the loading peak must not last the whole build
    tables = (pa.Table.from_pandas(frame, preserve_index=False) for frame in _chunks(plan))
    return stream_to_parquet(out, tables, lambda: _metadata(plan, bundle), plan.fs.names)


def stream_to_parquet(
    out: str | Path,
    tables: Iterable[Any],
    metadata: Callable[[], dict[str, Any]],
    feature_names: list[str],
) -> dict[str, Any]:
    """Write Arrow tables (training-set chunks, in order) to one Parquet file, one row group per
    chunk, then the training-set metadata (``metadata()``, called after the last chunk).

    Written to ``<out>.partial`` and renamed at the end: a failed build leaves no file.
    Returns the metadata.
    """
    import pyarrow.parquet as pq

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    writer: pq.ParquetWriter | None = None
    try:
        for table in tables:
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            else:
                table = table.cast(writer.schema)
            writer.write_table(table)
        meta = metadata()
        if writer is None:  # pragma: no cover - _plan refuses a bundle without households
            raise RuntimeError("no training-set chunk was produced")
        writer.add_key_value_metadata(
            {
                _METADATA_KEY.decode(): _dump(
                    {**meta, "feature_names": feature_names, "audit_columns": list(AUDIT_COLUMNS)}
                ).decode("utf-8")
            }
        )
        writer.close()
        writer = None
        tmp.replace(out)
    finally:
        if writer is not None:
            writer.close()
        if tmp.exists():
            tmp.unlink()
    return meta


def as_of_schedule(start: Any, end: Any, every: str = "3M") -> list[pd.Timestamp]:
    """As-of dates from ``start`` to ``end`` (inclusive) every ``every``.

    ``every`` is ``<n>M`` (months), ``<n>Y`` (years), ``<n>W`` (weeks) or ``<n>D`` (days).
    Month steps count from ``start`` (``start + k*n months``, month-end clamped), so
    2021-03-31 every 3M gives 2021-06-30, 2021-09-30, 2021-12-31, ...

    Examples
    --------
    >>> [str(d.date()) for d in as_of_schedule("2021-01-01", "2021-12-31", "6M")]
    ['2021-01-01', '2021-07-01']
    """
    import re

    match = re.fullmatch(r"\s*(\d+)\s*([MYWDmywd])\s*", str(every))
    if not match or int(match.group(1)) <= 0:
        raise TrainingSetError(
            f"The 'every' step must look like 3M, 1Y, 2W or 30D (a positive count and a unit). Got {every!r} instead."
        )
    n, unit = int(match.group(1)), match.group(2).upper()
    try:
        first, last = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    except (ValueError, TypeError) as exc:
        raise TrainingSetError(
            f"start and end must be dates (YYYY-MM-DD); got {start!r} and {end!r}."
        ) from exc
    if last < first:
        raise TrainingSetError(
            f"The end date {last.date()} is before the start date {first.date()}."
        )
    dates: list[pd.Timestamp] = []
    k = 0
    while True:
        if unit in {"M", "Y"}:
            d = first + pd.DateOffset(months=k * n * (12 if unit == "Y" else 1))
        else:
            d = first + pd.Timedelta(days=k * n * (7 if unit == "W" else 1))
        if d > last:
            return dates
        dates.append(pd.Timestamp(d))
        k += 1
