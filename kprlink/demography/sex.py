"""Register sex codes (1 male, 2 female) as the labels tables and figures show."""

from __future__ import annotations

import pandas as pd

from kprlink.exceptions import MissingColumnsError

__all__ = ["SEX_CODES", "add_sex_label", "sex_labels"]

#: Register sex codes (KPR, NPR, SSB) to the population table's labels.
SEX_CODES = {1: "male", 2: "female"}
_LABELS = ["female", "male"]


def sex_labels(values: pd.Series) -> pd.Series:
    """Sex as an ordered categorical ``female``/``male``: codes 1/2 are labelled,
    labels are kept; anything else is NA.

    Examples
    --------
    >>> sex_labels(pd.Series([1, 2, None], dtype="Int8")).tolist()
    ['male', 'female', nan]
    >>> sex_labels(pd.Series(["female", "male"])).tolist()
    ['female', 'male']
    """
    text = values.astype("string").str.strip().str.lower()
    text = text.replace({str(k): v for k, v in SEX_CODES.items()})
    return pd.Series(pd.Categorical(text.where(text.isin(_LABELS)).astype(object),
                                    categories=_LABELS), index=values.index)


def add_sex_label(df: pd.DataFrame, *, sex_col: str = "sex",
                  out_col: str | None = None) -> pd.DataFrame:
    """Label register sex codes (cohort ``sex`` 1/2) as ``male``/``female``.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows with a sex column (codes 1/2 or labels). Not modified.
    sex_col : str, default "sex"
        The column with the codes.
    out_col : str, optional
        Column to write; default `sex_col` itself (the codes are replaced).

    Returns
    -------
    pandas.DataFrame
        A copy with `out_col` an ordered categorical (``female``, ``male``),
        the labels of the SSB population table, so cells merge with
        denominators; figures show them as Women/Men.

    Raises
    ------
    MissingColumnsError
        If `sex_col` is missing.

    Examples
    --------
    >>> cohort = pd.DataFrame({"person_id": [1, 2], "sex": pd.array([2, 1], dtype="Int64")})
    >>> add_sex_label(cohort)["sex"].tolist()
    ['female', 'male']
    """
    MissingColumnsError.require(df, [sex_col], "add_sex_label")
    return df.assign(**{out_col or sex_col: sex_labels(df[sex_col])})
