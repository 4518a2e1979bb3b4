"""Fast paths of the readers: projected reads, per-distinct conversions, Arrow text.

Every fast path must give what the slow path gives: projected reads the same
rows (and counts) as full reads on the columns they load; per-distinct
conversions the same values as row-wise ones.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_sources_data import write_delivery

from kprlink.cohorts import CohortDefinition, EntryCriterion, build_cohort, cohort_columns
from kprlink.codes import CodeList
from kprlink.exceptions import ValidationError
from kprlink.sources import import_delivery, normalise_codes, read_delivery, read_extract
from kprlink.sources._distinct import MIN_ROWS, distinct_key, on_distinct
from kprlink.sources._text import _as_string, _normalise_rows
from kprlink.synth import SynthConfig, generate_delivery

COUNTS = ["file", "rows_in", "kept", "repaired", "excluded"]
DEMENTIA = CohortDefinition(
    "dem", "2016-07-01", "2017-06-30",
    [EntryCriterion("npr", [CodeList("dem", "ICD-10", ["F00-F03", "G30"])]),
     EntryCriterion("kpr_kuhr", [CodeList("demp", "ICPC-2", ["P70"])])])


@pytest.fixture(scope="module")
def synth_parquet(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "d"
    generate_delivery(out, SynthConfig(scale=0.0005, seed=3, fmt="parquet",
                                       defect_rate=0.05, chunk_persons=2000))
    return out


def _same_on_loaded(part, full):
    for field_, frame in part.frames().items():
        pd.testing.assert_frame_equal(frame, full.frames()[field_][list(frame.columns)])


def test_projected_read_equals_full_read_on_loaded_columns(synth_parquet):
    full = read_delivery(synth_parquet)
    part = read_delivery(synth_parquet, columns=cohort_columns(DEMENTIA))
    _same_on_loaded(part, full)
    assert set(part.frames()) == set(full.frames()) - {"npr_procedures"}
    assert part.npr_diagnoses is not None and len(part.npr_diagnoses) > 0
    # Same rows kept and excluded per file and reason: projection never hides a row.
    t_full, t_part = full.report.table, part.report.table
    pd.testing.assert_frame_equal(t_part[["file", "rows_in", "kept", "excluded"]],
                                  t_full[["file", "rows_in", "kept", "excluded"]])
    r_full, r_part = full.report.reasons, part.report.reasons
    excluded = [r.loc[r["action"] == "excluded"].reset_index(drop=True)
                for r in (r_part, r_full)]
    pd.testing.assert_frame_equal(*excluded)
    assert full.report.n_excluded > 0  # the defects really exclude rows here


def test_projection_always_loads_validation_columns(tmp_path):
    folder = write_delivery(tmp_path / "d", with_truth=False)
    full = read_delivery(folder)
    d = read_delivery(folder, columns={"kuhr_claims": ["kpr_id"]})
    assert set(d.kuhr_claims.columns) == {"kpr_id", "claim_id", "date", "birth_year",
                                          "municipality", "service_type", "death_date"}
    # Frames not named still come, with their validation columns only.
    assert "time" not in d.kuhr_claims and "code" in d.kuhr_diagnoses
    assert d.npr_diagnoses is None and d.npr_procedures is None
    assert d.npr_episodes is not None and "date_out" in d.npr_episodes
    _same_on_loaded(d, full)
    assert d.report.rows_in == full.report.rows_in
    assert d.report.n_excluded == full.report.n_excluded


def test_projection_none_means_every_column_and_npr_long_frames_on_request(tmp_path):
    folder = write_delivery(tmp_path / "d", with_truth=False)
    full = read_delivery(folder)
    d = read_delivery(folder, columns={"kuhr_claims": None, "npr_procedures": None})
    pd.testing.assert_frame_equal(d.kuhr_claims, full.kuhr_claims)
    pd.testing.assert_frame_equal(d.npr_procedures, full.npr_procedures)
    assert d.npr_diagnoses is None


def test_projected_read_extract_of_csv(tmp_path):
    folder = write_delivery(tmp_path / "d", with_truth=False)
    f = next(p for p in folder.iterdir() if "regning" in p.name)
    res = read_extract(f, columns={"kuhr_claims": ["sex"]})
    full = read_extract(f)
    assert "sex" in res.data and "age" not in res.data
    pd.testing.assert_frame_equal(res.data, full.data[list(res.data.columns)])


def test_unknown_field_or_column_in_projection(tmp_path):
    folder = write_delivery(tmp_path / "d", with_truth=False)
    with pytest.raises(ValidationError) as err:
        read_delivery(folder, columns={"claims": ["kpr_id"], "kuhr_claims": ["nope"]})
    reasons = sorted(p.reason for p in err.value.problems)
    assert reasons == ["unknown_column", "unknown_field"]
    assert [p.column for p in err.value.problems if p.reason == "unknown_column"] == ["nope"]
    with pytest.raises(ValidationError) as err:
        read_extract(next(folder.iterdir()), columns={"key": ["x"]})
    assert [p.reason for p in err.value.problems] == ["unknown_column"]


def test_projected_read_of_imported_folder(tmp_path):
    folder = write_delivery(tmp_path / "d", with_truth=False)
    full = import_delivery(folder, tmp_path / "imp")
    d = read_delivery(tmp_path / "imp", columns={"kuhr_diagnoses": ["code"], "key": None})
    assert set(d.frames()) == {"kuhr_diagnoses", "key"}
    assert list(d.kuhr_diagnoses.columns) == ["code", "code_original", "code_valid"]
    _same_on_loaded(d, full)
    assert d.report.n_excluded == full.report.n_excluded  # stored report, complete


def test_build_cohort_from_a_folder_equals_from_a_full_read(synth_parquet):
    a = build_cohort(synth_parquet, DEMENTIA)
    b = build_cohort(read_delivery(synth_parquet), DEMENTIA)
    assert len(a.persons) > 0
    pd.testing.assert_frame_equal(a.persons, b.persons)
    pd.testing.assert_frame_equal(a.attrition, b.attrition)


def test_build_cohort_from_an_imported_folder_equals_from_the_raw_folder(synth_parquet,
                                                                       tmp_path):
    import_delivery(synth_parquet, tmp_path / "imp")
    raw = build_cohort(synth_parquet, DEMENTIA)
    imp = build_cohort(tmp_path / "imp", DEMENTIA)
    assert len(raw.persons) > 0 and raw.attrition["n_persons"].iloc[-1] == len(raw.persons)
    pd.testing.assert_frame_equal(imp.persons, raw.persons)
    pd.testing.assert_frame_equal(imp.attrition, raw.attrition)
    pd.testing.assert_frame_equal(imp.events, raw.events)
    pd.testing.assert_frame_equal(imp.linkage.persons, raw.linkage.persons)
    for part in ("flow", "unlinked_by_year", "key_conflicts", "demographic_conflicts",
                 "events_after_death", "outside_coverage"):
        pd.testing.assert_frame_equal(getattr(imp.linkage.report, part),
                                      getattr(raw.linkage.report, part))
    # the synthetic defects reach the linkage report through both paths
    assert len(imp.linkage.report.key_conflicts) > 0
    assert len(imp.linkage.report.demographic_conflicts) > 0


def test_cohort_columns_add_fees_for_contact_types(tmp_path):
    assert "kuhr_fees" not in cohort_columns(DEMENTIA)
    home = CohortDefinition("h", "2016-07-01", "2017-06-30", [EntryCriterion(
        "kpr_kuhr", [CodeList("demp", "ICPC-2", ["P70"])], contact_types=["home_visit"])])
    assert cohort_columns(home)["kuhr_fees"] is None
    folder = write_delivery(tmp_path / "d", with_truth=False)
    a, b = build_cohort(folder, home), build_cohort(read_delivery(folder), home)
    pd.testing.assert_frame_equal(a.attrition, b.attrition)


def _codes(n, rng):
    pool = np.array(["F00.1", "g30 1", " P70 ", "30", "-45", "X", "", None, "F0010",
                     "NFB 49", "2ad"], dtype=object)
    return pd.Series(pool[rng.integers(0, len(pool), n)])


@pytest.mark.parametrize("system", ["ICD-10", None, "series"])
def test_normalise_codes_per_distinct_equals_row_wise(system):
    rng = np.random.default_rng(1)
    n = MIN_ROWS * 3
    vals = _codes(n, rng)
    sys_ = (pd.Series(np.array(["ICD-10", "ICPC-2", "NCSP", None], dtype=object)
                      [rng.integers(0, 4, n)]) if system == "series" else system)
    fast = normalise_codes(vals, system=sys_)
    sys_rows = (sys_ if isinstance(sys_, pd.Series)
                else pd.Series(sys_, index=vals.index, dtype="object"))
    slow = _normalise_rows(_as_string(vals), sys_rows, False)
    pd.testing.assert_frame_equal(fast, slow)
    assert fast["valid"].isna().sum() == vals.isna().sum() + (vals == "").sum()


def test_normalise_codes_fee_and_index_kept():
    vals = pd.Series(["2 AD", "11ak", None] * MIN_ROWS, index=np.arange(3 * MIN_ROWS) + 7)
    out = normalise_codes(vals, fee=True)
    assert out.index.equals(vals.index)
    assert out["code"].iloc[:3].tolist() == ["2ad", "11ak", pd.NA]


def test_distinct_key_and_on_distinct_edges():
    assert distinct_key(pd.Series([], dtype=object)).tolist() == []
    assert distinct_key(pd.Series([None, np.nan, pd.NA], dtype=object)).tolist() == [0, 0, 0]
    s = pd.Series([], dtype="string[pyarrow]")
    out = on_distinct(lambda pos: s.iloc[pos].reset_index(drop=True), distinct_key(s), s.index)
    assert len(out) == 0
    big = pd.Series(["a", "b"] * MIN_ROWS)
    calls = []

    def fn(pos):
        calls.append(len(pos))
        return big.iloc[pos].str.upper().reset_index(drop=True)

    res = on_distinct(fn, distinct_key(big), big.index)
    assert calls == [2] and res.tolist() == ["A", "B"] * MIN_ROWS


def test_as_string_fast_and_slow_paths():
    fast = _as_string(pd.Series(["a", None, "b"], dtype=object))
    assert fast.dtype == "string[pyarrow]" and fast.isna().tolist() == [False, True, False]
    latin = _as_string(pd.Series(["kjønn".encode("latin-1"), "x"], dtype=object))
    assert latin.tolist() == ["kjønn", "x"]
    dates = _as_string(pd.Series([dt.date(2017, 1, 2), None], dtype=object))
    assert dates.tolist()[0] == "2017-01-02"
    assert _as_string(pd.Series([None, None], dtype=object)).isna().all()


def test_parquet_dates_and_numeric_booleans(tmp_path):
    f = tmp_path / "diag.parquet"
    pq.write_table(pa.table({
        "enkeltregning_lnr": pa.array([1, 2, 3, 4], pa.int64()),
        "diagnoseKode": ["F00", "P70", "R05", "G30"],
        "diagnoseTabell": ["ICD-10", "ICPC-2", "ICPC-2", "ICD-10"],
        "erHoveddiagnose": pa.array([1, 0, 9, 5], pa.int8()),
    }), f)
    res = read_extract(f)
    assert res.data["is_main"].tolist() == [True, False, pd.NA, pd.NA]
    # The numeric path agrees with the text path (the same values as CSV text).
    txt = tmp_path / "diag.csv"
    txt.write_text("enkeltregning_lnr;diagnoseKode;diagnoseTabell;erHoveddiagnose\n"
                   "1;F00;ICD-10;1\n2;P70;ICPC-2;0\n3;R05;ICPC-2;9\n4;G30;ICD-10;5\n")
    slow = read_extract(txt, columns=None)
    pd.testing.assert_series_equal(res.data["is_main"], slow.data["is_main"])
    pd.testing.assert_frame_equal(res.report.reasons.drop(columns="file"),
                                  slow.report.reasons.drop(columns="file"))
    assert res.report.reasons.set_index("reason").loc["invalid_value", "n_rows"] == 2
    c = tmp_path / "claims.parquet"
    pq.write_table(pa.table({
        "kpr_lnr": [1, 2], "enkeltregning_lnr": [1, 2],
        "dato": pa.array([dt.date(2017, 1, 2), dt.date(2017, 3, 1)], pa.date32()),
        "fodselsaar": [1940, 1950], "kommuneNr": ["301", "5001"],
        "tjenestetype": ["Fastlege", "Legevakt"],
        "doddato": pa.array([None, dt.date(2017, 2, 1)], pa.date32()),
    }), c)
    claims = read_extract(c)
    assert claims.data["date"].dtype == "datetime64[ns]"
    assert claims.data["municipality"].tolist() == ["0301"]
    assert claims.report.reasons.set_index("reason").loc["after_death", "n_rows"] == 1


def test_linkage_same_with_dense_and_sparse_pseudonyms():
    """The seen-table path (dense ids) and the hashing path (sparse ids) agree."""
    from kprlink.linkage import link_extracts

    rng = np.random.default_rng(5)
    n = 400
    npr = pd.DataFrame({"npr_id": pd.array(rng.integers(1, 120, n), dtype="Int64"),
                        "date_in": pd.Timestamp("2017-01-01")
                        + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
                        "sex": pd.array(rng.integers(1, 3, n), dtype="Int64"),
                        "birth_year": pd.array(rng.integers(1930, 1935, n), dtype="Int64")})
    kpr = pd.DataFrame({"kpr_id": pd.array(rng.integers(1, 150, n), dtype="Int64"),
                        "date": pd.Timestamp("2017-01-01")
                        + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
                        "sex": pd.array(rng.integers(1, 3, n), dtype="Int64"),
                        "death_date": pd.Series(pd.NaT, index=range(n))})
    kpr.loc[kpr["kpr_id"] == 7, "death_date"] = pd.Timestamp("2017-03-01")
    npr.loc[::50, "npr_id"] = pd.NA
    key = pd.DataFrame({"npr_id": np.arange(1, 100), "kpr_id": np.arange(1, 100) + 20,
                        "delivery": "k1"})
    dense = link_extracts(npr, kpr, key=key)
    big = 10**13  # ids far apart: no seen-table over the range
    scale = {"npr_id": big, "kpr_id": big}
    sparse = link_extracts(npr.assign(npr_id=npr["npr_id"] * big),
                           kpr.assign(kpr_id=kpr["kpr_id"] * big),
                           key=key.assign(**{c: key[c] * f for c, f in scale.items()}))
    a, b = dense.persons, sparse.persons.copy()
    for c in ("kpr_id", "npr_id"):
        b[c] = b[c] // big
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(dense.report.unlinked_by_year, sparse.report.unlinked_by_year)
    pd.testing.assert_frame_equal(dense.report.events_after_death,
                                  sparse.report.events_after_death)
    assert dense.report.events_after_death["n_rows"].sum() > 0
    assert len(dense.report.demographic_conflicts) > 0
