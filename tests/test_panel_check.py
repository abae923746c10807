"""`enclave data check FILE`: a user's county-year panel, every problem in plain words."""

from __future__ import annotations

import pandas as pd

from analysis.data.build import check_panel_file


def _write(tmp_path, df, name="panel.csv"):
    p = tmp_path / name
    df.to_csv(p, index=False)
    return p


def good_panel() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "code": [330127, 330127, 330324, 330324],
            "year": [2015, 2016, 2015, 2016],
            "population": [33.5, 33.6, 80.0, 80.1],
            "urbanisation": [50.0, 51.0, 60.0, 61.0],
            "cohort": [2019, 2019, 0, 0],
        }
    )


def test_clean_panel_has_no_problems(tmp_path):
    assert check_panel_file(_write(tmp_path, good_panel())) == []


def test_duplicate_and_negative_population_both_named(tmp_path):
    df = good_panel()
    df = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    df.loc[2, "population"] = -5
    problems = check_panel_file(_write(tmp_path, df))
    assert len(problems) == 2
    assert any("duplicate county-year" in p for p in problems)
    assert any("'population'" in p and "negative" in p and "-5" in p for p in problems)


def test_unknown_code_percent_range_cohort_change_and_text(tmp_path):
    df = good_panel().astype({"population": object})
    df.loc[0, "code"] = 999999
    df.loc[1, "urbanisation"] = 140
    df.loc[3, "cohort"] = 2018
    df.loc[2, "population"] = "abc"
    problems = "\n".join(check_panel_file(_write(tmp_path, df)))
    assert "unknown county code, e.g. 999999" in problems
    assert "'urbanisation'" in problems and "outside 0-100" in problems
    assert "cohort changes within a county" in problems
    assert "non-numeric" in problems and "'abc'" in problems


def test_missing_required_column(tmp_path):
    problems = check_panel_file(_write(tmp_path, good_panel().drop(columns="year")))
    assert problems == ["required column 'year' is missing"]
