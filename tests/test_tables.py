"""Crosstabs, release through disclosure control, and the reference dementia share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kprlink as kl


def _rule(**kw):
    return kl.SuppressionRule(max_n=4, **kw)


# --- crosstab ------------------------------------------------------------------------------


def test_crosstab_all_combinations_na_kept_and_margins():
    df = pd.DataFrame({"sex": ["female", "male", "female", None, "female"],
                       "band": pd.Categorical(["a", "a", "b", "b", None],
                                              categories=["a", "b", "c"])}, index=list("vwxyz"))
    before = df.copy()
    ct = kl.crosstab(df, dims=["sex", "band"])
    pd.testing.assert_frame_equal(df, before)
    assert len(ct) == 3 * 4  # female/male/Unknown x a/b/c/Unknown
    assert ct["n"].sum() == 5
    cell = ct.set_index(["sex", "band"])["n"]
    assert cell[("female", "c")] == 0 and cell[("Unknown", "b")] == 1
    assert cell[("female", "Unknown")] == 1
    full = kl.crosstab(df, dims=["sex", "band"], margins=True).set_index(["sex", "band"])["n"]
    assert full[("Total", "Total")] == 5
    assert full[("female", "Total")] == 3
    assert full[("Total", "a")] == 2
    assert len(full) == 4 * 5


def test_crosstab_count_col_single_group_and_empty():
    df = pd.DataFrame({"g": ["x", "x"], "w": [2, 3]})
    assert kl.crosstab(df, dims=["g"], count_col="w")["n"].tolist() == [5]
    empty = kl.crosstab(df.iloc[:0], dims=["g"])
    assert len(empty) == 0


def test_crosstab_errors():
    df = pd.DataFrame({"g": ["Total", "x"]})
    with pytest.raises(kl.SpecError):
        kl.crosstab(df, dims=["g"])
    with pytest.raises(kl.SpecError):
        kl.crosstab(df, dims=[])
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.crosstab(df, dims=["g", "h"])
    assert err.value.missing == ["h"]


# --- release ---------------------------------------------------------------------------


def _people():
    rng = np.random.default_rng(4)
    n = 300
    return pd.DataFrame({
        "sex": rng.choice(["female", "male"], n),
        "band": pd.Categorical(rng.choice(["<60", "60-79", "80+"], n, p=[0.5, 0.49, 0.01]),
                               categories=["<60", "60-79", "80+"]),
    })


def test_release_crosstab_hides_small_counts():
    df = _people()
    res = kl.release_crosstab(df, dims=["sex", "band"], rule=_rule())
    rel = res.released
    visible = rel["n"].dropna().astype(int)
    assert not visible.between(1, 4).any()
    assert rel.loc[(rel["sex"] == "Total") & (rel["band"] == "Total"), "n"].iloc[0] == 300
    assert (rel.loc[rel["n"].isna(), "status"].astype(str) != "published").all()
    assert rel["n"].isna().sum() >= 2  # a primary cell always brings a secondary one


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from("xyz")), min_size=0,
                max_size=60))
def test_release_crosstab_never_shows_a_small_count(rows):
    df = pd.DataFrame(rows, columns=["g", "h"])
    df["g"] = pd.Categorical(df["g"], categories=["a", "b"])
    df["h"] = pd.Categorical(df["h"], categories=["x", "y", "z"])
    rel = kl.release_crosstab(df, dims=["g", "h"], rule=_rule(), audit=False).released
    shown = rel["n"].dropna().astype(int)
    assert not shown.between(0, 4).any()  # zeros protected too
    assert rel["n"].isna().sum() != 1  # one hidden cell alone would follow from its margin


def test_release_rates_share_from_released_counts_only():
    cells = pd.DataFrame({"sex": ["female", "female", "male", "male"],
                          "band": ["young", "old", "young", "old"],
                          "n": [2, 40, 30, 45], "population": [1000, 42, 900, 300]})
    before = cells.copy()
    rr = kl.release_rates(cells, dims=["sex", "band"], rule=_rule())
    pd.testing.assert_frame_equal(cells, before)
    rel = rr.released.set_index(["sex", "band"])
    # female/young is a small count; female/old a small complement (42 - 40 = 2)
    assert pd.isna(rel.loc[("female", "young"), "share"])
    assert pd.isna(rel.loc[("female", "old"), "share"])
    assert rel["share"].isna().sum() >= 2
    pub = rel[rel["n"].notna()]
    assert np.allclose(pub["share"], pub["n"].astype(float) / pub["population"].astype(float) * 100)
    assert (rel.loc[rel["n"].isna(), ["share", "share_lower", "share_upper"]].isna()).all().all()
    total = rel.loc[("Total", "Total")]
    assert total["share"] == pytest.approx(117 / 2242 * 100)
    assert "shares hidden" in repr(rr)
    assert set(rr.summary()["status"]) >= {"published", "primary"}


def test_release_rates_errors():
    cells = pd.DataFrame({"g": ["a", "b"], "n": [5, 7], "population": [4.5, 10]})
    with pytest.raises(kl.SpecError) as err:
        kl.release_rates(cells, dims=["g"], rule=_rule())
    assert len(err.value.problems) == 2  # fractional denominator, n > denominator
    with pytest.raises(kl.SpecError) as err:
        kl.release_rates(cells.assign(population=[10, 10]), dims=["g"],
                         rule=_rule(protect_differences=False))
    assert len(err.value.problems) == 1
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.release_rates(cells, dims=["g"], rule=_rule(), denom_col="pop")
    assert err.value.missing == ["pop"]


# --- the reference study on a synthetic delivery --------------------------------------------


@pytest.fixture(scope="module")
def delivery(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "delivery"
    kl.generate_delivery(out, kl.SynthConfig(scale=0.002, seed=1))
    return out


def _true_share(delivery):
    """Independent computation from truth/ and the population file (numpy, no kprlink)."""
    truth = pd.read_parquet(delivery / "truth" / "dementia_registered.parquet")
    persons = pd.read_parquet(delivery / "truth" / "persons.parquet")
    attrs = ["sex", "birth_year"]
    by_kpr = truth[truth["kpr_id"].notna()].merge(
        persons[["kpr_id", *attrs]].astype({"kpr_id": "Int64"}), on="kpr_id", how="left")
    by_npr = truth[truth["kpr_id"].isna()].merge(
        persons[["npr_id", *attrs]].astype({"npr_id": "Int64"}), on="npr_id", how="left")
    cohort = pd.concat([by_kpr, by_npr], ignore_index=True)
    assert len(cohort) == len(truth)
    assert cohort["birth_year"].notna().all()
    lower = np.array([0, 60, 65, 70, 75, 80, 85, 90])
    age = 2016 - cohort["birth_year"].to_numpy()  # completed years on 1 January 2017
    band = np.digitize(age, lower) - 1
    sex = np.where(cohort["sex"].to_numpy() == 2, "female", "male")
    pop = pd.read_csv(delivery / "ssb_07459_befolkning.csv")
    pop = pop[(pop["granularity_geo"] == "nation") & (pop["calyear"] == 2017)]
    pband = np.digitize(pop["age"].to_numpy(), lower) - 1
    out = {}
    for b in range(8):
        for s in ("female", "male"):
            num = int(((band == b) & (sex == s)).sum())
            den = int(pop.loc[(pband == b) & (pop["sex"] == s).to_numpy(), "pop_jan1_n"].sum())
            out[(b, s)] = (num, den)
    return cohort, out


def _pipeline(cohort, delivery, rule):
    bands = kl.AgeBands.reference_dementia()
    people = cohort.assign(sex=np.where(cohort["sex"] == 2, "female", "male"))
    people = kl.add_age_band(kl.add_age(people, at="2017-01-01"), bands)
    num = kl.crosstab(people, dims=["sex", "age_band"])
    pop = kl.read_extract(delivery / "ssb_07459_befolkning.csv").data
    den = kl.population_denominators(pop, year=2017, bands=bands)
    cells = num.merge(den.astype({"sex": str, "age_band": str}).assign(
        age_band=lambda d: pd.Categorical(d["age_band"], categories=list(bands.labels),
                                          ordered=True)),
        on=["sex", "age_band"], how="left")
    cells["population"] = cells["population"].round().astype("int64")
    return kl.release_rates(cells, dims=["age_band", "sex"], rule=rule)


def test_dementia_share_by_age_and_sex_equals_truth(delivery, tmp_path):
    cohort, truth = _true_share(delivery)
    rr = _pipeline(cohort, delivery, kl.SuppressionRule(max_n=2))  # SSB: fewer than 3
    rel = rr.released
    labels = list(kl.AgeBands.reference_dementia().labels)
    n_checked = 0
    for (b, s), (num, den) in truth.items():
        row = rel[(rel["age_band"].astype(str) == labels[b]) & (rel["sex"].astype(str) == s)]
        assert len(row) == 1
        row = row.iloc[0]
        assert int(row["population"]) == den
        if pd.isna(row["n"]):
            assert pd.isna(row["share"])
            assert row["status"] != "published"
        else:
            assert int(row["n"]) == num
            assert row["share"] == num / den * 100  # to the last digit
            n_checked += 1
    assert n_checked >= 6
    visible = rel["n"].dropna().astype(int)
    assert not visible.between(1, 2).any()
    # the figure renders from the released table
    fig = kl.plot_share_by_age_sex(rel)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == labels
    path = kl.save_figure(fig, tmp_path / "dementia.png")
    assert path.stat().st_size > 10_000


def test_synthetic_klass_tables_map_to_2020_borders(delivery):
    places = kl.read_places(delivery / "klass_kommuner.csv", delivery / "klass_navn.csv",
                            border_year=2020)
    df = pd.DataFrame({"year": [2017, 2020], "municipality": ["1601", "5001"]})
    out = kl.harmonise_municipalities(df, places, to_year=2020)
    assert out["municipality"].tolist() == ["5001", "5001"]
    named = kl.add_place_names(out, places)
    assert named["county_code"].tolist() == ["50", "50"]
    assert named["county_name"].iloc[0] == "Trøndelag"


def test_sex_codes_are_labelled_in_tables():
    cohort = pd.DataFrame({"person_id": [1, 2, 3, 4], "sex": pd.array([2, 1, 2, None],
                                                                      dtype="Int64"),
                           "g": ["a", "a", "b", "b"]})
    before = cohort.copy()
    labelled = kl.add_sex_label(cohort)
    pd.testing.assert_frame_equal(cohort, before)
    assert labelled["sex"].tolist()[:3] == ["female", "male", "female"]
    assert pd.isna(labelled["sex"].iloc[3])
    assert list(labelled["sex"].cat.categories) == ["female", "male"]
    assert kl.add_sex_label(cohort, out_col="sex_label")["sex"].tolist()[:2] == [2, 1]
    t1 = kl.table_one(cohort, group_col="g", categorical=["sex"])
    assert set(t1.counts["level"]) == {"female", "male", "unknown"}
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.add_sex_label(cohort, sex_col="kjonn")
    assert err.value.missing == ["kjonn"]


def test_table_one_keeps_the_order_of_categorical_levels():
    bands = kl.AgeBands.reference_dementia()
    p = kl.add_age_band(pd.DataFrame({"person_id": [1, 2, 3], "age": [91, 50, 62],
                                      "g": ["a"] * 3}), bands)
    t1 = kl.table_one(p, group_col="g", categorical=["age_band"])
    assert list(t1.levels["age_band"]) == ["Under 60", "60-64", "90+"]
