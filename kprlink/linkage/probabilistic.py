"""Probabilistic (Fellegi–Sunter) linkage and deduplication of person records.

Used where the key file fails: persons missing from the key, temporary ids,
new ids after a legal change of sex, external cohorts without the pseudonym.
Records are blocked (several rules, unioned), compared on quasi-identifiers
with multi-level comparisons, and scored with m/u probabilities estimated by
EM over comparison patterns, or from keyed pairs when labels are given. See
``docs/methods/probabilistic_linkage.md``.
"""

from __future__ import annotations

import logging
import warnings
import numpy as np
import pandas as pd

from kprlink.exceptions import LinkageError, LinkageQualityWarning, MissingColumnsError
from kprlink.linkage import _fs_em as fs
from kprlink.linkage._blocking import block_pairs, rule_mask
from kprlink.linkage._comparisons import (
    DateComparison,
    EventDatesComparison,
    EventWindowComparison,
    ExactComparison,
    NumericComparison,
    StringComparison,
    comparison_matrix,
    term_frequency_adjustment,
)
from kprlink.linkage._result import ProbabilisticLinkResult, _pairs, _score
from kprlink.linkage._registers import link_registers_probabilistic, person_profiles
from kprlink.linkage._spec import LinkageSpec

__all__ = [
    "LinkageSpec",
    "ExactComparison",
    "StringComparison",
    "NumericComparison",
    "DateComparison",
    "EventDatesComparison",
    "EventWindowComparison",
    "ProbabilisticLinkResult",
    "link_probabilistic",
    "deduplicate",
    "person_profiles",
    "link_registers_probabilistic",
]

log = logging.getLogger(__name__)


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


def _levels(spec: LinkageSpec) -> list[int]:
    return [len(c.level_labels()) for c in spec.comparisons]


def _random_u(spec: LinkageSpec, left: pd.DataFrame, right: pd.DataFrame | None,
              rng: np.random.Generator) -> list[np.ndarray]:
    other = left if right is None else right
    n = spec.n_random_pairs
    if len(left) == 0 or len(other) == 0:
        return [np.full(k, 1.0 / k) for k in _levels(spec)]
    pl = rng.integers(0, len(left), n)
    pr = rng.integers(0, len(other), n)
    if right is None:
        keep = pl != pr
        pl, pr = pl[keep], pr[keep]
    gamma = comparison_matrix(spec.comparisons, left, other, pl, pr)
    return fs.level_frequencies(gamma, _levels(spec), smoothing=1.0)


def _m_start(spec: LinkageSpec) -> list[np.ndarray]:
    return [fs.clip_normalise(8.0 ** np.arange(k)) for k in _levels(spec)]


def _m_by_rule(spec: LinkageSpec, left: pd.DataFrame, right: pd.DataFrame | None,
               pl: np.ndarray, pr: np.ndarray, gamma: np.ndarray, u: list[np.ndarray],
               prior0: float) -> tuple[list[np.ndarray], dict[str, object]]:
    """m by EM, one session per blocking rule, as in Splink.

    Pairs found by a rule agree on its columns by construction, so those
    comparisons would look like perfect evidence; each session therefore
    treats the rule's own comparisons as missing and estimates m for the
    others. A comparison's m is the mean over the sessions that could
    estimate it; estimates whose top level is not more likely among matches
    than among non-matches (a swapped or degenerate session) are discarded.
    A comparison never estimable falls back to one EM over all candidates.
    """
    levels = _levels(spec)
    got: list[list[np.ndarray]] = [[] for _ in levels]
    diag = {"em_sessions": 0, "em_converged": True, "em_classes_swapped": 0,
            "em_estimates_discarded": 0, "em_iterations": 0}
    for rule in spec.blocking:
        mask = rule_mask(left, right, rule, pl, pr)
        if not mask.any():
            continue
        g = gamma[mask].copy()
        blocked = [k for k, c in enumerate(spec.comparisons)
                   if c.column in rule or c.right in rule]
        g[:, blocked] = -1
        pat, counts, _ = fs.patterns(g)
        fit = fs.fit_em(pat, counts, levels, m_start=_m_start(spec), u_start=u,
                        prior_start=float(np.clip(prior0 * len(pl) / mask.sum(), 1e-4, 0.5)),
                        fix_u=spec.estimate_u == "random", max_iter=spec.max_iter,
                        tol=spec.tol)
        diag["em_sessions"] += 1
        diag["em_converged"] = bool(diag["em_converged"] and fit.converged)
        diag["em_classes_swapped"] += int(fit.swapped)
        diag["em_iterations"] = max(int(diag["em_iterations"]), fit.n_iter)
        for k in range(len(levels)):
            if k in blocked:
                continue
            if fit.m[k][-1] > fit.u[k][-1]:
                got[k].append(fit.m[k])
            else:
                diag["em_estimates_discarded"] += 1
    if any(not g for g in got):
        pat, counts, _ = fs.patterns(gamma)
        whole = fs.fit_em(pat, counts, levels, m_start=_m_start(spec), u_start=u,
                          prior_start=prior0, fix_u=spec.estimate_u == "random",
                          max_iter=spec.max_iter, tol=spec.tol)
        for k in range(len(levels)):
            if not got[k]:
                log.info("comparison %s: m from one EM over all candidates (blocked on "
                         "in every rule)", spec.comparisons[k].label)
                got[k].append(whole.m[k])
    return [fs.clip_normalise(np.mean(g, axis=0)) for g in got], diag


class _Scored:
    """Candidate pairs of one run, with their weights."""

    def __init__(self, spec: LinkageSpec, left: pd.DataFrame, right: pd.DataFrame | None,
                 m: list[np.ndarray] | None, u: list[np.ndarray]) -> None:
        other = left if right is None else right
        self.pl, self.pr, self.blocking = block_pairs(
            left, right, spec.blocking, max_pairs=spec.max_pairs,
            max_pairs_per_rule=spec.max_pairs_per_rule)
        gamma = comparison_matrix(spec.comparisons, left, other, self.pl, self.pr)
        pat, counts, inverse = fs.patterns(gamma)
        n_all = len(left) * (len(left) - 1) / 2 if right is None else len(left) * len(other)
        prior0 = float(np.clip(min(len(left), len(other)) / max(len(self.pl), 1), 1e-4, 0.5))
        self.diag: dict[str, object] = {"em_sessions": 0, "em_converged": True,
                                         "em_classes_swapped": 0,
                                         "em_estimates_discarded": 0, "em_iterations": 0}
        if m is None and len(pat):
            m, self.diag = _m_by_rule(spec, left, right, self.pl, self.pr, gamma, u, prior0)
        m = m or _m_start(spec)
        if spec.prior is not None:
            prior, n_iter = spec.prior, 0
        elif len(pat):
            prior, n_iter = fs.fit_prior_all_pairs(pat, counts, m, u, n_all)
        else:
            prior, n_iter = 0.5, 0
        fit = fs.EMFit(m, u, prior, n_iter, True, False)
        self.fit = fit
        self.gamma = gamma
        self.weight = fs.pattern_weights(pat, fit.m, fit.u)[inverse] if len(pat) else \
            np.zeros(0)
        self.weight = self.weight + term_frequency_adjustment(
            spec.comparisons, other, self.pr, gamma, fit.u, joint=spec.joint_frequency)
        odds = np.log2(fit.prior / (1 - fit.prior))
        self.prob = 1.0 / (1.0 + np.exp2(-np.clip(self.weight + odds, -1000, 1000)))
        if spec.competition and right is not None and len(self.pl):
            if spec.prior is None:  # the share of left records with a partner, by EM
                rho, it = fs.fit_partner_share(self.pl, self.weight, n_left=len(left),
                                               n_right=len(other),
                                               start=min(fit.prior * len(other), 0.5))
                self.fit = fit = fs.EMFit(m, u, rho / len(other), it, True, False)
                self.diag["partner_share"] = rho
            self.prob = fs.competing_probability(self.pl, self.pr, self.weight, fit.prior,
                                                 n_left=len(left), n_right=len(other))

    def accepted(self, spec: LinkageSpec,
                 threshold: float | None = None) -> tuple[np.ndarray, int]:
        """Indices of links above threshold (after one-to-one), and n removed by it."""
        above = np.flatnonzero(self.prob >= (spec.threshold if threshold is None
                                             else threshold))
        if not spec.one_to_one:
            return above, 0
        keep = fs.one_to_one(self.pl[above], self.pr[above], self.weight[above])
        return above[keep], int((~keep).sum())


def _model_table(spec: LinkageSpec, fit: fs.EMFit) -> pd.DataFrame:
    rows = []
    for c, m, u in zip(spec.comparisons, fit.m, fit.u):
        for lev, lab in enumerate(c.level_labels()):
            rows.append({"comparison": c.label, "level": lev, "label": lab,
                         "m": m[lev], "u": u[lev], "match_weight": np.log2(m[lev] / u[lev])})
        rows.append({"comparison": c.label, "level": -1, "label": "missing (neutral)",
                     "m": np.nan, "u": np.nan, "match_weight": 0.0})
    return pd.DataFrame(rows)


def _links_frame(spec: LinkageSpec, sc: _Scored, idx: np.ndarray, lid: pd.Series,
                 rid: pd.Series, source: str) -> pd.DataFrame:
    out = pd.DataFrame({"left_id": lid.to_numpy()[sc.pl[idx]],
                        "right_id": rid.to_numpy()[sc.pr[idx]],
                        "match_weight": sc.weight[idx], "match_probability": sc.prob[idx],
                        "source": source})
    for j, c in enumerate(spec.comparisons):
        out[f"gamma_{c.label}"] = sc.gamma[idx, j]
    return out


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
            info=_info(sc, len(left), len(right), n_removed, 0))
    return _link_with_labels(left, right, spec, labels, lid, rid, u, rng,
                             validation_fraction, max_validation_labels)


def _info(sc: _Scored, n_left: int, n_right: int, n_removed: int,
          n_key: int) -> dict[str, object]:
    return {"n_left": n_left, "n_right": n_right, "n_candidates": len(sc.pl),
            "prior": sc.fit.prior, "prior_iterations": sc.fit.n_iter, **sc.diag,
            "n_removed_one_to_one": n_removed, "n_labels": n_key,
            "blocking_rules_skipped": sc.blocking.loc[sc.blocking["skipped"], "rule"].tolist()}


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
    weak = [c.label for c, mk, uk, ok in zip(spec.comparisons, m, u, seen)
            if ok and mk[-1] <= uk[-1]]
    if weak:
        warnings.warn(f"Keyed pairs agree less often than random pairs on {weak}: the "
                      "labels or these comparisons look wrong.", LinkageQualityWarning,
                      stacklevel=3)
    validation = None
    threshold = spec.threshold
    if is_hold.any():
        hl, hr = np.unique(pl[is_hold]), np.unique(pr[is_hold])
        hsc = _Scored(spec, left.iloc[hl], right.iloc[hr], m, u)
        hidx, _ = hsc.accepted(spec)
        found = pd.DataFrame({"left_id": lid.to_numpy()[hl[hsc.pl[hidx]]],
                              "right_id": rid.to_numpy()[hr[hsc.pr[hidx]]]})
        truth = lab[is_hold]
        if spec.target_precision is not None:
            threshold = _threshold_for_precision(hsc, spec, hl, hr, lid, rid, truth)
            hidx, _ = hsc.accepted(spec, threshold)
            found = pd.DataFrame({"left_id": lid.to_numpy()[hl[hsc.pl[hidx]]],
                                  "right_id": rid.to_numpy()[hr[hsc.pr[hidx]]]})
        validation = pd.DataFrame([{**_score(found, truth), "n_validation_labels": len(truth),
                                    "threshold": threshold}])
    key_l, key_r = np.zeros(len(lid), bool), np.zeros(len(rid), bool)
    key_l[pl], key_r[pr] = True, True
    ul, ur = np.flatnonzero(~key_l), np.flatnonzero(~key_r)
    sc = _Scored(spec, left.iloc[ul], right.iloc[ur], m, u)
    idx, n_removed = sc.accepted(spec, threshold)
    model_links = _links_frame(spec, sc, idx, lid.iloc[ul].reset_index(drop=True),
                               rid.iloc[ur].reset_index(drop=True), "model")
    gk = comparison_matrix(spec.comparisons, left, right, pl, pr)
    pat, _, inv = fs.patterns(gk)
    wk = fs.pattern_weights(pat, m, u)[inv] + term_frequency_adjustment(
        spec.comparisons, right, pr, gk, u, joint=spec.joint_frequency)
    odds = np.log2(sc.fit.prior / (1 - sc.fit.prior))
    key_links = pd.DataFrame({"left_id": lab["left_id"].to_numpy(),
                              "right_id": lab["right_id"].to_numpy(), "match_weight": wk,
                              "match_probability": 1 / (1 + np.exp2(-(wk + odds))),
                              "source": "key"})
    for j, c in enumerate(spec.comparisons):
        key_links[f"gamma_{c.label}"] = gk[:, j]
    links = pd.concat([key_links, model_links], ignore_index=True)
    fit = fs.EMFit(m, u, sc.fit.prior, sc.fit.n_iter, sc.fit.converged, sc.fit.swapped)
    sc.fit = fit
    cand = _links_frame(spec, sc, np.arange(len(sc.pl)), lid.iloc[ul].reset_index(drop=True),
                        rid.iloc[ur].reset_index(drop=True), "model")
    info = _info(sc, len(lid), len(rid), n_removed, len(lab))
    info.update(n_left_unlabelled=len(ul), n_right_unlabelled=len(ur),
                threshold_used=threshold)
    return ProbabilisticLinkResult(links=links, candidates=cand.iloc[:, :4],
                                   model=_model_table(spec, fit), blocking=sc.blocking,
                                   validation=validation, spec=spec, info=info)


def _threshold_for_precision(hsc: _Scored, spec: LinkageSpec, hl: np.ndarray,
                             hr: np.ndarray, lid: pd.Series, rid: pd.Series,
                             truth: pd.DataFrame) -> float:
    """Lowest probability (>= spec.threshold) whose held-out precision meets the target.

    The held-out links are taken one-to-one above `spec.threshold` and sorted
    by probability; the precision of the links at or above each probability
    is computed, and the lowest probability where it is at least
    ``spec.target_precision`` is returned (1.0 when none is).
    """
    idx, _ = hsc.accepted(spec)
    if len(idx) == 0:
        return spec.threshold
    prob = hsc.prob[idx]
    pairs = pd.MultiIndex.from_arrays([lid.to_numpy()[hl[hsc.pl[idx]]],
                                       rid.to_numpy()[hr[hsc.pr[idx]]]])
    ok = pairs.isin(pd.MultiIndex.from_frame(truth[["left_id", "right_id"]]))
    order = np.argsort(-prob, kind="stable")
    prec = np.cumsum(ok[order]) / np.arange(1, len(order) + 1)
    p_sorted = prob[order]
    # precision of "all links with p >= t" is defined at the last link of each tie
    last = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    meets = np.flatnonzero(last & (prec >= spec.target_precision))
    return float(p_sorted[meets[-1]]) if len(meets) else 1.0


def deduplicate(df: pd.DataFrame, spec: LinkageSpec, *,
                id_col: str | None = None) -> ProbabilisticLinkResult:
    """Find records of the same person within one file.

    Links are pairs within `df` (``left_id`` < ``right_id`` by row order);
    ``one_to_one`` is ignored. ``result.clusters`` gives each record a
    ``cluster_id`` (connected components of the links; singletons included).

    Examples
    --------
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

