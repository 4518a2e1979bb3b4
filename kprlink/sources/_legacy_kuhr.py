"""The older single-file KUHR extract split into the canonical three frames (internal).

``PASIENTLOPENUMMER;MNED;DIAGNOSER;DIAGNOSE_KODEVERK;NORAKOKODE`` with several
codes in one string. Each row becomes one claim (``claim_id`` = 1-based row
number, ``date`` = first day of ``MNED``), one diagnosis row per code in
``DIAGNOSER`` (the first is the main one) and one fee row per code in
``NORAKOKODE``. The KPR coverage date is not applied: the Helsedirektoratet
extract predates KPR.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from kprlink.sources import kpr_kuhr
from kprlink.sources.canonical import STRING_DTYPE, to_canonical
from kprlink.sources.validation import Ledger, ValidationReport

_SPLIT = r"[\s,;|]+"


def legacy_dates(frame: pd.DataFrame, ledger: Ledger) -> pd.Series:
    """``MNED`` (YYYY-MM) as the first day of the month; bad months excluded."""
    month = frame["month"].astype(STRING_DTYPE).str.strip()
    ok = month.str.fullmatch(r"\d{4}-?\d{2}").fillna(False)
    text = month.str.replace("-", "", regex=False) + "01"
    date = pd.to_datetime(text.where(ok), format="%Y%m%d", errors="coerce")
    bad = (month.notna() & date.isna()).to_numpy(bool)
    ledger.exclude("bad_date", "month", bad, "MNED is not a month YYYY-MM",
                   "Months should be written YYYY-MM.")
    return date.astype("datetime64[ns]")


def _explode(frame: pd.DataFrame, col: str, rows: np.ndarray) -> pd.DataFrame:
    txt = frame[col].astype(STRING_DTYPE).str.strip()
    parts = txt.str.split(_SPLIT, regex=True)
    df = pd.DataFrame({"claim_id": frame["claim_id"].to_numpy(), "row": rows,
                       "system": frame["system"].astype("object").to_numpy()
                       if "system" in frame else None,
                       "code": parts.astype("object")})
    df = df.explode("code", ignore_index=True)
    df = df.loc[df["code"].notna() & (df["code"].astype(str) != "")]
    df["position"] = df.groupby("claim_id").cumcount() + 1
    return df.reset_index(drop=True)


def split_legacy(frame: pd.DataFrame, rows: np.ndarray, *, file: str,
                 ) -> tuple[dict[str, pd.DataFrame], list[ValidationReport]]:
    """Canonical claims, diagnoses and fees from a kept legacy frame.

    `frame` holds the legacy contract's canonical columns plus ``claim_id``
    and ``date``; `rows` the 1-based delivered row number of each row.
    Returns the frames by Delivery field and the reports of the derived files.
    """
    claims = pd.DataFrame({"kpr_id": frame["kpr_id"], "claim_id": frame["claim_id"],
                           "year": frame["date"].dt.year, "date": frame["date"],
                           "service_type": "Ukjent"})
    for extra in ("ncrp_codes",):
        if extra in frame:
            claims[extra] = frame[extra]
    out: dict[str, pd.DataFrame] = {}
    reports: list[ValidationReport] = []
    claims_ledger = Ledger(f"{file} [claims]", kpr_kuhr.CLAIMS.name, len(claims), rows)
    claims_ledger.repair("month_only", "date", np.ones(len(claims), bool),
                         "MNED gives the month only; date set to the 1st")
    claims_ledger.repair("no_service_type", "service_type", np.ones(len(claims), bool),
                         "legacy extract has no service type; set to 'Ukjent'")
    c = _finish_required(claims, kpr_kuhr.CLAIMS, claims_ledger)
    out["kuhr_claims"] = c[0]
    reports.append(c[1])
    parts = (("codes", "code", kpr_kuhr.DIAGNOSES, "kuhr_diagnoses"),
             ("fee_codes", "fee_code", kpr_kuhr.FEES, "kuhr_fees"))
    for src, dest, contract, field in parts:
        if src not in frame or frame[src].isna().all():
            continue
        long = _explode(frame, src, rows)
        long = long.rename(columns={"code": dest})
        long["year"] = long["claim_id"].map(
            dict(zip(claims["claim_id"], claims["year"], strict=True)))
        if contract is kpr_kuhr.DIAGNOSES:
            long["is_main"] = (long["position"] == 1).astype("int64")
        else:
            long = long.drop(columns=["system", "position"])
        ledger = Ledger(f"{file} [{contract.file}]", contract.name, len(long),
                        long["row"].to_numpy())
        canon = to_canonical(long.drop(columns=["row"]), contract, ledger)
        keep, rep = ledger.finish()
        out[field] = canon.loc[keep].reset_index(drop=True)
        reports.append(rep)
    return out, reports


#: The claims contract without the columns the legacy extract never has.
_CLAIMS_VIEW = replace(kpr_kuhr.CLAIMS, columns=tuple(
    replace(c, required=False) if c.name in ("birth_year", "municipality") else c
    for c in kpr_kuhr.CLAIMS.columns))


def _finish_required(claims: pd.DataFrame, contract: object,
                     ledger: Ledger) -> tuple[pd.DataFrame, ValidationReport]:
    canon = to_canonical(claims, _CLAIMS_VIEW, ledger)
    keep, rep = ledger.finish()
    return canon.loc[keep].reset_index(drop=True), rep
