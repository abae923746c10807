"""The shared contracts: input validation (prepare_panel) and the immutable result object."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.estimators._panel import prepare_panel
from analysis.results import Aggregate, DiDResult

COLS = dict(outcome="y", unit="unit", time="time", cohort="cohort")


@pytest.fixture(scope="module")
def sim():
    return simulate_staggered(n_units=60, n_periods=6, cohorts=(3, 5), seed=3).data


def test_prepare_panel_standardises(sim):
    p = prepare_panel(sim, **COLS)
    assert p.n_units == 60 and p.balanced and list(p.cohorts) == [3, 5]
    assert list(p.data.columns[:5]) == ["unit", "uid", "time", "cohort", "y"]
    assert p.data["uid"].max() == 59


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.drop(columns="y"), "column 'y' not found"),
        (lambda d: pd.concat([d, d.iloc[[0]]]), "duplicate unit-time row"),
        (
            lambda d: d.assign(y=d["y"].astype(str).where(d.index != 4, "abc")),
            "outcome column 'y' is not numeric",
        ),
        (
            lambda d: d.assign(cohort=np.where(d.index == 0, d["cohort"] + 2, d["cohort"])),
            "varies within 1 unit",
        ),
        (lambda d: d.assign(cohort=0), "no treated units"),
        (lambda d: d.assign(time=d["time"] + 0.5), "whole numbers"),
        (lambda d: d.assign(cohort=-d["cohort"]), "negative values"),
    ],
)
def test_prepare_panel_errors_are_one_line(sim, mutate, message):
    with pytest.raises(InputError, match=message) as e:
        prepare_panel(mutate(sim.copy()), **COLS)
    assert "\n" not in str(e.value)


def test_no_comparison_group(sim):
    d = sim[sim["cohort"] == 3]
    with pytest.raises(InputError, match="no untreated comparison"):
        prepare_panel(d, **COLS)
    with pytest.raises(InputError, match="no never-treated"):
        prepare_panel(sim[sim["cohort"] > 0], **COLS, require_never_treated=True)


def test_drops_are_announced(sim):
    d = sim.copy()
    d.loc[d["unit"] == 1, "cohort"] = 1  # treated in the first period
    d.loc[3, "y"] = np.nan
    with pytest.warns(UserWarning) as rec:
        p = prepare_panel(d, **COLS)
    msgs = " ".join(str(w.message) for w in rec)
    assert "treated at or before the first period" in msgs and "missing" in msgs
    assert len(p.notes) == 2 and p.n_units == 59


def _result():
    by = pd.DataFrame({"event": [-1, 0, 1], "att": [0.1, 1.0, 2.0], "se": [0.1, 0.2, 0.3]})
    return DiDResult(
        method="demo",
        outcome="y",
        n_units=10,
        n_obs=50,
        att_gt=pd.DataFrame(
            {"cohort": [3, 3], "time": [3, 4], "att": [1.0, 2.0], "se": [0.2, 0.3]}
        ),
        aggregates={
            "simple": Aggregate("simple", 1.5, 0.25),
            "dynamic": Aggregate("dynamic", 1.5, 0.2, by=by, crit_value=2.5),
        },
        info={
            "control": "never",
            "est_method": "dr",
            "se_type": "analytic",
            "alpha": 0.05,
            "data_layer": "synthetic",
        },
    )


def test_result_is_immutable():
    r = _result()
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.method = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.aggregates["new"] = r.aggregates["simple"]  # type: ignore[index]
    assert r["dynamic"].vcov is None


def test_tidy_has_pointwise_and_simultaneous_intervals():
    t = _result().tidy()
    dyn = t[t["aggregation"] == "dynamic"]
    assert len(dyn) == 3
    np.testing.assert_allclose(dyn["band_high"] - dyn["estimate"], 2.5 * dyn["std_error"])
    np.testing.assert_allclose(
        dyn["conf_high"] - dyn["estimate"], 1.959963984540054 * dyn["std_error"]
    )
    gt = t[t["aggregation"] == "att_gt"]
    assert list(gt["event"]) == [0, 1]


def test_to_dict_is_the_json_contract():
    d = _result().to_dict(provenance={"data": "x.csv", "package_version": "0", "seed": 0})
    assert list(d)[:6] == ["method", "outcome", "n_units", "n_obs", "control", "est_method"]
    assert d["att_gt"][0] == {"cohort": 3, "time": 3, "att": 1.0, "se": 0.2}
    assert d["aggregates"]["simple"]["ci"][0] == pytest.approx(1.5 - 1.959963984540054 * 0.25)
    assert d["aggregates"]["dynamic"]["by"][0] == {"event": -1, "att": 0.1, "se": 0.1}
    assert d["provenance"]["seed"] == 0
    json.dumps(d)  # serialisable


def test_summary_states_design():
    s = _result().summary()
    for needle in ("Comparison group: never", "Standard errors: analytic", "Data layer: synthetic"):
        assert needle in s
