"""Scoring candidate pairs: u from random pairs, m by EM per blocking rule, weights.

The internals behind :func:`kprlink.link_probabilistic` and
:func:`kprlink.deduplicate`: a :class:`_Scored` run blocks two frames,
computes the comparison levels of every candidate pair, estimates (or takes)
m and u and the prior, and turns them into match weights and probabilities
(with competing candidates when the spec asks for it).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from kprlink.linkage import _fs_em as fs
from kprlink.linkage._blocking import block_pairs, rule_mask
from kprlink.linkage._comparisons import comparison_matrix, term_frequency_adjustment
from kprlink.linkage._spec import LinkageSpec

log = logging.getLogger(__name__)

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
    """Candidate pairs of one run, with their weights.

    `partner_share` (competition only) fixes the share of left records with a
    partner instead of fitting it (the held-out validation takes the share
    fitted on the unkeyed records, whose partners it imitates).
    """

    def __init__(self, spec: LinkageSpec, left: pd.DataFrame, right: pd.DataFrame | None,
                 m: list[np.ndarray] | None, u: list[np.ndarray], *,
                 partner_share: float | None = None) -> None:
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
                rho, it = (partner_share, 0) if partner_share is not None else \
                    fs.fit_partner_share(self.pl, self.weight, n_left=len(left),
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


def _info(sc: _Scored, n_left: int, n_right: int, n_removed: int,
          n_key: int) -> dict[str, object]:
    return {"n_left": n_left, "n_right": n_right, "n_candidates": len(sc.pl),
            "prior": sc.fit.prior, "prior_iterations": sc.fit.n_iter, **sc.diag,
            "n_removed_one_to_one": n_removed, "n_labels": n_key,
            "blocking_rules_skipped": sc.blocking.loc[sc.blocking["skipped"], "rule"].tolist()}
