"""The one tie policy (analysis.inference.ties): p-values do not depend on last bits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.inference import multitest, ri, ties, wild


def _ulps(x: np.ndarray, rng: np.random.Generator, k: int = 4) -> np.ndarray:
    """``x`` moved by up to ``k`` ulps in a random direction, element by element."""
    out = np.array(x, dtype=np.float64, copy=True)
    steps = rng.integers(-k, k + 1, size=out.shape)
    for s in range(1, k + 1):
        up, down = steps >= s, steps <= -s
        out[up] = np.nextafter(out[up], np.inf)
        out[down] = np.nextafter(out[down], -np.inf)
    return out


def test_one_constant_everywhere():
    assert ri.TIE_RTOL is ties.TIE_RTOL and wild.TIE_RTOL is ties.TIE_RTOL
    assert ties.TIE_RTOL == 1e-10


def test_counts_are_scale_free_and_tie_against_the_null():
    d = np.array([1.0, 2.0, 3.0, 3.0 * (1 + 1e-14), 3.0 * (1 - 1e-14)])
    for scale in (1e-200, 1.0, 1e200):
        assert int(ties.count_at_least(d * scale, 3.0 * scale)) == 3
        assert int(ties.count_at_most(d * scale, 3.0 * scale)) == 5
    # a real difference (far above the tolerance) is not a tie
    assert int(ties.count_at_least(np.array([1.0, 3.0 - 1e-6]), 3.0)) == 0


@pytest.fixture(scope="module")
def census_ri():
    from analysis.data import census
    from analysis.studies import census_did as cd

    sample = cd.build_sample(panel=census.harmonised_census("census"))
    return cd.randomization_inference(sample)


def test_census_observed_statistic_is_its_own_enumerated_row(census_ri):
    r = census_ri
    assert r.exact
    own = (r.draws == r.observed[None, :]).all(axis=1)
    assert own.sum() >= 1  # bit-identical: taken from its own row


def test_census_p_values_survive_ulp_perturbations_of_the_draws(census_ri):
    r = census_ri
    rng = np.random.default_rng(0)
    scale = r.draws.std(axis=0, ddof=1)
    base_rw = multitest.romano_wolf(r.observed / scale, r.draws / scale, plus_one=False)
    base_marg = ties.count_at_least(np.abs(r.draws), np.abs(r.observed)) / r.draws.shape[0]
    np.testing.assert_array_equal(base_marg, r.p_values)
    for _ in range(3):
        d = _ulps(r.draws, rng)
        o = _ulps(r.observed, rng)
        rw = multitest.romano_wolf(o / scale, d / scale, plus_one=False)
        np.testing.assert_array_equal(rw, base_rw)
        marg = ties.count_at_least(np.abs(d), np.abs(o)) / d.shape[0]
        np.testing.assert_array_equal(marg, base_marg)
        for method, stepdown in (("maxT", False), ("minP", True), ("minP", False)):
            np.testing.assert_array_equal(
                multitest.westfall_young(
                    o / scale, d / scale, method=method, stepdown=stepdown, plus_one=False
                ),
                multitest.westfall_young(
                    r.observed / scale,
                    r.draws / scale,
                    method=method,
                    stepdown=stepdown,
                    plus_one=False,
                ),
            )


def test_ri_and_wild_p_values_survive_ulp_perturbations():
    rng = np.random.default_rng(1)
    draws = np.round(rng.normal(size=2000), 2)  # many exact ties with the observed value
    obs = float(draws[7])
    for alt in ("two-sided", "greater", "less"):
        base = ri._p_value(obs, draws, alt, exact=True)
        for _ in range(3):
            assert ri._p_value(obs, _ulps(draws, rng), alt, exact=True) == base
    for p_type in ("symmetric", "equal-tailed"):
        base = wild._p_value(obs, draws, p_type)
        for _ in range(3):
            assert (
                wild._p_value(float(_ulps(np.array(obs), rng)), _ulps(draws, rng), p_type) == base
            )


def test_exact_ri_takes_the_observed_statistic_from_its_enumerated_row():
    rng = np.random.default_rng(2)
    units, years = 8, 4
    df = pd.DataFrame(
        {
            "u": np.repeat(np.arange(units), years),
            "t": np.tile(np.arange(1, years + 1), units),
            "g": np.repeat([3, 3, 0, 0, 0, 4, 0, 0], years),
        }
    )
    df["y"] = rng.normal(size=len(df))
    res = ri.randomization_test(
        df, unit="u", time="t", cohort="g", statistic="twfe", outcome="y", exact=True
    )
    assert res.exact and res.n_draws == res.n_assignments
    # bit-identical to an enumerated row (the observed assignment's own row)
    assert np.count_nonzero(np.asarray(res.draws) == res.observed) >= 1
