"""Encodings decided per file and repaired per field; æøå headers (issue 17, item 3)."""

from __future__ import annotations

import pandas as pd
import pytest
from test_sources_data import CLAIMS, EPISODES, write_csv, write_delivery

from kprlink.sources import read_delivery, read_extract
from kprlink.sources._contract import alias_key
from kprlink.sources.extract import DETECTABLE


def _mixed_claims(tmp_path, n: int = 3000):
    """A UTF-8 claim file (``Trøndelag`` in every row) with one latin-1 field late."""
    big = pd.concat([CLAIMS] * (n // len(CLAIMS)), ignore_index=True)
    big["enkeltregning_lnr"] = range(1, len(big) + 1)
    big["merknad"] = "Trøndelag"  # a column of no contract: kept as delivered text
    text = big.astype(str).replace({"nan": ""}).to_csv(sep=";", index=False,
                                                       lineterminator="\n")
    lines = text.encode("utf-8").split(b"\n")
    at = len(lines) - 20  # data row at - 0 (1-based data row number = at)
    fields = lines[at].split(b";")
    col = list(big.columns).index("bydel")
    fields[col] = "Grünerløkka".encode("latin-1")
    lines[at] = b";".join(fields)
    path = tmp_path / "c.csv"
    path.write_bytes(b"\n".join(lines))
    return path, at, len(big)


def test_stray_latin1_bytes_repair_only_their_fields(tmp_path):
    path, row, n = _mixed_claims(tmp_path)
    res = read_extract(path)
    assert res.encoding == "utf-8"
    assert (res.data["merknad"] == "Trøndelag").all()  # no mojibake
    assert res.data.loc[res.data["claim_id"] == row, "district"].tolist() == ["Grünerløkka"]
    r = res.report.reasons.set_index("reason").loc["encoding_repaired"]
    assert (r["action"], r["column"], int(r["n_rows"])) == ("repaired", "district", 1)
    p = next(p for p in res.report.problems if p.reason == "encoding_repaired")
    assert p.rows == (row,) and "bydel" in p.message
    assert int(res.report.table["repaired"].iloc[0]) >= 1
    assert int(res.report.table["kept"].iloc[0]) == n


def test_stray_bytes_counted_in_a_delivery_and_its_import(tmp_path):
    folder = write_delivery(tmp_path / "d")
    path, _row, _n = _mixed_claims(tmp_path)
    (folder / "kpr_kuhr_regninger.csv").write_bytes(path.read_bytes())
    d = read_delivery(folder)
    reasons = d.report.reasons
    got = reasons[reasons["reason"] == "encoding_repaired"]
    assert got[["file", "n_rows"]].to_numpy().tolist() == [["kpr_kuhr_regninger.csv", 1]]
    assert d.files.set_index("file").loc["kpr_kuhr_regninger.csv", "encoding"] == "utf-8"


def test_a_latin1_file_with_no_utf8_is_latin1_without_repairs(tmp_path):
    df = CLAIMS.assign(bydel=["Grünerløkka", "Tøyen", "", "", ""])
    res = read_extract(write_csv(df, tmp_path / "c.csv", encoding="latin-1"))
    assert res.encoding == "latin-1"
    assert res.data["district"].tolist()[:2] == ["Grünerløkka", "Tøyen"]
    assert "encoding_repaired" not in set(res.report.reasons["reason"])


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1", "cp1252"])
@pytest.mark.parametrize("sex, born", [("kjønn", "fødselsår"), ("Kjønn", "FØDSELSÅR")])
def test_norwegian_header_letters_match_their_aliases(tmp_path, encoding, sex, born):
    df = CLAIMS.rename(columns={"kjonn": sex, "fodselsaar": born})
    res = read_extract(write_csv(df, tmp_path / "c.csv", encoding=encoding))
    assert res.contract.name == "kpr_kuhr.claims"
    plain = read_extract(write_csv(CLAIMS, tmp_path / "plain.csv")).data["sex"]
    pd.testing.assert_series_equal(res.data["sex"], plain)
    assert plain.notna().sum() == 4  # -1 is the unknown code
    assert res.data["birth_year"].tolist() == CLAIMS["fodselsaar"].tolist()
    assert "sex" not in {p.column for p in res.report.problems if p.reason == "missing_required"}


def test_npr_header_fodselsar_with_a_ring(tmp_path):
    df = EPISODES.rename(columns={"fodselsar": "fødselsår", "kjonn": "kjønn"})
    res = read_extract(write_csv(df, tmp_path / "npr.csv", encoding="latin-1"))
    assert res.data["birth_year"].tolist() == [1936, 1940, 1927]


def test_folded_names_never_join_two_columns_of_one_contract():
    for contract in DETECTABLE:
        owner: dict[str, str] = {}
        for col in contract.columns:
            for name in col.all_names:
                key = alias_key(name)
                assert owner.setdefault(key, col.name) == col.name, (contract.name, name)
