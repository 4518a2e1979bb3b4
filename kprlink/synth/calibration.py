"""Published facts the synthetic Norway is calibrated against, with citations.

Tags follow ``data/calibration.md`` of the project: **[V]** verified in the
source named, **[D]** derived from verified numbers, **[E]** an estimate or
modelling assumption (never presented as a published figure). Only facts are
hard-coded here; no reference data file is bundled.

:data:`TARGETS` lists the margins the generator is checked against: the test
suite checks them at scale 0.01, ``benchmarks/bench_synth.py`` prints each
target beside the generated value at any scale.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Reference bands of the 2018 material (lower age, upper age exclusive).
BANDS: tuple[tuple[str, int, int], ...] = (
    ("Under 60", 0, 60),
    ("60-64", 60, 65),
    ("65-69", 65, 70),
    ("70-74", 70, 75),
    ("75-79", 75, 80),
    ("80-84", 80, 85),
    ("85-89", 85, 90),
    ("90+", 90, 106),
)

#: Population on 1 January 2017 by reference band, (female, male).
#: [V] SSB table 07459 (calibration.md §3, "reference bands, 1 Jan 2017").
POP_2017_BANDS: dict[str, tuple[int, int]] = {
    "Under 60": (1_987_642, 2_098_636),
    "60-64": (148_103, 149_114),
    "65-69": (136_749, 136_705),
    "70-74": (118_995, 113_064),
    "75-79": (80_077, 68_252),
    "80-84": (60_266, 44_336),
    "85-89": (45_272, 26_497),
    "90+": (32_083, 12_526),
}
#: [V] SSB 07459: 5 258 317 persons on 1 January 2017.
POP_2017_TOTAL = 5_258_317

#: Live births 2017 and deaths 2016 and 2017: SSB *Fødde* and *Døde*
#: statistics (ssb.no/befolkning/statistikker/fodte, .../dode): 56 633 live
#: births in 2017; 40 726 deaths in 2016; 40 774 deaths in 2017. [E] quoted
#: from memory of those releases, not checked against calibration.md: verify.
BIRTHS_2017 = 56_633
DEATHS_2016 = 40_726
DEATHS_2017 = 40_774

#: The 19 counties of 2017 (code, name, population 1 Jan 2017).
#: SSB 07459 by county, 2017 borders; 16 and 17 merged to 50 Trøndelag on
#: 1 January 2018. [E] quoted from memory (they sum to 5 256 089, 0.04 % below
#: the verified national total): only the relative sizes are used, rescaled to
#: :data:`POP_2017_TOTAL`. Verify against 07459 before quoting them.
COUNTIES_2017: tuple[tuple[str, str, int], ...] = (
    ("01", "Østfold", 292_893),
    ("02", "Akershus", 604_368),
    ("03", "Oslo", 666_759),
    ("04", "Hedmark", 196_190),
    ("05", "Oppland", 189_479),
    ("06", "Buskerud", 279_714),
    ("07", "Vestfold", 247_048),
    ("08", "Telemark", 172_494),
    ("09", "Aust-Agder", 116_673),
    ("10", "Vest-Agder", 182_701),
    ("11", "Rogaland", 472_024),
    ("12", "Hordaland", 519_963),
    ("14", "Sogn og Fjordane", 110_266),
    ("15", "Møre og Romsdal", 266_274),
    ("16", "Sør-Trøndelag", 317_363),
    ("17", "Nord-Trøndelag", 137_233),
    ("18", "Nordland", 242_866),
    ("19", "Troms", 165_632),
    ("20", "Finnmark", 76_149),
)
#: Municipalities per county in 2017 (426 in all, as SSB Klass 2017; the
#: per-county split is [E] from memory).
MUNICIPALITIES_PER_COUNTY: dict[str, int] = {
    "01": 18, "02": 22, "03": 1, "04": 22, "05": 26, "06": 21, "07": 12, "08": 18,
    "09": 15, "10": 15, "11": 26, "12": 33, "14": 26, "15": 36, "16": 25, "17": 23,
    "18": 44, "19": 24, "20": 19,
}

# --- dementia -------------------------------------------------------------
#: True dementia prevalence by age band, both sexes.
#: [V-sec] HUNT4 70+: 5.6 % at 70–74 and 48.1 % at 90+; [D] geometric
#: interpolation (×1.712 per 5 years, calibration.md §7.3). Below 70: [E] from
#: young-onset prevalence (Kvello-Alme 2019: 163/100 000 at 45–64) and the
#: doubling-every-5-years gradient.
DEMENTIA_PREVALENCE: dict[str, float] = {
    "<45": 0.0001, "45-59": 0.0012, "60-64": 0.006, "65-69": 0.022,
    "70-74": 0.056, "75-79": 0.096, "80-84": 0.164, "85-89": 0.281, "90+": 0.481,
}
#: Women / men relative risk at 70+. [V-sec] HUNT4 70+: 16 % of women, 13 %
#: of men (part of it is the older age of women; [E] residual factor).
DEMENTIA_SEX_FACTOR = {2: 1.06, 1: 0.93}
#: Share of persons with dementia who have a registry diagnosis.
#: [V] Gjøra et al. 2024 (JAD, doi:10.3233/JAD-240037): 35.6 % overall,
#: 19.8 % at home, 66.0 % in nursing homes, lower at the youngest and oldest.
REGISTERED_HOME = 0.198
REGISTERED_NURSING_HOME = 0.660
#: [E] relative registration by age (lower at the youngest and oldest).
REGISTERED_AGE_FACTOR: dict[str, float] = {
    "<45": 0.5, "45-59": 0.7, "60-64": 0.85, "65-69": 1.0, "70-74": 1.05, "75-79": 1.05,
    "80-84": 0.95, "85-89": 0.85, "90+": 0.62,
}

# --- services -------------------------------------------------------------
#: [V] SSB 386288 (calibration.md §4.2): users on 31.12.2017.
LONG_TERM_RESIDENTS_2017 = 32_733
SERVICE_USERS_STOCK_2017 = 282_302
#: [V] SSB Rapporter 2018/26: unique recipients during 2017.
SERVICE_USERS_2017 = 361_402
#: [V] Omsorg 2020, Tabell 3: GPS users 2017, safety alarms 2017.
GPS_USERS_2017 = 533
SAFETY_ALARM_USERS_2017 = 95_364
#: [V] NKI 2016/2017: medication review 57.3 % (2016; Oslo 88 %, Troms 33.9 %
#: in 2018), nutrition-risk assessment 43.3 % (2017; Oslo 75.7 %,
#: Finnmark 20.0 %), 35.5 % at risk, 73.2 % of those with a plan, 51.8 %
#: missing reporting. County values between the extremes are [E].
MEDICATION_REVIEW = {"national": 0.573, "03": 0.88, "19": 0.339}
NUTRITION_SCREENING = {"national": 0.433, "03": 0.757, "20": 0.200}
NUTRITION_RISK = 0.355
NUTRITION_PLAN = 0.732
NUTRITION_MISSING = 0.518
#: [NF]/[E] rehabilitation stays with functional assessment at admission and
#: discharge / admission only / discharge only / neither (2018 material).
REHAB_ASSESSMENT_SPLIT = (0.75, 0.06, 0.02, 0.17)

# --- GP / KUHR ------------------------------------------------------------
#: GP consultations per person per year by age (lower bound of band).
#: [V] SSB Allmennlegetjenesten 2015 (2.6 overall, 80–89 5.2, 90+ 3.4) and
#: "Vekst i bruk av fastlegene i 2017" (~2.7, "5 per person in their 80s").
GP_CONSULTATIONS_PER_YEAR: tuple[tuple[int, float], ...] = (
    (0, 1.7), (6, 1.2), (16, 1.7), (20, 2.2), (30, 2.6), (50, 3.2), (67, 4.2),
    (80, 5.0), (90, 3.4),
)
#: [V] 2015: men 2.2, women 3.1 → women/men 1.4 overall; [E] → 1.0 at 67+.
GP_WOMEN_MEN_RATIO_UNDER_67 = 1.45
#: [D] consultations ≈ 49 % of GP tariff contacts in 2017 (SSB 355476).
GP_SIMPLE_PER_CONSULTATION = 1.0
#: [V] legevakt 0.25 contacts per person (2015), 80–89 0.35, 90+ 0.34.
LEGEVAKT_PER_YEAR = 0.25
#: [E] share of acute (urgent) hospital contacts with a legevakt consultation
#: on the same day, and with a GP consultation instead: most emergency
#: admissions in Norway come through legevakt or the GP (estimate, not a
#: published figure; it drives how often contact dates coincide across
#: registers).
REFERRAL_LEGEVAKT = 0.55
REFERRAL_GP = 0.15
#: [V] SSB 2017: 14.4 million GP consultations.
GP_CONSULTATIONS_2017 = 14_416_000

# --- NPR ------------------------------------------------------------------
#: Share with a somatic hospital contact in 2017 by age (lower bound) and sex
#: (men, women). [V] SSB "4 av 10 nordmenn innom sykehus": 0–9 34/30 %,
#: 10–19 25/25 %, 20–39 24/40 %, 40–59 31/39 %, 60–69 46/47 %, 80+ 69 %
#: (men 74 %); 70–79 [E] interpolated.
NPR_CONTACT_SHARE: tuple[tuple[int, float, float], ...] = (
    (0, 0.34, 0.30), (10, 0.25, 0.25), (20, 0.24, 0.40), (40, 0.31, 0.39),
    (60, 0.46, 0.47), (70, 0.58, 0.55), (80, 0.74, 0.66),
)
#: [V] SSB 302961 / NTB: 1 951 522 patients in 2017.
NPR_PATIENTS_2017 = 1_951_522
#: [V] SSB 353135, 2017: outpatient consultations, discharges, day treatments.
NPR_OUTPATIENT_2017 = 6_050_961
NPR_DISCHARGES_2017 = 779_300
NPR_DAY_2017 = 381_717

# --- the reference cohort ---------------------------------------------------
#: [V] Helsedirektoratet 2022 ch. 5.2: 45 000 in NPR and/or KPR, 1 Jul 2016 –
#: 30 Jun 2017; [NF] 32 407 in the 2018 material (GP or hospital contact).
COHORT_LOW, COHORT_HIGH = 32_000, 45_000


@dataclass(frozen=True)
class Target:
    """One calibration target: a published margin and its tolerance.

    Parameters
    ----------
    name : str
        Machine name of the margin.
    value : float
        Target value at scale 1 for counts (``per_capita=False``) or the
        rate itself.
    low, high : float
        Accepted range for the generated value (same units as ``value``).
    scaled : bool
        Whether ``value``, ``low`` and ``high`` are counts that scale with
        ``--scale``.
    source : str
        Citation.
    """

    name: str
    value: float
    low: float
    high: float
    scaled: bool
    source: str


#: Targets checked by the tests (scale 0.01) and printed by the benchmark.
TARGETS: tuple[Target, ...] = (
    Target("population_2017", POP_2017_TOTAL, POP_2017_TOTAL * 0.999,
           POP_2017_TOTAL * 1.001, True, "[V] SSB 07459, 1 Jan 2017"),
    Target("population_80plus_share", 0.042, 0.040, 0.044, False,
           "[V] SSB: 80+ = 4.2 % on 1 Jan 2017"),
    Target("deaths_2017", DEATHS_2017, DEATHS_2017 * 0.85, DEATHS_2017 * 1.15, True,
           "[V] SSB Døde 2017"),
    Target("dementia_prevalence_70plus", 0.146, 0.13, 0.16, False,
           "[V] HUNT4 70+ (Gjøra 2021): 14.6 %"),
    Target("dementia_prevalence_70_74", 0.056, 0.045, 0.067, False,
           "[V-sec] HUNT4 70+: 5.6 % at 70–74"),
    Target("dementia_prevalence_90plus", 0.481, 0.44, 0.52, False,
           "[V-sec] HUNT4 70+: 48.1 % at 90+"),
    Target("dementia_registered_share", 0.356, 0.31, 0.40, False,
           "[V] Gjøra 2024: 35.6 % of persons with dementia registered"),
    Target("dementia_cohort_window", 38_700, COHORT_LOW, COHORT_HIGH, True,
           "[V] 45 000 (Helsedir. 2022) / [NF] 32 407 (2018 material)"),
    Target("gp_consultations_per_person_2017", 2.7, 2.45, 2.95, False,
           "[V] SSB 2017: ~2.7 per person"),
    Target("gp_consultations_per_person_80_89", 5.0, 4.4, 5.6, False,
           "[V] SSB: ~5 per person in their 80s"),
    Target("gp_consultations_women_men_ratio", 1.4, 1.2, 1.6, False,
           "[V] SSB 2015: women 3.1 / men 2.2"),
    Target("gp_consultation_share_of_claims", 0.49, 0.42, 0.56, False,
           "[D] SSB 355476: consultations 49 % of GP contacts"),
    Target("npr_patients_2017", NPR_PATIENTS_2017, NPR_PATIENTS_2017 * 0.9,
           NPR_PATIENTS_2017 * 1.1, True, "[V] SSB: 1 951 522 patients 2017"),
    Target("npr_contact_share_80plus", 0.69, 0.64, 0.74, False,
           "[V] SSB: 69 % of persons 80+ had a hospital contact"),
    Target("long_term_residents_31dec2017", LONG_TERM_RESIDENTS_2017,
           LONG_TERM_RESIDENTS_2017 * 0.85, LONG_TERM_RESIDENTS_2017 * 1.15, True,
           "[V] SSB 386288"),
    Target("service_users_31dec2017", SERVICE_USERS_STOCK_2017,
           SERVICE_USERS_STOCK_2017 * 0.85, SERVICE_USERS_STOCK_2017 * 1.15, True,
           "[V] SSB 386288"),
)


def age_band(age: int) -> str:
    """The reference band of an age in completed years.

    >>> age_band(59), age_band(60), age_band(104)
    ('Under 60', '60-64', '90+')
    """
    for name, lo, hi in BANDS:
        if lo <= age < hi:
            return name
    return BANDS[-1][0]
