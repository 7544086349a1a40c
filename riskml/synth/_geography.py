"""The province's map and weather: leagues -> banners -> townships -> villages, and disasters.

Everything here is drawn once per province from the world stream (see ``_rng``), so it is the
same for every chunk. Small provinces use fewer banners (``geography.households_per_banner``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskml.config.synth import BANNER_TYPES, SynthConfig
from riskml.synth._params import KIND_DROUGHT, KIND_SNOW, Calendar

__all__ = ["BANNER_TYPES", "DisasterSchedule", "Geography", "build_geography"]


@dataclass(frozen=True)
class DisasterSchedule:
    """Disasters as rows: month index, area index (banner or township), kind, severity, day."""

    month: np.ndarray
    area: np.ndarray
    kind: np.ndarray  # strings from DISASTER_KINDS
    severity: np.ndarray
    day: np.ndarray  # day offset within the month

    def in_month(self, t: int) -> np.ndarray:
        return np.flatnonzero(self.month == t)


@dataclass(frozen=True)
class Geography:
    banner_code: np.ndarray
    banner_name: np.ndarray
    banner_type: np.ndarray  # index into BANNER_TYPES
    ethnicities: tuple[str, ...]
    ethnic_cum: np.ndarray  # (n_banners, n_ethnicities) cumulative shares
    township_code: np.ndarray
    township_banner: np.ndarray
    village_code: np.ndarray
    village_name: np.ndarray
    village_township: np.ndarray
    village_banner: np.ndarray
    village_bounds: np.ndarray  # households of village v are [bounds[v], bounds[v+1])
    village_diligence: np.ndarray
    banner_disasters: DisasterSchedule
    township_disasters: DisasterSchedule

    @property
    def n_households(self) -> int:
        return int(self.village_bounds[-1])

    def village_of(self, households: np.ndarray) -> np.ndarray:
        """Village index of each global household index."""
        return np.searchsorted(self.village_bounds, households, side="right") - 1


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` that add up to ``total`` exactly."""
    raw = total * weights / weights.sum()
    out = np.floor(raw).astype(np.int64)
    short = total - int(out.sum())
    if short > 0:
        out[np.argsort(-(raw - out), kind="stable")[:short]] += 1
    return out


def _village_names(rng: np.random.Generator, gacha: np.ndarray, config: SynthConfig) -> np.ndarray:
    syl = config.geography.syllables
    mong = np.array(syl.mongolian, dtype=object)
    han = np.array(syl.han, dtype=object)
    han_suffix = np.array(syl.han_suffix, dtype=object)
    n = len(gacha)
    m1 = mong[rng.integers(0, len(mong), n)]
    m2 = mong[rng.integers(0, len(mong), n)]
    h1 = han[rng.integers(0, len(han), n)]
    h2 = han_suffix[rng.integers(0, len(han_suffix), n)]
    return np.where(gacha, m1 + m2 + "嘎查", h1 + h2 + "村").astype(object)


def build_geography(
    config: SynthConfig, n_households: int, rng: np.random.Generator, cal: Calendar
) -> Geography:
    """Draw the map of a province of ``n_households`` households."""
    geo = config.geography
    banners = [b for lg in geo.leagues for b in lg.banners]
    weights = np.array([b.weight for b in banners])
    n_banners = int(
        np.clip(round(n_households / geo.households_per_banner), geo.min_banners, len(banners))
    )
    n_banners = min(n_banners, n_households)
    chosen = np.sort(
        rng.choice(len(banners), size=n_banners, replace=False, p=weights / weights.sum())
    )
    sel = [banners[i] for i in chosen]
    hh_per_banner = _largest_remainder(n_households, weights[chosen])

    # ethnicity shares per banner: Mongolian, the banner's own others, province-wide others, Han
    ethnicities: list[str] = ["蒙古族"]
    for b in sel:
        for name in b.other_ethnic:
            if name not in ethnicities:
                ethnicities.append(name)
    for name in geo.other_ethnicity:
        if name not in ethnicities:
            ethnicities.append(name)
    ethnicities.append("汉族")
    shares = np.zeros((n_banners, len(ethnicities)))
    for i, b in enumerate(sel):
        shares[i, 0] = b.mongol_share
        for name, s in {**geo.other_ethnicity, **b.other_ethnic}.items():
            shares[i, ethnicities.index(name)] += s
        shares[i, -1] = max(0.0, 1.0 - shares[i, :-1].sum())
    shares /= shares.sum(axis=1, keepdims=True)

    vh = geo.village_households
    t_codes, t_banner, v_codes, v_town, v_banner, v_sizes, v_gacha = [], [], [], [], [], [], []
    for i, b in enumerate(sel):
        hh = int(hh_per_banner[i])
        if hh == 0:
            continue
        nv = max(1, round(hh / vh.mean))
        nv = min(nv, max(1, hh // max(1, int(vh.min))))
        sizes = np.maximum(rng.normal(vh.mean, vh.sd, nv), vh.min)
        sizes = _largest_remainder(hh, sizes)
        nt = max(1, round(nv / geo.villages_per_township.mean))
        nt = min(nt, max(1, int(nv // max(1, int(geo.villages_per_township.min)))))
        town_of_village = np.sort(rng.integers(0, nt, nv))
        town_of_village = np.unique(town_of_village, return_inverse=True)[1]  # no empty townships
        nt = int(town_of_village.max()) + 1
        gacha_share = geo.gacha_share[b.type]
        town_gacha = rng.random(nt) < gacha_share
        for t in range(nt):
            t_codes.append(f"{b.code}{(200 if town_gacha[t] else 100) + t:03d}")
            t_banner.append(i)
        first_town = len(t_codes) - nt
        per_town_counter = np.zeros(nt, dtype=np.int64)
        for v in range(nv):
            t = int(town_of_village[v])
            v_codes.append(f"{t_codes[first_town + t]}{200 + per_town_counter[t]:03d}")
            per_town_counter[t] += 1
            v_town.append(first_town + t)
            v_banner.append(i)
            v_gacha.append(
                bool(
                    rng.random() < (0.5 + 0.5 * gacha_share if town_gacha[t] else 0.5 * gacha_share)
                )
            )
        v_sizes.extend(sizes.tolist())

    village_gacha = np.array(v_gacha, dtype=bool)
    names = _village_names(rng, village_gacha, config)
    bounds = np.concatenate([[0], np.cumsum(np.array(v_sizes, dtype=np.int64))])
    diligence = np.exp(
        rng.normal(0.0, config.cadres.diligence_sd, len(v_codes))
        - config.cadres.diligence_sd**2 / 2
    )
    banner_type = np.array([BANNER_TYPES.index(b.type) for b in sel], dtype=np.int64)

    return Geography(
        banner_code=np.array([b.code for b in sel], dtype=object),
        banner_name=np.array([b.name for b in sel], dtype=object),
        banner_type=banner_type,
        ethnicities=tuple(ethnicities),
        ethnic_cum=np.cumsum(shares, axis=1),
        township_code=np.array(t_codes, dtype=object),
        township_banner=np.array(t_banner, dtype=np.int64),
        village_code=np.array(v_codes, dtype=object),
        village_name=names,
        village_township=np.array(v_town, dtype=np.int64),
        village_banner=np.array(v_banner, dtype=np.int64),
        village_bounds=bounds,
        village_diligence=diligence,
        banner_disasters=_banner_disasters(config, rng, cal, banner_type),
        township_disasters=_township_disasters(config, rng, cal, len(t_codes)),
    )


def _banner_disasters(
    config: SynthConfig, rng: np.random.Generator, cal: Calendar, banner_type: np.ndarray
) -> DisasterSchedule:
    """White disasters (snow) in winter and droughts in summer, each hitting a whole banner."""
    sh = config.shocks
    types = config.geography.banner_types
    snow_p = np.array([types[t].snow_annual_prob for t in BANNER_TYPES])[banner_type]
    drought_p = np.array([types[t].drought_annual_prob for t in BANNER_TYPES])[banner_type]
    rows: list[tuple[int, int, str, float, int]] = []
    years = np.unique(cal.year)
    for year in years:
        for kind, probs, months in (
            (KIND_SNOW, snow_p, sh.snow_months),
            (KIND_DROUGHT, drought_p, sh.drought_months),
        ):
            hit = rng.random(len(banner_type)) < probs
            month_pick = rng.integers(0, len(months), len(banner_type))
            severity = rng.beta(sh.disaster_severity.a, sh.disaster_severity.b, len(banner_type))
            for b in np.flatnonzero(hit):
                moy = months[int(month_pick[b])]
                idx = np.flatnonzero((cal.year == year) & (cal.month_of_year == moy))
                if idx.size:
                    t = int(idx[0])
                    day = int(rng.integers(0, max(1, int(cal.days_in_month[t]) - 6)))
                    rows.append((t, int(b), kind, float(severity[b]), day))
    return _schedule(rows)


def _township_disasters(
    config: SynthConfig, rng: np.random.Generator, cal: Calendar, n_townships: int
) -> DisasterSchedule:
    """Hail, floods and sandstorms over single townships."""
    sh = config.shocks
    kinds = list(sh.local_kinds)
    kp = np.array([sh.local_kinds[k] for k in kinds])
    hits = rng.random((cal.n_months, n_townships)) < sh.local_disaster_monthly_per_township
    t_idx, town = np.nonzero(hits)
    kind = np.array(kinds, dtype=object)[rng.choice(len(kinds), size=t_idx.size, p=kp / kp.sum())]
    severity = rng.uniform(sh.local_severity[0], sh.local_severity[1], t_idx.size)
    day = np.floor(rng.random(t_idx.size) * (cal.days_in_month[t_idx] - 6).clip(1)).astype(np.int64)
    rows = list(
        zip(
            t_idx.tolist(),
            town.tolist(),
            kind.tolist(),
            severity.tolist(),
            day.tolist(),
            strict=True,
        )
    )
    return _schedule(rows)


def _schedule(rows: list[tuple[int, int, str, float, int]]) -> DisasterSchedule:
    if not rows:
        return DisasterSchedule(
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, object),
            np.zeros(0),
            np.zeros(0, np.int64),
        )
    t, a, k, s, d = zip(*rows, strict=True)
    return DisasterSchedule(
        np.array(t, np.int64),
        np.array(a, np.int64),
        np.array(k, dtype=object),
        np.array(s),
        np.array(d, np.int64),
    )
