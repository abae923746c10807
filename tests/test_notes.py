"""``notes``: every drop, recoding and warning an estimator issues reaches the result.

For each kind of event (rows with missing values dropped, units treated at or
before the first period dropped or kept, cohorts after the last period coded
never treated, covariates collinear with the unit effects dropped, a singular
Wald test reported as NaN, treated rows outside an unbinned window dropped, the
last-treated cohort used as control) the test checks, on a small panel built to
trigger exactly it, that the estimator

* issues the sentence as a ``UserWarning`` (as before) and
* carries the same sentence in ``DiDResult.notes`` (an immutable tuple), in the
  ``notes`` list of ``to_dict()`` (the JSON contract) and in ``summary()``;

and that every ``UserWarning`` issued is among the notes. The counts and cohorts
named in each sentence are the ones the panel was built with. The CLI prints
each note once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main
from analysis.data.simulate import simulate_staggered
from analysis.estimators import registry
from analysis.estimators.event import event_study
from analysis.estimators.sa import sun_abraham
from analysis.estimators.twfe import twfe
from analysis.results import Aggregate, DiDResult

SIM = dict(outcome="y", unit="unit", time="time", cohort="cohort")


def _panel(seed: int = 3) -> pd.DataFrame:
    """Balanced panel, periods 1..8, cohorts 3, 5, 7 and never treated (0)."""
    return simulate_staggered(n_units=60, n_periods=8, cohorts=(3, 5, 7), seed=seed).data


def _units(d, cohort, k):
    return np.sort(d.loc[d["cohort"] == cohort, "unit"].unique())[:k]


def _fit(fn, d, **kw):
    """Result and the UserWarning messages issued while fitting."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fn(d, **SIM, **kw)
    return res, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def _check(res, msgs, expected: str):
    """``expected`` is warned, is a note, reaches JSON and summary; all warnings are notes."""
    assert isinstance(res.notes, tuple)
    hits = [n for n in res.notes if expected in n]
    assert len(hits) == 1, (expected, res.notes)
    assert any(expected in m for m in msgs), (expected, msgs)
    assert set(msgs) <= set(res.notes), set(msgs) - set(res.notes)
    payload = json.loads(json.dumps(res.to_dict()))
    assert payload["notes"] == list(res.notes)
    assert hits[0] in res.summary()
    return hits[0]


def test_rows_with_missing_outcome_dropped():
    d = _panel()
    d.loc[[0, 5, 17], "y"] = np.nan
    res, msgs = _fit(twfe, d)
    _check(res, msgs, "dropped 3 row(s) with a missing outcome or covariate")


def test_units_treated_before_first_period_dropped_and_named():
    d = _panel()
    d.loc[d["unit"].isin(_units(d, 3, 4)), "cohort"] = 1  # treated in the first period
    res, msgs = _fit(event_study, d)
    _check(res, msgs, "dropped 4 unit(s) treated at or before the first period 1 (cohort(s) 1;")


def test_units_treated_before_first_period_kept_with_include():
    d = _panel()
    d["time"] += 2000
    d["cohort"] = np.where(d["cohort"] > 0, d["cohort"] + 2000, 0)
    d.loc[d["unit"].isin(_units(d, 2003, 3)), "cohort"] = 1990
    d.loc[d["unit"].isin(_units(d, 2005, 2)), "cohort"] = 2001
    res, msgs = _fit(event_study, d, always_treated="include")
    _check(
        res,
        msgs,
        "kept 5 unit(s) treated at or before the first period 2001 (cohort(s) 1990, 2001;",
    )
    res, msgs = _fit(event_study, d)
    _check(res, msgs, "dropped 5 unit(s) treated at or before the first period 2001")


def test_cohort_after_last_period_coded_never_treated():
    d = _panel()
    d["time"] += 2020
    d["cohort"] = np.where(d["cohort"] > 0, d["cohort"] + 2020, 0)
    d.loc[d["unit"].isin(_units(d, 2027, 3)), "cohort"] = 2031
    res, msgs = _fit(sun_abraham, d)
    _check(
        res,
        msgs,
        "3 unit(s) first treated after the last period 2028 (cohort(s) 2031) are coded never treated",
    )


def test_covariate_collinear_with_unit_effects_dropped():
    d = _panel()
    d["const_x"] = d["unit"] % 3  # constant within every unit
    res, msgs = _fit(event_study, d, covariates=("const_x",))
    _check(res, msgs, "covariate 'const_x' is constant within units and is absorbed")


def test_singular_wald_test_is_a_note():
    d = _panel()
    d["region"] = d["unit"] % 2  # two clusters: the lead covariance has rank 1
    res, msgs = _fit(event_study, d, cluster="region", window=(-4, 3))
    note = _check(res, msgs, "Wald test not computed: singular covariance matrix")
    assert np.isnan(res.pretest["stat"]) and note.startswith("Wald test")
    assert res.to_dict()["pretest"]["stat"] is None


def test_treated_rows_outside_unbinned_window_dropped():
    d = _panel()
    res, msgs = _fit(event_study, d, window=(-2, 2), bin_endpoints=False, control="never")
    e = np.where(d["cohort"] > 0, d["time"] - d["cohort"], 0)
    n_out = int(((d["cohort"] > 0) & ((e < -2) | (e > 2))).sum())
    _check(res, msgs, f"dropped {n_out} treated observation(s) outside the window -2..2")


def test_last_treated_cohort_as_control_is_a_note():
    d = _panel()
    d = d[d["cohort"] > 0]
    res, msgs = _fit(sun_abraham, d, control="last")
    _check(res, msgs, "control = last-treated cohort 7")


@pytest.mark.parametrize("method", registry.methods())
def test_every_registered_method_reports_the_panel_notes(method):
    d = _panel()
    d.loc[d["unit"].isin(_units(d, 3, 2)), "cohort"] = 1
    d.loc[[1, 2], "y"] = np.nan
    res, msgs = _fit(registry.get_estimator(method), d)
    _check(res, msgs, "dropped 2 unit(s) treated at or before the first period 1")
    _check(res, msgs, "dropped 2 row(s) with a missing outcome or covariate")


def test_result_notes_are_immutable_deduplicated_and_read_from_info():
    agg = {"simple": Aggregate("simple", 1.0, 0.1)}
    r = DiDResult("x", "y", 1, 1, None, agg, info={"notes": ["a", "b"]}, notes=("b", "c"))
    assert r.notes == ("a", "b", "c")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.notes = ()  # type: ignore[misc]
    assert DiDResult("x", "y", 1, 1, None, agg).to_dict()["notes"] == []
    assert "Notes:" not in DiDResult("x", "y", 1, 1, None, agg).summary()
    assert r.summary().endswith("Notes:\n  - a\n  - b\n  - c")


# -------------------------------------------------------------------------------- CLI
def _run(args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_cli_prints_each_note_once(tmp_path):
    d = _panel()
    d.loc[d["unit"].isin(_units(d, 3, 2)), "cohort"] = 1
    p = tmp_path / "p.csv"
    d.to_csv(p, index=False)
    args = ["estimate", "--data", str(p), "--outcome", "y", "--unit", "unit", "--time", "time"]
    args += ["--cohort", "cohort", "--method", "event"]
    note = "dropped 2 unit(s) treated at or before the first period 1"
    # JSON: the notes list holds it; stderr (the human channel) says it once
    code, out, err = _run([*args, "--json"])
    assert code == 0
    assert sum(note in n for n in json.loads(out)["notes"]) == 1
    assert err.count(note) == 1
    # text: the summary lists it, stderr does not repeat it
    code, out, err = _run(args)
    assert code == 0
    assert out.count(note) == 1 and note not in err
    # file only: nothing on stdout, so stderr says it once
    code, out, err = _run([*args, "--output", str(tmp_path / "r.json")])
    assert code == 0 and out == "" and err.count(note) == 1
    assert sum(note in n for n in json.loads((tmp_path / "r.json").read_text())["notes"]) == 1
