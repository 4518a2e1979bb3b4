"""Tests of kprlink.synth: calibration, file contracts, truth, defects, determinism."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kprlink.cli import main
from kprlink.exceptions import KprlinkError, SpecError
from kprlink.synth import SynthConfig, generate_delivery
from kprlink.synth import calibration as cal
from kprlink.synth.population import klass_tables, municipalities, single_age_counts

HEADERS = {
    "kpr_kuhr_regninger": "aar;kpr_lnr;enkeltregning_lnr;dato;klokkeslett;kjonn;kjonnK;alder;"
                          "fodselsaar;kommuneNr;bydel;kommunenrPB;tjenestetype;praksiskommune;"
                          "doddato",
    "kpr_kuhr_diagnoser": "aar;enkeltregning_lnr;diagnoseKode;diagnoseTabell;erHoveddiagnose;"
                          "kodenr",
    "kpr_kuhr_takster": "aar;enkeltregning_lnr;takstkode;KPRantall",
    "kpr_ho_tjenester": "aar;kpr_lnr;tjeneste;undertjeneste;vedtaksdato;fradato;tildato;"
                        "timer_per_uke;kommuneNr;kjonn;fodselsaar;doddato",
    "kpr_ho_funksjon": "kpr_lnr;vurderingsdato;funksjonsvariabel;skaar;kommuneNr",
    "kpr_ho_indikatorer": "kpr_lnr;dato;kommuneNr;legemiddelgjennomgang;ernaering_vurdert;"
                          "ernaering_risiko;ernaering_plan;heldogn;individuell_plan;koordinator",
    "nokkel_npr_kpr": "npr_lnr;kpr_lnr;levering",
}
DEM = ("F00", "F01", "F02", "F03", "G30")


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "d"
    generate_delivery(out, SynthConfig(scale=0.01, seed=11, defect_rate=0.02))
    return out


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")


# --- configuration and population ---------------------------------------------
def test_config_collects_every_problem() -> None:
    with pytest.raises(SpecError) as err:
        SynthConfig(scale=0, seed=-1, fmt="xlsx", defect_rate=0.5)  # type: ignore[arg-type]
    assert len(err.value.problems) == 4


@pytest.mark.parametrize("kw", [{"scale": float("nan")}, {"scale": 1e-6}, {"seed": True},
                                {"chunk_persons": 10}, {"defect_rate": -0.1}])
def test_config_rejects_each_bad_setting(kw: dict[str, object]) -> None:
    with pytest.raises(SpecError) as err:
        SynthConfig(**kw)  # type: ignore[arg-type]
    assert len(err.value.problems) == 1


def test_single_ages_reproduce_the_16_published_band_counts() -> None:
    c = single_age_counts(1.0)
    for name, lo, hi in cal.BANDS:
        female, male = cal.POP_2017_BANDS[name]
        assert c[1, lo:hi].sum() == female and c[0, lo:hi].sum() == male
    small = single_age_counts(0.01)
    for name, lo, hi in cal.BANDS:
        assert abs(small[:, lo:hi].sum() - sum(cal.POP_2017_BANDS[name]) * 0.01) <= 2
    assert (c > 0).all()


def test_municipalities_and_klass() -> None:
    m = municipalities()
    assert len(m) == 426 and m["code"].is_unique
    assert m["code"].str.fullmatch(r"\d{4}").all()
    assert (m["code"].str[:2] == m["county"]).all()
    assert m["code_2018"].str.startswith("50").sum() == 48  # 25 + 23 Trøndelag municipalities
    shares = m.groupby("county")["weight"].sum()
    np.testing.assert_allclose(shares.to_numpy(), 1.0)
    kommuner, navn = klass_tables(m)
    y18 = kommuner[(kommuner.calyear == 2018) & (kommuner.granularity_geo == "municip")]
    assert not y18["location_code_original"].str.match(r"municip_nor1[67]").any()
    merged20 = kommuner[(kommuner.calyear == 2016)
                        & (kommuner.location_code_current != kommuner.location_code_original)
                        & (kommuner.granularity_geo == "municip")]
    assert len(merged20) > 48  # Trøndelag + the synthetic 2020 mergers
    assert navn["location_code"].is_unique


# --- the delivery ---------------------------------------------------------------
def test_files_have_the_delivered_columns(delivery: Path) -> None:
    for stem, header in HEADERS.items():
        first = (delivery / f"{stem}.csv").read_bytes().split(b"\n", 1)[0]
        assert first.decode("utf-8-sig") == header
    npr = (delivery / "npr_episoder.csv").read_text().split("\n", 1)[0].split(";")
    assert npr[:3] == ["lopenr", "aar", "inndato"]
    assert "tilstand_1_2" in npr and "tilstand_20_1" in npr
    pop = pd.read_csv(delivery / "ssb_07459_befolkning.csv")
    assert list(pop.columns) == ["granularity_geo", "location_code", "age", "sex", "calyear",
                                 "pop_jan1_n"]
    assert set(pop.calyear) == {2016, 2017, 2018}
    n17 = pop[(pop.calyear == 2017) & (pop.granularity_geo == "nation")].pop_jan1_n.sum()
    assert abs(n17 - cal.POP_2017_TOTAL * 0.01) <= 8
    for level in ("county", "municip"):
        lv = pop[(pop.calyear == 2017) & (pop.granularity_geo == level)].pop_jan1_n.sum()
        assert lv == n17
    assert pop[(pop.calyear == 2018)].location_code.str.contains("county_nor50").any()


def test_calibration_targets_within_tolerance(delivery: Path) -> None:
    calib = pd.read_csv(delivery / "truth" / "calibration.csv", sep=";")
    assert set(calib.target) == {t.name for t in cal.TARGETS}
    bad = calib[~calib.ok]
    assert bad.empty, bad[["target", "generated", "low", "high"]]


def test_independent_margins_from_the_files(delivery: Path) -> None:
    claims = _read(delivery / "kpr_kuhr_regninger.csv")
    fees = _read(delivery / "kpr_kuhr_takster.csv")
    n = cal.POP_2017_TOTAL * 0.01
    c17 = claims[(claims.aar == "2017") & (claims.tjenestetype == "Fastlege")]
    cons = fees[fees.takstkode.isin(["2ad", "2ak", "2ae"])
                & fees.enkeltregning_lnr.isin(c17.enkeltregning_lnr)]
    assert 2.4 < cons.enkeltregning_lnr.nunique() / n < 3.0
    npr = _read(delivery / "npr_episoder.csv")
    pat = npr[npr.aar == "2017"].lopenr.nunique()
    assert 0.9 < pat / (cal.NPR_PATIENTS_2017 * 0.01) < 1.1
    assert set(npr.omsorgsniva) == {"1", "2", "3"}
    hip = npr.tilstand_1_1.str.replace(".", "", regex=False).str.match(r"S72[012]")
    assert hip.sum() > 0 and (npr.omsorgsniva[hip] == "1").all()
    pairs = npr[npr.tilstand_1_2 != ""]
    assert pairs.tilstand_1_1.str.startswith("G30").all()
    assert pairs.tilstand_1_2.str.startswith("F00").all()
    svc = _read(delivery / "kpr_ho_tjenester.csv")
    assert (svc.fradato <= svc.tildato.where(svc.tildato != "", "9999")).all()
    assert {"21", "15", "1", "6"} <= set(svc.tjeneste)
    ind = _read(delivery / "kpr_ho_indikatorer.csv")
    assert set(ind.ernaering_vurdert) <= {"0", "1", "9"}


def _rule_cohort(d: Path) -> pd.DataFrame:
    """The reference cohort rule, re-implemented from the delivered files."""
    lo, hi = "2016-07-01", "2017-06-30"
    npr = _read(d / "npr_episoder.csv")
    tcols = [c for c in npr.columns if c.startswith("tilstand_")]
    codes = npr[tcols].apply(lambda s: s.str.replace(".", "", regex=False).str.upper())
    dem = codes.apply(lambda s: s.str.startswith(DEM)).any(axis=1)
    ok = dem & npr.inndato.between(lo, hi) & ((npr.doddato == "") | (npr.inndato <= npr.doddato))
    ne = npr.loc[ok, ["lopenr", "inndato"]].rename(columns={"lopenr": "npr", "inndato": "d"})
    key = _read(d / "nokkel_npr_kpr.csv").sort_values("levering")
    latest = key.drop_duplicates("npr_lnr", keep="last").set_index("npr_lnr")["kpr_lnr"]
    claims = _read(d / "kpr_kuhr_regninger.csv")
    dia = _read(d / "kpr_kuhr_diagnoser.csv")
    c = dia.diagnoseKode.str.replace(".", "", regex=False).str.upper()
    dd = np.where(dia.diagnoseTabell.isin(["ICPC-2", "ICPC-2B"]), c.str.startswith("P70"),
                  c.str.startswith(DEM))
    ce = claims.merge(dia.loc[dd, ["enkeltregning_lnr"]], on="enkeltregning_lnr")
    ce = ce[ce.dato.between(lo, hi) & ((ce.doddato == "") | (ce.dato <= ce.doddato))]
    kpr_to_npr = pd.Series(latest.index, index=latest.to_numpy())
    ke = pd.DataFrame({"kpr": ce.kpr_lnr, "npr": ce.kpr_lnr.map(kpr_to_npr), "d": ce.dato,
                       "s": "kpr_kuhr"})
    ne = pd.DataFrame({"kpr": ne.npr.map(latest), "npr": ne.npr, "d": ne.d, "s": "npr"})
    ev = pd.concat([ke, ne]).fillna({"kpr": "", "npr": ""})
    out = ev.groupby(["kpr", "npr"]).agg(sources=("s", lambda s: "+".join(sorted(set(s)))),
                                         first_date=("d", "min"), n_events=("d", "size"))
    return out.reset_index().sort_values(["kpr", "npr"]).reset_index(drop=True)


def test_truth_cohort_is_what_the_rule_finds_in_the_files(delivery: Path) -> None:
    truth = _read(delivery / "truth" / "dementia_registered.csv")
    truth = truth.rename(columns={"kpr_id": "kpr", "npr_id": "npr"})
    truth["n_events"] = truth.n_events.astype(int)
    mine = _rule_cohort(delivery)
    pd.testing.assert_frame_equal(
        truth.sort_values(["kpr", "npr"]).reset_index(drop=True), mine, check_dtype=False)
    assert (truth.kpr == "").sum() > 0  # NPR-only persons (missing from the key)
    assert 0.0032 * 0.01 * 1e4 <= len(truth) / (cal.POP_2017_TOTAL * 0.01) * 100 <= 0.9


def test_defect_counts_match_truth_and_manifest(delivery: Path) -> None:
    manifest = json.loads((delivery / "truth" / "manifest.json").read_text())
    defects = pd.read_csv(delivery / "truth" / "defects.csv", sep=";")
    by = defects.groupby(["kind", "file"]).size()
    for d in manifest["defects"]:
        assert by[(d["kind"], d["file"])] == d["n_rows"]
    kinds = set(defects.kind)
    assert {"after_death", "dotted_code", "sex_conflict", "birth_year_conflict",
            "missing_from_key", "key_conflict", "encoding_bom", "encoding_latin1"} <= kinds
    claims = _read(delivery / "kpr_kuhr_regninger.csv")
    after = (claims.doddato != "") & (claims.dato > claims.doddato)
    rows = defects[(defects.kind == "after_death") & (defects.file == "kpr_kuhr_regninger.csv")]
    assert sorted(np.flatnonzero(after) + 1) == sorted(rows.row)
    key = _read(delivery / "nokkel_npr_kpr.csv")
    assert key.npr_lnr.duplicated().sum() == (defects.kind == "key_conflict").sum()
    npr = _read(delivery / "npr_episoder.csv")
    missing = defects[defects.kind == "missing_from_key"]
    assert not npr.lopenr.iloc[missing.row - 1].isin(key.npr_lnr).any()
    assert set(npr.lopenr) - set(key.npr_lnr) == set(npr.lopenr.iloc[missing.row - 1])
    with pytest.raises(UnicodeDecodeError):
        (delivery / "klass_navn.csv").read_bytes().decode("utf-8")
    assert (delivery / "nokkel_npr_kpr.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_read_delivery_reports_exactly_the_injected_defects(delivery: Path) -> None:
    import kprlink as kl

    d = kl.read_delivery(delivery)
    summary = d.report.summary().set_index("file")
    defects = pd.read_csv(delivery / "truth" / "defects.csv", sep=";")
    claims = _read(delivery / "kpr_kuhr_regninger.csv")
    dead_claims = set(claims.enkeltregning_lnr[(claims.doddato != "")
                                               & (claims.dato > claims.doddato)])
    for f in ("kpr_kuhr_regninger.csv", "npr_episoder.csv"):
        n = ((defects.kind == "after_death") & (defects.file == f)).sum()
        assert n > 0 and summary.loc[f, "excluded_after_death"] == n
    for f in ("kpr_kuhr_diagnoser.csv", "kpr_kuhr_takster.csv"):
        rows = _read(delivery / f).enkeltregning_lnr.isin(dead_claims).sum()
        assert summary.loc[f, "excluded_claim_not_kept"] == rows
    # nothing else is excluded or repaired: the rest of the delivery is valid
    excl = summary.filter(like="excluded_").sum(axis=1)
    assert (summary["excluded"] == excl).all()
    assert set(summary.columns[summary.columns.str.startswith("excluded_")]) == {
        "excluded_after_death", "excluded_claim_not_kept"}
    # the only repairs: birth years after the event's year (the generator backdates some
    # service periods and episodes before birth), counted by row as delivered
    reasons = d.report.reasons
    assert set(reasons.loc[reasons["action"] == "repaired", "reason"]) <= {"born_after_event"}
    born = reasons[reasons["reason"] == "born_after_event"].set_index("file")["n_rows"]
    for f, by, ev in (("kpr_kuhr_regninger.csv", "fodselsaar", "dato"),
                      ("npr_episoder.csv", "fodselsar", "inndato"),
                      ("kpr_ho_tjenester.csv", "fodselsaar", "fradato")):
        raw = _read(delivery / f)
        after = (pd.to_numeric(raw[by], errors="coerce")
                 > pd.to_datetime(raw[ev], errors="coerce").dt.year)
        assert int(born.get(f, 0)) == int(after.sum()), f
    # dotted codes arrive repaired by normalisation, the delivered text kept
    dotted_k = ((defects.kind == "dotted_code")
                & (defects.file == "kpr_kuhr_diagnoser.csv")).sum()
    kept = d.kuhr_diagnoses["code_original"].str.contains(".", regex=False).fillna(False)
    dropped = _read(delivery / "kpr_kuhr_diagnoser.csv")
    dropped = dropped[dropped.enkeltregning_lnr.isin(dead_claims)]
    assert kept.sum() + dropped.diagnoseKode.str.contains(".", regex=False).sum() == dotted_k
    assert len(d.key) == len(_read(delivery / "nokkel_npr_kpr.csv"))


# --- formats, determinism, CLI ---------------------------------------------------
def _digests(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    cfg = SynthConfig(scale=0.0005, seed=5, chunk_persons=1000)
    generate_delivery(tmp_path / "a", cfg)
    generate_delivery(tmp_path / "b", cfg)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    generate_delivery(tmp_path / "c", SynthConfig(scale=0.0005, seed=6, chunk_persons=1000))
    assert _digests(tmp_path / "a")["npr_episoder.csv"] != _digests(tmp_path / "c")[
        "npr_episoder.csv"]


def test_clean_parquet_delivery(tmp_path: Path) -> None:
    res = generate_delivery(tmp_path, SynthConfig(scale=0.0005, seed=2, fmt="parquet",
                                                  defect_rate=0))
    assert res.defects.empty
    claims = pd.read_parquet(tmp_path / "kpr_kuhr_regninger.parquet")
    assert ";".join(claims.columns) == HEADERS["kpr_kuhr_regninger"]
    (tmp_path / "klass_navn.csv").read_bytes().decode("utf-8")
    assert "kpr_kuhr_regninger.parquet" in set(res.files.file)
    assert "defect rows" in repr(res)
    assert res.summary().equals(res.calibration)


def test_out_must_be_a_folder(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(KprlinkError) as err:
        generate_delivery(f, SynthConfig(scale=0.0005))
    assert err.value.problems


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "--scale", "0.0005", "--seed", "1", "--out", str(tmp_path / "o"),
                 "--quiet"]) == 0
    assert (tmp_path / "o" / "truth" / "manifest.json").exists()
    summary = capsys.readouterr().out.splitlines()
    assert len(summary) == 1 and summary[0].startswith("synth: ")
    assert " rows (scale 0.0005, seed 1) written to " in summary[0]
    assert main(["synth", "--scale", "5", "--out", str(tmp_path / "x")]) == 2
    assert "scale" in capsys.readouterr().err


def test_cli_validate_names_the_injected_rows(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "v"
    assert main(["synth", "--scale", "0.0005", "--seed", "1", "--out", str(out),
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["validate", str(out)]) == 0
    text = capsys.readouterr().out
    defects = pd.read_csv(out / "truth" / "defects.csv", sep=";")
    after = defects[defects.kind == "after_death"]
    assert len(after) > 0
    for f, rows in after.groupby("file").row:
        line = next(ln for ln in text.splitlines() if ln.startswith(f"- {f}")
                    and "death" in ln)
        # validate names the first rows and the total: both must be the injected ones
        shown = sorted(rows)[:5]
        assert all(str(r) in line for r in shown)
        if len(rows) > 5:
            assert f"{len(rows)} in all" in line


def _minutes(hhmm: pd.Series) -> pd.Series:
    return hhmm.str[:2].astype(int) * 60 + hhmm.str[3:5].astype(int)


def test_referral_claims_precede_the_admission_by_20_to_240_minutes(delivery: Path) -> None:
    ep = _read(delivery / "npr_episoder.csv")
    cl = _read(delivery / "kpr_kuhr_regninger.csv")
    pairs = pd.read_parquet(delivery / "truth" / "linkage_pairs.parquet").astype(str)
    acute = ep[ep["innmateHast"] == "1"].merge(pairs, left_on="lopenr", right_on="npr_id")
    acute = acute.assign(adm=_minutes(acute["inntid"]))
    lv = cl[cl["tjenestetype"] == "Legevakt"].assign(t=lambda d: _minutes(d["klokkeslett"]))
    j = acute.merge(lv, left_on=["kpr_id", "inndato"], right_on=["kpr_lnr", "dato"])
    gap = j["adm"] - j["t"]
    ok = ((gap >= 20) & (gap <= 240)) | ((j["adm"] < 20) & (gap >= 0))
    per_adm = ok.groupby([j["lopenr"], j["inndato"], j["inntid"]]).any()
    # 55 % of acute admissions get a referring legevakt claim; a same-day
    # legevakt claim that is not the referral is rare
    assert len(per_adm) > 0.4 * len(acute)
    # (a claim time drawn independently over 08–23 would be in the window ~20 % of times)
    assert per_adm.mean() > 0.95


def test_oslo_district_is_the_same_in_npr_and_kuhr(delivery: Path) -> None:
    ep = _read(delivery / "npr_episoder.csv")
    cl = _read(delivery / "kpr_kuhr_regninger.csv")
    oslo = ep["komnrhjem2"] == "0301"
    assert oslo.any() and (~oslo).any()
    assert ep.loc[oslo, "bydel2"].str.fullmatch(r"0301(0[1-9]|1[0-5])").all()
    assert (ep.loc[~oslo, "bydel2"] == "").all()
    pairs = pd.read_parquet(delivery / "truth" / "linkage_pairs.parquet").astype(str)
    npr_d = ep[oslo].groupby("lopenr")["bydel2"].agg(["first", "nunique"])
    kpr_d = cl[cl["kommuneNr"] == "0301"].groupby("kpr_lnr")["bydel"].agg(["first", "nunique"])
    assert (npr_d["nunique"] == 1).all() and (kpr_d["nunique"] == 1).all()
    both = pairs.join(npr_d["first"].rename("npr"), on="npr_id").join(
        kpr_d["first"].rename("kpr"), on="kpr_id").dropna()
    assert len(both) > 50
    assert (both["npr"] == both["kpr"]).all()


def test_npr_birth_month_is_the_true_one(delivery: Path) -> None:
    ep = _read(delivery / "npr_episoder.csv")
    assert list(ep.columns[-3:]) == ["fodt_mnd", "alderIDager", "mottaksdato"]
    persons = pd.read_parquet(delivery / "truth" / "persons.parquet")
    m = ep.merge(persons.assign(npr_id=persons["npr_id"].astype(str)), left_on="lopenr",
                 right_on="npr_id")
    given = m["fodt_mnd"] != ""
    # a small share of persons has no birth month, never a wrong one
    assert 0.98 < given.mean() < 1.0
    assert (m.loc[given, "fodt_mnd"].astype(int) == m.loc[given, "birth_month"]).all()
    assert m.groupby("lopenr")["fodt_mnd"].nunique(dropna=False).max() == 1
    # age in days only for children under one year, and consistent with the birth month
    inf = m[m["alderIDager"] != ""]
    assert len(inf) > 0 and inf["alderIDager"].astype(int).between(0, 364).all()
    born = pd.to_datetime(inf["inndato"]) - pd.to_timedelta(inf["alderIDager"].astype(int),
                                                             unit="D")
    assert (born.dt.month == inf["birth_month"]).all()
    assert (born.dt.year == inf["birth_year"]).all()


def test_mottaksdato_on_planned_episodes_follows_a_gp_claim(delivery: Path) -> None:
    ep = _read(delivery / "npr_episoder.csv")
    cl = _read(delivery / "kpr_kuhr_regninger.csv")
    has = ep["mottaksdato"] != ""
    assert (ep.loc[has, "innmateHast"] == "4").all()
    assert has[ep["innmateHast"] == "4"].mean() > 0.95
    assert (ep.loc[has, "mottaksdato"] <= ep.loc[has, "inndato"]).all()
    pairs = pd.read_parquet(delivery / "truth" / "linkage_pairs.parquet").astype(str)
    ref = ep[has].merge(pairs, left_on="lopenr", right_on="npr_id")[
        ["kpr_id", "mottaksdato"]].drop_duplicates().reset_index(drop=True)
    gp = cl.loc[cl["tjenestetype"] == "Fastlege", ["kpr_lnr", "dato"]].drop_duplicates()

    def share_after_gp_claim(shift_days: int) -> float:
        when = pd.to_datetime(ref["mottaksdato"]) + pd.Timedelta(days=shift_days)
        j = ref.assign(when=when).reset_index().merge(gp, left_on="kpr_id",
                                                      right_on="kpr_lnr")
        lag = (j["when"] - pd.to_datetime(j["dato"])).dt.days
        return j.loc[lag.between(0, 14), "index"].nunique() / len(ref)

    # GP-referred referrals (P_GP_REFERRAL of new ones, where the person has a GP
    # claim in the year before) are received 0-14 days after a GP claim; the same
    # dates moved 60 days later find a GP claim by chance far less often
    real, placebo = share_after_gp_claim(0), share_after_gp_claim(60)
    assert real > 0.5 and real > placebo + 0.2


def test_person_columns_derive_the_referral_from_a_gp_claim(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa

    from kprlink.synth import npr

    monkeypatch.setattr(npr, "P_GP_REFERRAL", 1.0)
    monkeypatch.setattr(npr, "P_NO_REFERRAL_DATE", 0.0)
    chunk = pd.DataFrame({"birth_month": [3, 12], "birth_year": [1950, 2017],
                          "birth_day": [-1, 17501]})  # 17501: 2017-12-01
    episodes = pa.table({"inndato": pa.array([17000, 17100, 17000, 17540], pa.date32()),
                         "innmateHast": pa.array([4, 4, 4, 1], pa.int8()),
                         "kontaktType": pa.array([1, 3, 1, 2], pa.int8())})
    person = np.array([0, 0, 1, 1])
    claims = [16000, 16900]
    out = npr.person_columns(episodes, person, chunk, np.array([0, 0]), np.array(claims),
                             np.random.default_rng(1))
    recv = out.column("mottaksdato").cast(pa.int32()).to_pylist()
    # received 0-14 days after one of the person's GP claims, before the episode;
    # the outpatient control shares the referral
    assert any(c <= recv[0] <= c + 14 for c in claims) and recv[0] <= 17000
    assert recv[1] == recv[0]
    # no GP claim: another referrer, a wait before the episode; acute: no referral
    assert recv[2] is not None and recv[2] <= 17000 and recv[3] is None
    assert out.column("fodt_mnd").to_pylist() == [3, 3, 12, 12]
    # under one year only (the first episode of person 1 lies before the birth)
    assert out.column("alderIDager").to_pylist() == [None, None, None, 39]


def test_followup_claims_after_inpatient_discharge(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa

    from kprlink.synth import followup
    from kprlink.synth.kuhr import CLAIMS_SCHEMA, P_HI

    monkeypatch.setattr(followup, "P_FOLLOWUP", 1.0)
    chunk = pd.DataFrame({"birth_month": [3, 5, 7], "birth_year": [1940, 1950, 1960],
                          "death_day": [-1, 17003, -1], "nursing_home": [False, False, True],
                          "municipality": [0, 1, 0], "sex": [1, 2, 1], "kpr_id": [11, 12, 13],
                          "age17": [77, 67, 57], "group": [0, 0, 0]})
    out = [17000, 17010, 17000, 17000, P_HI]
    episodes = pa.table({"omsorgsniva": pa.array([1, 3, 1, 1, 1], pa.int8()),
                         "utdato": pa.array(out, pa.date32())})
    person = np.array([0, 0, 1, 2, 0])
    fu = followup.followup_claims(chunk, episodes, person, np.random.default_rng(3),
                                  muni_codes=np.array(["0301", "4601"]), claim_id0=500)
    # only the inpatient stay of the living, home-dwelling person inside the period:
    # not the outpatient episode, the one who died, the nursing-home resident, nor a
    # follow-up after the period
    assert fu.person.tolist() == [0]
    assert 1 <= fu.day[0] - 17000 <= 16 and (fu.day[0] + 3) % 7 < 5
    assert fu.claims.schema == CLAIMS_SCHEMA
    assert fu.claims.column("enkeltregning_lnr").to_pylist() == [500]
    assert fu.claims.column("tjenestetype").to_pylist() == ["Fastlege"]
    assert fu.fees.column("takstkode").to_pylist() == ["2ad"]
    assert fu.diagnoses.column("diagnoseKode").to_pylist()[0][:3] != "P70"


def test_delivery_has_gp_followups_after_discharge(delivery: Path) -> None:
    claims = _read(delivery / "kpr_kuhr_regninger.csv")
    assert claims.enkeltregning_lnr.is_unique
    npr = _read(delivery / "npr_episoder.csv")
    key = _read(delivery / "nokkel_npr_kpr.csv").drop_duplicates("npr_lnr", keep="last")
    stays = npr[npr.omsorgsniva == "1"].merge(key, left_on="lopenr", right_on="npr_lnr")
    gp = claims[claims.tjenestetype == "Fastlege"]
    day = pd.to_datetime(gp.dato).to_numpy("datetime64[D]").astype(np.int64)
    keys = np.sort(gp.kpr_lnr.astype(np.int64).to_numpy() * 100_000 + day)

    def share_followed(offset: int) -> float:
        out = pd.to_datetime(stays.utdato).to_numpy("datetime64[D]").astype(np.int64) + offset
        base = stays.kpr_lnr.astype(np.int64).to_numpy() * 100_000 + out
        hit = np.searchsorted(keys, base + 14, "right") - np.searchsorted(keys, base + 1)
        return float((hit > 0).mean())

    # about half of the stays get a follow-up within 14 days, on top of the GP
    # claims that fall there by chance (the same window 60 days later)
    assert share_followed(0) > share_followed(60) + 0.25


def test_moves_follow_residence_in_both_registers(delivery: Path) -> None:
    persons = pd.read_parquet(delivery / "truth" / "persons.parquet")
    movers = persons[persons.move_date.notna()]
    # [E] about 4 % a year, most of them young: a few percent in 18 months
    assert 0.02 < len(movers) / len(persons) < 0.08
    assert (movers.municipality_after_move != movers.municipality).all()
    claims = _read(delivery / "kpr_kuhr_regninger.csv")
    c = claims.merge(movers.assign(kpr_lnr=movers.kpr_id.astype(str)), on="kpr_lnr")
    after = pd.to_datetime(c.dato) >= c.move_date
    assert len(c) > 100 and after.any() and (~after).any()
    assert (c.kommuneNr[after] == c.municipality_after_move[after]).all()
    assert (c.kommuneNr[~after] == c.municipality[~after]).all()
    npr = _read(delivery / "npr_episoder.csv")
    e = npr.merge(movers.assign(lopenr=movers.npr_id.astype(str)), on="lopenr")
    after = pd.to_datetime(e.inndato) >= e.move_date
    assert (e.komnrhjem2[after] == e.municipality_after_move[after]).all()
    assert (e.komnrhjem2[~after] == e.municipality[~after]).all()
    # non-movers keep one municipality in each register
    stay = persons[persons.move_date.isna()].kpr_id.astype(str)
    n_muni = claims[claims.kpr_lnr.isin(stay)].groupby("kpr_lnr").kommuneNr.nunique()
    assert (n_muni == 1).all()


def test_draw_moves_and_residence() -> None:
    from kprlink.synth import moves
    from kprlink.synth.kuhr import P_HI, P_LO

    munis = municipalities()
    n = 20_000
    persons = pd.DataFrame({"age17": np.r_[np.full(n // 2, 25), np.full(n // 2, 85)],
                            "birth_day": -1, "death_day": -1,
                            "municipality": np.arange(n) % len(munis)})
    day, dest = moves.draw_moves(persons, munis, np.random.default_rng(5))
    moved = day >= 0
    young, old = moved[: n // 2].mean(), moved[n // 2:].mean()
    assert 0.08 < young < 0.18 and 0.01 < old < 0.04  # 18 months at 9 % / 1.5 % a year
    assert ((day[moved] > P_LO) & (day[moved] <= P_HI)).all()
    assert (dest[moved] != persons.municipality.to_numpy()[moved]).all()
    county = munis["county"].to_numpy()
    same = county[dest[moved]] == county[persons.municipality.to_numpy()[moved]]
    assert 0.4 < same.mean() < 0.65
    again = moves.draw_moves(persons, munis, np.random.default_rng(5))
    assert (again[0] == day).all() and (again[1] == dest).all()
