"""Benefit-sharing model: accounting identities, break-even splits, uncertainty draws."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.errors import InputError
from analysis.studies import benefit_sharing as B

matplotlib.use("Agg")

INP = B.SharingInputs(
    value_added=10.0,
    tax_rate=0.12,
    k_send=6.0,
    k_recv=4.0,
    yield_send=0.5,
    yield_recv=0.4,
    tax_send=0.08,
    tax_recv=0.1,
)

pos = st.floats(0.0, 50.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    v=st.floats(0.1, 100.0),
    tau=st.floats(0.0, 0.5),
    ks=pos,
    kr=pos,
    rs=st.floats(0.0, 1.0),
    rr=st.floats(0.0, 1.0),
    s=st.floats(0.0, 1.0),
    stax=st.floats(0.0, 1.0),
)
def test_credited_shares_sum_to_the_totals(v, tau, ks, kr, rs, rr, s, stax):
    inp = B.SharingInputs(v, tau, ks, kr, rs, rr)
    c = B.credited(inp, s, tax_share=stax)
    assert c.loc["sending", "gdp"] + c.loc["receiving", "gdp"] == pytest.approx(v, rel=1e-12)
    assert c.loc["sending", "tax"] + c.loc["receiving", "tax"] == pytest.approx(
        tau * v, rel=1e-12, abs=1e-12
    )
    assert c.loc["sending", "share"] + c.loc["receiving", "share"] == pytest.approx(1.0)
    # gains sum to the park's surplus whatever the split
    assert c.loc["total", "gdp_gain"] == pytest.approx(inp.surplus, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    v=st.floats(0.5, 100.0),
    tau=st.floats(0.01, 0.5),
    ks=pos,
    kr=pos,
    rs=st.floats(0.0, 1.0),
    rr=st.floats(0.0, 1.0),
)
def test_break_even_solves_its_equations(v, tau, ks, kr, rs, rr):
    inp = B.SharingInputs(v, tau, ks, kr, rs, rr)
    be = B.break_even(inp)
    g = B.gains_by_split(inp, np.array([be.gdp_low, be.gdp_high]).clip(0, 1))
    if 0 <= be.gdp_low <= 1:
        assert g["gdp_gain_send"].iloc[0] == pytest.approx(0.0, abs=1e-9 * max(1, v))
    if 0 <= be.gdp_high <= 1:
        assert g["gdp_gain_recv"].iloc[1] == pytest.approx(0.0, abs=1e-9 * max(1, v))
    # inside the interval both gain on both counts; the interval is non-empty iff surplus >= 0
    if be.feasible:
        mid = B.credited(inp, 0.5 * (be.low + be.high))
        assert (mid.loc[["sending", "receiving"], ["gdp_gain", "tax_gain"]] >= -1e-9).all().all()
    assert (be.gdp_low <= be.gdp_high) == (inp.surplus >= -1e-12)


def test_worked_example():
    be = B.break_even(INP)
    assert be.gdp_low == pytest.approx(0.3)  # 0.5*6/10
    assert be.gdp_high == pytest.approx(1 - 0.16)  # 1 - 0.4*4/10
    assert be.tax_low == pytest.approx(0.08 * 3 / 1.2)
    assert be.tax_high == pytest.approx(1 - 0.1 * 1.6 / 1.2)
    assert (be.low, be.high) == (pytest.approx(0.3), pytest.approx(0.84))  # GDP binds on both ends
    assert B.equity_share(INP) == pytest.approx(0.6)
    eq = B.equal_gain_share(INP)
    c = B.credited(INP, eq)
    assert c.loc["sending", "gdp_gain"] == pytest.approx(c.loc["receiving", "gdp_gain"])


def test_value_added_from_log_effect():
    assert B.value_added_from_log_effect(math.log(1.05), 200.0) == pytest.approx(10.0)


def test_uncertainty_draws_are_seeded_and_consistent():
    d1 = B.sharing_uncertainty(
        INP, effect=0.05, se=0.02, base=200.0, share=0.6, n_draws=2000, seed=7
    )
    d2 = B.sharing_uncertainty(
        INP, effect=0.05, se=0.02, base=200.0, share=0.6, n_draws=2000, seed=7
    )
    assert d1.equals(d2)
    assert d1["effect"].mean() == pytest.approx(0.05, abs=3 * 0.02 / np.sqrt(2000))
    # each draw agrees with the deterministic model at its value added
    row = d1.iloc[3]
    be = B.break_even(B.with_value_added(INP, row["value_added"]))
    assert row["low"] == pytest.approx(be.low) and row["high"] == pytest.approx(be.high)
    assert row["both_gain"] == (be.feasible and be.low <= 0.6 <= be.high)
    # zero standard error: every draw is the point estimate
    d0 = B.sharing_uncertainty(INP, effect=0.05, se=0.0, base=200.0, share=0.6, n_draws=5)
    assert d0["value_added"].nunique() == 1


def test_plots_return_figures():
    fig = B.sharing_plot(INP, share=0.6, label="ILLUSTRATIVE")
    assert fig.axes
    d = B.sharing_uncertainty(INP, effect=0.05, se=0.02, base=200.0, share=0.6, n_draws=200)
    fig2 = B.uncertainty_plot(d, share=0.6)
    assert fig2.axes[0].get_ylim()[1] > 1


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(value_added=0.0), "value_added must be positive"),
        (dict(value_added=1.0, tax_rate=1.5), "tax_rate"),
        (dict(value_added=1.0, k_send=-1), "k_send must be non-negative"),
        (dict(value_added="x"), "value_added must be a number"),
    ],
)
def test_bad_inputs(kwargs, msg):
    with pytest.raises(InputError, match=msg):
        B.SharingInputs(**kwargs)


def test_bad_share():
    with pytest.raises(InputError, match="share must lie in"):
        B.credited(INP, 1.2)
