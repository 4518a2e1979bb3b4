"""Probabilistic links in cohorts: the [linkage] table, link_method and match_probability,
attrition and the linkage flow by link method, and the CLI's --link probabilistic."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kprlink.cli import main
from kprlink.codes import CodeList
from kprlink.cohorts import CohortDefinition, EntryCriterion, build_cohort
from kprlink.cohorts._model_links import LinkageOptions, merge_model_links
from kprlink.exceptions import SpecError

COHORT_TOML = Path(__file__).parents[1] / "studies" / "dementia_2016_2017" / "cohort.toml"


def _broad() -> CohortDefinition:
    """Anyone with a diagnosis in the window (at scale 0.002 the dementia cohort holds
    none of the persons the key misses)."""
    icd = CodeList("any_icd", "ICD-10", ["A00-Z99"])
    icpc = CodeList("any_icpc", "ICPC-2", ["A01-Z99"])
    return CohortDefinition("any", "2016-07-01", "2017-06-30",
                            [EntryCriterion("npr", [icd]), EntryCriterion("kpr_kuhr", [icpc])])


@pytest.fixture(scope="module")
def built(delivery_002_s11):
    out, delivery = delivery_002_s11
    key = _broad()
    model = dataclasses.replace(key, linkage=LinkageOptions(method="probabilistic"))
    return build_cohort(delivery, key), build_cohort(delivery, model)


def test_model_links_join_persons_the_key_misses(delivery_002_s11, built):
    out, _ = delivery_002_s11
    by_key, by_model = built
    truth = pd.read_parquet(out / "truth" / "linkage_pairs.parquet")
    p = by_model.persons
    assert "link_method" not in by_key.persons.columns
    assert set(p["link_method"]) <= {"key", "model", "none"}
    model = p[p["link_method"] == "model"]
    assert len(model) > 0
    assert model["match_probability"].between(0, 1).all()
    assert p.loc[p["link_method"] != "model", "match_probability"].isna().all()
    assert model["kpr_id"].notna().all() and model["npr_id"].notna().all()
    # model-linked persons are true pairs
    pairs = set(zip(truth["kpr_id"], truth["npr_id"]))
    got = set(zip(model["kpr_id"].astype(int), model["npr_id"].astype(int)))
    assert len(got & pairs) / len(got) >= 0.95
    # the key-only cohort counts those persons twice (once per register) or misses one half
    assert len(p) < len(by_key.persons) + len(model)
    exact_key = set(zip(by_key.persons["kpr_id"], by_key.persons["npr_id"])) & pairs
    exact_model = set(zip(p["kpr_id"], p["npr_id"])) & pairs
    assert len(exact_model) > len(exact_key)
    # no person id twice, no kpr/npr id on two persons
    assert p["person_id"].is_unique
    assert p["kpr_id"].dropna().is_unique and p["npr_id"].dropna().is_unique


def test_attrition_and_flow_by_link_method(built):
    _, res = built
    att = res.attrition
    n = att[["n_persons_key", "n_persons_model", "n_persons_none"]].sum(axis=1)
    # every step's persons are split by method, except the first (persons of the delivery,
    # split as well: the sum is the step's count)
    assert (n == att["n_persons"]).all()
    last = att.iloc[-1]
    methods = res.persons["link_method"].value_counts()
    assert last["n_persons_model"] == methods.get("model", 0) > 0
    flow = res.linkage.report.flow.set_index("step")["n"]
    assert flow["persons linked by model"] == (res.linkage.persons["link_method"]
                                               == "model").sum()
    assert flow["persons in total after model links"] == len(res.linkage.persons)
    assert "probabilistic" in res.linkage.report.method


def test_min_probability_cuts_model_links(delivery_002_s11, built):
    _, delivery = delivery_002_s11
    _, res = built
    strict = dataclasses.replace(res.definition, linkage=LinkageOptions(
        method="probabilistic", min_probability=0.999999))
    fewer = build_cohort(delivery, strict).persons
    m = res.persons["match_probability"]
    assert (fewer["link_method"] == "model").sum() == (m >= 0.999999).sum()
    assert (fewer["link_method"] == "model").sum() < (res.persons["link_method"]
                                                      == "model").sum()


def test_linkage_table_round_trips_and_is_validated(tmp_path):
    d = CohortDefinition.from_toml(COHORT_TOML)
    assert "linkage" not in d.to_dict()  # digests of existing files unchanged
    m = dataclasses.replace(d, linkage=LinkageOptions("probabilistic", 0.9))
    back = CohortDefinition.from_toml(m.to_toml(tmp_path / "c.toml"))
    assert back.linkage == m.linkage and back.digest == m.digest != d.digest
    raw = m.to_dict()
    with pytest.raises(SpecError) as err:
        CohortDefinition.from_dict({**raw, "linkage": {"method": "fuzzy",
                                                       "min_probability": 2}})
    assert {p.reason for p in err.value.problems} == {"bad_method", "bad_probability"}
    with pytest.raises(SpecError) as err:
        CohortDefinition.from_dict({**raw, "linkage": {"methd": "key"}})
    assert err.value.problems[0].reason == "unknown_keys"


def test_merge_keeps_persons_apart_without_accepted_links():
    persons = pd.DataFrame({"person_id": [1, 2], "kpr_id": pd.array([10, pd.NA], "Int64"),
                            "npr_id": pd.array([pd.NA, 21], "Int64"),
                            "in_kpr": [True, False], "in_npr": [False, True],
                            "linked": [False, False], "status": ["kpr_only", "npr_only"],
                            "sex": [1, 2], "birth_year": [1950, 1950],
                            "death_date": pd.to_datetime(["2020-01-01", "2019-05-01"]),
                            "key_conflict": False, "sex_conflict": False,
                            "birth_year_conflict": False})
    links = pd.DataFrame({"left_id": [21], "right_id": [10], "match_probability": [0.6],
                          "source": ["model"]})
    apart = merge_model_links(persons, links, min_probability=0.7)
    assert len(apart) == 2 and (apart["link_method"] == "none").all()
    joined = merge_model_links(persons, links, min_probability=0.5)
    assert len(joined) == 1 and joined["sex_conflict"].iloc[0]
    assert joined["sex"].iloc[0] == 1  # KPR's sex wins
    assert joined["death_date"].iloc[0] == pd.Timestamp("2019-05-01")
    pd.testing.assert_frame_equal(persons, persons.copy())  # input unchanged


def test_cli_link_probabilistic(delivery_002_s11, tmp_path, capsys):
    out, _ = delivery_002_s11
    target = tmp_path / "c.parquet"
    toml = _broad().to_toml(tmp_path / "any.toml")
    assert main(["cohort", str(toml), "--data", str(out), "--out", str(target),
                 "--link", "probabilistic", "--min-probability", "0.9",
                 "--attrition", str(tmp_path / "a.csv")]) == 0
    text = capsys.readouterr().out
    assert "n_persons_model" in text
    cohort = pd.read_parquet(target)
    assert {"link_method", "match_probability"} <= set(cohort.columns)
    model = cohort[cohort["link_method"] == "model"]
    assert len(model) > 0 and (model["match_probability"] >= 0.9).all()
    assert np.isin(["n_persons_key", "n_persons_model"],
                   pd.read_csv(tmp_path / "a.csv").columns).all()
    assert main(["cohort", str(COHORT_TOML), "--data", str(out), "--out", str(target),
                 "--min-probability", "0.9"]) == 2
    assert "--link probabilistic" in capsys.readouterr().err


def test_cli_link_command_probabilistic(delivery_002_s11, tmp_path, capsys):
    """``kprlink link --link probabilistic``: the person map gains the model's links, each a
    true pair for nearly all, and none below --min-probability."""
    out, _ = delivery_002_s11
    truth = pd.read_parquet(out / "truth" / "linkage_pairs.parquet")
    by_key, by_model = tmp_path / "k.parquet", tmp_path / "m.parquet"
    assert main(["link", "--data", str(out), "--out", str(by_key)]) == 0
    assert main(["link", "--data", str(out), "--out", str(by_model),
                 "--link", "probabilistic", "--min-probability", "0.9"]) == 0
    assert "probabilistic (p >= 0.900)" in capsys.readouterr().out
    k, m = pd.read_parquet(by_key), pd.read_parquet(by_model)
    model = m[m["link_method"] == "model"]
    assert len(model) > 0 and (model["match_probability"] >= 0.9).all()
    assert len(m) == len(k) - len(model)  # each model link joins two one-register persons
    pairs = pd.MultiIndex.from_frame(truth[["npr_id", "kpr_id"]].astype("int64"))
    hit = pd.MultiIndex.from_frame(model[["npr_id", "kpr_id"]].astype("int64")).isin(pairs)
    assert hit.mean() >= 0.9
    assert main(["link", "--data", str(out), "--out", str(by_key),
                 "--min-probability", "0.9"]) == 2
    assert "--link probabilistic" in capsys.readouterr().err


@pytest.mark.slow
def test_threshold_sensitivity_over_a_grid(delivery_002_s11, built):
    from kprlink.cohorts import cohort_threshold_sensitivity

    _, delivery = delivery_002_s11
    _, res = built
    grid = (0.3, 0.5, 0.9, 0.999)

    def by_sex(p: pd.DataFrame) -> pd.DataFrame:
        return p.groupby("sex").size().rename("n").reset_index()

    sens = cohort_threshold_sensitivity(delivery, _broad(), thresholds=grid, table=by_sex)
    s = sens.summary.set_index("threshold")
    assert list(s.index) == sorted(grid)
    # a stricter threshold links fewer persons, so the cohort holds more (split) persons
    assert s["n_persons_model"].is_monotonic_decreasing
    assert s["n_persons"].is_monotonic_increasing
    assert (s["n_persons_key"] == s["n_persons_key"].iloc[0]).all()
    assert s.loc[0.3, "n_persons_model"] > s.loc[0.999, "n_persons_model"]
    # probability-weighted: expected true + false = the model-linked persons
    assert np.allclose(s["expected_true_model"] + s["expected_false_model"],
                       s["n_persons_model"])
    # at the held-out threshold it is the cohort build_cohort makes
    t = sens.threshold_used
    at = cohort_threshold_sensitivity(delivery, _broad(), thresholds=[t]).summary.iloc[0]
    assert at["n_persons"] == len(res.persons)
    assert at["n_persons_model"] == (res.persons["link_method"] == "model").sum()
    tab = sens.tables
    assert set(tab["threshold"]) == set(grid)
    assert (tab.groupby("threshold")["n"].sum() == s["n_persons"]).all()
    assert "held-out threshold" in repr(sens)


def test_flow_and_linked_vs_unlinked(delivery_002_s11, built, tmp_path):
    import kprlink as kl
    from kprlink.linkage import compare_linked, flow_counts

    _, delivery = delivery_002_s11
    _, res = built
    flow = flow_counts(delivery.report.summary(), res.linkage.report.flow)
    f = flow.set_index(["register", "stage"])["n"]
    read = delivery.report.summary().set_index("contract")
    assert f["NPR", "delivered rows"] == read.loc["npr.episodes", "rows_in"]
    assert f["NPR", "delivered rows"] - f["NPR", "excluded at read"] == f["NPR", "rows kept"]
    assert f["KPR", "rows kept"] == len(delivery.kuhr_claims)
    persons = res.linkage.persons
    n_model = int((persons["link_method"] == "model").sum())
    assert f["NPR", "linked by model"] == n_model > 0
    assert f["NPR", "persons"] == f["NPR", "linked by key"] + n_model + f["NPR", "unlinked"]
    assert f["NPR", "unlinked"] == ((persons["status"] == "npr_only")).sum()
    cmp = compare_linked(persons, delivery.npr_episodes, reference_year=2017)
    assert set(cmp["variable"]) == {"age band", "sex", "county", "care level"}
    n_linked = int((persons["in_npr"] & persons["linked"]).sum())
    for _, g in cmp.groupby("variable"):
        assert g["n_linked"].sum() == n_linked
        assert g["n_unlinked"].sum() == f["NPR", "unlinked"]
        assert g["pct_linked"].sum() == pytest.approx(100)
    assert cmp["smd"].abs().max() < 5 and cmp["smd"].notna().all()
    fig = kl.plot_linkage_flow(flow)
    kl.save_figure(fig, tmp_path / "flow.png")
    assert (tmp_path / "flow.png").stat().st_size > 1000
