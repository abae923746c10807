"""Every computation of the claims audit, checked by hand from the source tables."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.data import registry, sources
from analysis.data.census import load_census
from analysis.studies.claims_audit import STATUSES, AuditContext, audit_claims, audit_numbers


@pytest.fixture(scope="module")
def ctx():
    return AuditContext()


@pytest.fixture(scope="module")
def audit(ctx):
    return audit_claims(ctx)


@pytest.fixture(scope="module")
def numbers(audit, ctx):
    return audit_numbers(audit, ctx)


def test_claims_table_is_complete():
    claims = sources.load_paper_claims()
    assert len(claims) > 15
    for q in [
        "gdp_26_counties",
        "gdp_growth_26_counties",
        "fai_growth_26_counties",
        "fai_growth_gap_vs_province_pp",
        "urbanisation_rate_26_counties",
        "urban_rural_income_ratio_26_counties",
        "urban_disposable_income_pc_26_counties",
        "rural_disposable_income_pc_26_counties",
        "urban_income_share_of_province",
        "rural_income_share_of_province",
        "fiscal_revenue_avg_per_county",
        "general_budget_revenue_avg_per_county",
        "n_enclaves_in_high_level_platforms",
        "soe_projects_total_investment",
    ]:
        assert q in set(claims["quantity"]), q
    # the phrases quote the paper's digits
    row = claims.set_index("quantity").loc["gdp_26_counties"]
    assert "7404" in row["phrase_zh"] and row["value"] == 7404


def test_every_claim_has_a_known_status_and_evidence(audit):
    assert set(audit["status"]) <= set(STATUSES)
    assert audit["evidence"].str.len().gt(10).all()
    assert len(audit) == len(sources.load_paper_claims())


def test_income_ratio_reproduced(audit, numbers):
    assert numbers["audit.income_ratio"] == pytest.approx(56303 / 29607)
    st = audit.set_index("quantity").loc["urban_rural_income_ratio_26_counties", "status"]
    assert st == "reproduced"


def test_implied_provincial_incomes(numbers):
    assert numbers["audit.implied_prov_urban_income"] == pytest.approx(56303 / 0.79)
    assert numbers["audit.implied_prov_rural_income"] == pytest.approx(29607 / 0.788)
    assert numbers["audit.implied_prov_income_ratio"] == pytest.approx(
        (56303 / 0.79) / (29607 / 0.788)
    )


def test_implied_provincial_investment_growth(numbers):
    assert numbers["audit.implied_prov_fai_growth"] == pytest.approx(16.4 - 7.3)


def test_gdp_share_and_coverage(ctx, numbers):
    assert numbers["audit.gdp_share_of_province_pct"] == pytest.approx(100 * 7404 / 77715)
    covered, total, labels = ctx.gdp_coverage_2022()
    # hand count: 衢州市 (6 units) + Lishui blocks (9 units) + 6 single counties
    assert len(covered) == 21
    assert covered <= registry.mountain26_codes()
    hand = (
        2003.4
        + 1064.08
        + 315.73
        + 262.97
        + 188.38
        + 653.05
        + 143.61
        + 126.55
        + 332.63
        + 320.5
        + 270.0
    )
    assert total == pytest.approx(hand)
    # no county counted twice: 常山 is inside 衢州市, 庆元/龙泉/云和 inside the Lishui blocks
    assert "常山县" not in labels and "庆元县" not in labels and "龙泉市" not in labels


def test_census_urbanisation_of_the_26(numbers):
    u = load_census(2020)
    m = u[u["code"].isin(registry.mountain26_codes())]
    assert len(m) == 26
    expected = 100 * m["pop_urban"].sum() / m["pop_total"].sum()
    assert numbers["audit.census2020_urbanisation_26"] == pytest.approx(expected)
    assert 55 < expected < 60


def test_status_counts_add_up(numbers):
    total = sum(numbers[f"audit.n_{s.replace(' ', '_')}"] for s in STATUSES)
    assert total == numbers["audit.n_claims"]


def test_audit_is_deterministic(ctx):
    a, b = audit_claims(ctx), audit_claims(AuditContext())
    pd.testing.assert_frame_equal(a, b)
