"""A bundle turned into numpy arrays the point-in-time engine can search.

Households get integer codes (their row in ``bundle.households``). Every row of every table is
tagged with its household's code and its time in whole days since 1970-01-01. A *selection*
(a table's rows that pass a feature's filters) is sorted by ``(household, time, row)`` and keyed
by ``household << 32 | (day + 2**31)``, so "rows of household h known on day D" is a
``searchsorted`` of that key — one binary search per (household, as_of) pair, for all pairs at
once. Window sums use per-household cumulative sums, so a household's values never depend on
which other households are in the bundle (partition-independence).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskml.config._base import ConfigError
from riskml.data._bundle import Bundle
from riskml.data._schema import TABLES

__all__ = [
    "FAR_FUTURE",
    "FAR_PAST",
    "PreparedBundle",
    "Selection",
    "dates_to_days",
    "days_to_dates",
    "pair_keys",
]

log = logging.getLogger(__name__)

_DEFAULT_PROVINCE_WARNED: set[tuple[str, str]] = set()  # warn once per process

FAR_PAST = -(2**30)
"""Day number standing for 'since ever' (an empty start date)."""
FAR_FUTURE = 2**30
"""Day number standing for 'never' (an empty end date or an unknown time: never on or before D)."""
_SHIFT = 2**31


def dates_to_days(values: Any, missing: int = FAR_FUTURE) -> np.ndarray:
    """Dates (datetime64, Timestamps, ISO strings) to int64 day numbers; missing -> ``missing``."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if series.dtype.kind != "M":  # strings, dates, objects: parse (already-typed columns skip this)
        series = pd.to_datetime(series, errors="raise")
    if getattr(series.dtype, "tz", None) is not None:
        series = series.dt.tz_localize(None)
    arr = series.to_numpy(dtype="datetime64[ns]")
    out = arr.astype("datetime64[D]").astype(np.int64)
    out[np.isnat(arr)] = missing
    return out


def days_to_dates(days: np.ndarray) -> np.ndarray:
    """Day numbers back to ``datetime64[ns]`` (sentinels become NaT)."""
    days = np.asarray(days, dtype=np.int64)
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    out[(days <= FAR_PAST) | (days >= FAR_FUTURE)] = np.datetime64("NaT")
    return out


def pair_keys(h: np.ndarray, days: np.ndarray) -> np.ndarray:
    """The sort key ``h << 32 | (day + 2**31)`` of (household code, day) pairs."""
    keys = np.left_shift(np.asarray(h, dtype=np.int64), 32)
    keys |= np.asarray(days, dtype=np.int64) + _SHIFT
    return keys


def jan_first(years: np.ndarray) -> np.ndarray:
    """Day number of 1 January of each (float, possibly NaN) year; NaN -> FAR_FUTURE."""
    years = np.asarray(years, dtype=np.float64)
    out = np.full(years.shape, FAR_FUTURE, dtype=np.int64)
    ok = np.isfinite(years)
    out[ok] = (
        (years[ok].astype(np.int64) - 1970)
        .astype("datetime64[Y]")
        .astype("datetime64[D]")
        .astype(np.int64)
    )
    return out


def year_of(days: np.ndarray) -> np.ndarray:
    """Calendar year of day numbers."""
    return (
        np.asarray(days, dtype=np.int64)
        .astype("datetime64[D]")
        .astype("datetime64[Y]")
        .astype(np.int64)
        + 1970
    )


def shift_months(days: np.ndarray, months: int) -> np.ndarray:
    """``day + months`` calendar months (month-end clamped, like ``pd.DateOffset(months=...)``)."""
    if months == 0:
        return np.asarray(days, dtype=np.int64)
    uniq, inverse = np.unique(np.asarray(days, dtype=np.int64), return_inverse=True)
    idx = pd.DatetimeIndex(uniq.astype("datetime64[D]").astype("datetime64[ns]"))
    shifted = (
        (idx + pd.DateOffset(months=months)).to_numpy().astype("datetime64[D]").astype(np.int64)
    )
    return shifted[inverse.reshape(-1)]


def _arrow_strings(values: Any) -> pa.Array | None:
    """Arrow-backed pandas strings as one Arrow array (no copy of the text); None otherwise."""
    array = values.array if isinstance(values, pd.Series) else values
    if not isinstance(array, pd.arrays.ArrowStringArray):
        return None
    arrow = pa.array(array)
    return arrow.combine_chunks() if isinstance(arrow, pa.ChunkedArray) else arrow


@dataclass
class TableArrays:
    """One contract table restricted to known households, with lazily converted columns."""

    name: str
    frame: pd.DataFrame
    h: np.ndarray
    derived: dict[str, np.ndarray] = field(default_factory=dict)
    _cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.h)

    def kind(self, column: str) -> str:
        if column in self.derived:
            return "money"
        return TABLES[self.name].column(column).kind

    def column(self, column: str) -> np.ndarray:
        """The column as numbers: dates -> days (missing = FAR_FUTURE), categories and ids ->
        int codes (missing = -1), money/int/bool -> float64 (missing = NaN)."""
        if column in self.derived:
            return self.derived[column]
        if column in self._cache:
            return self._cache[column]
        col = TABLES[self.name].column(column)
        s = self.frame[column]
        if col.kind == "date":
            out = dates_to_days(s).astype(np.int32)  # day numbers and sentinels fit in 32 bits
        elif col.kind == "category":
            vocab = list(col.vocab or ())
            if isinstance(s.dtype, pd.CategoricalDtype):
                cat = s.cat if list(s.cat.categories) == vocab else s.cat.set_categories(vocab).cat
                out = cat.codes.to_numpy().astype(np.int32)
            else:
                out = pd.Categorical(s.astype("object"), categories=vocab).codes.astype(np.int32)
        elif col.kind in {"id", "string"}:
            codes, uniques = pd.factorize(
                s.astype("object") if s.dtype == "category" else s, use_na_sentinel=True
            )
            out = codes.astype(np.int32)
            self._cache[f"__uniques__{column}"] = np.asarray(uniques, dtype=object)
        elif col.kind == "bool":
            out = s.astype("boolean").astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        elif s.dtype == np.float64:
            out = s.to_numpy()
        else:
            out = (
                pd.to_numeric(s, errors="coerce")
                .astype("Float64")
                .to_numpy(dtype=np.float64, na_value=np.nan)
            )
        self._cache[column] = out
        return out

    def strings(self, column: str, rows: np.ndarray) -> Any:
        """A string/id column's values at ``rows`` as a pandas ``string`` array (factorized once,
        so a chunk costs only its own rows)."""
        codes = self.column(column)[rows]
        uniques = self._cache[f"__uniques__{column}"]
        values = np.where(codes >= 0, uniques[np.maximum(codes, 0)] if len(uniques) else None, None)
        return pd.array(values, dtype="string")

    def time(self, time_column: str | None = None) -> np.ndarray:
        """Row times in days for the point-in-time rule: the table's time column (events: recorded_on,
        falling back to event_date), or ``time_column`` if it is later (never earlier)."""
        base_name = TABLES[self.name].time_column
        if base_name is None:
            raise ValueError(f"table '{self.name}' has no time column")
        key = f"__time__{time_column}"
        if key in self._cache:
            return self._cache[key]
        base = self.column(base_name).copy()
        if self.name == "events":
            missing = base == FAR_FUTURE
            base[missing] = self.column("event_date")[missing]
        if time_column is not None and time_column != base_name:
            base = np.maximum(base, self.column(time_column))
        self._cache[key] = base
        return base

    def sorted_rows(self, time_column: str | None = None) -> np.ndarray:
        """All row numbers sorted by (household, time, row) — computed once per time column."""
        key = f"__order__{time_column}"
        if key not in self._cache:
            t = self.time(time_column)
            # a stable sort of the (household, time) key keeps the row order within ties
            self._cache[key] = np.argsort(pair_keys(self.h, t), kind="stable").astype(np.int32)
        return self._cache[key]

    def mask(self, filters: Mapping[str, tuple[Any, ...]]) -> np.ndarray:
        """Rows whose columns take one of the listed values, for every filtered column."""
        keep = np.ones(len(self), dtype=bool)
        for column, values in filters.items():
            col = TABLES[self.name].column(column) if column not in self.derived else None
            if col is not None and col.kind == "category":
                wanted = [list(col.vocab or ()).index(v) for v in values]
                codes = self.column(column)
                keep &= (codes == wanted[0]) if len(wanted) == 1 else np.isin(codes, wanted)
            elif col is not None and col.kind in {"id", "string"}:
                codes = self.column(column)  # factorized once; compare the distinct values only
                uniques = self._cache[f"__uniques__{column}"]
                wanted_codes = np.flatnonzero(
                    np.isin(uniques.astype(str), [str(v) for v in values])
                )
                keep &= np.isin(codes, wanted_codes)
            else:
                keep &= np.isin(self.column(column), np.asarray(values, dtype=np.float64))
        return keep


class Selection:
    """Rows of one table that pass a filter, sorted by (household, time, row)."""

    def __init__(
        self, table: TableArrays, rows: np.ndarray, t: np.ndarray, n_households: int
    ) -> None:
        """``rows`` (with times ``t``) must already be sorted by (household, time, row)."""
        self.n_households = n_households
        self._starts: np.ndarray | None = None
        self.table = table
        self.rows = rows.astype(np.int32, copy=False)
        self.h = table.h[rows].astype(np.int32, copy=False)
        self.t = t.astype(np.int32, copy=False)
        self.keys = pair_keys(self.h, self.t)
        self._cumsums: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def values(self, column: str) -> np.ndarray:
        return self.table.column(column)[self.rows]

    def household_start(self, h: np.ndarray) -> np.ndarray:
        """Position of each household's first row (where its rows would start)."""
        if self._starts is None:
            codes = np.arange(self.n_households + 1, dtype=np.int64)
            self._starts = np.searchsorted(self.keys, codes << 32, side="left").astype(np.int32)
        return self._starts[h]

    def upto(self, h: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Position just after the household's last row with time <= day."""
        return np.searchsorted(
            self.keys, pair_keys(h, np.clip(days, FAR_PAST, FAR_FUTURE)), side="right"
        )

    def upto_keys(self, keys: np.ndarray) -> np.ndarray:
        """``upto`` for precomputed search keys (``pair_keys``)."""
        return np.searchsorted(self.keys, keys, side="right")

    def cumsum(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-household running sum of ``column`` (missing = 0) and running count of non-missing."""
        if column not in self._cumsums:
            v = self.values(column)
            present = ~np.isnan(v)
            frame = pd.DataFrame(
                {"h": self.h, "v": np.where(present, v, 0.0), "n": present.astype(np.float64)}
            )
            cs = frame.groupby("h", sort=False)[["v", "n"]].cumsum()
            self._cumsums[column] = (cs["v"].to_numpy(), cs["n"].to_numpy())
        return self._cumsums[column]


class Intervals:
    """Half-open intervals [start, end) per household; counts how many contain a day."""

    def __init__(self, h: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        keep = start < end
        h, start, end = h[keep], start[keep], end[keep]
        self.start_keys = np.sort(pair_keys(h, np.clip(start, FAR_PAST, FAR_FUTURE)))
        self.end_keys = np.sort(pair_keys(h, np.clip(end, FAR_PAST, FAR_FUTURE)))

    def count(self, h: np.ndarray, days: np.ndarray) -> np.ndarray:
        q = pair_keys(h, days)
        started = np.searchsorted(self.start_keys, q, side="right")
        ended = np.searchsorted(self.end_keys, q, side="right")
        return (started - ended).astype(np.float64)


class PreparedBundle:
    """Integer-coded, day-numbered view of a bundle, shared by every feature computation."""

    def __init__(self, bundle: Bundle, *, thresholds: Any = None) -> None:
        hh = bundle.households
        ids = hh["household_id"]
        if ids.isna().any():
            rows = (np.flatnonzero(ids.isna().to_numpy()) + 1)[:5].tolist()
            raise ValueError(
                f"households.household_id is empty in rows {rows}; every household needs an id."
            )
        self._ids = ids
        self._ids_arrow = _arrow_strings(ids)
        if not self._ids_unique():
            index = self.household_index
            dup = index[index.duplicated()][:5].tolist()
            raise ValueError(
                f"households.household_id is not unique (e.g. {dup}); one row per household."
            )
        self.bundle = bundle
        self.n_households = len(hh)
        self.dropped_rows: dict[str, int] = {}
        self.tables: dict[str, TableArrays] = {}
        for name in ("members", "income", "events", "assistance", "monitoring"):
            frame = bundle.tables.get(name)
            if frame is None:
                frame = pd.DataFrame(
                    {c: pd.Series(dtype="object") for c in TABLES[name].column_names}
                )
            codes = self.lookup(frame["household_id"])
            known = codes >= 0
            if not known.all():
                self.dropped_rows[name] = int((~known).sum())
                log.warning(
                    "%d %s rows name households that are not in the households table; they are ignored.",
                    int((~known).sum()),
                    name,
                )
                frame = frame.loc[known]
                codes = codes[known]
            # the frame is kept as given (no copy); columns are read by position
            self.tables[name] = TableArrays(name, frame, codes.astype(np.int32))
        self.households = TableArrays("households", hh, np.arange(len(hh), dtype=np.int64))
        self._thresholds = thresholds
        self._add_income_columns()
        self._selections: dict[Any, Selection] = {}
        self._intervals: dict[Any, Intervals] = {}
        self._income_index: tuple[np.ndarray, np.ndarray] | None = None

    @cached_property
    def household_index(self) -> pd.Index:
        """The household ids as an object ``Index`` (row i = household code i)."""
        return pd.Index(self._ids.astype("object").to_numpy(), dtype="object")

    def _ids_unique(self) -> bool:
        if self._ids_arrow is not None:
            return len(pc.unique(self._ids_arrow)) == len(self._ids_arrow)
        return bool(self.household_index.is_unique)

    def lookup(self, household_ids: pd.Series | np.ndarray) -> np.ndarray:
        """Household code of each id (-1 for an id not in the households table).

        Arrow-backed string ids (what ``load_bundle`` gives) are matched in Arrow, without
        turning every id into a Python object; anything else goes through a pandas ``Index``.
        """
        values = _arrow_strings(household_ids) if self._ids_arrow is not None else None
        if values is not None and self._ids_arrow is not None:
            found = pc.index_in(values.cast(self._ids_arrow.type), value_set=self._ids_arrow)
            return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False))
        objects = np.asarray(pd.Series(household_ids).astype("object").to_numpy())
        return self.household_index.get_indexer(objects)

    # -- thresholds and derived income columns -------------------------------------------------
    @cached_property
    def threshold_config(self) -> Any:
        from riskml.config.thresholds import load_thresholds

        return self._thresholds if self._thresholds is not None else load_thresholds()

    @cached_property
    def province(self) -> str:
        """The province whose thresholds apply: the bundle's own; an unknown one is an error.

        A bundle that names no province (no ``province:`` in its ``bundle.yaml``) gets the
        thresholds file's ``default_province``, said in a warning; a province the file does not
        list is refused, since its income ratios, village context and income label would all be
        computed against another province's line.
        """
        cfg = self.threshold_config
        if self._thresholds is not None:
            where = "the thresholds passed in"
        else:
            from riskml.config._base import config_dir

            where = str(config_dir() / "thresholds.yaml")
        prov = self.bundle.province
        if prov is None or not str(prov).strip():
            if (cfg.default_province, where) not in _DEFAULT_PROVINCE_WARNED:
                _DEFAULT_PROVINCE_WARNED.add((cfg.default_province, where))
                log.warning(
                    "The bundle names no province (no 'province:' in its bundle.yaml): using the "
                    "monitoring thresholds of default_province '%s' from %s.",
                    cfg.default_province,
                    where,
                )
            return cfg.default_province
        if prov not in cfg.provinces:
            raise ConfigError(
                f"The bundle's province '{prov}' has no monitoring thresholds in {where} "
                f"(provinces there: {', '.join(sorted(cfg.provinces))}). Add it under 'provinces:' "
                f"with the province's threshold per year (e.g. '{prov}: {{2024: 8000, 2025: 8800}}'), "
                "or correct 'province:' in the bundle's bundle.yaml."
            )
        return str(prov)

    def threshold_for_years(self, years: np.ndarray) -> np.ndarray:
        """The monitoring threshold of each (float) year; NaN where none is configured."""
        years = np.asarray(years, dtype=np.float64)
        out = np.full(years.shape, np.nan)
        for y in np.unique(years[np.isfinite(years)]):
            try:
                out[years == y] = self.threshold_config.threshold(int(y), self.province)
            except ConfigError:
                log.warning(
                    "No monitoring threshold for year %d (province %s): ratios for it are NaN.",
                    y,
                    self.province,
                )
        return out

    def _add_income_columns(self) -> None:
        inc = self.tables["income"]
        parts = {
            c: inc.column(c)
            for c in ("wage_income", "business_income", "property_income", "transfer_income")
        }
        stacked = np.vstack(list(parts.values())) if len(inc) else np.zeros((4, 0))
        all_missing = np.isnan(stacked).all(axis=0)
        gross = np.where(all_missing, np.nan, np.nansum(stacked, axis=0))
        costs = np.nan_to_num(inc.column("business_costs"), nan=0.0)
        net = gross - costs
        size = inc.column("household_size")
        with np.errstate(all="ignore"):
            pc = np.where(size >= 1, net / size, np.nan)
            threshold = self.threshold_for_years(inc.column("year"))
            largest = np.where(np.isnan(stacked), -np.inf, stacked).max(axis=0, initial=-np.inf)
            max_share = np.where(gross > 0, largest / gross, np.nan)
            oop = inc.column("oop_medical")
            inc.derived.update(
                gross_income=gross,
                net_income=net,
                pc_net_income=pc,
                threshold=threshold,
                pc_income_to_threshold=pc / threshold,
                max_source_share=max_share,
                oop_to_net_income=np.where(net > 0, oop / net, np.nan),
            )

    def income_year_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, key) of the income table sorted by ``pair_keys(household, year)``, one row per
        household-year (should a year appear twice, the later-recorded row wins). Built once."""
        if self._income_index is None:
            inc = self.tables["income"]
            years = inc.column("year")
            rows = np.flatnonzero(np.isfinite(years))
            recorded = inc.column("recorded_on")[rows]
            rows = rows[np.lexsort((recorded, years[rows], inc.h[rows]))]
            keys = pair_keys(inc.h[rows], years[rows].astype(np.int64))
            if len(keys):
                last = np.r_[keys[1:] != keys[:-1], True]
                rows, keys = rows[last], keys[last]
            self._income_index = (rows, keys)
        return self._income_index

    # -- selections ---------------------------------------------------------------------------
    def selection(
        self, table: str, filters: Mapping[str, tuple[Any, ...]], time_column: str | None = None
    ) -> Selection:
        key = (table, tuple(sorted((k, tuple(v)) for k, v in filters.items())), time_column)
        sel = self._selections.get(key)
        if sel is None:
            t = self.tables[table]
            order = t.sorted_rows(time_column)
            rows = order[t.mask(filters)[order]]
            sel = Selection(t, rows, t.time(time_column)[rows], self.n_households)
            self._selections[key] = sel
        return sel

    def intervals(self, key: Any, build: Any) -> Intervals:
        iv = self._intervals.get(key)
        if iv is None:
            iv = build()
            self._intervals[key] = iv
        return iv

    def codes_of(self, household_ids: pd.Series | np.ndarray) -> np.ndarray:
        """Household codes of ids; an error lists unknown ids."""
        return self.known_codes(household_ids, self.lookup(household_ids))

    def known_codes(self, household_ids: pd.Series | np.ndarray, codes: np.ndarray) -> np.ndarray:
        """``codes`` (:meth:`lookup` of ``household_ids``) as int64; an error lists unknown ids."""
        if (codes < 0).any():
            values = np.asarray(pd.Series(household_ids).astype("object").to_numpy())
            bad = pd.unique(values[codes < 0])[:5].tolist()
            raise ValueError(
                f"{int((codes < 0).sum())} pairs name households that are not in the bundle's households "
                f"table (e.g. {bad}). Score only households of the bundle."
            )
        return codes.astype(np.int64)
