"""Key failures injected into a synthetic delivery: the linkage report counts each kind,
and the kept links are the true ones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import kprlink as kl
from kprlink.cli import main
from kprlink.exceptions import SpecError
from kprlink.synth.key_failures import inject_key_failures

KIND = {"temporary_id": "temporary id replaced", "sex_change": "new id after change of sex",
        "duplicate_npr": "two NPR ids in one delivery",
        "conflict_with_data": "both keys have data"}
N_EACH = 8


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("kf") / "d"
    kl.generate_delivery(root, kl.SynthConfig(scale=0.002, seed=11, fmt="parquet"))
    stale = len(pd.read_parquet(root / "truth" / "defects.parquet").query(
        "kind == 'key_conflict'"))
    truth = inject_key_failures(root, n_each=N_EACH, seed=3)
    d = kl.read_delivery(root)
    res = kl.link_extracts(d.npr_episodes, d.kuhr_claims, key=d.key)
    return root, truth, res, stale


def test_the_report_counts_each_kind(delivery):
    _, truth, res, stale = delivery
    assert (truth["kind"].value_counts() == N_EACH).all() and len(truth) == 4 * N_EACH
    s = res.summary()
    got = s[s["section"] == "key conflicts"].set_index("item")["n"]
    for kind in KIND.values():
        assert got[f"kind: {kind}"] == N_EACH, kind
    assert got["kind: stale key without data"] == stale
    assert got["kind: two NPR ids across deliveries"] == 0


def test_each_failure_is_classified_and_resolved_as_truth_says(delivery):
    root, truth, res, _ = delivery
    kc = res.report.key_conflicts.set_index("id")
    pairs = set(map(tuple, pd.read_parquet(root / "truth" / "linkage_pairs.parquet")
                    [["npr_id", "kpr_id"]].to_numpy().tolist()))
    p = res.persons
    for kind, g in truth.groupby("kind"):
        on_kpr = kind in ("temporary_id", "duplicate_npr")
        ids = (g["kpr_id"] if on_kpr else g["npr_id"]).to_numpy()
        assert (kc.loc[ids, "kind"] == KIND[kind]).all(), kind
        chosen = kc.loc[ids, "chosen"].to_numpy()
        if kind == "conflict_with_data":  # the latest delivery corrected a wrong key
            assert (chosen == g["kpr_id"].to_numpy()).all()
        elif kind == "sex_change":  # latest: the new KPR id, the same person
            assert (chosen == g["other_id"].to_numpy()).all()
        else:  # the permanent / original NPR id keeps the link
            assert (chosen == g["npr_id"].to_numpy()).all()
        linked = p[p["linked"]]
        kept = set(zip(linked["npr_id"].astype(int), linked["kpr_id"].astype(int)))
        for n, k, o in g[["npr_id", "kpr_id", "other_id"]].itertuples(index=False):
            mine = {x for x in kept if (x[0] in (n, o) or x[1] in (k, o))}
            assert mine and mine <= pairs, (kind, mine)


def test_default_delivery_is_untouched_and_cli(tmp_path: Path, capsys) -> None:
    out = tmp_path / "d"
    assert main(["synth", "--scale", "0.0005", "--seed", "2", "--out", str(out), "--format",
                 "parquet", "--key-failures", "2", "--quiet"]) == 0
    t = pd.read_parquet(out / "truth" / "key_failures.parquet")
    assert len(t) == 8
    plain = tmp_path / "p"
    assert main(["synth", "--scale", "0.0005", "--seed", "2", "--out", str(plain),
                 "--quiet"]) == 0
    assert not (plain / "truth" / "key_failures.parquet").exists()
    assert main(["synth", "--scale", "0.0005", "--out", str(tmp_path / "c"),
                 "--key-failures", "2", "--quiet"]) == 2
    with pytest.raises(SpecError):
        inject_key_failures(plain)  # a CSV delivery


def test_cohorts_merge_the_ids_of_one_person(delivery):
    from kprlink.codes import CodeList
    from kprlink.cohorts import CohortDefinition, EntryCriterion, build_cohort

    root, truth, res, _ = delivery
    d = kl.read_delivery(root)
    icd = CodeList("any_icd", "ICD-10", ["A00-Z99"])
    icpc = CodeList("any_icpc", "ICPC-2", ["A01-Z99"])
    c = CohortDefinition("any", "2016-01-01", "2017-12-31",
                         [EntryCriterion("npr", [icd]), EntryCriterion("kpr_kuhr", [icpc])])
    built = build_cohort(d, c)
    flow = built.linkage.report.flow.set_index("step")["n"]
    assert flow["key ids merged into one person (temporary, duplicate or new ids)"] \
        == 3 * N_EACH
    p = built.linkage.persons
    same = truth[truth["kind"] != "conflict_with_data"]
    # the injected ids are gone: each is one person under the kept id
    npr_alias = same.loc[same["kind"] != "sex_change", "other_id"]
    kpr_alias = same.loc[same["kind"] == "sex_change", "kpr_id"]
    assert not p["npr_id"].isin(npr_alias).any() and not p["kpr_id"].isin(kpr_alias).any()
    merged = p[p["npr_id"].isin(same["npr_id"])]
    assert len(merged) == 3 * N_EACH and merged["linked"].all()
    # without the merge each would have left a one-register person behind
    assert len(p) == len(res.persons) - 3 * N_EACH
    # the key-conflict table still lists what was found
    assert len(built.linkage.report.key_conflicts) == len(res.report.key_conflicts)


@pytest.mark.parametrize("partitions", [None, 3])
def test_imported_fast_path_merges_the_ids_of_one_person(delivery, tmp_path, partitions):
    """On an imported folder (partitioned or not) the cohort merges the same-person ids as
    on the raw folder: the same persons, the same person ids, the true pairs."""
    from kprlink.codes import CodeList
    from kprlink.cohorts import CohortDefinition, EntryCriterion, build_cohort
    from kprlink.sources import import_delivery

    root, truth, _, _ = delivery
    imp = tmp_path / "imp"
    import_delivery(root, imp, partitions=partitions)
    icd = CodeList("any_icd", "ICD-10", ["A00-Z99"])
    icpc = CodeList("any_icpc", "ICPC-2", ["A01-Z99"])
    c = CohortDefinition("any", "2016-01-01", "2017-12-31",
                         [EntryCriterion("npr", [icd]), EntryCriterion("kpr_kuhr", [icpc])])
    raw = build_cohort(kl.read_delivery(root), c).persons
    fast = build_cohort(imp, c)
    cols = ["person_id", "kpr_id", "npr_id"]
    pd.testing.assert_frame_equal(
        fast.persons[cols].reset_index(drop=True).astype("Int64"),
        raw[cols].reset_index(drop=True).astype("Int64"))
    same = truth[truth["kind"] != "conflict_with_data"]
    npr_alias = same.loc[same["kind"] != "sex_change", "other_id"]
    kpr_alias = same.loc[same["kind"] == "sex_change", "kpr_id"]
    p = fast.persons
    assert not p["npr_id"].isin(npr_alias).any() and not p["kpr_id"].isin(kpr_alias).any()
    pairs = set(zip(pd.read_parquet(root / "truth" / "linkage_pairs.parquet")["npr_id"],
                    pd.read_parquet(root / "truth" / "linkage_pairs.parquet")["kpr_id"]))
    merged = p[p["npr_id"].isin(same["npr_id"]) & p["kpr_id"].notna()]
    assert len(merged) > 0
    assert all((int(n), int(k)) in pairs for n, k in zip(merged["npr_id"], merged["kpr_id"]))
    flow = fast.linkage.report.flow.set_index("step")["n"]
    assert flow["key ids merged into one person (temporary, duplicate or new ids)"] \
        == 3 * N_EACH


def test_the_person_table_merges_the_ids_of_one_person(delivery, tmp_path):
    """The hip study's person table (imported folder, partitioned) numbers and resolves
    persons as the raw path's linkage with same-person ids merged."""
    from kprlink.cohorts._person_table import person_table
    from kprlink.cohorts._steps import _link
    from kprlink.cohorts.events import frames_of
    from kprlink.linkage._aliases import link_merging_aliases
    from kprlink.sources import import_delivery

    root = delivery[0]
    imp = tmp_path / "imp"
    import_delivery(root, imp, partitions=3)
    want = link_merging_aliases(frames_of(kl.read_delivery(root)), _link)[1].persons
    got = person_table(imp)
    assert len(got) == len(want)
    for c in ("person_id", "kpr_id", "npr_id", "sex", "birth_year", "death_date"):
        pd.testing.assert_series_equal(got[c], want[c], check_dtype=False)
