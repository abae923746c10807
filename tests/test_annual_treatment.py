"""Treatment timing for the annual design (TreatmentRule objects over enclave_events.csv)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analysis.data import annual
from analysis.data.treatment import (
    ANNUAL_ALTERNATIVES,
    ANNUAL_RULE,
    COMPARISONS,
    DEFAULT_RULE,
    SOE_COUNTIES,
    annual_cohorts,
    first_enclave_year,
)

#: The dated cohorts of the default annual rule and the event that dates each
#: (enclave_events.csv): first agreement/start/opening in a developed partner area.
DATED = {
    330329: (2018, "E007"),  # 泰顺: 鹿泰总部科创园, start 2018
    330727: (1995, "E010"),  # 磐安: 金磐扶贫经济开发区, approved 1995
    330803: (2021, "E012"),  # 衢江: 鄞衢产业飞地, start 2021-12
    330822: (2021, "E019"),  # 常山: 慈溪—常山 产业飞地, start 2021-09
    330824: (2021, "E021"),  # 开化: 绍兴滨海新区 agreement 2021-04
    331102: (2021, "E023"),  # 莲都: 莲都大厦 (义乌), start 2021-01
    331121: (2017, "E027"),  # 青田: 平湖 飞地产业园, agreement 2017-07
    331122: (2019, "E033"),  # 缙云: 杭州缙云大厦, agreement 2019-05
    331126: (2018, "E029"),  # 庆元: 嘉善 飞地产业园, agreement 2018-05
    331181: (2018, "E025"),  # 龙泉: 萧山 飞地产业园, agreement 2018
}


@pytest.fixture(scope="module")
def coding():
    return annual_cohorts().set_index("code")


def test_dated_cohorts_and_their_source_events(coding):
    for code, (year, event) in DATED.items():
        row = coding.loc[code]
        assert (row["cohort"], row["source_event"], bool(row["timing_imputed"])) == (
            year,
            event,
            False,
        ), code


def test_every_other_mountain_county_gets_the_imputed_2022_wave(coding):
    m = coding[coding["mountain26"]]
    imputed = m[~m.index.isin(list(DATED))]
    assert len(imputed) == 16
    assert (imputed["cohort"] == 2022).all() and imputed["timing_imputed"].all()
    assert (imputed["source_event"] == "").all()
    # 淳安's first dated event (E003, opened 2023) is after the wave: imputed, and said so
    assert "E003" in coding.loc[330127, "note"]
    assert (m["cohort"] > 0).all()  # every mountain county is treated by 2022


def test_non_mountain_units_are_never_treated(coding):
    nm = coding[~coding["mountain26"]]
    assert len(nm) == 64
    assert (nm["cohort"] == 0).all() and not nm["timing_imputed"].any()
    assert (nm["soe_cohort"] == 0).all() and (nm["kinds"] == "").all()


def test_soe_pairing_is_a_second_separately_coded_treatment(coding):
    assert set(coding.index[coding["soe_cohort"] == 2021]) == set(SOE_COUNTIES)
    assert len(SOE_COUNTIES) == 7
    assert (coding.loc[~coding.index.isin(SOE_COUNTIES), "soe_cohort"] == 0).all()


def test_kinds_include_the_main_kind(coding):
    m = coding[coding["mountain26"]]
    for r in m.itertuples():
        assert r.enclave_kind in r.kinds.split(";")
    assert coding.loc[331121, "enclave_kind"] == "village-income"
    assert coding.loc[330329, "enclave_kind"] == "sci-tech"


def test_drop_imputed_alternative_and_other_rules():
    dropped = annual_cohorts(impute=False)
    assert len(dropped) == 90 - 16 and not dropped["timing_imputed"].any()
    wave21 = {r.name: r for r in ANNUAL_ALTERNATIVES}["annual_wave2021"]
    c = annual_cohorts(wave21).set_index("code")
    assert (c.loc[c["timing_imputed"], "cohort"] == 2021).all()
    ind = {r.name: r for r in ANNUAL_ALTERNATIVES}["annual_industrial_scitech"]
    c = annual_cohorts(ind).set_index("code")
    assert c.loc[331121, "timing_imputed"]  # 青田's only dated enclave is village-income
    no_impute = replace(ANNUAL_RULE, impute_year=None)
    c = annual_cohorts(no_impute).set_index("code")
    assert c.loc[330127, "cohort"] == 2023 and c.loc[330324, "cohort"] == 0


def test_census_rule_behaviour_unchanged():
    got = first_enclave_year(DEFAULT_RULE)
    treated = {int(k): int(v) for k, v in got.items() if v}
    assert treated == {
        330329: 2018,
        330727: 1995,
        331121: 2017,
        331122: 2019,
        331126: 2018,
        331181: 2018,
    }
    assert len(got) == 26
    assert DEFAULT_RULE.impute_year is None


def test_api_and_comparisons():
    t = annual.annual_treatment()
    assert {"code", "cohort", "timing_imputed", "source_event", "soe_cohort", "kinds"} <= set(
        t.columns
    )
    assert set(COMPARISONS) == {"notyet_mountain", "never_nonmountain"}
    assert "partner" in COMPARISONS["never_nonmountain"]
    p = annual.load_annual_panel("synthetic")
    s = annual.comparison_sample(p, "notyet_mountain")
    assert s["mountain26"].all() and s["code"].nunique() == 26
    assert annual.comparison_sample(p, "never_nonmountain")["code"].nunique() == 90
    # the twin uses the same rule: its cohorts are Zhejiang's
    pc = p.groupby("code")[["cohort", "timing_imputed", "soe_cohort"]].first()
    tc = t.set_index("code")[["cohort", "timing_imputed", "soe_cohort"]]
    assert pc.equals(tc.loc[pc.index])
