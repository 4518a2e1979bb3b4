"""Hypothesis-generated studies: several tables of one population, protected, then attacked.

Persons with an age, a sex and a (often small) municipality; an age x sex table
with one set of band cuts, an age table with other cuts, a municipality table
with its population. The attack must be sound (every hidden count lies in the
interval it claims) whatever protected the tables; with joint protection
(``suppress_linked_tables``) it must find nothing; with each table protected on
its own it finds cells in some studies (the failure mode of issue 13).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kprlink.disclosure import LinkedTable, SuppressionRule, suppress_linked_tables
from kprlink.disclosure.outsider import OutsiderAttack, run_attack
from kprlink.disclosure.secondary import suppress_table

from ._build import write_release

RULE = SuppressionRule(max_n=4, protect_zeros=False)
CUTS = [60, 65, 70, 75, 80, 85, 90]


def _labels(breaks: list[int]) -> tuple[list[str], list[tuple[int, int]]]:
    edges = [0, *breaks, 200]
    spans = list(zip(edges, edges[1:]))
    labels = [f"Under {b}" if a == 0 else (f"{a}+" if b == 200 else f"{a}-{b - 1}")
              for a, b in spans]
    return labels, spans


def _band(age: np.ndarray, breaks: list[int]) -> np.ndarray:
    labels, _ = _labels(breaks)
    return np.array(labels, dtype=object)[np.searchsorted(breaks, age, side="right")]


@st.composite
def studies(draw: st.DrawFn) -> dict:
    n = draw(st.integers(25, 160))
    seed = draw(st.integers(0, 2**31 - 1))
    cuts_a = sorted(draw(st.sets(st.sampled_from(CUTS), min_size=2, max_size=5)))
    cuts_b = sorted(draw(st.sets(st.sampled_from(CUTS), min_size=2, max_size=5)))
    n_muni = draw(st.integers(2, 7))
    extra = draw(st.lists(st.integers(0, 6), min_size=n_muni, max_size=n_muni))
    return {"n": n, "seed": seed, "cuts_a": cuts_a, "cuts_b": cuts_b, "n_muni": n_muni,
            "extra": extra}


def _persons(spec: dict) -> pd.DataFrame:
    rng = np.random.default_rng(spec["seed"])
    age = np.clip(rng.normal(80, 9, spec["n"]).round(), 40, 105).astype(int)
    weights = rng.dirichlet(np.full(spec["n_muni"], 0.7))
    return pd.DataFrame({"age": age, "sex": rng.choice(["female", "male"], spec["n"]),
                         "municipality": rng.choice(
                             [f"{3001 + i}" for i in range(spec["n_muni"])], spec["n"],
                             p=weights)})


def _base(persons: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Finest cells: elementary age intervals x sex x municipality, zeros included."""
    breaks = sorted(set(spec["cuts_a"]) | set(spec["cuts_b"]))
    atom = np.searchsorted(breaks, persons["age"], side="right")
    grid = pd.MultiIndex.from_product([range(len(breaks) + 1), ["female", "male"],
                                       sorted(persons["municipality"].unique())],
                                      names=["atom", "sex", "municipality"])
    base = (persons.assign(atom=atom).groupby(["atom", "sex", "municipality"]).size()
            .reindex(grid, fill_value=0).rename("n").reset_index())
    low = np.array([0, *breaks])[base["atom"]]
    base["age_a"] = _band(low, spec["cuts_a"])
    base["age_b"] = _band(low, spec["cuts_b"])
    return base


def _released(result: pd.DataFrame, dims: list[str]) -> pd.DataFrame:
    out = result[dims].astype(str)
    out["n"] = result["n"].astype("Int64")
    return out


def _truth(persons: pd.DataFrame, spec: dict) -> dict[tuple[str, str], int]:
    """True count of every cell name the attack reports."""
    p = persons.assign(age_a=_band(persons["age"].to_numpy(), spec["cuts_a"]),
                       age_b=_band(persons["age"].to_numpy(), spec["cuts_b"]))
    truth = {}
    for table, dims in (("age_sex", ["age_band", "sex"]), ("age", ["age_band"]),
                        ("municipality", ["municipality"])):
        col = {"age_sex": "age_a", "age": "age_b"}.get(table)
        frame = p.rename(columns={col: "age_band"}) if col else p
        levels = [[*sorted(frame[d].unique()), "Total"] for d in dims]
        for combo in pd.MultiIndex.from_product(levels):
            mask = np.ones(len(frame), bool)
            for d, v in zip(dims, combo):
                if v != "Total":
                    mask &= (frame[d] == v).to_numpy()
            truth[(table, ", ".join(f"{d}={v}" for d, v in zip(dims, combo)))] = int(
                mask.sum())
    return truth


def _write(tmp: Path, tables: dict[str, pd.DataFrame], persons: pd.DataFrame,
           spec: dict, *, population: bool = True) -> Path:
    if population:
        muni = tables["municipality"]
        pop = _population(persons, spec)
        muni["population"] = muni["municipality"].map(pop).fillna(pop.sum()).astype(int)
    return write_release(tmp, tables,
                         rule="- **Disclosure rule**: counts 1\u20134 suppressed")


def _population(persons: pd.DataFrame, spec: dict) -> pd.Series:
    pop = persons.groupby("municipality").size()
    return pop + pd.Series(spec["extra"][: len(pop)], index=pop.index)


def _protect_jointly(base: pd.DataFrame,
                     populations: pd.Series | None = None) -> dict[str, pd.DataFrame]:
    a, b, m = suppress_linked_tables(
        base, [LinkedTable(("age_a", "sex")), LinkedTable(("age_b",)),
               LinkedTable(("municipality",), populations=populations)],
        count_col="n", rule=RULE)
    return {"age_sex": _released(a.released, ["age_a", "sex"]).rename(
                columns={"age_a": "age_band"}),
            "age": _released(b.released, ["age_b"]).rename(columns={"age_b": "age_band"}),
            "municipality": _released(m.released, ["municipality"])}


def _protect_one_by_one(base: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out = {}
    for name, dims in (("age_sex", ["age_a", "sex"]), ("age", ["age_b"]),
                       ("municipality", ["municipality"])):
        cells = base.groupby(dims, as_index=False)["n"].sum()
        res = suppress_table(cells, dims, count_col="n", rule=RULE)
        out[name] = _released(res.released, dims).rename(
            columns={"age_a": "age_band", "age_b": "age_band"})
    return out


def _sound(attack: OutsiderAttack, truth: dict) -> None:
    for r in attack.intervals.itertuples(index=False):
        true = truth[(r.table, r.cell)]
        assert r.lower - 1e-6 <= true <= r.upper + 1e-6, (r.table, r.cell, true, r)


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(studies())
def test_joint_protection_leaves_nothing_to_find(
        tmp_path_factory: pytest.TempPathFactory, spec: dict) -> None:
    persons = _persons(spec)
    tables = _protect_jointly(_base(persons, spec))
    out = _write(tmp_path_factory.mktemp("j"), tables, persons, spec, population=False)
    attack = run_attack(out)
    _sound(attack, _truth(persons, spec))
    found = attack.findings[attack.findings["kind"] == "interval"]
    assert found.empty, found.to_string()


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(studies())
def test_attack_is_sound_on_tables_protected_one_by_one(
        tmp_path_factory: pytest.TempPathFactory, spec: dict) -> None:
    persons = _persons(spec)
    tables = _protect_one_by_one(_base(persons, spec))
    attack = run_attack(_write(tmp_path_factory.mktemp("s"), tables, persons, spec))
    _sound(attack, _truth(persons, spec))


# Found by the generator (120 random studies: 33 leak when protected one by one, none jointly).
BAND_CUTS = {"n": 127, "seed": 1595815398, "cuts_a": [60, 65, 70, 80, 85],
             "cuts_b": [65, 75, 85, 90], "n_muni": 3, "extra": [1, 1, 6]}
POPULATION_BOUND = {"n": 116, "seed": 1728730614, "cuts_a": [75, 80],
                    "cuts_b": [60, 65, 80, 90], "n_muni": 2, "extra": [0, 0]}


def test_tables_protected_one_by_one_leak_across_band_cuts(tmp_path: Path) -> None:
    """Issue 13's failure mode: 'Under 65' and '60-64' hidden in two tables, pinned together."""
    persons = _persons(BAND_CUTS)
    base = _base(persons, BAND_CUTS)
    alone = _protect_one_by_one(base)
    attack = run_attack(_write(tmp_path / "s", alone, persons, BAND_CUTS, population=False))
    _sound(attack, _truth(persons, BAND_CUTS))
    pinned = {(r.table, r.cell): r.lower for r in attack.findings.itertuples()
              if r.kind == "interval"}
    assert pinned[("age", "age_band=Under 65")] == 1
    assert pinned[("age_sex", "age_band=60-64, sex=male")] == 1
    # each table alone is safe; protected jointly, the pair is too
    for name in alone:
        single = run_attack(write_release(tmp_path / name, {name: alone[name]}))
        assert single.findings.empty
    joint = _protect_jointly(base)
    assert run_attack(_write(tmp_path / "j", joint, persons, BAND_CUTS,
                             population=False)).findings.empty


def test_joint_protection_with_published_populations(tmp_path: Path) -> None:
    """Two municipalities whose populations equal their counts: the populations are
    public upper bounds, and the audit takes them as such."""
    persons = _persons(POPULATION_BOUND)
    base = _base(persons, POPULATION_BOUND)
    # without the populations the joint protection leaves them pinnable
    blind = run_attack(_write(tmp_path / "b", _protect_jointly(base), persons,
                              POPULATION_BOUND))
    assert not blind.findings.empty
    tables = _protect_jointly(base, _population(persons, POPULATION_BOUND))
    attack = run_attack(_write(tmp_path / "j", tables, persons, POPULATION_BOUND))
    _sound(attack, _truth(persons, POPULATION_BOUND))
    assert attack.findings.empty, attack.findings.to_string()
