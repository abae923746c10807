"""Panel helpers shared by the regression-type estimators (:mod:`.twfe`, :mod:`.event`,
:mod:`.sa`, :mod:`.bjs`, :mod:`.gardner`).

The numerical core -- exact absorption of fixed effects (:func:`fit_absorbed`),
the CR1 small-sample factor, the clustered sandwich and the Wald-test policy --
lives in :mod:`analysis.design` (one copy for estimators and inference) and is
re-exported here under its historical names. This module adds the integer
codes of a prepared panel, the covariate screen, the imputation first stage
shared by BJS and Gardner, and the option checks (through
:mod:`analysis.validation`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis import validation
from analysis.design import (  # noqa: F401 - re-exported: the estimators' historical names
    AbsorbedFit,
    _dense,
    absorbed_vcov,
    cluster_scores,
    fit_absorbed,
    group_sums,
    indicator_matrix,
    level_codes,
    sandwich,
    sparse_group_sums,
    time_dummies,
)
from analysis.design import panel_ssc_factor as ssc_factor  # noqa: F401
from analysis.design import wald_test as _wald
from analysis.errors import InputError
from analysis.estimators._panel import note


def wald_test(
    b: np.ndarray, V: np.ndarray, notes: list[str] | None = None
) -> tuple[float, int, float]:
    """Chi-square Wald statistic of ``b = 0`` over the identified (finite) coefficients.

    The policy is :func:`analysis.design.wald_test`'s (R ``did``'s): a singular
    covariance gives ``NaN`` and a ``UserWarning`` saying why; with ``notes``
    the same sentence is also appended there (the result's ``notes``).
    """
    b = np.asarray(b, dtype=float)
    ok = np.isfinite(b)
    if not ok.any():
        return float("nan"), 0, float("nan")
    w = _wald(b[ok], np.asarray(V)[np.ix_(ok, ok)], warn=notes is None)
    if w.note is not None and notes is not None:
        note(notes, f"Wald test not computed: {w.note}", stacklevel=3)
    return w.stat, w.df, w.p_value


# --------------------------------------------------------------------------- design
def pair_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer codes of the pairs ``(a, b)`` of whole numbers (NaN treated as its own level)."""
    a = np.nan_to_num(np.asarray(a, dtype=float), nan=-1.0)
    b = np.nan_to_num(np.asarray(b, dtype=float), nan=-1.0e6)
    ia = pd.factorize(a)[0].astype(np.int64)
    ib = pd.factorize(b)[0].astype(np.int64)
    return pd.factorize(ia * (int(ib.max()) + 1) + ib)[0].astype(np.int64)


# --------------------------------------------------------------------------- inference
# --------------------------------------------------------------------------- panels
@dataclass(frozen=True)
class Codes:
    """Integer codes of a prepared panel (rows as in ``Panel.data``)."""

    uid: np.ndarray
    tid: np.ndarray
    times: np.ndarray
    n_units: int
    n_times: int
    cl: np.ndarray
    n_cl: int
    cohort: np.ndarray
    event: np.ndarray  # t - g (NaN for never treated)
    treated: np.ndarray  # D_it


def panel_codes(panel) -> Codes:
    d = panel.data
    times = np.asarray(panel.times)
    tv = d["time"].to_numpy()
    if times.size and times[-1] - times[0] == times.size - 1:
        tid = tv - times[0]  # consecutive periods: the index is an offset (no search)
    else:
        tid = np.searchsorted(times, tv)
    uid = d["uid"].to_numpy().astype(np.int64, copy=False)
    cl, n_cl = cluster_codes(d, panel.cluster, uid, panel.n_units)
    g = d["cohort"].to_numpy()
    t = d["time"].to_numpy().astype(float)
    event = np.where(g > 0, t - g, np.nan)
    treated = (g > 0) & (t >= g)
    return Codes(
        uid=uid,
        tid=tid.astype(np.int64),
        times=times,
        n_units=panel.n_units,
        n_times=len(times),
        cl=np.asarray(cl, dtype=np.int64),
        n_cl=int(n_cl),
        cohort=g,
        event=event,
        treated=treated,
    )


def cluster_codes(d: pd.DataFrame, cluster: str | None, uid: np.ndarray, n_units: int):
    """Cluster code of every row of ``d`` and the number of clusters.

    The sorted codes of column ``cluster``; without one, the unit codes ``uid``
    (``n_units`` clusters).
    """
    if cluster:
        cl, uniq = pd.factorize(d[cluster], sort=True)
        return cl, len(uniq)
    return uid, n_units


def codes_vcov(fit, S, X, se: str, codes: Codes, *, ssc: str, k: int):
    """:func:`analysis.design.absorbed_vcov` of a fit on the rows of ``codes``.

    Clusters, units and periods are those of ``codes``; returns ``(V, factor)``.
    """
    return absorbed_vcov(
        fit,
        S,
        X,
        se,
        cl=codes.cl,
        n_cl=codes.n_cl,
        ssc=ssc,
        k=k,
        n_units=codes.n_units,
        n_times=codes.n_times,
        uid=codes.uid,
    )


def cr2_vcov(y: np.ndarray, X: np.ndarray, codes: Codes, weights=None) -> np.ndarray:
    """Bell-McCaffrey (CR2) covariance of the slopes on ``X`` with unit and time effects.

    :func:`analysis.inference.crve.ols_cluster` with the fixed effects and
    clusters of ``codes`` (weighted least squares with ``weights``).
    """
    from analysis.inference.crve import ols_cluster  # the CR2 adjustment lives in inference

    res = ols_cluster(y, X, codes.cl, fe=[codes.uid, codes.tid], kind="CR2", weights=weights)
    return np.asarray(res.vcov)


def coefficient_table(terms, estimate, se, covs, first: int, fit, V, pos) -> pd.DataFrame:
    """The ``coefficients`` frame of a regression: named terms, then the covariates.

    ``terms``, ``estimate`` and ``se`` are the reported dummies; covariate ``j``
    of ``covs`` is column ``first + j`` of ``fit`` and is listed when it is
    identified (``fit.keep``), with its SE from ``V`` at row ``pos[first + j]``
    (``V`` is over the kept columns).
    """
    cov_rows = []
    for j, c in enumerate(covs):
        jj = first + j
        if fit.keep[jj]:
            cov_rows.append(
                {"term": c, "estimate": fit.coef[jj], "se": np.sqrt(V[pos[jj], pos[jj]])}
            )
    return pd.concat(
        [
            pd.DataFrame({"term": terms, "estimate": estimate, "se": se}),
            pd.DataFrame(cov_rows, columns=["term", "estimate", "se"]),
        ],
        ignore_index=True,
    )


def usable_covariates(
    panel, uid: np.ndarray, n_units: int, *, stacklevel: int = 3
) -> tuple[list[str], list[str]]:
    """Split covariates into those with within-unit variation and those absorbed.

    A covariate that is constant within every unit is collinear with the unit
    effects and cannot be estimated in any fixed-effects model (fixest drops it
    with a note); it is dropped here with a ``UserWarning`` and a note. To use a
    time-invariant characteristic, interact it with time first (for example
    ``x * year``), which is how the simulated confounder enters
    :func:`analysis.data.simulate.simulate_staggered`. The warnings point
    ``stacklevel`` frames up (default: the caller of the estimator that calls this).
    """
    keep, notes = [], []
    for c in panel.covariates:
        x = panel.data[c].to_numpy(dtype=float)
        cnt = np.bincount(uid, minlength=n_units)
        m = np.bincount(uid, weights=x, minlength=n_units) / np.maximum(cnt, 1)
        if np.allclose(x, m[uid], rtol=0, atol=1e-12 * max(1.0, float(np.abs(x).max()))):
            notes.append(
                f"covariate {c!r} is constant within units and is absorbed by the unit "
                "effects; dropped (interact it with time to use it)"
            )
        else:
            keep.append(c)
    for n in notes:
        warnings.warn(n, UserWarning, stacklevel=stacklevel)
    return keep, notes


def check_alpha(alpha: float) -> float:
    return validation.check_alpha(alpha)


def check_choice(name: str, value, allowed: Sequence) -> None:
    validation.check_option(name, value, allowed)


def check_window(window, name: str = "window") -> tuple[int, int] | None:
    if window is None:
        return None
    try:
        lo, hi = window
        lo_i, hi_i = int(lo), int(hi)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a pair of integers (lo, hi), e.g. (-5, 5)") from None
    if lo_i != lo or hi_i != hi:
        raise InputError(f"{name} must hold whole numbers (got {window!r})")
    if lo_i > -1 or hi_i < 0:
        raise InputError(
            f"{name} must include -1 and 0, i.e. lo <= -1 and hi >= 0 (got {window!r})"
        )
    return lo_i, hi_i


# --------------------------------------------------------------------------- imputation
@dataclass(frozen=True)
class FirstStage:
    """Unit + time (+ covariate) model for :math:`Y(0)` fitted on untreated rows.

    Shared by :func:`~analysis.estimators.bjs.bjs_imputation` and
    :func:`~analysis.estimators.gardner.gardner`.

    Attributes
    ----------
    fit
        The :class:`AbsorbedFit` on the untreated rows.
    S, X
        Time-dummy block and covariate block for *all* rows.
    untreated
        Mask of the rows used in the fit (:math:`D_{it} = 0`).
    identified
        Rows whose :math:`\\hat Y_{it}(0)` exists: the unit and the period both
        appear among the untreated rows.
    y0hat
        :math:`\\hat\\alpha_i + \\hat\\lambda_t + x_{it}'\\hat\\gamma` (NaN where not identified).
    """

    fit: AbsorbedFit
    S: sp.csr_matrix
    X: np.ndarray | None
    untreated: np.ndarray
    identified: np.ndarray
    y0hat: np.ndarray

    def unit_time_rhs(self, uid: np.ndarray, n_units: int, W: np.ndarray):
        """:math:`Z'W` split into the unit block and the (time, covariate) block."""
        if sp.issparse(W):
            W = sp.csr_matrix(W)
            r_u = _dense(sparse_group_sums(uid, n_units, W))
            r_t = _dense(self.S.T @ W)
            if self.X is not None and self.X.shape[1]:
                r_t = np.vstack([r_t, _dense(W.T @ self.X).T])
            return r_u, r_t
        W = np.asarray(W, dtype=float).reshape(len(uid), -1)
        r_u = group_sums(uid, n_units, W)
        r_t = _dense(self.S.T @ W)
        if self.X is not None and self.X.shape[1]:
            r_t = np.vstack([r_t, self.X.T @ W])
        return r_u, r_t

    def residual_scores(self, cl: np.ndarray, n_cl: int) -> np.ndarray:
        """:math:`Q_c = \\sum_{it \\in c,\\ D_{it}=0} \\hat u_{it}\\, (s_{it}, x_{it})` -> (G x p).

        For any :math:`(a, \\theta)`, :math:`\\sum_{it\\in c} \\hat u_{it}(a_i + z_{it}'\\theta)
        = Q_c\\theta` because stage-1 residuals sum to zero within each unit and
        clusters nest units; this avoids any n x m intermediate.
        """
        u0 = self.untreated
        S0 = self.S[u0]
        X0 = None if self.X is None else self.X[u0]
        return cluster_scores(cl[u0], n_cl, S0, X0, self.fit.score_resid)


def first_stage(
    y: np.ndarray,
    codes: Codes,
    X: np.ndarray | None,
    untreated: np.ndarray,
    weights: np.ndarray | None = None,
) -> FirstStage:
    """Fit :math:`y_{it} = \\alpha_i + \\lambda_t + x_{it}'\\gamma` on the untreated rows.

    With observation ``weights`` (all rows) the fit is weighted least squares.
    """
    tcount = np.bincount(codes.tid[untreated], minlength=codes.n_times)
    if not tcount.any():
        raise InputError("no untreated observations to estimate the unit and time effects")
    ref = int(np.argmax(tcount))
    S = time_dummies(codes.tid, codes.n_times, ref=ref)
    S0 = S[untreated]
    X0 = None if X is None else X[untreated]
    w0 = None if weights is None else weights[untreated]
    fit = fit_absorbed(y[untreated], codes.uid[untreated], codes.n_units, S0, X0, weights=w0)
    ps = S.shape[1]
    time_ok = np.ones(codes.n_times, dtype=bool)
    cols_ok = fit.keep[:ps]
    other = np.delete(np.arange(codes.n_times), ref)
    time_ok[other] = cols_ok
    if X is not None and X.shape[1] and not fit.keep[ps:].all():
        raise InputError(
            "a covariate is collinear with the fixed effects among untreated observations"
        )
    unit_ok = fit.unit_counts > 0
    identified = unit_ok[codes.uid] & time_ok[codes.tid]
    y0 = fit.predict(codes.uid, S, X)
    y0[~identified] = np.nan
    return FirstStage(fit=fit, S=S, X=X, untreated=untreated, identified=identified, y0hat=y0)


@dataclass(frozen=True)
class Imputation:
    """The common start of the imputation estimators (BJS and Gardner).

    Attributes
    ----------
    codes
        :func:`panel_codes` of the panel.
    notes
        The panel's notes followed by those of the covariate screen.
    covs
        The usable covariates (:func:`usable_covariates`).
    y, X
        Outcome and usable covariates of every row (``X`` is ``None`` without covariates).
    untreated
        Rows with :math:`D_{it} = 0`, the first-stage sample.
    om
        Observation weights of every row, or ``None``.
    fs
        The :class:`FirstStage` fitted on the untreated rows.
    """

    codes: Codes
    notes: list[str]
    covs: list[str]
    y: np.ndarray
    X: np.ndarray | None
    untreated: np.ndarray
    om: np.ndarray | None
    fs: FirstStage


def imputation(panel) -> Imputation:
    """Codes, covariate screen and first stage of a prepared panel (BJS and Gardner).

    :math:`y_{it} = \\alpha_i + \\lambda_t + x_{it}'\\gamma` is fitted on the
    untreated rows (:func:`first_stage`; weighted when the panel has weights).
    """
    codes = panel_codes(panel)
    notes = list(panel.notes)
    covs, cov_notes = usable_covariates(panel, codes.uid, codes.n_units, stacklevel=4)
    notes += cov_notes
    d = panel.data
    y = d["y"].to_numpy()
    X = d[covs].to_numpy(dtype=float) if covs else None
    untreated = ~codes.treated
    om = d["_weight"].to_numpy() if panel.weights else None
    fs = first_stage(y, codes, X, untreated, om)
    return Imputation(codes, notes, covs, y, X, untreated, om, fs)
