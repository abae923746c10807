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
    design = cs._build_design(
        df, **KW, covariates=(), cluster=None, control="never", anticipation=0
    )
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


# --------------------------------------------------------------------------- weights
# With unit-level sampling weights (main's feat-weights) the fast input path
# (``_wide_design``) carries ``w`` and the moment path is not taken (the weighted
# Psi is dense). Reference: the general frame path of ``_build_design``, forced by
# reporting the arrays as unbalanced; identical arrays are expected (bit for bit)
# and the same fit to 1e-12 relative.
def _weighted(panel):
    df = panel.copy()
    df["w"] = 0.5 + (df["unit"] % 5).astype(float)  # unit-level
    return df


def test_weighted_fast_input_path_carries_the_weights(panel, monkeypatch):
    import dataclasses

    from analysis.estimators import _cs_design

    df = _weighted(panel)
    kw = dict(**KW, covariates=(), cluster=None, control="never", anticipation=0, weights="w")
    fast = cs._build_design(df, **kw)
    real = _cs_design.panel_arrays
    monkeypatch.setattr(
        _cs_design,
        "panel_arrays",
        lambda *a, **k: dataclasses.replace(real(*a, **k), balanced=False),
    )
    slow = cs._build_design(df, **kw)
    assert fast.w is not None
    np.testing.assert_array_equal(fast.w, slow.w)
    np.testing.assert_array_equal(fast.y, slow.y)
    np.testing.assert_array_equal(fast.g, slow.g)
    np.testing.assert_array_equal(
        fast.w, df.drop_duplicates("unit").sort_values("unit")["w"].to_numpy()
    )
    assert "_weight" in fast.panel.data.columns and fast.panel.weights == "w"
    pd.testing.assert_frame_equal(fast.panel.data, slow.panel.data)


def test_weighted_fit_skips_the_moment_path(panel, monkeypatch):
    df = _weighted(panel)
    seen = []
    real = cs._estimate_cells

    def spy(*a, **k):
        seen.append(k.get("moments", False))
        return real(*a, **k)

    monkeypatch.setattr(cs, "_estimate_cells", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rw = cs.callaway_santanna(df, **KW, weights="w")
        ru = cs.callaway_santanna(df, **KW)
    assert seen == [False, True]
    # the dense weighted Psi gives the analytic SE (reference: if_se of that Psi)
    design = cs._build_design(
        df, **KW, covariates=(), cluster=None, control="never", anticipation=0, weights="w"
    )
    cells = cs._cells(design, "varying", 0)
    dense = real(design, cells, control="never", est_method="dr", anticipation=0)
    se = if_se(dense.psi, design.clusters)
    np.testing.assert_allclose(rw.att_gt["se"], np.where(se > 0, se, np.nan), rtol=1e-12)
    np.testing.assert_array_equal(rw.att_gt["att"], dense.att)
    assert not np.allclose(rw.att_gt["att"], ru.att_gt["att"])  # the weights matter


def test_weights_in_sorted_and_shuffled_inputs(panel):
    df = _weighted(panel)
    df.loc[df["unit"] % 11 == 0, "w"] = 0.0  # zero-weight units: dropped with a note
    shuffled = df.sample(frac=1.0, random_state=5).reset_index(drop=True)
    kw = dict(**KW, weights="w", weights_unit_level=True)
    with pytest.warns(UserWarning, match="weight zero"):
        a = panel_arrays(df, **kw)
    with pytest.warns(UserWarning, match="weight zero"):
        b = panel_arrays(shuffled, **kw)
    assert a.notes == b.notes and a.balanced and a.weights == "w"
    np.testing.assert_array_equal(a.w, b.w)
    np.testing.assert_array_equal(a.unit, b.unit)
    assert (a.w > 0).all() and a.n_units == int((df.drop_duplicates("unit")["w"] > 0).sum())
    pd.testing.assert_frame_equal(a.to_panel().data, b.to_panel().data)
