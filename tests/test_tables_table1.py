"""Table 1: counts by group, the joint release, SMDs and the quantile rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kprlink.disclosure import SuppressionRule
from kprlink.exceptions import MissingColumnsError, SpecError
from kprlink.tables import (
    release_quantiles,
    release_table_one,
    standardised_difference,
    table_one,
)

RULE = SuppressionRule(max_n=4, protect_zeros=False)


def _persons(seed: int = 1, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.choice(["dementia", "no dementia"], n, p=[0.3, 0.7])
    return pd.DataFrame({
        "person_id": np.arange(n, dtype=np.int64) + 1000,
        "group": g,
        "sex": rng.choice(["female", "male"], n, p=[0.6, 0.4]),
        "age_band": rng.choice(["65-74", "75-84", "85+"], n, p=[0.3, 0.5, 0.2]),
        # a rare level: a few persons only, in one group
        "home_care": np.where(np.arange(n) < 3, "yes", "no"),
        "age": rng.integers(65, 100, n).astype(float),
    })


def test_counts_match_a_crosstab_and_input_is_unchanged() -> None:
    p = _persons()
    before = p.copy()
    t1 = table_one(p, group_col="group", categorical=["sex", "age_band"], continuous=["age"],
                   groups=["dementia", "no dementia"])
    pd.testing.assert_frame_equal(p, before)
    for var in ("sex", "age_band"):
        want = pd.crosstab(p[var], p["group"]).stack()
        got = t1.counts[t1.counts["variable"] == var].set_index(["level", "group"])["n"]
        assert got.sort_index().tolist() == want.sort_index().tolist()
    assert t1.groups == ("dementia", "no dementia")
    assert len(t1.persons) == 2 * len(p)


def test_release_hides_small_counts_and_everything_derived_from_them() -> None:
    p = _persons()
    t1 = table_one(p, group_col="group", categorical=["sex", "home_care"],
                   continuous=["age"], groups=["dementia", "no dementia"])
    rel = release_table_one(t1, rule=RULE)
    c = rel.counts
    shown = c["n"].notna()
    assert not (shown & (c["n"] >= 1) & (c["n"] <= 4)).any()
    hc = c[c["variable"] == "home_care"]
    assert hc["n"].isna().any()  # three persons with home care: hidden
    assert hc.loc[hc["n"].isna(), "share_pct"].isna().all()
    # a hidden cell cannot be worked out from the published ones (joint audit)
    j = rel.joint.tables["home_care"]
    hid = j["status"] != "published"
    assert ((j.loc[hid, "upper"] - j.loc[hid, "lower"]) >= 1).all()
    # the SMD of a variable with a hidden share is not released; sex's is
    smd = rel.smd.set_index("variable")["smd"]
    assert np.isnan(smd["home_care"]) and np.isfinite(smd["sex"])
    # shares are published count / published group total
    sx = c[(c["variable"] == "sex")].set_index(["level", "group"])
    for g in t1.groups:
        want = round(100 * int(sx.at[("female", g), "n"]) / int(sx.at[("Total", g), "n"]), 1)
        assert float(sx.at[("female", g), "share_pct"]) == pytest.approx(want)
    row = rel.table[rel.table["characteristic"] == "home_care"].iloc[0]
    assert ":" in " ".join(row[["dementia", "no dementia", "Total", "smd"]].astype(str))


def test_smd_hand_values_and_level_order() -> None:
    # binary: |0.5 - 0.4| / sqrt((0.25 + 0.24) / 2)
    assert standardised_difference([0.5, 0.5], [0.4, 0.6]) == pytest.approx(0.20203, abs=1e-5)
    # three levels, Yang & Dalton (2012), computed by hand: sqrt(0.0016 / 0.0311)
    a, b = [0.5, 0.3, 0.2], [0.4, 0.4, 0.2]
    assert standardised_difference(a, b) == pytest.approx(0.226819, abs=1e-5)
    # the Mahalanobis form does not depend on which level is left out
    assert standardised_difference(a[::-1], b[::-1]) == pytest.approx(
        standardised_difference(a, b))
    assert standardised_difference(a, a) == 0.0
    assert np.isnan(standardised_difference([0.5, np.nan], [0.4, 0.6]))


def test_smd_in_the_release_equals_the_formula_on_published_shares() -> None:
    p = _persons(seed=3, n=600)
    t1 = table_one(p, group_col="group", categorical=["age_band"], continuous=["age"],
                   groups=["dementia", "no dementia"])
    rel = release_table_one(t1, rule=RULE)
    sh = {g: (p.loc[p["group"] == g, "age_band"].value_counts(normalize=True)
              .reindex(["65-74", "75-84", "85+"])) for g in t1.groups}
    want = standardised_difference(sh["dementia"], sh["no dementia"])
    assert rel.smd.set_index("variable").at["age_band", "smd"] == pytest.approx(want)
    a = p.loc[p["group"] == "dementia", "age"]
    b = p.loc[p["group"] == "no dementia", "age"]
    d = abs(a.mean() - b.mean()) / np.sqrt((a.var() + b.var()) / 2)
    assert rel.smd.set_index("variable").at["age", "smd"] == pytest.approx(d)


def test_quantile_rule() -> None:
    # distinct values: every quantile is one person's value -> none released
    v = pd.DataFrame({"g": ["a"] * 25, "x": np.arange(25, dtype=float)})
    q = release_quantiles(v, value_col="x", group_col="g", max_n=4)
    assert q[["q1", "median", "q3"]].isna().all(axis=None)
    # rounded to tens, each value is shared by 10 persons -> released, observed values
    q = release_quantiles(v, value_col="x", group_col="g", max_n=4, precision=10.0)
    assert q[["q1", "median", "q3"]].notna().all(axis=None)
    assert set(q[["q1", "median", "q3"]].to_numpy().ravel()) <= {0.0, 10.0, 20.0}
    # the median is held by exactly max_n persons: not released; by max_n + 1: released
    v = pd.DataFrame({"g": ["a"] * 21, "x": [1.0] * 8 + [2.0] * 4 + [3.0] * 9})
    assert np.isnan(release_quantiles(v, value_col="x", group_col="g", max_n=4)["median"][0])
    v = pd.DataFrame({"g": ["a"] * 21, "x": [1.0] * 8 + [2.0] * 5 + [3.0] * 8})
    assert release_quantiles(v, value_col="x", group_col="g", max_n=4)["median"][0] == 2.0
    # too few persons in the group
    small = pd.DataFrame({"g": ["a"] * 19, "x": [5.0] * 19})
    assert np.isnan(release_quantiles(small, value_col="x", group_col="g", max_n=4)["median"][0])
    assert release_quantiles(small, value_col="x", group_col="g", max_n=4,
                             min_persons=19)["median"][0] == 5.0


def test_released_quantiles_are_values_many_persons_hold() -> None:
    p = _persons(seed=5, n=500)
    t1 = table_one(p, group_col="group", categorical=["sex"], continuous=["age"])
    rel = release_table_one(t1, rule=RULE)
    for _, r in rel.quantiles.iterrows():
        who = p if r["group"] == "Total" else p[p["group"] == r["group"]]
        for k in ("q1", "median", "q3"):
            if not np.isnan(r[k]):
                assert (who["age"] == r[k]).sum() > 4


def test_errors_and_edge_cases() -> None:
    p = _persons(n=50)
    with pytest.raises(MissingColumnsError):
        table_one(p, group_col="nope", categorical=["sex"])
    with pytest.raises(SpecError):
        table_one(pd.concat([p, p.iloc[:1]]), group_col="group", categorical=["sex"])
    with pytest.raises(SpecError):
        table_one(p.assign(group=None), group_col="group", categorical=["sex"])
    with pytest.raises(SpecError):
        table_one(p, group_col="group", categorical=["sex"], continuous=["sex"])
    with pytest.raises(SpecError):
        release_quantiles(p, value_col="age", group_col="group", max_n=4, min_persons=0)
    # one group: no SMD; missing values form their own level
    one = p.assign(group="all", sex=p["sex"].where(p.index > 10))
    t1 = table_one(one, group_col="group", categorical=["sex"])
    assert "unknown" in t1.levels["sex"]
    rel = release_table_one(t1, rule=RULE)
    assert np.isnan(rel.smd["smd"]).all()
    assert "TableOne" in repr(t1) and "ReleasedTableOne" in repr(rel)
