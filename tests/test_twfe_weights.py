"""De Chaisemartin-D'Haultfoeuille TWFE weights: reference output and known truth.

Reference software
------------------
Stata ``twowayfeweights`` (and R ``TwoWayFEWeights`` 2.0.4), printed output of

    twowayfeweights lwage nr year union, type(feTR) summary_measures test_random_weights(educ)

on ``wagepan_twfeweights`` (chaisemartinPackages/twowayfeweights README and
R/inst/tinytest/test_wagepan.R; the same output is printed in the examples page
of Credible-Answers/py_twowayfeweights, docs/examples.md):

    the TWFE coefficient beta, equal to 0.1066, estimates a weighted sum of 967 ATTs.
    820 ATTs receive a positive weight, and 147 receive a negative weight.
    1016 (g,t) cells receive the treatment, but the ATTs of 49 cells receive a weight equal to zero.
    Positive weights  820  1.0105 / Negative weights  147  -0.0105
    min sigma(Delta) compatible with beta_fe and Delta_TR = 0: 0.0969
    min sigma(Delta) compatible with treatment effect of opposite sign than beta_fe in all (g,t) cells: 3.1759

Tolerance: counts exactly; printed 4-decimal numbers to half a unit in the last
printed digit (5e-5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.paths import raw_path
from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.estimators import get_estimator
from analysis.estimators.twfe_weights import twfe_weights

PRINTED_TOL = 5e-5


@pytest.fixture(scope="module")
def wagepan():
    return pd.read_csv(raw_path("external", "wagepan_twfeweights.csv"))


def test_matches_printed_stata_output(wagepan):
    r = twfe_weights(wagepan, group="nr", time="year", treatment="union", outcome="lwage")
    assert r.n_treated_cells == 1016
    assert r.n_positive == 820
    assert r.n_negative == 147
    assert r.n_zero == 49
    assert r.sum_positive == pytest.approx(1.0105, abs=PRINTED_TOL)
    assert r.sum_negative == pytest.approx(-0.0105, abs=PRINTED_TOL)
    assert r.sum_positive + r.sum_negative == pytest.approx(1.0, abs=1e-12)
    assert r.beta == pytest.approx(0.1066, abs=PRINTED_TOL)
    assert r.sigma_fe == pytest.approx(0.0969, abs=PRINTED_TOL)
    assert r.sigma_sign == pytest.approx(3.1759, abs=PRINTED_TOL)
    s = r.summary()
    assert list(s["n_cells"]) == [820, 147, 967]


def test_matches_stored_values_of_the_r_package_tests(wagepan):
    """R ``TwoWayFEWeights`` stores more digits in R/inst/tinytest/test_wagepan.R
    (chaisemartinPackages/twowayfeweights @ 74fb015): sensibility 0.0968691,
    sensibility2 3.175859, sum_plus 1.010529, beta 0.10662746641838491. These pin the
    sqrt(M/(M-1)) degrees-of-freedom factor of sigma_fe (without it: 0.0969170).
    Tolerance: half a unit in the 7th stored digit (5e-7); beta to 1e-8 (the CSV's
    15-digit outcome)."""
    r = twfe_weights(wagepan, group="nr", time="year", treatment="union", outcome="lwage")
    assert r.sigma_fe == pytest.approx(0.0968691, abs=5e-8)
    assert r.sigma_sign == pytest.approx(3.175859, abs=5e-7)
    assert r.sum_positive == pytest.approx(1.010529, abs=5e-7)
    assert r.sum_negative == pytest.approx(-0.01052899, abs=5e-9)
    assert r.beta == pytest.approx(0.10662746641838491, abs=1e-8)


def test_beta_is_the_twfe_coefficient_and_weights_recover_it():
    """Known truth: Y = Y(0) + tau; beta(Y) - beta(Y(0)) = sum W * tau exactly, and
    beta equals the package's TWFE estimator."""
    sim = simulate_staggered(n_units=120, n_periods=8, cohorts=(3, 5, 7), slope=0.7, seed=3)
    d = sim.data
    r = twfe_weights(d, group="unit", time="time", cohort="cohort", outcome="y")
    fit = get_estimator("twfe")(d, outcome="y", unit="unit", time="time", cohort="cohort")
    assert r.beta == pytest.approx(fit.aggregates["simple"].att, abs=1e-10)
    tau = d.merge(sim.att_gt, on=["cohort", "time"], how="left")["att"].fillna(0.0).to_numpy()
    d0 = d.assign(y=d["y"] - tau)
    r0 = twfe_weights(d0, group="unit", time="time", cohort="cohort", outcome="y")
    eff = d.assign(att=tau)[tau != 0].rename(columns={"unit": "group"})[["group", "time", "att"]]
    assert r.beta - r0.beta == pytest.approx(r.implied_beta(eff), abs=1e-10)
    assert r.cells["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    # dynamic effects put negative weight on late exposure of early cohorts
    assert r.n_negative > 0
    coh = d.groupby("unit")["cohort"].first()
    neg = r.cells[r.cells["weight"] < 0]
    assert (neg["time"].to_numpy() - coh.loc[neg["group"]].to_numpy()).min() >= 1


def test_homogeneous_effect_is_recovered():
    sim = simulate_staggered(
        n_units=60, n_periods=6, cohorts=(3, 5), base_effect=2.0, slope=0.0, noise_sd=0.0, seed=1
    )
    r = twfe_weights(sim.data, group="unit", time="time", cohort="cohort", outcome="y")
    assert r.beta == pytest.approx(2.0, abs=1e-10)


def test_cells_with_several_observations(wagepan):
    """Duplicating every row leaves the weights unchanged (cells weighted by N_gt)."""
    r1 = twfe_weights(wagepan, group="nr", time="year", treatment="union", outcome="lwage")
    r2 = twfe_weights(
        pd.concat([wagepan, wagepan]), group="nr", time="year", treatment="union", outcome="lwage"
    )
    np.testing.assert_allclose(r1.cells["weight"], r2.cells["weight"], atol=1e-12)
    assert r2.cells["n_obs"].eq(2).all()


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(group="nr", time="year", treatment="nope"), "missing column"),
        (dict(group="nr", time="year"), "exactly one"),
        (dict(group="nr", time="year", treatment="union", cohort="educ"), "exactly one"),
    ],
)
def test_bad_input(wagepan, kwargs, msg):
    with pytest.raises(InputError, match=msg):
        twfe_weights(wagepan, **kwargs)


def test_no_treated_cell(wagepan):
    with pytest.raises(InputError, match="no treated"):
        twfe_weights(wagepan.assign(union=0), group="nr", time="year", treatment="union")
