"""The cohort builder's fast path for imported folders gives the full-read result.

``build_cohort(imported_folder, definition)`` reads only the candidates' rows
(``kprlink.cohorts._imported``); ``build_cohort(read_delivery(folder), ...)``
reads everything. Persons (ids included), attrition and events must be equal
for definitions that use every filter and rule kind, and the deferred linkage
must equal the full one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from kprlink.codes import CodeList, load_phenotype
from kprlink.cohorts import (
    CohortDefinition,
    CohortRule,
    EntryCriterion,
    FollowUp,
    build_cohort,
)
from kprlink.cohorts._imported import _chosen_pairs
from kprlink.exceptions import DataQualityWarning
from kprlink.linkage.keyfile import _resolve_key
from kprlink.sources import import_delivery, read_delivery
from kprlink.sources.delivery import is_imported
from kprlink.synth import SynthConfig, generate_delivery

DEM_ICD, DEM_ICPC = load_phenotype("dementia_icd10"), load_phenotype("dementia_icpc2")
HIP = load_phenotype("hip_fracture_icd10")
DIABETES = CodeList("diabetes", "ICD-10", ["E10-E14"])
T90 = CodeList("diabetes_icpc", "ICPC-2", ["T89", "T90"])


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    generate_delivery(raw, SynthConfig(scale=0.002, seed=5, fmt="parquet"))
    out = tmp_path_factory.mktemp("imported") / "imp"
    import_delivery(raw, out)
    return out, read_delivery(out)


DEFINITIONS = {
    "dementia, all attributes": CohortDefinition(
        "dem", "2016-07-01", "2017-06-30",
        [EntryCriterion("npr", [DEM_ICD]), EntryCriterion("kpr_kuhr", [DEM_ICPC, DEM_ICD])],
        attributes=("age_at_index", "sex", "birth_year", "municipality_at_index", "sources",
                    "n_events", "death_date", "linked")),
    "filters and every rule": CohortDefinition(
        "diab", "2016-01-01", "2017-12-31",
        [EntryCriterion("npr", [DIABETES], position="main", care_levels=[1, 3]),
         EntryCriterion("kpr_kuhr", [T90], contact_types=["consultation", "home_visit"],
                        service_types=["Fastlege"])],
        rules=[CohortRule("age_at_index", params={"min_age": 40, "max_age": 95}),
               CohortRule("lookback", exclude=True,
                          params={"codelists": [DEM_ICD, DEM_ICPC], "days": 365}),
               CohortRule("alive_at_index"), CohortRule("sex", params={"values": [1, 2]}),
               CohortRule("residence", params={"municipalities": ["03", "46", "50"]}),
               CohortRule("linked")],
        attributes=("age_at_index", "sex", "birth_year", "municipality_at_index", "sources",
                    "n_events", "death_date", "linked")),
    "inpatient hip fracture": CohortDefinition(
        "hip", "2016-07-01", "2017-06-30",
        [EntryCriterion("npr", [HIP], care_levels=[1])]),
    "incident dementia, follow-up to hip fracture": CohortDefinition(
        "dem_incident", "2017-01-01", "2017-06-30",
        [EntryCriterion("npr", [DEM_ICD]), EntryCriterion("kpr_kuhr", [DEM_ICPC, DEM_ICD])],
        rules=[CohortRule("washout", params={"days": 180})],
        attributes=("age_at_index", "sex", "death_date"),
        follow_up=FollowUp(outcome=[EntryCriterion("npr", [HIP])], horizon_days=300)),
}


@pytest.mark.parametrize("name", sorted(DEFINITIONS))
def test_fast_path_equals_full_read(imported, name):
    folder, delivery = imported
    definition = DEFINITIONS[name]
    assert is_imported(folder)
    fast = build_cohort(folder, definition)
    full = build_cohort(delivery, definition)
    pd.testing.assert_frame_equal(fast.persons, full.persons)
    pd.testing.assert_frame_equal(fast.attrition, full.attrition)
    pd.testing.assert_frame_equal(fast.events, full.events)
    assert fast.attrition["n_persons"].iloc[0] > fast.attrition["n_persons"].iloc[1] > 0


def test_deferred_linkage_equals_full_linkage(imported):
    folder, delivery = imported
    definition = DEFINITIONS["dementia, all attributes"]
    fast = build_cohort(folder, definition)
    full = build_cohort(delivery, definition)
    assert not isinstance(fast._linkage, type(full.linkage))  # not computed yet
    pd.testing.assert_frame_equal(fast.linkage.persons, full.linkage.persons)
    pd.testing.assert_frame_equal(fast.linkage.summary(), full.linkage.summary())
    assert fast.linkage is fast.linkage  # computed once
    # the cohort's person ids are the linkage's
    ids = fast.linkage.persons.set_index("person_id")
    got = ids.loc[fast.persons["person_id"], ["kpr_id", "npr_id"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, fast.persons[["kpr_id", "npr_id"]])


def test_chosen_pairs_resolve_conflicts_as_link_extracts(imported):
    _, delivery = imported
    rng = np.random.default_rng(3)
    key = delivery.key[["npr_id", "kpr_id", "delivery"]].copy()
    # more conflicts: later deliveries re-pair npr ids; several npr ids on one kpr id
    extra = key.sample(60, random_state=1).assign(delivery="zz_latest")
    extra["kpr_id"] = rng.choice(key["kpr_id"].dropna().to_numpy(), 60)
    no_npr = key.head(5).assign(npr_id=pd.array([pd.NA] * 5, dtype="Int64"))
    key = pd.concat([key, extra, no_npr], ignore_index=True)
    # same-delivery duplicates with another partner: the larger kpr_id wins
    twin = key.head(8).assign(kpr_id=lambda d: d["kpr_id"] + 7)
    key = pd.concat([key, twin], ignore_index=True)
    want, _ = _resolve_key(key, None)
    want = want.sort_values(["kpr_id", "npr_id"]).reset_index(drop=True)
    assert len(want) < key["npr_id"].nunique()  # conflicts were resolved
    # unsorted key (lexsort path), sorted by npr_id as imported (one-pass path),
    # delivery as plain text and as a dictionary
    for frame in (key, key.sort_values("npr_id", kind="stable")):
        table = pa.Table.from_pandas(frame, preserve_index=False)
        for t in (table, table.set_column(2, "delivery",
                                          table["delivery"].dictionary_encode())):
            n, k = _chosen_pairs(t)
            got = pd.DataFrame({"npr_id": n, "kpr_id": k})
            pd.testing.assert_frame_equal(got, want)


def test_fast_path_without_direct_tables_gives_the_same(imported, monkeypatch):
    """Ids too large for a direct table (e.g. 12-digit claim numbers) take sorted arrays."""
    import kprlink.cohorts._imported as fast
    import kprlink.sources._arrow_ids as ids

    folder, delivery = imported
    definition = DEFINITIONS["filters and every rule"]
    want = build_cohort(delivery, definition)
    monkeypatch.setattr(fast, "_DIRECT", 1)
    monkeypatch.setattr(ids, "_BLOCK", 1000)  # many blocks
    got = build_cohort(folder, definition)
    pd.testing.assert_frame_equal(got.persons, want.persons)
    pd.testing.assert_frame_equal(got.attrition, want.attrition)
    pd.testing.assert_frame_equal(got.events, want.events)


def test_fast_path_with_one_register_only(tmp_path):
    raw = tmp_path / "raw"
    generate_delivery(raw, SynthConfig(scale=0.001, seed=9, fmt="parquet"))
    for f in raw.glob("npr_*"):
        f.unlink()
    import_delivery(raw, tmp_path / "imp")
    definition = DEFINITIONS["dementia, all attributes"]
    with pytest.warns(DataQualityWarning, match="no NPR diagnosis file"):
        got = build_cohort(tmp_path / "imp", definition)
    with pytest.warns(DataQualityWarning, match="no NPR diagnosis file"):
        want = build_cohort(read_delivery(tmp_path / "imp"), definition)
    assert got.warnings == want.warnings and len(got.warnings) == 1
    assert len(got.persons) > 0 and set(got.persons["sources"]) == {"kpr_kuhr"}
    pd.testing.assert_frame_equal(got.persons, want.persons)
    pd.testing.assert_frame_equal(got.attrition, want.attrition)
