"""Census loading and harmonisation (real data layer)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data import census


@pytest.fixture(scope="module")
def harmonised() -> pd.DataFrame:
    return census.harmonised_census("census")


@pytest.mark.parametrize("year", [2010, 2020])
def test_ninety_county_rows_and_full_counts(year):
    units = census.load_census(year)
    assert len(units) == 90
    assert units["code"].is_unique
    # urban + rural = total in every unit (full count)
    np.testing.assert_allclose(units["pop_urban"] + units["pop_rural"], units["pop_total"])


@pytest.mark.parametrize("year", [2010, 2020])
def test_industry_sections_sum_to_total(year):
    """Also guards the 2010 header shift: the 20 sections must add up exactly."""
    units = census.load_census(year)
    sections = [c for c in census.COUNTS if c.startswith("ind_") and c != "ind_total"]
    assert len(sections) == 20
    np.testing.assert_allclose(units[sections].sum(axis=1), units["ind_total"])
    occ = [c for c in census.COUNTS if c.startswith("occ_") and c != "occ_total"]
    assert (units[occ].sum(axis=1) <= units["occ_total"]).all()


def test_2010_shifted_headers_mapped_by_content():
    """Wholesale & retail is far larger than ICT everywhere; a mis-mapping flips this."""
    u = census.load_census(2010)
    assert (u["ind_trade"] > u["ind_ict"]).all()
    assert (u["ind_transport"] > u["ind_ict"]).mean() > 0.9


def test_hand_computed_rates_for_chunan_2020():
    raw = census.read_census_raw(2020)
    row = raw.loc[raw["区县"] == "淳安县"].iloc[0]
    u = census.add_rates(census.load_census(2020))
    r = u.loc[u["code"] == 330127].iloc[0]
    assert r["urbanisation"] == pytest.approx(row["城镇人口"] / row["人口数_合计"])
    assert r["manuf_share"] == pytest.approx(row["制造业"] / row["各种行业人口总计"])
    assert r["professional_share"] == pytest.approx(row["专业技术人员"] / row["各种职业人口总计"])
    assert r["edu_years"] == pytest.approx(row["平均受教育年限_合计"])


def test_wenzhou_residual_is_assigned_to_longwan():
    res = census.prefecture_residuals(2020)
    assert list(res["code"]) == [330303]
    assert res["pop_total"].iloc[0] == 249343
    assert census.prefecture_residuals(2010).empty


@pytest.mark.parametrize("year", [2010, 2020])
def test_harmonised_conserves_province_totals(harmonised, year):
    prov = census.province_row(year)
    got = harmonised.loc[harmonised["year"] == year, list(prov.index)].sum()
    np.testing.assert_allclose(got.to_numpy(), prov.to_numpy())


def test_harmonised_shape_and_ranges(harmonised):
    assert harmonised.groupby("year")["cbu"].nunique().tolist() == [86, 86]
    assert harmonised.loc[harmonised["mountain26"], "cbu"].nunique() == 26
    for col in [
        "urbanisation",
        "manuf_share",
        "research_share",
        "professional_share",
        "old_age_share",
    ]:
        assert harmonised[col].between(0, 1).all(), col
    # counts-based schooling is a cross-check a little below the published mean
    diff = harmonised["edu_years"] - harmonised["edu_years_counts"]
    assert diff.between(0, 0.6).all()


def test_outcome_family_is_labelled_and_shares_are_shares(harmonised):
    assert set(census.OUTCOMES) == set(census.OUTCOME_LABELS)
    assert len(census.SERVICE_SECTIONS) == 15  # sections F-T
    for o in census.SHARE_OUTCOMES:
        assert harmonised[o].between(0, 1).all(), o
    assert not set(census.SHARE_OUTCOMES) & {"log_pop", "edu_years"}
