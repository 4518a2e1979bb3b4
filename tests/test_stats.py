"""Intervals, rates, direct standardisation, contact-rate GLMs and funnel limits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

import kprlink as kl

# --- proportions -----------------------------------------------------------------------


def test_wilson_by_hand():
    # Wilson: (p + z^2/2n ± z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), p = 0.25, n = 20
    z = sps.norm.ppf(0.975)
    p, n = 0.25, 20
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    got = kl.proportion_ci([5, 0, 20], [20, 20, 20])
    assert got.loc[0, "lower"] == pytest.approx(centre - half)
    assert got.loc[0, "upper"] == pytest.approx(centre + half)
    assert got.loc[1, "lower"] == pytest.approx(0.0, abs=1e-12)
    assert got.loc[2, "upper"] == pytest.approx(1.0)


def test_clopper_pearson_against_beta_quantiles():
    got = kl.proportion_ci(3, 40, method="exact", level=0.9)
    assert got.loc[0, "lower"] == pytest.approx(sps.beta.ppf(0.05, 3, 38))
    assert got.loc[0, "upper"] == pytest.approx(sps.beta.ppf(0.95, 4, 37))


def test_proportion_ci_na_and_zero_denominator():
    got = kl.proportion_ci([1, None, 0], [0 + 2, 5, 0])
    assert got["proportion"].iloc[0] == 0.5
    assert got.iloc[1:].isna().all().all()


def test_proportion_ci_errors():
    with pytest.raises(kl.SpecError) as err:
        kl.proportion_ci([5, 7], [4, 6])
    assert len(err.value.problems) == 2
    with pytest.raises(kl.SpecError):
        kl.proportion_ci(-1, 4)
    with pytest.raises(kl.SpecError):
        kl.proportion_ci(1, 4, method="wald")
    with pytest.raises(kl.SpecError):
        kl.proportion_ci(1, 4, level=95)
    with pytest.raises(kl.SpecError) as err:
        kl.proportion_ci([1, 2, 3], [4, 5])
    assert "different lengths" in err.value.problems[0]


# --- rates -------------------------------------------------------------------------------


def test_rate_ci_exact_poisson_against_gamma_quantiles():
    got = kl.rate_ci([10, 0], [2000, 500], per=1000)
    assert got.loc[0, "rate"] == 5.0
    assert got.loc[0, "lower"] == pytest.approx(sps.gamma.ppf(0.025, 10) / 2)
    assert got.loc[0, "upper"] == pytest.approx(sps.gamma.ppf(0.975, 11) / 2)
    assert got.loc[1, "lower"] == 0
    assert got.loc[1, "upper"] == pytest.approx(-math.log(0.025) / 500 * 1000)  # 3.689/500


def test_rate_ci_zero_person_time_is_na():
    assert kl.rate_ci(1, 0).isna().all().all()


def test_rate_ratio_by_hand_and_zero():
    got = kl.rate_ratio([30, 0], [1000, 1000], [15, 15], [2000, 1000])
    se = math.sqrt(1 / 30 + 1 / 15)
    assert got.loc[0, "rate_ratio"] == pytest.approx(4.0)
    assert got.loc[0, "lower"] == pytest.approx(4 * math.exp(-1.959964 * se), rel=1e-6)
    assert got.loc[1].isna().all()
    with pytest.raises(kl.SpecError):
        kl.rate_ratio(1, 1, 1, 1, level=0)


def test_add_rates_and_proportions_keep_input():
    df = pd.DataFrame({"g": ["a", "b"], "n": [10, 3], "person_years": [2000.0, 0.0],
                       "population": [20, 30]}, index=[7, 9])
    before = df.copy()
    r = kl.add_rates(df)
    s = kl.add_proportions(df, scale=100, method="exact")
    pd.testing.assert_frame_equal(df, before)
    assert list(r.index) == [7, 9] and r["rate"].iloc[0] == 5.0 and pd.isna(r["rate"].iloc[1])
    assert s["share"].tolist() == [50.0, 10.0]
    assert s["share_lower"].iloc[1] == pytest.approx(100 * sps.beta.ppf(0.025, 3, 28))
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.add_rates(df, events_col="events")
    assert err.value.missing == ["events"]
    with pytest.raises(kl.MissingColumnsError):
        kl.add_proportions(df, denom_col="pop")
    assert len(kl.add_rates(df.iloc[:0])) == 0


# --- direct standardisation ---------------------------------------------------------------

# Worked example computed by hand (constructed, in the usual textbook layout; not copied
# from a published table): two populations, three age groups, a standard population of
# 100 000 split 50 000 / 30 000 / 20 000.
#   A: 0-39 20 deaths / 40 000;  40-64 60 / 30 000;  65+ 300 / 10 000
#   B: 0-39 15 deaths / 20 000;  40-64 50 / 20 000;  65+ 600 / 20 000
# Stratum rates per 1000: A 0.5, 2, 30; B 0.75, 2.5, 30.
# DSR A = 0.5*0.5 + 2*0.3 + 30*0.2 = 6.85 per 1000; DSR B = 0.375 + 0.75 + 6 = 7.125.
# Crude A = 380 / 80 000 = 4.75; crude B = 665 / 60 000 = 11.0833.
WORKED = pd.DataFrame({
    "pop": ["A"] * 3 + ["B"] * 3,
    "age_band": ["0-39", "40-64", "65+"] * 2,
    "n": [20, 60, 300, 15, 50, 600],
    "person_years": [40_000, 30_000, 10_000, 20_000, 20_000, 20_000],
})
STANDARD = pd.DataFrame({"age_band": ["0-39", "40-64", "65+"],
                         "population": [50_000, 30_000, 20_000]})


def test_standardise_direct_worked_example():
    before = WORKED.copy()
    got = kl.standardise_direct(WORKED, STANDARD, by=["pop"]).set_index("pop")
    pd.testing.assert_frame_equal(WORKED, before)
    assert got.loc["A", "std_rate"] == pytest.approx(6.85)
    assert got.loc["B", "std_rate"] == pytest.approx(7.125)
    assert got.loc["A", "crude_rate"] == pytest.approx(4.75)
    assert got.loc["B", "crude_rate"] == pytest.approx(665 / 60)
    assert (got["lower"] < got["std_rate"]).all() and (got["std_rate"] < got["upper"]).all()


def test_fay_feuer_is_exact_poisson_when_standard_is_proportional():
    # Fay & Feuer (1997): exact when the standard is proportional to the study population
    df = pd.DataFrame({"age_band": ["a", "b", "c"], "n": [3, 5, 1],
                       "person_years": [1000, 2000, 500]})
    std = df.rename(columns={"person_years": "population"})[["age_band", "population"]]
    got = kl.standardise_direct(df, std, per=1000).iloc[0]
    exact = kl.rate_ci(9, 3500).iloc[0]
    assert got["std_rate"] == pytest.approx(exact["rate"])
    assert got["lower"] == pytest.approx(exact["lower"])
    assert got["upper"] == pytest.approx(exact["upper"])


def test_standardise_direct_age_sex_strata_and_missing_stratum_is_na():
    df = pd.DataFrame({"age_band": ["y", "o", "y"], "sex": ["female", "female", "male"],
                       "n": [1, 2, 3], "person_years": [10, 10, 10]})
    std = pd.DataFrame({"age_band": ["y", "o", "y", "o"], "sex": ["female", "female", "male",
                                                                  "male"],
                        "population": [1, 1, 1, 1]})
    got = kl.standardise_direct(df, std, strata=["age_band", "sex"], per=1)
    assert pd.isna(got["std_rate"].iloc[0])  # male 'o' stratum has no person-time
    assert got["events"].iloc[0] == 6


def test_standardise_direct_zero_events():
    df = WORKED.assign(n=0)
    got = kl.standardise_direct(df, STANDARD, by=["pop"])
    assert (got["std_rate"] == 0).all() and (got["lower"] == 0).all()
    assert (got["upper"] > 0).all()


def test_standardise_direct_errors():
    with pytest.raises(kl.SpecError) as err:
        kl.standardise_direct(WORKED, STANDARD.iloc[:2])
    assert err.value.problems == ["stratum ('65+',) is not in the standard"]
    with pytest.raises(kl.SpecError) as err:
        kl.standardise_direct(WORKED.assign(person_years=0), pd.concat([STANDARD, STANDARD]),
                              by=["pop"])
    assert len(err.value.problems) == 2
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.standardise_direct(WORKED, STANDARD.rename(columns={"population": "pop"}))
    assert err.value.missing == ["population"]


# --- contact-rate GLM ---------------------------------------------------------------------


def _contacts(seed=3, n=400, nb=False):
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], n)
    old = rng.random(n) < 0.5
    py = rng.uniform(0.2, 1.0, n)
    mu = py * np.where(sex == "female", 4.0, 3.0) * np.where(old, 2.0, 1.0)
    if nb:
        lam = rng.gamma(shape=1 / 0.8, scale=0.8 * mu)
        y = rng.poisson(lam)
    else:
        y = rng.poisson(mu)
    return pd.DataFrame({"sex": sex, "old": old.astype(int), "n_contacts": y,
                         "person_years": py})


def test_poisson_saturated_rate_ratio_equals_ratio_of_rates():
    df = _contacts()
    before = df.copy()
    res = kl.contact_rate_glm(df, formula="C(sex)")
    pd.testing.assert_frame_equal(df, before)
    g = df.groupby("sex")[["n_contacts", "person_years"]].sum()
    rates = g["n_contacts"] / g["person_years"]
    rr = res.rate_ratios.set_index("term")
    assert rr.loc["Intercept", "rate_ratio"] == pytest.approx(rates["female"])
    assert rr.loc["C(sex)[T.male]", "rate_ratio"] == pytest.approx(rates["male"] / rates["female"])
    assert res.family == "poisson" and res.alpha == 0 and res.n_excluded == 0
    assert 0.7 < kl.contact_rate_glm(df, formula="C(sex) + old").pearson_dispersion < 1.3
    assert "poisson" in repr(res) and len(res.summary()) == 2


def test_negative_binomial_detects_overdispersion_and_counts_exclusions():
    df = _contacts(nb=True, n=600)
    df.loc[[0, 1], "person_years"] = [0.0, np.nan]
    res = kl.contact_rate_glm(df, formula="C(sex) + old", family="negative_binomial")
    assert res.n_excluded == 2 and res.n_obs == 598
    assert 0.4 < res.alpha < 1.3
    rr = res.rate_ratios.set_index("term")
    assert rr.loc["old", "lower"] < 2.0 < rr.loc["old", "upper"]
    poisson = kl.contact_rate_glm(df, formula="C(sex) + old")
    assert poisson.pearson_dispersion > 1.5


def test_contact_rate_glm_errors():
    df = _contacts(n=20)
    with pytest.raises(kl.SpecError):
        kl.contact_rate_glm(df, formula="C(sex)", family="binomial")
    with pytest.raises(kl.SpecError) as err:
        kl.contact_rate_glm(df.assign(n_contacts=-1), formula="C(sex)")
    assert err.value.problems == ["20 row(s) with negative n_contacts"]
    with pytest.raises(kl.SpecError):
        kl.contact_rate_glm(df.assign(person_years=0), formula="C(sex)")
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.contact_rate_glm(df, formula="C(sex)", events_col="contacts")
    assert err.value.missing == ["contacts"]
    with pytest.raises(kl.SpecError):
        kl.contact_rate_glm(df, formula="C(no_such_column)")


# --- funnel limits ------------------------------------------------------------------------


def _spiegelhalter(n, theta, p):
    r = sps.binom.ppf(p, n, theta)
    a = (sps.binom.cdf(r, n, theta) - p) / (sps.binom.pmf(r, n, theta))
    return (r - a) / n


def test_funnel_limits_binomial_against_formula_and_normal_approx():
    lim = kl.funnel_limits([50, 1000, 0], target=0.1)
    assert lim.loc[0, "lower_0.95"] == pytest.approx(_spiegelhalter(50, 0.1, 0.025))
    assert lim.loc[0, "upper_0.998"] == pytest.approx(_spiegelhalter(50, 0.1, 0.999))
    # large n: close to the normal approximation p ± z sqrt(p(1-p)/n)
    sd = math.sqrt(0.09 / 1000)
    assert lim.loc[1, "upper_0.95"] == pytest.approx(0.1 + 1.96 * sd, abs=0.002)
    assert lim.iloc[2, 1:].isna().all()
    assert (lim["lower_0.998"] <= lim["lower_0.95"]).iloc[:2].all()


def test_funnel_limits_poisson_rate():
    lim = kl.funnel_limits([100.0], target=0.05, kind="rate", levels=[0.95])
    r = sps.poisson.ppf(0.975, 5)
    a = (sps.poisson.cdf(r, 5) - 0.975) / sps.poisson.pmf(r, 5)
    assert lim.loc[0, "upper_0.95"] == pytest.approx((r - a) / 100)


def test_funnel_limits_errors():
    with pytest.raises(kl.SpecError) as err:
        kl.funnel_limits([10], target=1.5, levels=[0.95, 2])
    assert len(err.value.problems) == 2
    with pytest.raises(kl.SpecError):
        kl.funnel_limits([10], target=0.1, kind="normal")


def test_standardise_direct_reproduces_a_published_worked_example():
    # Worked example of canregtools::ageadjust (gamma method = Fay & Feuer 1997), reference
    # page of the R package: cases 50, 60, 45, 70; population 1000, 1200, 1100, 900;
    # standard 800, 1000, 1100, 900; per 100,000 it prints cr 5357.143,
    # asr 5394.737, asr_lci 4709.493, asr_uci 6154.046.
    df = pd.DataFrame({"age_band": ["a", "b", "c", "d"], "n": [50, 60, 45, 70],
                       "person_years": [1000, 1200, 1100, 900]})
    std = pd.DataFrame({"age_band": ["a", "b", "c", "d"],
                        "population": [800, 1000, 1100, 900]})
    out = kl.standardise_direct(df, std, per=100_000).iloc[0]
    assert round(float(out["crude_rate"]), 3) == 5357.143
    assert round(float(out["std_rate"]), 3) == 5394.737
    assert round(float(out["lower"]), 3) == 4709.493
    assert round(float(out["upper"]), 3) == 6154.046
