"""The Python API forgives: build_cohort takes paths and mappings; results render in Jupyter."""

from __future__ import annotations

import pytest

from kprlink.codes import CodeList
from kprlink.cohorts import CohortDefinition, build_cohort
from kprlink.demography import AgeBands
from kprlink.disclosure import SuppressionRule
from kprlink.exceptions import SpecError
from kprlink.linkage import LinkageSpec
from test_cohorts import delivery, reference


def test_build_cohort_takes_a_toml_path_or_mapping(tmp_path):
    d = reference()
    want = build_cohort(delivery(), d)
    path = d.to_toml(tmp_path / "cohort.toml")
    for form in (path, str(path), d.to_dict()):
        got = build_cohort(delivery(), form)
        assert got.definition.digest == d.digest
        assert got.persons["person_id"].tolist() == want.persons["person_id"].tolist()


def test_build_cohort_names_a_bad_definition(tmp_path):
    with pytest.raises(SpecError) as err:
        build_cohort(delivery(), tmp_path / "missing.toml")
    assert err.value.problems[0].reason == "not_found"
    with pytest.raises(SpecError) as err:
        build_cohort(delivery(), 42)
    assert err.value.problems[0].reason == "wrong_type"



def test_results_render_counts_and_digests_never_ids():
    res = build_cohort(delivery(), reference())
    out = res._repr_html_()
    assert res.definition.digest in out and "attrition" in out
    assert f"<td style='text-align:left'>{len(res.persons):,}</td>" in out
    # no person-level column appears in any rendered table
    for col in ("person_id", "kpr_id", "npr_id", "index_date"):
        assert f"<th>{col}</th>" not in out
    link = res.linkage._repr_html_()
    assert "report" in link and "linked" in link
    for col in ("person_id", "kpr_id", "npr_id"):
        assert f"<th>{col}</th>" not in link


@pytest.mark.parametrize("obj", [
    CodeList("dementia", "ICD-10", ["F00-F03", "G30"]),
    SuppressionRule(max_n=4),
    AgeBands.from_breaks([0, 18, 65]),
    LinkageSpec.febrl(),
])
def test_definitions_render_with_digest(obj):
    out = obj._repr_html_()
    assert out.startswith("<div") and type(obj).__name__ in out
    if hasattr(obj, "digest"):
        assert obj.digest in out


def test_cohort_definition_renders_its_entry_and_digest():
    d = reference()
    out = d._repr_html_()
    assert d.digest in out and "EntryCriterion" in out and d.name in out


def test_card_refuses_id_columns():
    import pandas as pd

    from kprlink._html import card

    with pytest.raises(ValueError, match="person_id"):
        card("x", tables=[("t", pd.DataFrame({"person_id": [1]}))])
