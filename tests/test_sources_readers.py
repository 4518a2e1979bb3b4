"""Formats, encodings and separators: every source in every format."""

from __future__ import annotations

import pandas as pd
import pyreadstat
import pytest
from test_sources_data import CLAIMS, DIAGNOSES, EPISODES, FILES, SERVICES, write_csv

from kprlink.exceptions import ValidationError
from kprlink.sources import read_extract
from kprlink.sources import readers as rd
from kprlink.sources.extract import detect_contract


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with numbers as numbers (as a statistics package would store it)."""
    out = frame.copy()
    for c in out.columns:
        num = pd.to_numeric(out[c], errors="coerce")
        if num.notna().sum() == out[c].replace("", pd.NA).notna().sum() and c not in (
                "kommuneNr", "praksiskommune", "bydel", "kommunenrPB", "institusjonid",
                "sektor", "undertjeneste", "diagnoseKode", "komnrhjem2"):
            out[c] = num
    return out


@pytest.mark.parametrize("name", [n for n in FILES if n != "klass_kommuner"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1"])
def test_every_file_reads_in_every_encoding(tmp_path, name, encoding):
    frame, sep = FILES[name]
    path = write_csv(frame, tmp_path / f"{name}.csv", sep=sep, encoding=encoding)
    res = read_extract(path)
    assert res.sep == sep
    # the builder's frames are ASCII: latin-1 bytes are then valid UTF-8 too
    assert res.encoding == ("utf-8-sig" if encoding == "utf-8-sig" else "utf-8")
    assert res.report.table["rows_in"].iloc[0] == len(frame)
    assert res.report.table["kept"].iloc[0] + res.report.table["excluded"].iloc[0] == len(frame)


def test_latin1_value_and_column_name(tmp_path):
    df = CLAIMS.assign(refusjonutbetaltbeløp=["152,50", "0", "", "410", "1"],
                       tjenestetype=["Fastlege"] * 5,
                       bydel=["Grünerløkka"] + [""] * 4)
    path = write_csv(df, tmp_path / "c.csv", encoding="latin-1")
    res = read_extract(path)
    assert res.encoding == "latin-1"
    assert res.data["refund"].tolist()[:2] == [152.5, 0.0]
    assert res.data["district"].iloc[0] == "Grünerløkka"


def test_latin1_bytes_after_the_sniffed_sample_are_reread(tmp_path):
    n = 20_000
    big = pd.DataFrame({"npr_lnr": range(n), "kpr_lnr": range(n), "levering": ["d1"] * n})
    big.loc[n - 1, "levering"] = "leveranse_ø"
    path = write_csv(big, tmp_path / "key.csv", encoding="latin-1")
    assert path.stat().st_size > 1 << 16
    res = read_extract(path)
    assert res.encoding == "latin-1"
    assert res.data["delivery"].iloc[-1] == "leveranse_ø"


def test_bom_is_not_part_of_the_first_column_name(tmp_path):
    path = write_csv(CLAIMS, tmp_path / "c.csv", encoding="utf-8-sig")
    res = read_extract(path)
    assert res.encoding == "utf-8-sig"
    assert res.data["year"].tolist() == CLAIMS["aar"].tolist()


def test_comma_separated_claims(tmp_path):
    path = write_csv(CLAIMS, tmp_path / "c.csv", sep=",")
    res = read_extract(path)
    assert res.sep == ","
    assert len(res.data) == len(CLAIMS)


def test_wrong_separator_named_is_fatal(tmp_path):
    path = write_csv(CLAIMS, tmp_path / "c.csv", sep=";")
    with pytest.raises(ValidationError) as info:
        read_extract(path, sep=",")
    assert [p.reason for p in info.value.problems] == ["wrong_separator"]


def test_wrong_encoding_named_is_fatal(tmp_path):
    df = CLAIMS.assign(tjenestetype="Fastlege", bydel=["Sørlandet"] + [""] * 4)
    path = write_csv(df, tmp_path / "c.csv", encoding="latin-1")
    with pytest.raises(ValidationError) as info:
        read_extract(path, encoding="utf-8")
    assert [p.reason for p in info.value.problems] == ["wrong_encoding"]


def test_named_encoding_and_separator_are_used(tmp_path):
    path = write_csv(CLAIMS, tmp_path / "c.csv", sep="|", encoding="latin-1")
    res = read_extract(path, "kpr_kuhr.claims", encoding="latin-1", sep="|")
    assert (res.encoding, res.sep, len(res.data)) == ("latin-1", "|", 5)


def test_ragged_csv_is_unreadable(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("npr_lnr;kpr_lnr\n1;2\n3;4;5;6\n")
    with pytest.raises(ValidationError) as info:
        read_extract(path)
    assert info.value.problems[0].reason == "unreadable"


def test_duplicate_column_names_are_fatal(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("npr_lnr;kpr_lnr;kpr_lnr\n1;2;3\n")
    with pytest.raises(ValidationError) as info:
        read_extract(path)
    assert info.value.problems[0].reason == "duplicate_column"


def test_parquet_typed_and_text(tmp_path):
    typed = _typed(SERVICES)
    typed.to_parquet(tmp_path / "s.parquet")
    SERVICES.astype(str).to_parquet(tmp_path / "t.parquet")
    a = read_extract(tmp_path / "s.parquet")
    b = read_extract(tmp_path / "t.parquet")
    assert a.format == "parquet"
    pd.testing.assert_frame_equal(a.data, b.data)


def test_spss_and_stata(tmp_path):
    typed = _typed(CLAIMS).rename(columns={"kjonnK": "kjonnK"})
    typed["dato"] = pd.to_datetime(typed["dato"])
    pyreadstat.write_sav(typed, str(tmp_path / "c.sav"))
    pyreadstat.write_dta(typed, str(tmp_path / "c.dta"))
    csv = read_extract(write_csv(CLAIMS, tmp_path / "c.csv")).data
    for ext, fmt in (("sav", "spss"), ("dta", "stata")):
        res = read_extract(tmp_path / f"c.{ext}")
        assert res.format == fmt
        cols = ["kpr_id", "claim_id", "date", "sex", "municipality", "service_type"]
        pd.testing.assert_frame_equal(res.data[cols], csv[cols], check_dtype=True)


def test_sas_transport(tmp_path):
    typed = _typed(DIAGNOSES)
    pyreadstat.write_xport(typed, str(tmp_path / "d.xpt"))
    res = read_extract(tmp_path / "d.xpt")
    assert res.format == "xport"
    assert res.data["code"].tolist() == ["P70", "K86", "F001", "P700006", "L03", "-30"]


def test_sas7bdat_dispatches_to_the_sas_reader(tmp_path, monkeypatch):
    # pyreadstat cannot write sas7bdat; check detection and dispatch instead.
    seen = {}

    def fake(path, encoding):
        seen["args"] = (path.name, encoding)
        return _typed(EPISODES)

    monkeypatch.setattr(rd, "_read_sas7bdat", fake)
    path = tmp_path / "npr.sas7bdat"
    path.write_bytes(b"\x00" * 32)
    res = read_extract(path, encoding="latin-1")
    assert seen["args"] == ("npr.sas7bdat", "latin-1")
    assert (res.format, res.contract.name, len(res.data)) == ("sas7bdat", "npr.episodes", 3)


def test_corrupt_binary_file_is_unreadable(tmp_path):
    path = tmp_path / "x.sav"
    path.write_bytes(b"not an spss file")
    with pytest.raises(ValidationError) as info:
        read_extract(path)
    assert info.value.problems[0].reason == "unreadable"


def test_unknown_format_is_fatal(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(ValidationError) as info:
        read_extract(path, "keyfile.key")
    assert info.value.problems[0].reason == "unknown_format"


def test_unknown_contract_name():
    with pytest.raises(ValidationError):
        read_extract(__file__, "kpr_kuhr.nothing")


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_extract(tmp_path / "absent.csv")


def test_header_matching_no_contract(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a;b\n1;2\n")
    with pytest.raises(ValidationError) as info:
        read_extract(path)
    assert info.value.problems[0].reason == "unknown_contract"


def test_sniffers():
    assert rd.sniff_separator("a\tb\tc") == "\t"
    assert rd.sniff_separator("single") == ";"
    assert rd.sniff_encoding("æøå".encode()) == "utf-8"
    # a multi-byte character cut at the end of the sample is still UTF-8
    assert rd.sniff_encoding("aø".encode()[:-1]) == "utf-8"
    assert rd.detect_format("x.unknown") is None


def test_parquet_detected_by_magic_bytes(tmp_path):
    FILES["nokkel_npr_kpr"][0].to_parquet(tmp_path / "key.bin")
    assert rd.detect_format(tmp_path / "key.bin") == "parquet"


def test_detect_contract_ties_go_to_the_richer_match():
    # a claims header also satisfies the indicators contract (kpr_lnr, dato)
    contract, score = detect_contract(list(CLAIMS.columns))
    assert (contract.name, score) == ("kpr_kuhr.claims", 1.0)
    assert detect_contract(["x"]) == (None, 0.0)


def test_empty_file_with_header_only(tmp_path):
    path = write_csv(CLAIMS.iloc[:0], tmp_path / "c.csv")
    res = read_extract(path)
    assert len(res.data) == 0
    assert res.data["date"].dtype == "datetime64[ns]"
    assert res.report.table[["rows_in", "kept", "excluded"]].iloc[0].tolist() == [0, 0, 0]


def test_parquet_text_dates_are_checked_against_the_calendar(tmp_path):
    text = CLAIMS.astype(str).assign(dato=["2017-01-05", "2017-02-30", "2017-03-15",
                                           "2016-09-01", "2017-06-30"])
    text.to_parquet(tmp_path / "c.parquet")
    res = read_extract(tmp_path / "c.parquet")
    assert res.data["claim_id"].tolist() == [1, 3, 4, 5]
    assert [(p.reason, p.rows) for p in res.report.problems] == [("bad_date", (2,))]
