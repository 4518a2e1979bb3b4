"""Analysis steps on how the cohort's persons were linked (issue 15).

``cohort_by_link_method``: cohort persons by link method (key file, model, one
register only) and sex. The runner adds it to a study with a ``[linkage]``
table, so the report shows persons by link method through the same joint
protection as every other table.

``linkage_reliability``: the reliability of the match probabilities, as counts:
held-out candidate pairs by probability bin and whether the key pairs them. The
runner adds it to a study with model links, so the reliability figure is drawn
from protected counts (its share of key pairs per bin is the observed precision).
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


#: the pair classes of the reliability table, in display order
PAIRS = ["key pair", "other pair"]


@register("linkage_reliability", cohort_persons_only=True)
def linkage_reliability(ctx: StudyContext) -> AnalysisTable:
    """Held-out candidate pairs by match-probability bin and key status.

    The bins are those of the model's reliability table (the measuring half of the
    held-out key pairs, raw probabilities, pairs scored >= 0.05); ``share_pct`` of
    the key pairs in a bin is its observed precision. A cohort without model links
    (or a model without held-out pairs) gives a table of zeros.
    """
    model = ctx.linkage_model()
    cal = getattr(model, "calibration", None)
    raw = (cal[cal["kind"] == "raw"] if cal is not None and len(cal)
           else pd.DataFrame({"bin_lo": np.linspace(0.05, 0.905, 10),
                              "bin_hi": np.linspace(0.145, 1.0, 10), "n": 0.0,
                              "observed": 0.0}))
    labels = [f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(raw["bin_lo"], raw["bin_hi"])]
    n = raw["n"].to_numpy(float)
    key = np.rint(n * np.nan_to_num(raw["observed"].to_numpy(float))).astype("int64")
    cells = pd.DataFrame({"match_probability": np.repeat(labels, 2),
                          "pair": PAIRS * len(labels),
                          "n": np.column_stack([key, n.astype("int64") - key]).ravel()})
    return AnalysisTable(
        cells, ("match_probability", "pair"), share_within="pair",
        notes=("Reliability of the match probabilities: candidate pairs of held-out keyed "
               "persons (linked as if the key were missing, measured on the half not used "
               "to calibrate) by their probability, and whether the key file pairs them. "
               "The share of key pairs in a bin is the observed precision; a well "
               "calibrated model has it near the bin's probability."))
