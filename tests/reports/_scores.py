"""A generator of score files in the format ``riskml score`` writes (for report tests and benches).

It writes the columns of ``riskml.scoring._columns`` (Parquet, the score file's own names and
dtypes, with the run's metadata in the Parquet schema) for a made-up province: Chinese village
names, 18-digit household ids, sensitive internal reason texts (diagnoses) that public reports
must never show, and the awkward cases reports must survive: villages named ``../x`` and ``a/b``,
a village with no flagged household, a county with a single household. Vectorised with numpy: 200,000
households take about two seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from riskml.config.explain import load_explain_config
from riskml.scoring import to_public
from riskml.scoring import write_scores as scoring_write_scores
from riskml.scoring._columns import (
    MAX_REASONS,
    columns_for_mode,
    reason_column,
    score_dtypes,
)

__all__ = [
    "EMPTY_VILLAGE",
    "SENSITIVE_TEXTS",
    "SINGLE_COUNTY",
    "TRAVERSAL_VILLAGES",
    "ProvinceSpec",
    "make_scores",
    "sensitive_measures",
    "write_scores",
]

# risk type -> internal reason texts (zh, en): household details, including diagnoses, that only
# internal reports may show. Public wording and measures come from configs/explain.yaml, as
# riskml.explain writes them into score files.
_INTERNAL: dict[str, list[tuple[str, str]]] = {
    "illness": [
        ("患恶性肿瘤，住院3次", "Malignant tumour, 3 hospital stays"),
        (
            "尿毒症长期透析，自付医疗费2.4万元",
            "Kidney failure on dialysis, 24,000 yuan out of pocket",
        ),
    ],
    "disability": [("户主二级肢体残疾", "Head of household has a grade-2 physical disability")],
    "disaster": [("白灾损失牲畜23头", "Lost 23 head of livestock in a snow disaster")],
    "accident": [("交通事故致家庭成员骨折", "Traffic accident, a member broke a leg")],
    "labor_shortage": [("家中仅有70岁以上老人", "Only members over 70 in the household")],
    "industry_failure": [("肉牛养殖亏损3.1万元", "Beef cattle business lost 31,000 yuan")],
    "unstable_employment": [("外出务工中断6个月", "Migrant work interrupted for 6 months")],
    "education": [("两名子女在读高中、大学", "Two children in senior high school and college")],
    "other": [
        (
            "2023 年人均纯收入 7,100 元，不到当年监测线 6,000 元的 1.5 倍",
            "per-capita net income in 2023 was 7,100 yuan, under 1.5 times the line",
        )
    ],
}

# risk type -> the public register of the same facts (what riskml.explain writes in public mode)
_PUBLIC: dict[str, tuple[str, str]] = {
    "illness": ("2023 年家庭医疗自付费用较高", "out-of-pocket medical costs were high in 2023"),
    "disability": ("家庭有成员劳动能力受限", "a member's capacity to work is limited"),
    "disaster": ("近12个月牲畜损失 1 次", "one livestock loss in the last 12 months"),
    "accident": ("近12个月发生意外事故 1 次", "one accident in the last 12 months"),
    "labor_shortage": ("家中无劳动年龄（16–64岁）人口（家庭共 2 人）", "no working-age member"),
    "industry_failure": ("近24个月产业经营失败 1 次", "one business failure in the last 24 months"),
    "unstable_employment": ("近12个月家庭成员失业 1 人次", "a member lost a job"),
    "education": ("近12个月有 1 名子女辍学", "a child dropped out of school"),
    "other": ("2023 年人均纯收入接近当年监测线", "per-capita net income close to the line in 2023"),
}


def _measures(code: str, public: bool) -> tuple[str, str]:
    cfg = load_explain_config()
    names = cfg.risk_types[code].measures_for(public)
    return (
        cfg.measures_separator_zh.join(cfg.measures[m].zh for m in names),
        cfg.measures_separator_en.join(cfg.measures[m].en for m in names),
    )


def _reason_table() -> dict[str, list[tuple[str, ...]]]:
    """type -> [(internal zh, internal en, public zh, public en, measures zh, measures en,
    public measures zh, public measures en)]: what explain writes for a household whose first
    reason has that type."""
    table = {}
    for code, variants in _INTERNAL.items():
        table[code] = [
            (zh, en, *_PUBLIC[code], *_measures(code, False), *_measures(code, True))
            for zh, en in variants
        ]
    return table


_REASONS = _reason_table()
RISK_TYPE_CODES: tuple[str, ...] = tuple(_REASONS)
SENSITIVE_TEXTS: tuple[str, ...] = tuple(
    t for entries in _INTERNAL.values() for e in entries for t in e
)
"""Internal reason texts (diagnoses, disabilities): never in a public report."""


def sensitive_measures(lang: str) -> set[str]:
    """Internal measures of sensitive risk types (e.g. 医疗救助 reveals illness) that no public
    wording uses: a public report must not show them."""
    cfg = load_explain_config()
    public = {m for w in cfg.risk_types.values() for m in w.measures_for(True)}
    internal = {m for w in cfg.risk_types.values() if w.sensitive for m in w.measures}
    return {cfg.measures[m].label(lang) for m in internal - public}


TRAVERSAL_VILLAGES: tuple[str, ...] = ("../x", "a/b")
EMPTY_VILLAGE = "无预警村"
SINGLE_COUNTY = "159999"

_PREFIXES = (
    "红旗",
    "新发",
    "东升",
    "西营子",
    "南岗",
    "北沟",
    "前进",
    "后营",
    "太平",
    "长胜",
    "永安",
    "富民",
    "团结",
    "光明",
    "和平",
    "兴隆",
    "乌兰",
    "巴彦",
    "查干",
    "宝力格",
    "哈达",
    "敖包",
    "白音",
    "阿拉坦",
)
_SUFFIXES = ("村", "嘎查", "屯", "村")


@dataclass(frozen=True)
class ProvinceSpec:
    """Shape of the made-up province."""

    n_households: int = 400
    n_villages: int = 10
    villages_per_township: int = 4
    townships_per_county: int = 3
    seed: int = 0
    edge_cases: bool = True
    as_of: str = "2025-06-30"
    raw_mean: float = -3.2
    """Mean raw score (log-odds): -3.2 flags about a quarter of scored households (plenty for
    tests); -4.0 about 6 %, closer to a real province."""


def _village_names(n: int) -> list[str]:
    names = []
    for i in range(n):
        base = _PREFIXES[i % len(_PREFIXES)] + _SUFFIXES[(i // len(_PREFIXES)) % len(_SUFFIXES)]
        rep = i // (len(_PREFIXES) * len(_SUFFIXES))
        names.append(base if rep == 0 else f"{base}{rep + 1}组")
    return names


def make_scores(spec: ProvinceSpec = ProvinceSpec()) -> pd.DataFrame:
    """An internal-mode score frame (every column of ``SCORE_COLUMNS``, the scorer's dtypes).

    With ``edge_cases`` the last villages are named ``../x`` and ``a/b``, one village
    (:data:`EMPTY_VILLAGE`) has no flagged household, and county :data:`SINGLE_COUNTY` holds a
    single household.
    """
    rng = np.random.default_rng(spec.seed)
    n, nv = spec.n_households, spec.n_villages
    if n < nv + 1:
        raise ValueError(f"n_households ({n}) must exceed n_villages ({nv})")
    names = _village_names(nv)
    if spec.edge_cases and nv >= 4:
        names[-3], names[-2], names[-1] = (
            TRAVERSAL_VILLAGES[0],
            TRAVERSAL_VILLAGES[1],
            EMPTY_VILLAGE,
        )
    v_idx = np.arange(nv)
    township = v_idx // spec.villages_per_township
    county = township // spec.townships_per_county
    county_code = np.array([f"15{1 + c:02d}{2 + c:02d}" for c in county])
    township_code = np.array(
        [
            f"{cc}{t % spec.townships_per_county + 1:03d}"
            for cc, t in zip(county_code, township, strict=True)
        ]
    )
    village_code = np.array(
        [
            f"{tc}{v % spec.villages_per_township + 1:03d}"
            for tc, v in zip(township_code, v_idx, strict=True)
        ]
    )

    n_regular = n - 1 if spec.edge_cases else n
    hv = np.sort(rng.integers(0, nv, n_regular))
    hv[:nv] = np.arange(nv)  # every village has at least one household
    hv = np.sort(hv)
    serial = pd.Series(hv).groupby(hv).cumcount().to_numpy() + 1
    household_id = np.char.add(
        village_code[hv].astype("U12"), np.char.zfill(serial.astype("U6"), 6)
    )
    frame = pd.DataFrame(
        {
            "household_id": household_id,
            "county_code": county_code[hv],
            "township_code": township_code[hv],
            "village_code": village_code[hv],
            "village_name": np.array(names, dtype=object)[hv],
        }
    )
    if spec.edge_cases:
        single = pd.DataFrame(
            {
                "household_id": [f"{SINGLE_COUNTY}001001000001"],
                "county_code": [SINGLE_COUNTY],
                "township_code": [f"{SINGLE_COUNTY}001"],
                "village_code": [f"{SINGLE_COUNTY}001001"],
                "village_name": ["独户嘎查"],
            }
        )
        frame = pd.concat([frame, single], ignore_index=True)
    n = len(frame)
    frame["as_of"] = pd.Timestamp(spec.as_of)

    u = rng.random(n)
    status = np.where(u < 0.86, "scored", np.where(u < 0.95, "not_eligible", "rejected"))
    if spec.edge_cases:
        status[-1] = "scored"
    scored = status == "scored"
    raw = rng.normal(spec.raw_mean, 1.3, n)
    score = 1.0 / (1.0 + np.exp(-raw))
    if spec.edge_cases and nv >= 4:
        empty = frame["village_name"].to_numpy() == EMPTY_VILLAGE
        score[empty] = np.minimum(score[empty], 0.05)
    if spec.edge_cases:
        score[-1] = 0.31  # the single household is flagged
    tier = np.where(score >= 0.20, "high", np.where(score >= 0.08, "medium", "low"))
    flagged = scored & (tier != "low")
    frame["status"] = status
    frame["status_detail"] = np.where(
        status == "rejected",
        "缺少2024年收入记录",
        np.where(status == "not_eligible", "已纳入监测（边缘易致贫户）", None),
    )
    frame["score"] = np.where(scored, score, np.nan)
    frame["raw_score"] = np.where(scored, raw, np.nan)
    frame["tier"] = np.where(scored, tier, None)
    frame["flagged"] = np.where(scored, flagged, False)
    s = pd.Series(np.where(scored, score, np.nan))
    frame["rank_village"] = s.groupby(frame["village_code"]).rank(ascending=False, method="first")
    frame["rank_township"] = s.groupby(frame["township_code"]).rank(ascending=False, method="first")

    # The review loop's columns: a village-local number, 村民小组 and head names (internal only),
    # the last review, and the latest verified income against that year's line.
    frame["village_seq"] = (
        pd.Series(frame["household_id"]).groupby(frame["village_code"]).rank(method="first")
    ).astype("Int64")
    frame["group_name"] = np.where(
        rng.random(n) < 0.7, "第" + pd.Series(rng.integers(1, 6, n)).astype(str) + "组", None
    )
    frame["head_name"] = np.where(rng.random(n) < 0.7, "王某某", None)
    reviewed = scored & (rng.random(n) < 0.05)
    frame["last_review_on"] = pd.Series(
        pd.Timestamp(spec.as_of) - pd.Timedelta(days=40), index=range(n)
    ).where(reviewed)
    frame["last_review_outcome"] = np.where(reviewed, "not_at_risk", None)
    # reviewed as not at risk and flagged again: within the quiet period most are held back
    # (not flagged), the others are flagged again because something new happened
    held = reviewed & flagged & (rng.random(n) < 0.6)
    again = reviewed & flagged & ~held
    review_day = str((pd.Timestamp(spec.as_of) - pd.Timedelta(days=40)).date())
    flagged = flagged & ~held
    frame["flagged"] = np.where(scored, flagged, False)
    frame["review_hold"] = np.where(held, "held_back", np.where(again, "flagged_again", None))
    frame.loc[held, "status_detail"] = f"核实后暂缓预警：{review_day} 核实为暂不纳入，此后无新情况"
    frame.loc[again, "status_detail"] = f"核实后再次预警：{review_day} 核实后新增住院记录"
    frame["income_year"] = np.where(scored, pd.Timestamp(spec.as_of).year - 1, None)
    frame["pc_income"] = np.where(scored, rng.lognormal(9.4, 0.5, n), np.nan)
    frame["threshold"] = np.where(scored, 8000.0, np.nan)
    frame["income_below_threshold"] = np.where(
        scored, frame["pc_income"] < frame["threshold"], None
    )

    # Reasons for flagged households: 1..4 distinct risk types, contributions decreasing.
    n_types = len(RISK_TYPE_CODES)
    type_weights = np.array([8.0, 2, 2, 1, 2, 2, 2, 1, 2, 0.5])
    order = np.argsort(-(rng.random((n, n_types)) ** (1.0 / type_weights[:n_types])), axis=1)
    n_reasons = np.where(flagged, rng.integers(1, MAX_REASONS + 1, n), 0)
    contrib = np.sort(rng.gamma(2.0, 0.35, (n, MAX_REASONS)), axis=1)[:, ::-1] + 0.05
    variant = rng.integers(0, 2, (n, MAX_REASONS))
    codes = np.array(RISK_TYPE_CODES, dtype=object)
    # lookup[j][type, variant] -> text j of that reason variant (vectorised text choice)
    lookup = [
        np.array(
            [[_REASONS[c][min(v, len(_REASONS[c]) - 1)][j] for v in range(2)] for c in codes],
            dtype=object,
        )
        for j in range(8)
    ]
    for k in range(1, MAX_REASONS + 1):
        has = n_reasons >= k
        t_idx = order[:, k - 1]
        texts = [lookup[j][t_idx, variant[:, k - 1]] for j in range(8)]
        frame[reason_column(k, "type")] = np.where(has, codes[t_idx], None)
        frame[reason_column(k, "feature")] = np.where(has, "f_" + codes[t_idx], None)
        frame[reason_column(k, "contribution")] = np.where(has, contrib[:, k - 1], np.nan)
        for j, field in enumerate(("zh", "en", "public_zh", "public_en")):
            frame[reason_column(k, field)] = np.where(has, texts[j], None)
        if k == 1:  # household-level measures follow the strongest reason here
            for j, col in enumerate(
                ("measures_zh", "measures_en", "public_measures_zh", "public_measures_en"),
                start=4,
            ):
                frame[col] = np.where(has, texts[j], None)
    frame["measures_in_place_zh"] = np.where(flagged & (rng.random(n) < 0.1), "已享受低保", None)
    frame["measures_in_place_en"] = np.where(
        frame["measures_in_place_zh"].notna(), "already receives dibao", None
    )
    frame["public_measures_in_place_zh"] = frame["measures_in_place_zh"]
    frame["public_measures_in_place_en"] = frame["measures_in_place_en"]
    ctx = flagged & (rng.random(n) < 0.3)
    frame["context_zh"] = np.where(ctx, "本村近12个月 12% 的农户受灾", None)
    frame["context_en"] = np.where(
        ctx, "12% of the village's households suffered a disaster loss in the last 12 months", None
    )

    # Change since the previous run, consistent with the flag.
    prev_flag = rng.random(n) < np.where(flagged, 0.6, 0.05)
    prev_flag |= held  # reviewed because they were on the previous list
    new_hh = rng.random(n) < 0.03
    moved = rng.normal(0, 0.05, n)
    change = np.select(
        [new_hh, flagged & ~prev_flag, ~flagged & prev_flag, moved > 0.05, moved < -0.05],
        ["new_household", "new_flag", "no_longer_flagged", "score_up", "score_down"],
        default="unchanged",
    )
    prev_score = np.clip(np.where(scored, score, rng.random(n) * 0.3) - moved, 0.001, 0.999)
    prev_score = np.where(prev_flag, np.maximum(prev_score, 0.09), np.minimum(prev_score, 0.079))
    frame["change"] = np.where(new_hh, None, change)
    frame.loc[new_hh, "change"] = "new_household"
    frame["previous_score"] = np.where(new_hh, np.nan, prev_score)
    frame["previous_tier"] = np.where(
        new_hh,
        None,
        np.where(prev_score >= 0.20, "high", np.where(prev_score >= 0.08, "medium", "low")),
    )
    dtypes = score_dtypes()
    out = pd.DataFrame({c: frame[c] for c in columns_for_mode("internal")})
    return out.astype({c: dtypes[c] for c in out.columns})


def write_scores(
    path: str | Path,
    frame: pd.DataFrame,
    *,
    mode: str = "internal",
    model_name: str = "riskml-recurrence",
    model_version: str = "3",
    feature_set: str = "default",
    feature_set_version: str = "1",
) -> Path:
    """Write ``frame`` with the scorer's own writer (``riskml.scoring.write_scores``).

    ``mode="public"`` applies the scorer's :func:`riskml.scoring.to_public` (masked ids, no
    internal texts or risk types). The metadata has the shape ``riskml score`` writes.
    """
    path = Path(path)
    out = to_public(frame, visible_chars=4) if mode == "public" else frame
    as_of = (
        str(pd.Timestamp(frame["as_of"].dropna().iloc[0]).date())
        if frame["as_of"].notna().any()
        else None
    )
    metadata = {
        "risk_types": {
            "visible": ["illness", "disability", "disaster", "accident", "labor_shortage"],
            "invisible": ["education"],
        },
        "as_of": as_of,
        "mode": mode,
        "model": {
            "uri": f"models:/{model_name}/{model_version}",
            "name": model_name,
            "version": model_version,
        },
        "feature_set": {"name": feature_set, "version": feature_set_version},
    }
    return scoring_write_scores(out, path, metadata=metadata)
