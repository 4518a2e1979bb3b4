"""A study with a [linkage] table: persons by link method in the report, and the cohort
tables released with and without model links (sensitivity), protected together."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kprlink.codes import CodeList
from kprlink.cohorts import CohortDefinition, EntryCriterion
from kprlink.disclosure.outsider import check_release
from kprlink.disclosure.joint import StudyTable, protect_study
from kprlink.disclosure.rules import SuppressionRule
from kprlink.exceptions import DisclosureError, SpecError
from kprlink.study import StudySpec, run_study
from kprlink.synth import SynthConfig, generate_delivery

STUDY = """kprlink_spec = 1
kind = "study"
name = "any_diagnosis_linkage"
title = "Persons with any diagnosis, by link method"
period = { start = "2016-07-01", end = "2017-06-30" }
reference_date = "2017-01-01"
cohort = "cohort.toml"

[disclosure]
max_n = 4

[linkage]
method = "probabilistic"
sensitivity = true

[[tables]]
name = "registered_in"
kind = "cohort_by_source"
title = "Registered via GP/out-of-hours, hospital or both, by sex"

[[tables]]
name = "gp_contacts_by_age"
kind = "gp_contacts_by_age"
title = "GP contacts per person by contact type and age"
params = { breaks = [0, 65, 75, 85, 90], service_types = ["Fastlege"] }
"""


def _study(folder: Path, text: str = STUDY) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    icd = CodeList("any_icd", "ICD-10", ["A00-Z99"])
    icpc = CodeList("any_icpc", "ICPC-2", ["A01-Z99"])
    CohortDefinition("any", "2016-07-01", "2017-06-30",
                     [EntryCriterion("npr", [icd]), EntryCriterion("kpr_kuhr", [icpc])],
                     attributes=("age_at_index", "sex", "birth_year", "municipality_at_index",
                                 "sources")).to_toml(folder / "cohort.toml")
    (folder / "study.toml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("study_linkage")
    data = root / "data"
    generate_delivery(data, SynthConfig(scale=0.002, seed=11))
    import kprlink._study_release as release

    seen: dict[str, object] = {}
    real = release.protect_study

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(release, "protect_study", spy)
        res = run_study(_study(root / "study"), data=data, out=root / "out",
                        work=root / "work")
    return root, res, seen


@pytest.mark.slow
def test_both_variants_and_link_methods_are_released(run):
    root, res, _ = run
    assert set(res.tables) == {"registered_in", "gp_contacts_by_age", "persons_by_link_method",
                               "registered_in_key_links_only",
                               "gp_contacts_by_age_key_links_only", "linkage_reliability"}
    cohort = pd.read_parquet(root / "work" / "cohort.parquet")
    key_only = pd.read_parquet(root / "work" / "key_links_only" / "cohort.parquet")
    n_model = int((cohort["link_method"] == "model").sum())
    assert n_model > 0 and "link_method" not in key_only.columns
    # model links merge persons: the key-only cohort has more (split) persons
    assert len(key_only) > len(cohort)
    t = res.tables["persons_by_link_method"]
    row = t[(t["link_method"] == "probabilistic model") & (t["sex"] == "Total")]
    assert int(row["n"].iloc[0]) == n_model  # published (well above the rule)
    # the exact linkage report goes to the work folder, never the release
    lr = root / "work" / "linkage_report"
    for f in ("flow.csv", "flow.png", "linked_vs_unlinked.csv", "model_summary.csv",
              "reliability.csv", "reliability.png", "linkage_report.csv"):
        assert (lr / f).is_file(), f
    flow = pd.read_csv(lr / "flow.csv").set_index(["register", "stage"])["n"]
    assert flow["NPR", "linked by model"] == n_model
    assert not list((root / "out").rglob("reliability*"))
    # the reliability table is released from protected counts: where shown, a bin's
    # persons and its share of key pairs (observed precision) are the exact ones
    rel = res.tables["linkage_reliability"]  # hidden cells are NA
    exact = pd.read_csv(lr / "reliability.csv")
    exact = exact[exact["kind"] == "raw"].reset_index(drop=True)
    tot = rel[rel["pair"] == "Total"].set_index("match_probability")["n"]
    assert int(tot["Total"]) == int(exact["n"].sum())
    key = rel[rel["pair"] == "key pair"].set_index("match_probability")
    assert len(tot) == len(exact) + 1 and key.index[1:].tolist() == tot.index[1:].tolist()
    shown = 0
    for i, label in enumerate(tot.index[1:]):
        if not pd.isna(tot[label]):
            assert int(tot[label]) == int(exact.loc[i, "n"])
        if not pd.isna(key.loc[label, "share_pct"]):
            shown += 1
            assert float(key.loc[label, "share_pct"]) == pytest.approx(
                100 * exact.loc[i, "observed"], abs=1e-3)
    assert shown >= 1
    assert (root / "out" / "release" / "figures" / "linkage_reliability.png").is_file()
    report = (root / "out" / "release" / "report.md").read_text()
    assert "key-file links only" in report and "by link method" in report


@pytest.mark.slow
def test_release_of_nested_variants_is_safe(run):
    root, res, seen = run
    assert check_release(root / "out").empty
    log = res.release_log
    assert {"registered_in", "registered_in_key_links_only"} <= set(log["table"])
    # one joint problem: both variants' persons, their differences protected
    assert seen["variants"] == {"registered_in_key_links_only": "registered_in",
                                "gp_contacts_by_age_key_links_only": "gp_contacts_by_age"}
    cohort = pd.read_parquet(root / "work" / "cohort.parquet")
    key_only = pd.read_parquet(root / "work" / "key_links_only" / "cohort.parquet")
    assert set(seen["universe"]) == set(cohort["person_id"]) | set(key_only["person_id"])


def test_linkage_table_is_validated(tmp_path):
    bad = STUDY.replace('method = "probabilistic"', 'method = "key"')
    with pytest.raises(SpecError) as err:
        StudySpec.from_toml(_study(tmp_path / "a", bad))
    assert any("sensitivity" in str(p) for p in err.value.problems)
    bad = STUDY.replace("sensitivity = true", "sensitivity = 1\nmin_probability = 7")
    with pytest.raises(SpecError) as err:
        StudySpec.from_toml(_study(tmp_path / "b", bad))
    assert len(err.value.problems) == 2
    plain = StudySpec.from_toml(_study(tmp_path / "c", STUDY.replace(
        '[linkage]\nmethod = "probabilistic"\nsensitivity = true\n', "")))
    assert plain.linkage is None and "linkage" not in plain.to_dict()


def _pair(n_female: int, n_male: int, drop: list[int]) -> tuple[StudyTable, StudyTable]:
    sex = ["female"] * n_female + ["male"] * n_male
    base = pd.DataFrame({"person_id": range(len(sex)), "sex": sex})
    var = base[~base["person_id"].isin(drop)]  # nested: some persons not in the variant
    cells = [p.groupby("sex").size().reindex(["female", "male"], fill_value=0)
             .rename("n").reset_index() for p in (base, var)]
    return (StudyTable("t", cells[0], ("sex",), persons=base),
            StudyTable("t_key_links_only", cells[1], ("sex",), persons=var))


def test_joint_protection_hides_small_differences_between_variants():
    rule = SuppressionRule(max_n=4, protect_zeros=False)
    # two women of the base are not in the variant: 12 vs 10 women, both above the rule
    base, var = _pair(12, 15, drop=[0, 1])
    plain = protect_study([base, var], rule)
    shown = {n: t.set_index("sex")["status"] for n, t in plain.tables.items()}
    assert shown["t"]["female"] == shown["t_key_links_only"]["female"] == "published"
    safe = protect_study([base, var], rule, variants={"t_key_links_only": "t"})
    st = {n: t.set_index("sex") for n, t in safe.tables.items()}
    both = [(st[n].loc["female", "status"] == "published") for n in st]
    assert not all(both)  # 12 - 10 = 2 women would be recovered
    assert not safe.problems
    # a difference of more than max_n persons needs no protection
    base, var = _pair(30, 15, drop=list(range(8)))
    big = protect_study([base, var], rule, variants={"t_key_links_only": "t"})
    assert (big.tables["t_key_links_only"]["status"] == "published").all()
    with pytest.raises(DisclosureError):
        protect_study([base, var], rule, variants={"nope": "t"})
