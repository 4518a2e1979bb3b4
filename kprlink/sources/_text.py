"""Delivered text as Arrow strings, and diagnosis/fee code normalisation.

:func:`normalise_codes` strips dots, commas and spaces, upper-cases (fee codes
lower-case) and checks each code against its system's shape
(:data:`CODE_PATTERNS`), once per distinct (code, system) value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from kprlink.sources._distinct import distinct_key, on_distinct

STRING_DTYPE = pd.StringDtype("pyarrow")

#: Valid code shapes after normalisation, by code system.
CODE_PATTERNS: dict[str, str] = {
    # ICD-10 incl. Norwegian 5-character extensions (F0010).
    "ICD-10": r"^[A-Z][0-9]{2}[0-9A-Z]{0,2}$",
    # ICPC-2 symptom/diagnosis codes, or process codes -30 … -69.
    "ICPC-2": r"^(?:[A-Z][0-9]{2}|-[3-6][0-9])$",
    # ICPC-2B (beriket): 7 characters, e.g. P700006.
    "ICPC-2B": r"^[A-Z][0-9]{2}[0-9A-Z]{4}$",
    # Nordic procedure codes: NCSP NFB49, NCMP/NCRP four letters and two digits.
    "NCSP": r"^[A-Z]{3,4}[0-9]{2}[A-Z0-9]?$",
    "NCMP": r"^[A-Z]{3,4}[0-9]{2}[A-Z0-9]?$",
    "NCRP": r"^[A-Z]{3,4}[0-9]{2}[A-Z0-9]?$",
    "fee": r"^[0-9a-z]{1,10}$",
}
_GENERIC = r"^[0-9A-Z]{1,10}$"
_STRIP = r"[.,\s]"


def normalise_codes(values: pd.Series, *, system: str | pd.Series | None = "ICD-10",
                    fee: bool = False) -> pd.DataFrame:
    """Normalise diagnosis, procedure or fee codes and flag invalid shapes.

    Dots, spaces and commas are removed and the code upper-cased (fee codes
    lower-cased). ICPC-2 process codes ``-30`` … ``-69`` keep (or get) their
    leading dash. Nothing is dropped: an invalid code is kept and flagged.

    Parameters
    ----------
    values : pandas.Series
        Codes as delivered. Not modified.
    system : str, Series or None, default "ICD-10"
        Code system of every value (a Series aligned with `values` when it
        varies by row, like KUHR's ``diagnoseTabell``). Systems without a known
        pattern accept 1–10 letters/digits.
    fee : bool, default False
        Fee codes (takster): lower-case, pattern ``[0-9a-z]{1,10}``.

    Returns
    -------
    pandas.DataFrame
        Same index as `values`; columns ``code`` (normalised), ``original``
        (the delivered text where it differs, else <NA>) and ``valid``
        (boolean, <NA> where the code is missing).

    Examples
    --------
    >>> out = normalise_codes(pd.Series(["F00.1", "g30 1", "X"]))
    >>> out["code"].tolist(), out["valid"].tolist()
    (['F001', 'G301', 'X'], [True, True, False])
    >>> normalise_codes(pd.Series(["A.30", "30", "P70"]), system="ICPC-2")["code"].tolist()
    ['A30', '-30', 'P70']
    >>> normalise_codes(pd.Series(["2 AD", "11ak"]), fee=True)["code"].tolist()
    ['2ad', '11ak']
    """
    raw = _as_string(values)
    sys_ = None
    if not fee:
        sys_ = (pd.Series(system, index=values.index, dtype="object")
                if not isinstance(system, pd.Series) else system.astype("object"))
        sys_ = sys_.reindex(values.index)
    key = distinct_key(raw) if sys_ is None else distinct_key(raw, sys_)

    def rows(pos: np.ndarray) -> pd.DataFrame:
        return _normalise_rows(raw.iloc[pos].reset_index(drop=True),
                               None if sys_ is None else sys_.iloc[pos].reset_index(drop=True),
                               fee)

    return on_distinct(rows, key, values.index)


def _normalise_rows(raw: pd.Series, sys_: pd.Series | None, fee: bool) -> pd.DataFrame:
    """:func:`normalise_codes` on text `raw` (RangeIndex), row by row vectorised."""
    values = raw
    blank = raw.isna() | (raw.str.strip() == "")
    raw = raw.mask(blank)
    code = raw.str.replace(_STRIP, "", regex=True)
    code = code.str.lower() if fee else code.str.upper()
    if fee:
        valid = code.str.fullmatch(CODE_PATTERNS["fee"])
    else:
        assert sys_ is not None
        icpc = (sys_ == "ICPC-2").to_numpy(bool)
        if icpc.any():
            proc = code.str.fullmatch(r"-?[3-6][0-9]").fillna(False).to_numpy(bool) & icpc
            code = code.mask(proc, "-" + code.str.lstrip("-"))
        valid = pd.Series(pd.NA, index=values.index, dtype="boolean")
        for name in pd.unique(sys_.dropna().astype(str)):
            m = (sys_ == name).to_numpy(bool)
            valid[m] = code[m].str.fullmatch(CODE_PATTERNS.get(name, _GENERIC))
        rest = sys_.isna().to_numpy(bool)
        if rest.any():
            valid[rest] = code[rest].str.fullmatch(_GENERIC)
    valid = valid.astype("boolean").mask(code.isna())
    original = raw.where(raw != code)
    return pd.DataFrame({"code": code, "original": original, "valid": valid},
                        index=values.index)


def _as_string(s: pd.Series) -> pd.Series:
    """Text of a column as string[pyarrow]; floats that are whole become ints."""
    if isinstance(s.dtype, pd.StringDtype):
        return s.astype(STRING_DTYPE)
    if pd.api.types.is_float_dtype(s.dtype):
        vals = s.astype("Float64")
        whole = (vals.round() == vals).fillna(True).all()
        if whole:
            return vals.astype("Int64").astype(STRING_DTYPE)
    if pd.api.types.is_object_dtype(s.dtype):
        fast = _object_strings(s)
        if fast is not None:
            return fast
        s = s.map(lambda v: v.decode("latin-1") if isinstance(v, bytes) else v)
    return s.astype(STRING_DTYPE)


def _object_strings(s: pd.Series) -> pd.Series | None:
    """An object column of text (and missing values) as string[pyarrow], via Arrow.

    None when the column holds anything else (bytes, numbers, dates): those take
    the per-value path, which decodes bytes as latin-1 and writes other values
    as text.
    """
    try:
        arr = pa.array(s.to_numpy(dtype=object), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    if pa.types.is_null(arr.type):
        arr = pa.nulls(len(arr), pa.large_string())
    elif not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    return pd.Series(pd.arrays.ArrowStringArray(arr.cast(pa.large_string())),
                     index=s.index, dtype=STRING_DTYPE)
