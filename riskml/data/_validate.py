"""The contract's validation rules: which problems stop loading and which set rows aside.

Every rule is vectorised (numpy masks over Arrow arrays). A rule either records an **error**
(loading stops with ``BundleError`` naming table, column, first rows and the fix) or
**quarantines**: it sets the row (or, for a household's optional attribute, only the value)
aside, with one quarantine record per problem.

===========================================  =========================================
problem                                      outcome
===========================================  =========================================
missing required column, empty file,         error
households file with only a header,
unreadable encoding, mapping conflicts,
unknown codes (unless the mapping says
otherwise), ids destroyed by Excel
duplicate ``household_id`` in households     error
household row missing a required value       household set aside, and its rows in every
                                             other table too
household's optional value invalid (bad      value cleared, household kept
code, year out of range)
history row: unparseable value, missing      row set aside (its household stays)
required value, orphan ``household_id``,
negative or absurd money, value below its
minimum (``household_size`` 0), date or
year after the extraction date, dates out
of order, income recorded before its year
history rows sharing a key                   identical copies: first kept, others set
                                             aside; differing copies: all set aside
event's ``member_id`` not a member of its    value cleared, event kept
household
any rule hitting more than                   error (systematic: wrong date format,
``max_invalid_share`` of a column's values   ids written differently, wrong
                                             ``extracted_on``)
===========================================  =========================================
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskml.config.mapping import ValidationRules
from riskml.data._bundle import QUARANTINE_COLUMNS
from riskml.data._convert import as_text, factorize
from riskml.data._errors import describe_rows
from riskml.data._schema import Column, TableSchema

__all__ = [
    "ACTION_HOUSEHOLD",
    "ACTION_ROW",
    "ACTION_VALUE",
    "QUARANTINE_FRAME_COLUMNS",
    "Validator",
    "WorkTable",
    "group_codes",
    "null_where",
]

ACTION_ROW = "row set aside"
ACTION_HOUSEHOLD = "household set aside"
ACTION_VALUE = "value cleared"
QUARANTINE_FRAME_COLUMNS = (*QUARANTINE_COLUMNS, "action")


@dataclass
class WorkTable:
    """A table between conversion and output: typed values plus what rules decided."""

    schema: TableSchema
    label: str
    origin: dict[str, str]
    rows: np.ndarray
    """1-based data row of each row in the source file."""
    raw: dict[str, pa.Array]
    """Source values of the contract columns the file provides (for messages/quarantine)."""
    values: dict[str, pa.Array]
    """Converted values of every contract column."""
    present: dict[str, int]
    """Non-empty source cells per column."""
    invalid: dict[str, tuple[np.ndarray, str, str]] = field(default_factory=dict)
    """Column -> (mask of unconvertible cells, reason, fix)."""
    drop: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    clear: dict[str, np.ndarray] = field(default_factory=dict)
    household_pos: np.ndarray | None = None
    """Row of each row's household in the households table (-1: none); set by the orphan rule."""

    def __post_init__(self) -> None:
        if len(self.drop) != len(self.rows):
            self.drop = np.zeros(len(self.rows), dtype=bool)

    @property
    def name(self) -> str:
        return self.schema.name

    @property
    def n(self) -> int:
        return len(self.rows)

    def source(self, column: str) -> str:
        origin = self.origin.get(column)
        return (
            f"{self.label}, source column {origin!r}" if origin and origin != column else self.label
        )

    def shown(self, column: str, idx: np.ndarray) -> list[str | None]:
        """The source text of ``column`` at positions ``idx``."""
        arr = self.raw.get(column)
        if arr is None:
            arr = self.values[column]
        return as_text(arr.take(pa.array(idx, pa.int64()))).to_pylist()


def null_where(arr: pa.Array, mask: np.ndarray) -> pa.Array:
    """``arr`` with nulls where ``mask`` is true."""
    if not mask.any():
        return arr
    if isinstance(arr, pa.DictionaryArray):
        indices = pc.if_else(pa.array(mask), pa.scalar(None, arr.indices.type), arr.indices)
        return pa.DictionaryArray.from_arrays(indices, arr.dictionary)
    return pc.if_else(pa.array(mask), pa.scalar(None, arr.type), arr)


def _valid(arr: pa.Array) -> np.ndarray:
    return pc.is_valid(arr).to_numpy(zero_copy_only=False)


def _cmp(result: pa.Array) -> np.ndarray:
    return result.fill_null(False).to_numpy(zero_copy_only=False)


def group_codes(arrays: list[pa.Array | np.ndarray], *, null_is_value: bool = False) -> np.ndarray:
    """One int64 code per distinct combination of values across ``arrays``.

    An item may be an Arrow array, or an int64 numpy array of codes already (-1 = null). A
    combination holding a null gets -1, unless ``null_is_value`` (then null is a value).
    """
    if len(arrays) == 1 and not null_is_value and not isinstance(arrays[0], np.ndarray):
        return factorize(arrays[0])[0]  # dense already, nulls -1
    n = len(arrays[0]) if arrays else 0
    combined = np.zeros(n, dtype=np.int64)
    any_null = np.zeros(n, dtype=bool)
    for i, arr in enumerate(arrays):
        if isinstance(arr, np.ndarray):
            codes, cardinality = arr, int(arr.max(initial=-1)) + 1
        else:
            codes, uniques = factorize(arr)
            cardinality = len(uniques)
        any_null |= codes < 0
        combined = combined * (cardinality + 1) + codes + 1
        if i < len(arrays) - 1 and combined.max(initial=0) > 2**40:
            combined = pd.factorize(combined)[0].astype(np.int64)
    combined = pd.factorize(combined)[0].astype(np.int64)
    if not null_is_value:
        combined[any_null] = -1
    return combined


class Validator:
    """Applies the rules to a set of work tables and collects errors and quarantine records."""

    def __init__(self, rules: ValidationRules, extracted_on: dt.date) -> None:
        self.rules = rules
        self.extracted_on = extracted_on
        self.limit_ns = np.datetime64(extracted_on, "ns")
        self.errors: list[str] = []
        self._parts: list[pd.DataFrame] = []

    # ------------------------------------------------------------------ recording

    def flag(
        self,
        t: WorkTable,
        mask: np.ndarray,
        column: str,
        reason: str,
        *,
        action: str,
        fix: str,
        base: int | None = None,
    ) -> None:
        """Record that the rows in ``mask`` break a rule (or, past the share, raise an error).

        ``base`` is the number of values the rule looked at; ``None`` (cascades) disables the
        systematic-problem check.
        """
        count = int(mask.sum())
        if count == 0:
            return
        idx = np.flatnonzero(mask)
        if base is not None and count > self.rules.max_invalid_share * base:
            self.errors.append(
                f"{t.name}.{column} ({t.source(column)}): {count} of {base} values "
                f"({count / max(base, 1):.0%}) — {reason}: "
                f"{describe_rows(t.rows[idx], t.shown(column, idx[:5]))}. So many is a systematic "
                f"problem, not a few bad rows. Fix: {fix}. (If these rows really are bad and should "
                "be set aside, raise validation.max_invalid_share in the mapping.)"
            )
            return
        households = t.values.get("household_id")
        hh = (
            households.take(pa.array(idx, pa.int64())).to_pylist()
            if households is not None
            else [None] * count
        )
        self._parts.append(
            pd.DataFrame(
                {
                    "table": t.name,
                    "row": t.rows[idx],
                    "household_id": hh,
                    "column": column,
                    "value": t.shown(column, idx),
                    "reason": reason,
                    "action": action,
                }
            )
        )
        if action == ACTION_VALUE:
            t.clear[column] = t.clear.get(column, np.zeros(t.n, dtype=bool)) | mask
        else:
            t.drop |= mask

    def error(self, message: str) -> None:
        self.errors.append(message)

    def take_over(self, other: Validator) -> None:
        """Add the errors and quarantine records ``other`` found (after this one's)."""
        self.errors.extend(other.errors)
        self._parts.extend(other._parts)

    def quarantine(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame(
                {
                    c: pd.Series(dtype="int64" if c == "row" else "object")
                    for c in QUARANTINE_FRAME_COLUMNS
                }
            )
        out = pd.concat(self._parts, ignore_index=True)
        order = {name: i for i, name in enumerate(dict.fromkeys(out["table"]))}
        out["_t"] = out["table"].map(order)
        out = (
            out.sort_values(["_t", "row"], kind="stable").drop(columns="_t").reset_index(drop=True)
        )
        out["row"] = out["row"].astype("int64")
        return out

    # ------------------------------------------------------------------ rules

    def conversion_problems(self, t: WorkTable, *, households: bool) -> None:
        """Cells that could not be converted to their contract type."""
        for column, (mask, reason, fix) in t.invalid.items():
            col = t.schema.column(column)
            if households:
                action = ACTION_HOUSEHOLD if col.required else ACTION_VALUE
            else:
                action = ACTION_ROW
            self.flag(
                t, mask, column, reason, action=action, fix=fix, base=t.present.get(column, t.n)
            )

    def required_values(self, t: WorkTable, *, households: bool) -> None:
        for column in t.schema.required:
            empty = ~_valid(t.values[column])
            if column in t.invalid:
                empty &= ~t.invalid[column][0]
            self.flag(
                t,
                empty,
                column,
                "required value missing",
                action=ACTION_HOUSEHOLD if households else ACTION_ROW,
                fix=f"fill '{column}' in every row of the source, or map the right source column onto it",
                base=t.n,
            )

    def value_rules(self, t: WorkTable, *, households: bool) -> None:
        """Money sign and size, minimum values, nothing dated after the extraction date."""
        action = ACTION_VALUE if households else ACTION_ROW
        for col in t.schema.columns:
            arr = t.values[col.name]
            base = t.present.get(col.name, 0)
            if col.kind == "money":
                if col.nonnegative:
                    self.flag(
                        t,
                        _cmp(pc.less(arr, 0.0)),
                        col.name,
                        "negative amount",
                        action=action,
                        fix=f"correct the sign of '{col.name}' in the source (money is yuan, >= 0)",
                        base=base,
                    )
                self.flag(
                    t,
                    _cmp(pc.greater(arr, self.rules.max_money)),
                    col.name,
                    f"amount above {self.rules.max_money:g} yuan",
                    action=action,
                    fix=f"correct '{col.name}' (yuan, not fen?) or raise validation.max_money in the mapping",
                    base=base,
                )
            if col.min_value is not None and col.kind in {"int", "money"}:
                self.flag(
                    t,
                    _cmp(pc.less(arr, col.min_value)),
                    col.name,
                    f"{col.name} below {col.min_value:g}",
                    action=action,
                    fix=f"correct '{col.name}' in the source (it must be at least {col.min_value:g})",
                    base=base,
                )
            if col.kind == "int" and col.name.endswith("year"):
                self.flag(
                    t,
                    _cmp(pc.greater(arr, self.extracted_on.year)),
                    col.name,
                    "year after the extraction date",
                    action=action,
                    fix=self._future_fix(col),
                    base=base,
                )
            if col.kind == "date":
                self.flag(
                    t,
                    _cmp(pc.greater(arr, pa.scalar(self.limit_ns, pa.timestamp("ns")))),
                    col.name,
                    "dated after the extraction date",
                    action=action,
                    fix=self._future_fix(col),
                    base=base,
                )

    def _future_fix(self, col: Column) -> str:
        return (
            f"correct '{col.name}' in the source, or check the extraction date "
            f"({self.extracted_on.isoformat()}; set it with 'extracted_on:' in bundle.yaml)"
        )

    def order_rules(self, t: WorkTable) -> None:
        """Date pairs that must be ordered, and income recorded before its year began."""
        for earlier, later in t.schema.date_columns_order:
            a, b = t.values[earlier], t.values[later]
            self.flag(
                t,
                _cmp(pc.less(b, a)),
                later,
                f"{later} before {earlier}",
                action=ACTION_ROW,
                fix=f"correct '{earlier}'/'{later}' in the source so that {earlier} <= {later}",
                base=t.present.get(later, 0),
            )
        columns = t.schema.column_names
        if "year" in columns and t.schema.time_column in columns:
            time_col = t.schema.time_column
            recorded_year = pc.year(t.values[time_col])
            self.flag(
                t,
                _cmp(pc.less(recorded_year, t.values["year"])),
                time_col,
                "recorded before the year it describes began",
                action=ACTION_ROW,
                fix=f"correct '{time_col}' or 'year' in the source",
                base=t.present.get(time_col, 0),
            )

    def households_key(self, t: WorkTable) -> None:
        """Duplicate household ids are an error: there is no telling which row is right."""
        ids = t.values["household_id"]
        codes, _ = factorize(ids)
        valid = codes >= 0
        counts = np.bincount(codes[valid]) if valid.any() else np.zeros(0, dtype=np.int64)
        dup = np.zeros(t.n, dtype=bool)
        dup[valid] = counts[codes[valid]] > 1
        if dup.any():
            idx = np.flatnonzero(dup)
            n_ids = int((counts > 1).sum())
            self.error(
                f"households.household_id ({t.source('household_id')}): {n_ids} household id(s) "
                f"appear more than once ({len(idx)} rows): "
                f"{describe_rows(t.rows[idx], t.shown('household_id', idx[:5]))}. A household must "
                "have exactly one row. Fix: remove or merge the duplicate rows in the source."
            )

    def households_of(self, t: WorkTable, households: WorkTable) -> None:
        """Rows whose household was set aside, or is not in households at all (orphans)."""
        ids = t.values["household_id"]
        has_id = _valid(ids)
        pos = pc.index_in(ids, value_set=households.values["household_id"])
        t.household_pos = np.where(
            has_id, pos.fill_null(-1).to_numpy(zero_copy_only=False), -1
        ).astype(np.int64)
        known = t.household_pos >= 0
        cascade = np.zeros(t.n, dtype=bool)
        cascade[known] = households.drop[t.household_pos[known]]
        self.flag(
            t,
            cascade,
            "household_id",
            "its household was set aside (see the households rows)",
            action=ACTION_ROW,
            fix="",
            base=None,
        )
        t.household_pos[cascade] = -1
        self.flag(
            t,
            has_id & ~known,
            "household_id",
            "household_id not in households",
            action=ACTION_ROW,
            fix="make sure ids are written the same way in every file (leading zeros, spaces, "
            "Excel number formatting) and that the households file is complete",
            base=int(has_id.sum()),
        )

    def duplicate_keys(self, t: WorkTable) -> None:
        """Rows sharing the table's key: identical copies keep the first, others go aside."""
        if not t.schema.key:
            return
        survivors = np.flatnonzero(~t.drop)
        if not len(survivors):
            return
        every_row = len(survivors) == t.n  # the usual case: no copy of the key columns
        sel = pa.array(survivors, pa.int64())
        keys = group_codes(
            [
                t.household_pos[survivors]
                if k == "household_id" and t.household_pos is not None
                else t.values[k]
                if every_row
                else t.values[k].take(sel)
                for k in t.schema.key
            ]
        )
        valid = keys >= 0
        counts = np.bincount(keys[valid]) if valid.any() else np.zeros(0, dtype=np.int64)
        dup_local = np.zeros(len(keys), dtype=bool)
        dup_local[valid] = counts[keys[valid]] > 1
        if not dup_local.any():
            return
        sub = survivors[dup_local]
        sub_sel = pa.array(sub, pa.int64())
        full = group_codes(
            [t.values[c.name].take(sub_sel) for c in t.schema.columns], null_is_value=True
        )
        frame = pd.DataFrame({"key": keys[dup_local], "full": full})
        variants = frame.groupby("key")["full"].transform("nunique").to_numpy()
        first = ~frame.duplicated(["key"]).to_numpy()
        key_name = ", ".join(t.schema.key)
        extra_copy = np.zeros(t.n, dtype=bool)
        extra_copy[sub[(variants == 1) & ~first]] = True
        conflicting = np.zeros(t.n, dtype=bool)
        conflicting[sub[variants > 1]] = True
        column = t.schema.key[-1]
        self.flag(
            t,
            extra_copy,
            column,
            f"exact duplicate of an earlier row (same {key_name}); first copy kept",
            action=ACTION_ROW,
            fix=f"remove the repeated rows from {t.label}",
            base=t.n,
        )
        self.flag(
            t,
            conflicting,
            column,
            f"several rows with the same {key_name} but different values",
            action=ACTION_ROW,
            fix=f"keep one row per {key_name} in {t.label}",
            base=t.n,
        )

    def _same_household(
        self, events: WorkTable, members: WorkTable, kept: np.ndarray, pos: np.ndarray
    ) -> np.ndarray:
        """Whether each event's household is that of member ``kept[pos]`` (``pos`` -1: none).

        Households are compared by their row in households (integers, not strings): the ids are
        unique there, and without errors so far every row kept has its household's row.
        """
        found = pos >= 0
        if not found.any():
            return found
        member = kept[np.where(found, pos, 0)]  # any member where none was found (masked)
        member_rows, event_rows = members.household_pos, events.household_pos
        if not self.errors and member_rows is not None and event_rows is not None:
            return found & (member_rows[member] == event_rows)
        # loading fails anyway: compare the ids themselves (rows kept may lack a household row)
        owner_ids = members.values["household_id"].take(pa.array(member, pa.int64()))
        return found & _cmp(pc.equal(owner_ids, events.values["household_id"]))

    def event_members(self, events: WorkTable, members: WorkTable) -> None:
        """An event's ``member_id`` must be a member of the event's household."""
        if "member_id" not in events.values:
            return
        kept = np.flatnonzero(~members.drop)
        member_ids = members.values["member_id"].take(pa.array(kept, pa.int64()))
        ev_member = events.values["member_id"]
        has = _valid(ev_member) & ~events.drop
        if not has.any():
            return
        pos = pc.index_in(ev_member, value_set=member_ids).fill_null(-1)
        pos = pos.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        same = self._same_household(events, members, kept, pos)
        self.flag(
            events,
            has & ~same,
            "member_id",
            "member_id is not a member of this household",
            action=ACTION_VALUE,
            fix="make sure member ids in events match the members file (same id format, "
            "same household)",
            base=int(has.sum()),
        )
