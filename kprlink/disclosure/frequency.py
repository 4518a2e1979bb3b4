"""Frequency tables from microdata: inner cells (optionally with all margins)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from kprlink.disclosure._model import build_model
from kprlink.exceptions import DisclosureError, MissingColumnsError, Problem


def frequency_table(
    microdata: pd.DataFrame,
    dims: Sequence[str],
    *,
    person_col: str | None = None,
    count_col: str = "n",
    hierarchies: Mapping[str, Mapping[object, object]] | None = None,
    margins: bool = False,
) -> pd.DataFrame:
    """Count rows (or unique persons) per combination of `dims`.

    Every combination of the observed codes (all categories of a categorical) is
    present, zeros included, so a zero cell can be protected.

    Parameters
    ----------
    microdata : pandas.DataFrame
        One row per event or person. Not modified.
    dims : sequence of str
        Classification columns.
    person_col : str, optional
        Count unique values of this column (persons) instead of rows (contacts).
        Each person must fall in one inner cell, or the margins would not add up.
    count_col : str, default "n"
        Name of the count column.
    hierarchies : mapping, optional
        ``{dim: {child: parent}}``; used with ``margins=True``.
    margins : bool, default False
        Return the full table with every margin (``Total`` and hierarchy levels)
        instead of the inner cells.

    Returns
    -------
    pandas.DataFrame
        dims and `count_col`. ``attrs["excluded"]`` counts rows left out because a
        dimension was missing.

    Raises
    ------
    MissingColumnsError
        If a column is absent.
    DisclosureError
        If, with `person_col`, a person falls in several inner cells
        (``err.problems`` says how many).

    Examples
    --------
    >>> events = pd.DataFrame({"pid": [1, 1, 2, 3], "sex": list("FFFM"),
    ...                        "kind": ["gp", "gp", "gp", "er"]})
    >>> frequency_table(events, ["sex", "kind"], person_col="pid")["n"].tolist()
    [0, 2, 1, 0]
    """
    dims = list(dims)
    need = dims + ([person_col] if person_col else [])
    missing = [c for c in need if c not in microdata.columns]
    if missing:
        raise MissingColumnsError(
            f"frequency_table() needs column(s) {missing}; columns are "
            f"{list(microdata.columns)}.", missing=missing)
    if not dims:
        raise DisclosureError("frequency_table(): dims is empty.", ["give at least one dim"])
    na = microdata[dims].isna().any(axis=1)
    data = microdata.loc[~na, need]
    levels = []
    for d in dims:
        col = data[d]
        if isinstance(col.dtype, pd.CategoricalDtype):
            levels.append(list(col.cat.categories))
        else:
            levels.append(sorted(pd.unique(col)))
    full = pd.MultiIndex.from_product(levels, names=dims)
    if person_col is None:
        counts = data.groupby(dims, observed=True).size()
    else:
        per = data.drop_duplicates()
        n_cells = per.groupby(person_col).size()
        multi = int((n_cells > 1).sum())
        if multi:
            raise DisclosureError(
                "frequency_table(): persons fall in several cells; margins of unique "
                "persons would not be sums of cells.",
                [Problem("microdata", person_col, "person_in_several_cells",
                         f"{multi:,} person(s) fall in more than one cell", (), multi,
                         "Assign each person to one cell (e.g. first contact), or count "
                         "contacts (person_col=None).")])
        counts = per.groupby(dims, observed=True)[person_col].nunique()
    counts.index = pd.MultiIndex.from_tuples(
        [k if isinstance(k, tuple) else (k,) for k in counts.index], names=dims)
    out = counts.reindex(full, fill_value=0).astype("int64").rename(count_col).reset_index()
    for d in dims:
        if isinstance(microdata[d].dtype, pd.CategoricalDtype):
            out[d] = pd.Categorical(out[d], categories=microdata[d].cat.categories,
                                    ordered=microdata[d].cat.ordered)
    if margins:
        model = build_model(out, dims, hierarchies=hierarchies)
        values = np.array([out[count_col].to_numpy()[m].sum() for m in model.inner_of_cell],
                          dtype=np.int64)
        out = model.cells[dims].copy()
        out[count_col] = values
    out.attrs["excluded"] = {"missing_dim": int(na.sum())}
    return out
