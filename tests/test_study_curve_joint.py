"""A released curve's counts are protected jointly with the study's tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import kprlink as kl
from kprlink import _study_release as release
from kprlink._studyspec import DisclosureSpec
from kprlink.analyses import AnalysisTable, CurveTable
from kprlink.stats.curve_release import curve_person_steps


def _persons() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 300
    return pd.DataFrame({"person_id": np.arange(n), "group": np.repeat(["a", "b"], n // 2),
                         "time_days": rng.integers(1, 60, n),
                         "status": rng.choice([0, 1, 1, 2], n)})


def _curve(p: pd.DataFrame) -> CurveTable:
    ci = kl.cumulative_incidence(p, group_col="group", competing_values=[2])
    curve = kl.release_curve(ci, rule=4, group_col="group")
    return CurveTable(curve, "group", persons=curve_person_steps(p, curve, group_col="group"))


def test_each_shown_count_is_a_cell_of_the_persons_steps() -> None:
    ct = _curve(_persons())
    assert len(ct.curve) >= 4
    cells = release.curve_table(ct).cells.set_index(["group", "step", "outcome"])["n"]
    for g, rows in ct.curve.groupby("group"):
        for k, r in enumerate(rows.itertuples(), start=1):
            got = cells.loc[(g, str(k))]
            assert got["event"] == r.n_events and got["censored"] == r.n_censored
            assert got["competing"] == r.n_competing and got.sum() == r.n_at_risk


def test_a_count_hidden_jointly_hides_it_and_the_estimates_after() -> None:
    p = _persons()
    ct = _curve(p)
    joint = release.protect({"curve": release.curve_table(ct)}, DisclosureSpec(max_n=4),
                            universe=None)
    cells = joint.tables["curve"]
    assert (cells["status"] == "published").all()  # the coarsened curve is safe alone
    assert release.released_curve(ct, cells).table.equals(release.released_curve(ct).table)
    # the joint protection hides a's second-step events (as a linked table might make it)
    hit = ((cells["group"] == "a") & (cells["step"] == "2")
           & (cells["outcome"] == "event")).to_numpy()
    rel = release.released_curve(ct, cells.assign(status=np.where(hit, "secondary",
                                                                  cells["status"])))
    a = rel.table[rel.table["group"] == "a"].reset_index(drop=True)
    assert len(a) >= 3 and a["n_events"].isna().tolist()[:3] == [False, True, False]
    assert a["estimate"].isna().tolist() == [False] + [True] * (len(a) - 1)
    b = rel.table[rel.table["group"] == "b"]
    assert b.notna().all(axis=None)


def test_a_curve_protected_with_a_table_of_the_same_persons() -> None:
    """A table of group totals beside the curve: one joint system, nothing primary."""
    p = _persons()
    ct = _curve(p)
    at = AnalysisTable.from_persons(p, {"group": ["a", "b"]})
    joint = release.protect({"curve": release.curve_table(ct), "by_group": at},
                            DisclosureSpec(max_n=4), universe=None)
    assert set(joint.tables) == {"curve", "by_group"} and not joint.problems


def test_persons_that_are_not_the_curves_are_refused() -> None:
    p = _persons()
    curve = _curve(p).curve
    with pytest.raises(ValueError, match="do not give the released curve"):
        curve_person_steps(p.iloc[5:], curve, group_col="group")
