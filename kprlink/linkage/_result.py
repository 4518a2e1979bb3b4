"""``ProbabilisticLinkResult``: what a probabilistic linkage run produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kprlink.exceptions import MissingColumnsError

if TYPE_CHECKING:
    from kprlink.linkage._spec import LinkageSpec


def _pairs(true_pairs: pd.DataFrame | pd.MultiIndex) -> pd.DataFrame:
    if isinstance(true_pairs, pd.MultiIndex):
        return pd.DataFrame({"left_id": true_pairs.get_level_values(0),
                             "right_id": true_pairs.get_level_values(1)})
    missing = sorted({"left_id", "right_id"} - set(true_pairs.columns))
    if missing:
        raise MissingColumnsError(
            f"evaluate() needs column(s) {missing} in `true_pairs`; columns are "
            f"{list(true_pairs.columns)}.", missing=missing)
    return true_pairs[["left_id", "right_id"]].reset_index(drop=True)


def _score(found: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    f = pd.MultiIndex.from_frame(found[["left_id", "right_id"]]).unique()
    t = pd.MultiIndex.from_frame(truth[["left_id", "right_id"]]).unique()
    tp = len(f.intersection(t))
    precision = tp / len(f) if len(f) else np.nan
    recall = tp / len(t) if len(t) else np.nan
    f1 = (2 * precision * recall / (precision + recall)
          if tp > 0 else (0.0 if len(f) and len(t) else np.nan))
    return {"n_links": len(f), "n_true": len(t), "tp": tp, "fp": len(f) - tp,
            "fn": len(t) - tp, "precision": precision, "recall": recall, "f1": f1}


@dataclass(frozen=True)
class ProbabilisticLinkResult:
    """Links, scored candidates and the fitted model of one linkage run.

    Attributes
    ----------
    links : pandas.DataFrame
        Accepted links: ``left_id``, ``right_id``, ``match_weight`` (log2 Bayes
        factor, prior excluded), ``match_probability`` (prior included),
        ``source`` ("key" for labelled pairs, "model" for links found by the
        model) and ``gamma_<comparison>`` levels (-1 = missing).
    candidates : pandas.DataFrame
        Every blocked pair of the model run with its weight and probability,
        so an analysis can use another threshold or weight by probability.
    model : pandas.DataFrame
        m, u and partial match weight per comparison level.
    blocking : pandas.DataFrame
        Pairs per blocking rule, and records excluded from a rule because a
        blocking column was missing.
    validation : pandas.DataFrame or None
        With labels: precision, recall and F1 measured on held-out keyed pairs.
    clusters : pandas.DataFrame or None
        ``deduplicate`` only: ``id``, ``cluster_id``.
    calibration : pandas.DataFrame or None
        With labels: reliability bins (``kind`` "raw" / "calibrated", ``bin_lo``,
        ``bin_hi``, ``n``, ``mean_p``, ``observed``) of the held-out half the
        Platt map was not fitted on; ``links["match_probability_calibrated"]``
        holds the mapped probabilities.
    """

    links: pd.DataFrame
    candidates: pd.DataFrame
    model: pd.DataFrame
    blocking: pd.DataFrame
    validation: pd.DataFrame | None
    spec: LinkageSpec
    info: dict[str, object] = field(default_factory=dict)
    clusters: pd.DataFrame | None = None
    calibration: pd.DataFrame | None = None

    @property
    def n_key(self) -> int:
        """Links taken from the labels (key file)."""
        return int((self.links["source"] == "key").sum())

    @property
    def n_model(self) -> int:
        """Links found by the model."""
        return int((self.links["source"] == "model").sum())

    def __repr__(self) -> str:
        i = self.info
        nl = self.links["left_id"].nunique()
        nr = self.links["right_id"].nunique()
        return (f"<ProbabilisticLinkResult {i['n_left']:,}×{i['n_right']:,}: "
                f"{len(self.links):,} links ({self.n_key:,} key, {self.n_model:,} model), "
                f"{int(i['n_left']) - nl:,} unmatched left, "
                f"{int(i['n_right']) - nr:,} unmatched right>")

    def links_at(self, threshold: float) -> pd.DataFrame:
        """The links had the model links been cut at `threshold` (any value, also below
        the one used): key links as they are, model links from ``candidates`` at or
        above it (one-to-one where the spec is), with ``ambiguous`` recomputed.

        Examples
        --------
        >>> from kprlink.linkage import ExactComparison, LinkageSpec, link_probabilistic
        >>> left = pd.DataFrame({"by": [1950, 1960], "sex": [1, 2]})
        >>> spec = LinkageSpec(comparisons=[ExactComparison("by")], blocking=["sex"],
        ...                    prior=0.5, n_random_pairs=50)
        >>> res = link_probabilistic(left, left, spec)
        >>> len(res.links_at(0.5)), len(res.links_at(1.0))
        (2, 0)
        """
        from kprlink.linkage import _fs_em as fs
        from kprlink.linkage._diagnostics import flag_ambiguous

        c = self.candidates[self.candidates["match_probability"] >= threshold]
        if self.spec.one_to_one and len(c):
            pl = pd.factorize(c["left_id"])[0]
            pr = pd.factorize(c["right_id"])[0]
            c = c[fs.one_to_one(pl, pr, c["match_weight"].to_numpy(float))]
        model = c.assign(source="model").reset_index(drop=True)
        key = self.links[self.links["source"] == "key"]
        out = pd.concat([key[["left_id", "right_id", "match_weight", "match_probability",
                              "source"]], model], ignore_index=True)
        out["ambiguous"] = flag_ambiguous(out, self.candidates)
        return out

    def evaluate(self, true_pairs: pd.DataFrame | pd.MultiIndex) -> pd.DataFrame:
        """Precision, recall and F1 against known true pairs.

        Rows: ``all`` (every link against every true pair) and ``model``
        (model links against the true pairs of records that had no label,
        i.e. the links the model had to recover). ``blocking_recall`` is the
        share of those true pairs that blocking made candidates at all.

        Parameters
        ----------
        true_pairs : DataFrame (``left_id``, ``right_id``) or MultiIndex
        """
        truth = _pairs(true_pairs)
        rows = [{"links": "all", **_score(self.links, truth)}]
        key = self.links[self.links["source"] == "key"]
        model_truth = truth[~truth["left_id"].isin(key["left_id"])
                            & ~truth["right_id"].isin(key["right_id"])]
        rows.append({"links": "model",
                     **_score(self.links[self.links["source"] == "model"], model_truth)})
        out = pd.DataFrame(rows)
        cand = pd.MultiIndex.from_frame(self.candidates[["left_id", "right_id"]])
        mt = pd.MultiIndex.from_frame(model_truth).unique()
        out["blocking_recall"] = (len(mt.intersection(cand)) / len(mt)) if len(mt) else np.nan
        return out

    def summary(self) -> pd.DataFrame:
        """One row per figure: counts, prior, EM diagnostics, spec digest, version."""
        from kprlink import __version__

        i = dict(self.info)
        rows = {
            "n_left": i["n_left"], "n_right": i["n_right"],
            "n_candidates": i["n_candidates"], "n_links": len(self.links),
            "n_links_key": self.n_key, "n_links_model": self.n_model,
            "n_left_unlinked": int(i["n_left"]) - self.links["left_id"].nunique(),
            "n_right_unlinked": int(i["n_right"]) - self.links["right_id"].nunique(),
            "n_removed_one_to_one": i["n_removed_one_to_one"],
            "n_labels": i["n_labels"], "prior": i["prior"],
            "em_sessions": i["em_sessions"], "em_iterations": i["em_iterations"],
            "em_converged": i["em_converged"],
            "em_classes_swapped": i["em_classes_swapped"],
            "em_estimates_discarded": i["em_estimates_discarded"],
            # the threshold links were cut at (with labels and a target precision,
            # chosen on held-out pairs; never below the spec's)
            "threshold": float(i.get("threshold_used", self.spec.threshold)),
            "spec_threshold": self.spec.threshold, "spec_digest": self.spec.digest,
            "kprlink_version": __version__,
        }
        for k in ("n_key_rows", "n_key_missing_id", "n_key_superseded",
                  "n_key_not_in_registers", "n_left_unlabelled", "n_right_unlabelled",
                  "n_ambiguous", "expected_true_model_links", "expected_false_model_links",
                  "expected_partners", "expected_missed_links",
                  "expected_missed_links_holdout"):
            if k in i:
                rows[k] = i[k]
        if self.validation is not None:
            for k in ("precision", "recall", "f1", "precision_other_half",
                      "recall_other_half", "ece_raw", "ece_calibrated"):
                if k in self.validation.columns:
                    rows[f"validation_{k}"] = float(self.validation[k].iloc[0])
        return pd.DataFrame({"metric": list(rows), "value": list(rows.values())})
