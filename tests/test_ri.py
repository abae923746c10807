"""Randomisation inference: hand-computed exact cases, the design count, the
fast paths against the estimators, reproducibility across workers, test
inversion, and (slow) size under the null."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.inference import ri
from analysis.inference.ri import (
    assignment_design,
    randomization_test,
    ri_confidence_interval,
)

COLS = dict(unit="unit", time="time", cohort="cohort")


# --------------------------------------------------------------------------- fixtures
def diff_in_means(data: pd.DataFrame) -> float:
    """Period-2 outcome: mean of treated minus mean of never-treated units."""
    d = data[data["time"] == 2]
    return float(d.loc[d["cohort"] > 0, "y"].mean() - d.loc[d["cohort"] == 0, "y"].mean())


def did_stat(data: pd.DataFrame) -> float:
    """Two-period DiD of means, written independently of the package
    (rows sorted by unit, then period 1, 2)."""
    y = data["y"].to_numpy().reshape(-1, 2)
    g = data["cohort"].to_numpy()[::2]
    dy = y[:, 1] - y[:, 0]
    return float(dy[g > 0].mean() - dy[g == 0].mean())


def fast_diff_in_means(data: pd.DataFrame) -> float:
    """diff_in_means for data sorted by unit with periods 1, 2 (numpy only)."""
    y = data["y"].to_numpy()[1::2]
    g = data["cohort"].to_numpy()[1::2]
    return float(y[g > 0].mean() - y[g == 0].mean())


@pytest.fixture(scope="module")
def four_units() -> pd.DataFrame:
    """4 units, 2 treated (units 3, 4, cohort 2), outcomes 1, 2, 3, 5 in period 2."""
    return pd.DataFrame(
        {
            "unit": [1, 1, 2, 2, 3, 3, 4, 4],
            "time": [1, 2] * 4,
            "cohort": [0, 0, 0, 0, 2, 2, 2, 2],
            "y": [0.0, 1.0, 0.0, 2.0, 0.0, 3.0, 0.0, 5.0],
            "block": ["a", "a", "a", "a", "b", "b", "b", "b"],
        }
    )


@pytest.fixture(scope="module")
def staggered() -> pd.DataFrame:
    return simulate_staggered(
        n_units=40, n_periods=8, cohorts=(3, 5, 7), never_share=0.4, seed=3
    ).data


# --------------------------------------------------------------------------- exact by hand
def test_four_units_exact_p_by_hand(four_units):
    """All C(4,2) = 6 assignments of the two treated labels:
    {1,2}: 1.5-4 = -2.5, {1,3}: 2-3.5 = -1.5, {1,4}: 3-2.5 = 0.5,
    {2,3}: 2.5-3 = -0.5, {2,4}: 3.5-2 = 1.5, {3,4} (observed): 4-1.5 = 2.5."""
    res = randomization_test(four_units, statistic=diff_in_means, **COLS)
    assert res.exact and res.n_assignments == 6 and res.n_draws == 6
    assert res.observed == pytest.approx(2.5)
    np.testing.assert_allclose(np.sort(res.draws), [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
    assert res.p_value == pytest.approx(2 / 6)  # |T| >= 2.5: {1,2} and {3,4}
    g = randomization_test(four_units, statistic=diff_in_means, alternative="greater", **COLS)
    assert g.p_value == pytest.approx(1 / 6)
    s = randomization_test(four_units, statistic=diff_in_means, alternative="less", **COLS)
    assert s.p_value == pytest.approx(1.0)
    assert "exact" in res.p_value_convention and res.seed is None


def test_four_units_within_strata_by_hand(four_units):
    """Strata {1,2} and {3,4} with one treated unit each (units 2 and 4): 2 x 2 = 4
    assignments, {2,4} (observed) 3.5-2 = 1.5, {1,3} -1.5, {1,4} 0.5, {2,3} -0.5."""
    d = four_units.copy()
    d["cohort"] = d["unit"].map({1: 0, 2: 2, 3: 0, 4: 2})
    d["block"] = d["unit"].map({1: "a", 2: "a", 3: "b", 4: "b"})
    res = randomization_test(d, statistic=diff_in_means, strata="block", **COLS)
    assert res.n_assignments == 4 and res.exact
    np.testing.assert_allclose(np.sort(res.draws), [-1.5, -0.5, 0.5, 1.5])
    assert res.observed == pytest.approx(1.5)
    assert res.p_value == pytest.approx(0.5)
    assert "strata of 'block'" in res.design


def test_monte_carlo_convention(four_units):
    res = randomization_test(
        four_units, statistic=diff_in_means, exact=False, n_draws=300, seed=1, **COLS
    )
    assert not res.exact and res.n_draws == 300 and res.seed == 1
    hits = int(np.sum(np.abs(res.draws) >= abs(res.observed) - 1e-12))
    assert res.p_value == pytest.approx((1 + hits) / 301)
    # uniform over the 6 assignments: about a third of the draws reach |2.5|
    assert res.p_value == pytest.approx(1 / 3, abs=0.07)
    assert res.mc_se > 0 and "(1 + #" in res.p_value_convention


# --------------------------------------------------------------------------- design
def test_assignment_count_multinomial_within_strata():
    units = np.arange(1, 11)
    g = np.array([0, 0, 0, 5, 5, 7, 0, 0, 5, 7])
    s = np.array(["a"] * 6 + ["b"] * 4)
    d = pd.DataFrame(
        {
            "unit": np.repeat(units, 2),
            "time": np.tile([4, 8], 10),
            "cohort": np.repeat(g, 2),
            "s": np.repeat(s, 2),
        }
    )
    full = assignment_design(d, **COLS)
    assert full.n_assignments == math.factorial(10) // (
        math.factorial(5) * math.factorial(3) * math.factorial(2)
    )
    st = assignment_design(d, strata="s", **COLS)
    # stratum a: labels 0,0,0,5,5,7 -> 6!/(3!2!1!) = 60; stratum b: 0,0,5,7 -> 4!/2! = 12
    assert st.n_assignments == 60 * 12
    tim = assignment_design(d, permute="timing", **COLS)
    # treated units only: 5,5,7,5,7 -> 5!/(3!2!) = 10
    assert tim.n_assignments == 10


def test_enumeration_visits_every_assignment_once():
    g = np.array([0, 0, 0, 5, 5, 7, 0, 0, 5, 7])
    s = np.array(["a"] * 6 + ["b"] * 4)
    d = pd.DataFrame({"unit": np.arange(10), "time": 8, "cohort": g, "s": s})
    des = assignment_design(d, strata="s", **COLS)
    samp = ri._enumeration_sampler(des, block=100)
    rows = samp.rows(0, des.n_assignments)
    assert len({r.tobytes() for r in rows}) == des.n_assignments == 720
    # within-stratum label counts preserved in every row, observed row present
    for st in (0, 1):
        idx = des.strata == st
        for r in rows[:50]:
            np.testing.assert_array_equal(np.sort(r[idx]), np.sort(des.codes[idx]))
    assert (rows == des.codes).all(axis=1).sum() == 1


def test_cohort_recoding_and_validation(four_units):
    d = four_units.copy()
    d.loc[d["unit"] == 1, "cohort"] = 99  # after the last period -> never treated
    des = assignment_design(d, **COLS)
    assert list(des.labels) == [0.0, 2.0] and des.notes
    bad = four_units.copy()
    bad.loc[0, "cohort"] = 2
    with pytest.raises(InputError, match="varies within"):
        assignment_design(bad, **COLS)
    bad = four_units.copy()
    bad.loc[0, "block"] = "b"
    with pytest.raises(InputError, match="strata column 'block' varies"):
        assignment_design(bad, strata="block", **COLS)
    with pytest.raises(InputError, match="not found"):
        assignment_design(four_units, unit="id", time="time", cohort="cohort")
    with pytest.raises(InputError, match="single assignment"):
        randomization_test(four_units, statistic=diff_in_means, strata="block", **COLS)
    with pytest.raises(InputError, match="statistic must be"):
        randomization_test(four_units, statistic="ols", outcome="y", **COLS)
    with pytest.raises(InputError, match="needs the outcome"):
        randomization_test(four_units, statistic="twfe", **COLS)
    with pytest.raises(InputError, match="alternative"):
        randomization_test(four_units, statistic=diff_in_means, alternative="both", **COLS)


def test_timing_permutation_keeps_never_treated(staggered):
    res = randomization_test(
        staggered,
        statistic="cs",
        outcome="y",
        permute="timing",
        exact=False,
        n_draws=50,
        verify=False,
        **COLS,
    )
    des = assignment_design(staggered, permute="timing", **COLS)
    samp = ri._PermutationSampler(des.codes, des.members())
    codes = samp(np.random.default_rng(0), 20)
    never = des.labels[des.codes] == 0
    assert (des.labels[codes][:, never] == 0).all()
    assert (des.labels[codes][:, ~never] > 0).all()
    assert "treated set held fixed" in res.design


# --------------------------------------------------------------------------- fast paths
@pytest.mark.parametrize(
    "statistic, options",
    [
        ("twfe", {}),
        ("cs", {}),
        ("cs", {"control": "notyet"}),
        ("cs", {"control": "notyet", "max_event": 2, "est_method": "reg"}),
        ("twfe_t", {}),
        ("twfe_t", {"cluster": "cluster", "ssc": "linearmodels"}),
    ],
)
def test_fast_path_equals_estimator_on_permuted_assignments(staggered, statistic, options):
    data = staggered.assign(cluster=(staggered["unit"] - 1) % 8)
    des = assignment_design(data, **COLS)
    method, _, t = statistic.partition("_")
    stat = ri.EstimatorStatistic(
        method, "t" if t else "att", "y", "unit", "time", "cohort", tuple(sorted(options.items()))
    )
    fp, why = ri._fast_path(stat, data, des, "time")
    assert fp is not None, why
    ev = fp.evaluator([ri._wide(data, des, "time", data["y"].to_numpy())])
    codes = ri._PermutationSampler(des.codes, des.members())(np.random.default_rng(7), 3)
    codes = np.vstack([des.codes, codes])
    fast = fp.value(ev(codes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(codes.shape[0]):
            d = data.copy()
            d["cohort"] = des.labels[codes[r]][des.row_unit]
            assert fast[r] == pytest.approx(stat(d), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("statistic", ["cs", "twfe_t"])
def test_fast_and_refit_paths_give_the_same_test(staggered, statistic):
    kw = dict(statistic=statistic, outcome="y", n_draws=12, seed=11, block=5, null=0.3, **COLS)
    fast = randomization_test(staggered, fast=True, **kw)
    slow = randomization_test(staggered, fast=False, **kw)
    assert fast.fast_path and slow.fast_path is None
    np.testing.assert_allclose(fast.draws, slow.draws, rtol=1e-10, atol=1e-12)
    assert fast.observed == pytest.approx(slow.observed, rel=1e-10)
    assert fast.p_value == slow.p_value


def test_fast_path_eligibility(staggered):
    des = assignment_design(staggered, **COLS)

    def reason(stat_name, **opts):
        st = ri.EstimatorStatistic(
            stat_name, "att", "y", "unit", "time", "cohort", tuple(sorted(opts.items()))
        )
        return ri._fast_path(st, staggered, des, "time")

    assert reason("cs", covariates=("x",))[0] is None
    assert reason("cs", anticipation=1)[0] is None
    assert reason("bjs")[0] is None
    unbalanced = staggered.iloc[1:]
    st = ri.EstimatorStatistic("twfe", "att", "y", "unit", "time", "cohort")
    assert ri._fast_path(st, unbalanced, assignment_design(unbalanced, **COLS), "time")[1] == (
        "unbalanced panel"
    )
    with pytest.raises(InputError, match="no fast path"):
        randomization_test(staggered, statistic="cs_t", outcome="y", fast=True, **COLS)
    assert reason("twfe_t", covariates=("x",))[0] is None


def test_named_and_callable_statistics_agree(staggered):
    from analysis.estimators.twfe import twfe

    def my_twfe(d: pd.DataFrame) -> float:
        return twfe(d, outcome="y", unit="unit", time="time", cohort="cohort").att

    kw = dict(n_draws=6, seed=2, block=3, **COLS)
    a = randomization_test(staggered, statistic="twfe", outcome="y", **kw)
    b = randomization_test(staggered, statistic=my_twfe, **kw)
    np.testing.assert_allclose(a.draws, b.draws, rtol=1e-9)
    assert a.statistic == "twfe" and b.statistic == "my_twfe"


# --------------------------------------------------------------------------- reproducibility
@pytest.mark.parametrize("statistic", ["cs", "twfe"])
def test_reproducible_across_worker_counts(staggered, statistic):
    kw = dict(statistic=statistic, outcome="y", n_draws=2500, seed=42, **COLS)
    one = randomization_test(staggered, n_jobs=1, **kw)
    two = randomization_test(staggered, n_jobs=2, backend="joblib", verify=False, **kw)
    ser = randomization_test(staggered, backend="serial", verify=False, **kw)
    np.testing.assert_array_equal(one.draws, two.draws)
    np.testing.assert_array_equal(one.draws, ser.draws)
    assert one.p_value == two.p_value
    other = randomization_test(staggered, n_jobs=1, verify=False, **{**kw, "seed": 43})
    assert not np.array_equal(one.draws, other.draws)


def test_exact_enumeration_reproducible_in_parallel(four_units):
    d = pd.concat([four_units.assign(unit=four_units["unit"] + 10 * k) for k in range(3)])
    d = d.reset_index(drop=True)  # 12 units, 6 treated: C(12, 6) = 924 assignments
    kw = dict(statistic=fast_diff_in_means, block=100, **COLS)
    a = randomization_test(d, n_jobs=1, **kw)
    b = randomization_test(d, n_jobs=2, **kw)
    assert a.exact and a.n_assignments == 924
    np.testing.assert_array_equal(a.draws, b.draws)


# --------------------------------------------------------------------------- test inversion
def test_null_shift_matches_shifted_outcome(staggered):
    """Testing tau0 on Y equals testing 0 on Y - tau0 * D."""
    tau0 = 0.8
    a = randomization_test(staggered, statistic="cs", outcome="y", null=tau0, n_draws=300, **COLS)
    d = staggered.copy()
    D = (d["cohort"] > 0) & (d["time"] >= d["cohort"])
    d["y"] = d["y"] - tau0 * D
    b = randomization_test(d, statistic="cs", outcome="y", n_draws=300, **COLS)
    np.testing.assert_allclose(a.draws, b.draws, rtol=1e-10, atol=1e-12)
    assert a.observed == pytest.approx(b.observed, rel=1e-10)
    assert a.p_value == b.p_value


@pytest.mark.parametrize("statistic", ["twfe", "twfe_t"])
def test_interval_endpoints_are_where_p_crosses_alpha(staggered, statistic):
    kw = dict(statistic=statistic, outcome="y", n_draws=999, seed=5, **COLS)
    ci = ri_confidence_interval(staggered, alpha=0.1, **kw)
    assert ci.low < ci.estimate < ci.high and ci.p_at_estimate > 0.1
    eps = 1e-6 * (ci.high - ci.low)
    for bound, sgn in ((ci.low, -1), (ci.high, +1)):
        p_out = randomization_test(staggered, null=bound + sgn * eps, **kw).p_value
        p_in = randomization_test(staggered, null=bound - sgn * eps, **kw).p_value
        assert p_out <= 0.1 < p_in
    att = randomization_test(staggered, **{**kw, "statistic": "twfe"}).observed
    assert ci.estimate == pytest.approx(att, rel=1e-10)


def test_interval_generic_bisection_matches_fast_path():
    """Two periods: the CS simple ATT is the DiD of means, so a plain callable
    (re-fitted, bisection) and the CS closed form must give the same interval."""
    rng = np.random.default_rng(3)
    n = 8
    g = np.array([2] * 4 + [0] * 4)
    y1 = rng.normal(size=n)
    y2 = y1 + rng.normal(size=n) + 1.0 * (g > 0)
    d = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), 2),
            "time": np.tile([1, 2], n),
            "cohort": np.repeat(g, 2),
            "y": np.column_stack([y1, y2]).ravel(),
        }
    )
    fast = ri_confidence_interval(d, statistic="cs", outcome="y", alpha=0.1, **COLS)
    slow = ri_confidence_interval(d, statistic=did_stat, outcome="y", alpha=0.1, xtol=1e-5, **COLS)
    assert fast.exact and slow.exact and fast.n_draws == 70  # C(8, 4)
    assert slow.low == pytest.approx(fast.low, abs=1e-5)
    assert slow.high == pytest.approx(fast.high, abs=1e-5)
    one = ri_confidence_interval(
        d, statistic="cs", outcome="y", alpha=0.1, alternative="greater", **COLS
    )
    assert one.high == math.inf and fast.low < one.low < fast.estimate


def test_result_is_frozen(four_units):
    res = randomization_test(four_units, statistic=diff_in_means, **COLS)
    with pytest.raises(AttributeError):
        res.p_value = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        res.draws[0] = 1.0
    assert set(res.to_dict()) >= {"p_value", "design", "p_value_convention", "exact"}
    assert "p-value" in res.summary()


# --------------------------------------------------------------------------- slow
@pytest.mark.slow
@pytest.mark.parametrize("statistic", ["cs", "twfe"])
def test_size_under_the_null(statistic):
    """Zero effect, units exchangeable: the RI test has size alpha.

    400 panels, 199 draws each; at alpha = 0.05 the rejection rate has MC s.e.
    ~0.011, and we allow 3.5 s.e. (0.038 around 0.05)."""
    rejections, pvals = [], []
    for s in range(400):
        d = simulate_staggered(
            n_units=40,
            n_periods=6,
            cohorts=(3, 5),
            never_share=0.5,
            base_effect=0.0,
            slope=0.0,
            seed=1000 + s,
        ).data
        res = randomization_test(
            d, statistic=statistic, outcome="y", n_draws=199, seed=s, verify=False, **COLS
        )
        pvals.append(res.p_value)
        rejections.append(res.p_value <= 0.05)
    rate = float(np.mean(rejections))
    assert abs(rate - 0.05) < 3.5 * math.sqrt(0.05 * 0.95 / 400)
    # and p-values are roughly uniform: mean near 1/2 (+ 1/(2*200) for the +1)
    assert abs(np.mean(pvals) - 0.5) < 0.05
