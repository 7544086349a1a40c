"""Model evaluation reports for data scientists (``riskml report-model``).

Built from what a training (or evaluation) run logged to MLflow, never from the booster. The
run's artifacts are read through :mod:`riskml.tracking` (the only package that talks to MLflow);
a local folder with the same layout works too. The layout, relative to the run's artifact root,
is the one ``riskml.tracking.train_and_register`` writes:

=====================================  ====================================================
``backtest/backtest_table.csv``        pooled metrics, one row per method (``method`` column:
                                       model and every baseline), metric columns
``backtest/folds.csv``                 one row per backtest fold
``backtest/fairness.csv``              subgroup metrics (``riskml.models._fairness.FAIRNESS_COLUMNS``)
``backtest/fairness_gaps.csv``         largest gap per audit group and metric
``evaluation/evaluation_table.csv``    the same table for an evaluation run (``riskml evaluate``)
``plots/roc.png``                      ROC, pooled out-of-fold
``plots/precision_recall.png``         precision-recall
``plots/calibration.png``              calibration
``plots/shap_by_feature.png``          global SHAP: mean |SHAP| per feature
``plots/shap_by_risk_type.png``        global SHAP per risk type
``plots/shap_beeswarm.png``            SHAP summary (beeswarm)
``plots/shap_dependence_*.png``        SHAP dependence plots, included as they are
``shap/sample.parquet``                optional: a sample of feature values (column ``<f>``)
                                       and SHAP values (column ``shap.<f>``); when present,
                                       dependence plots of the top features are drawn here
``model_card.json`` / ``model_card.md``  the model card (``riskml.tracking.build_model_card``)
=====================================  ====================================================

Any item may be missing; the report says so in its section. The finished report is logged back
to the run under ``evaluation_report/``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from riskml import __version__
from riskml.config.reports import LANGS, ReportsConfig, load_reports_config
from riskml.reports._fonts import CJKFont, find_cjk_font
from riskml.reports._output import OutputFolder, safe_filename
from riskml.reports._render import STATIC_CSS, PdfWriter, jinja_env, now_text
from riskml.reports._scorefile import ReportInputError

__all__ = ["ARTIFACT_LAYOUT", "REPORT_ARTIFACT_PATH", "ModelReportResult", "render_model_report"]

REPORT_ARTIFACT_PATH = "evaluation_report"
"""Where the finished report is logged in the run's artifacts."""

ARTIFACT_LAYOUT: dict[str, str] = {
    "backtest_table": "backtest/backtest_table.csv",
    "evaluation_table": "evaluation/evaluation_table.csv",
    "folds": "backtest/folds.csv",
    "fairness": "backtest/fairness.csv",
    "fairness_gaps": "backtest/fairness_gaps.csv",
    "model_card_json": "model_card.json",
    "model_card_md": "model_card.md",
    "shap_sample": "shap/sample.parquet",
}
PERFORMANCE_PLOTS = ("roc", "precision_recall", "calibration")
SHAP_PLOTS = ("shap_by_feature", "shap_by_risk_type", "shap_beeswarm")
_DOWNLOAD = (
    "backtest",
    "evaluation",
    "plots",
    "shap",
    "model_card.json",
    "model_card.md",
    "training_set.json",
)
_TOP_DEPENDENCE = 6


@dataclass
class ModelReportResult:
    """What :func:`render_model_report` wrote."""

    out_dir: Path
    index: Path
    run_id: str | None
    logged_to: str | None
    sections: dict[str, bool] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def files(self) -> list[Path]:
        return sorted(p for p in self.out_dir.rglob("*") if p.is_file())


def _read_csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, encoding="utf-8")
    except (ValueError, OSError) as exc:
        raise ReportInputError(f"Cannot read the run artifact {path.name}: {exc}") from exc


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        v = float(value)
        if v.is_integer() and abs(v) >= 1:
            return f"{int(v):,}"
        return f"{v:.3f}" if abs(v) < 1000 else f"{v:,.0f}"
    if pd.isna(value):
        return "—"
    return str(value)


def _by_metric(table: pd.DataFrame | None, *, max_columns: int = 8) -> pd.DataFrame | None:
    """A wide backtest table (methods × many metrics) turned to metrics × methods, to fit a page."""
    if (
        table is None
        or table.empty
        or table.shape[1] <= max_columns
        or table.columns[0] != "method"
    ):
        return table
    return table.set_index("method").T.rename_axis("metric").reset_index()


def _table(
    frame: pd.DataFrame | None, *, highlight: str | None = None, max_rows: int = 400
) -> dict[str, Any] | None:
    """A frame as ``{"columns": [...], "rows": [[...], ...], "highlight": [bool]}`` for templates."""
    if frame is None or frame.empty:
        return None
    frame = frame.head(max_rows)
    first = frame.columns[0]
    rows = [[_fmt(v) for v in rec] for rec in frame.itertuples(index=False, name=None)]
    marks = [str(v) == highlight for v in frame[first]] if highlight else [False] * len(rows)
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    hl_col = [str(c) for c in frame.columns].index(highlight) if highlight in frame.columns else -1
    return {
        "columns": [str(c) for c in frame.columns],
        "rows": rows,
        "highlight": marks,
        "hl_col": hl_col,
        "numeric": numeric,
    }


def _dependence_plots(
    sample: pd.DataFrame, out: OutputFolder, font: CJKFont, config: ReportsConfig
) -> list[dict[str, str]]:
    """SHAP dependence plots of the top features (by mean |SHAP|) from a logged SHAP sample."""
    from riskml.reports._charts import chart_style, save_figure

    shap_cols = [
        c for c in sample.columns if str(c).startswith("shap.") and str(c)[5:] in sample.columns
    ]
    if not shap_cols:
        return []
    strength = sample[shap_cols].abs().mean().sort_values(ascending=False)
    plots = []
    for col in strength.index[:_TOP_DEPENDENCE]:
        feature = str(col)[5:]
        x = sample[feature]
        y = sample[col].to_numpy(dtype=float)
        with chart_style(font):
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            fig = Figure(figsize=(5.0, 3.4), layout="constrained")
            FigureCanvasAgg(fig)
            ax = fig.add_subplot()
            if isinstance(x.dtype, pd.CategoricalDtype) or x.dtype == object:
                codes = x.astype("category")
                xs = codes.cat.codes.to_numpy(dtype=float)
                ax.set_xticks(
                    range(len(codes.cat.categories)),
                    [str(c) for c in codes.cat.categories],
                    rotation=30,
                )
            else:
                xs = pd.to_numeric(x, errors="coerce").to_numpy(dtype=float)
            jitter = (
                np.random.default_rng(0).uniform(-0.08, 0.08, len(xs))
                if np.unique(xs[np.isfinite(xs)]).size < 12
                else 0.0
            )
            ax.scatter(xs + jitter, y, s=5, alpha=0.5, color="#2f6f9f", linewidths=0)
            ax.axhline(0, color="grey", linewidth=0.8)
            ax.set(xlabel=feature, ylabel="SHAP (log-odds)")
            name = f"shap_dependence_{safe_filename(feature)}.png"
            save_figure(fig, out.path("plots", name), dpi=config.chart.dpi)
        plots.append({"title": feature, "href": "plots/" + quote(name)})
    return plots


def _fetch_run_artifacts(
    model: str, tracking_uri: str | None, dest: Path
) -> tuple[Any, str, dict[str, str]]:
    """Resolve ``model`` to its run and download the report-relevant artifacts into ``dest``."""
    from riskml.tracking import open_store, resolve_model_uri

    store = open_store(tracking_uri, experiment=None)
    with store.active():
        resolved = resolve_model_uri(model, store)
        run_id = resolved.run_id
        if not run_id:
            raise ReportInputError(
                f"Model {model!r} has no MLflow run to read its evaluation from."
            )
        client = store.client
        run = client.get_run(run_id)
        present = {a.path for a in client.list_artifacts(run_id)}
        for path in _DOWNLOAD:
            if path in present:
                client.download_artifacts(run_id, path, str(dest))
    info = {
        "run_id": run_id,
        "run_name": run.info.run_name or "",
        "model_uri": model,
        "model_name": run.data.tags.get("riskml.model_name", ""),
        "feature_set": " ".join(
            x
            for x in (
                run.data.tags.get("riskml.feature_set", ""),
                run.data.tags.get("riskml.feature_set_version", ""),
            )
            if x
        ),
        "tracking_uri": store.display_uri,
    }
    return store, run_id, info


def render_model_report(
    model: str | Path,
    out_dir: str | Path,
    *,
    tracking_uri: str | None = None,
    lang: str | None = None,
    formats: str | Sequence[str] | None = None,
    log_to_run: bool = True,
    config: ReportsConfig | None = None,
    font_list: Sequence[Any] | None = None,
) -> ModelReportResult:
    """Write a model evaluation report and log it back to the model's MLflow run.

    Parameters
    ----------
    model
        A model URI (``models:/NAME@champion``, ``models:/NAME/3``, ``runs:/RUN_ID/model``)
        resolved through :mod:`riskml.tracking`, or a local folder of run artifacts in the
        layout above (then nothing is logged).
    out_dir
        The report folder (``index.html``, ``plots/``, ``static/``, optionally ``report.pdf``).
    tracking_uri
        The MLflow store (default: ``MLFLOW_TRACKING_URI`` or ``models/mlflow.db``).
    lang, formats
        ``zh``/``en``; ``html`` and/or ``pdf``.
    log_to_run
        Log the finished report to the run under ``evaluation_report/``.

    Raises
    ------
    ReportInputError
        The run logged none of riskml's evaluation artifacts.
    riskml.tracking.TrackingError, riskml.tracking.ModelNotFoundError
        The store or the model cannot be reached.
    """
    from riskml.reports._review import _choice, _formats

    started = time.perf_counter()
    config = config or load_reports_config()
    lang = _choice(lang, config.defaults.lang, LANGS, "--lang")
    fmts = _formats(formats, config.defaults.formats)
    font = find_cjk_font(font_list, config.cjk_fonts)
    folder = OutputFolder(out_dir)
    folder.check()
    pdf = PdfWriter() if "pdf" in fmts else None
    with tempfile.TemporaryDirectory(prefix="riskml-model-report-") as tmp:
        src, store, run_id, info = _source(model, tracking_uri, Path(tmp))
        t_fetch = time.perf_counter()
        arts = _read_artifacts(src, run_id)
        with folder:
            shutil.copyfile(STATIC_CSS, folder.path("static", "report.css"))
            plots = _copy_plots(folder, arts, font, config)
            ctx = _model_context(config, lang, arts, plots, info, str(model), run_id, src)
            ctx["pdf_href"] = "report.pdf" if pdf else None
            index = folder.path("index.html")
            index.write_text(jinja_env().get_template("model.html").render(**ctx), encoding="utf-8")
            if pdf is not None:  # the whole folder is staged, so the order of files does not matter
                pdf.write(index, folder.path("report.pdf"))
            manifest = {"riskml_version": __version__, "kind": "model", "model": str(model)}
            out = folder.commit({**manifest, "run_id": run_id, "lang": lang, "formats": list(fmts)})
        logged_to = None
        if log_to_run and store is not None and run_id:
            with store.active():
                store.client.log_artifacts(run_id, str(out), artifact_path=REPORT_ARTIFACT_PATH)
            logged_to = f"runs:/{run_id}/{REPORT_ARTIFACT_PATH}"
    finished = time.perf_counter()
    return ModelReportResult(
        out_dir=out,
        index=out / "index.html",
        run_id=run_id,
        logged_to=logged_to,
        sections={
            "backtest": arts.backtest is not None,
            "fairness": arts.fairness is not None,
            "performance_plots": bool(plots["perf_plots"]),
            "shap_summary": bool(plots["shap_plots"]),
            "shap_dependence": bool(plots["dependence"]),
            "model_card": bool(arts.card or arts.card_md),
        },
        seconds={"fetch": round(t_fetch - started, 3), "total": round(finished - started, 3)},
    )


def _source(
    model: str | Path, tracking_uri: str | None, tmp: Path
) -> tuple[Path, Any, str | None, dict[str, str]]:
    """Where the artifacts are: a local folder as given, or a run's downloaded into ``tmp``."""
    if not str(model).startswith(("models:/", "runs:/")) and Path(model).is_dir():
        info = {"run_id": "", "run_name": "", "model_uri": str(model), "model_name": ""}
        return Path(model), None, None, {**info, "feature_set": "", "tracking_uri": ""}
    store, run_id, info = _fetch_run_artifacts(str(model), tracking_uri, tmp)
    return tmp, store, run_id, info


@dataclass
class _Artifacts:
    """What a training run logged for its report (``None``/empty when it did not)."""

    card: dict[str, Any]
    card_md: str
    backtest: pd.DataFrame | None
    fairness: pd.DataFrame | None
    gaps: pd.DataFrame | None
    folds: pd.DataFrame | None
    sample_path: Path
    plots: dict[str, Path]


def _read_artifacts(src: Path, run_id: str | None) -> _Artifacts:
    card_path, md_path = (
        src / ARTIFACT_LAYOUT["model_card_json"],
        src / ARTIFACT_LAYOUT["model_card_md"],
    )
    card: dict[str, Any] = (
        json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else {}
    )
    backtest = _read_csv(src / ARTIFACT_LAYOUT["backtest_table"])
    if backtest is None:
        backtest = _read_csv(src / ARTIFACT_LAYOUT["evaluation_table"])
    if backtest is None and card.get("metrics"):
        backtest = pd.DataFrame(card["metrics"])
    fairness = _read_csv(src / ARTIFACT_LAYOUT["fairness"])
    if (
        fairness is not None
        and "method" in fairness.columns
        and (fairness["method"] == "model").any()
    ):
        fairness = fairness[fairness["method"] == "model"].drop(columns="method")
    if fairness is None and card.get("subgroups"):
        fairness = pd.DataFrame(card["subgroups"])
    plot_dir = src / "plots"
    plots = {p.stem: p for p in plot_dir.glob("*.png")} if plot_dir.is_dir() else {}
    if not (card or backtest is not None or plots or fairness is not None):
        where = f"run {run_id}" if run_id else str(src)
        raise ReportInputError(
            f"The {where} logged none of riskml's evaluation artifacts ({', '.join(list(ARTIFACT_LAYOUT.values())[:3])}, "
            "plots/*.png, model_card.json). Give the URI of a model trained with 'riskml train'."
        )
    return _Artifacts(
        card=card,
        card_md=md_path.read_text(encoding="utf-8") if md_path.is_file() else "",
        backtest=backtest,
        fairness=fairness,
        gaps=_read_csv(src / ARTIFACT_LAYOUT["fairness_gaps"]),
        folds=_read_csv(src / ARTIFACT_LAYOUT["folds"]),
        sample_path=src / ARTIFACT_LAYOUT["shap_sample"],
        plots=plots,
    )


def _copy_plots(
    folder: OutputFolder, arts: _Artifacts, font: CJKFont, config: ReportsConfig
) -> dict[str, list[dict[str, str]]]:
    """The run's plots copied into the report (SHAP dependence drawn from the sample if absent)."""

    def copy_plot(stem: str) -> dict[str, str] | None:
        if stem not in arts.plots:
            return None
        name = safe_filename(stem) + ".png"
        shutil.copyfile(arts.plots[stem], folder.path("plots", name))
        return {"title": stem.replace("_", " "), "href": "plots/" + quote(name)}

    def copied(stems: Any) -> list[dict[str, str]]:
        return [p for p in (copy_plot(s) for s in stems) if p]

    dependence = copied(s for s in sorted(arts.plots) if s.startswith("shap_dependence_"))
    if not dependence and arts.sample_path.is_file():
        dependence = _dependence_plots(pd.read_parquet(arts.sample_path), folder, font, config)
    return {
        "perf_plots": copied(PERFORMANCE_PLOTS),
        "shap_plots": copied(SHAP_PLOTS),
        "dependence": dependence,
    }


def _model_context(
    config: ReportsConfig,
    lang: str,
    arts: _Artifacts,
    plots: dict[str, list[dict[str, str]]],
    info: dict[str, str],
    model: str,
    run_id: str | None,
    src: Path,
) -> dict[str, Any]:
    """``model.html``'s context: run metadata, tables, plots and the model card."""
    card = arts.card
    model_info = card.get("model", {}) if isinstance(card.get("model"), dict) else {}
    name = str(model_info.get("name") or info["model_name"] or "")
    version = f"v{model_info['version']}" if model_info.get("version") else ""
    title_model = " ".join(x for x in (name, version) if x) or model
    training = card.get("training", {})
    feature_set = (
        info["feature_set"]
        or " ".join(
            str(model_info.get("feature_set", {}).get(k) or "") for k in ("name", "version")
        ).strip()
    )
    gaps = arts.gaps
    return {
        "t": config.text[lang],  # type: ignore[index]
        "lang": lang,
        "html_lang": "zh-CN" if lang == "zh" else "en",
        "mode": "internal",
        "version": __version__,
        "css_href": "static/report.css",
        "meta": {
            "as_of": " – ".join(
                str(x) for x in (training.get("as_of_first"), training.get("as_of_last")) if x
            ),
            "model": title_model,
            "feature_set": feature_set,
            "source": f"{info['tracking_uri']} run {run_id}" if run_id else str(src),
            "generated_at": now_text(),
        },
        "title_model": title_model,
        "run_id": run_id,
        "backtest": _table(_by_metric(arts.backtest), highlight="model"),
        "folds": _table(arts.folds),
        "fairness": _table(arts.fairness),
        "gaps": _table(
            gaps.sort_values("gap", ascending=False) if gaps is not None and "gap" in gaps else gaps
        ),
        **plots,
        "card": card,
        "card_model": {
            k: v for k, v in model_info.items() if k != "feature_set" and v not in (None, "")
        },
        "card_md": arts.card_md if not card else "",
    }
