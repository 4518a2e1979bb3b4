"""Small deliveries built in code, with the column names of docs/architecture.md.

Imported by the other ``test_sources_*`` modules; its own tests check that the
builder itself covers every contract.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kprlink.sources.extract import detect_contract

CLAIMS = pd.DataFrame({
    "aar": [2017, 2017, 2017, 2016, 2017],
    "kpr_lnr": [101, 102, 103, 104, 101],
    "enkeltregning_lnr": [1, 2, 3, 4, 5],
    "dato": ["2017-01-05", "2017-02-10", "2017-03-15", "2016-09-01", "2017-06-30"],
    "klokkeslett": ["08:30", "14:05", "", "23:59", "10:00"],
    "kjonn": [2, 1, -1, 2, 2],
    "kjonnK": [2, 1, 1, 2, 2],
    "alder": [81, 77, 90, 65, 81],
    "fodselsaar": [1936, 1940, 1927, 1951, 1936],
    "kommuneNr": ["0301", "301", "5001", "-1", "0301"],
    "bydel": ["030101", "", "", "", "030101"],
    "kommunenrPB": ["", "", "", "1103", ""],
    "tjenestetype": ["Fastlege", "Legevakt", "Fastlege", "Fysioterapeut privat", "Fastlege"],
    "praksiskommune": ["0301", "0301", "5001", "1103", "0301"],
    "doddato": ["", "", "2017-12-01", "", ""],
})

DIAGNOSES = pd.DataFrame({
    "aar": [2017, 2017, 2017, 2017, 2016, 2017],
    "enkeltregning_lnr": [1, 1, 2, 3, 4, 5],
    "diagnoseKode": ["P70", "K86", "F00.1", "P700006", "L03", "-30"],
    "diagnoseTabell": ["ICPC-2", "ICPC-2", "ICD-10", "ICPC-2B", "ICPC-2", "ICPC-2"],
    "erHoveddiagnose": [1, 0, 1, 1, 1, 1],
    "kodenr": [1, 2, 1, 1, 1, 1],
})

FEES = pd.DataFrame({
    "aar": [2017, 2017, 2017, 2016, 2017],
    "enkeltregning_lnr": [1, 2, 3, 4, 5],
    "takstkode": ["2ad", "2AK", "11ak", "A1", "2ae"],
    "KPRantall": [1, 1, 1, 2, 1],
})

SERVICES = pd.DataFrame({
    "aar": [2017, 2017, 2018, 2017],
    "kpr_lnr": [101, 103, 103, 105],
    "tjeneste": [15, 6, 21, 12],
    "undertjeneste": ["", "06.02", "", ""],
    "vedtaksdato": ["2016-12-01", "2017-02-01", "2017-11-20", "2015-03-01"],
    "fradato": ["2016-12-15", "2017-02-10", "2017-12-01", "2015-04-01"],
    "tildato": ["", "2017-11-30", "", ""],
    "timer_per_uke": [3.5, 0, 168, ""],
    "kommuneNr": ["0301", "5001", "5001", "1103"],
    "kjonn": [2, 1, 1, 9],
    "fodselsaar": [1936, 1927, 1927, 1930],
    "doddato": ["", "2017-12-01", "2017-12-01", ""],
})

FUNCTIONS = pd.DataFrame({
    "kpr_lnr": [101, 101, 103],
    "vurderingsdato": ["2017-01-10", "2017-01-10", "2017-02-05"],
    "funksjonsvariabel": ["hukommelse", "spise", "hukommelse"],
    "skaar": [4, 9, 5],
    "kommuneNr": ["0301", "0301", "5001"],
})

INDICATORS = pd.DataFrame({
    "kpr_lnr": [103, 105],
    "dato": ["2017-12-31", "2017-12-31"],
    "kommuneNr": ["5001", "1103"],
    "legemiddelgjennomgang": [1, 0],
    "ernaering_vurdert": [1, 9],
    "ernaering_risiko": [0, 9],
    "ernaering_plan": [0, 9],
    "heldogn": [1, 1],
    "individuell_plan": [0, 0],
    "koordinator": [9, 1],
})

EPISODES = pd.DataFrame({
    "lopenr": [501, 502, 503],
    "aar": [2017, 2017, 2017],
    "inndato": ["2017-01-20", "2017-03-01", "2017-05-05"],
    "utdato": ["2017-01-25", "2017-03-01", "2017-05-09"],
    "inntid": ["10:15", "09:00", "22:40"],
    "uttid": ["12:00", "11:00", "08:00"],
    "omsorgsniva": [1, 3, 1],
    "innmateHast": [1, 4, 9],
    "kontaktType": [1, 2, 1],
    "institusjonid": ["974557746", "974557746", "974749025"],
    "sektor": ["4", "4", "4"],
    "fagomrade": ["GER", "NEV", "ORT"],
    "komnrhjem2": ["0301", "0301", "5001"],
    "kjonn": [2, 1, 1],
    "fodselsar": [1936, 1940, 1927],
    "aggrshoppID_Lnr": [9001, 9002, 9003],
    "doddato": ["", "", "2017-12-01"],
    "tilstand_1_1": ["G30.1", "F03", "S72.0"],
    "tilstand_1_2": ["F00.1", "", ""],
    "tilstand_2_1": ["I10", "", "F03"],
    "ncsp_1": ["", "", "NFB49"],
})

KEY = pd.DataFrame({"npr_lnr": [501, 502, 503], "kpr_lnr": [101, 102, 103],
                    "levering": ["m21t3"] * 3})

POPULATION = pd.DataFrame({
    "granularity_geo": ["municip"] * 4,
    "location_code": ["municip_nor0301"] * 4,
    "age": [80, 80, 81, 81],
    "sex": ["female", "male", "female", "male"],
    "calyear": [2017] * 4,
    "pop_jan1_n": [3012, 2100, 2900, 1990],
})

KLASS = pd.DataFrame({"location_code_current": ["municip_nor5001"],
                      "location_code_original": ["municip_nor1601"], "calyear": [2017],
                      "weighting": [1.0], "granularity_geo": ["municip"]})

#: file name → (frame, separator), as the synthetic generator names them.
FILES: dict[str, tuple[pd.DataFrame, str]] = {
    "kpr_kuhr_regninger": (CLAIMS, ";"),
    "kpr_kuhr_diagnoser": (DIAGNOSES, ";"),
    "kpr_kuhr_takster": (FEES, ";"),
    "kpr_ho_tjenester": (SERVICES, ";"),
    "kpr_ho_funksjon": (FUNCTIONS, ";"),
    "kpr_ho_indikatorer": (INDICATORS, ";"),
    "npr_episoder": (EPISODES, ";"),
    "nokkel_npr_kpr": (KEY, ";"),
    "ssb_07459_befolkning": (POPULATION, ","),
    "klass_kommuner": (KLASS, ","),
}

#: Contract of each file (None: not a contract file).
CONTRACT_OF = {
    "kpr_kuhr_regninger": "kpr_kuhr.claims", "kpr_kuhr_diagnoser": "kpr_kuhr.diagnoses",
    "kpr_kuhr_takster": "kpr_kuhr.fees", "kpr_ho_tjenester": "kpr_ho.services",
    "kpr_ho_funksjon": "kpr_ho.functions", "kpr_ho_indikatorer": "kpr_ho.indicators",
    "npr_episoder": "npr.episodes", "nokkel_npr_kpr": "keyfile.key",
    "ssb_07459_befolkning": "population.population", "klass_kommuner": None,
}


def write_csv(frame: pd.DataFrame, path: Path, *, sep: str = ";",
              encoding: str = "utf-8") -> Path:
    """Write `frame` as a delivery CSV (all values as delivered text)."""
    text = frame.astype(str).replace({"nan": ""}).to_csv(sep=sep, index=False,
                                                         lineterminator="\n")
    path.write_bytes(text.encode(encoding))
    return path


def write_delivery(folder: Path, *, with_truth: bool = True) -> Path:
    """Every file of a small delivery as CSV in `folder` (plus a truth/ folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, (frame, sep) in FILES.items():
        write_csv(frame, folder / f"{name}.csv", sep=sep)
    if with_truth:
        (folder / "truth").mkdir(exist_ok=True)
        write_csv(CLAIMS, folder / "truth" / "kpr_kuhr_regninger.csv")
    return folder


def test_builder_covers_every_contract():
    from kprlink.sources import CONTRACTS

    assert set(CONTRACTS) == {c for c in CONTRACT_OF.values() if c}


def test_builder_headers_detect_their_contract():
    for name, (frame, _sep) in FILES.items():
        contract, score = detect_contract(list(frame.columns))
        if CONTRACT_OF[name] is None:
            assert contract is None or score < 0.5, name
        else:
            assert (contract.name, score) == (CONTRACT_OF[name], 1.0), name


def test_formats_doc_lists_every_canonical_name_and_alias():
    from kprlink.sources.extract import DETECTABLE

    doc = (Path(__file__).resolve().parents[1] / "docs" / "formats.md").read_text()
    for contract in DETECTABLE:
        assert f"### `{contract.name}`" in doc
        for col in contract.columns:
            for name in col.all_names:
                assert f"`{name}`" in doc, (contract.name, name)
