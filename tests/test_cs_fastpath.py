"""The light paths of the CS estimator equal the general ones.

* Input: :func:`analysis.estimators._panel.panel_arrays` on a panel already
  sorted by (unit, time) (no sort, views of the input) and on the same rows
  shuffled (factorize + sort) give identical arrays, and ``prepare_panel``
  gives the same frame either way; drops and recodes are the same notes.
* Influence functions: the Gram matrix of Z = [Psi | H] accumulated from cohort
  moments (``moments=True``, never forming the n x K Psi; units as clusters)
  equals the one of the dense Psi, to 1e-12 relative to its largest entry, for
  never/not-yet comparisons, varying/universal base periods and with NA cells;
  several blocks are forced by a small ``MOMENT_BLOCK``. The ATT(g,t) are
  identical bit for bit (the same cohort sums of Delta Y, summed blockwise in
  the same row order).
* End to end: ``callaway_santanna`` (moment path) and the same fit with the
  bootstrap's dense Psi give the same point estimates bit for bit, and its
  analytic SEs equal ``if_se`` of the dense Psi to 1e-12; with a cluster column
  the dense path is used.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.data.simulate import simulate_staggered
from analysis.estimators import _cs_cells, cs
from analysis.estimators._panel import panel_arrays, prepare_panel
from analysis.inference.vcov import cluster_sums, if_se

KW = dict(outcome="y", unit="unit", time="time", cohort="cohort")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    df = simulate_staggered(
        n_units=700, n_periods=7, cohorts=(3, 5, 6), base_effect=(1.0, 2.0, 0.5), seed=4
    ).data
    df["cluster"] = df["unit"] % 37
    return df


def _dense_gram(design, cells, cr_dense):
    k = len(cells)
    z = np.empty((design.n, k + design.glist.size))
    z[:, :k] = cr_dense.psi
    z[:, k:] = design.g[:, None] == design.glist[None, :]
    sz = cluster_sums(z, design.clusters)
    return sz.T @ sz


@pytest.mark.parametrize("control", ["never", "notyet"])
@pytest.mark.parametrize("base", ["varying", "universal"])
def test_moment_gram_equals_dense(panel, control, base, monkeypatch):
    monkeypatch.setattr(_cs_cells, "MOMENT_BLOCK", 97)  # several blocks per cohort
    design = cs._build_design(
        panel, **KW, covariates=(), cluster=None, control=control, anticipation=0
    )
    cells = cs._cells(design, base, 0)
    kw = dict(control=control, est_method="dr", anticipation=0)
    dense = cs._estimate_cells(design, cells, **kw)
    mom = cs._estimate_cells(design, cells, **kw, moments=True)
    assert mom.psi is None and dense.gram is None
    np.testing.assert_array_equal(mom.att, dense.att)
    g_dense = _dense_gram(design, cells, dense)
    scale = np.abs(g_dense).max()
    np.testing.assert_allclose(mom.gram, g_dense, rtol=0, atol=1e-12 * scale)


def test_moment_gram_with_na_cells(panel):
    # one never-treated unit against a large cohort: its cells are trimmed (NA)
    df = panel.copy()
    never = df.loc[df["cohort"] == 0, "unit"].unique()
    df.loc[df["unit"].isin(never[1:]) | (df["cohort"] == 5), "cohort"] = 3
    design = cs._build_design(df, **KW, covariates=(), cluster=None, control="never", anticipation=0)
    cells = cs._cells(design, "varying", 0)
    kw = dict(control="never", est_method="dr", anticipation=0)
    dense = cs._estimate_cells(design, cells, **kw)
    mom = cs._estimate_cells(design, cells, **kw, moments=True)
    np.testing.assert_array_equal(mom.att, dense.att)
    assert mom.na_notes and mom.na_notes == dense.na_notes
    assert np.isnan(mom.att).any() and np.isfinite(mom.att).any()
    g_dense = _dense_gram(design, cells, dense)
    np.testing.assert_allclose(mom.gram, g_dense, rtol=0, atol=1e-12 * np.abs(g_dense).max())


@pytest.mark.parametrize("cluster", [None, "cluster"])
def test_fit_se_equals_dense_influence_function(panel, cluster):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = cs.callaway_santanna(panel, **KW, cluster=cluster)
        rb = cs.callaway_santanna(panel, **KW, cluster=cluster, n_boot=9, seed=1)
    np.testing.assert_array_equal(r.att_gt["att"], rb.att_gt["att"])
    design = cs._build_design(
        panel, **KW, covariates=(), cluster=cluster, control="never", anticipation=0
    )
    cells = cs._cells(design, "varying", 0)
    dense = cs._estimate_cells(design, cells, control="never", est_method="dr", anticipation=0)
    se = if_se(dense.psi, design.clusters)
    np.testing.assert_allclose(r.att_gt["se"], np.where(se > 0, se, np.nan), rtol=1e-12)
    np.testing.assert_array_equal(r.att_gt["att"], dense.att)


def test_sorted_and_shuffled_inputs_give_the_same_panel(panel):
    df = panel.copy()
    df.loc[df.index[5], "y"] = np.nan  # a dropped row: the general drop path
    shuffled = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    kw = dict(**KW, covariates=("x",), cluster="cluster")
    with pytest.warns(UserWarning, match="missing outcome"):
        a = panel_arrays(df, **kw)
    with pytest.warns(UserWarning, match="missing outcome"):
        b = panel_arrays(shuffled, **kw)
    assert a.notes == b.notes and a.n_units == b.n_units and a.balanced == b.balanced
    for name in ("unit", "starts", "time", "y", "cluster_values", "times", "cohorts"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.uid(), b.uid())
    np.testing.assert_array_equal(a.x["x"], b.x["x"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pa, pb = prepare_panel(df, **kw), prepare_panel(shuffled, **kw)
    pd.testing.assert_frame_equal(pa.data, pb.data)
    assert list(pa.data.columns) == ["unit", "uid", "time", "cohort", "y", "x", "cluster"]


def test_sorted_input_is_not_copied(panel):
    arr = panel_arrays(panel, **KW)
    assert np.shares_memory(arr.y, panel["y"].to_numpy())
    assert arr.balanced and arr.n_units == panel["unit"].nunique()
