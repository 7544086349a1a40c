"""Households and their members at the start of the period (plus births and marriages to come).

Members live in a fixed number of *slots* per household so that every update is a 2-D numpy
operation: head, spouse, three children, two parents, two grandchildren, one baby born during
the period and one spouse marrying in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from riskml.config.synth import BANNER_TYPES, SynthConfig
from riskml.synth._geography import Geography
from riskml.synth._params import (
    EDU,
    LIVELIHOOD_KEYS,
    REL,
    Calendar,
    age_lookup,
    day_number,
)
from riskml.synth._rng import BlockRNG

__all__ = ["NEVER", "SLOT_RELATION", "Population", "init_population"]

LV_FARMING, LV_WAGE, LV_MIXED = (LIVELIHOOD_KEYS.index(k) for k in ("farming", "wage", "mixed"))
HEAD, SPOUSE, CHILD0, PARENT0, GRAND0, NEWBORN, INLAW = 0, 1, 2, 5, 7, 9, 10
K = 11
SLOT_RELATION = np.array(
    [
        REL["head"],
        REL["spouse"],
        REL["child"],
        REL["child"],
        REL["child"],
        REL["parent"],
        REL["parent"],
        REL["grandchild"],
        REL["grandchild"],
        REL["child"],
        REL["other"],
    ],
    dtype=np.int64,
)
NEVER = 1_000_000
"""Month index meaning "never" (not joined / not left)."""


@dataclass
class Population:
    """Mutable state of one chunk's households (``n``) and member slots (``n x K``)."""

    gidx: np.ndarray
    village: np.ndarray
    township: np.ndarray
    banner: np.ndarray
    btype: np.ndarray
    livelihood: np.ndarray
    formerly_poor: np.ndarray
    exit_year: np.ndarray
    relocated: np.ndarray
    relocation_year: np.ndarray
    scale: np.ndarray
    ethnicity: np.ndarray
    diligence: np.ndarray
    dibao: np.ndarray
    dibao_initial: np.ndarray
    pv_amount: np.ndarray
    pv_start_day: np.ndarray
    eco_subsidy: np.ndarray
    ecocomp_amount: np.ndarray
    ecocomp_start_day: np.ndarray
    land_rent: np.ndarray
    collective: np.ndarray
    farmland: np.ndarray
    # members (n, K)
    exists0: np.ndarray
    join_m: np.ndarray
    join_day: np.ndarray
    leave_m: np.ndarray
    leave_day: np.ndarray
    birth_year: np.ndarray
    female: np.ndarray
    education: np.ndarray
    relation: np.ndarray
    chronic: np.ndarray
    chronic_initial: np.ndarray
    disability: np.ndarray
    disability_initial: np.ndarray
    serious_left: np.ndarray
    migrant: np.ndarray
    migrant_initial: np.ndarray
    local_job: np.ndarray
    wage_monthly: np.ndarray
    student: np.ndarray
    college: np.ndarray

    @property
    def n(self) -> int:
        return len(self.gidx)

    def ever_member(self, n_months: int) -> np.ndarray:
        return self.exists0 | (self.join_m < n_months)


def _choice_rows(u: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """Categorical draw per row: ``cum`` is (n, k) cumulative probabilities, ``u`` uniform (n,)."""
    return np.minimum((u[:, None] >= cum).sum(axis=1), cum.shape[1] - 1)


def _by_age(table: dict[int, float], age: np.ndarray) -> np.ndarray:
    return age_lookup(table)(age)


def init_population(
    config: SynthConfig, cal: Calendar, geo: Geography, rng: BlockRNG, first: int, n: int
) -> Population:
    """Draw the households ``[first, first + n)`` and their members."""
    hc = config.households
    inc = config.income
    y0 = cal.first_year
    T = cal.n_months
    gidx = np.arange(first, first + n, dtype=np.int64)
    village = geo.village_of(gidx)
    township = geo.village_township[village]
    banner = geo.village_banner[village]
    btype = geo.banner_type[banner]

    u = rng.random(24)  # household-level uniforms, one column per use below
    z = rng.normal(10)  # household-level normals, likewise

    # livelihood, formerly poor, relocation, ethnicity ----------------------------------------
    mix = np.array([config.geography.banner_types[t].livelihood.as_tuple() for t in BANNER_TYPES])
    mix = mix / mix.sum(axis=1, keepdims=True)
    livelihood = _choice_rows(u[:, 0], np.cumsum(mix, axis=1)[btype])
    fp_share = np.array(
        [config.geography.banner_types[t].formerly_poor_share for t in BANNER_TYPES]
    )[btype]
    formerly_poor = u[:, 1] < fp_share
    years = np.array(sorted(hc.exit_year_weights))
    w = np.array([hc.exit_year_weights[y] for y in years])
    exit_year = np.where(
        formerly_poor, years[_choice_rows(u[:, 2], np.tile(np.cumsum(w / w.sum()), (n, 1)))], 0
    )
    reloc_p = np.where(
        formerly_poor, hc.relocated_share["formerly_poor"], hc.relocated_share["other"]
    )
    relocated = u[:, 3] < reloc_p
    r0, r1 = hc.relocation_years
    relocation_year = np.where(
        relocated, r0 + np.floor(u[:, 4] * (r1 - r0 + 1)).astype(np.int64), 0
    )
    if formerly_poor.any():  # relocation happened before exit
        relocation_year = np.where(
            relocated & formerly_poor,
            np.minimum(relocation_year, np.maximum(exit_year, r0)),
            relocation_year,
        )
    ethnicity = _choice_rows(u[:, 5], geo.ethnic_cum[banner])
    scale = z[:, 0] * hc.scale_sd + np.where(formerly_poor, hc.formerly_poor_scale_shift, 0.0)

    # members -------------------------------------------------------------------------------
    mu = rng.random(K, 4)  # per-slot uniforms: existence, age, sex, extra
    head_age = np.clip(
        np.round(hc.head_age.mean + hc.head_age.sd * z[:, 1]), hc.head_age.min, hc.head_age.max
    )
    age = np.full((n, K), -1.0)
    exists = np.zeros((n, K), dtype=bool)
    female = mu[:, :, 2] < 0.5
    exists[:, HEAD] = True
    age[:, HEAD] = head_age
    female[:, HEAD] = u[:, 6] < hc.head_female_share

    exists[:, SPOUSE] = mu[:, SPOUSE, 0] < _by_age(hc.spouse_prob_by_head_age, head_age)
    age[:, SPOUSE] = np.clip(
        np.round(head_age + hc.spouse_age_gap.mean + hc.spouse_age_gap.sd * z[:, 2]), 18, 95
    )
    female[:, SPOUSE] = ~female[:, HEAD]

    n_children = np.minimum(rng.poisson(_by_age(hc.children_mean_by_head_age, head_age)), 3)
    g0, g1 = hc.child_age_gap
    for j in range(3):
        slot = CHILD0 + j
        a = head_age - np.floor(g0 + mu[:, slot, 1] * (g1 - g0 + 1))
        exists[:, slot] = (n_children > j) & (a >= 0)
        age[:, slot] = a
    p0, p1 = hc.parent_age_gap
    has_parent = mu[:, PARENT0, 0] < _by_age(hc.parents_prob_by_head_age, head_age)
    for j in range(2):
        slot = PARENT0 + j
        a = head_age + np.floor(p0 + mu[:, slot, 1] * (p1 - p0 + 1))
        cond = has_parent if j == 0 else has_parent & (mu[:, slot, 0] < hc.second_parent_prob)
        exists[:, slot] = cond & (a <= 96)
        age[:, slot] = a
    female[:, PARENT0 + 1] = ~female[:, PARENT0]
    has_grand = mu[:, GRAND0, 0] < _by_age(hc.grandchildren_prob_by_head_age, head_age)
    for j in range(2):
        slot = GRAND0 + j
        a = np.floor(mu[:, slot, 1] * 15)
        cond = has_grand if j == 0 else has_grand & (mu[:, slot, 0] < hc.second_grandchild_prob)
        exists[:, slot] = cond & (head_age - a >= 38)
        age[:, slot] = a

    join_m = np.where(exists, -1, NEVER).astype(np.int64)
    join_day = np.full((n, K), -1, dtype=np.int64)
    # a birth during the period: to the head's couple if young, else to a grown child
    young_mother = (exists[:, HEAD] & female[:, HEAD] & (age[:, HEAD] <= 38)) | (
        exists[:, SPOUSE] & female[:, SPOUSE] & (age[:, SPOUSE] >= 20) & (age[:, SPOUSE] <= 38)
    )
    child_parent = (
        exists[:, CHILD0 : CHILD0 + 3]
        & (age[:, CHILD0 : CHILD0 + 3] >= 20)
        & (age[:, CHILD0 : CHILD0 + 3] <= 38)
    ).any(axis=1)
    birth = (young_mother | child_parent) & (mu[:, NEWBORN, 0] < hc.birth_in_period_prob)
    birth_m = np.floor(mu[:, NEWBORN, 1] * T).astype(np.int64)
    join_m[:, NEWBORN] = np.where(birth, birth_m, NEVER)
    age[:, NEWBORN] = -(
        cal.year[np.minimum(birth_m, T - 1)] - y0
    )  # birth year = year of birth month
    relation = np.tile(SLOT_RELATION, (n, 1))
    relation[:, NEWBORN] = np.where(young_mother, REL["child"], REL["grandchild"])
    # a spouse marrying in for a grown child
    marriable = (
        exists[:, CHILD0 : CHILD0 + 3]
        & (age[:, CHILD0 : CHILD0 + 3] >= 22)
        & (age[:, CHILD0 : CHILD0 + 3] <= 34)
    )
    inlaw = marriable.any(axis=1) & (mu[:, INLAW, 0] < hc.inlaw_in_period_prob)
    partner = CHILD0 + np.argmax(marriable, axis=1)
    inlaw_m = np.floor(mu[:, INLAW, 1] * T).astype(np.int64)
    join_m[:, INLAW] = np.where(inlaw, inlaw_m, NEVER)
    age[:, INLAW] = np.take_along_axis(age, partner[:, None], axis=1)[:, 0] + np.round(
        mu[:, INLAW, 3] * 4 - 2
    )
    female[:, INLAW] = ~np.take_along_axis(female, partner[:, None], axis=1)[:, 0]
    in_period = join_m < NEVER
    jm = np.minimum(join_m, T - 1)
    join_day = np.where(
        in_period & (join_m >= 0),
        cal.month_start[jm] + np.floor(mu[:, :, 3] * cal.days_in_month[jm]).astype(np.int64),
        -1,
    )

    birth_year = (y0 - age).astype(np.int64)
    ever = exists | in_period

    # education (as recorded at extraction) --------------------------------------------------
    final_age = cal.last_year - birth_year
    edu_years = np.array(sorted(hc.education_by_birth_year))
    edu_cum = np.cumsum(
        np.array(
            [
                [
                    hc.education_by_birth_year[y][k]
                    for k in ("none", "primary", "junior", "senior", "college")
                ]
                for y in edu_years
            ]
        ),
        axis=1,
    )
    edu_cum = edu_cum / edu_cum[:, -1:]
    cohort = np.minimum(np.searchsorted(edu_years, birth_year, side="right"), len(edu_years) - 1)
    eu = rng.random(K)
    adult_edu = np.minimum((eu[:, :, None] >= edu_cum[cohort]).sum(axis=2), 4)
    child_edu = np.select(
        [final_age < 7, final_age < 13, final_age < 16, final_age < 19],
        [EDU["none"], EDU["primary"], EDU["junior"], EDU["senior"]],
        default=EDU["senior"],
    )
    education = np.where(final_age >= 19, adult_edu, child_edu).astype(np.int64)

    # health at the start ---------------------------------------------------------------------
    hu = rng.random(K, 3)
    a0 = np.maximum(age, 0)
    chronic = exists & (hu[:, :, 0] < _by_age(config.health.chronic_prevalence_by_age, a0))
    grades = np.array(sorted(config.health.disability_grade_weights))
    gw = np.array([config.health.disability_grade_weights[g] for g in grades])
    grade = grades[
        np.minimum(np.searchsorted(np.cumsum(gw / gw.sum()), hu[:, :, 2], side="right"), 3)
    ]
    disabled = exists & (hu[:, :, 1] < _by_age(config.health.disability_prevalence_by_age, a0))
    disability = np.where(disabled, grade, 0).astype(np.int64)

    # work and schooling ----------------------------------------------------------------------
    wa0, wa1 = config.work.working_age
    able = exists & (age >= wa0) & (age <= wa1) & ((disability == 0) | (disability >= 3))
    wk = config.work
    school = wk.school_ages
    student = (
        exists
        & (age >= school["primary"])
        & (age <= school["college"])
        & (hu[:, :, 0] >= wk.out_of_school_share)
    )
    college = (
        exists
        & (age > school["college"])
        & (age < wk.college_leave_age)
        & (education == EDU["college"])
    )
    wu = rng.random(K, 2)
    wz = rng.normal(K)
    mig_share = np.array(inc.migrant_share_initial.as_tuple())[livelihood]
    loc_share = np.array(inc.local_job_share_initial.as_tuple())[livelihood]
    can_work = able & ~student & ~college
    migrant = can_work & (age <= wk.migrant_max_age) & (wu[:, :, 0] < mig_share[:, None])
    local_job = can_work & ~migrant & (wu[:, :, 1] < loc_share[:, None])
    # a wage or mixed household has somebody working; one without able workers lives off its land
    lv_wage = (livelihood == LV_WAGE) | (livelihood == LV_MIXED)
    jobless = lv_wage & ~(migrant | local_job).any(axis=1)
    first_able = np.argmax(can_work, axis=1)
    give = jobless & can_work.any(axis=1)
    local_job[np.flatnonzero(give), first_able[give]] = True
    livelihood = np.where(lv_wage & ~can_work.any(axis=1), LV_FARMING, livelihood)
    edu_factor = np.array([wk.education_wage_factor[k] for k in EDU])[education]
    wage_monthly = (
        inc.migrant_wage_monthly.median
        * np.exp(inc.migrant_wage_monthly.sd * wz + wk.wage_scale_elasticity * scale[:, None])
        * edu_factor
    )

    # transfers, property, background assistance ---------------------------------------------
    no_labour = ~able.any(axis=1)
    dp = np.where(
        formerly_poor, hc.dibao_initial_share["formerly_poor"], hc.dibao_initial_share["other"]
    )
    dp = np.minimum(1.0, dp * np.where(no_labour, hc.dibao_initial_no_labour_mult, 1.0))
    dibao = u[:, 7] < dp
    pv_share = np.array([config.geography.banner_types[t].pv_share for t in BANNER_TYPES])[btype]
    has_pv = formerly_poor & (u[:, 8] < pv_share)
    pv_amount = np.where(
        has_pv, inc.pv_dividend_annual.median * np.exp(inc.pv_dividend_annual.sd * z[:, 3]), 0.0
    )
    bg = config.assistance.background
    pv_start_day = _year_start_day(bg.pv_dividend_start_years, u[:, 9], u[:, 10])
    lv = livelihood
    eco = inc.eco_subsidy
    eco_subsidy = np.array(eco.median.as_tuple())[lv] * np.exp(eco.sd * z[:, 4])
    farmland = np.array(inc.farmland_subsidy.median.as_tuple())[lv] * np.exp(
        inc.farmland_subsidy.sd * z[:, 5]
    )
    has_ecocomp = u[:, 13] < np.array(bg.ecological_compensation_share.as_tuple())[lv]
    ecocomp_amount = np.where(
        has_ecocomp,
        config.assistance.amount["ecological_compensation"]
        * np.exp(config.assistance.amount_sd * z[:, 6]),
        0.0,
    )
    ecocomp_start_day = _year_start_day(bg.ecological_compensation_start_years, u[:, 15], u[:, 16])
    lr = inc.land_rent
    land_rent = np.where(
        u[:, 17] < np.array(lr.share.as_tuple())[lv],
        lr.median * np.exp(lr.sd * z[:, 7]),
        0.0,
    )
    cd = inc.collective_dividend
    collective = np.where(u[:, 19] < cd.share, cd.median * np.exp(cd.sd * z[:, 8]), 0.0)

    return Population(
        gidx=gidx,
        village=village,
        township=township,
        banner=banner,
        btype=btype,
        livelihood=livelihood.astype(np.int64),
        formerly_poor=formerly_poor,
        exit_year=exit_year.astype(np.int64),
        relocated=relocated,
        relocation_year=relocation_year.astype(np.int64),
        scale=scale,
        ethnicity=ethnicity.astype(np.int64),
        diligence=geo.village_diligence[village],
        dibao=dibao.copy(),
        dibao_initial=dibao,
        pv_amount=pv_amount,
        pv_start_day=pv_start_day,
        eco_subsidy=eco_subsidy,
        ecocomp_amount=ecocomp_amount,
        ecocomp_start_day=ecocomp_start_day,
        land_rent=land_rent,
        collective=collective,
        farmland=farmland,
        exists0=exists,
        join_m=join_m,
        join_day=join_day,
        leave_m=np.full((n, K), NEVER, dtype=np.int64),
        leave_day=np.full((n, K), -1, dtype=np.int64),
        birth_year=birth_year,
        female=female,
        education=education,
        relation=relation,
        chronic=chronic.copy(),
        chronic_initial=chronic,
        disability=disability.copy(),
        disability_initial=disability,
        serious_left=np.zeros((n, K), dtype=np.int64),
        migrant=migrant.copy(),
        migrant_initial=migrant,
        local_job=local_job,
        wage_monthly=wage_monthly,
        student=student,
        college=college & ever,
    )


def _year_start_day(years: list[int], u_year: np.ndarray, u_day: np.ndarray) -> np.ndarray:
    """A start date: a year uniformly in ``[years[0], years[1]]``, then a day within it."""
    y0, y1 = years[0], years[-1]
    year = y0 + np.floor(u_year * (y1 - y0 + 1)).astype(np.int64)
    jan1 = np.array([day_number(dt.date(int(y), 1, 1)) for y in range(y0, y1 + 2)])
    start = jan1[year - y0]
    length = jan1[year - y0 + 1] - start
    return start + np.floor(u_day * length).astype(np.int64)
