"""The generator's hip-fracture rates are recovered from the delivery within sampling error.

The truth: each person alive on 1 July 2016 has one hip fracture in the period with
probability ``kprlink.synth.world.hip_fracture_probability`` (age, sex, true
dementia), so the expected number in a stratum is the sum of those probabilities,
and the true rate is that sum over the stratum's person-years. What the delivery
shows: inpatient NPR episodes with a main diagnosis S72.0-S72.2, read with kprlink,
counted per person, over person-time alive in the period. In each stratum
(sex x true dementia x age band) the exact Poisson 99.9 % interval of the observed
rate (``kl.rate_ci``) must hold the true rate, and over all strata the chi-square of
observed against expected counts must not reject at the 0.1 % level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import kprlink as kl
from kprlink.synth.world import hip_fracture_probability

pytestmark = pytest.mark.slow

START, END = pd.Timestamp("2016-07-01"), pd.Timestamp("2017-12-31")


@pytest.fixture(scope="module")
def strata(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("hip_truth")
    kl.generate_delivery(out, kl.SynthConfig(scale=0.02, seed=5, fmt="parquet"))
    delivery = kl.read_delivery(out)
    dx, ep = delivery.npr_diagnoses, delivery.npr_episodes
    main = dx[(dx["condition"] == 1).to_numpy(bool) & dx["is_main"].fillna(False).to_numpy(bool)
              & dx["code"].astype("string").str.slice(0, 4).isin(["S720", "S721", "S722"])
              .fillna(False).to_numpy(bool)]
    adm = ep[(ep["care_level"] == 1).to_numpy(bool)
             & ep["episode_id"].isin(main["episode_id"]).to_numpy(bool)]
    with_fracture = set(pd.array(adm["npr_id"], dtype="Int64").dropna().tolist())

    t = pd.read_parquet(out / "truth" / "persons.parquet")
    death = pd.to_datetime(t["death_date"])
    t = t[~(death < START).to_numpy()].reset_index(drop=True)  # alive on 1 July 2016
    age = np.maximum(2016 - t["birth_year"].to_numpy(int), 0)  # age on 1 Jan 2017
    t["p"] = hip_fracture_probability(age, t["sex"].to_numpy(), t["dementia_true"].to_numpy())
    t["observed"] = t["npr_id"].isin(with_fracture).astype(int)
    # person-time 1 Jul 2016 - death or 31 Dec 2017; strata by the generator's age
    exit_ = death.fillna(END).clip(upper=END) + pd.Timedelta(days=1)
    t["person_years"] = (exit_ - START).dt.days / 365.25
    t["band"] = pd.cut(age, [0, 65, 75, 85, 200], right=False,
                       labels=["0-64", "65-74", "75-84", "85+"]).astype(str)
    t = t[t["band"] != "0-64"]
    g = t.groupby(["sex", "dementia_true", "band"])
    return pd.DataFrame({"observed": g["observed"].sum(), "expected": g["p"].sum(),
                         "variance": g["p"].agg(lambda p: float((p * (1 - p)).sum())),
                         "person_years": g["person_years"].sum()}).reset_index()


def test_hip_fracture_rates_are_recovered_within_sampling_error(strata: pd.DataFrame) -> None:
    assert len(strata) == 12 and strata["observed"].sum() > 150
    ci = kl.rate_ci(strata["observed"].to_numpy(), strata["person_years"].to_numpy(),
                    per=1000, level=0.999)
    true_rate = 1000 * strata["expected"] / strata["person_years"]
    inside = (ci["lower"].to_numpy() <= true_rate) & (true_rate <= ci["upper"].to_numpy())
    assert inside.all(), strata.assign(true=true_rate, lo=ci["lower"], hi=ci["upper"])
    chi2 = float((((strata["observed"] - strata["expected"]) ** 2) / strata["variance"]).sum())
    assert stats.chi2.sf(chi2, df=len(strata)) > 0.001


def test_a_generator_without_the_sex_factor_would_fail(strata: pd.DataFrame) -> None:
    """The interval is tight enough to see a wrong truth (women's rate 1.7 times men's)."""
    wrong = strata.assign(expected=np.where(strata["sex"] == 2, strata["expected"] / 1.7,
                                            strata["expected"]))
    chi2 = float((((wrong["observed"] - wrong["expected"]) ** 2) / wrong["expected"]).sum())
    assert stats.chi2.sf(chi2, df=len(wrong)) < 0.001
