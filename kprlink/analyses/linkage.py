"""Analysis steps on how the cohort's persons were linked (issue 15).

``cohort_by_link_method``: cohort persons by link method (key file, model, one
register only) and sex. The runner adds it to a study with a ``[linkage]``
table, so the report shows persons by link method through the same joint
protection as every other table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kprlink.analyses._context import StudyContext, sex_label
from kprlink.analyses._registry import AnalysisTable, register

#: link_method codes to the labels a table shows, in display order
LINK_LABELS = {"key": "key file", "model": "probabilistic model",
               "none": "one register only"}
SEXES = ["female", "male"]


def link_method(persons: pd.DataFrame) -> pd.Series:
    """``link_method`` of a cohort; a key-only cohort has none: "key" where both ids are
    present, else "none"."""
    if "link_method" in persons.columns:
        return persons["link_method"].astype("string")
    both = persons["kpr_id"].notna() & persons["npr_id"].notna()
    return pd.Series(np.where(both.to_numpy(bool), "key", "none"), index=persons.index,
                     dtype="string")


@register("cohort_by_link_method", cohort_persons_only=True)
def cohort_by_link_method(ctx: StudyContext) -> AnalysisTable:
    """Cohort persons by link method and sex."""
    persons = ctx.cohort()
    method = link_method(persons).map(LINK_LABELS).astype("string")
    sex = sex_label(persons["sex"])
    unknown = sex.isna()
    df = pd.DataFrame({"person_id": persons["person_id"], "link_method": method,
                       "sex": sex})[~unknown.to_numpy(bool)]
    return AnalysisTable.from_persons(
        df, {"link_method": list(LINK_LABELS.values()), "sex": SEXES},
        excluded={"unknown sex": int(unknown.sum())},
        notes=("Cohort persons by how their KPR and NPR records were joined: through the "
               "key file, by the probabilistic model (persons the key file misses), or not "
               "at all (records in one register only)."))
