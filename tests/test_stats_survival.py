"""Survival (issue 18 item 6): Kaplan-Meier, Aalen-Johansen and Cox against published and
hand-computed examples, and curves coarsened for release."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize_scalar

from kprlink.disclosure import SuppressionRule
from kprlink.exceptions import MissingColumnsError, SpecError
from kprlink.stats import (
    cox_model,
    cumulative_incidence,
    kaplan_meier,
    release_curve,
    release_risk_table,
)


def freireich() -> pd.DataFrame:
    """Remission times (weeks) of 42 leukaemia patients (Freireich et al., Blood 1963;
    Gehan, Biometrika 1965); '+' marks censoring in the 6-MP group."""
    placebo = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
    mp = ["6", "6", "6", "6+", "7", "9+", "10", "10+", "11+", "13", "16", "17+", "19+",
          "20+", "22", "23", "25+", "32+", "32+", "34+", "35+"]
    return pd.DataFrame({
        "time_days": placebo + [int(x.rstrip("+")) for x in mp],
        "status": [1] * 21 + [0 if x.endswith("+") else 1 for x in mp],
        "placebo": [1] * 21 + [0] * 21, "group": ["placebo"] * 21 + ["6-MP"] * 21})


def test_kaplan_meier_published_6mp_curve():
    km = kaplan_meier(freireich(), group_col="group")
    mp = km[km["group"] == "6-MP"].set_index("time")
    # Kleinbaum & Klein, Survival Analysis (3rd ed.), table 2.2; Collett table 2.3
    published = {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.690, 16: 0.627, 22: 0.538, 23: 0.448}
    for t, s in published.items():
        assert mp.loc[t, "estimate"] == pytest.approx(s, abs=5e-4)
    assert mp.loc[6, "n_at_risk"] == 21 and mp.loc[6, "n_events"] == 3
    assert mp.loc[6, "n_censored"] == 1 and mp.loc[35, "estimate"] == pytest.approx(0.448, abs=5e-4)
    # Greenwood by hand at t = 6 and 7
    se6 = 18 / 21 * np.sqrt(3 / (21 * 18))
    se7 = 18 / 21 * 16 / 17 * np.sqrt(3 / (21 * 18) + 1 / (17 * 16))
    np.testing.assert_allclose(mp.loc[[6, 7], "se"], [se6, se7])
    s, z = mp.loc[6, "estimate"], 1.959963984540054
    w = z * se6 / (s * abs(np.log(s)))
    assert mp.loc[6, "lower"] == pytest.approx(s ** np.exp(w))
    assert mp.loc[6, "upper"] == pytest.approx(s ** np.exp(-w))
    pl = km[km["group"] == "placebo"]
    assert pl["estimate"].iloc[-1] == 0 and pl["n_at_risk"].iloc[0] == 21


def test_aalen_johansen_hand_computed():
    d = pd.DataFrame({"time_days": [1, 2, 3, 4, 5, 6], "status": [1, 2, 0, 1, 2, 1]})
    f1 = cumulative_incidence(d)
    f2 = cumulative_incidence(d, event_value=2, competing_values=[1])
    # by hand: S(t-) d1 / n at t = 1 (1/6), 4 (4/6 * 1/3), 6 (2/9 * 1/1)
    np.testing.assert_allclose(f1["estimate"], [1 / 6, 1 / 6, 1 / 6, 1 / 6 + 2 / 9,
                                                1 / 6 + 2 / 9, 1 / 6 + 2 / 9 + 2 / 9])
    np.testing.assert_allclose(f2["estimate"].iloc[-1], 1 / 6 + 2 / 9)
    assert f1["n_competing"].tolist() == [0, 1, 0, 0, 1, 0]
    assert f1["n_censored"].tolist() == [0, 0, 1, 0, 0, 0]
    # the cumulative incidences and all-cause survival add up to one
    any_event = kaplan_meier(d.assign(status=(d["status"] > 0).astype(int)))
    np.testing.assert_allclose(f1["estimate"] + f2["estimate"] + any_event["estimate"], 1)
    # variance at t = 1 (one term): d(n - d) / n^3
    assert f1["se"].iloc[0] == pytest.approx(np.sqrt(5 / 216))


def test_aalen_johansen_is_one_minus_km_without_competing_events():
    d = freireich()
    km = kaplan_meier(d, group_col="group")
    aj = cumulative_incidence(d, group_col="group")
    np.testing.assert_allclose(aj["estimate"], 1 - km["estimate"])
    np.testing.assert_allclose(aj["se"], km["se"], atol=1e-12)  # Greenwood
    # competing deaths treated as censoring overstate the incidence (1 - KM >= AJ)
    rng = np.random.default_rng(1)
    c = pd.DataFrame({"time_days": rng.integers(1, 300, 400), "status": rng.choice(
        [0, 1, 2], 400, p=[0.3, 0.3, 0.4])})
    naive = 1 - kaplan_meier(c)["estimate"]
    aj = cumulative_incidence(c)["estimate"]
    assert (naive >= aj - 1e-12).all() and naive.iloc[-1] > aj.iloc[-1] + 0.05


def _breslow_loglik(beta: float, t: np.ndarray, e: np.ndarray, x: np.ndarray) -> float:
    """Breslow partial log-likelihood of one covariate, summed over event times."""
    ll = 0.0
    for tj in np.unique(t[e == 1]):
        dead = (t == tj) & (e == 1)
        risk = t >= tj
        ll += beta * x[dead].sum() - dead.sum() * np.log(np.exp(beta * x[risk]).sum())
    return ll


def test_cox_published_and_by_hand():
    d = freireich()
    bres = cox_model(d, formula="placebo", ties="breslow").hazard_ratios.set_index("term")
    efron = cox_model(d, formula="placebo").hazard_ratios.set_index("term")
    # Kleinbaum & Klein (Breslow ties): coef 1.509, HR 4.523; R coxph (Efron): coef 1.572
    assert np.log(bres.loc["placebo", "hazard_ratio"]) == pytest.approx(1.509, abs=1e-3)
    assert np.log(efron.loc["placebo", "hazard_ratio"]) == pytest.approx(1.572, abs=1e-3)
    best = minimize_scalar(lambda b: -_breslow_loglik(
        b, d["time_days"].to_numpy(), d["status"].to_numpy(), d["placebo"].to_numpy()),
        bounds=(-5, 5), method="bounded", options={"xatol": 1e-9})
    assert np.log(bres.loc["placebo", "hazard_ratio"]) == pytest.approx(best.x, abs=1e-5)
    res = cox_model(d, formula="placebo", ties="breslow")
    assert res.n_obs == 42 and res.n_events == 30
    assert bres.loc["placebo", "lower"] < 4.523 < bres.loc["placebo", "upper"]
    # competing deaths (status 2) are censored: the cause-specific hazard
    d2 = d.assign(status=d["status"].where(d.index % 7 != 0, 2))
    assert cox_model(d2, formula="placebo").n_events == 30 - int(
        (d["status"][d.index % 7 == 0] == 1).sum())
    strat = cox_model(d.assign(s=d.index % 2), formula="placebo", strata_col="s")
    assert strat.hazard_ratios["hazard_ratio"].iloc[0] > 1


def _assert_safe(rel: pd.DataFrame, m: int) -> None:
    for c in ("n_at_risk", "n_events", "n_competing", "n_censored"):
        v = rel[c].dropna().to_numpy(int)
        assert ((v == 0) | (v > m)).all(), (c, v)
    left = (rel["n_at_risk"] - rel["n_events"] - rel["n_competing"] - rel["n_censored"]).dropna()
    assert ((left == 0) | (left > m)).all()


def test_release_curve_never_shows_small_counts():
    rng = np.random.default_rng(7)
    n = 600
    d = pd.DataFrame({"time_days": rng.integers(0, 730, n),
                      "status": rng.choice([0, 1, 2], n, p=[0.5, 0.3, 0.2]),
                      "g": rng.choice(["a", "b", "tiny"], n, p=[0.6, 0.395, 0.005])})
    rule = SuppressionRule(max_n=4)
    for curve in (kaplan_meier(d, group_col="g"), cumulative_incidence(d, group_col="g")):
        rel = release_curve(curve, rule=rule, group_col="g")
        _assert_safe(rel, 4)
        for g, part in rel.groupby("g"):
            raw = curve[curve["g"] == g].set_index("time")
            if g == "tiny":  # 3 persons: nothing can be released
                assert part["time"].isna().all() and part["estimate"].isna().all()
                continue
            assert len(part) > 3
            # steps chain: each starts with those left after the previous one
            left = part["n_at_risk"] - part[["n_events", "n_competing", "n_censored"]].sum(axis=1)
            assert (part["n_at_risk"].iloc[1:].to_numpy() == left.iloc[:-1].to_numpy()).all()
            # estimates are the estimator's at each step's end; events add up
            np.testing.assert_allclose(part["estimate"], raw.loc[part["time"], "estimate"])
            assert part["n_events"].sum() <= raw["n_events"].sum()
            assert part["n_at_risk"].iloc[0] == raw["n_at_risk"].iloc[0]
        risk = release_risk_table(rel, times=[0, 180, 365, 10_000], group_col="g")
        a = risk[risk["g"] == "a"].set_index("time")
        assert a.loc[0, "n_at_risk"] == (d["g"] == "a").sum() and a.loc[0, "n_events"] == 0
        # read off released steps only: every figure is a released at-risk after a step
        ra = rel[rel["g"] == "a"]
        after = set(ra["n_at_risk"] - ra[["n_events", "n_competing", "n_censored"]].sum(axis=1))
        assert a.loc[365, "n_at_risk"] in after
        assert risk.loc[risk["g"] == "tiny", "n_at_risk"].isna().all()
    # a larger rule merges more
    km = kaplan_meier(d)
    assert len(release_curve(km, rule=10)) < len(release_curve(km, rule=2)) < len(km)


def test_survival_errors():
    d = freireich()
    with pytest.raises(MissingColumnsError) as err:
        kaplan_meier(d, time_col="weeks")
    assert err.value.missing == ["weeks"]
    with pytest.raises(SpecError):
        kaplan_meier(d.assign(time_days=-d["time_days"]))
    with pytest.raises(SpecError):
        cumulative_incidence(d, event_value=2)
    with pytest.raises(SpecError):
        cox_model(d, formula="placebo", ties="exact")
    with pytest.raises(SpecError):
        cox_model(d, formula="no_such_column")
    with pytest.raises(SpecError):
        release_curve(kaplan_meier(d), rule=-1)
    empty = kaplan_meier(d.iloc[:0])
    assert len(empty) == 0 and len(release_curve(empty, rule=4)) == 0
