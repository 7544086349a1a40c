"""The run summary: every input household reconciled, tiers, change, drift, versions; printing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from riskml.scoring._columns import STATUS_VALUES

__all__ = ["ReconciliationError", "build_summary", "print_summary", "reconcile_households"]


class ReconciliationError(RuntimeError):
    """The score file does not account for every input household (a bug: please report it)."""


def reconcile_households(scores: pd.DataFrame, universe: pd.DataFrame) -> dict[str, int]:
    """Check that every input household appears exactly once with a known status.

    Returns counts per status. Raises :class:`ReconciliationError` (never an ``assert``) naming
    the households that are missing, duplicated or extra, or the unknown statuses.
    """
    ids = scores["household_id"].astype("string")
    expected = pd.Index(universe["household_id"].astype("string").to_numpy(dtype=object))
    got = pd.Index(ids.to_numpy(dtype=object))
    problems = []
    dup = got[got.duplicated()]
    if len(dup):
        problems.append(f"{len(dup)} household(s) listed more than once")
    missing = expected.difference(got)
    if len(missing):
        problems.append(f"{len(missing)} input household(s) missing from the output")
    extra = got.difference(expected)
    if len(extra):
        problems.append(f"{len(extra)} household(s) in the output that are not in the input")
    status = scores["status"].astype("string")
    unknown = status[~status.isin(STATUS_VALUES)]
    if len(unknown):
        problems.append(
            f"{len(unknown)} row(s) with an unknown status {sorted(unknown.fillna('<NA>').unique())[:3]}"
        )
    counts = {s: int((status == s).sum()) for s in STATUS_VALUES}
    if sum(counts.values()) != len(expected):
        problems.append(
            f"status counts {counts} add up to {sum(counts.values())}, not {len(expected)} input households"
        )
    if problems:
        raise ReconciliationError(
            "The scoring run does not reconcile with its input: " + "; ".join(problems) + ". "
            "No score file was written. This is a riskml bug; please report it with the run summary."
        )
    return counts


def _reject_kind(detail: str) -> str:
    for prefix, kind in (
        ("set aside by the loader", "set aside by the loader (quarantine)"),
        ("no row in the households table", "no row in the households table"),
        ("not in the model's world", "value never seen in training"),
        ("features missing", "too many features missing"),
    ):
        if detail.startswith(prefix):
            return kind
    return detail.split(":", 1)[0]


def build_summary(
    scores: pd.DataFrame,
    *,
    counts: Mapping[str, int],
    input_households: int,
    run: Mapping[str, Any],
    drift: Mapping[str, Any] | None,
    change: Mapping[str, int] | None,
    quarantine: pd.DataFrame | None,
    timings: Mapping[str, float],
) -> dict[str, Any]:
    """The run summary written to ``<out>.summary.json`` (no household ids in it)."""
    status = scores["status"].astype("string")
    scored = status == "scored"
    tiers = scores.loc[scored, "tier"].astype("string").value_counts()
    detail = scores["status_detail"].astype("string").fillna("")
    rejected = detail[status == "rejected"].map(_reject_kind).value_counts()
    not_eligible = (
        scores.loc[status == "not_eligible", "status_detail"]
        .astype("string")
        .str.extract(r"\((\w+)\)\s*$")[0]
    )
    q_by_table: dict[str, int] = {}
    if quarantine is not None and len(quarantine) and "table" in quarantine.columns:
        q_by_table = {
            str(k): int(v) for k, v in quarantine["table"].astype("string").value_counts().items()
        }
    summary: dict[str, Any] = {
        **dict(run),
        "input_households": int(input_households),
        "status": {k: int(v) for k, v in counts.items()},
        "reconciled": sum(counts.values()) == input_households,
        "tiers": {t: int(tiers.get(t, 0)) for t in ("high", "medium", "low")},
        "flagged": int(scores["flagged"].astype("boolean").fillna(False).sum()),
        "with_reasons": int(
            scores.get("reason_1_public_zh", pd.Series(dtype="string")).notna().sum()
        ),
        "not_eligible_by_category": {
            str(k): int(v) for k, v in not_eligible.value_counts().items()
        },
        "rejected_by_reason": {str(k): int(v) for k, v in rejected.items()},
        "quarantined_rows_by_table": q_by_table,
        "change": dict(change) if change is not None else None,
        "drift": dict(drift) if drift is not None else None,
        "timings_seconds": {k: round(float(v), 3) for k, v in timings.items()},
    }
    return summary


def drift_against(drift: Mapping[str, Any]) -> str:
    """What the roster was compared with, in words (for the console and the log)."""
    ref = drift.get("reference") or {}
    text = f"PSI ≥ {drift.get('psi_warn')} against the training reference"
    if ref.get("as_of"):
        text += f" of {ref['as_of']} (same season, {ref.get('elapsed_months', 0):g} months apart)"
    if drift.get("aged"):
        text += "; after the elapsed time: " + ", ".join(drift["aged"])
    return text


def drift_item(drift: Mapping[str, Any], feature: str) -> str:
    """``feature (PSI 1.23)`` or, for a rare event whose rate moved, its rate then and now.

    A rate of households reads as a share (``7.0% → 14.0% of households``); a count of records
    (an area's disaster records) as records per 100 households, which may pass 100.
    """
    rate = (drift.get("event_rates") or {}).get(feature)
    if rate is not None and rate.get("per") == "record":
        ref, now = 100 * rate["reference"], 100 * rate["now"]
        return f"{feature} ({ref:.1f} → {now:.1f} records per 100 households)"
    if rate is not None:
        return f"{feature} ({rate['reference']:.1%} → {rate['now']:.1%} of households)"
    return f"{feature} ({drift['psi'][feature]:.2f})"


def _print_counts(con: Any, summary: Mapping[str, Any]) -> None:
    """The run's header line, households by status, tiers, rejections and change."""
    from rich.table import Table

    model = summary.get("model", {})
    fs = summary.get("feature_set", {})
    con.print(
        f"[bold]riskml score[/] as of {summary.get('as_of')} · model {model.get('name')} v{model.get('version')} "
        f"· feature set {fs.get('name')} {fs.get('version')} · engine {summary.get('engine')} · mode {summary.get('mode')}"
    )
    t = Table(title="Households", show_header=True)
    t.add_column("status")
    t.add_column("households", justify="right")
    for k, v in summary["status"].items():
        t.add_row(k, f"{v:,}")
    t.add_row("[bold]input[/]", f"[bold]{summary['input_households']:,}[/]")
    con.print(t)
    tiers = summary["tiers"]
    con.print(
        f"tiers: high {tiers['high']:,} · medium {tiers['medium']:,} · low {tiers['low']:,} · "
        f"flagged {summary['flagged']:,} · explained {summary.get('explained', 0):,} "
        f"(with at least one reason {summary['with_reasons']:,})"
    )
    if summary.get("rejected_by_reason"):
        con.print(
            "rejected: " + "; ".join(f"{k} {v:,}" for k, v in summary["rejected_by_reason"].items())
        )
    if summary.get("change"):
        con.print(
            "since the previous run: "
            + ", ".join(f"{k} {v:,}" for k, v in summary["change"].items())
        )


def _print_followup(con: Any, summary: Mapping[str, Any]) -> None:
    """The review loop (reviews, held back, flagged again) and the below-line route."""
    follow = summary.get("followup") or {}
    if follow.get("with_review"):
        con.print(
            f"reviews: {follow['with_review']:,} households with a review on or before as-of "
            f"(not at risk {follow.get('last_review_not_at_risk', 0):,}, identified "
            f"{follow.get('last_review_identified', 0):,}); held back in the quiet period "
            f"{follow.get('held_back', 0):,}, flagged again on new records "
            f"{follow.get('flagged_again', 0):,}"
        )
    if follow.get("income_below_threshold_not_monitored"):
        con.print(
            f"income below the monitoring line (not monitoring objects): "
            f"{follow['income_below_threshold_not_monitored']:,}, of which not flagged "
            f"{follow.get('income_below_threshold_not_flagged', 0):,} — check them directly"
        )


def _print_drift(con: Any, summary: Mapping[str, Any]) -> None:
    drift = summary.get("drift") or {}
    if drift.get("warnings"):
        shown = drift["warnings"][:8]
        more = len(drift["warnings"]) - len(shown)
        con.print(
            f"[bold yellow]drift warning:[/] {drift_against(drift)}: "
            + ", ".join(drift_item(drift, f) for f in shown)
            + (f" and {more} more (see the summary JSON)" if more else "")
        )
    elif drift.get("available"):
        con.print(f"drift: no feature shifted ({drift_against(drift)})")
    if drift.get("left_out"):
        con.print(
            "drift: left out of the alarm: "
            + "; ".join(f"{f} ({why})" for f, why in drift["left_out"].items())
        )


def _top_flagged(summary: Mapping[str, Any], scores: pd.DataFrame, top: int) -> Any | None:
    """The ``top`` flagged households: masked id, village, score, tier, public reasons."""
    from rich.table import Table

    from riskml.scoring._output import mask_ids

    flagged = scores.loc[scores["flagged"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    if not len(flagged) or top <= 0:
        return None
    keys = [c for c in ("score", "raw_score") if c in flagged.columns] + ["household_id"]
    flagged = flagged.sort_values(keys, ascending=[False] * (len(keys) - 1) + [True]).head(top)
    public = summary.get("mode") == "public"
    # the console is a log: meeting-safe wording only, never health details
    text = "reason_{k}_public_zh"
    tt = Table(title=f"Top {len(flagged)} flagged households", show_lines=False)
    for col in ("household", "village", "score", "tier", "reasons"):
        tt.add_column(col)
    masked = (
        mask_ids(flagged["household_id"], 4)
        if not public
        else flagged["household_id"].astype("string")
    )
    for (_, row), hid in zip(flagged.iterrows(), masked, strict=True):
        reasons = [row.get(text.format(k=k)) for k in range(1, 5)]
        reasons = [str(r) for r in reasons if isinstance(r, str) and r]
        tt.add_row(
            str(hid),
            str(
                row.get("village_name")
                if pd.notna(row.get("village_name"))
                else row.get("village_code")
            ),
            f"{row['score']:.3f}",
            str(row["tier"]),
            "；".join(reasons) or "—",
        )
    return tt


def print_summary(
    summary: Mapping[str, Any], scores: pd.DataFrame, *, console: Any = None, top: int = 10
) -> None:
    """Print the run summary and the top flagged households with their reasons (rich).

    Household ids are masked and the reasons are the public (village-meeting) wording, whatever
    the mode: console output ends up in logs, which must hold neither ids nor health details.
    """
    from rich.console import Console

    con = console or Console()
    _print_counts(con, summary)
    _print_followup(con, summary)
    _print_drift(con, summary)
    table = _top_flagged(summary, scores, top)
    if table is not None:
        con.print(table)
    output = summary.get("output") or {}
    if output.get("path"):
        con.print(f"→ {output['path']} ({output['rows']:,} rows) · summary {output['summary']}")
