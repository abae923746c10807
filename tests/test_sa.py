"""Sun & Abraham IW estimator: peers (pyfixest saturated / fixest sunab weights, diff-diff), truth."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.estimators.sa import sun_abraham
from tests._fe_common import MP, SIM, load_mpdta, ref, sim_panel, truth_panel


@pytest.fixture(scope="module")
def mpdta():
    return load_mpdta()


def _data(name, mpdta):
    return (mpdta, MP) if name == "mpdta" else (sim_panel(), SIM)


@pytest.mark.parametrize("name", ["mpdta", "sim"])
@pytest.mark.parametrize("peer", ["pyfixest_saturated", "diff_diff"])
def test_att_and_dynamic_match_peers(name, peer, mpdta):
    data, cols = _data(name, mpdta)
    r = sun_abraham(data, **cols)
    p = ref(name)["sa"][peer]
    assert r.att == pytest.approx(p["att"], abs=1e-6)
    assert r.se == pytest.approx(p["att_se"], rel=1e-4)
    by = r["dynamic"].by.set_index("event")
    for e, b, s in zip(p["dynamic"]["event"], p["dynamic"]["att"], p["dynamic"]["se"], strict=True):
        if e == -1:
            continue
        assert by.loc[e, "att"] == pytest.approx(b, abs=1e-6)
        assert by.loc[e, "se"] == pytest.approx(s, rel=1e-4)


@pytest.mark.parametrize("name", ["mpdta", "sim"])
def test_catts_match_pyfixest(name, mpdta):
    data, cols = _data(name, mpdta)
    r = sun_abraham(data, **cols)
    got = r.att_gt.assign(event=r.att_gt["time"] - r.att_gt["cohort"]).set_index(
        ["cohort", "event"]
    )
    for c in ref(name)["sa"]["pyfixest_saturated"]["catt"]:
        row = got.loc[(c["cohort"], c["event"])]
        assert row["att"] == pytest.approx(c["att"], abs=1e-6)
        assert row["se"] == pytest.approx(c["se"], rel=1e-4)


def test_published_sunab_att(mpdta):
    pub = ref("mpdta")["published"]["sunab_att"]
    assert round(sun_abraham(mpdta, **MP).att, 9) == pytest.approx(pub["value"], abs=1e-9)


def test_last_cohort_control_without_never_treated():
    d = simulate_staggered(n_units=3000, n_periods=10, cohorts=(3, 5, 8), never_share=0.0, seed=4)
    r = sun_abraham(d.data, **SIM)
    assert r.info["control"] == "last cohort"
    assert r.att_gt["cohort"].max() < 8 and r.att_gt["time"].max() < 8
    with pytest.raises(InputError, match="never-treated"):
        sun_abraham(d.data, **SIM, control="never")


def test_recovers_truth():
    sim = truth_panel()
    r = sun_abraham(sim.data, **SIM)
    assert abs(r.att - sim.true_simple()) < 4 * r.se
    truth = sim.true_dynamic()
    by = r["dynamic"].by.set_index("event")
    for e, v in truth.items():
        assert abs(by.loc[e, "att"] - v) < 4.5 * by.loc[e, "se"]
    for e in by.index[by.index < 0]:
        assert abs(by.loc[e, "att"]) < 4.5 * by.loc[e, "se"]


def test_bad_inputs(mpdta):
    with pytest.raises(InputError, match="control"):
        sun_abraham(mpdta, **MP, control="notyet")
    with pytest.raises(InputError, match="alpha"):
        sun_abraham(mpdta, **MP, alpha=0)
    with pytest.raises(InputError, match="not found"):
        sun_abraham(mpdta, **{**MP, "cohort": "g"})


@pytest.mark.slow
def test_large_panel_runs():
    d = simulate_staggered(n_units=100_000, n_periods=20, cohorts=(5, 10, 15), seed=1).data
    r = sun_abraham(d, **SIM)
    assert np.isfinite(r.att) and np.isfinite(r.se)
