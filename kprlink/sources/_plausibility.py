"""Plausibility checks beyond one row's values (internal): dates after the
delivery's extraction, and key-file pairs repeated or one-to-many.

Recorded in the file's :class:`~kprlink.sources.validation.Ledger` like every
other row-level decision, so they are counted by row in the report.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from kprlink.sources.validation import Ledger

__all__ = ["check_extraction", "check_key_pairs"]


#: Optional dates that may lie after the extraction (a planned end of a service).
_PLANNED = frozenset({"end_date"})


def check_extraction(df: pd.DataFrame, contract: object, ledger: Ledger,
                     extraction_date: dt.date | str | None) -> None:
    """Dates after the delivery's extraction date, recorded in ``ledger``.

    A required date (the event, a stay's start and end) after the extraction
    excludes the row (``after_extraction``); an optional one (death, decision,
    referral) is set to missing and the row counted as repaired. A service's
    planned end date may lie after the extraction and is not checked.
    """
    if extraction_date is None:
        return
    day = pd.Timestamp(extraction_date)
    for col in contract.columns:  # type: ignore[attr-defined]
        if col.dtype != "date" or col.name not in df.columns or col.name in _PLANNED:
            continue
        s = df[col.name]
        if not pd.api.types.is_datetime64_any_dtype(s.dtype):
            continue
        m = (s > day).fillna(False).to_numpy(bool)
        if not m.any():
            continue
        what = f"{col.name} is after the delivery's extraction date ({day:%Y-%m-%d})"
        if col.required:
            ledger.exclude("after_extraction", col.name, m, what,
                           "An event cannot be registered after the extraction: a date "
                           "error in the delivery; the row is not used.")
        else:
            df[col.name] = s.mask(m)
            ledger.repair("after_extraction", col.name, m, what,
                          "Set to missing in these rows; ask the provider.")


def check_key_pairs(df: pd.DataFrame, ledger: Ledger) -> None:
    """Key-file rows repeated (excluded) and keys paired with more than one key
    of the other register within one delivery (flagged, kept for linkage to report)."""
    if not {"npr_id", "kpr_id"} <= set(df.columns):
        return
    cols = ["npr_id", "kpr_id"] + (["delivery"] if "delivery" in df.columns else [])
    sub = df[cols]
    dup = sub.duplicated(keep="first").to_numpy(bool) & sub[["npr_id", "kpr_id"]].notna(
        ).all(axis=1).to_numpy(bool)
    ledger.exclude("duplicate_row", ",".join(cols), dup,
                   "the same key pair as an earlier row",
                   "The first row is kept; the repeats add nothing.")
    group = ["delivery"] if "delivery" in df.columns else []
    pairs = sub.loc[~dup]
    for key, other in (("npr_id", "kpr_id"), ("kpr_id", "npr_id")):
        n = pairs.groupby([*group, key], dropna=True, observed=True)[other].transform("nunique")
        many = np.zeros(len(df), dtype=bool)
        many[np.flatnonzero(~dup)] = (n > 1).fillna(False).to_numpy(bool)
        ledger.flag("one_to_many", key, many,
                    f"{key} is paired with more than one {other} in one delivery",
                    "Kept: linkage reports these pairs as conflicts (see "
                    "link_extracts diagnostics); ask the provider which pair holds.")
