"""Cross-sectional / first-difference randomisation inference
(:func:`analysis.inference.ri.regression_randomization_test`).

References and tolerances:

* brute force (independent route): every assignment enumerated with
  ``itertools.combinations`` and the coefficient re-fitted by least squares
  (``numpy.linalg.lstsq`` on the full design), the p-value counted by hand
  with the tie rule of :mod:`analysis.inference.ties`; p-values equal exactly,
  coefficients to 1e-10;
* known truth: the p-value of the sharp null ``tau`` on ``Y + tau D`` equals the
  p-value of the null 0 on ``Y`` (to 1e-12: the same assignments);
* the design's stated properties: Monte Carlo draws reproduce for a seed and
  hold the treated count within strata; assignments collinear with the
  controls are left out and counted.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from analysis.errors import InputError
from analysis.inference.ri import RIResult, regression_randomization_test
from analysis.inference.ri_design import design_assignments, treatment_design
from analysis.inference.ties import TIE_RTOL


@pytest.fixture(scope="module")
def cross_section():
    rng = np.random.default_rng(11)
    n = 10
    d = np.zeros(n)
    d[[1, 4, 7]] = 1.0
    x = rng.normal(size=n)
    y = pd.DataFrame({"a": 0.8 * d + x + rng.normal(size=n), "b": rng.normal(size=n) - 0.3 * x})
    z = np.column_stack([np.ones(n), x])
    return y, d, z


def _beta(y, d, z):
    X = np.column_stack([d, z])
    return np.linalg.lstsq(X, y, rcond=None)[0][0]


def test_exact_p_values_equal_brute_force_refits(cross_section):
    y, d, z = cross_section
    res = regression_randomization_test(y, d, z)
    assert res.exact and res.n_assignments == math.comb(10, 3) == res.n_draws
    for k, col in enumerate(y.columns):
        obs = _beta(y[col].to_numpy(), d, z)
        draws = []
        for idx in itertools.combinations(range(10), 3):
            a = np.zeros(10)
            a[list(idx)] = 1.0
            draws.append(_beta(y[col].to_numpy(), a, z))
        draws = np.abs(np.array(draws))
        tol = TIE_RTOL * max(abs(obs), draws.max())
        p = np.count_nonzero(draws >= abs(obs) - tol) / draws.size
        assert res.p_values[k] == p
        assert res.observed[k] == pytest.approx(obs, abs=1e-10)
        np.testing.assert_allclose(np.sort(np.abs(res.draws[:, k])), np.sort(draws), atol=1e-10)


def test_null_shift_is_known_truth(cross_section):
    y, d, z = cross_section
    tau = 0.37
    base = regression_randomization_test(y, d, z)
    shifted = regression_randomization_test(y + tau * d[:, None], d, z, null=tau)
    np.testing.assert_allclose(shifted.p_values, base.p_values, atol=1e-12)
    np.testing.assert_allclose(shifted.observed, base.observed, atol=1e-12)


def test_monte_carlo_is_seeded_and_respects_strata(cross_section):
    y, d, z = cross_section
    strata = np.repeat([0, 1], 5)
    kw = dict(strata=strata, exact=False, n_draws=300, seed=4)
    a = regression_randomization_test(y, d, z, **kw)
    b = regression_randomization_test(y, d, z, **kw)
    assert not a.exact and a.n_draws == 300 and a.seed == 4
    np.testing.assert_array_equal(a.draws, b.draws)
    # (1 + #)/(1 + R): the observed assignment counts as one draw
    assert (a.p_values >= 1 / 301).all()
    rows = design_assignments(treatment_design(d, strata), exact=False, n_draws=300, seed=4)
    for s in (0, 1):
        assert (rows[:, strata == s].sum(axis=1) == d[strata == s].sum()).all()
    assert "within 2 strata" in a.design


def test_collinear_assignments_are_left_out_and_counted():
    n = 8
    d = np.array([1, 1, 0, 0, 0, 0, 0, 0], dtype=float)
    group = np.array([0, 0, 0, 0, 0, 0, 1, 1], dtype=float)  # treating both units 6, 7 = group
    z = np.column_stack([np.ones(n), group])
    y = pd.DataFrame({"y": np.arange(n, dtype=float) ** 1.5})
    res = regression_randomization_test(y, d, z)
    assert res.n_assignments == math.comb(8, 2) and res.n_draws == math.comb(8, 2) - 1
    assert "1 assignment(s) collinear" in res.notes[0]
    one = res.result("y")
    assert isinstance(one, RIResult) and one.p_value == res.p_values[0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(treated=[0, 2, 1]), "0/1"),
        (dict(controls=np.ones((2, 1))), "controls"),
        (dict(treated=[1, 1, 1]), "single assignment"),
    ],
)
def test_bad_input_is_an_input_error(kwargs, message):
    args = dict(outcomes={"y": [1.0, 2.0, 4.0]}, treated=[0, 1, 0], controls=None)
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        regression_randomization_test(args.pop("outcomes"), **args)
