"""The outsider's attack on every shipped study, run on synthetic deliveries.

Each seed's delivery (scale 0.005) goes through every shipped study; the attack
and the release check read only what ``kprlink run`` puts in ``OUT/release/``
(or, before the release/checker split, the tables and report in ``OUT``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import kprlink as kl
from kprlink.disclosure.outsider import check_release, run_attack
from kprlink.study import run_study

SEEDS = [2017, 1, 2, 3, 4]
SCALE = 0.005
#: studies of several calendar years run on a multi-year delivery of the same seed
MULTI_YEAR = {"dementia_trend_2016_2024": (2016, 2017, 2018, 2019)}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=SEEDS, ids=lambda s: f"seed{s}")
def released(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, Path | Exception]:
    """Every shipped study run on one seed's delivery: name -> output folder (or the error)."""
    root = tmp_path_factory.mktemp(f"seed{request.param}")
    data = root / "data"
    kl.generate_delivery(data, kl.SynthConfig(scale=SCALE, seed=request.param))
    out: dict[str, Path | Exception] = {}
    for name in kl.shipped_studies():
        source = data
        if name in MULTI_YEAR:
            from kprlink.synth.years import generate_years

            source = root / f"data_{name}"
            generate_years(source, kl.SynthConfig(scale=SCALE, seed=request.param),
                           years=MULTI_YEAR[name])
        try:
            run_study(name, data=source, out=root / name, work=root / "work")
            out[name] = root / name
        except kl.KprlinkError as err:  # a refused release leaves nothing to attack
            out[name] = err
    return out


@pytest.mark.parametrize("name", kl.shipped_studies())
def test_outsider_finds_nothing(name: str, released: dict[str, Path | Exception]) -> None:
    out = released[name]
    if isinstance(out, Exception):
        pytest.fail(f"{name}: the run failed: {out}")
    findings = check_release(out)
    shown = findings.drop_duplicates(["table", "kind"]).head(20)
    assert findings.empty, "\n" + shown.to_string()


def test_the_attack_reads_every_table(released: dict[str, Path | Exception]) -> None:
    """Whatever main's layout, the attack parses every released table of every study."""
    for out in released.values():
        if isinstance(out, Exception):
            continue
        rel = out / "release" if (out / "release").is_dir() else out
        n_csv = len(list((rel / "tables").glob("*.csv")))
        attack = run_attack(out)
        hidden = sum(int(pd.read_csv(p, dtype=str, keep_default_na=False)["n"]
                         .str.fullmatch(r"\d+").eq(False).sum())
                     for p in (rel / "tables").glob("*.csv"))
        assert n_csv and (attack.intervals["column"] == "n").sum() == hidden
