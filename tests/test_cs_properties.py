"""Invariance properties of the Callaway-Sant'Anna estimator (hypothesis)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.data.simulate import simulate_staggered
from analysis.estimators.cs import callaway_santanna

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])

configs = st.fixed_dictionaries(
    {
        "est_method": st.sampled_from(["dr", "ipw", "reg"]),
        "control": st.sampled_from(["never", "notyet"]),
        "base_period": st.sampled_from(["varying", "universal"]),
        "covariates": st.sampled_from([(), ("x",)]),
    }
)


def _panel(seed: int) -> pd.DataFrame:
    return simulate_staggered(
        n_units=160,
        n_periods=5,
        cohorts=(3, 4),
        base_effect=(1.0, 2.0),
        slope=0.5,
        beta_x=0.5,
        seed=seed,
    ).data


def _fit(data, cfg, outcome="y", unit="unit"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return callaway_santanna(
            data, outcome=outcome, unit=unit, time="time", cohort="cohort", **cfg
        )


def _vector(r) -> tuple[np.ndarray, np.ndarray]:
    att = [r.att_gt["att"].to_numpy()]
    se = [r.att_gt["se"].to_numpy()]
    for a in r.aggregates.values():
        att.append(np.array([a.att]))
        se.append(np.array([a.se]))
        if a.by is not None:
            att.append(a.by["att"].to_numpy())
            se.append(a.by["se"].to_numpy())
    return np.concatenate(att), np.concatenate(se)


def _close(a, b, rtol=1e-9, atol=1e-12):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


@SETTINGS
@given(seed=st.integers(0, 10_000), cfg=configs, perm_seed=st.integers(0, 2**32 - 1))
def test_relabelling_units_and_shuffling_rows(seed, cfg, perm_seed):
    df = _panel(seed)
    base_att, base_se = _vector(_fit(df, cfg))
    rng = np.random.default_rng(perm_seed)
    ids = df["unit"].unique()
    new = dict(zip(ids, rng.permutation(len(ids)) * 7 + 1000, strict=True))
    relabelled = df.assign(unit=df["unit"].map(new))
    att, se = _vector(_fit(relabelled, cfg))
    _close(att, base_att)
    _close(se, base_se)
    shuffled = df.iloc[rng.permutation(len(df))]
    att, se = _vector(_fit(shuffled, cfg))
    _close(att, base_att)
    _close(se, base_se)
    # string ids under another column name
    named = df.assign(county=df["unit"].map(lambda u: f"c{u:05d}")).drop(columns="unit")
    att, se = _vector(_fit(named, cfg, unit="county"))
    _close(att, base_att)
    _close(se, base_se)


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    cfg=configs,
    shift=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
)
def test_adding_a_constant_to_y(seed, cfg, shift):
    df = _panel(seed)
    att0, se0 = _vector(_fit(df, cfg))
    att1, se1 = _vector(_fit(df.assign(y=df["y"] + shift), cfg))
    scale = 1.0 + abs(shift)
    _close(att1, att0, rtol=0, atol=1e-10 * scale)
    _close(se1, se0, rtol=1e-8, atol=1e-10 * scale)


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    cfg=configs,
    c=st.floats(1e-3, 1e3).flatmap(lambda v: st.sampled_from([v, -v])),
)
def test_scaling_y(seed, cfg, c):
    df = _panel(seed)
    att0, se0 = _vector(_fit(df, cfg))
    att1, se1 = _vector(_fit(df.assign(y=df["y"] * c), cfg))
    _close(att1, c * att0, rtol=1e-9, atol=1e-12 * abs(c))
    _close(se1, abs(c) * se0, rtol=1e-9, atol=1e-12 * abs(c))
    r = _fit(df.assign(y=df["y"] * c), cfg)
    if r.pretest is not None and np.isfinite(r.pretest["stat"]):
        r0 = _fit(df, cfg)
        assert abs(r.pretest["stat"] - r0.pretest["stat"]) <= 1e-6 * (1 + r0.pretest["stat"])
