"""The person table of an imported delivery and its first coded dates equal the linkage's."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from kprlink.codes import CodeList
from kprlink.cohorts._person_table import first_coded_dates, person_table
from kprlink.cohorts._steps import _link
from kprlink.cohorts.events import diagnosis_events, frames_of
from kprlink.sources import import_delivery


@pytest.fixture(scope="module", params=[None, 3], ids=["whole", "3 partitions"])
def imported(request, delivery_002_s11, tmp_path_factory):
    out, delivery = delivery_002_s11
    dest = tmp_path_factory.mktemp("imp") / "imp"
    import_delivery(out, dest, partitions=request.param)
    return dest, delivery, _link(frames_of(delivery)).persons


def test_person_table_equals_the_whole_linkage(imported):
    root, delivery, persons = imported
    got = person_table(root)
    for c in ("person_id", "kpr_id", "npr_id", "sex", "birth_year", "death_date"):
        pd.testing.assert_series_equal(got[c], persons[c], check_dtype=False)
    from kprlink.analyses.hip_fracture import _county

    county = _county(SimpleNamespace(delivery=delivery), persons)
    assert county.notna().sum() > 0.9 * len(county)
    mine = got["municipality"].astype("string").str.zfill(4).str.slice(0, 2)
    pd.testing.assert_series_equal(mine, county, check_names=False)


def test_first_coded_dates_equal_the_event_table(imported):
    root, delivery, persons = imported
    lists = [CodeList("dem", "ICD-10", ["F00-F03", "G30"]), CodeList("p70", "ICPC-2", ["P70"])]
    k, n = first_coded_dates(root, lists)
    assert len(k) and len(n)
    ev = diagnosis_events(delivery, persons=persons, codelists=lists)
    want = ev.groupby("person_id")["date"].min()
    by_k = k.reindex(pd.array(persons["kpr_id"]).to_numpy(np.int64, na_value=-1))
    by_n = n.reindex(pd.array(persons["npr_id"]).to_numpy(np.int64, na_value=-1))
    got = pd.Series(np.fmin(by_k.to_numpy("datetime64[ns]"), by_n.to_numpy("datetime64[ns]")),
                    index=persons["person_id"].to_numpy()).dropna()
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False,
                                   check_index_type=False)
    k_only, n_only = first_coded_dates(root, lists, sources=("npr",))
    assert k_only.empty and n_only.equals(n)
