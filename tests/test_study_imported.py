"""A study on an imported delivery (lazy frames, cohort persons' rows only) releases the
same tables as on the raw delivery."""

from __future__ import annotations

import pandas as pd
import pytest

from kprlink.analyses._registry import cohort_only
from kprlink.sources import ImportedDelivery, import_delivery, read_delivery
from kprlink.study import StudySpec, find_study, run_study
from kprlink.synth import SynthConfig, generate_delivery


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw_study")
    generate_delivery(raw, SynthConfig(scale=0.002, seed=4, fmt="parquet"))
    imp = tmp_path_factory.mktemp("imp_study") / "imp"
    import_delivery(raw, imp)
    return raw, imp


@pytest.mark.parametrize("study", ["dementia_2016_2017", "nursing_home_quality_2017",
                                   "hip_fracture_dementia_2017"])
def test_imported_delivery_releases_the_same_tables(deliveries, tmp_path, study):
    raw, imp = deliveries
    spec = StudySpec.from_toml(find_study(study))
    run_study(spec, data=raw, out=tmp_path / "a")
    run_study(spec, data=imp, out=tmp_path / "b")
    tables = sorted(p.name for p in (tmp_path / "a" / "release" / "tables").iterdir())
    assert tables
    for name in tables:
        assert (tmp_path / "a" / "release" / "tables" / name).read_bytes() == (
            tmp_path / "b" / "release" / "tables" / name).read_bytes(), name
    assert (tmp_path / "a" / "checker" / "release_log.csv").read_bytes() == (
        tmp_path / "b" / "checker" / "release_log.csv").read_bytes()


def test_dementia_study_reads_only_cohort_rows(deliveries):
    _, imp = deliveries
    spec = StudySpec.from_toml(find_study("dementia_2016_2017"))
    assert all(cohort_only(t.kind) for t in spec.tables)
    full = read_delivery(imp)
    lazy = ImportedDelivery(imp)
    pd.testing.assert_frame_equal(lazy.kuhr_claims, full.kuhr_claims)  # unrestricted
    lazy.restrict(kpr_ids=full.kuhr_claims["kpr_id"].head(50), npr_ids=[])
    assert set(lazy.kuhr_claims["kpr_id"]) == set(full.kuhr_claims["kpr_id"].head(50))
    assert lazy.kuhr_diagnoses["claim_id"].isin(lazy.kuhr_claims["claim_id"]).all()
    assert len(lazy.kuhr_diagnoses) == full.kuhr_diagnoses["claim_id"].isin(
        lazy.kuhr_claims["claim_id"]).sum()
    assert lazy.npr_episodes is not None and len(lazy.npr_episodes) == 0
    pd.testing.assert_frame_equal(lazy.population, full.population)
