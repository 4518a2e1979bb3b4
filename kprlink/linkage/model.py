"""``LinkageModel``: a fitted Fellegi–Sunter model, saved, loaded and applied again.

A model fitted on one delivery (m from its keyed pairs, u from its random
pairs, the threshold chosen on its held-out pairs) can link the next delivery
without refitting: ``LinkageModel.from_result(res).to_json(path)``, later
``LinkageModel.from_json(path).link_registers(npr, kuhr, key)``. The file holds
the spec, m and u per comparison level, the prior (lambda) and partner share,
the threshold, the validation figures and a digest of the data it was fitted
on; no person id and no value of a person.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kprlink.exceptions import LinkageError, SpecError
from kprlink.linkage._digest import frames_digest
from kprlink.linkage._link import _check_frame, _key_links
from kprlink.linkage._registers import register_profiles
from kprlink.linkage._result import ProbabilisticLinkResult
from kprlink.linkage._scoring import _info, _links_frame, _model_table, _Scored
from kprlink.linkage._spec import LinkageSpec

__all__ = ["LinkageModel"]


def _levels_of(model: pd.DataFrame, spec: LinkageSpec, col: str) -> tuple[np.ndarray, ...]:
    out = []
    for c in spec.comparisons:
        rows = model[(model["comparison"] == c.label) & (model["level"] >= 0)]
        out.append(rows.sort_values("level")[col].to_numpy(float))
    return tuple(out)


@dataclass(frozen=True)
class LinkageModel:
    """The fitted parameters of one probabilistic linkage.

    Parameters
    ----------
    spec : LinkageSpec
    m, u : tuple of numpy.ndarray
        Per comparison (spec order), the probability of each level among
        matches and among non-matches.
    prior : float
        Per-pair prior (lambda) of the fitted run.
    threshold : float
        Match probability the fitted run cut links at.
    data_digest : str
        :func:`frames_digest` of the profiles it was fitted on.
    partner_share : float or None
        Competition only: the share of left records with a partner.
    validation : dict
        Held-out precision, recall, F1 (empty without labels).

    Examples
    --------
    >>> from kprlink.linkage import ExactComparison, NumericComparison, link_probabilistic
    >>> left = pd.DataFrame({"by": [1950, 1960, 1970], "sex": [1, 2, 1]})
    >>> spec = LinkageSpec(comparisons=[NumericComparison("by"), ExactComparison("sex")],
    ...                    blocking=["sex"], prior=0.5, n_random_pairs=100)
    >>> model = LinkageModel.from_result(link_probabilistic(left, left, spec))
    >>> LinkageModel.from_dict(model.to_dict()) == model
    True
    >>> model.apply(left, left).links[["left_id", "right_id"]].values.tolist()
    [[0, 0], [1, 1], [2, 2]]
    """

    spec: LinkageSpec
    m: tuple[np.ndarray, ...]
    u: tuple[np.ndarray, ...]
    prior: float
    threshold: float
    data_digest: str
    partner_share: float | None = None
    validation: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "m", tuple(np.asarray(a, float) for a in self.m))
        object.__setattr__(self, "u", tuple(np.asarray(a, float) for a in self.u))
        problems = []
        n = [len(c.level_labels()) for c in self.spec.comparisons]
        for name, arrs in (("m", self.m), ("u", self.u)):
            if [len(a) for a in arrs] != n:
                problems.append(f"{name}: levels per comparison must be {n}, got "
                                f"{[len(a) for a in arrs]}.")
            elif any((a <= 0).any() or (a > 1).any() for a in arrs):
                problems.append(f"{name}: probabilities must lie in (0, 1].")
        if not 0 < self.prior < 1:
            problems.append(f"prior must be in (0, 1), got {self.prior!r}.")
        if not 0 < self.threshold <= 1:
            problems.append(f"threshold must be in (0, 1], got {self.threshold!r}.")
        if problems:
            raise SpecError("LinkageModel is invalid.", problems)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LinkageModel):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"<LinkageModel {self.spec.name!r}: {len(self.m)} comparisons, threshold "
                f"{self.threshold:.3f}, fitted on {self.data_digest}>")

    @classmethod
    def from_result(cls, res: ProbabilisticLinkResult) -> LinkageModel:
        """The model of a :func:`link_probabilistic` / ``link_registers_probabilistic`` run."""
        if res.clusters is not None:
            raise LinkageError("LinkageModel.from_result(): a deduplication has no "
                               "two-file model to save.", ["deduplicate() result"])
        i = res.info
        val = {} if res.validation is None else {
            k: float(res.validation[k].iloc[0]) for k in ("precision", "recall", "f1")}
        share = i.get("partner_share")
        return cls(spec=res.spec, m=_levels_of(res.model, res.spec, "m"),
                   u=_levels_of(res.model, res.spec, "u"), prior=float(i["prior"]),
                   threshold=float(i.get("threshold_used", res.spec.threshold)),
                   data_digest=str(i.get("data_digest", "")),
                   partner_share=None if share is None else float(share), validation=val)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``kprlink_spec`` 1, ``kind`` "linkage_model")."""
        from kprlink import __version__

        labels = [c.label for c in self.spec.comparisons]
        return {"kprlink_spec": 1, "kind": "linkage_model", "spec": self.spec.to_dict(),
                "m": {k: a.tolist() for k, a in zip(labels, self.m)},
                "u": {k: a.tolist() for k, a in zip(labels, self.u)},
                "prior": self.prior, "partner_share": self.partner_share,
                "threshold": self.threshold, "data_digest": self.data_digest,
                "validation": dict(self.validation), "fitted_with": __version__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinkageModel:
        """The model of :meth:`to_dict`.

        Raises
        ------
        SpecError
            Not a ``kprlink_spec`` 1 linkage model, or inconsistent m/u.
        """
        if d.get("kprlink_spec") != 1 or d.get("kind") != "linkage_model":
            raise SpecError("LinkageModel.from_dict(): not a kprlink_spec 1 linkage_model.",
                            ["kprlink_spec/kind: expected 1 / 'linkage_model'"])
        spec = LinkageSpec.from_dict(d["spec"])
        labels = [c.label for c in spec.comparisons]
        missing = [k for k in labels if k not in d["m"] or k not in d["u"]]
        if missing:
            raise SpecError("LinkageModel.from_dict(): m/u lack comparisons.",
                            [f"no m/u for {k!r}" for k in missing])
        return cls(spec=spec, m=tuple(d["m"][k] for k in labels),
                   u=tuple(d["u"][k] for k in labels), prior=float(d["prior"]),
                   threshold=float(d["threshold"]), data_digest=str(d["data_digest"]),
                   partner_share=d.get("partner_share"),
                   validation=dict(d.get("validation") or {}))

    def to_json(self, path: str | Path) -> Path:
        """Write the model as JSON (floats written exactly; returns the path)."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n",
                        encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> LinkageModel:
        """Read a model written by :meth:`to_json`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    @property
    def digest(self) -> str:
        """Short hash of the model's canonical JSON (without the version)."""
        import hashlib

        d = {k: v for k, v in self.to_dict().items() if k != "fitted_with"}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]

    def _spec_for(self, estimate_prior: bool) -> LinkageSpec:
        return self.spec if estimate_prior else replace(self.spec, prior=self.prior)

    def apply(self, left: pd.DataFrame, right: pd.DataFrame, *,
              left_id_col: str | None = None, right_id_col: str | None = None,
              threshold: float | None = None,
              estimate_prior: bool = True) -> ProbabilisticLinkResult:
        """Link two frames with this model's m and u (no EM for m, no new u).

        Parameters
        ----------
        left, right : pandas.DataFrame
            The records to link (for a register model: the unkeyed profiles).
        threshold : float, optional
            Default the fitted run's threshold.
        estimate_prior : bool, default True
            Re-estimate the prior (the share of left records with a partner)
            on these frames, as the fitted run did on its own; False keeps the
            saved lambda (same candidate density assumed).
        """
        spec = self._spec_for(estimate_prior)
        fn = "LinkageModel.apply"
        lid = _check_frame(left, spec.required_columns, left_id_col, "left", fn)
        rid = _check_frame(right, spec.required_right_columns, right_id_col, "right", fn)
        left, right = left.reset_index(drop=True), right.reset_index(drop=True)
        sc = _Scored(spec, left, right, list(self.m), list(self.u))
        t = self.threshold if threshold is None else float(threshold)
        idx, n_removed = sc.accepted(spec, t)
        links = _links_frame(spec, sc, idx, lid, rid, "model")
        cand = _links_frame(spec, sc, np.arange(len(sc.pl)), lid, rid, "model")
        info = {**_info(sc, len(left), len(right), n_removed, 0), "threshold_used": t,
                "model_digest": self.digest}
        return ProbabilisticLinkResult(links=links, candidates=cand.iloc[:, :4],
                                       model=_model_table(spec, sc.fit), blocking=sc.blocking,
                                       validation=None, spec=spec, info=info)

    def link_registers(self, npr_episodes: pd.DataFrame, kuhr_claims: pd.DataFrame,
                       key: pd.DataFrame, *, threshold: float | None = None,
                       estimate_prior: bool = True) -> ProbabilisticLinkResult:
        """``link_registers_probabilistic`` on a (later) delivery with this model.

        The delivery's key pairs become ``source="key"`` links (weighed by the
        model, not used to refit it); the persons the key misses are linked by
        :meth:`apply`. ``info`` carries the key counts, ``model_digest`` and
        whether the delivery is the one the model was fitted on
        (``same_data``).
        """
        npr, kpr, labels, counts = register_profiles(npr_episodes, kuhr_claims, key)
        kl, kr = npr.index.isin(labels["left_id"]), kpr.index.isin(labels["right_id"])
        res = self.apply(npr[~kl], kpr[~kr], threshold=threshold,
                         estimate_prior=estimate_prior)
        spec = res.spec
        left, right = npr.reset_index(drop=True), kpr.reset_index(drop=True)
        pl = pd.Series(np.arange(len(npr)), index=npr.index)[labels["left_id"]].to_numpy()
        pr = pd.Series(np.arange(len(kpr)), index=kpr.index)[labels["right_id"]].to_numpy()
        key_links = _key_links(spec, left, right, labels, pl, pr, list(self.m),
                               list(self.u), float(res.info["prior"]))
        info = {**res.info, **counts, "n_left": len(npr), "n_right": len(kpr),
                "n_labels": len(labels), "n_left_unlabelled": int((~kl).sum()),
                "n_right_unlabelled": int((~kr).sum()),
                "same_data": frames_digest(npr, kpr) == self.data_digest}
        return ProbabilisticLinkResult(
            links=pd.concat([key_links, res.links], ignore_index=True),
            candidates=res.candidates, model=res.model, blocking=res.blocking,
            validation=None, spec=spec, info=info)
