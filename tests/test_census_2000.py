"""The 2000 census leg: loading, three-census units, the population pre-trend test."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from analysis.data import census
from analysis.data.manifest import read_manifest
from analysis.studies import census_did as cd


@pytest.fixture(scope="module")
def pop():
    return census.three_census_population()


@pytest.fixture(scope="module")
def pre():
    return cd.pretrend_table()


@pytest.fixture(scope="module")
def sample():
    return cd.build_sample()


def test_file_is_in_the_manifest_with_source_and_licence():
    man = read_manifest().set_index("path")
    row = man.loc["census2000_population.csv"]
    assert "mapchina" in row["source"] and "citypopulation" in row["source"]
    assert "census facts" in row["licence"]


def test_2000_units_close_the_provincial_total(pop):
    raw = census.load_census2000()
    assert raw["pop_census2000"].notna().sum() == 87
    group = raw.drop_duplicates("compare_group")["pop_census2000_group_total"].sum()
    assert raw["pop_census2000"].sum() + group == census.PROVINCE_POP_2000
    by_year = pop.groupby("year")["pop_total"].sum()
    assert by_year[2000] == census.PROVINCE_POP_2000
    # 2010 and 2020 totals are those of the census CBUs (aggregation only)
    h = census.harmonised_census("census").groupby("year")["pop_total"].sum()
    assert by_year[2010] == h[2010] and by_year[2020] == h[2020]


def test_three_census_units(pop):
    units = pop.drop_duplicates("tcu")
    assert len(units) == 74
    m = units[units["mountain26"]]
    assert len(m) == 25  # 柯城 and 衢江 are one unit in 2000
    qz = units.set_index("tcu").loc["T330802"]
    assert qz["tcu_name_zh"] == "柯城区+衢江区" and qz["mountain26"]
    # a unit that did not change keeps its CBU id and its 2000 figure as published
    raw = census.load_census2000().set_index("code")
    chunan = pop[(pop["tcu"] == "330127") & (pop["year"] == 2000)]["pop_total"].iloc[0]
    assert chunan == raw.loc[330127, "pop_census2000"]
    # 苍南+龙港: 2000 figure is 苍南's (龙港 did not exist)
    cn = pop[(pop["tcu"] == "C330327") & (pop["year"] == 2000)]["pop_total"].iloc[0]
    assert cn == raw.loc[330327, "pop_census2000"]


def test_pretrend_sample_codes_treatment_as_the_main_sample(sample):
    s = cd.three_census_sample(2000, 2010)
    main = sample
    assert s.n_treated == main.n_treated == 5
    assert set(s.data.loc[s.data["treated"] == 1, "name"]) == set(
        main.data.loc[main.data["treated"] == 1, "name"]
    )
    assert s.n_units == 24 and s.baseline == 2000
    assert "磐安县" in s.dropped[0]


def test_pretrend_coefficient_by_an_independent_route(pre):
    s = cd.three_census_sample(2000, 2010)
    d = s.data
    fit = smf.ols("d_log_pop ~ treated + log_pop_2000 + C(prefecture)", data=d).fit(cov_type="HC1")
    row = pre.iloc[0]
    assert row["period"].startswith("pre-trend")
    assert math.isclose(row["beta"], fit.params["treated"], rel_tol=1e-10)
    assert math.isclose(row["se_hc1"], fit.bse["treated"], rel_tol=1e-8)
    # hand-computed change for one unit
    raw = census.load_census2000().set_index("code")
    h = census.harmonised_census("census").set_index(["cbu", "year"])
    want = math.log(h.loc[("330329", 2010), "pop_total"]) - math.log(
        raw.loc[330329, "pop_census2000"]
    )
    assert math.isclose(d.set_index("cbu").loc["330329", "d_log_pop"], want, rel_tol=1e-12)
    # exact RI over every assignment of 5 treated among 24 units (minus collinear ones)
    assert bool(row["ri_exact"]) and row["ri_n_assignments"] <= math.comb(24, 5)
    assert row["ri_n_assignments"] > 0.99 * math.comb(24, 5)


def test_event_study_is_the_pretrend_in_event_form(pre):
    ev = cd.event_study_table().set_index("census")
    pre = pre.iloc[0]
    assert ev.loc[2010, "beta"] == 0.0 and bool(ev.loc[2010, "reference"])
    assert math.isclose(ev.loc[2000, "beta"], -pre["beta"], rel_tol=1e-10)
    assert math.isclose(ev.loc[2000, "p_ri"], pre["p_ri"], rel_tol=1e-10)
    assert ev.loc[2000, "hc1_ci_low"] < ev.loc[2000, "beta"] < ev.loc[2000, "hc1_ci_high"]


def test_lopo_marks_repeats_and_single_treated_rows(sample):
    s = sample
    lopo = cd.lopo_table(s)
    per = lopo.drop_duplicates("dropped_prefecture").set_index("dropped_prefecture")
    # Hangzhou (淳安) and Jinhua (武义) have one county in the sample
    assert set(per.index[per["status"] == "repeats full sample"]) == {330100, 330700}
    assert list(per.index[per["status"] == "one treated unit"]) == [cd.LISHUI]
    full = {o: cd.fd_regression(s, o).beta for o in cd.OUTCOMES}
    rep = lopo[lopo["status"] == "repeats full sample"]
    assert np.allclose(rep["beta"], rep["outcome"].map(full), rtol=1e-9, atol=1e-12)
    one = lopo[lopo["status"] == "one treated unit"]
    assert one["p_hc1"].isna().all() and one["p_ri"].isna().all()
    ok = lopo[lopo["status"] == ""]
    assert ok["p_ri"].between(0, 1).all()


def test_dropping_lishui_leaves_one_treated_county(sample):
    s = sample
    conc = cd.prefecture_concentration(s).set_index("prefecture")
    assert conc.loc[cd.LISHUI, "n_treated"] == 4 and conc["n_treated"].sum() == 5
    nol = cd.drop_prefecture_table(s).set_index("outcome")
    assert (nol["n_treated_without"] == 1).all()
    assert nol.loc["log_pop", "beta_full"] > 0 > nol.loc["log_pop", "beta_without"]
    assert nol.loc["edu_years", "beta_full"] > 0 > nol.loc["edu_years", "beta_without"]
    assert isinstance(nol, pd.DataFrame)
