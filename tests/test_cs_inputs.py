"""Bad input and sample handling of ``callaway_santanna``: one-line InputErrors, loud drops."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.data.simulate import simulate_staggered
from analysis.errors import InputError
from analysis.estimators.cs import callaway_santanna

KW = dict(outcome="y", unit="unit", time="time", cohort="cohort")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return simulate_staggered(
        n_units=300, n_periods=6, cohorts=(3, 5), base_effect=(1.0, 2.0), n_clusters=30, seed=2
    ).data


def _raises(data, match, **kw):
    args = {**KW, **kw}
    with pytest.raises(InputError, match=match) as exc:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            callaway_santanna(data, **args)
    msg = str(exc.value)
    assert "\n" not in msg and len(msg) < 300, msg
    return msg


def test_missing_column(panel):
    _raises(panel, "'yy'", outcome="yy")
    _raises(panel, "'zz'", covariates=["zz"])
    _raises(panel.drop(columns="cohort"), "'cohort'")


def test_duplicate_unit_time(panel):
    _raises(pd.concat([panel, panel.iloc[:1]]), "duplicate unit-time")


def test_non_numeric_outcome(panel):
    bad = panel.assign(y=panel["y"].astype(object))
    bad.loc[3, "y"] = "n/a"
    _raises(bad, "outcome column 'y' is not numeric")


def test_cohort_varies_within_unit(panel):
    bad = panel.copy()
    i = bad.index[bad["cohort"] == 3][0]
    bad.loc[i, "cohort"] = 5
    _raises(bad, "varies within")


def test_no_never_treated_with_never_control(panel):
    treated = panel[panel["cohort"] > 0]
    _raises(treated, "never-treated", control="never")


def test_no_treated_units(panel):
    _raises(panel.assign(cohort=0), "no treated units")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("control", "nevertreated"),
        ("est_method", "ols"),
        ("base_period", "fixed"),
        ("panel_handling", "rcs"),
        ("boot_weights", "normal"),
        ("anticipation", -1),
        ("anticipation", 1.5),
        ("alpha", 1.5),
        ("alpha", 0),
        ("n_boot", 0),
        ("seed", -3),
        ("max_event", -1),
        ("balance_event", "1"),
    ],
)
def test_bad_option_values(panel, option, value):
    msg = _raises(panel, option, **{option: value})
    assert repr(value) in msg


def test_collinear_covariates(panel):
    _raises(panel.assign(c=1.0), "collinear", covariates=["c"])
    _raises(panel.assign(x2=2 * panel["x"]), "collinear", covariates=["x", "x2"])


def test_cluster_must_nest_units(panel):
    bad = panel.copy()
    bad.loc[bad.index[0], "cluster"] = 999
    _raises(bad, "cluster", cluster="cluster")


def test_unbalanced_panel_is_balanced_loudly(panel):
    drop_units = panel["unit"].unique()[:7]
    rows = panel.index[panel["unit"].isin(drop_units) & (panel["time"] == 4)]
    unbalanced = panel.drop(index=rows)
    with pytest.warns(UserWarning, match="dropped 7 unit"):
        r = callaway_santanna(unbalanced, **KW)
    assert r.info["n_units_dropped"] == 7
    assert r.n_units == 300 - 7
    assert any("dropped 7 unit" in n for n in r.info["notes"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = callaway_santanna(panel[~panel["unit"].isin(drop_units)], **KW)
    np.testing.assert_allclose(r.att_gt["att"], ref.att_gt["att"])


def test_missing_outcome_rows_drop_units(panel):
    bad = panel.copy()
    bad.loc[bad.index[:2], "y"] = np.nan  # two rows of unit 1
    with pytest.warns(UserWarning) as rec:
        r = callaway_santanna(bad, **KW)
    msgs = [str(w.message) for w in rec]
    assert any("missing" in m for m in msgs) and any("dropped 1 unit" in m for m in msgs)
    assert r.n_units == 299


def test_notyet_without_never_treated(panel):
    treated = panel[panel["cohort"] > 0]
    with pytest.warns(UserWarning, match="no never-treated units"):
        r = callaway_santanna(treated, control="notyet", **KW)
    # periods from the last cohort (5) on are dropped; cohort 5 is only a comparison
    assert r.att_gt["time"].max() == 4
    assert set(r.att_gt["cohort"]) == {3}
    assert r.info["cohorts"] == [3]


def test_treated_in_first_period_dropped(panel):
    bad = panel.copy()
    bad.loc[bad["unit"] <= 5, "cohort"] = 1
    with pytest.warns(UserWarning, match="treated at or before the first period"):
        r = callaway_santanna(bad, **KW)
    assert r.n_units == 295


def test_cluster_equal_to_unit_is_plain_unit_level(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = callaway_santanna(panel, cluster="unit", **KW)
        b = callaway_santanna(panel, **KW)
    assert a.info["cluster"] is None
    np.testing.assert_array_equal(a.att_gt["se"], b.att_gt["se"])


def test_unbalanced_option_keeps_units(panel):
    drop_units = panel["unit"].unique()[:7]
    rows = panel.index[panel["unit"].isin(drop_units) & (panel["time"] == 4)]
    unbalanced = panel.drop(index=rows)
    with pytest.warns(UserWarning, match="unbalanced panel: 7 unit"):
        r = callaway_santanna(unbalanced, panel_handling="unbalanced", **KW)
    assert r.n_units == 300 and r.n_obs == len(unbalanced)
    assert r.info["n_units_dropped"] == 0
    assert "repeated-cross-section" in r.info["panel_estimator"]
    # a balanced panel uses the panel estimator whatever panel_handling says
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b1 = callaway_santanna(panel, panel_handling="unbalanced", **KW)
        b2 = callaway_santanna(panel, **KW)
    assert b1.info["panel_estimator"].startswith("panel")
    np.testing.assert_array_equal(b1.att_gt["att"], b2.att_gt["att"])
