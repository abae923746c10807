"""The section API of notebooks 03-05 (:mod:`analysis.studies.annual.notebook`).

On a small fake panel (``tests/annual_fixture.py``, real layer, two outcomes):
what each section shows and in which order, the builders' tables and figure
sizes, how ``_emit`` shows each kind of item, and that the notebooks call the
sections rather than repeating their code.
"""

from __future__ import annotations

import dataclasses
import re

import jupytext
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis.data.paths import NOTEBOOKS_DIR
from analysis.errors import InputError
from analysis.studies import annual_did as ad
from analysis.studies.annual import notebook as nb
from tests.annual_fixture import fake_panel

OUTCOMES = ("log_rd", "log_employment")
NOTEBOOKS = ("03_income.py", "04_employment.py", "05_rd_and_output.py")


@pytest.fixture(scope="module")
def study():
    data = ad.from_frame(fake_panel(2, layer="real"))
    analyses = {o: ad.analyse(data, o, draws=19, power=False) for o in OUTCOMES}
    return data, analyses


@pytest.fixture
def shown(monkeypatch):
    """What the sections show, in order (figures closed after they are recorded)."""
    items: list = []
    monkeypatch.setattr(nb, "_emit", items.append)
    yield items
    for x in items:
        if isinstance(x, Figure):
            plt.close(x)


def kinds(items) -> list[str]:
    return [
        "str"
        if isinstance(x, str)
        else "table"
        if isinstance(x, pd.DataFrame)
        else "figure"
        if isinstance(x, Figure)
        else type(x).__name__
        for x in items
    ]


# ----------------------------------------------------------------- builders
def test_estimates_table_drops_the_note_and_rounds(study):
    _, analyses = study
    a = analyses["log_rd"]
    for sample, full in (("all", a.main), ("mountain", a.mountain)):
        t = nb.estimates_table(a, sample)
        assert "note" in full and "note" not in t
        assert list(t.columns) == [c for c in full.columns if c != "note"]
        assert list(t["estimator"]) == list(full["estimator"])
        pd.testing.assert_series_equal(t["att"], full["att"].round(4))
        assert (t["att"].dropna() != full["att"].dropna()).any()  # rounding did something
    assert not nb.estimates_table(a).equals(nb.estimates_table(a, "mountain"))
    with pytest.raises(InputError, match="unknown sample"):
        nb.estimates_table(a, "coastal")


@pytest.mark.parametrize("name", ["plot_timing", "plot_overlay", "plot_bacon", "plot_estimates"])
def test_figure_has_the_notebook_size_or_draws_on_the_given_axes(study, name):
    data, analyses = study
    plot = getattr(ad, name)
    args = (data,) if name == "plot_timing" else (data, analyses["log_rd"])
    fig = nb.figure(plot, *args)
    try:
        assert isinstance(fig, Figure)
        assert tuple(fig.get_size_inches()) == pytest.approx(nb.FIGSIZE[name])
        assert fig.axes[0].get_title().endswith(f"[{data.short}]")  # the layer, from the study
    finally:
        plt.close(fig)
    own, ax = plt.subplots(figsize=(3, 2))
    try:
        assert nb.figure(plot, *args, ax=ax) is own
        assert tuple(own.get_size_inches()) == pytest.approx((3, 2))
    finally:
        plt.close(own)


def test_honest_figure_has_two_panels(study):
    data, analyses = study
    fig = nb.figure(ad.plot_honest, data, analyses["log_rd"])
    try:
        assert len(fig.axes) == 2
        assert tuple(fig.get_size_inches()) == pytest.approx(nb.FIGSIZE["plot_honest"])
        titles = [ax.get_title() for ax in fig.axes]
        assert "relative magnitude" in titles[0] and "smoothness" in titles[1]
    finally:
        plt.close(fig)


# ----------------------------------------------------------------- sections
def test_estimates_section_sentence_table_figure_per_outcome(study, shown):
    data, analyses = study
    nb.show_estimates(data, analyses)
    assert kinds(shown) == ["str", "table", "figure"] * len(OUTCOMES)
    for j, a in enumerate(analyses.values()):
        s, t, f = shown[3 * j : 3 * j + 3]
        assert s == ad.estimates_sentence(data, a)
        assert t.equals(nb.estimates_table(a))
        assert a.label in f.axes[0].get_title() and "event studies" in f.axes[0].get_title()


def test_design_and_timing_sections(study, shown):
    data, _ = study
    nb.show_design(data)
    nb.show_timing(data)
    assert kinds(shown) == ["str", "table", "figure"]
    assert shown[0] == "\n".join(ad.design(data).lines())
    assert shown[1].equals(ad.design(data).cohorts)
    assert "first enclave year" in shown[2].axes[0].get_title()


def test_table_sections_label_each_outcome(study, shown):
    data, analyses = study
    labels = [a.label for a in analyses.values()]
    nb.show_mountain(analyses)
    assert kinds(shown) == ["str", "table"] * 2 and shown[::2] == labels
    assert shown[1].equals(nb.estimates_table(analyses[OUTCOMES[0]], "mountain"))
    shown.clear()
    nb.show_heterogeneity(analyses)
    assert kinds(shown) == ["str", "table"] * 2 and shown[::2] == labels
    assert shown[3].equals(ad.show(analyses[OUTCOMES[1]].heterogeneity))
    shown.clear()
    nb.show_inference(data, analyses)
    # one table per outcome, then which inference to trust (from the first outcome's table)
    assert kinds(shown) == ["str", "table"] * 2 + ["str"] and shown[:-1:2] == labels
    assert shown[-1] == ad.trust_sentence(ad.design(data), analyses[OUTCOMES[0]].inference)


def test_bacon_and_sensitivity_sections(study, shown):
    data, analyses = study
    nb.show_bacon(data, analyses)
    assert kinds(shown) == ["str", "table", "figure"] * 2
    assert shown[0] == ad.bacon_sentence(data, analyses[OUTCOMES[0]])
    assert shown[1].equals(ad.show(analyses[OUTCOMES[0]].bacon_table))
    assert "Goodman-Bacon" in shown[2].axes[0].get_title()
    shown.clear()
    nb.show_sensitivity(data, analyses)
    assert kinds(shown) == ["str", "table", "table", "figure"] * 2
    a = analyses[OUTCOMES[1]]
    assert shown[4] == ad.honest_sentence(data, a)
    assert shown[5].equals(ad.show(a.pretrends))
    assert shown[6].equals(ad.show(ad.honest_table(a.honest)))
    assert len(shown[7].axes) == 2


def test_truth_and_power_only_on_the_twin(study, shown):
    data, analyses = study
    nb.show_truth_and_power(data, analyses)  # real layer: one line, no figure
    assert shown == [
        "REAL layer: the true effects are unknown; no truth comparison or power analysis here."
    ]
    shown.clear()
    twin = dataclasses.replace(data, layer="synthetic")
    nb.show_truth_and_power(twin, analyses)
    assert kinds(shown) == ["figure", "str"] * 2
    assert shown[1] == ad.power_sentence(twin, analyses[OUTCOMES[0]])
    assert "SYNTHETIC" in shown[0].axes[0].get_title()


def test_employment_structure_section(study, shown):
    data, _ = study
    nb.show_employment_structure(data)
    assert shown == ["employment structure: not in this layer"]
    shown.clear()
    p = data.panel.assign(employment_primary=1.0, employment_secondary=2.0, employment_tertiary=1.0)
    nb.show_employment_structure(dataclasses.replace(data, panel=p))
    assert kinds(shown) == ["str", "table"] and shown[0] == "employment structure: available"
    assert shown[1]["employment_secondary"].eq(0.5).all()


def test_family_section_shows_the_rounded_family_table(study, shown, monkeypatch):
    data, analyses = study
    seen = {}
    table = pd.DataFrame({"outcome": ["log_rd"], "p_value": [0.123456789]})

    def fake_family(d, a):
        seen["args"] = (d, a)
        return table

    monkeypatch.setattr(nb.study, "family", fake_family)
    nb.show_family(data, analyses)
    assert seen["args"] == (data, analyses)
    assert kinds(shown) == ["table"] and shown[0]["p_value"].iloc[0] == 0.1235


# -------------------------------------------------------------------- _emit
def test_emit_prints_strings_displays_tables_and_closes_figures(capsys):
    nb._emit("a sentence")
    assert capsys.readouterr().out == "a sentence\n"
    wide = pd.DataFrame({f"column_{j:02d}": [1.5] for j in range(15)})
    with pd.option_context("display.width", 80, "display.max_columns", 5):
        nb._emit(wide)  # outside a kernel IPython prints the repr
        out = capsys.readouterr().out
    assert "column_14" in out and "..." not in out  # the notebook options, not the caller's
    assert max(len(line) for line in out.splitlines()) <= nb.DISPLAY_OPTIONS["display.width"]
    fig, _ = plt.subplots()
    nb._emit(fig)
    assert not plt.fignum_exists(fig.number)
    assert "Figure" in capsys.readouterr().out
    with pytest.raises(TypeError, match="not dict"):
        nb._emit({"a": 1})


# ---------------------------------------------------------------- notebooks
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_call_the_sections_and_repeat_no_code(name):
    cells = jupytext.read(NOTEBOOKS_DIR / name).cells
    code = [c.source for c in cells if c.cell_type == "code"]
    calls = [s for s in code if s.startswith("nb.show_")]
    sections = [re.match(r"nb\.(show_\w+)\(", s).group(1) for s in calls]
    expected = [
        "show_design",
        "show_timing",
        "show_estimates",
        "show_mountain",
        "show_bacon",
        "show_sensitivity",
        "show_inference",
        "show_heterogeneity",
        "show_family",
        "show_truth_and_power",
    ]
    if name.startswith("04"):
        expected.insert(expected.index("show_family"), "show_employment_structure")
    assert sections == expected
    assert all(s.count("\n") == 0 for s in calls), "one call per section cell"
    assert set(nb.FIGURE_SECTIONS) <= set(sections)
    assert set(sections) <= set(nb.__all__)
    # besides the parameters and set-up cells, no code of its own: no loops, no plotting
    assert len(code) == 2 + len(calls)
    body = "\n".join(code)
    assert not re.search(r"(?m)^\s*(for|while|if|def|class) ", body)
    for banned in ("plt.", "display(", "subplots(", "set_option"):
        assert banned not in body, banned
    # every section has its prose: a markdown cell precedes each section call but the timing picture
    kinds_ = [c.cell_type for c in cells]
    for j, c in enumerate(cells):
        if (
            c.cell_type == "code"
            and c.source.startswith("nb.show_")
            and "show_timing" not in c.source
        ):
            assert kinds_[j - 1] == "markdown", c.source
