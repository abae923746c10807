"""The one numerical core (analysis.design) and the one validation layer (analysis.validation)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis import design, validation
from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.estimators.event import event_study
from analysis.estimators.sa import sun_abraham

SIM = dict(outcome="y", unit="unit", time="time", cohort="cohort")


@pytest.fixture(scope="module")
def panel():
    return simulate_staggered(n_units=60, n_periods=8, cohorts=(4, 6), never_share=0.3, seed=9).data


# --------------------------------------------------------------------------- absorption
def test_two_way_demeaning_equals_absorbed_least_squares_residuals(panel):
    d = panel.sort_values(["unit", "time"])
    n, T = d["unit"].nunique(), d["time"].nunique()
    y = d["y"].to_numpy()
    uid = pd.factorize(d["unit"])[0]
    tid = pd.factorize(d["time"], sort=True)[0]
    fit = design.fit_absorbed(y, uid, n, design.time_dummies(tid, T))
    np.testing.assert_allclose(
        design.demean_two_way(y.reshape(n, T)).ravel(), fit.resid, atol=1e-12
    )
    stack = np.stack([y.reshape(n, T), 2 * y.reshape(n, T)])
    np.testing.assert_allclose(
        design.demean_two_way(stack)[1], 2 * fit.resid.reshape(n, T), atol=1e-11
    )


def test_within_is_group_demeaning():
    a = np.array([1.0, 2.0, 6.0, 4.0, 5.0])
    codes = np.array([0, 0, 1, 1, 1])
    np.testing.assert_allclose(design.within(a, codes, 2), [-0.5, 0.5, 1.0, -1.0, 0.0])
    assert design.within(a, None, 0) is not a


# --------------------------------------------------------------------------- small sample
def test_ssc_conventions_are_named_and_agree():
    n, k, N, T, G = 500, 2, 100, 5, 40
    fix = design.ssc_factor("fixest", n=n, k=k, G=G, fe_levels=(N, T), fe_nested=(True, False))
    assert fix == pytest.approx(G / (G - 1) * (n - 1) / (n - (k + T)), rel=1e-15)
    assert (
        design.ssc_factor("stata", n=n, k=k, G=G, fe_levels=(N, T), fe_nested=(True, False)) == fix
    )
    lm = design.ssc_factor("linearmodels", n=n, k=k, G=G, fe_levels=(N, T), fe_nested=(True, False))
    assert lm == pytest.approx(n / (n - k - (N + T - 1)), rel=1e-15)
    assert design.ssc_factor("none", n=n, k=k, G=G) == 1.0
    assert design.panel_ssc_factor("fixest", n=n, k=k, n_units=N, n_times=T, G=G) == fix
    assert design.panel_ssc_factor("linearmodels", n=n, k=k, n_units=N, n_times=T, G=G) == lm
    with pytest.raises(InputError, match="ssc must be one of"):
        design.ssc_factor("stata2", n=n, k=k, G=G)


# --------------------------------------------------------------------------- Wald policy
def test_wald_policy_singular_covariance_is_nan_with_a_reason():
    V = np.array([[1.0, 1.0], [1.0, 1.0]])
    w = design.wald_test(np.array([0.3, 0.1]), V)
    assert np.isnan(w.stat) and np.isnan(w.p_value) and w.df == 2
    assert "singular" in w.note
    with pytest.warns(UserWarning, match="singular covariance"):
        design.wald_test(np.array([0.3, 0.1]), V, warn=True)
    ok = design.wald_test(np.array([0.3, 0.1]), np.diag([0.01, 0.04]))
    assert ok.stat == pytest.approx(0.3**2 / 0.01 + 0.1**2 / 0.04) and ok.note is None


def test_pretrend_with_more_leads_than_clusters_is_not_computed(panel):
    """Pinned singular case: several leads, 2 clusters -> the clustered covariance of
    the leads has rank 1; the test is NaN with a warning (before: a pseudo-inverse)."""
    d = panel.assign(cl=panel["unit"] % 2)
    with pytest.warns(UserWarning, match="Wald test not computed: singular covariance"):
        r = sun_abraham(d, **SIM, cluster="cl")
    assert np.isnan(r.pretest["stat"]) and np.isnan(r.pretest["p_value"])
    assert r.pretest["df"] >= 2
    full = sun_abraham(d, **SIM)  # clustered by unit: 60 clusters, computed
    assert np.isfinite(full.pretest["stat"]) and 0 < full.pretest["p_value"] < 1


# --------------------------------------------------------------------------- validation
def test_literal_options_are_checked_against_their_vocabulary():
    from typing import Literal

    assert validation.check_option("x", "b", Literal["a", "b"]) == "b"
    with pytest.raises(InputError, match=r"^x must be one of 'a', 'b' \(got 'c'\)$"):
        validation.check_option("x", "c", Literal["a", "b"])
    assert validation.literal_values(Literal["a"] | None) == ("a", None)
    for bad in (0, 1, 1.5, "0.1", True, None):
        with pytest.raises(InputError, match="alpha must lie strictly between 0 and 1"):
            validation.check_alpha(bad) if not isinstance(bad, str) else validation.check_alpha(
                [bad]
            )
    assert validation.check_seed(None) is None and validation.check_seed(3) == 3
    with pytest.raises(InputError, match="seed must be an integer >= 0"):
        validation.check_seed(-1)
    with pytest.raises(InputError, match="draws must be a positive integer"):
        validation.check_draws("draws", 0)


def test_one_comparison_group_vocabulary_with_old_spellings_deprecated(panel):
    with pytest.warns(DeprecationWarning, match="control='auto' is deprecated"):
        old = sun_abraham(panel, **SIM, control="auto")
    new = sun_abraham(panel, **SIM)
    assert old.att == new.att and old.info["control"] == new.info["control"]
    with pytest.warns(
        DeprecationWarning, match="never_only=True is deprecated; use control='never'"
    ):
        old = event_study(panel, **SIM, never_only=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        new = event_study(panel, **SIM, control="never")
        default = event_study(panel, **SIM)
    assert old.att == new.att and new.info["control"] == "never"
    assert default.att == event_study(panel, **SIM, control="notyet").att
    with pytest.raises(InputError, match="contradicts"), pytest.warns(DeprecationWarning):
        event_study(panel, **SIM, never_only=True, control="notyet")
    with pytest.raises(InputError, match="control must be one of 'never', 'last'"):
        sun_abraham(panel, **SIM, control="notyet")
