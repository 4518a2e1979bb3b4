"""Code systems, CodeList, the phenotype library and fee-code contact types."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kprlink.codes import (
    CONTACT_TYPES,
    CodeList,
    contact_types,
    list_phenotypes,
    load_phenotype,
    normalise_code,
    valid_code,
)
from kprlink.exceptions import MissingColumnsError, SpecError


def test_normalise_and_valid_codes():
    assert normalise_code("f00.1", "ICD-10") == "F001"
    assert normalise_code(" 11AK", "fee") == "11ak"
    assert valid_code("S7200", "ICD-10")          # Norwegian 5-character extension
    assert not valid_code("S72000X1", "ICD-10")
    assert valid_code("P700001", "ICPC-2B") and not valid_code("P70", "ICPC-2B")
    assert valid_code("P70", "ICPC-2B", partial=True)
    assert not valid_code("7P0", "ICPC-2", partial=True)


def test_codes_prefixes_ranges_and_exclusions():
    cl = CodeList("x", "ICD-10", ["F00-F03", "S72.0-S72.2", "G30"], exclude=["F039"])
    codes = pd.Series(["F00", "F001", "F03", "F039", "F04", "S720", "S7219", "S723", "G30",
                       "G3", "E11", None], dtype="string")
    assert cl.matches(codes).tolist() == [True, True, True, False, False, True, True, False,
                                          True, False, False, False]
    assert cl.codes == ("F00-F03", "S720-S722", "G30")


def test_exact_match_and_explicit_prefix():
    cl = CodeList("x", "ICD-10", ["G30", "F0*"], match="exact")
    assert cl.matches(["G30", "G300", "F009"]).tolist() == [True, False, True]


def test_matching_on_categorical_equals_object():
    cl = load_phenotype("dementia_icd10")
    rng = np.random.default_rng(1)
    raw = rng.choice(["F001", "F03", "G301", "I10", "F04", "G31"], size=500).tolist() + [None]
    a = cl.matches(pd.Series(raw, dtype="object"))
    b = cl.matches(pd.Series(raw, dtype="category"))
    assert (a == b).all() and a.sum() > 0 and not a[-1]


def test_empty_and_all_na_codes():
    cl = CodeList("x", "ICPC-2", ["P70"])
    assert cl.matches(pd.Series([], dtype="string")).tolist() == []
    assert cl.matches(pd.Series([None, None], dtype="string")).tolist() == [False, False]
    assert cl.event_systems == ("ICPC-2", "ICPC-2B")


def test_invalid_codelist_collects_every_problem():
    with pytest.raises(SpecError) as ei:
        CodeList("x", "ICD-10", ["F00", "12", "F03-F00", "F0-F011"])
    reasons = [p.reason for p in ei.value.problems]
    assert reasons == ["bad_code", "bad_range", "bad_range"]


@pytest.mark.parametrize("kwargs,reason", [
    ({"name": "", "system": "ICD-10", "codes": ["F00"]}, "bad_name"),
    ({"name": "x", "system": "ICD-11", "codes": ["F00"]}, "unknown_system"),
    ({"name": "x", "system": "ICD-10", "codes": ["F00"], "match": "regex"}, "bad_match"),
    ({"name": "x", "system": "ICD-10", "codes": []}, "empty"),
    ({"name": "x", "system": "ICD-10", "codes": "F00"}, "not_a_list"),
])
def test_codelist_error_branches(kwargs, reason):
    with pytest.raises(SpecError) as ei:
        CodeList(**kwargs)
    assert [p.reason for p in ei.value.problems] == [reason]


def test_round_trip_json_toml_and_digest(tmp_path):
    cl = CodeList("hip", "ICD-10", ["S72.0-S72.2"], exclude=["S7211"], version="2",
                  source="protocol")
    for suffix, write in ((".json", cl.to_json), (".toml", cl.to_toml)):
        back = CodeList.from_file(write(tmp_path / f"hip{suffix}"))
        assert back == cl and back.digest == cl.digest
    assert cl.with_codes(add=["S723"]).digest != cl.digest
    assert cl.with_codes(remove=["S72.0-S72.2"], add=["S72"]).codes == ("S72",)


@pytest.mark.parametrize("patch,reason", [
    ({"kprlink_spec": 2}, "unknown_spec"), ({"kind": "cohort"}, "wrong_kind"),
    ({"colour": "red"}, "unknown_keys"),
])
def test_from_dict_error_branches(patch, reason):
    data = {**CodeList("x", "ICPC-2", ["P70"]).to_dict(), **patch}
    with pytest.raises(SpecError) as ei:
        CodeList.from_dict(data)
    assert reason in [p.reason for p in ei.value.problems]


def test_missing_keys(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"kprlink_spec": 1, "kind": "codelist"}))
    with pytest.raises(SpecError) as ei:
        CodeList.from_json(tmp_path / "a.json")
    assert ei.value.problems[0].reason == "missing_keys"


def test_phenotype_library():
    names = list_phenotypes()
    for n in ("dementia_icd10", "dementia_icpc2", "dementia2022_icd10", "hip_fracture_icd10",
              "diabetes_icd10", "copd_icd10", "heart_failure_icd10"):
        assert n in names
    for n in names:
        cl = load_phenotype(n)
        assert cl.source and cl.name == n
    d22 = load_phenotype("dementia2022_icd10")
    assert d22.matches(["G310", "G318", "G311"]).tolist() == [True, True, False]
    assert not load_phenotype("dementia_icd10").matches(["G310"])[0]
    with pytest.raises(SpecError) as ei:
        load_phenotype("nope")
    assert ei.value.problems


def test_contact_types_ranking_and_tariff_versions():
    fees = pd.DataFrame({
        "claim_id": [1, 1, 1, 2, 2, 3, 4, 5, 6, 6, 7, 8],
        "fee_code": ["1ad", "2ad", "14", "11ak", "14", "1be", "1be", "2ae", "l40", "zz",
                     "2as", "2as"],
        "year": [2017] * 3 + [2017] * 2 + [2022, 2023, 2017, 2017, 2017, 2023, 2024],
    })
    before = fees.copy()
    ct = contact_types(fees).set_index("claim_id")
    pd.testing.assert_frame_equal(fees, before)
    assert ct["contact_type"].astype(str).to_dict() == {
        1: "consultation", 2: "home_visit", 3: "simple_remote", 4: "unknown",
        5: "e_consultation", 6: "administrative", 7: "unknown", 8: "consultation"}
    assert ct.loc[2, "skde_type"] == 4 and ct.loc[1, "skde_type"] == 3
    assert ct["n_unknown_codes"].to_dict() == {1: 0, 2: 0, 3: 0, 4: 1, 5: 0, 6: 1, 7: 1, 8: 0}
    assert list(ct["contact_type"].cat.categories) == list(CONTACT_TYPES)
    fixed = contact_types(fees.drop(columns="year"), tariff_year=2023).set_index("claim_id")
    assert fixed.loc[3, "contact_type"] == "unknown"


def test_contact_types_errors_and_empty():
    with pytest.raises(MissingColumnsError) as ei:
        contact_types(pd.DataFrame({"claim_id": [1], "fee_code": ["2ad"]}))
    assert ei.value.missing == ["year"]
    empty = contact_types(pd.DataFrame({"claim_id": pd.Series(dtype="int64"),
                                        "fee_code": pd.Series(dtype="string"),
                                        "year": pd.Series(dtype="Int64")}))
    assert empty.empty and list(empty.columns) == ["claim_id", "contact_type", "skde_type",
                                                    "n_unknown_codes"]


def test_contact_types_tariff_year_from_claim_dates():
    fees = pd.DataFrame({"claim_id": [1, 2, 3], "fee_code": ["1be", "1be", "1be"],
                         "year": [2023, 2023, 2023]})
    claims = pd.DataFrame({"claim_id": [1, 2, 3],
                           "date": pd.to_datetime(["2023-06-30", "2023-07-01", None])})
    ct = contact_types(fees, claims=claims).set_index("claim_id")["contact_type"].astype(str)
    # tariff 2022-23 still has 1be; 2023-24 does not; a claim without a date is typed
    # without version limits
    assert ct.to_dict() == {1: "simple_remote", 2: "unknown", 3: "simple_remote"}
    with pytest.raises(MissingColumnsError) as ei:
        contact_types(fees, claims=claims.drop(columns="date"))
    assert ei.value.missing == ["date"]
