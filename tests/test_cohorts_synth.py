"""End to end on a small synthetic delivery: read → link → build_cohort == truth."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kprlink.cli import main
from kprlink.cohorts import CohortDefinition, build_cohort
from kprlink.linkage import link_extracts

COHORT_TOML = Path(__file__).parents[1] / "studies" / "dementia_2016_2017" / "cohort.toml"


def _defect_ids(out: Path, kind: str) -> set[int]:
    d = pd.read_parquet(out / "truth" / "defects.parquet")
    return set(d.loc[d["kind"] == kind, "npr_id"].dropna().astype(int))


def test_cohort_equals_truth(delivery_002_s11):
    out, delivery = delivery_002_s11
    res = build_cohort(delivery, CohortDefinition.from_toml(COHORT_TOML))
    truth = pd.read_parquet(out / "truth" / "dementia_registered.parquet")
    assert len(truth) > 20
    got = res.persons.merge(truth, on=["kpr_id", "npr_id"], how="outer", indicator=True)
    assert (got["_merge"] == "both").all(), got[got["_merge"] != "both"]
    assert (got["sources_x"] == got["sources_y"]).all()
    assert (got["n_events_x"] == got["n_events_y"]).all()
    assert (got["index_date"].dt.date == got["first_date"]).all()
    att = res.attrition
    assert (att["n_persons"].diff().fillna(0) == -att["n_persons_excluded"]).all()


def test_linkage_report_finds_injected_defects(delivery_002_s11):
    out, d = delivery_002_s11
    res = link_extracts(d.npr_episodes, d.kuhr_claims, key=d.key)
    p = res.persons
    rep = res.report
    assert set(rep.key_conflicts["id"]) == _defect_ids(out, "key_conflict")
    assert (rep.key_conflicts["side"] == "npr_id").all()
    # a person left out of the key is seen only if the reader kept some of their NPR rows
    # (rows after death are excluded by the reader and counted in its report)
    npr_seen = set(d.npr_episodes["npr_id"].dropna().astype(int))
    assert set(p.loc[p["status"] == "npr_only", "npr_id"].astype(int)) == _defect_ids(
        out, "missing_from_key") & npr_seen
    # conflicts are detectable only for linked persons with rows in both registers
    both = set(p.loc[p["linked"] & p["in_kpr"] & p["in_npr"], "npr_id"].astype(int))
    dc = rep.demographic_conflicts.merge(p[["person_id", "npr_id"]], on="person_id")
    for kind, var in (("sex_conflict", "sex"), ("birth_year_conflict", "birth_year")):
        injected = _defect_ids(out, kind) & both
        assert len(injected) > 0
        assert set(dc.loc[dc["variable"] == var, "npr_id"].astype(int)) == injected
    # after-death rows are removed (and counted) by the reader; none remain
    assert rep.events_after_death["n_rows"].sum() == 0
    defects = pd.read_parquet(out / "truth" / "defects.parquet")
    excl = d.report.summary().set_index("file")["excluded_after_death"]
    for f in ("kpr_kuhr_regninger.csv", "npr_episoder.csv"):
        assert excl[f] == ((defects["file"] == f) & (defects["kind"] == "after_death")).sum()


def test_cli_cohort_and_link(delivery_002_s11, tmp_path, capsys):
    out, _ = delivery_002_s11
    target = tmp_path / "work" / "cohort.parquet"
    assert main(["cohort", str(COHORT_TOML), "--data", str(out), "--out", str(target),
                 "--attrition", str(tmp_path / "work" / "attrition.csv")]) == 0
    text = capsys.readouterr().out
    assert "not after death" in text
    assert "rounded to the nearest 5" in text and "exact counts are in the files" in text
    truth = pd.read_parquet(out / "truth" / "dementia_registered.parquet")
    assert len(pd.read_parquet(target)) == len(truth)
    assert pd.read_csv(tmp_path / "work" / "attrition.csv")["digest"].nunique() == 1
    assert main(["link", "--data", str(out), "--out", str(tmp_path / "work" / "map.csv")]) == 0
    text = capsys.readouterr().out
    assert "<LinkageResult" in text and "key ids with more than one partner" in text
    # person-level files never go into a released output folder
    rel = tmp_path / "release"
    rel.mkdir()
    (rel / "provenance.json").write_text("{}")
    assert main(["cohort", str(COHORT_TOML), "--data", str(out),
                 "--out", str(rel / "c.parquet")]) == 2
    assert main(["link", "--data", str(out), "--out", str(rel / "sub" / "m.parquet")]) == 2
    assert main(["link", "--data", str(out), "--out", str(tmp_path / "m.xlsx")]) == 2
    assert not (rel / "c.parquet").exists()


def test_cli_bad_input_exits_2(delivery_002_s11, tmp_path, capsys):
    out, _ = delivery_002_s11
    target = str(tmp_path / "c.parquet")
    assert main(["cohort", str(tmp_path / "none.toml"), "--data", str(out), "--out", target]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text('kprlink_spec = 7\nname = "x"\n')
    assert main(["cohort", str(bad), "--data", str(out), "--out", target]) == 2
    assert main(["cohort", str(COHORT_TOML), "--data", str(tmp_path / "nodir"),
                 "--out", target]) == 2
    assert main(["link", "--data", str(tmp_path / "nodir"), "--out", target]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("kprlink ") >= 4


def test_cli_cohort_without_kuhr_diagnoses_or_key_warns_on_stderr(delivery_002_s11, tmp_path,
                                                                   capsys):
    import shutil

    out, _ = delivery_002_s11
    partial = tmp_path / "partial"
    shutil.copytree(out, partial, ignore=shutil.ignore_patterns(
        "kpr_kuhr_diagnoser*", "nokkel_*", "truth"))
    target = tmp_path / "work" / "cohort.parquet"
    assert main(["cohort", str(COHORT_TOML), "--data", str(partial),
                 "--out", str(target)]) == 0
    err = capsys.readouterr().err
    assert "WARNING" in err and "no KPR-KUHR diagnosis file" in err and "no key file" in err
    truth = pd.read_parquet(out / "truth" / "dementia_registered.parquet")
    assert 0 < len(pd.read_parquet(target)) < len(truth)
