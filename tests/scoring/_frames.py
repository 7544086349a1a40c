"""Score frames built in tests (not a fixture module: imported by the writer and output tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskml.scoring._columns import SCORE_COLUMNS, empty_scores, reason_column


def score_frame(n: int = 6, seed: int = 0) -> pd.DataFrame:
    """A score file's frame with every kind of value: scored, not eligible, rejected, reasons."""
    rng = np.random.default_rng(seed)
    out = empty_scores(n)
    out["household_id"] = pd.array([f"1504211000{i:05d}" for i in range(n)], dtype="string")
    out["county_code"] = pd.array(["150421"] * n, dtype="string")
    out["township_code"] = pd.array(["150421100"] * n, dtype="string")
    out["village_code"] = pd.array([f"150421100{i % 2:03d}" for i in range(n)], dtype="string")
    out["village_name"] = pd.array(
        [["乌兰嘎查", "巴彦村"][i % 2] for i in range(n)], dtype="string"
    )
    out["as_of"] = pd.Series(pd.Timestamp("2025-06-30"), index=out.index).astype("datetime64[ns]")
    status = np.array(["scored"] * n, dtype=object)
    status[1] = "not_eligible"
    status[2] = "rejected"
    out["status"] = pd.array(status, dtype="string")
    detail = [None] * n
    detail[1] = (
        "监测对象（边缘易致贫户），2024-03-01 识别 / under monitoring since 2024-03-01 (edge)"
    )
    detail[2] = "set aside by the loader: households.village_code: empty"
    out["status_detail"] = pd.array(detail, dtype="string")
    scored = status == "scored"
    score = np.where(scored, rng.uniform(0, 1, n), np.nan)
    score[0] = 1 / 3  # a value whose decimal form needs all digits
    out["score"] = score
    out["raw_score"] = np.where(scored, np.log(score / (1 - score)), np.nan)
    out["rank_village"] = pd.array(
        [r if s else None for r, s in zip(range(1, n + 1), scored, strict=True)], dtype="Int64"
    )
    out["rank_township"] = out["rank_village"]
    out["tier"] = pd.array(
        [("high" if v > 0.5 else "low") if s else None for v, s in zip(score, scored, strict=True)],
        dtype="string",
    )
    out["flagged"] = pd.array(
        (out["tier"] == "high").fillna(False).to_numpy(dtype=bool), dtype="boolean"
    )
    flag = out["flagged"].to_numpy(dtype=bool)
    texts = {
        "type": "illness",
        "feature": "hospitalizations_12m",
        "zh": "近12个月有家庭成员住院 2 次",
        "en": "2 hospital stays in the last 12 months",
        "public_zh": "近12个月家庭有成员多次住院治疗",
        "public_en": "members were treated in hospital several times in the last 12 months",
    }
    for field, text in texts.items():
        out[reason_column(1, field)] = pd.array(np.where(flag, text, None), dtype="string")
    household = {
        "context_zh": "本村 8% 的农户正在监测中",
        "context_en": "8% of the village's households are under monitoring",
        "measures_zh": "大病保险、临时救助",
        "measures_en": "critical-illness insurance; temporary assistance",
        "measures_in_place_zh": "已享受医疗救助",
        "measures_in_place_en": "already receives medical assistance",
        "public_measures_zh": "临时救助、综合保障帮扶",
        "public_measures_en": "temporary assistance; social-security support",
    }
    for column, text in household.items():
        out[column] = pd.array(np.where(flag, text, None), dtype="string")
    out[reason_column(1, "contribution")] = np.where(flag, 0.8125, np.nan)
    out["change"] = pd.array(
        ["new_flag", "unchanged", "unchanged"] + ["score_up"] * (n - 3), dtype="string"
    )
    out["previous_score"] = np.where(scored, 0.1, np.nan)
    out["previous_tier"] = pd.array(["low" if s else None for s in scored], dtype="string")
    # the review loop and the below-line route
    out["village_seq"] = pd.array([i // 2 + 1 for i in range(n)], dtype="Int64")
    out["group_name"] = pd.array([["一组", None][i % 2] for i in range(n)], dtype="string")
    out["head_name"] = pd.array([f"户主{i}" for i in range(n)], dtype="string")
    out["review_hold"] = pd.array(
        [None, None, None, "held_back", "flagged_again"][:n] + [None] * max(0, n - 5),
        dtype="string",
    )
    out["last_review_on"] = pd.to_datetime(
        (["2025-03-01", None, None, "2025-05-20", "2025-05-21"] + [None] * n)[:n]
    ).astype("datetime64[ns]")
    out["last_review_outcome"] = pd.array(
        (["identified", None, None, "not_at_risk", "not_at_risk"] + [None] * n)[:n],
        dtype="string",
    )
    out["income_year"] = pd.array([2024 if i % 3 else None for i in range(n)], dtype="Int64")
    known = np.array([i % 3 != 0 for i in range(n)])
    out["pc_income"] = np.where(known, 4184.25 + 1000 * np.arange(n), np.nan)
    out["threshold"] = np.where(known, 8000.0, np.nan)
    out["income_below_threshold"] = pd.array(
        [bool(p < 8000) if k else None for p, k in zip(out["pc_income"], known, strict=True)],
        dtype="boolean",
    )
    return out[list(SCORE_COLUMNS)]
