"""NPR wide diagnosis and procedure columns made long (internal).

``tilstand_<n>_<k>`` becomes one row per code: condition ``n`` (1 = main),
slot ``k`` (1, 2: the two codes of a dagger/asterisk pair stay on one condition
number). ``ncsp_<i>``/``ncmp_<i>``/``ncrp_<i>`` become one row per procedure.
One pass per wide column (at most a few dozen), no per-row loops.
"""

from __future__ import annotations

import re

import pandas as pd

from kprlink.sources.canonical import STRING_DTYPE, normalise_codes
from kprlink.sources.npr import DIAGNOSIS_COLUMN_RE, PROCEDURE_COLUMN_RE

DIAGNOSIS_COLUMNS = ["episode_id", "npr_id", "condition", "slot", "code",
                     "code_original", "code_valid", "is_main"]
PROCEDURE_COLUMNS = ["episode_id", "npr_id", "system", "position", "code",
                     "code_original", "code_valid"]


def _pieces(episodes: pd.DataFrame, pattern: str) -> list[tuple[str, str, str, pd.Series]]:
    rx = re.compile(pattern, re.IGNORECASE)
    out = []
    for col in episodes.columns:
        m = rx.match(str(col))
        if m:
            out.append((col, m.group(1), m.group(2), episodes[col]))
    return out


def _long(episodes: pd.DataFrame, pattern: str, a: str, b: str) -> pd.DataFrame:
    frames = []
    for _col, g1, g2, values in _pieces(episodes, pattern):
        txt = values.astype(STRING_DTYPE).str.strip()
        keep = (txt.notna() & (txt != "")).to_numpy(bool)
        if not keep.any():
            continue
        frames.append(pd.DataFrame({
            "episode_id": episodes["episode_id"].to_numpy()[keep],
            "npr_id": episodes["npr_id"].to_numpy()[keep],
            a: g1, b: int(g2), "raw": txt.to_numpy()[keep],
        }))
    if not frames:
        return pd.DataFrame({"episode_id": pd.Series(dtype="Int64"),
                             "npr_id": pd.Series(dtype="Int64"),
                             a: pd.Series(dtype="object"), b: pd.Series(dtype="int64"),
                             "raw": pd.Series(dtype=STRING_DTYPE)})
    return pd.concat(frames, ignore_index=True)


def npr_diagnoses_long(episodes: pd.DataFrame) -> pd.DataFrame:
    """Long diagnoses of canonical `episodes` that still hold ``tilstand_n_k``.

    >>> ep = pd.DataFrame({"episode_id": [1, 2], "npr_id": [7, 8],
    ...                    "tilstand_1_1": ["G30.1", "S72.0"], "tilstand_1_2": ["F00.1", None],
    ...                    "tilstand_2_1": [None, "F03"]})
    >>> npr_diagnoses_long(ep)[["episode_id", "condition", "slot", "code"]].values.tolist()
    [[1, 1, 1, 'G301'], [1, 1, 2, 'F001'], [2, 1, 1, 'S720'], [2, 2, 1, 'F03']]
    """
    df = _long(episodes, DIAGNOSIS_COLUMN_RE, "condition", "slot")
    df["condition"] = pd.to_numeric(df["condition"]).astype("Int16")
    df["slot"] = df["slot"].astype("Int16")
    norm = normalise_codes(df["raw"], system="ICD-10")
    out = pd.DataFrame({
        "episode_id": df["episode_id"].astype("Int64"),
        "npr_id": df["npr_id"].astype("Int64"),
        "condition": df["condition"], "slot": df["slot"],
        "code": norm["code"], "code_original": norm["original"],
        "code_valid": norm["valid"],
        "is_main": (df["condition"] == 1).astype("boolean"),
    })
    out = out.sort_values(["episode_id", "condition", "slot"], kind="stable")
    return out.reset_index(drop=True)[DIAGNOSIS_COLUMNS]


def npr_procedures_long(episodes: pd.DataFrame) -> pd.DataFrame:
    """Long procedures (NCSP/NCMP/NCRP) of canonical `episodes`.

    >>> ep = pd.DataFrame({"episode_id": [1], "npr_id": [7], "ncsp_1": ["NFB 49"],
    ...                    "ncmp_1": [None]})
    >>> npr_procedures_long(ep)[["system", "position", "code"]].values.tolist()
    [['NCSP', 1, 'NFB49']]
    """
    df = _long(episodes, PROCEDURE_COLUMN_RE, "system", "position")
    system = df["system"].astype("object").str.upper()
    norm = normalise_codes(df["raw"], system=system)
    out = pd.DataFrame({
        "episode_id": df["episode_id"].astype("Int64"),
        "npr_id": df["npr_id"].astype("Int64"),
        "system": pd.Categorical(system, categories=["NCMP", "NCRP", "NCSP"]),
        "position": df["position"].astype("Int16"),
        "code": norm["code"], "code_original": norm["original"],
        "code_valid": norm["valid"],
    })
    out = out.sort_values(["episode_id", "system", "position"], kind="stable")
    return out.reset_index(drop=True)[PROCEDURE_COLUMNS]


def wide_columns(episodes: pd.DataFrame) -> list[str]:
    """The wide diagnosis and procedure columns of `episodes`."""
    return [c for c, *_ in _pieces(episodes, DIAGNOSIS_COLUMN_RE)] + [
        c for c, *_ in _pieces(episodes, PROCEDURE_COLUMN_RE)]
