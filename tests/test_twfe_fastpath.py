"""The balanced TWFE path (two-way demeaning of n x T arrays,
:func:`analysis.design.twfe_balanced`) equals the general sparse absorbed fit.

Reference: the general ``within`` path of :func:`analysis.estimators.twfe.twfe`
(time dummies + absorbed unit effects + clustered sandwich; itself tested against
pyfixest and linearmodels in ``tests/test_twfe.py``), forced by disabling the
balanced path; the balanced path runs in several unit blocks. Tolerance 1e-12 relative (the same maths, summed in another order).
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.data.simulate import simulate_staggered
from analysis.estimators import twfe as twfe_mod

KW = dict(outcome="y", unit="unit", time="time", cohort="cohort")


@pytest.fixture(scope="module")
def panel():
    return simulate_staggered(n_units=400, n_periods=8, cohorts=(3, 5, 7), seed=11).data


@pytest.mark.parametrize("cluster", [None, "cluster"])
@pytest.mark.parametrize("ssc", ["fixest", "linearmodels"])
def test_balanced_path_equals_sparse_fit(panel, cluster, ssc, monkeypatch):
    from analysis import design

    monkeypatch.setattr(design, "TWFE_BLOCK", 37)  # several unit blocks
    fast = twfe_mod.twfe(panel, **KW, cluster=cluster, ssc=ssc)
    monkeypatch.setattr(twfe_mod, "_within_balanced", lambda *a, **k: None)
    slow = twfe_mod.twfe(panel, **KW, cluster=cluster, ssc=ssc)
    assert fast.att == pytest.approx(slow.att, rel=1e-12)
    assert fast.se == pytest.approx(slow.se, rel=1e-12)
    assert fast.info == slow.info
    assert fast.n_obs == slow.n_obs and fast.n_units == slow.n_units


def test_balanced_path_large_level_and_period_effects(panel, monkeypatch):
    df = panel.copy()
    df["y"] = df["y"] + 1e4 + 50.0 * df["time"]
    fast = twfe_mod.twfe(df, **KW)
    monkeypatch.setattr(twfe_mod, "_within_balanced", lambda *a, **k: None)
    slow = twfe_mod.twfe(df, **KW)
    assert fast.att == pytest.approx(slow.att, rel=1e-9)
    assert fast.se == pytest.approx(slow.se, rel=1e-9)


def test_absorbed_regressor_detected():
    from analysis.design import twfe_balanced

    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 6))
    d = np.broadcast_to(np.arange(6) >= 3, (50, 6))  # a period effect: absorbed
    assert twfe_balanced(y, d, np.arange(50), 50) is None
    d2 = d.copy()
    d2[:10, 2] = True  # staggered: identified
    assert twfe_balanced(y, d2, np.arange(50), 50) is not None


def test_bjs_simple_request_equals_full_fit(panel):
    """BJS ``estimands="simple"`` (one weight column) gives the full fit's overall ATT
    bit for bit and its SE to 1e-12 (reference: the default ``estimands="all"``)."""
    import warnings

    from analysis.errors import InputError
    from analysis.estimators.bjs import bjs_imputation

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = bjs_imputation(panel, **KW)
        simple = bjs_imputation(panel, **KW, estimands="simple")
        simple_cl = bjs_imputation(panel, **KW, cluster="cluster", estimands="simple")
        full_cl = bjs_imputation(panel, **KW, cluster="cluster")
    assert simple.att == full.att
    assert simple.se == pytest.approx(full.se, rel=1e-12)
    assert simple_cl.se == pytest.approx(full_cl.se, rel=1e-12)
    assert set(simple.aggregates) == {"simple"} and simple.pretest is None
    with pytest.raises(InputError, match="estimands"):
        bjs_imputation(panel, **KW, estimands="dynamic")


@pytest.mark.parametrize(
    "case", [dict(weights="w"), dict(se="hc1"), dict(se="iid"), dict(se="cr2")]
)
def test_balanced_path_not_used_with_weights_or_other_se(panel, case, monkeypatch):
    """Weights and SE types other than cr1 take the general within path (the blocked
    demeaning gives the unweighted CR1 fit only)."""
    df = panel.assign(w=1.0 + (panel["unit"] % 3))

    def refuse(*a, **k):  # pragma: no cover - reached only on a regression
        raise AssertionError("_within_balanced used")

    monkeypatch.setattr(twfe_mod, "_within_balanced", refuse)
    r = twfe_mod.twfe(df, **KW, **case)
    assert np.isfinite(r.att) and np.isfinite(r.se)


def test_bjs_simple_request_with_weights_equals_full_fit(panel):
    """With observation weights omega, ``estimands="simple"`` is the same
    omega-weighted overall ATT as the full fit (bit for bit) and SE (1e-12)."""
    import warnings

    from analysis.estimators.bjs import bjs_imputation

    df = panel.assign(w=0.5 + (panel["unit"] % 4) + 0.1 * (panel["time"] % 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = bjs_imputation(df, **KW, weights="w")
        simple = bjs_imputation(df, **KW, weights="w", estimands="simple")
        unweighted = bjs_imputation(df, **KW, estimands="simple")
    assert simple.att == full.att
    assert simple.se == pytest.approx(full.se, rel=1e-12)
    assert simple.info["weights"] == "w"
    assert simple.att != unweighted.att  # the weights matter
