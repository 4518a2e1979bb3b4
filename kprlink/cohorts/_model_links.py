"""Probabilistic links into cohorts: the ``[linkage]`` table and model-linked persons.

With ``[linkage] method = "probabilistic"`` a cohort links NPR persons the key
file misses to KPR persons without an NPR partner (``link_registers_probabilistic``:
m from the delivery's key pairs, the threshold for the target precision chosen
on held-out key pairs), merges each accepted pair into one person, and marks
every person with ``link_method`` ("key", "model" or "none") and
``match_probability`` (the model's, for model links; NA otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from kprlink.exceptions import Problem, SpecError
from kprlink.linkage.keyfile import LinkageResult

__all__ = ["LinkageOptions"]

#: canonical columns the NPR/KPR person profiles read (beyond the key-file linkage's)
PROFILE_COLUMNS: dict[str, tuple[str, ...]] = {
    "npr_episodes": ("urgency", "time_in", "referral_received", "district", "birth_month"),
    "kuhr_claims": ("time", "age", "district"),
}
METHODS = ("key", "model", "none")


@dataclass(frozen=True)
class LinkageOptions:
    """How a cohort links persons across NPR and KPR (the ``[linkage]`` table).

    Parameters
    ----------
    method : {"key", "probabilistic"}, default "key"
        "key": the key file only. "probabilistic": key links, then model
        links for persons the key misses.
    min_probability : float or None, default None
        Accept model links at or above this match probability; None: the
        threshold chosen on held-out key pairs for `target_precision`.
    target_precision : float, default 0.99
        Precision the held-out threshold is chosen for.

    Examples
    --------
    >>> LinkageOptions.from_dict({"method": "probabilistic", "min_probability": 0.9})
    LinkageOptions(method='probabilistic', min_probability=0.9, target_precision=0.99)
    """

    method: Literal["key", "probabilistic"] = "key"
    min_probability: float | None = None
    target_precision: float = 0.99

    def __post_init__(self) -> None:
        problems = []
        if self.method not in ("key", "probabilistic"):
            problems.append(Problem("[linkage]", "method", "bad_method",
                                    f"method must be 'key' or 'probabilistic', got "
                                    f"{self.method!r}"))
        p = self.min_probability
        if p is not None and not (isinstance(p, (int, float)) and 0 < p <= 1):
            problems.append(Problem("[linkage]", "min_probability", "bad_probability",
                                    f"min_probability must be in (0, 1], got {p!r}"))
        t = self.target_precision
        if not (isinstance(t, (int, float)) and 0 < t <= 1):
            problems.append(Problem("[linkage]", "target_precision", "bad_precision",
                                    f"target_precision must be in (0, 1], got {t!r}"))
        if problems:
            raise SpecError("invalid [linkage] table", problems)

    @property
    def probabilistic(self) -> bool:
        return self.method == "probabilistic"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"method": self.method, "target_precision": self.target_precision}
        if self.min_probability is not None:
            d["min_probability"] = self.min_probability
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, where: str = "[linkage]") -> LinkageOptions:
        extra = sorted(set(d) - {"method", "min_probability", "target_precision"})
        if extra:
            raise SpecError(f"invalid {where} table",
                            [Problem(where, None, "unknown_keys", f"unknown keys {extra}")])
        return cls(**d)


def merge_model_links(persons: pd.DataFrame, links: pd.DataFrame, *,
                      min_probability: float) -> pd.DataFrame:
    """`persons` with accepted model links merged into one person each.

    A model link joins an NPR-only and a KPR-only person; the merged person
    keeps the KPR row's ``person_id``, sex and birth year (KPR's come from the
    National Population Register, as for key links), the earliest death date,
    and gets ``link_method="model"``, the link's ``match_probability`` and
    ``link_ambiguous`` (a runner-up candidate nearly as likely).

    Examples
    --------
    >>> persons = pd.DataFrame({"person_id": [1, 2, 3], "kpr_id": [10, 11, pd.NA],
    ...     "npr_id": [20, pd.NA, 21], "in_kpr": [True, True, False],
    ...     "in_npr": [True, False, True], "linked": [True, False, False],
    ...     "status": ["linked", "kpr_only", "npr_only"], "sex": [1, 2, 2],
    ...     "birth_year": [1950, 1940, 1941], "death_date": pd.NaT,
    ...     "key_conflict": False, "sex_conflict": False, "birth_year_conflict": False})
    >>> links = pd.DataFrame({"left_id": [21], "right_id": [11], "match_probability": [0.97],
    ...                       "source": ["model"]})
    >>> out = merge_model_links(persons, links, min_probability=0.9)
    >>> out[["person_id", "npr_id", "link_method", "birth_year_conflict"]].values.tolist()
    [[1, 20, 'key', False], [2, 21, 'model', True]]
    """
    p = persons.copy()
    p["link_method"] = np.where(p["linked"].to_numpy(bool), "key", "none")
    p["match_probability"] = np.nan
    p["link_ambiguous"] = False
    ml = links[(links["source"] == "model")
               & (links["match_probability"] >= min_probability)]
    npr_only = p.index[(p["status"] == "npr_only").to_numpy(bool)]
    kpr_only = p.index[(p["status"] == "kpr_only").to_numpy(bool)]
    npos = pd.Series(npr_only, index=pd.array(p.loc[npr_only, "npr_id"], dtype="Int64"))
    kpos = pd.Series(kpr_only, index=pd.array(p.loc[kpr_only, "kpr_id"], dtype="Int64"))
    ml = ml[ml["left_id"].isin(npos.index) & ml["right_id"].isin(kpos.index)]
    ml = ml.sort_values("match_probability", ascending=False, kind="stable")
    ml = ml.drop_duplicates("left_id").drop_duplicates("right_id")
    if ml.empty:
        return p
    ni = npos[ml["left_id"].to_numpy()].to_numpy()
    ki = kpos[ml["right_id"].to_numpy()].to_numpy()
    upd = p.loc[ki].copy()
    nrow = p.loc[ni]
    upd["npr_id"] = pd.array(ml["left_id"].to_numpy(), dtype=p["npr_id"].dtype)
    upd["in_npr"] = True
    upd["linked"] = True
    upd["status"] = "linked"
    upd["link_method"] = "model"
    upd["match_probability"] = ml["match_probability"].to_numpy(float)
    if "ambiguous" in ml.columns:
        upd["link_ambiguous"] = ml["ambiguous"].to_numpy(bool)
    for col, flag in (("sex", "sex_conflict"), ("birth_year", "birth_year_conflict")):
        a, b = upd[col].to_numpy(), nrow[col].to_numpy()
        known = ~pd.isna(a) & ~pd.isna(b)
        upd[flag] = upd[flag].to_numpy(bool) | (known & (a != b))
        upd[col] = np.where(pd.isna(a), b, a)
    dd = pd.DataFrame({"a": pd.to_datetime(upd["death_date"]).to_numpy(),
                       "b": pd.to_datetime(nrow["death_date"]).to_numpy()})
    upd["death_date"] = dd.min(axis=1).to_numpy()
    p.loc[ki] = upd
    return p.drop(index=ni).reset_index(drop=True)


def attrition_by_method(att: pd.DataFrame, step_persons: list[np.ndarray],
                        persons: pd.DataFrame) -> pd.DataFrame:
    """`att` with ``n_persons_key``, ``n_persons_model``, ``n_persons_none`` per step."""
    method = pd.Series(persons["link_method"].to_numpy(), index=persons["person_id"].to_numpy())
    out = att.copy()
    for m in METHODS:
        out[f"n_persons_{m}"] = [int((method.reindex(ids).to_numpy() == m).sum())
                                 for ids in step_persons]
    return out


def _whole(x: object) -> int:
    """A figure rounded to a whole count (0 where it could not be estimated)."""
    v = float(x) if isinstance(x, (int, float)) else float("nan")
    return int(round(v)) if v == v else 0


def flow_by_method(persons: pd.DataFrame, res: Any, min_probability: float) -> pd.DataFrame:
    """Flow rows of the probabilistic step (counts only)."""
    m = persons["link_method"]
    i = res.info
    return pd.DataFrame([
        ("NPR persons the key misses, linked by the model", int((m == "model").sum())),
        ("model links below min_probability (not used)",
         int(((res.links["source"] == "model")
              & (res.links["match_probability"] < min_probability)).sum())),
        ("persons linked by key", int((m == "key").sum())),
        ("persons linked by model", int((m == "model").sum())),
        ("persons not linked (one register only)", int((m == "none").sum())),
        ("persons in total after model links", len(persons)),
        ("model-linked persons flagged ambiguous (a runner-up nearly as likely)",
         int(persons["link_ambiguous"].sum())),
        ("expected false model links (sum of 1 - p)",
         _whole(i.get("expected_false_model_links"))),
        ("expected missed links (persons with a partner not linked)",
         _whole(i.get("expected_missed_links"))),
    ], columns=["step", "n"])


def link_with_model(frames: dict[str, Any], linkage: LinkageResult,
                    options: LinkageOptions) -> tuple[LinkageResult, Any]:
    """The key-file `linkage` with model links added (and the model run)."""
    from kprlink.linkage._registers import register_spec
    from kprlink.linkage.probabilistic import link_registers_probabilistic

    spec = register_spec(target_precision=options.target_precision)
    res = link_registers_probabilistic(frames["npr_episodes"], frames["kuhr_claims"],
                                       frames["key"], spec=spec)
    cut = (options.min_probability if options.min_probability is not None
           else float(res.info["threshold_used"]))
    persons = merge_model_links(linkage.persons, res.links, min_probability=cut)
    flow = pd.concat([linkage.report.flow, flow_by_method(persons, res, cut)],
                     ignore_index=True)
    report = replace(linkage.report, flow=flow,
                     method=f"{linkage.report.method} + probabilistic (p >= {cut:.3f})")
    return LinkageResult(persons, report, model=res), res
