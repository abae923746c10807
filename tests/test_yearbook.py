"""The yearbook layer: template, schema, check (CLI), partial real file, layer selection."""

from __future__ import annotations

import csv
import shutil

import pandas as pd
import pytest

from analysis.cli import main
from analysis.data import annual, sources, twin, yearbook
from analysis.data.build import check_long_panel, check_panel_file
from analysis.errors import InputError

TEMPLATE = yearbook.YEARBOOK_DIR / yearbook.TEMPLATE_NAME
PARTIAL = yearbook.YEARBOOK_DIR / yearbook.PARTIAL_NAME


def test_template_has_exactly_the_twin_columns():
    header = next(csv.reader(TEMPLATE.open(encoding="utf-8")))
    assert header == list(twin.COLUMNS)
    assert list(twin.build_twin().panel.columns) == header


def test_template_and_partial_file_pass_the_check(capsys):
    assert check_panel_file(TEMPLATE) == []
    assert check_panel_file(PARTIAL) == []
    assert main(["data", "check", str(TEMPLATE)]) == 0
    assert main(["data", "check", str(PARTIAL)]) == 0
    assert "OK" in capsys.readouterr().out


def _broken_copy(tmp_path):
    rows = list(csv.reader(PARTIAL.open(encoding="utf-8")))
    h = rows[0]
    rows[3][h.index("gdp")] = "-5"  # line 4
    rows[4][h.index("urbanisation")] = "140"  # line 5
    rows[5][h.index("code")] = "999999"  # line 6
    rows[6][h.index("source")] = ""  # line 7
    rows[7][h.index("urban_income")] = "abc"  # line 8
    rows[8][h.index("data_layer")] = "synthetic"  # line 9
    rows[9][h.index("budget_revenue")] = "500"  # line 10 (above fiscal revenue)
    rows[9][h.index("fiscal_revenue")] = "10"
    rows.append(rows[2])  # duplicate of line 3
    p = tmp_path / "broken" / "yearbook_broken.csv"
    p.parent.mkdir()
    with p.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return p


def test_broken_copy_every_problem_with_its_line(tmp_path, capsys):
    p = _broken_copy(tmp_path)
    before = sorted(x.name for x in p.parent.iterdir())
    problems = check_panel_file(p)
    text = "\n".join(problems)
    assert "'gdp'" in text and "negative" in text and "line 4" in text
    assert "'urbanisation'" in text and "outside 0-100" in text and "line 5" in text
    assert "not a county-level code of 2022" in text and "999999" in text and "line 6" in text
    assert "empty source" in text and "line 7" in text
    assert "non-numeric" in text and "'abc'" in text and "line 8" in text
    assert "'data_layer'" in text and "line 9" in text
    assert "budget revenue above total fiscal revenue" in text and "10" in text
    assert "duplicate county-year" in text and "lines 3" in text
    assert len(problems) == 8
    assert main(["data", "check", str(p)]) == 2
    err = capsys.readouterr().err
    assert "8 problem(s) found" in err and "Traceback" not in err
    assert sorted(x.name for x in p.parent.iterdir()) == before  # nothing written


def test_missing_template_column_is_named(tmp_path):
    df = pd.read_csv(PARTIAL, dtype=str).drop(columns=["employment"])
    p = tmp_path / "yb.csv"
    df.to_csv(p, index=False)
    assert yearbook.check_yearbook_file(p) == ["required column 'employment' is missing"]


def test_partial_file_is_what_the_keying_function_produces():
    shipped = pd.read_csv(PARTIAL, dtype=str, keep_default_na=False)
    fresh = yearbook.key_bulletin_figures()
    tmp = fresh.to_csv(index=False, float_format="%.12g")
    from io import StringIO

    again = pd.read_csv(StringIO(tmp), dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(shipped, again)


def test_every_cited_county_figure_is_keyed_with_its_url():
    yb = pd.read_csv(PARTIAL, dtype={"source": str, "note": str})
    bf = sources.load_bulletin_figures()
    keyed = sources.BULLETIN_COLUMNS
    for r in bf.itertuples():
        ad = str(r.adcode)
        if "+" in ad or ad in ("330000", "330800", "331100"):
            continue
        row = yb[(yb["code"] == int(ad)) & (yb["year"] == r.year)]
        assert len(row) == 1, (r.county, r.year)
        row = row.iloc[0]
        assert r.source in row["source"], (r.county, r.year, r.variable)
        if r.variable in keyed:
            assert row[keyed[r.variable]] == pytest.approx(r.value), (r.county, r.variable)
        else:
            assert r.variable in row["note"]


def test_loader_fills_registry_and_treatment_and_labels_real():
    df = yearbook.load_yearbook(PARTIAL)
    assert list(df.columns) == list(twin.COLUMNS)
    assert (df["data_layer"] == "real").all() and df.attrs["data_layer"] == "real"
    assert df["cohort"].notna().all() and df["prefecture"].notna().all()
    qy = df[(df["code"] == 331126) & (df["year"] == 2022)].iloc[0]
    assert qy["cohort"] == 2018 and qy["soe_cohort"] == 2021 and qy["gdp"] == 92.7
    # the twin reproduces every keyed real value it is calibrated to
    ev = twin.evaluate_targets(twin.build_twin().panel)
    county = ev[(ev["scope"] == "county") & ev["role"].isin(["pin"])]
    assert county["within"].all()


def test_layer_selection_auto_is_synthetic_without_a_complete_file():
    layer, why = annual.resolve_layer("auto")
    assert layer == "synthetic" and "bulletins_partial.csv" in why
    assert not yearbook.completeness(yearbook.load_yearbook(PARTIAL))[0]
    with pytest.raises(InputError, match="no complete real yearbook file"):
        annual.load_annual_panel("yearbook")
    with pytest.raises(InputError, match="layer must be"):
        annual.resolve_layer("census")


def test_complete_real_file_is_picked_up(tmp_path, monkeypatch):
    d = tmp_path / "yearbook"
    d.mkdir()
    shutil.copy(TEMPLATE, d / yearbook.TEMPLATE_NAME)
    full = twin.build_twin().panel.copy()  # stands in for a keyed yearbook
    full["data_layer"] = "real"
    full["source"] = "test fixture (not data)"
    full.to_csv(d / "zz_complete.csv", index=False)
    monkeypatch.setattr(yearbook, "YEARBOOK_DIR", d)
    assert annual.resolve_layer("auto")[0] == "yearbook"
    got = annual.load_annual_panel()
    assert got.attrs["data_layer"] == "real" and len(got) == 1260
    monkeypatch.setenv(annual.LAYER_ENV, "synthetic")
    assert annual.resolve_layer("auto")[0] == "synthetic"
    assert "ENCLAVE_LAYER" in annual.resolve_layer("auto")[1]


def test_generic_panel_check_accepts_mpdta_and_names_problems(tmp_path, capsys):
    mp = "data/raw/external/mpdta.csv"
    from analysis.data.paths import REPO_ROOT

    mp = REPO_ROOT / mp
    assert check_long_panel(mp, unit="countyreal", time="year", cohort="first.treat") == []
    assert (
        main(
            [
                "data",
                "check",
                str(mp),
                "--unit",
                "countyreal",
                "--time",
                "year",
                "--cohort",
                "first.treat",
            ]
        )
        == 0
    )
    # without --unit/--time it is checked as a Zhejiang panel: rejected with a hint
    assert main(["data", "check", str(mp)]) == 2
    assert "--unit" in capsys.readouterr().err
    df = pd.read_csv(mp).astype({"year": float})
    df.loc[3, "year"] = 2004.5
    df.loc[10, "first.treat"] = 2006  # county of row 10 now has two cohorts
    df = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    p = tmp_path / "bad.csv"
    df.to_csv(p, index=False)
    problems = check_long_panel(p, unit="countyreal", time="year", cohort="first.treat")
    text = "\n".join(problems)
    assert "whole number" in text and "line 5" in text
    assert "duplicate unit-time" in text
    assert "changes within a unit" in text
    assert check_long_panel(p, unit="county", time="year") == [
        "required column 'county' is missing"
    ]
    with pytest.raises(SystemExit) as e:
        main(["data", "check", str(p), "--unit", "countyreal"])
    assert e.value.code == 2


def test_reproduce_records_and_prints_the_layer(capsys):
    from analysis.pipeline import annual_layer, reproduce

    nums = annual_layer(None)
    assert (
        nums["annual_layer.layer"] == "synthetic" and nums["annual_layer.data_layer"] == "synthetic"
    )
    assert reproduce([], layer="synthetic") == 0
    assert "annual panel layer: synthetic" in capsys.readouterr().out
    assert reproduce([], layer="yearbook") == 2
    assert "no complete real yearbook file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "--layer", "census"])
    assert e.value.code == 2
