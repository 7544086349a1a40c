"""``summarize_bundle``: what is in a bundle, and what loading set aside or changed."""

from __future__ import annotations

from typing import Any

import pandas as pd

from riskml.data._bundle import Bundle
from riskml.data._schema import ALL_TABLES

__all__ = ["render_summary", "summarize_bundle"]


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _date_range(frame: pd.DataFrame, table: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    lows, highs = [], []
    for col in ALL_TABLES[table].columns:
        if col.kind == "date" and col.name in frame.columns and len(frame):
            values = frame[col.name]
            lows.append(values.min())
            highs.append(values.max())
    lows = [v for v in lows if not pd.isna(v)]
    highs = [v for v in highs if not pd.isna(v)]
    return (min(lows) if lows else None, max(highs) if highs else None)


def _date_ranges(tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Overall ``first``/``last`` dates and each table's."""
    per_table = {}
    firsts, lasts = [], []
    for name, frame in tables.items():
        low, high = _date_range(frame, name)
        if low is not None:
            per_table[name] = {"first": _iso(low), "last": _iso(high)}
            firsts.append(low)
            lasts.append(high)
    return {
        "first": _iso(min(firsts)) if firsts else None,
        "last": _iso(max(lasts)) if lasts else None,
        "tables": per_table,
    }


def _identification(tables: dict[str, pd.DataFrame], n_households: int) -> dict[str, Any]:
    """Households first identified per year, and that count over the number of households."""
    identified: dict[int, int] = {}
    monitoring = tables.get("monitoring")
    if monitoring is not None and len(monitoring):
        first = monitoring.groupby("household_id", observed=True)["identified_on"].min().dropna()
        identified = {int(y): int(c) for y, c in first.dt.year.value_counts().sort_index().items()}
    rate = {y: (c / n_households if n_households else 0.0) for y, c in identified.items()}
    return {"households_first_identified": identified, "rate": rate}


def _quarantine_summary(q: pd.DataFrame, report: dict[str, Any]) -> dict[str, Any]:
    quarantine: dict[str, Any] = {"records": len(q)}
    if len(q):
        aside = q[q["action"] != "value cleared"] if "action" in q.columns else q
        quarantine["rows_set_aside"] = {
            str(t): int(n)
            for t, n in aside.drop_duplicates(["table", "row"])["table"].value_counts().items()
        }
        quarantine["by_reason"] = {
            f"{t}.{c}: {r}": int(n)
            for (t, c, r), n in q.groupby(["table", "column", "reason"], sort=False).size().items()
        }
        if "action" in q.columns:
            quarantine["values_cleared"] = int((q["action"] == "value cleared").sum())
    else:
        quarantine.update({"rows_set_aside": {}, "by_reason": {}})
    quarantine["households_set_aside"] = report.get("households_set_aside", 0)
    return quarantine


_REPORT_KEYS = (
    "recoded_values",
    "fallback_values",
    "filled_values",
    "ignored_columns",
    "unmatched_mapping_columns",
    "split_values_dropped",
    "files",
)
"""What the summary copies of a loaded bundle's load report (empty for a bundle built in memory)."""


def summarize_bundle(bundle: Bundle) -> dict[str, Any]:
    """A JSON-friendly summary of ``bundle``.

    Keys: ``extracted_on``, ``province``, ``source``, ``households``, ``rows`` (per table),
    ``date_range`` (overall ``first``/``last`` and per table), ``identification`` (households
    first identified as monitoring objects per year, and that count divided by the number of
    households), ``quarantine`` (records, rows set aside per table, records per reason,
    households set aside) and, for a loaded bundle, ``normalised_ids`` (total and per column),
    ``recoded_values``, ``fallback_values``, ``ignored_columns``, ``files`` and
    ``extracted_on_from``.

    Examples
    --------
    >>> summarize_bundle(bundle)["rows"]  # doctest: +SKIP
    {'households': 400, 'members': 1307, ...}
    """
    tables = bundle.tables
    households = tables.get("households")
    n_households = 0 if households is None else len(households)
    report = bundle.load_report
    normalised = report.get("normalised_ids", {})
    return {
        "extracted_on": bundle.extracted_on.isoformat(),
        "extracted_on_from": report.get("extracted_on_from"),
        "province": bundle.province,
        "source": bundle.source,
        "households": n_households,
        "rows": {name: len(frame) for name, frame in tables.items()},
        "date_range": _date_ranges(tables),
        "identification": _identification(tables, n_households),
        "quarantine": _quarantine_summary(bundle.quarantine, report),
        "normalised_ids": {"total": int(sum(normalised.values())), "columns": dict(normalised)},
        **{key: dict(report.get(key, {})) for key in _REPORT_KEYS},
    }


def _tables_table(summary: dict[str, Any]) -> Any:
    """One line per table: source file, encoding (when known), rows, rows set aside, dates."""
    from rich.table import Table

    files = summary.get("files", {})
    aside = summary["quarantine"].get("rows_set_aside", {})
    t = Table(
        title=f"Bundle — extracted on {summary['extracted_on']} ({summary.get('extracted_on_from') or 'given'})"
    )
    show_encoding = any(info.get("encoding") for info in files.values())
    t.add_column("table", no_wrap=True)
    t.add_column("source file", overflow="fold")
    if show_encoding:
        t.add_column("encoding", no_wrap=True)
    t.add_column("rows", justify="right", no_wrap=True)
    t.add_column("set aside", justify="right", no_wrap=True)
    t.add_column("dates", no_wrap=True)
    for name, n in summary["rows"].items():
        info = files.get(name, {})
        dr = summary["date_range"]["tables"].get(name)
        cells = [
            name,
            str(info.get("file") or "—") + (f" [{info['sheet']}]" if info.get("sheet") else ""),
            *([str(info.get("encoding") or "—")] if show_encoding else []),
            f"{n:,}",
            f"{aside.get(name, 0):,}",
            f"{dr['first']}…{dr['last']}" if dr else "—",
        ]
        t.add_row(*cells)
    return t


def _households_table(summary: dict[str, Any]) -> Any:
    from rich.table import Table

    facts = Table(title="Households", show_header=False)
    facts.add_column("what")
    facts.add_column("value", justify="right")
    if summary.get("province") or summary.get("source"):
        facts.add_row(
            "province / source",
            f"{summary.get('province') or '—'} / {summary.get('source') or '—'}",
        )
    facts.add_row("households loaded", f"{summary['households']:,}")
    facts.add_row(
        "households set aside", f"{summary['quarantine'].get('households_set_aside', 0):,}"
    )
    facts.add_row("ids normalised (spaces / full-width)", f"{summary['normalised_ids']['total']:,}")
    facts.add_row("codes recoded by the mapping", f"{sum(summary['recoded_values'].values()):,}")
    if summary["fallback_values"]:
        facts.add_row("codes set to a fallback", f"{sum(summary['fallback_values'].values()):,}")
    for key, n in summary["filled_values"].items():
        facts.add_row(f"{key} filled by default", f"{n:,}")
    return facts


def _identification_table(summary: dict[str, Any]) -> Any | None:
    from rich.table import Table

    ident = summary["identification"]
    if not ident["households_first_identified"]:
        return None
    it = Table(title="Newly identified monitoring households per year")
    it.add_column("year")
    it.add_column("households", justify="right")
    it.add_column("share of households", justify="right")
    for year, n in ident["households_first_identified"].items():
        it.add_row(str(year), f"{n:,}", f"{ident['rate'][year]:.2%}")
    return it


def _quarantine_table(summary: dict[str, Any]) -> Any | None:
    from rich.table import Table

    reasons = summary["quarantine"].get("by_reason", {})
    if not reasons:
        return None
    qt = Table(title=f"Quarantine: {summary['quarantine']['records']:,} records")
    qt.add_column("table.column: reason")
    qt.add_column("records", justify="right")
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        qt.add_row(reason, f"{n:,}")
    return qt


def _notes_table(summary: dict[str, Any]) -> Any | None:
    from rich.table import Table

    notes = []
    for table, cols in summary["ignored_columns"].items():
        notes.append(f"{table}: source columns not used: {', '.join(cols)}")
    for table, cols in summary["unmatched_mapping_columns"].items():
        notes.append(f"{table}: mapped source columns absent from the file: {', '.join(cols)}")
    for table, n in summary["split_values_dropped"].items():
        notes.append(f"{table}: {n} codes beyond the last split column not kept")
    if not notes:
        return None
    nt = Table(title="Notes", show_header=False)
    nt.add_column("note")
    for note in notes:
        nt.add_row(note)
    return nt


def render_summary(summary: dict[str, Any]) -> list[Any]:
    """Rich renderables (tables) showing ``summary`` in a terminal."""
    parts = (
        _tables_table(summary),
        _households_table(summary),
        _identification_table(summary),
        _quarantine_table(summary),
        _notes_table(summary),
    )
    return [part for part in parts if part is not None]
