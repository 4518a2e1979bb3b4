"""Fellegi–Sunter linkage of two person files, and deduplication of one.

The engine behind :mod:`kprlink.linkage.probabilistic` (which re-exports it)
and :mod:`kprlink.linkage._registers` (which calls it on register profiles).
Imports run one way: ``probabilistic`` -> ``_registers`` -> ``_link``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from kprlink.exceptions import LinkageError, LinkageQualityWarning, MissingColumnsError
from kprlink.linkage import _fs_em as fs
from kprlink.linkage._comparisons import comparison_matrix, term_frequency_adjustment
from kprlink.linkage._calibration import platt_apply
from kprlink.linkage._diagnostics import expected_missed, flag_ambiguous
from kprlink.linkage._digest import frames_digest
from kprlink.linkage._holdout import threshold_for_precision, validate_held_out
from kprlink.linkage._result import ProbabilisticLinkResult, _pairs
from kprlink.linkage._scoring import (
    _info,
    _levels,
    _links_frame,
    _model_table,
    _random_u,
    _Scored,
)
from kprlink.linkage._spec import LinkageSpec

__all__ = ["link_probabilistic", "deduplicate"]


def _check_frame(df: pd.DataFrame, needed: set[str], id_col: str | None, who: str,
                 fn: str) -> pd.Series:
    """Check columns and id uniqueness; return the ids (positional order)."""
    missing = sorted(needed - set(df.columns) | ({id_col} - set(df.columns) if id_col else set()))
    if missing:
        raise MissingColumnsError(
            f"{fn}() needs column(s) {missing} in `{who}`; columns are "
            f"{list(df.columns)}.", [f"{who}: missing column {m!r}" for m in missing],
            missing=missing)
    ids = pd.Series(df[id_col].to_numpy() if id_col else df.index.to_numpy())
    problems = []
    if ids.isna().any():
        problems.append(f"{who}: {int(ids.isna().sum()):,} record(s) have no id.")
    dup = ids[ids.duplicated()]
    if len(dup):
        problems.append(f"{who}: {len(dup):,} duplicated id(s), e.g. {dup.head(3).tolist()}.")
    if problems:
        raise LinkageError(f"{fn}(): record ids must be unique and present.", problems)
    return ids


def link_probabilistic(left: pd.DataFrame, right: pd.DataFrame, spec: LinkageSpec, *,
                       labels: pd.DataFrame | pd.MultiIndex | None = None,
                       left_id_col: str | None = None, right_id_col: str | None = None,
                       validation_fraction: float = 0.5,
                       max_validation_labels: int = 20_000) -> ProbabilisticLinkResult:
    """Link two person files with a Fellegi–Sunter model.

    Parameters
    ----------
    left, right : pandas.DataFrame
        One row per record. Not modified.
    spec : LinkageSpec
        Blocking, comparisons, prior, threshold, one-to-one.
    labels : DataFrame or MultiIndex, optional
        Known true pairs (``left_id``, ``right_id``), e.g. from the key file.
        When given, m is estimated from labelled pairs (a random
        `validation_fraction` of them is held out and linked by the model to
        *measure* precision and recall), and the model is applied only to the
        unlabelled records; labelled pairs appear in ``links`` with
        ``source="key"``.
    left_id_col, right_id_col : str, optional
        Id columns; default the index.
    validation_fraction : float, default 0.5
        Share of labels held out for validation (0: none).
    max_validation_labels : int, default 20_000
        At most this many labels are held out (blocking all held-out records
        of a national key would create far more pairs than the unkeyed rest).

    Returns
    -------
    ProbabilisticLinkResult

    Raises
    ------
    MissingColumnsError
        If a frame or `labels` lacks a column the spec needs.
    LinkageError
        Duplicate/missing ids, labels naming unknown ids, too many pairs.

    Examples
    --------
    >>> from kprlink.linkage import ExactComparison, NumericComparison
    >>> left = pd.DataFrame({"by": [1950, 1960, 1970], "sex": [1, 2, 1],
    ...                      "kommune": ["0301", "4601", "5001"]})
    >>> right = left.iloc[::-1].reset_index(drop=True)
    >>> spec = LinkageSpec(comparisons=[NumericComparison("by"), ExactComparison("sex"),
    ...                                 ExactComparison("kommune")],
    ...                    blocking=["sex"], prior=0.5, n_random_pairs=100)
    >>> res = link_probabilistic(left, right, spec)
    >>> res.links[["left_id", "right_id"]].values.tolist()
    [[0, 2], [1, 1], [2, 0]]
    """
    fn = "link_probabilistic"
    lid = _check_frame(left, spec.required_columns, left_id_col, "left", fn)
    rid = _check_frame(right, spec.required_right_columns, right_id_col, "right", fn)
    if not 0 <= validation_fraction < 1:
        raise LinkageError(f"{fn}(): validation_fraction must be in [0, 1), got "
                           f"{validation_fraction!r}.", ["validation_fraction"])
    rng = np.random.default_rng(spec.seed)
    left = left.reset_index(drop=True)
    right = right.reset_index(drop=True)
    u = _random_u(spec, left, right, rng)
    if labels is None:
        sc = _Scored(spec, left, right, None, u)
        idx, n_removed = sc.accepted(spec)
        links = _links_frame(spec, sc, idx, lid, rid, "model")
        cand = _links_frame(spec, sc, np.arange(len(sc.pl)), lid, rid, "model")
        return ProbabilisticLinkResult(
            links=links, candidates=cand.iloc[:, :4], model=_model_table(spec, sc.fit),
            blocking=sc.blocking, validation=None, spec=spec,
            info={**_info(sc, len(left), len(right), n_removed, 0),
                  "data_digest": frames_digest(left, right)})
    return _link_with_labels(left, right, spec, labels, lid, rid, u, rng,
                             validation_fraction, max_validation_labels)


def _link_with_labels(left: pd.DataFrame, right: pd.DataFrame, spec: LinkageSpec,
                      labels: pd.DataFrame | pd.MultiIndex, lid: pd.Series, rid: pd.Series,
                      u: list[np.ndarray], rng: np.random.Generator,
                      validation_fraction: float,
                      max_validation_labels: int) -> ProbabilisticLinkResult:
    lab = _pairs(labels)
    lpos = pd.Series(np.arange(len(lid)), index=lid.to_numpy())
    rpos = pd.Series(np.arange(len(rid)), index=rid.to_numpy())
    unknown_l = ~lab["left_id"].isin(lpos.index)
    unknown_r = ~lab["right_id"].isin(rpos.index)
    if unknown_l.any() or unknown_r.any():
        raise LinkageError("link_probabilistic(): labels name ids not in the frames.",
                           [f"{int(unknown_l.sum()):,} label(s) with an unknown left id",
                            f"{int(unknown_r.sum()):,} label(s) with an unknown right id"])
    if len(lab) == 0:
        raise LinkageError("link_probabilistic(): labels is empty; pass labels=None "
                           "to estimate m by EM.", ["labels: no rows"])
    pl = lpos[lab["left_id"]].to_numpy()
    pr = rpos[lab["right_id"]].to_numpy()
    n_hold = min(int(round(validation_fraction * len(lab))), max_validation_labels,
                 len(lab) - 1)
    is_hold = np.zeros(len(lab), dtype=bool)
    is_hold[rng.choice(len(lab), size=max(n_hold, 0), replace=False)] = True
    gamma_train = comparison_matrix(spec.comparisons, left, right, pl[~is_hold], pr[~is_hold])
    m = fs.level_frequencies(gamma_train, _levels(spec), smoothing=1.0)
    # a comparison missing on every training pair carries no information
    # (e.g. no urgency column delivered): it stays neutral, without a warning
    seen = (gamma_train >= 0).any(axis=0)
    # the top level; a comparison split by right density has one per density
    # class (its last level alone, e.g. ">=3 coincide, < 5 claim days", can be
    # too rare to say anything)
    top = [len(getattr(c, "right_density", ())) + 1 for c in spec.comparisons]
    weak = [c.label for c, mk, uk, ok, k in zip(spec.comparisons, m, u, seen, top)
            if ok and mk[-k:].sum() <= uk[-k:].sum()]
    if weak:
        warnings.warn(f"Keyed pairs agree less often than random pairs on {weak}: the "
                      "labels or these comparisons look wrong.", LinkageQualityWarning,
                      stacklevel=3)
    key_l, key_r = np.zeros(len(lid), bool), np.zeros(len(rid), bool)
    key_l[pl], key_r[pr] = True, True
    ul, ur = np.flatnonzero(~key_l), np.flatnonzero(~key_r)
    sc = _Scored(spec, left.iloc[ul], right.iloc[ur], m, u)
    validation = calibration = None
    threshold = spec.threshold
    if is_hold.any():
        validation, threshold, calibration = validate_held_out(
            spec, left, right, m, u, pl[is_hold], pr[is_hold], ur, n_batch=len(ul),
            partner_share=sc.diag.get("partner_share"), lid=lid, rid=rid, rng=rng)
    threshold_held_out = threshold
    if spec.competition and spec.target_precision is not None:
        # the competing probabilities are calibrated: the mean probability of the
        # unkeyed links above a threshold estimates their precision; take the
        # stricter of that and the held-out threshold (the held-out persons are
        # keyed, and can be easier to link than the unkeyed ones)
        above, _ = sc.accepted(spec)
        threshold = max(threshold, threshold_for_precision(sc.prob[above], sc.prob[above],
                                                           spec))
    idx, n_removed = sc.accepted(spec, threshold)
    model_links = _links_frame(spec, sc, idx, lid.iloc[ul].reset_index(drop=True),
                               rid.iloc[ur].reset_index(drop=True), "model")
    key_links = _key_links(spec, left, right, lab, pl, pr, m, u, sc.fit.prior)
    links = pd.concat([key_links, model_links], ignore_index=True)
    if validation is not None:  # the Platt map fitted on one half of the held-out pairs
        v = validation.iloc[0]
        links["match_probability_calibrated"] = platt_apply(
            links["match_probability"].to_numpy(float), float(v["calibration_a"]),
            float(v["calibration_b"]))
    fit = fs.EMFit(m, u, sc.fit.prior, sc.fit.n_iter, sc.fit.converged, sc.fit.swapped)
    sc.fit = fit
    cand = _links_frame(spec, sc, np.arange(len(sc.pl)), lid.iloc[ul].reset_index(drop=True),
                        rid.iloc[ur].reset_index(drop=True), "model")
    info = _info(sc, len(lid), len(rid), n_removed, len(lab))
    info.update(n_left_unlabelled=len(ul), n_right_unlabelled=len(ur),
                threshold_used=threshold, threshold_held_out=threshold_held_out,
                data_digest=frames_digest(left, right))
    links["ambiguous"] = flag_ambiguous(links, cand)
    info.update(expected_missed(links, info, validation, cand),
                n_ambiguous=int(links["ambiguous"].sum()))
    return ProbabilisticLinkResult(links=links, candidates=cand.iloc[:, :4],
                                   model=_model_table(spec, fit), blocking=sc.blocking,
                                   validation=validation, spec=spec, info=info,
                                   calibration=calibration)


def _key_links(spec: LinkageSpec, left: pd.DataFrame, right: pd.DataFrame,
               lab: pd.DataFrame, pl: np.ndarray, pr: np.ndarray, m: list[np.ndarray],
               u: list[np.ndarray], prior: float) -> pd.DataFrame:
    """The labelled pairs as links (``source="key"``), weighed by the model."""
    gk = comparison_matrix(spec.comparisons, left, right, pl, pr)
    pat, _, inv = fs.patterns(gk)
    wk = (fs.pattern_weights(pat, m, u)[inv] if len(pat) else np.zeros(0)) + \
        term_frequency_adjustment(spec.comparisons, right, pr, gk, u,
                                  joint=spec.joint_frequency)
    odds = np.log2(prior / (1 - prior))
    key_links = pd.DataFrame({"left_id": lab["left_id"].to_numpy(),
                              "right_id": lab["right_id"].to_numpy(), "match_weight": wk,
                              "match_probability": 1 / (1 + np.exp2(-(wk + odds))),
                              "source": "key"})
    for j, c in enumerate(spec.comparisons):
        key_links[f"gamma_{c.label}"] = gk[:, j]
    return key_links


def deduplicate(df: pd.DataFrame, spec: LinkageSpec, *,
                id_col: str | None = None) -> ProbabilisticLinkResult:
    """Find records of the same person within one file.

    Links are pairs within `df` (``left_id`` < ``right_id`` by row order);
    ``one_to_one`` is ignored. ``result.clusters`` gives each record a
    ``cluster_id`` (connected components of the links; singletons included).

    Examples
    --------
    >>> from kprlink.linkage import ExactComparison, StringComparison
    >>> df = pd.DataFrame({"by": [1950, 1950, 1980], "sex": [1, 1, 2],
    ...                    "navn": ["kari", "kari", "ola"]})
    >>> spec = LinkageSpec(comparisons=[StringComparison("navn"), ExactComparison("sex")],
    ...                    blocking=["by"], prior=0.5, n_random_pairs=50)
    >>> deduplicate(df, spec).clusters["cluster_id"].tolist()
    [0, 0, 1]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ids = _check_frame(df, spec.required_columns, id_col, "df", "deduplicate")
    rng = np.random.default_rng(spec.seed)
    data = df.reset_index(drop=True)
    u = _random_u(spec, data, None, rng)
    sc = _Scored(spec, data, None, None, u)
    idx = np.flatnonzero(sc.prob >= spec.threshold)
    links = _links_frame(spec, sc, idx, ids, ids, "model")
    n = len(data)
    g = coo_matrix((np.ones(len(idx)), (sc.pl[idx], sc.pr[idx])), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    clusters = pd.DataFrame({"id": ids.to_numpy(), "cluster_id": comp})
    cand = _links_frame(spec, sc, np.arange(len(sc.pl)), ids, ids, "model")
    return ProbabilisticLinkResult(links=links, candidates=cand.iloc[:, :4],
                                   model=_model_table(spec, sc.fit), blocking=sc.blocking,
                                   validation=None, spec=spec,
                                   info=_info(sc, n, n, 0, 0), clusters=clusters)

