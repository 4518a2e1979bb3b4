"""From delivered columns to the canonical schema: names, dtypes, codes.

:func:`to_canonical` maps aliases to canonical names, converts every column to
its canonical dtype (see :mod:`kprlink.sources._contract`), turns missing codes
into ``<NA>``, checks value sets and ranges and normalises codes
(:func:`normalise_codes`). Bad values are recorded in a ledger (repaired or
excluded, see :mod:`kprlink.sources.validation`), never dropped silently.
All work is column-wise (vectorised); there are no per-row Python loops.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kprlink.sources._contract import Column, Contract, alias_key
from kprlink.sources._distinct import distinct_key, on_distinct
from kprlink.sources._text import (  # noqa: F401  (CODE_PATTERNS, normalise_codes re-exported)
    CODE_PATTERNS, STRING_DTYPE, _as_string, normalise_codes)
from kprlink.sources.validation import Ledger

__all__ = ["normalise_codes", "to_canonical", "CODE_PATTERNS", "STRING_DTYPE"]

_INT_DTYPES = {"int": "Int64", "small": "Int16"}
_DTYPE_LIMITS = {"small": (-32768, 32767), "int": (-(2**62), 2**62)}
_BOOL_WORDS = {"1": True, "0": False, "true": True, "false": False, "ja": True,
               "nei": False, "j": True, "n": False, "yes": True, "no": False}
#: Value recodes for category columns, by canonical column name (after key()).
_CATEGORY_RECODE: dict[str, dict[str, str]] = {
    "population.sex": {"1": "male", "2": "female", "menn": "male", "mann": "male",
                       "kvinner": "female", "kvinne": "female", "m": "male",
                       "k": "female", "f": "female", "beggekjonn": "total",
                       "beggekjønn": "total", "0": "total"},
}
_MONTHLY_HOURS = {"timerpermaaned", "timerpermaned", "timerprmnd", "timermaaned",
                  "timerpermnd"}



def _numeric(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Numbers of a column (Float64) and the mask of unparseable values."""
    if pd.api.types.is_bool_dtype(s.dtype):
        s = s.astype("Int64")
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype("Float64"), np.zeros(len(s), dtype=bool)
    txt = _as_string(s).str.strip()
    txt = txt.mask(txt == "")
    num = pd.to_numeric(txt.str.replace(",", ".", regex=False), errors="coerce")
    num = num.astype("Float64")
    bad = (txt.notna() & num.isna()).to_numpy(bool)
    return num, bad


def _flag(ledger: Ledger, col: Column, mask: np.ndarray, reason: str, what: str,
          hint: str) -> None:
    if col.required:
        ledger.exclude(reason, col.name, mask, f"{what} in required column", hint)
    else:
        ledger.repair(reason, col.name, mask, f"{what}; set to <NA>", hint)


def _convert_number(s: pd.Series, col: Column, ledger: Ledger) -> pd.Series:
    if col.dtype in _INT_DTYPES and pd.api.types.is_integer_dtype(s.dtype):
        fast = _convert_int(s, col, ledger)
        if fast is not None:
            return fast
    num, bad = _numeric(s)
    if col.missing_codes:
        codes = [float(c) for c in col.missing_codes if _is_number(c)]
        num = num.mask(_isin(num, codes))
    if col.dtype in _INT_DTYPES:
        frac = (num.round() != num).fillna(False).to_numpy(bool)
        lo, hi = _DTYPE_LIMITS[col.dtype]
        over = ((num < lo) | (num > hi)).fillna(False).to_numpy(bool)
        bad = bad | frac | over
    _flag(ledger, col, bad, "bad_number", "value is not a valid number",
          "Check the column's format (digits only; decimal point for fractions).")
    num = num.mask(bad)
    if col.values is not None:
        allowed = [float(v) for v in col.values if _is_number(v)]
        out = num.notna().to_numpy(bool) & ~_isin(num, allowed)
        reason = "unknown_service_code" if col.name == "service_code" else "invalid_value"
        _flag(ledger, col, out, reason,
              f"value outside the allowed set {sorted(col.values, key=str)}",
              "See docs/formats.md for the value set.")
        num = num.mask(out)
    if col.value_range is not None:
        lo, hi = col.value_range
        out = ((num < lo) | (num > hi)).fillna(False).to_numpy(bool)
        reason = "hours_over_168" if col.name == "hours_per_week" else "out_of_range"
        _flag(ledger, col, out, reason, f"value outside {lo:g}–{hi:g}",
              "Check the unit (e.g. hours per month instead of per week).")
        num = num.mask(out)
    if col.dtype in _INT_DTYPES:
        return num.round().astype(_INT_DTYPES[col.dtype])
    return num.astype("float64")


def _convert_int(s: pd.Series, col: Column, ledger: Ledger) -> pd.Series | None:
    """:func:`_convert_number` of an integer column in int64 arithmetic, no float copy
    (the same checks, flags and result); None where a value is beyond 2**53."""
    arr = pd.array(s, copy=False)
    v = np.asarray(arr.to_numpy(np.int64, na_value=0) if hasattr(arr, "isna")
                   else arr, dtype=np.int64)
    na = np.array(pd.isna(arr), dtype=bool)
    if len(v) and max(abs(int(v.min())), abs(int(v.max()))) >= 1 << 53:
        return None
    for code in col.missing_codes:
        if _is_number(code):
            na |= v == code
    lo, hi = _DTYPE_LIMITS[col.dtype]
    bad = ~na & ((v < lo) | (v > hi))
    _flag(ledger, col, bad, "bad_number", "value is not a valid number",
          "Check the column's format (digits only; decimal point for fractions).")
    na |= bad
    if col.values is not None:
        allowed = [float(x) for x in col.values if _is_number(x)]
        out = ~na & ~np.isin(v, allowed)
        reason = "unknown_service_code" if col.name == "service_code" else "invalid_value"
        _flag(ledger, col, out, reason,
              f"value outside the allowed set {sorted(col.values, key=str)}",
              "See docs/formats.md for the value set.")
        na |= out
    if col.value_range is not None:
        lo, hi = col.value_range
        out = ~na & ((v < lo) | (v > hi))
        reason = "hours_over_168" if col.name == "hours_per_week" else "out_of_range"
        _flag(ledger, col, out, reason, f"value outside {lo:g}–{hi:g}",
              "Check the unit (e.g. hours per month instead of per week).")
        na |= out
    dtype = np.int64 if _INT_DTYPES[col.dtype] == "Int64" else np.int16
    return pd.Series(pd.arrays.IntegerArray(np.where(na, 0, v).astype(dtype), na),
                     index=s.index)


def _isin(num: pd.Series, values: list[float]) -> np.ndarray:
    """``num.isin(values)`` as a numpy mask; NA is False. Fast for short lists."""
    arr = num.to_numpy(dtype="float64", na_value=np.nan)
    if len(values) > 8:
        return np.isin(arr, values)
    out = np.zeros(len(arr), dtype=bool)
    for v in values:
        out |= arr == v
    return out


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _convert_str(s: pd.Series, col: Column) -> pd.Series:
    txt = _as_string(s)
    if isinstance(txt.array, pd.arrays.ArrowStringArray):  # Arrow kernels on the buffers
        return pd.Series(pd.arrays.ArrowStringArray(_str_arrow(txt.array.__arrow_array__(),
                                                               col)), index=s.index)
    return on_distinct(lambda pos: _str_rows(txt.iloc[pos].reset_index(drop=True), col),
                       distinct_key(txt), s.index)


def _str_arrow(arr: pa.ChunkedArray, col: Column) -> pa.ChunkedArray:
    """:func:`_str_rows` with Arrow compute kernels (the same regular expressions: pandas
    runs its Arrow strings' ``str`` methods on these kernels)."""
    txt = pc.utf8_trim_whitespace(arr)
    miss = pa.array([str(c) for c in col.missing_codes] + [""], type=txt.type)
    txt = pc.if_else(pc.is_in(txt, value_set=miss), pa.scalar(None, txt.type), txt)
    pad = (r"^\d{3}$" if "municipality" in col.name
           else r"^\d{5}$" if col.name == "district" else None)
    if pad is not None:
        short = pc.fill_null(pc.match_substring_regex(txt, pad), False)
        txt = pc.if_else(short, pc.binary_join_element_wise(pa.scalar("0", txt.type), txt,
                                                            pa.scalar("", txt.type)), txt)
    return txt


def _str_rows(txt: pd.Series, col: Column) -> pd.Series:
    txt = txt.str.strip()
    miss = [str(c) for c in col.missing_codes] + [""]
    txt = txt.mask(txt.isin(miss))
    if "municipality" in col.name:
        txt = txt.mask(txt.str.fullmatch(r"\d{3}").fillna(False), "0" + txt)
    if col.name == "district":
        txt = txt.mask(txt.str.fullmatch(r"\d{5}").fillna(False), "0" + txt)
    return txt


def _convert_category(s: pd.Series, col: Column, ledger: Ledger,
                      contract: Contract) -> pd.Series:
    txt = _convert_str(s, col)
    if col.values is None:
        return txt.astype("category")
    canon = {alias_key(v): v for v in col.values}
    canon.update(_CATEGORY_RECODE.get(f"{contract.source}.{col.name}", {}))
    codes, uniq = pd.factorize(txt, use_na_sentinel=True)
    cats = sorted(col.values)
    position = {c: i for i, c in enumerate(cats)}
    lookup = [canon.get(alias_key(u), canon.get(u)) for u in uniq]
    # Category code of each distinct value (-1: unknown), then of each row.
    ucode = np.array([position.get(v, -1) if v is not None else -1 for v in lookup] + [-1],
                     dtype=np.int64)
    row_code = ucode[codes]  # codes == -1 (missing) picks the trailing -1
    unknown = (codes >= 0) & (row_code < 0)
    reason = "unknown_service_code" if col.name == "service_code" else "invalid_value"
    _flag(ledger, col, unknown, reason,
          f"value outside the allowed set {sorted(col.values)}",
          "See docs/formats.md for the value set.")
    return pd.Series(pd.Categorical.from_codes(row_code, dtype=pd.CategoricalDtype(cats)),
                     index=s.index)


def _convert_date(s: pd.Series, col: Column, ledger: Ledger) -> tuple[pd.Series, pd.Series]:
    """Dates (datetime64[ns], day precision) and the time of day where given."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        ts = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        bad = np.zeros(len(s), dtype=bool)
        lo, hi = pd.Timestamp("1800-01-01"), pd.Timestamp("2262-01-01")
        out = ((ts < lo) | (ts > hi)).fillna(False).to_numpy(bool)
        ts = ts.mask(out)
        bad |= out
        parsed = ts.astype("datetime64[ns]")
    else:
        txt = _as_string(s).str.strip()
        txt = txt.mask(txt == "")
        # Fast path in Arrow for clean ISO dates; pandas for the rest.
        arr = txt.astype(STRING_DTYPE).array.__arrow_array__()  # ChunkedArray, no copy
        try:  # Arrow's ISO-8601 cast checks the calendar, but fails as a whole
            fast = pc.cast(arr, pa.timestamp("s"))
            parsed = pd.Series(fast.to_pandas(), index=s.index, dtype="datetime64[s]")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            parsed = pd.Series(pd.NaT, index=s.index, dtype="datetime64[s]")
        inside = (parsed >= pd.Timestamp("1800-01-01")) & (parsed < pd.Timestamp("2262-01-01"))
        parsed = parsed.where(inside).astype("datetime64[ns]")
        todo = (txt.notna() & parsed.isna()).to_numpy(bool)
        if todo.any():
            parsed[todo] = pd.to_datetime(txt[todo], format="ISO8601", errors="coerce")
        for fmt in ("%d.%m.%Y", "%Y%m%d", "%d%b%Y"):
            todo = (txt.notna() & parsed.isna()).to_numpy(bool)
            if not todo.any():
                break
            parsed[todo] = pd.to_datetime(txt[todo], format=fmt, errors="coerce")
        bad = (txt.notna() & parsed.isna()).to_numpy(bool)
        parsed = parsed.astype("datetime64[ns]")
    _flag(ledger, col, bad, "bad_date", "value is not a valid date",
          "Dates should be YYYY-MM-DD (DD.MM.YYYY and YYYYMMDD are also read).")
    day = parsed.dt.normalize()
    has_time = (parsed.notna() & (parsed != day)).to_numpy(bool)
    time = pd.Series(pd.NA, index=s.index, dtype=STRING_DTYPE)
    if has_time.any():
        time[has_time] = parsed[has_time].dt.strftime("%H:%M").astype(STRING_DTYPE)
    return day, time


def _convert_time(s: pd.Series, col: Column, ledger: Ledger) -> pd.Series:
    txt = _as_string(s).str.strip()
    txt = txt.mask(txt == "")
    # Fast path: already HH:MM (arrow regex, no Python loop).
    plain = txt.str.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]").fillna(False).to_numpy(bool)
    out = txt.where(plain)
    rest = txt.notna().to_numpy(bool) & ~plain
    bad = np.zeros(len(s), dtype=bool)
    if rest.any():
        parts = txt[rest].str.extract(r"^(\d{1,2})[:.]?(\d{2})(?::\d{2}(?:\.\d+)?)?$")
        hh = pd.to_numeric(parts[0], errors="coerce")
        mm = pd.to_numeric(parts[1], errors="coerce")
        ok = ((hh <= 23) & (mm <= 59)).fillna(False).to_numpy(bool)
        fixed = (parts[0].str.zfill(2) + ":" + parts[1]).astype(STRING_DTYPE)
        idx = np.flatnonzero(rest)
        out.iloc[idx[ok]] = fixed[ok].to_numpy()
        bad[idx[~ok]] = True
    _flag(ledger, col, bad, "bad_time", "value is not a time of day",
          "Times should be HH:MM.")
    return out


def _convert_bool(s: pd.Series, col: Column, ledger: Ledger) -> pd.Series:
    miss = [float(c) for c in col.missing_codes if _is_number(c)]
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        # Numbers (Parquet, typed CSV): 1/0, missing codes <NA>, anything else bad.
        num, _ = _numeric(s)
        is_missing = _isin(num, miss)
        one, zero = _isin(num, [1.0]), _isin(num, [0.0])
        bad = num.notna().to_numpy(bool) & ~(one | zero | is_missing)
        _flag(ledger, col, bad, "invalid_value", "value is not 1/0 (yes/no)",
              "Booleans should be 1 (yes) or 0 (no); 9 = not reported.")
        return pd.Series(pd.arrays.BooleanArray(one, ~(one | zero)), index=s.index)
    txt = _as_string(s).str.strip().str.lower()
    txt = txt.mask(txt == "")
    num = pd.to_numeric(txt, errors="coerce")
    is_missing = num.isin(miss).fillna(False).to_numpy(bool)
    txt = txt.mask(num.notna(), num.astype("Float64").astype(STRING_DTYPE)
                   .str.replace(r"\.0$", "", regex=True))
    mapped = txt.map(_BOOL_WORDS, na_action="ignore")
    bad = (txt.notna() & mapped.isna()).to_numpy(bool) & ~is_missing
    _flag(ledger, col, bad, "invalid_value", "value is not 1/0 (yes/no)",
          "Booleans should be 1 (yes) or 0 (no); 9 = not reported.")
    return mapped.astype("boolean").mask(is_missing | bad)


def _na_column(col: Column, n: int, index: pd.Index) -> pd.Series:
    """An all-missing column of `col`'s canonical dtype (built from arrays, no casts)."""
    missing = np.ones(n, dtype=bool)
    if col.dtype == "category":
        cats = sorted(col.values) if col.values is not None else []
        return pd.Series(pd.Categorical.from_codes(np.full(n, -1, dtype=np.int8),
                                                   categories=cats), index=index)
    if col.dtype in ("str", "code", "time"):
        return pd.Series(pd.arrays.ArrowStringArray(pa.nulls(n, pa.large_string())),
                         index=index, dtype=STRING_DTYPE)
    if col.dtype in ("int", "small"):
        data = np.zeros(n, dtype=np.int64 if col.dtype == "int" else np.int16)
        return pd.Series(pd.arrays.IntegerArray(data, missing), index=index)
    if col.dtype == "bool":
        return pd.Series(pd.arrays.BooleanArray(np.zeros(n, dtype=bool), missing), index=index)
    if col.dtype == "date":
        return pd.Series(np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"), index=index)
    return pd.Series(np.full(n, np.nan), index=index)


def repeated_columns(contract: Contract, columns: Sequence[str]) -> list[str]:
    """Delivered columns that belong to a repeated wide group of `contract`."""
    pats = [re.compile(p, re.IGNORECASE) for p in contract.repeated.values()]
    return [c for c in columns if any(p.match(str(c)) for p in pats)]


def _refuse_conflicts(raw: pd.DataFrame, same: dict[str, list[str]], ledger: Ledger) -> None:
    """Two delivered columns for one field (``kpr_lnr`` and ``KPR_lnr``): fatal unless
    they hold the same values in every row (then the first is used)."""
    for name, cols in same.items():
        first = raw[cols[0]].astype("string").str.strip()
        differ = np.zeros(len(raw), dtype=bool)
        for other in cols[1:]:
            o = raw[other].astype("string").str.strip()
            differ |= ~((first == o).fillna(False) | (first.isna() & o.isna())).to_numpy(bool)
        if differ.any():
            rows, n = ledger.rows_of(differ)
            ledger.fail("conflicting_columns", name,
                        f"columns {cols} all name {name!r} and differ in {n:,} row(s) "
                        f"(rows {', '.join(map(str, rows))}); kprlink cannot tell which to use",
                        "Drop or rename all but the right one (ask the provider which it is).")


def to_canonical(raw: pd.DataFrame, contract: Contract, ledger: Ledger, *,
                 keep: Collection[str] | None = None) -> pd.DataFrame:
    """Convert a delivered frame to `contract`'s canonical schema.

    Missing required columns are recorded as fatal problems in `ledger` (the
    caller raises); row-level problems are recorded as repairs or exclusions.
    Absent optional columns are added as <NA>, so every frame of a contract has
    the same columns. Columns the contract does not know are kept at the end;
    repeated wide groups (NPR ``tilstand_n_k``) are kept as delivered. `keep` (a
    projected read, canonical names): absent columns not in it are left out (not
    built as <NA> only to be dropped).
    """
    wide = repeated_columns(contract, raw.columns)
    mapping = contract.resolve([c for c in raw.columns if c not in wide])
    _refuse_conflicts(raw, contract.same_field([c for c in raw.columns if c not in wide]),
                      ledger)
    by_canon = {v: k for k, v in mapping.items()}
    monthly = [c for c in raw.columns if alias_key(c) in _MONTHLY_HOURS]
    for name in contract.required:
        if name not in by_canon:
            col = contract.column(name)
            ledger.missing.append(name)
            ledger.fail("missing_column", name,
                        f"required column {name!r} not found (looked for "
                        f"{', '.join(repr(a) for a in col.all_names)})",
                        "Rename the column or add its name to the contract's aliases.")
    if ledger.fatal:
        return raw.iloc[:0]
    out: dict[str, pd.Series] = {}
    times: dict[str, pd.Series] = {}
    # Codes last: their validity depends on the (converted) system column.
    ordered = sorted(contract.columns, key=lambda c: c.dtype == "code")
    for col in ordered:
        src = by_canon.get(col.name)
        if src is None:
            if keep is not None and col.name not in keep:
                continue
            if col.name == "hours_per_week" and monthly:
                num, bad = _numeric(raw[monthly[0]])
                ledger.repair("hours_from_month", col.name, num.notna().to_numpy(bool),
                              f"hours per week computed as {monthly[0]!r} / 4")
                s = (num / 4).astype("Float64")
                out[col.name] = _convert_number(s, col, ledger)
                continue
            out[col.name] = _na_column(col, len(raw), raw.index)
            continue
        s = raw[src]
        if col.dtype in ("int", "small", "float"):
            conv = _convert_number(s, col, ledger)
            if col.name == "service_code":
                from kprlink.sources.kpr_ho import SERVICE_RECODE
                old = conv.isin(list(SERVICE_RECODE)).fillna(False).to_numpy(bool)
                ledger.repair("service_recoded", col.name, old,
                              "old service code recoded (12, 13 → 29)")
                conv = conv.replace({k: v for k, v in SERVICE_RECODE.items()})
                conv = conv.astype(_INT_DTYPES[col.dtype])
            out[col.name] = conv
        elif col.dtype == "str":
            out[col.name] = _convert_str(s, col)
        elif col.dtype == "category":
            out[col.name] = _convert_category(s, col, ledger, contract)
        elif col.dtype == "date":
            out[col.name], times[col.name] = _convert_date(s, col, ledger)
        elif col.dtype == "time":
            out[col.name] = _convert_time(s, col, ledger)
        elif col.dtype == "bool":
            out[col.name] = _convert_bool(s, col, ledger)
        elif col.dtype == "code":
            system = (out["system"].astype("object") if "system" in out else
                      (None if contract.source == "kpr_kuhr" else "ICD-10"))
            norm = normalise_codes(s, system=system, fee=(col.name == "fee_code"))
            missing = norm["code"].isna().to_numpy(bool)
            if col.required:
                ledger.exclude("missing_code", col.name, missing, "code is empty",
                               "Rows without a code cannot be used.")
            out[col.name] = norm["code"]
            out[f"{col.name}_original"] = norm["original"]
            out[f"{col.name}_valid"] = norm["valid"]
            bad = (norm["valid"] == False).fillna(False).to_numpy(bool)  # noqa: E712
            ledger.repair("invalid_code", col.name, bad,
                          "code does not have a valid shape; kept and flagged in "
                          f"{col.name}_valid", "Check the code system column.")
        if col.required and col.dtype != "code" and not col.missing_codes:
            # A required column whose contract knows no "unknown" code must have a
            # value; unparseable values were excluded above under their own reason.
            blank = s.isna().to_numpy(bool)
            if not (pd.api.types.is_numeric_dtype(s.dtype)
                    or pd.api.types.is_datetime64_any_dtype(s.dtype)):
                blank = _as_string(s).str.strip().fillna("").eq("").to_numpy(bool)
            ledger.exclude("missing_required", col.name,
                           blank & out[col.name].isna().to_numpy(bool),
                           "required value is missing",
                           "Rows without this value cannot be used.")
    if "time" in out and "date" in times and by_canon.get("time") is None:
        out["time"] = times["date"]
    order = []
    for col in contract.columns:
        order.append(col.name)
        if col.dtype == "code":
            order += [f"{col.name}_original", f"{col.name}_valid"]
    frame = pd.DataFrame({k: out[k] for k in order if k in out}, index=raw.index,
                         copy=False)
    used = set(by_canon.values()) | set(monthly)
    extras = [c for c in raw.columns if c not in used and c not in frame.columns]
    for c in extras:
        s = raw[c]
        frame[c] = _as_string(s) if s.dtype == object else s
    return frame
