"""Figures: drawn from released tables only, suppressed cells never get a bar."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Rectangle

import kprlink as kl

BANDS = list(kl.AgeBands.reference_dementia().labels)


def _released():
    """A released share table as release_rates gives it (margins, status, NA shares)."""
    rows = []
    for i, band in enumerate(["Total", *BANDS]):
        for sex in ("Total", "female", "male"):
            hidden = band == "60-64" and sex != "Total" or (band == "Under 60" and sex == "male")
            share = np.nan if hidden else 0.5 + i * (1.2 if sex == "female" else 1.0)
            rows.append({"age_band": band, "sex": sex, "n": pd.NA if hidden else 10 + i,
                         "population": 1000, "status": "secondary" if hidden else "published",
                         "share": share, "share_lower": share - 0.2, "share_upper": share + 0.2})
    df = pd.DataFrame(rows)
    df["age_band"] = pd.Categorical(df["age_band"], categories=["Total", *BANDS], ordered=True)
    df["n"] = df["n"].astype("Int64")
    return df


def _bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_height() > 0]


def test_share_by_age_sex_draws_no_bar_for_suppressed_cells(tmp_path):
    rel = _released()
    before = rel.copy()
    fig = kl.plot_share_by_age_sex(rel)
    pd.testing.assert_frame_equal(rel, before)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == BANDS
    assert len(_bars(ax)) == 16 - 3  # 8 bands x 2 sexes, three suppressed
    marks = [t for t in ax.texts if t.get_text() == ":"]
    assert len(marks) == 3
    assert any("suppressed" in t.get_text() for t in fig.texts)
    assert ax.get_legend() is not None
    png = kl.save_figure(fig, tmp_path / "share.png")
    svg = kl.save_figure(fig, tmp_path / "share.svg")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()


def test_figures_are_byte_reproducible(tmp_path):
    digests = []
    for run in range(2):
        fig = kl.plot_share_by_age_sex(_released())
        for ext in ("png", "svg"):
            data = kl.save_figure(fig, tmp_path / f"f{run}.{ext}").read_bytes()
            digests.append(hashlib.sha256(data).hexdigest())
    assert digests[0] == digests[2] and digests[1] == digests[3]


def test_plots_refuse_a_table_that_bypasses_suppression():
    rel = _released()
    leaked = rel.copy()
    leaked.loc[leaked["status"] != "published", "share"] = 0.3  # true value put back
    with pytest.raises(kl.DisclosureError) as err:
        kl.plot_share_by_age_sex(leaked)
    assert err.value.problems == ["column 'share' has a value in a suppressed cell"]
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.plot_share_by_age_sex(rel.drop(columns="status"))
    assert err.value.missing == ["status"]
    with pytest.raises(kl.DisclosureError):
        kl.plot_ranked_bars(leaked, value_col="share", label_col="age_band")
    leaked_n = rel.astype({"n": "float"}).fillna({"n": 2})
    with pytest.raises(kl.DisclosureError):
        kl.plot_funnel(leaked_n.assign(location_code=leaked_n["age_band"].astype(str)))


def test_share_plot_without_intervals_and_missing_column():
    rel = _released()
    fig = kl.plot_share_by_age_sex(rel, lower_col=None, upper_col=None)
    assert len(_bars(fig.axes[0])) == 13
    with pytest.raises(kl.MissingColumnsError) as err:
        kl.plot_share_by_age_sex(rel.drop(columns="sex"))
    assert err.value.missing == ["sex"]


def _counties():
    return pd.DataFrame({
        "location_code": ["Total", "county_nor03", "county_nor11", "county_nor50", "county_nor18"],
        "n": pd.array([400, 150, 120, pd.NA, 130], dtype="Int64"),
        "population": [20000, 7000, 5000, 60, 7940],
        "status": ["published", "published", "published", "primary", "published"],
    })


def test_funnel_plots_published_units_only():
    fig = kl.plot_funnel(_counties())
    ax = fig.axes[0]
    offsets = ax.collections[0].get_offsets()
    assert len(offsets) == 3  # the suppressed county and the total are not drawn
    assert sorted(np.asarray(offsets)[:, 0].tolist()) == [5000, 7000, 7940]
    assert ax.get_xscale() == "log"
    assert any("1 unit(s) not shown" in t.get_text() for t in fig.texts)
    # centre line at the released national share (2 %)
    centre = [ln for ln in ax.lines if np.allclose(ln.get_ydata(), 2.0)]
    assert centre


def test_funnel_all_suppressed_needs_target():
    c = _counties().iloc[3:4]
    with pytest.raises(kl.SpecError):
        kl.plot_funnel(c)
    assert kl.plot_funnel(c, target=0.02).axes


def test_ranked_bars_order_and_gaps(tmp_path):
    df = _counties().assign(share=lambda d: d["n"].astype("Float64") / d["population"] * 100)
    fig = kl.plot_ranked_bars(df, value_col="share", label_col="location_code",
                              xlabel="Percent")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["county_nor50", "county_nor18", "county_nor03", "county_nor11"]
    widths = [p.get_width() for p in ax.patches]
    assert widths == sorted(widths) and len(widths) == 3
    assert kl.save_figure(fig, tmp_path / "c.svg").stat().st_size > 2_000


def test_save_figure_bad_suffix(tmp_path):
    with pytest.raises(kl.SpecError):
        kl.save_figure(kl.plot_ranked_bars(_counties(), value_col="n",
                                           label_col="location_code"), tmp_path / "x.pdf")


def test_share_plot_accepts_text_bands_and_share_pct():
    rel = _released()
    text = rel.astype({"age_band": "string"}).rename(columns={"share": "share_pct"}).drop(
        columns=["share_lower", "share_upper"]).sample(frac=1, random_state=1)
    fig = kl.plot_share_by_age_sex(text)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == BANDS
    assert len(_bars(ax)) == 13 and not ax.lines


# --- figure kinds a journal would take: order, labels, marks, captions --------------------

def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]


def _chapters():
    chapters = ["IV Endocrine", "IX Circulatory", "V Mental", "XIX Injury", "XXI Health services",
                "I Infectious", "II Neoplasms"]  # text order, as a CSV would sort them
    n = [8, 20, pd.NA, 0, 12, 5, pd.NA]
    return pd.DataFrame({
        "chapter": pd.array(["Total", *chapters, "no hospital episode"], dtype="string"),
        "n": pd.array([60, *n, 15], dtype="Int64"),
        "share_pct": pd.array([100.0, *[np.nan if v is pd.NA else v / 60 * 100 for v in n],
                               25.0], dtype="Float64"),
        "status": ["published", *["primary" if v is pd.NA else "published" for v in n],
                   "published"]})


def test_bars_icd10_chapters_in_chapter_order_with_marks_and_labels():
    rel = _chapters()
    before = rel.copy()
    fig = kl.plot_bars(rel, dims=["chapter"], value_col="share_pct")
    pd.testing.assert_frame_equal(rel, before)
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_yticklabels()]  # many bars: horizontal
    assert ticks == ["I Infectious", "II Neoplasms", "IV Endocrine", "V Mental", "IX Circulatory",
                     "XIX Injury", "XXI Health services", "No hospital episode"]
    assert ax.get_ylabel() == "ICD-10 chapter of the main diagnosis"
    assert ax.get_xlabel() == "Percent"
    marks = [t.get_text() for t in ax.texts]
    assert marks.count(":") == 2 and marks.count("0") == 1  # suppressed vs a true zero
    widths = {lab: p.get_width() for lab, p in zip(ticks, ax.patches, strict=True)}
    assert widths["V Mental"] == 0 and widths["IX Circulatory"] == pytest.approx(100 / 3)
    assert any("suppressed" in t and "0 none" in t for t in _texts(fig))


def test_bars_care_staircase_in_its_order_and_vertical():
    steps = ["long-term stay", "home health care", "no municipal service", "safety alarm"]
    rel = pd.DataFrame({"care_step": ["Total", *steps], "n": pd.array([30, 9, pd.NA, 12, 0],
                                                                        dtype="Int64"),
                        "status": ["published", "published", "primary", "published",
                                   "published"]})
    fig = kl.plot_bars(rel, dims=["care_step"], value_col="n")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "No municipal service", "Safety alarm", "Home health care", "Long-term stay"]
    assert ax.get_xlabel() == "Highest step of the care staircase"
    assert ax.get_ylabel() == "Persons"
    heights = [p.get_height() for p in ax.patches]
    assert heights == [12, 0, 0, 9]
    assert sorted(t.get_text() for t in ax.texts) == ["0", ":"]


def test_bars_drop_an_empty_panel_and_name_sex_and_counties():
    rows = []
    for tech in ("Safety alarm", "GPS"):
        for county in ("03", "11"):
            for sex in ("female", "male"):
                hidden = tech == "GPS"
                rows.append({"technology": tech, "county": county, "sex": sex,
                             "n": pd.NA if hidden else 10 + len(rows),
                             "status": "primary" if hidden else "published"})
    rel = pd.DataFrame(rows).astype({"n": "Int64"})
    fig = kl.plot_bars(rel, dims=["technology", "county", "sex"], value_col="n",
                       names={"county": {"03": "Oslo", "11": "Rogaland"}})
    assert len(fig.axes) == 1  # the all-suppressed GPS panel is not drawn
    ax = fig.axes[0]
    assert ax.get_title() == "Safety alarm"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Oslo", "Rogaland"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Women", "Men"]
    assert ax.get_legend().get_title().get_text() == "Sex"
    assert any("GPS" in t and "Not shown" in t for t in _texts(fig))


def test_bars_all_suppressed_keeps_a_positive_axis():
    rel = pd.DataFrame({"county": ["Total", "03"], "n": pd.array([pd.NA, pd.NA], dtype="Int64"),
                        "status": ["primary", "primary"]})
    ax = kl.plot_bars(rel, dims=["county"], value_col="n").axes[0]
    assert ax.get_ylim() == (0.0, 1.0)
    assert [t.get_text() for t in ax.texts] == [":"]


def test_share_plot_names_the_interval_method_and_marks_zero():
    rel = _released()
    top = rel["age_band"].astype(str) == "90+"
    rel.loc[top, ["share", "share_lower"]] = 0.0
    fig = kl.plot_share_by_age_sex(rel)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Age (years)" and ax.get_ylabel() == "Percent of population"
    assert any("95 % Wilson score interval" in t.get_text() for t in fig.texts)
    assert [t.get_text() for t in ax.texts].count("0") == 2


def test_funnel_limits_are_smooth_and_the_centre_line_labelled():
    fig = kl.plot_funnel(_counties(), xlabel="Population aged 65+ (persons)")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["95 % limits", "99.8 % limits", "National share: 2.00 %",
                      "Unit (published)"]
    assert ax.get_xlabel() == "Population aged 65+ (persons)" and ax.get_ylabel() == "Percent"
    upper = ax.lines[1]  # the 95 % upper limit
    x, y = upper.get_xdata(), upper.get_ydata()
    assert len(x) >= 200 and np.all(np.diff(y) < 0)  # falls steadily with the population
    step = np.abs(np.diff(y, 2))
    assert step.max() < 0.05 * (y.max() - y.min())  # no saw teeth
    assert any("exact binomial" in t.get_text() for t in fig.texts)


def test_smooth_limit_passes_through_the_interpolated_exact_limits():
    from kprlink.plots.funnel import smooth_binomial_limit

    n = np.array([50.0, 1000.0])
    exact = kl.funnel_limits(n, target=0.1, levels=[0.95])
    for side, q in (("lower", 0.025), ("upper", 0.975)):
        smooth = smooth_binomial_limit(n, 0.1, q)
        assert np.allclose(smooth, exact[f"{side}_0.95"], atol=0.6 / n)


def test_ranked_bars_show_names():
    df = _counties().assign(share=lambda d: d["n"].astype("Float64") / d["population"] * 100)
    fig = kl.plot_ranked_bars(df, value_col="share", label_col="location_code", xlabel="Percent",
                              names={"county_nor03": "Oslo", "county_nor50": "Trøndelag"})
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[0] == "Trøndelag" and "Oslo" in labels


def test_share_plot_takes_release_rates_output_with_float_noise_in_bounds():
    # Wilson's lower bound for 0 of n can come back as 8.7e-17, a hair above the share
    rel = _released()
    zero = (rel["age_band"].astype(str) == "90+") & (rel["sex"] == "male")
    rel.loc[zero, ["share", "share_lower"]] = [0.0, 8.673617e-17]
    fig = kl.plot_share_by_age_sex(rel)
    assert [t.get_text() for t in fig.axes[0].texts].count("0") == 1


def test_curve_figure_labels_units_method_and_no_empty_axes():
    from kprlink import _report

    rel = pd.DataFrame({"group": ["dementia", "dementia", "no dementia"],
                        "time": [30.0, 90.0, np.nan], "estimate": [0.1, 0.2, np.nan],
                        "lower": [0.05, 0.1, np.nan], "upper": [0.2, 0.3, np.nan]})
    fig = _report.curve_figure(rel, group_col="group")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Days since the index date"
    assert ax.get_ylabel() == "Cumulative incidence (proportion)"
    assert ax.get_ylim()[0] == 0 and ax.get_xlim()[0] == 0
    assert any("95 % confidence interval" in t.get_text() for t in fig.texts)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["dementia", "no dementia (not shown: too few persons or events)"]
    empty = _report.curve_figure(rel[rel["group"] == "no dementia"], group_col="group").axes[0]
    assert empty.get_xlim() == (0.0, 1.0) and empty.get_ylim() == (0.0, 1.0)
    assert any("No curve can be shown" in t.get_text() for t in empty.texts)
