"""Alias mapping, dtype conversion, missing codes, value sets and codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_sources_data import CLAIMS, DIAGNOSES, EPISODES, FEES, FUNCTIONS, INDICATORS
from test_sources_data import SERVICES, write_csv

from kprlink.sources import kpr_ho, normalise_codes, read_extract
from kprlink.sources.canonical import to_canonical
from kprlink.sources.validation import Ledger, MissingRequiredColumnsError


def _read(tmp_path, frame, name="x.csv", **kw):
    return read_extract(write_csv(frame, tmp_path / name), **kw)


def _reasons(res):
    r = res.report.reasons
    return (r["n_rows"].groupby(r["action"] + ":" + r["reason"]).sum()).to_dict()


# ------------------------------------------------------------------ codes
def test_normalise_codes_icd10_with_dots_spaces_commas():
    out = normalise_codes(pd.Series(["F00.1", " g30 1", "C50,9", "F0010", "F001X9", None]))
    assert out["code"].tolist()[:5] == ["F001", "G301", "C509", "F0010", "F001X9"]
    assert out["original"].tolist()[:3] == ["F00.1", " g30 1", "C50,9"]
    assert pd.isna(out["original"].iloc[3])
    assert out["valid"].tolist()[:5] == [True, True, True, True, False]
    assert pd.isna(out["code"].iloc[5]) and pd.isna(out["valid"].iloc[5])


def test_normalise_codes_icpc2_process_codes_with_and_without_dash():
    out = normalise_codes(pd.Series(["-30", "30", "69", "70", "P70", "P7"]), system="ICPC-2")
    assert out["code"].tolist() == ["-30", "-30", "-69", "70", "P70", "P7"]
    assert out["valid"].tolist() == [True, True, True, False, True, False]


def test_normalise_codes_per_row_system_and_icpc2b():
    system = pd.Series(["ICPC-2B", "ICPC-2B", "ICD-10", "ICD-DA-3", None])
    out = normalise_codes(pd.Series(["P700006", "P70", "F03", "X12.3", "Z"]), system=system)
    assert out["valid"].tolist() == [True, False, True, True, True]


def test_normalise_fee_codes_lower_case():
    out = normalise_codes(pd.Series(["2AD", "11 ak", "L36", "2a-d"]), fee=True)
    assert out["code"].tolist() == ["2ad", "11ak", "l36", "2a-d"]
    assert out["valid"].tolist() == [True, True, True, False]


def test_normalise_codes_does_not_modify_input_and_keeps_index():
    s = pd.Series(["F00.1"], index=[7])
    before = s.copy()
    out = normalise_codes(s)
    pd.testing.assert_series_equal(s, before)
    assert out.index.tolist() == [7]


def test_normalise_codes_empty_and_all_na():
    assert len(normalise_codes(pd.Series([], dtype=object))) == 0
    out = normalise_codes(pd.Series([None, None]))
    assert out["code"].isna().all() and out["valid"].isna().all()


def test_invalid_codes_are_kept_and_flagged(tmp_path):
    df = DIAGNOSES.assign(diagnoseKode=["P70", "K8", "F00.1", "P700006", "L03", "-30"])
    res = _read(tmp_path, df)
    assert len(res.data) == len(df)
    assert res.data["code_valid"].tolist() == [True, False, True, True, True, True]
    assert _reasons(res) == {"repaired:invalid_code": 1}


def test_empty_code_excludes_the_row(tmp_path):
    df = DIAGNOSES.assign(diagnoseKode=["P70", "", "F00.1", "P700006", "L03", "-30"])
    res = _read(tmp_path, df)
    assert len(res.data) == 5
    assert _reasons(res) == {"excluded:missing_code": 1}


def test_system_labels_are_matched_loosely(tmp_path):
    df = DIAGNOSES.assign(diagnoseTabell=["icpc2", "ICPC-2", "ICD10", "ICPC-2B", "ICPC-2",
                                          "ICPC-2"])
    res = _read(tmp_path, df)
    assert res.data["system"].astype(str).tolist()[:3] == ["ICPC-2", "ICPC-2", "ICD-10"]
    assert res.report.n_excluded == 0


def test_fee_codes_lower_cased_with_original_kept(tmp_path):
    res = _read(tmp_path, FEES)
    assert res.data["fee_code"].tolist() == ["2ad", "2ak", "11ak", "a1", "2ae"]
    assert res.data["fee_code_original"].tolist()[1] == "2AK"


# ------------------------------------------------------------------ aliases and dtypes
def test_aliases_of_the_older_skde_variant(tmp_path):
    df = CLAIMS.rename(columns={"dato": "datotid", "kjonn": "kjønn"}).drop(
        columns=["klokkeslett"]).assign(kjonn_navn="Kvinne",
                                        datotid=[f"{d} 10:2{i}:00" for i, d in
                                                 enumerate(CLAIMS["dato"])])
    res = _read(tmp_path, df)
    assert res.data["date"].dt.strftime("%Y-%m-%d").tolist() == CLAIMS["dato"].tolist()
    assert res.data["time"].tolist() == ["10:20", "10:21", "10:22", "10:23", "10:24"]
    assert res.data["sex_label"].iloc[0] == "Kvinne"
    fees = _read(tmp_path, FEES.assign(kontakttypeId=[-1, 1, 2, 3, 4]), name="f.csv")
    assert fees.data["contact_type_fhi"].isna().tolist() == [True] + [False] * 4


def test_canonical_dtypes(tmp_path):
    res = _read(tmp_path, CLAIMS)
    d = res.data.dtypes.astype(str).to_dict()
    assert d["kpr_id"] == "Int64" and d["sex"] == "Int16" and d["date"] == "datetime64[ns]"
    assert d["municipality"] == "string" and d["service_type"] == "category"
    assert d["refund"] == "float64"
    assert res.data["municipality"].tolist()[:2] == ["0301", "0301"]  # 301 zero-padded


def test_missing_codes_become_na(tmp_path):
    res = _read(tmp_path, CLAIMS)
    assert res.data["sex"].isna().tolist() == [False, False, True, False, False]  # -1
    assert res.data["municipality"].isna().tolist()[3]  # -1
    svc = _read(tmp_path, SERVICES, name="s.csv")
    assert svc.data["sex"].isna().tolist() == [False, False, False, True]  # 9


def test_unparseable_numbers_and_dates(tmp_path):
    df = CLAIMS.assign(alder=["81", "x", "90", "65", "81.5"],
                       fodselsaar=["1936", "1940", "abc", "1951", "1936"],
                       dato=["2017-01-05", "05.02.2017", "20170315", "2016-09-31", "x"])
    res = _read(tmp_path, df)
    r = _reasons(res)
    assert r == {"repaired:bad_number": 2, "excluded:bad_number": 1, "excluded:bad_date": 2}
    assert res.data["claim_id"].tolist() == [1, 2]
    assert res.data["date"].dt.strftime("%Y-%m-%d").tolist() == ["2017-01-05", "2017-02-05"]
    assert res.data["age"].isna().tolist() == [False, True]
    prob = [p for p in res.report.problems if p.reason == "bad_date"][0]
    assert (prob.file, prob.column, prob.rows, prob.n_rows) == ("x.csv", "date", (4, 5), 2)


def test_value_outside_set_repaired_or_excluded(tmp_path):
    df = CLAIMS.assign(kjonn=[1, 2, 5, 1, 2], tjenestetype=["Fastlege", "Legevakt", "Annet",
                                                          "Fastlege", "Fastlege"])
    res = _read(tmp_path, df)
    assert _reasons(res) == {"repaired:invalid_value": 1, "excluded:invalid_value": 1}
    assert 3 not in res.data["claim_id"].tolist()


def test_out_of_range_birth_year_excluded(tmp_path):
    res = _read(tmp_path, CLAIMS.assign(fodselsaar=[1936, 1850, 1927, 1951, 1936]))
    assert _reasons(res) == {"excluded:out_of_range": 1}


def test_missing_required_value_excluded(tmp_path):
    res = _read(tmp_path, CLAIMS.assign(kpr_lnr=["101", "", "103", "104", "101"]))
    assert _reasons(res) == {"excluded:missing_required": 1}
    assert res.data["kpr_id"].tolist() == [101, 103, 104, 101]


def test_missing_required_column_names_aliases(tmp_path):
    with pytest.raises(MissingRequiredColumnsError) as info:
        _read(tmp_path, CLAIMS.drop(columns=["dato", "fodselsaar"]), contract="kpr_kuhr.claims")
    err = info.value
    assert err.missing == ["date", "birth_year"]
    assert [p.reason for p in err.problems] == ["missing_column", "missing_column"]
    assert "datotid" in err.problems[0].message
    assert isinstance(err, KeyError) and isinstance(err, ValueError)


def test_renamed_column_via_alias(tmp_path):
    df = EPISODES.rename(columns={"lopenr": "LNR", "inndato": "dateinn", "utdato": "dateutt",
                                  "omsorgsniva": "omsorgsniva3"})
    res = _read(tmp_path, df)
    assert res.contract.name == "npr.episodes"
    assert res.data["npr_id"].tolist() == [501, 502, 503]


def test_unknown_columns_are_kept(tmp_path):
    res = _read(tmp_path, FUNCTIONS.assign(prosjekt_kode="A"))
    assert res.data["prosjekt_kode"].tolist() == ["A"] * 3


# ------------------------------------------------------------------ KPR helse og omsorg
def test_service_recode_unknown_code_and_hours(tmp_path):
    df = SERVICES.assign(tjeneste=[13, 10, 21, 12], timer_per_uke=[3.5, 0, 169, ""])
    res = _read(tmp_path, df)
    assert _reasons(res) == {"excluded:unknown_service_code": 1,
                             "repaired:hours_over_168": 1, "repaired:service_recoded": 2}
    assert res.data["service_code"].tolist() == [29, 21, 29]
    assert res.data["hours_per_week"].isna().tolist() == [False, True, True]
    assert res.report.table[["rows_in", "kept", "repaired", "excluded"]].iloc[0].tolist() == \
        [4, 3, 3, 1]


def test_monthly_hours_divided_by_four(tmp_path):
    df = SERVICES.drop(columns=["timer_per_uke"]).assign(timer_per_maaned=[40, 8, 700, ""])
    res = _read(tmp_path, df)
    assert res.data["hours_per_week"].tolist()[:2] == [10.0, 2.0]
    assert np.isnan(res.data["hours_per_week"].iloc[2])  # 175 > 168
    assert _reasons(res)["repaired:hours_from_month"] == 3


def test_function_scores(tmp_path):
    df = FUNCTIONS.assign(skaar=[4, 9, 6], funksjonsvariabel=["hukommelse", "x", "spise"])
    res = _read(tmp_path, df)
    assert _reasons(res) == {"excluded:invalid_value": 2}
    assert res.data["score"].tolist() == [4]
    assert set(res.data["variable"].cat.categories) == set(kpr_ho.FUNCTION_VARIABLES)


def test_indicators_1_0_9_to_boolean(tmp_path):
    df = INDICATORS.assign(koordinator=["9", "ja"], heldogn=[1, 7])
    res = _read(tmp_path, df)
    assert res.data["medication_review"].tolist() == [True, False]
    assert res.data["nutrition_screening"].isna().tolist() == [False, True]
    assert res.data["coordinator"].isna().tolist() == [True, False]
    assert res.data["coordinator"].iloc[1]
    assert res.data["heldogn" if False else "round_the_clock"].isna().tolist() == [False, True]
    assert _reasons(res) == {"repaired:invalid_value": 1}


def test_times(tmp_path):
    res = _read(tmp_path, EPISODES.assign(inntid=["1015", "9:00", "25:00"]))
    assert res.data["time_in"].tolist()[:2] == ["10:15", "09:00"]
    assert pd.isna(res.data["time_in"].iloc[2])
    assert _reasons(res) == {"repaired:bad_time": 1}


def test_all_na_optional_column(tmp_path):
    res = _read(tmp_path, CLAIMS.assign(alder=""))
    assert res.data["age"].isna().all() and res.data["age"].dtype == "Int64"
    assert res.report.n_excluded == 0


def test_to_canonical_does_not_modify_input():
    raw = CLAIMS.copy()
    before = raw.copy()
    from kprlink.sources import kpr_kuhr

    ledger = Ledger("x", "kpr_kuhr.claims", len(raw))
    out = to_canonical(raw, kpr_kuhr.CLAIMS, ledger)
    pd.testing.assert_frame_equal(raw, before)
    assert out.index.equals(raw.index)


def test_population_sex_recoded(tmp_path):
    from test_sources_data import POPULATION

    res = _read(tmp_path, POPULATION.assign(sex=["Kvinner", "Menn", "2", "1"]))
    assert res.data["sex"].astype(str).tolist() == ["female", "male", "female", "male"]
