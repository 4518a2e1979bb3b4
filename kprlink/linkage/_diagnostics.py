"""What a probabilistic linkage leaves uncertain: ambiguous links and missed links.

* **Ambiguous**: a model link whose runner-up candidate (another partner of either
  record) has a match weight within `margin_bits` of the link's own: the two are
  nearly as likely, and the link could as well be the other pair.
* **Expected missed links**: of the records the model had to link (no key), the
  expected number with a partner is the sum over their candidate pairs of the match
  probabilities (at most 1 per record); the expected true links among those found
  are the sum of their probabilities. The difference
  is the expected number of persons who have a partner but were not linked; a
  second estimate scales the found links by the held-out recall (it also counts
  partners blocking never paired; the first only those among the candidates).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: a runner-up within this many bits (a Bayes factor of 4) makes a link ambiguous
AMBIGUITY_BITS = 2.0


def runner_up_weight(links: pd.DataFrame, candidates: pd.DataFrame) -> np.ndarray:
    """Per link, the highest weight of a candidate sharing one of its records but not
    both (-inf without one).

    Examples
    --------
    >>> links = pd.DataFrame({"left_id": [1, 2], "right_id": [10, 20], "match_weight": [9.0, 8]})
    >>> cand = pd.DataFrame({"left_id": [1, 1, 2, 3], "right_id": [10, 11, 20, 20],
    ...                      "match_weight": [9.0, 8.0, 8.0, 1.0]})
    >>> runner_up_weight(links, cand).tolist()
    [8.0, 1.0]
    """
    best = np.full(len(links), -np.inf)
    if not len(links) or not len(candidates):
        return best
    link_key = pd.MultiIndex.from_frame(links[["left_id", "right_id"]])
    c = candidates[~pd.MultiIndex.from_frame(candidates[["left_id", "right_id"]])
                   .isin(link_key)]
    for side in ("left_id", "right_id"):
        top = c.groupby(side)["match_weight"].max()
        got = top.reindex(links[side].to_numpy()).to_numpy(float)
        best = np.fmax(best, np.nan_to_num(got, nan=-np.inf))
    return best


def flag_ambiguous(links: pd.DataFrame, candidates: pd.DataFrame, *,
                   margin_bits: float = AMBIGUITY_BITS) -> np.ndarray:
    """True for model links with a runner-up within `margin_bits` of their weight."""
    model = (links["source"] == "model").to_numpy(bool)
    out = np.zeros(len(links), dtype=bool)
    if model.any():
        ru = runner_up_weight(links[model], candidates)
        out[model] = ru >= links.loc[model, "match_weight"].to_numpy(float) - margin_bits
    return out


def expected_missed(links: pd.DataFrame, info: dict[str, object],
                    validation: pd.DataFrame | None,
                    candidates: pd.DataFrame | None = None) -> dict[str, float]:
    """``expected_true_model_links`` (sum of p), ``expected_false_model_links`` (sum of
    1 - p), ``expected_partners`` and ``expected_missed_links`` from it;
    ``expected_missed_links_holdout`` from the held-out recall (NaN where a figure is
    missing).

    ``expected_partners`` sums, per left record, the probabilities of all its
    candidate pairs (at most 1), when `candidates` are given; otherwise the partner
    share times the records to link."""
    p = links.loc[links["source"] == "model", "match_probability"].to_numpy(float)
    found = float(p.sum())
    out = {"expected_true_model_links": found,
           "expected_false_model_links": float((1 - p).sum())}
    rho, n = info.get("partner_share"), info.get("n_left_unlabelled")
    partners = float(rho) * float(n) if rho is not None and n is not None else np.nan  # type: ignore[arg-type]
    if candidates is not None and len(candidates):
        per_left = candidates.groupby("left_id")["match_probability"].sum()
        partners = float(np.minimum(per_left.to_numpy(float), 1.0).sum())
    out["expected_partners"] = partners
    out["expected_missed_links"] = max(partners - found, 0.0) if partners == partners else np.nan
    recall = (float(validation["recall_other_half"].iloc[0])
              if validation is not None and "recall_other_half" in validation else np.nan)
    out["expected_missed_links_holdout"] = (found / recall - found
                                            if recall == recall and recall > 0 else np.nan)
    return out
