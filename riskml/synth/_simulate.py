"""Month-by-month simulation of one chunk: incomes, shocks, hardship, cadres and assistance.

Everything is vectorised over the chunk's households (``n``) and member slots (``n x K``); the
only Python loop is over the months of the period. Records are collected as integer-coded numpy
arrays and turned into contract tables by ``_tables``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from riskml.config.synth import SynthConfig
from riskml.synth._geography import BANNER_TYPES, Geography
from riskml.synth._hardship import twelve_month_probability
from riskml.synth._params import (
    CATEGORY,
    CAUSES,
    DETAIL,
    EV,
    MEASURE,
    REL,
    Calendar,
    age_lookup,
    annual_to_monthly,
    day_number,
    logistic,
)
from riskml.synth._population import K, Population, init_population
from riskml.synth._rng import BlockRNG

__all__ = ["ChunkRecords", "simulate_chunk"]

C = {name: i for i, name in enumerate(CAUSES)}
NC = len(CAUSES)
M_ORDER = tuple(MEASURE)


@dataclass
class _Log:
    """Growing lists of integer-coded record arrays."""

    parts: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, **cols: np.ndarray) -> None:
        for k, v in cols.items():
            self.parts.setdefault(k, []).append(np.asarray(v))

    def collect(self, names: tuple[str, ...], dtypes: dict[str, type]) -> dict[str, np.ndarray]:
        return {
            k: (
                np.concatenate(self.parts[k])
                if self.parts.get(k)
                else np.zeros(0, dtype=dtypes.get(k, np.int64))
            )
            for k in names
        }


EVENT_FIELDS = ("row", "slot", "type", "day", "recorded", "amount", "detail")
INCOME_FIELDS = (
    "row",
    "year",
    "recorded",
    "size",
    "wage",
    "business",
    "property",
    "transfer",
    "costs",
    "oop",
)
MON_FIELDS = ("row", "episode", "day", "category", "risk1", "risk2", "risk3")
ELIM_FIELDS = ("episode", "day", "natural")
ASSIST_FIELDS = ("row", "measure", "start", "end", "episode", "end_offset", "amount")


@dataclass(frozen=True)
class _Fixed:
    """A month's household quantities the hardship hazards need besides income and costs."""

    vmult: np.ndarray
    chronic_n: np.ndarray
    disability_w: np.ndarray
    no_able: np.ndarray
    all_old: np.ndarray
    income_cause: np.ndarray
    serious: np.ndarray
    hosp: np.ndarray
    chronic_on: np.ndarray
    disab_on: np.ndarray
    accident: np.ndarray
    job_loss: np.ndarray
    business_failure: np.ndarray
    able_death: np.ndarray
    dropout: np.ndarray


@dataclass
class ChunkRecords:
    """What one chunk produced, integer-coded (see ``_tables``)."""

    pop: Population
    events: dict[str, np.ndarray]
    income: dict[str, np.ndarray]
    monitoring: dict[str, np.ndarray]
    eliminations: dict[str, np.ndarray]
    assistance: dict[str, np.ndarray]
    p_month: np.ndarray  # (T, n) float32
    p_12m: np.ndarray  # (T, n) float32


class _Sim:
    def __init__(
        self, config: SynthConfig, cal: Calendar, geo: Geography, seed: int, first: int, n: int
    ) -> None:
        self.cfg = config
        self.cal = cal
        self.geo = geo
        self.rng = BlockRNG(seed, first, n, config.block_size)
        self.pop = init_population(config, cal, geo, self.rng, first, n)
        self.n = n
        self.ev = _Log()
        self.inc = _Log()
        self.mon = _Log()
        self.elim = _Log()
        self.asst = _Log()
        self.episodes = 0
        h, w, hs, sh, cd = config.health, config.work, config.hardship, config.shocks, config.cadres
        self.death = age_lookup(h.death_annual_by_age, monthly=True)
        self.serious = age_lookup(h.serious_annual_by_age, monthly=True)
        self.hosp = age_lookup(h.hospitalization_annual_by_age, monthly=True)
        self.chronic_on = age_lookup(h.chronic_onset_annual_by_age, monthly=True)
        self.disab_on = age_lookup(h.disability_onset_annual_by_age, monthly=True)
        self.accident = float(annual_to_monthly(h.accident_annual_working_age))
        self.mig_start = np.array(w.migrant_start_monthly.as_tuple())
        self.detect = np.array([cd.detection_monthly[c] for c in CAUSES])
        self.recover = np.array([hs.recovery_monthly[c] for c in CAUSES])
        self.eliminate = np.array([cd.elimination_monthly[c] for c in CAUSES])
        self.dis_grade_w = np.array([0.0] + [hs.disability_by_grade[g] for g in (1, 2, 3, 4)])
        self.s = hs.shock_onset
        inc = config.income
        self.base = np.array(inc.business_base.as_tuple())
        self.cost_ratio = np.array(inc.business_cost_ratio.as_tuple())
        self.livestock = np.array(inc.livestock_share.as_tuple())
        types = config.geography.banner_types
        snow = np.array([types[t].snow_annual_prob for t in BANNER_TYPES])
        drought = np.array([types[t].drought_annual_prob for t in BANNER_TYPES])
        ex = sh.exposure
        mean_sev = sh.disaster_severity.a / (sh.disaster_severity.a + sh.disaster_severity.b)
        local_sev = float(np.mean(sh.local_severity))
        # expected monthly disaster hit rate x loss share per household (for the expected onset)
        self.disaster_rate_loss = (
            annual_to_monthly(snow)[self.pop.btype]
            * np.array(ex.snow.as_tuple())[self.pop.livelihood]
            * mean_sev
            + annual_to_monthly(drought)[self.pop.btype]
            * np.array(ex.drought.as_tuple())[self.pop.livelihood]
            * mean_sev
            + sh.local_disaster_monthly_per_township
            * np.array(ex.local.as_tuple())[self.pop.livelihood]
            * local_sev
        )
        fi = cd.false_identification_cause
        self.false_cause_cum = np.cumsum(
            np.array([fi.get(c, 0.0) for c in CAUSES]) / sum(fi.values())
        )
        # dynamic household state
        self.hardship = np.zeros(n, dtype=bool)
        self.cause = np.full(n, C["other"], dtype=np.int64)
        self.monitored = np.zeros(n, dtype=bool)
        self.mon_since = np.zeros(n, dtype=np.int64)
        self.mon_cause = np.zeros(n, dtype=np.int64)
        self.cur_episode = np.full(n, -1, dtype=np.int64)
        self.health_aid = np.zeros(n, dtype=bool)
        self.welfare_job = np.zeros(n, dtype=bool)
        self.dibao_from_episode = np.zeros(n, dtype=bool)
        self.oop_ring = np.zeros((12, n))
        self.oop_12m = np.zeros(n)
        self.loss_y = np.zeros(n)
        self.loss_next = np.zeros(n)
        self.fail_y = np.zeros(n)
        self.fail_next = np.zeros(n)
        self.job_lost_year = np.zeros(n, dtype=bool)
        self.noise = np.ones(n)
        self.acc = {
            k: np.zeros(n) for k in ("wage", "business", "costs", "property", "transfer", "oop")
        }
        self._age_year = -1
        self._age_hz: tuple[np.ndarray, ...] = ()
        self.diag = {
            "base": np.zeros(NC),
            "expected": np.zeros(NC),
            "realized": np.zeros(NC),
            "free_months": 0,
        }
        T = cal.n_months
        self.p_month = np.zeros((T, n), dtype=np.float32)
        self.p_12m = np.zeros((T, n), dtype=np.float32)

    # ---- helpers ---------------------------------------------------------------------------
    def emit(
        self,
        etype: str,
        rows: np.ndarray,
        slots: np.ndarray | None,
        days: np.ndarray,
        amount: np.ndarray | None = None,
        detail: np.ndarray | int | None = None,
    ) -> None:
        """Record events; ``rows`` must be sorted ascending (per-block random draws).

        A member's event is dated within the member's time in the household (not before a
        birth or marriage earlier in the month, not after a death or departure).
        """
        if rows.size == 0:
            return
        if slots is not None:
            joined = self.pop.join_day[rows, slots]
            left = self.pop.leave_day[rows, slots]
            days = np.maximum(days, joined)
            days = np.where((left >= 0) & (etype != "medical_bill"), np.minimum(days, left), days)
        lo, hi = self.cfg.recording_delay_days[etype]
        delay = self.rng.integers_rows(rows, lo, hi + 1)
        self.ev.add(
            row=rows,
            slot=np.full(rows.size, -1) if slots is None else slots,
            type=np.full(rows.size, EV[etype]),
            day=days,
            recorded=days + delay,
            amount=np.full(rows.size, np.nan) if amount is None else amount,
            detail=np.full(rows.size, -1)
            if detail is None
            else np.broadcast_to(detail, rows.shape),
        )

    @staticmethod
    def _span(pair: list[int]) -> tuple[int, int]:
        """``[low, high]`` days (inclusive) as the half-open bounds ``integers_rows`` takes."""
        return int(pair[0]), int(pair[1]) + 1

    def lognormal_rows(self, rows: np.ndarray, median: float, sd: float) -> np.ndarray:
        return median * np.exp(sd * self.rng.normal_rows(rows))

    def day_in_month(self, rows: np.ndarray, t: int) -> np.ndarray:
        return self.cal.month_start[t] + self.rng.integers_rows(
            rows, 0, int(self.cal.days_in_month[t])
        )

    # ---- history before the period ---------------------------------------------------------
    def history(self) -> None:
        p = self.pop
        y0, y1 = self.cfg.history_years
        first = day_number(dt.date(y0, 1, 1))
        last = day_number(dt.date(y1, 12, 31))
        for etype, mask, detail in (
            ("chronic_illness", p.chronic_initial, None),
            ("disability", p.disability_initial > 0, None),
            ("migrant_work_start", p.migrant_initial, DETAIL["migrant"]),
        ):
            rows, slots = np.nonzero(mask)
            days = first + self.rng.integers_rows(rows, 0, last - first + 1)
            det = (
                (p.disability_initial[rows, slots] - 1 + DETAIL["1"])
                if etype == "disability"
                else detail
            )
            self.emit(etype, rows, slots, days, detail=det)
        rows = np.flatnonzero(p.dibao_initial)
        days = first + self.rng.integers_rows(rows, 0, last - first + 1)
        self.emit("dibao_granted", rows, None, days)
        self.asst.add(
            row=rows,
            measure=np.full(rows.size, MEASURE["dibao"]),
            start=days,
            end=np.full(rows.size, -1),
            episode=np.full(rows.size, -1),
            end_offset=np.zeros(rows.size, np.int64),
            amount=self.lognormal_rows(
                rows, self.cfg.assistance.amount["dibao"], self.cfg.assistance.amount_sd
            ),
        )
        self._background_assistance()

    def _background_assistance(self) -> None:
        """Measures unrelated to identification: PV dividends, ecological posts, relocation, ..."""
        p, a, cal = self.pop, self.cfg.assistance, self.cal
        end_day = cal.extracted_day
        rows = np.flatnonzero((p.pv_amount > 0) & (p.pv_start_day <= end_day))
        self._assist(rows, "pv_dividend", p.pv_start_day[rows], amount=p.pv_amount[rows])
        rows = np.flatnonzero((p.ecocomp_amount > 0) & (p.ecocomp_start_day <= end_day))
        self._assist(
            rows,
            "ecological_compensation",
            p.ecocomp_start_day[rows],
            amount=p.ecocomp_amount[rows],
        )
        rows = np.flatnonzero(p.relocated)
        if rows.size:
            jan1 = jan1_day(p.relocation_year[rows])
            self._assist(rows, "relocation", jan1 + self.rng.integers_rows(rows, 0, 365))
        bg = a.background
        u = self.rng.random(3)
        rows = np.flatnonzero(p.formerly_poor & (u[:, 0] < bg.industry_share_formerly_poor))
        self._assist(
            rows,
            "industry",
            cal.month_start[0] + self.rng.integers_rows(rows, 0, end_day - cal.month_start[0] + 1),
            duration=tuple(bg.industry_duration_days),
        )
        has_migrant = p.migrant_initial.any(axis=1)
        rows = np.flatnonzero(
            p.formerly_poor & has_migrant & (u[:, 1] < bg.employment_share_migrant_formerly_poor)
        )
        self._assist(
            rows,
            "employment",
            cal.month_start[0] + self.rng.integers_rows(rows, 0, end_day - cal.month_start[0] + 1),
            duration=tuple(bg.employment_duration_days),
        )
        has_student = (p.student | p.college).any(axis=1)
        rows = np.flatnonzero(
            p.formerly_poor & has_student & (u[:, 2] < bg.education_share_formerly_poor_students)
        )
        self._assist(
            rows,
            "education",
            cal.month_start[0] + self.rng.integers_rows(rows, 0, bg.education_start_window_days),
            duration=tuple(bg.education_duration_days),
        )

    def _assist(
        self,
        rows: np.ndarray,
        measure: str,
        start: np.ndarray,
        *,
        amount: np.ndarray | None = None,
        duration: tuple[int, int] | None = None,
    ) -> None:
        if rows.size == 0:
            return
        a = self.cfg.assistance
        if amount is None:
            amount = self.lognormal_rows(rows, a.amount[measure], a.amount_sd)
        end = (
            np.full(rows.size, -1, dtype=np.int64)
            if duration is None
            else start + self.rng.integers_rows(rows, *duration)
        )
        self.asst.add(
            row=rows,
            measure=np.full(rows.size, MEASURE[measure]),
            start=start,
            end=end,
            episode=np.full(rows.size, -1),
            end_offset=np.zeros(rows.size, np.int64),
            amount=amount,
        )

    # ---- one month -------------------------------------------------------------------------
    def run(self) -> ChunkRecords:
        self.history()
        for t in range(self.cal.n_months):
            self.month(t)
        return ChunkRecords(
            pop=self.pop,
            events=self.ev.collect(EVENT_FIELDS, {"amount": np.float64}),
            income=self.inc.collect(INCOME_FIELDS, {}),
            monitoring=self.mon.collect(MON_FIELDS, {}),
            eliminations=self.elim.collect(ELIM_FIELDS, {"natural": np.bool_}),
            assistance=self.asst.collect(ASSIST_FIELDS, {"amount": np.float64}),
            p_month=self.p_month,
            p_12m=self.p_12m,
        )

    def month(self, t: int) -> None:
        cfg, cal, p = self.cfg, self.cal, self.pop
        y = int(cal.year[t])
        moy = int(cal.month_of_year[t])
        if moy == 1 or t == 0:
            self.start_year(y)
        growth = cfg.income.growth_by_year[y]
        threshold = cal.thresholds[y]

        present = (p.join_m <= t) & (t < p.leave_m)
        age = (y - p.birth_year).astype(np.float64)
        size = present.sum(axis=1)
        wa0, wa1 = cfg.work.working_age
        working_age = present & (age >= wa0) & (age <= wa1)
        able = working_age & ((p.disability == 0) | (p.disability >= 3)) & (p.serious_left == 0)
        p.migrant &= able
        p.local_job &= able & ~p.migrant
        home_able = (able & ~p.migrant & ~p.student & ~p.college).sum(axis=1)
        n_able = able.sum(axis=1)
        old = present & (age >= cfg.income.pension_age)
        chronic_n = (present & p.chronic).sum(axis=1)

        # ---- income potential and the income ratio R ----------------------------------------
        inc = cfg.income
        lv = p.livelihood
        full = inc.full_labour_workers
        labour = inc.labour_floor + (1.0 - inc.labour_floor) * np.minimum(home_able, full) / full
        hh_scale = np.exp(p.scale) * growth
        price = 1.0 + self.livestock[lv] * (inc.cattle_price_index[y] - 1.0)
        business_pot = self.base[lv] * hh_scale * price * self.noise * labour
        costs = self.cost_ratio[lv] * self.base[lv] * hh_scale * labour
        business_now = business_pot * (1.0 - self.loss_y) * (1.0 - self.fail_y)
        wage_month = (
            (
                (present & p.migrant)
                * p.wage_monthly
                * (inc.migrant_months_per_year / 12.0)
                * growth
            ).sum(axis=1)
            + (
                (present & p.local_job).sum(axis=1)
                * inc.local_wage_monthly
                * inc.local_work_share_of_year
                * growth
            )
            + self.welfare_job * inc.public_welfare_job_monthly * growth
        )
        day0 = int(cal.month_start[t])
        prop = p.land_rent * growth + p.collective + p.pv_amount * (p.pv_start_day <= day0)
        dibao_amount = p.dibao * inc.dibao_monthly_per_person_by_year[y] * 12.0 * size
        transfer = (
            old.sum(axis=1) * inc.pension_monthly_by_year[y] * 12.0
            + p.eco_subsidy
            + p.farmland
            + dibao_amount
            + (present & (p.disability > 0)).sum(axis=1) * inc.disability_subsidy_annual
            + p.ecocomp_amount * (p.ecocomp_start_day <= day0)
        )
        net = 12.0 * wage_month + business_now - costs + prop + transfer
        R = net / np.maximum(size, 1) / threshold
        R_no_dibao = (net - dibao_amount) / np.maximum(size, 1) / threshold
        hh_income = np.maximum(net, 1000.0)

        # ---- member hazards -----------------------------------------------------------------
        h, w = cfg.health, cfg.work
        a0 = np.maximum(age, 0)
        serious_now = p.serious_left > 0
        hz = np.zeros((12, self.n, K), dtype=np.float32)
        if self._age_year != y:  # ages change once a year: look the age tables up once a year
            self._age_year = y
            self._age_hz = (
                self.death(a0),
                self.serious(a0),
                self.hosp(a0),
                self.chronic_on(a0),
                self.disab_on(a0),
            )
        d_a, s_a, h_a, c_a, di_a = self._age_hz
        hz[0] = (
            d_a
            * np.where(serious_now, h.death_mult_serious, 1.0)
            * np.where(p.chronic, h.death_mult_chronic, 1.0)
        )
        hz[0] *= (size > 1)[:, None]
        hz[1] = s_a * np.where(p.chronic, h.serious_mult_chronic, 1.0) * ~serious_now
        hz[2] = h_a
        hz[3] = c_a * ~p.chronic
        hz[4] = di_a * (p.disability == 0)
        hz[5] = self.accident * working_age
        hz[6] = self.mig_start[lv][:, None] * (
            able & ~p.migrant & ~p.student & ~p.college & (age <= w.migrant_max_age)
        )
        hz[7] = w.migrant_end_monthly * p.migrant
        jl_mult = w.job_loss_2020_mult if y == 2020 else 1.0
        hz[8] = (
            w.job_loss_monthly["migrant"] * jl_mult * p.migrant
            + w.job_loss_monthly["local"] * p.local_job
        )
        hz[9] = np.array(w.local_job_start_monthly.as_tuple())[lv][:, None] * (
            able & ~p.migrant & ~p.local_job & ~p.student & ~p.college
        )
        movable = ((p.relation == REL["child"]) | (p.relation == REL["grandchild"])) & (
            (age >= w.move_out_ages[0]) & (age <= w.move_out_ages[1])
        )
        hz[10] = w.move_out_monthly * movable * (size > 2)[:, None]
        hz[11] = w.dropout_monthly * (
            p.student
            & (age >= w.dropout_ages[0])
            & (age <= w.dropout_ages[1])
            & (w.dropout_below_ratio > R)[:, None]
        )
        hz *= present[None]

        # ---- hardship: base hazard, expected shock onsets --------------------------------
        hs = cfg.hardship
        vmult = np.where(p.formerly_poor, hs.formerly_poor_mult, 1.0) * np.where(
            p.relocated, hs.relocated_mult, 1.0
        )
        fixed = _Fixed(
            vmult=vmult,
            chronic_n=chronic_n,
            disability_w=self.dis_grade_w[np.where(present, p.disability, 0)].sum(axis=1),
            no_able=n_able == 0,
            all_old=(present & (age >= hs.elderly_age)).sum(axis=1) == size,
            income_cause=self.income_cause(n_able, y),
            serious=hz[1].sum(axis=1),
            hosp=hz[2].sum(axis=1),
            chronic_on=hz[3].sum(axis=1),
            disab_on=hz[4].sum(axis=1),
            accident=hz[5].sum(axis=1),
            job_loss=hz[8].sum(axis=1),
            business_failure=np.array(cfg.shocks.business_failure_monthly.as_tuple())[lv],
            able_death=(hz[0] * able).sum(axis=1),
            dropout=hz[11].sum(axis=1),
        )
        if t == 0:  # costs of the year before the period, at their expected rate
            month0 = self.expected_oop(fixed, present)[0]
            self.oop_ring[:] = month0[None, :]
            self.oop_12m = 12.0 * month0
        base, expected, gv = self.hazards(R, self.oop_12m, hh_income, fixed)
        lam_base = base.sum(axis=1)
        free0 = ~self.monitored
        self.diag["base"] += base[free0].sum(axis=0)
        self.diag["expected"] += expected[free0].sum(axis=0)
        self.diag["free_months"] += int(free0.sum())
        onset_expected = 1.0 - np.exp(-lam_base - expected.sum(axis=1))
        onset_path = self.onset_path(t, R, hh_income, fixed, hz, present)
        weights = base + expected
        wsum = np.maximum(weights.sum(axis=1), 1e-12)
        r_scale = p.diligence
        cd = cfg.cadres
        r_cur = np.minimum(self.detect[self.cause] * r_scale, cd.max_detection)
        r_all = np.minimum(self.detect[None, :] * r_scale[:, None], cd.max_detection)
        r_new = (weights * r_all).sum(axis=1) / wsum
        b_new = (weights * self.recover[None, :]).sum(axis=1) / wsum
        f = cd.false_identification_monthly * np.where(
            cd.edge_ratio > R, cd.false_identification_low_income_mult, 1.0
        )
        no_labour_mult = np.where(n_able == 0, cd.no_labour_elimination_mult, 1.0)
        elim = self.eliminate[self.mon_cause] * no_labour_mult

        p_month, p_12m = twelve_month_probability(
            t=t,
            monitoring_start=cal.monitoring_start,
            monitored=self.monitored,
            months_monitored=t - self.mon_since,
            elimination=elim,
            min_months=cd.min_monitoring_months,
            hardship=self.hardship,
            r_current=r_cur,
            b_current=self.recover[self.cause],
            r_new=r_new,
            b_new=b_new,
            false_rate=f,
            onset=onset_path,
        )
        self.p_month[t] = p_month
        self.p_12m[t] = p_12m

        if t == 0:  # latent hardship already present when the period starts
            init = np.minimum(
                hs.initial_prevalence_mult * onset_expected, hs.initial_prevalence_cap
            )
            u0 = self.rng.random()
            self.hardship = u0 < init
            self.cause = self.sample_cause(np.flatnonzero(self.hardship), weights, self.cause)

        # ---- identification and elimination ------------------------------------------------
        u = self.rng.random(6)
        ident = u[:, 0] < p_month
        if ident.any():
            self.identify(t, np.flatnonzero(ident), R, weights)
        due = self.monitored & ~ident & ((t - self.mon_since) >= cd.min_monitoring_months)
        out = due & (u[:, 1] < elim)
        if out.any():
            self.eliminate_rows(t, np.flatnonzero(out))

        # ---- shocks ------------------------------------------------------------------------
        realized = np.zeros((self.n, NC))
        self.member_events(t, y, moy, hz, present, age, able, size, realized, gv, business_pot)
        self.household_shocks(t, y, moy, lv, business_pot, realized, gv)

        # ---- hardship transitions (not monitored) ----------------------------------------------
        free = ~self.monitored
        rec = free & self.hardship & (u[:, 2] < self.recover[self.cause])
        self.diag["realized"] += realized[free].sum(axis=0)
        onset_real = 1.0 - np.exp(-lam_base - realized.sum(axis=1))
        new = free & ~self.hardship & (u[:, 3] < onset_real)
        self.hardship = (self.hardship & ~rec) | new
        rows = np.flatnonzero(new)
        if rows.size:
            self.cause = self.sample_cause(rows, base + realized, self.cause)

        # ---- civil affairs: 低保 granted / ended on its own ------------------------------------
        a = cfg.assistance
        grant = (
            ~p.dibao
            & (R_no_dibao < a.dibao_grant_below_ratio)
            & (u[:, 4] < a.dibao_grant_monthly_low_income)
        )
        end = (
            p.dibao
            & ~self.dibao_from_episode
            & (R_no_dibao > a.dibao_end_above_ratio)
            & (u[:, 5] < a.dibao_end_monthly_high_income)
        )
        rows = np.flatnonzero(grant)
        if rows.size:
            days = self.day_in_month(rows, t)
            self.emit("dibao_granted", rows, None, days)
            self._assist(rows, "dibao", days)
            p.dibao[rows] = True
        rows = np.flatnonzero(end)
        if rows.size:
            self.emit("dibao_ended", rows, None, self.day_in_month(rows, t))
            p.dibao[rows] = False

        # ---- income accumulation -------------------------------------------------------------
        acc = self.acc
        acc["wage"] += wage_month
        acc["business"] += business_pot / 12.0
        acc["costs"] += costs / 12.0
        acc["property"] += prop / 12.0
        acc["transfer"] += transfer / 12.0
        if moy == 12 or t == cal.n_months - 1:
            self.close_year(t, y, present)

    # ---- pieces of a month ------------------------------------------------------------------
    def hazards(
        self,
        R: np.ndarray,
        oop12: np.ndarray,
        hh_income: np.ndarray,
        fx: _Fixed,
        *,
        with_costs: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Monthly hardship-onset hazards by cause: ``(base, expected_shocks, g*v)``.

        ``base`` comes from the household's persistent state (income ratio ``R``, out-of-pocket
        medical costs of the last 12 months ``oop12``, chronic illness, disability, labour);
        ``expected_shocks`` is each shock's monthly rate times its onset probability.
        """
        hs, s = self.cfg.hardship, self.s
        vul = hs.vulnerability
        gv = (vul.floor + vul.amplitude * logistic((vul.center - R) / vul.width)) * fx.vmult
        base = np.zeros((len(R), NC))
        base[:, C["illness"]] = hs.chronic_per_member * fx.chronic_n * gv
        if with_costs:
            base[:, C["illness"]] += self.cost_hazard(oop12, hh_income, fx)
        base[:, C["disability"]] = fx.disability_w * gv
        base[:, C["labor_shortage"]] = (
            hs.labour_shortage * fx.no_able + hs.elderly_only * fx.all_old
        ) * gv
        a_inc = hs.income.amplitude * logistic((hs.income.center - R) / hs.income.width) * fx.vmult
        base[np.arange(len(R)), fx.income_cause] += a_inc

        def sg(key: str) -> np.ndarray:  # onset probability given the shock
            return np.minimum(s[key] * gv, 0.99)

        expected = np.zeros((len(R), NC))
        expected[:, C["illness"]] = (
            fx.serious * sg("serious_illness")
            + fx.hosp * sg("hospitalization")
            + fx.chronic_on * sg("chronic_onset")
        )
        expected[:, C["disability"]] = fx.disab_on * sg("disability_onset")
        expected[:, C["accident"]] = fx.accident * sg("accident")
        expected[:, C["disaster"]] = (
            self.disaster_rate_loss / hs.disaster_loss_reference * sg("disaster")
        )
        expected[:, C["unstable_employment"]] = fx.job_loss * sg("job_loss")
        expected[:, C["industry_failure"]] = fx.business_failure * sg("business_failure")
        expected[:, C["labor_shortage"]] += fx.able_death * sg("working_age_death")
        expected[:, C["education"]] = fx.dropout * sg("dropout")
        return base, expected, gv

    def expected_oop(
        self, fx: _Fixed, present: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Expected monthly out-of-pocket costs besides new serious illness, the cost of a new
        serious illness, and the monthly cost of an ongoing one."""
        h = self.cfg.health
        oop_mult = np.where(self.health_aid, self.cfg.health.health_aid_oop_mult, 1.0)
        share = float(np.mean(h.oop_share))
        serious_oop = h.serious_bill.median * np.exp(h.serious_bill.sd**2 / 2) * share * oop_mult
        hosp_oop = (
            h.hospitalization_bill.median
            * np.exp(h.hospitalization_bill.sd**2 / 2)
            * share
            * oop_mult
        )
        accident_oop = h.accident_cost.median * np.exp(h.accident_cost.sd**2 / 2) * share * oop_mult
        ongoing_hosp = h.serious_monthly_hospitalization * h.followup_bill_mult * hosp_oop
        mean_month = (
            fx.chronic_n * self.cfg.income.chronic_medication_monthly * oop_mult
            + fx.hosp * hosp_oop
            + fx.accident * accident_oop
            + (present & (self.pop.serious_left > 0)).sum(axis=1) * ongoing_hosp
        )
        return mean_month, serious_oop, ongoing_hosp

    def onset_path(
        self,
        t: int,
        R: np.ndarray,
        hh_income: np.ndarray,
        fx: _Fixed,
        hz: np.ndarray,
        present: np.ndarray,
        horizon: int = 12,
    ) -> np.ndarray:
        """Expected onset probability for each of the next ``horizon`` months, ``(horizon, n)``.

        Projects from today's state only: the income ratio follows the configured income growth
        and the thresholds of the coming months; out-of-pocket costs already in the 12-month
        window leave it month by month while new ones arrive at their expected rate; a serious
        illness that may strike before month ``k`` is a second scenario weighted by its
        probability (the hazard is convex in the costs, so averaging costs first would
        understate it). The total hazard is a part that depends on the income ratio plus a part
        that depends on the costs (see :meth:`hazards`), so each is evaluated only where it changes.
        """
        cal, cfg = self.cal, self.cfg
        mean_month, serious_oop, ongoing_hosp = self.expected_oop(fx, present)
        order = (t + np.arange(horizon)) % 12
        rolled = (
            np.cumsum(self.oop_ring[order], axis=0) - self.oop_ring[order]
        )  # costs gone by month k
        y_now = int(cal.year[t])
        growth_now = cfg.income.growth_by_year[y_now]
        by_year: dict[int, np.ndarray] = {}
        out = np.empty((horizon, len(R)))
        for k in range(horizon):
            y_k = cal.year_of(t + k)
            if y_k not in by_year:
                growth_k = cfg.income.growth_by_year.get(y_k, growth_now)
                R_k = (
                    R
                    * (growth_k / growth_now)
                    * (cal.thresholds[y_now] / cal.thresholds.get(y_k, cal.thresholds[y_now]))
                )
                by_year[y_k] = self.ratio_hazard(R_k, fx)
            a = by_year[y_k]
            oop0 = np.maximum(self.oop_12m - rolled[k], 0.0) + k * mean_month
            lam0 = a + self.cost_hazard(oop0, hh_income, fx)
            if k == 0:
                out[k] = 1.0 - np.exp(-lam0)
                continue
            p_serious = 1.0 - np.power(1.0 - np.minimum(fx.serious, 0.5), k)
            lam1 = a + self.cost_hazard(oop0 + serious_oop + ongoing_hosp * k / 2.0, hh_income, fx)
            out[k] = (1.0 - p_serious) * (1.0 - np.exp(-lam0)) + p_serious * (1.0 - np.exp(-lam1))
        return out

    def cost_hazard(self, oop12: np.ndarray, hh_income: np.ndarray, fx: _Fixed) -> np.ndarray:
        """The part of the total onset hazard that depends on out-of-pocket medical costs."""
        hs = self.cfg.hardship
        mb = hs.medical_burden
        return (
            mb.amplitude * logistic((oop12 / hh_income - mb.center) / mb.width)
            + hs.rigid_medical_hazard * (oop12 > hs.rigid_medical_yuan)
        ) * fx.vmult

    def ratio_hazard(self, R: np.ndarray, fx: _Fixed) -> np.ndarray:
        """The part of the total onset hazard that depends on the income ratio (all but costs)."""
        base, expected, _ = self.hazards(R, np.zeros_like(R), np.ones_like(R), fx, with_costs=False)
        return base.sum(axis=1) + expected.sum(axis=1)

    def start_year(self, y: int) -> None:
        sd = self.cfg.income.business_noise_sd
        self.noise = np.exp(sd * self.rng.normal() - sd * sd / 2)
        self.loss_y, self.loss_next = self.loss_next, np.zeros(self.n)
        self.fail_y, self.fail_next = self.fail_next, np.zeros(self.n)
        self.job_lost_year = np.zeros(self.n, dtype=bool)
        for k in self.acc:
            self.acc[k] = np.zeros(self.n)

    def income_cause(self, n_able: np.ndarray, y: int) -> np.ndarray:
        """What a low income is attributed to: the year's shocks first, then labour."""
        lv = self.pop.livelihood
        cattle_down = (
            self.cfg.income.cattle_price_index[y] < self.cfg.hardship.industry_price_below
        ) & (self.livestock[lv] >= self.cfg.hardship.industry_livestock_share)
        return np.select(
            [self.loss_y > 0.15, self.fail_y > 0, cattle_down, self.job_lost_year, n_able == 0],
            [
                C["disaster"],
                C["industry_failure"],
                C["industry_failure"],
                C["unstable_employment"],
                C["labor_shortage"],
            ],
            default=C["other"],
        )

    def sample_cause(self, rows: np.ndarray, weights: np.ndarray, cause: np.ndarray) -> np.ndarray:
        out = cause.copy()
        if rows.size == 0:
            return out
        w = weights[rows]
        cum = np.cumsum(w, axis=1)
        total = cum[:, -1]
        u = self.rng.random_rows(rows) * total
        pick = np.minimum((u[:, None] >= cum).sum(axis=1), NC - 1)
        out[rows] = np.where(total > 0, pick, C["other"])
        return out

    def identify(self, t: int, rows: np.ndarray, R: np.ndarray, weights: np.ndarray) -> None:
        cfg, p = self.cfg, self.pop
        cd = cfg.cadres
        true_h = self.hardship[rows]
        fu = self.rng.random_rows(rows)
        false_cause = np.minimum(np.searchsorted(self.false_cause_cum, fu, side="right"), NC - 1)
        cause = np.where(true_h, self.cause[rows], false_cause)
        category = np.where(
            p.formerly_poor[rows],
            CATEGORY["unstable_exited"],
            np.where(R[rows] < cd.edge_ratio, CATEGORY["edge"], CATEGORY["sudden_hardship"]),
        )
        w = weights[rows].copy()
        w[np.arange(rows.size), cause] = -1.0
        order = np.argsort(-w, axis=1, kind="stable")
        top = np.take_along_axis(w, order, axis=1)
        cut = cd.secondary_risk_threshold * np.maximum(weights[rows].max(axis=1), 1e-12)
        risk2 = np.where(top[:, 0] >= cut, order[:, 0], -1)
        risk3 = np.where((risk2 >= 0) & (top[:, 1] >= cut), order[:, 1], -1)
        day = self.day_in_month(rows, t)
        episodes = self.episodes + np.arange(rows.size)
        self.episodes += rows.size
        self.mon.add(
            row=rows,
            episode=episodes,
            day=day,
            category=category,
            risk1=cause,
            risk2=risk2,
            risk3=risk3,
        )
        self.monitored[rows] = True
        self.mon_since[rows] = t
        self.mon_cause[rows] = cause
        self.cur_episode[rows] = episodes
        self.hardship[rows] = False

        # assistance that starts *because* of the identification (a leakage trap downstream)
        a = cfg.assistance
        prob = np.array([[a.after_identification[c].get(m, 0.0) for m in M_ORDER] for c in CAUSES])[
            cause
        ]
        nm = len(M_ORDER)
        rep = np.repeat(rows, nm)
        take = self.rng.random_rows(rep).reshape(rows.size, nm) < prob
        ri, mi = np.nonzero(take)
        if ri.size:
            arows = rows[ri]
            lo, hi = a.start_days_after_identification
            start = day[ri] + self.rng.integers_rows(arows, lo, hi + 1)
            e0, e1 = a.end_days_after_elimination
            amounts = np.array([a.amount[m] for m in M_ORDER])[mi] * np.exp(
                a.amount_sd * self.rng.normal_rows(arows)
            )
            self.asst.add(
                row=arows,
                measure=mi,
                start=start,
                end=np.full(ri.size, -1),
                episode=episodes[ri],
                end_offset=self.rng.integers_rows(arows, e0, e1 + 1),
                amount=amounts,
            )
            is_dibao = mi == MEASURE["dibao"]
            new_dibao = arows[is_dibao & ~p.dibao[arows]]
            if new_dibao.size:
                d_start = start[is_dibao & ~p.dibao[arows]]
                order_ = np.argsort(new_dibao, kind="stable")
                self.emit("dibao_granted", new_dibao[order_], None, d_start[order_])
                p.dibao[new_dibao] = True
                self.dibao_from_episode[new_dibao] = True
            self.health_aid[arows[mi == MEASURE["health"]]] = True
            self.welfare_job[arows[mi == MEASURE["public_welfare_job"]]] = True
        sudden = rows[(category == CATEGORY["sudden_hardship"])]
        if sudden.size:
            give = sudden[self.rng.random_rows(sudden) < a.temporary_assistance_prob]
            if give.size:
                days = day[np.searchsorted(rows, give)] + self.rng.integers_rows(
                    give, *self._span(a.temporary_assistance_days)
                )
                amount = self.lognormal_rows(give, a.amount["social_assistance"], a.amount_sd)
                self.emit("temporary_assistance", give, None, days, amount=amount)
                self.acc["transfer"][give] += amount

    def eliminate_rows(self, t: int, rows: np.ndarray) -> None:
        natural = self.rng.random_rows(rows) < self.cfg.cadres.natural_elimination_share
        day = self.day_in_month(rows, t)
        self.elim.add(episode=self.cur_episode[rows], day=day, natural=natural)
        ended = rows[self.dibao_from_episode[rows]]
        if ended.size:
            self.emit(
                "dibao_ended",
                ended,
                None,
                day[np.searchsorted(rows, ended)]
                + self.rng.integers_rows(
                    ended, *self._span(self.cfg.assistance.dibao_end_days_after_elimination)
                ),
            )
            self.pop.dibao[ended] = False
        self.monitored[rows] = False
        self.hardship[rows] = False
        self.health_aid[rows] = False
        self.welfare_job[rows] = False
        self.dibao_from_episode[rows] = False
        self.cur_episode[rows] = -1

    def member_events(
        self,
        t: int,
        y: int,
        moy: int,
        hz: np.ndarray,
        present: np.ndarray,
        age: np.ndarray,
        able: np.ndarray,
        size: np.ndarray,
        realized: np.ndarray,
        gv: np.ndarray,
        business_pot: np.ndarray,
    ) -> None:
        cfg, p, h, s = self.cfg, self.pop, self.cfg.health, self.s
        was_serious = p.serious_left > 0
        total = hz.sum(axis=0)
        u = self.rng.random(K)
        hit = u < total
        rows, slots = np.nonzero(hit)
        kind = np.full(rows.size, -1)
        if rows.size:
            cum = np.cumsum(hz[:, rows, slots], axis=0)
            kind = np.minimum((u[rows, slots][None, :] >= cum).sum(axis=0), 11)
        oop = np.zeros(self.n)
        oop_mult = np.where(self.health_aid, self.cfg.health.health_aid_oop_mult, 1.0)
        o0, o1 = h.oop_share

        def sel(k: int) -> tuple[np.ndarray, np.ndarray]:
            m = kind == k
            return rows[m], slots[m]

        def add_shock(r: np.ndarray, cause: str, key: str) -> None:
            if r.size:
                np.add.at(realized[:, C[cause]], r, -np.log1p(-np.minimum(s[key] * gv[r], 0.99)))

        # 0 death
        r, sl = sel(0)
        if r.size:
            # not before a birth or marriage earlier this month
            d = np.maximum(self.day_in_month(r, t), p.join_day[r, sl])
            self.emit("death", r, sl, d)
            add_shock(r[able[r, sl]], "labor_shortage", "working_age_death")
            p.leave_m[r, sl] = t + 1
            p.leave_day[r, sl] = d
        # 1 serious illness: diagnosis, a hospital stay and its bill
        r, sl = sel(1)
        if r.size:
            d = self.day_in_month(r, t)
            lo, hi = h.serious_duration_months
            p.serious_left[r, sl] = self.rng.integers_rows(r, lo, hi + 1)
            p.chronic[r, sl] |= self.rng.random_rows(r) < h.serious_to_chronic_prob
            bill = self.lognormal_rows(r, h.serious_bill.median, h.serious_bill.sd)
            out = bill * (o0 + (o1 - o0) * self.rng.random_rows(r)) * oop_mult[r]
            self.emit("serious_illness", r, sl, d)
            self.emit("hospitalization", r, sl, d, amount=bill)
            self.emit(
                "medical_bill",
                r,
                sl,
                d + self.rng.integers_rows(r, *self._span(h.bill_days_after_stay)),
                amount=out,
            )
            np.add.at(oop, r, out)
            add_shock(r, "illness", "serious_illness")
        # 2 ordinary hospital stay
        r, sl = sel(2)
        if r.size:
            d = self.day_in_month(r, t)
            bill = self.lognormal_rows(r, h.hospitalization_bill.median, h.hospitalization_bill.sd)
            out = bill * (o0 + (o1 - o0) * self.rng.random_rows(r)) * oop_mult[r]
            self.emit("hospitalization", r, sl, d, amount=bill)
            self.emit(
                "medical_bill",
                r,
                sl,
                d + self.rng.integers_rows(r, *self._span(h.bill_days_after_stay)),
                amount=out,
            )
            np.add.at(oop, r, out)
            add_shock(r, "illness", "hospitalization")
        # 3 chronic illness diagnosed
        r, sl = sel(3)
        if r.size:
            p.chronic[r, sl] = True
            self.emit("chronic_illness", r, sl, self.day_in_month(r, t))
            add_shock(r, "illness", "chronic_onset")
        # 4 disability certificate
        r, sl = sel(4)
        if r.size:
            grade = self.draw_grade(r, 1)
            p.disability[r, sl] = grade
            self.emit("disability", r, sl, self.day_in_month(r, t), detail=grade - 1 + DETAIL["1"])
            add_shock(r, "disability", "disability_onset")
        # 5 accident (sometimes disabling)
        r, sl = sel(5)
        if r.size:
            d = self.day_in_month(r, t)
            cost = self.lognormal_rows(r, h.accident_cost.median, h.accident_cost.sd)
            self.emit("accident", r, sl, d, amount=cost)
            np.add.at(oop, r, cost * (o0 + (o1 - o0) * self.rng.random_rows(r)) * oop_mult[r])
            add_shock(r, "accident", "accident")
            dis = (self.rng.random_rows(r) < h.accident_disability_prob) & (
                p.disability[r, sl] == 0
            )
            if dis.any():
                rr, ss = r[dis], sl[dis]
                grade = self.draw_grade(rr, 2)
                p.disability[rr, ss] = grade
                self.emit(
                    "disability",
                    rr,
                    ss,
                    d[dis] + self.rng.integers_rows(rr, *self._span(h.accident_disability_days)),
                    detail=grade - 1 + DETAIL["1"],
                )
        # 6 migrant work starts, 7 ends, 8 job lost, 9 local job found
        r, sl = sel(6)
        if r.size:
            p.migrant[r, sl] = True
            p.local_job[r, sl] = False
            self.emit(
                "migrant_work_start", r, sl, self.day_in_month(r, t), detail=DETAIL["migrant"]
            )
        r, sl = sel(7)
        if r.size:
            p.migrant[r, sl] = False
            self.emit("migrant_work_end", r, sl, self.day_in_month(r, t), detail=DETAIL["migrant"])
        r, sl = sel(8)
        if r.size:
            was_migrant = p.migrant[r, sl]
            d = self.day_in_month(r, t)
            self.emit(
                "job_loss",
                r,
                sl,
                d,
                detail=np.where(was_migrant, DETAIL["migrant"], DETAIL["local"]),
            )
            m = was_migrant
            if m.any():
                self.emit("migrant_work_end", r[m], sl[m], d[m], detail=DETAIL["migrant"])
            p.migrant[r, sl] = False
            p.local_job[r, sl] = False
            self.job_lost_year[r] = True
            add_shock(r, "unstable_employment", "job_loss")
        r, sl = sel(9)
        if r.size:
            p.local_job[r, sl] = True
        # 10 a grown child moves out
        r, sl = sel(10)
        if r.size:
            p.leave_m[r, sl] = t + 1
            p.leave_day[r, sl] = np.maximum(self.day_in_month(r, t), p.join_day[r, sl])
            p.migrant[r, sl] = False
            p.local_job[r, sl] = False
        # 11 a pupil drops out of school
        r, sl = sel(11)
        if r.size:
            p.student[r, sl] = False
            self.emit("school_dropout", r, sl, self.day_in_month(r, t))
            add_shock(r, "education", "dropout")

        # ongoing serious illness: further hospital stays and bills
        r, sl = np.nonzero(present & was_serious)
        if r.size:
            again = self.rng.random_rows(r) < h.serious_monthly_hospitalization
            rr, ss = r[again], sl[again]
            if rr.size:
                d = self.day_in_month(rr, t)
                bill = self.lognormal_rows(
                    rr, h.hospitalization_bill.median * 2, h.hospitalization_bill.sd
                )
                out = bill * (o0 + (o1 - o0) * self.rng.random_rows(rr)) * oop_mult[rr]
                self.emit("hospitalization", rr, ss, d, amount=bill)
                self.emit(
                    "medical_bill",
                    rr,
                    ss,
                    d + self.rng.integers_rows(rr, *self._span(h.bill_days_after_stay)),
                    amount=out,
                )
                np.add.at(oop, rr, out)
        p.serious_left = np.maximum(p.serious_left - 1, 0)
        # chronic medication, every month
        oop += (present & p.chronic).sum(axis=1) * cfg.income.chronic_medication_monthly * oop_mult

        # births
        born = p.join_m == t
        r, sl = np.nonzero(born)
        if r.size:
            self.emit("birth", r, sl, p.join_day[r, sl])
        # school year starts in September
        if moy == 9:
            self.school_year(t, y, present, age, realized, gv)
        p.college &= ~(present & (age >= cfg.work.college_leave_age))

        self.acc["oop"] += oop
        slot_ = t % 12
        self.oop_12m += oop - self.oop_ring[slot_]
        self.oop_ring[slot_] = oop

    def draw_grade(self, rows: np.ndarray, lowest: int) -> np.ndarray:
        gw = self.cfg.health.disability_grade_weights
        grades = np.array([g for g in (1, 2, 3, 4) if g >= lowest])
        w = np.array([gw[g] for g in grades])
        cum = np.cumsum(w / w.sum())
        return grades[
            np.minimum(
                np.searchsorted(cum, self.rng.random_rows(rows), side="right"), len(grades) - 1
            )
        ]

    def school_year(
        self,
        t: int,
        y: int,
        present: np.ndarray,
        age: np.ndarray,
        realized: np.ndarray,
        gv: np.ndarray,
    ) -> None:
        p, w = self.pop, self.cfg.work
        day = int(self.cal.month_start[t])
        ages = w.school_ages
        for level in ("primary", "junior", "senior"):
            a = ages[level]
            m = present & (age == a) & (p.student | (level == "primary"))
            r, sl = np.nonzero(m)
            if r.size:
                p.student[r, sl] = True
                self.emit(
                    "school_enrollment",
                    r,
                    sl,
                    day + self.rng.integers_rows(r, 0, 10),
                    detail=DETAIL[level],
                )
        m = present & (age == ages["college"]) & p.student
        r, sl = np.nonzero(m)
        if r.size:
            go = self.rng.random_rows(r) < w.college_prob
            p.student[r, sl] = False
            rr, ss = r[go], sl[go]
            if rr.size:
                p.college[rr, ss] = True
                tuition = self.lognormal_rows(rr, w.college_tuition.median, w.college_tuition.sd)
                self.emit(
                    "school_enrollment",
                    rr,
                    ss,
                    day + self.rng.integers_rows(rr, 0, 10),
                    amount=tuition,
                    detail=DETAIL["college"],
                )
                np.add.at(
                    realized[:, C["education"]],
                    rr,
                    -np.log1p(-np.minimum(self.s["college"] * gv[rr], 0.99)),
                )

    def household_shocks(
        self,
        t: int,
        y: int,
        moy: int,
        lv: np.ndarray,
        business_pot: np.ndarray,
        realized: np.ndarray,
        gv: np.ndarray,
    ) -> None:
        _cfg, p, sh, s = self.cfg, self.pop, self.cfg.shocks, self.s
        # business failure
        bf = np.array(sh.business_failure_monthly.as_tuple())[lv]
        u = self.rng.random(2)
        rows = np.flatnonzero((u[:, 0] < bf) & (self.fail_y == 0))
        if rows.size:
            lo, hi = sh.business_failure_loss
            loss = lo + (hi - lo) * self.rng.random_rows(rows)
            self.fail_y[rows] = loss
            self.fail_next[rows] = loss * sh.business_failure_carry_next_year
            self.emit(
                "business_failure",
                rows,
                None,
                self.day_in_month(rows, t),
                amount=loss * business_pot[rows],
            )
            np.add.at(
                realized[:, C["industry_failure"]],
                rows,
                -np.log1p(-np.minimum(s["business_failure"] * gv[rows], 0.99)),
            )
        # disasters over a banner or a township
        for sched, area_of in (
            (self.geo.banner_disasters, p.banner),
            (self.geo.township_disasters, p.township),
        ):
            for i in sched.in_month(t):
                self.disaster(
                    t,
                    moy,
                    str(sched.kind[i]),
                    float(sched.severity[i]),
                    int(sched.day[i]),
                    area_of == sched.area[i],
                    lv,
                    business_pot,
                    realized,
                    gv,
                )

    def disaster(
        self,
        t: int,
        moy: int,
        kind: str,
        severity: float,
        day: int,
        in_area: np.ndarray,
        lv: np.ndarray,
        business_pot: np.ndarray,
        realized: np.ndarray,
        gv: np.ndarray,
    ) -> None:
        sh, s = self.cfg.shocks, self.s
        ex = (
            sh.exposure.snow
            if kind == "snow"
            else sh.exposure.drought
            if kind == "drought"
            else sh.exposure.local
        )
        u = self.rng.random(3)  # drawn for every household: the same calls in every block
        z = self.rng.normal()
        hit = in_area & (u[:, 0] < np.array(ex.as_tuple())[lv])
        rows = np.flatnonzero(hit)
        if rows.size == 0:
            return
        sd = sh.household_severity_sd
        loss = np.clip(severity * np.exp(sd * z[rows] - sd * sd / 2), 0.0, 0.95)
        if kind == "snow" and moy >= 11:  # early winter: herds die before next year's sales
            self.loss_next[rows] = 1 - (1 - self.loss_next[rows]) * (1 - loss)
        else:
            self.loss_y[rows] = 1 - (1 - self.loss_y[rows]) * (1 - loss)
        start = int(self.cal.month_start[t]) + day
        days = start + np.floor(u[rows, 1] * sh.report_spread_days).astype(np.int64)
        value = loss * business_pot[rows]
        kind_code = DETAIL[kind]
        self.emit("natural_disaster", rows, None, days, amount=value, detail=kind_code)
        ls = self.livestock[lv[rows]]
        livestock = ls >= sh.livestock_loss_min_share
        if kind in ("snow", "drought", "sandstorm"):
            r = rows[livestock]
            self.emit(
                "livestock_loss",
                r,
                None,
                days[livestock] + sh.loss_report_days["livestock_loss"],
                amount=value[livestock] * ls[livestock],
                detail=kind_code,
            )
        if kind != "snow":
            crops = ls < sh.crop_failure_max_share
            r = rows[crops]
            self.emit(
                "crop_failure",
                r,
                None,
                days[crops] + sh.loss_report_days["crop_failure"],
                amount=value[crops] * (1 - ls[crops]),
                detail=kind_code,
            )
        house = u[rows, 2] < sh.housing_damage_prob[kind]
        if house.any():
            r = rows[house]
            self.emit(
                "housing_damage",
                r,
                None,
                days[house] + sh.loss_report_days["housing_damage"],
                amount=self.lognormal_rows(
                    r, sh.housing_damage_cost.median, sh.housing_damage_cost.sd
                ),
                detail=kind_code,
            )
        np.add.at(
            realized[:, C["disaster"]],
            rows,
            -np.log1p(
                -np.minimum(
                    s["disaster"] * loss / self.cfg.hardship.disaster_loss_reference * gv[rows],
                    0.99,
                )
            ),
        )

    def close_year(self, t: int, y: int, present: np.ndarray) -> None:
        acc, p = self.acc, self.pop
        rows = np.arange(self.n)
        lo, hi = self.cfg.income.recorded_days_after_year_end
        jan1 = day_number(dt.date(y + 1, 1, 1))
        recorded = jan1 + self.rng.integers_rows(rows, lo, hi + 1)
        size = np.maximum(((p.join_m <= t) & (p.leave_m > t + 1)).sum(axis=1), 1)
        business = acc["business"] * (1 - self.loss_y) * (1 - self.fail_y)
        self.inc.add(
            row=rows,
            year=np.full(self.n, y),
            recorded=recorded,
            size=size,
            wage=acc["wage"],
            business=business,
            property=acc["property"],
            transfer=acc["transfer"],
            costs=acc["costs"],
            oop=acc["oop"],
        )


def jan1_day(years: np.ndarray) -> np.ndarray:
    """Day number of 1 January of each year."""
    return (
        (np.asarray(years, dtype=np.int64) - 1970)
        .astype("datetime64[Y]")
        .astype("datetime64[D]")
        .astype(np.int64)
    )


def simulate_chunk(
    config: SynthConfig, cal: Calendar, geo: Geography, seed: int, first: int, n: int
) -> ChunkRecords:
    """Simulate households ``[first, first + n)`` over the whole period."""
    return _Sim(config, cal, geo, seed, first, n).run()
