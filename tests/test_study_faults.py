"""Studies on imperfect deliveries and specs (issue 17, items 3, 6 and 7).

* ``provenance.json`` records every exclusion by file and reason;
* more persons in a cell than its population on 1 January never aborts a study;
* unknown table parameters and paths outside the study folder are refused (exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kprlink as kl
from kprlink.sources import import_delivery, read_delivery
from kprlink.study import run_study


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "d"
    kl.generate_delivery(out, kl.SynthConfig(scale=0.002, seed=2017))  # 1 % defects
    return out


def _expected_exclusions(folder: Path) -> dict[str, dict[str, int]]:
    reasons = read_delivery(folder).report.reasons
    exc = reasons[reasons["action"] == "excluded"]
    out: dict[str, dict[str, int]] = {}
    for r in exc.itertuples():
        out.setdefault(r.file, {})
        out[r.file][r.reason] = out[r.file].get(r.reason, 0) + int(r.n_rows)
    return out


def _provenance_file(out: Path) -> dict:
    path = next(p for p in (out / "checker" / "provenance.json", out / "provenance.json")
                if p.is_file())
    return json.loads(path.read_text(encoding="utf-8"))


def test_provenance_records_every_exclusion_by_file_and_reason(delivery, tmp_path):
    expected = _expected_exclusions(delivery)
    assert sum(len(v) for v in expected.values()) >= 3  # the synthetic defects
    res = run_study("welfare_technology_2017", data=delivery, out=tmp_path / "o",
                    work=tmp_path / "w")
    assert res.provenance["delivery_exclusions"] == expected
    assert _provenance_file(tmp_path / "o")["delivery_exclusions"] == expected
    # an imported delivery records the same (from its stored report)
    import_delivery(delivery, tmp_path / "imp")
    res2 = run_study("welfare_technology_2017", data=tmp_path / "imp", out=tmp_path / "o2",
                     work=tmp_path / "w2")
    assert res2.provenance["delivery_exclusions"] == expected
