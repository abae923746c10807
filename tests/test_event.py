"""Dynamic TWFE event study: peer (pyfixest i(rel) with binned end-points), options, inputs."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.estimators.event import event_study
from tests._fe_common import MP, SIM, load_mpdta, ref, sim_panel


@pytest.fixture(scope="module")
def mpdta():
    return load_mpdta()


@pytest.mark.parametrize("name", ["mpdta", "sim"])
def test_matches_pyfixest_binned(name, mpdta):
    data, cols = (mpdta, MP) if name == "mpdta" else (sim_panel(), SIM)
    p = ref(name)["event"]["pyfixest"]
    r = event_study(data, **cols, window=tuple(p["window"]))
    by = r["dynamic"].by.set_index("event")
    assert sorted(by.index) == sorted(p["event"])
    for e, b, s in zip(p["event"], p["coef"], p["se"], strict=True):
        assert by.loc[e, "att"] == pytest.approx(b, abs=1e-6)
        assert by.loc[e, "se"] == pytest.approx(s, rel=1e-4)
    assert -1 not in by.index  # reference period omitted
    post = by.loc[by.index >= 0, "att"]
    assert r.att == pytest.approx(post.mean(), abs=1e-12)
    assert r.pretest["df"] == int((by.index < 0).sum())


def test_binning_pools_far_leads_and_lags():
    d = sim_panel()
    r = event_study(d, **SIM, window=(-3, 2))
    assert list(r["dynamic"].by["event"]) == [-3, -2, 0, 1, 2]
    r2 = event_study(d, **SIM, window=(-3, 2), bin_endpoints=False)
    assert r2.n_obs == r.n_obs  # out-of-window rows kept with zero dummies
    r3 = event_study(d, **SIM, window=(-3, 2), bin_endpoints=False, never_only=True)
    assert r3.n_obs < r.n_obs and r3.info["control"] == "never"
    assert not np.isclose(r.att, r2.att)


def test_no_never_treated_drops_a_second_reference():
    d = simulate_staggered(
        n_units=400, n_periods=8, cohorts=(3, 5, 7), never_share=0.0, seed=2
    ).data
    r = event_study(d, **SIM, window=(-6, 5))
    assert any("not identified" in n for n in r.info["notes"])
    assert -6 not in set(r["dynamic"].by["event"])  # most distant lead dropped
    with pytest.raises(InputError, match="never-treated"):
        event_study(d, **SIM, never_only=True)


def test_info_states_design(mpdta):
    r = event_study(mpdta, **MP)
    for k in (
        "se_type",
        "ssc",
        "cluster",
        "n_clusters",
        "alpha",
        "control",
        "reference_period",
        "window",
        "data_layer",
    ):
        assert k in r.info
    assert r.info["reference_period"] == -1


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(window=(1, 5)), "window"),
        (dict(window=(-5,)), "pair"),
        (dict(ref_period=-7), "ref_period"),
        (dict(ref_period=0), "ref_period"),
        (dict(ssc="x"), "ssc"),
        (dict(bin_endpoints="yes"), "bin_endpoints"),
        (dict(time="nope"), "not found"),
    ],
)
def test_bad_inputs(mpdta, kwargs, match):
    with pytest.raises(InputError, match=match):
        event_study(mpdta, **{**MP, **kwargs})
