"""``DiDResult.design`` for every estimator, and RI / ``post_inference`` started from it.

What is proved (exact equalities: the same design, the same assignments):

* every registered estimator fills ``result.design.panel`` with the validated
  panel it used (its rows = ``result.n_obs`` where the estimator keeps every row);
* randomisation inference given the result gives bit-identical p-values,
  observed statistics and draws to the data-frame entry point, on mpdta (fast
  path, exact and Monte Carlo) and with a re-fitted statistic, and does not call
  the estimator at the observed assignment when a fast path applies;
* ``post_inference(..., result=...)`` returns the same dict as without it;
* a result fitted with other options than the statistic's is noticed (a note)
  and the test stays the statistic's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data.simulate import simulate_staggered
from analysis.estimators import registry
from analysis.inference import ri_statistics
from analysis.inference.post import post_inference
from analysis.inference.ri import randomization_test
from tests._fe_common import MP, load_mpdta


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return load_mpdta()


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return simulate_staggered(n_units=12, n_periods=5, cohorts=(3, 4), seed=2).data


@pytest.mark.parametrize("method", registry.methods())
def test_every_estimator_carries_its_prepared_panel(mpdta, method):
    res = registry.get_estimator(method)(mpdta, **MP)
    panel = res.design.panel
    assert panel is not None and panel.n_obs == len(mpdta) == res.n_obs
    assert panel.n_units == res.n_units
    assert set(panel.data.columns) >= {"uid", "time", "cohort", "y"}


@pytest.mark.parametrize("statistic", ["twfe", "cs", "twfe_t"])
def test_ri_from_result_is_identical_and_refits_nothing(mpdta, statistic, monkeypatch):
    method = statistic.removesuffix("_t")
    res = registry.get_estimator(method)(mpdta, **MP)
    cols = dict(unit=MP["unit"], time=MP["time"], cohort=MP["cohort"], outcome=MP["outcome"])
    kw = dict(statistic=statistic, n_draws=199, seed=5, exact=False, **cols)
    plain = randomization_test(mpdta, **kw)
    calls = []
    real = ri_statistics._estimator

    def counting(m):
        calls.append(m)
        return real(m)

    monkeypatch.setattr(ri_statistics, "_estimator", counting)
    got = randomization_test(mpdta, result=res, **kw)
    assert calls == []  # fast path, verified against the result: no fit at all
    assert got.p_value == plain.p_value and got.observed == plain.observed
    np.testing.assert_array_equal(got.draws, plain.draws)
    assert got.n_assignments == plain.n_assignments and got.fast_path == plain.fast_path


def test_ri_from_result_with_a_refitted_statistic(small):
    cols = dict(unit="unit", time="time", cohort="cohort", outcome="y")
    res = registry.get_estimator("bjs")(small, **cols)
    kw = dict(statistic="bjs", n_draws=20, seed=1, exact=False, **cols)
    plain = randomization_test(small, **kw)
    got = randomization_test(small, result=res, **kw)
    assert got.fast_path is None and got.p_value == plain.p_value
    np.testing.assert_array_equal(got.draws, plain.draws)


def test_result_with_other_options_is_noted(mpdta):
    res = registry.get_estimator("cs")(mpdta, control="notyet", **MP)
    cols = dict(unit=MP["unit"], time=MP["time"], cohort=MP["cohort"], outcome=MP["outcome"])
    kw = dict(statistic="cs", n_draws=99, seed=0, exact=False, **cols)
    got = randomization_test(mpdta, result=res, **kw)
    plain = randomization_test(mpdta, **kw)
    assert got.p_value == plain.p_value
    assert any("differs from the statistic" in n for n in got.notes)


@pytest.mark.parametrize("kind, method", [("ri", "twfe"), ("ri", "cs"), ("cr2", "twfe")])
def test_post_inference_from_result_equals_data_frame_route(mpdta, kind, method):
    res = registry.get_estimator(method)(mpdta, **MP)
    kw = dict(method=method, draws=99, seed=3, **MP)
    assert post_inference(kind, mpdta, result=res, **kw) == post_inference(kind, mpdta, **kw)
