"""Static two-way fixed-effects (TWFE) difference-in-differences.

Model
-----

.. math::

    y_{it} = \\alpha_i + \\lambda_t + \\beta D_{it} + x_{it}'\\gamma + \\varepsilon_{it},
    \\qquad D_{it} = 1\\{g_i > 0,\\ t \\ge g_i\\},

estimated with the unit effects absorbed exactly (or by
:class:`linearmodels.panel.PanelOLS` with ``entity_effects=True`` and
``time_effects=True``); standard errors are clustered (by unit unless a
``cluster`` column is given) by default. ``se`` chooses ``"cr1"`` (default),
``"cr2"`` (Bell-McCaffrey, :func:`analysis.inference.crve.ols_cluster`),
``"hc1"`` or ``"iid"`` (formulas: :func:`analysis.design.absorbed_vcov`);
``weights`` gives weighted least squares with analytic weights (fixest
``weights=``, Stata ``[aweight]``; ``n`` in every small-sample factor counts
observations, not weights, as fixest).

With staggered adoption and heterogeneous or dynamic effects :math:`\\beta` is a
weighted average of all 2x2 comparisons, including "forbidden" ones that use
already-treated units as controls, with possibly negative weights
(Goodman-Bacon 2021; see :func:`analysis.estimators.bacon.bacon_decomposition`).
Its comparison group is therefore stated as ``never+not-yet (implicit)``.

Small-sample conventions (``ssc``)
----------------------------------
``"fixest"`` (default)
    :math:`V = \\frac{G}{G-1}\\frac{n-1}{n-K} (\\tilde X'\\tilde X)^{-1}
    \\Big(\\sum_g \\tilde X_g'\\hat e_g \\hat e_g'\\tilde X_g\\Big) (\\tilde X'\\tilde X)^{-1}`
    with :math:`K = k + T`: the :math:`k` slopes, :math:`T-1` time effects and
    the unit effects counted as one parameter because they are nested in the
    clusters. This is fixest's ``vcov="cluster"`` with its default
    ``ssc(adj=TRUE, fixef.K="nested", cluster.adj=TRUE)``, pyfixest's
    ``vcov={"CRV1": unit}`` and Stata ``reghdfe ..., vce(cluster unit)``.
    Implemented as PanelOLS ``fit(cov_type="clustered", debiased=False,
    auto_df=False, count_effects=False, group_debias=True)`` — which scales by
    :math:`\\frac{G}{G-1}\\frac{n-1}{n}` — times :math:`\\frac{n}{n-K}`.
``"linearmodels"``
    PanelOLS's own default for clustered covariance:
    ``fit(cov_type="clustered", clusters=...)`` with ``debiased=True``,
    ``group_debias=False`` and ``auto_df=True``. With two-way effects linearmodels
    counts every estimated effect in the degrees of freedom, so the factor is
    :math:`\\frac{n}{n - k - (N + T - 1)}` with no :math:`G/(G-1)` term. In short
    panels this is noticeably larger than the fixest factor (e.g. T = 5: about
    :math:`5/4` on the variance).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.design import (
    SEType,
    demean_two_way,
    panel_ssc_factor,
    se_label,
    twfe_balanced,
)
from analysis.errors import InputError
from analysis.estimators import _fe
from analysis.estimators._docs import fill_doc
from analysis.estimators._fe import check_choice, panel_codes, usable_covariates
from analysis.estimators._panel import estimator_input
from analysis.results import Aggregate, DiDResult, EstimationDesign

__all__ = ["power_closed_form", "regression_arrays", "regression_design", "ri_closed_form", "twfe"]


@fill_doc
def twfe(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    ssc: Literal["fixest", "linearmodels"] = "fixest",
    alpha: float = 0.05,
    data_layer: str | None = None,
    backend: Literal["within", "linearmodels"] = "within",
    se: SEType = "cr1",
    weights: str | None = None,
) -> DiDResult:
    """Static TWFE DiD coefficient with clustered standard errors.

    Parameters
    ----------
    {{data}}
    {{columns}}
    covariates
        Time-varying controls :math:`x_{it}` entered linearly.
    {{cluster}}
    {{ssc}}
    {{alpha}}
    {{data_layer}}
    backend
        ``"within"`` (default): unit effects absorbed exactly by within-unit
        demeaning, time effects as sparse dummies, clustered sandwich from
        per-cluster score sums (:mod:`analysis.estimators._fe`).
        ``"linearmodels"``: :class:`linearmodels.panel.PanelOLS`. Both give the
        same numbers (tested to 1e-10); the within path exists for a measured
        reason: at 100,000 units x 20 periods PanelOLS took 16 s and 2.5 GB,
        6x pyfixest's time at 10,000 units (``benchmarks/RESULTS.md``).
    {{se}}
    weights
        Column of analytic observation weights (fixest ``weights=``, Stata
        ``[aweight]``): weighted least squares with the unit and time effects
        absorbed by weighted within transformations.

    Returns
    -------
    DiDResult
        ``simple`` aggregate = :math:`\\hat\\beta`; ``coefficients`` holds
        :math:`\\hat\\beta` and :math:`\\hat\\gamma`.

    Raises
    ------
    InputError
        Invalid panel (see :func:`~analysis.estimators._panel.prepare_panel`),
        bad ``ssc`` / ``alpha``, or a treatment dummy absorbed by the fixed effects.
    """
    check_choice("backend", backend, ("within", "linearmodels"))
    if backend == "linearmodels" and (se != "cr1" or weights):
        raise InputError(
            "backend='linearmodels' supports only se='cr1' without weights; use backend='within'"
        )
    inp = estimator_input(
        data,
        alpha=alpha,
        ssc=ssc,
        se=se,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=covariates,
        cluster=cluster,
        weights=weights,
    )
    arr, panel, alpha = inp.arrays, inp.panel, inp.alpha
    result = partial(
        _result,
        panel=panel,
        outcome=outcome,
        unit=unit,
        cluster=cluster,
        ssc=ssc,
        alpha=alpha,
        data_layer=data_layer,
    )
    # the blocked demeaning gives the unweighted CR1 fit only; weights and the
    # other SE types take the general within path
    if (
        backend == "within"
        and not arr.covariates
        and arr.balanced
        and arr.w is None
        and se == "cr1"
    ):
        fast = _within_balanced(arr, cluster, ssc, result)
        if fast is not None:
            return fast
    codes = panel_codes(panel)
    d = panel.data
    idx = pd.MultiIndex.from_arrays([codes.uid, d["time"].to_numpy()], names=["uid", "time"])
    y = pd.Series(d["y"].to_numpy(), index=idx, name=outcome)
    covs, cov_notes = usable_covariates(panel, codes.uid, codes.n_units)
    X = pd.DataFrame({"D": codes.treated.astype(float)}, index=idx)
    for c in covs:
        X[c] = d[c].to_numpy()
    clusters = pd.DataFrame({"cl": codes.cl}, index=idx)

    n, k, G = len(d), X.shape[1], codes.n_cl
    if G < 2 and se in ("cr1", "cr2"):
        raise InputError("clustered standard errors need at least two clusters")
    om = d["_weight"].to_numpy() if weights else None
    fitted = partial(result, terms=list(X.columns), G=G, covs=covs, cov_notes=cov_notes, n=n)
    if backend == "within":
        Td = _fe.time_dummies(codes.tid, codes.n_times)
        fit = _fe.fit_absorbed(
            d["y"].to_numpy(), codes.uid, codes.n_units, Td, X.to_numpy(), weights=om
        )
        nT = Td.shape[1]
        if not fit.keep[nT].all():
            raise InputError("the treatment dummy is absorbed by the unit and time effects")
        if not fit.keep[nT:].all():
            raise InputError("a covariate is absorbed by the unit and time effects")
        params = fit.coef[nT : nT + k]
        if se == "cr2":
            cov, factor = _fe.cr2_vcov(d["y"].to_numpy(), X.to_numpy(), codes, om), 1.0
        else:
            V, factor = _fe.codes_vcov(fit, Td, X.to_numpy(), se, codes, ssc=ssc, k=k)
            kept_idx = np.flatnonzero(fit.keep)
            cols = [int(np.flatnonzero(kept_idx == nT + j)[0]) for j in range(k)]
            cov = V[np.ix_(cols, cols)]
        return fitted(params, cov, factor=factor, backend=_WITHIN, se=se, weights=weights)
    from linearmodels.panel import PanelOLS  # imported only when asked for (slow import)

    mod = PanelOLS(y, X, entity_effects=True, time_effects=True, drop_absorbed=False)
    try:
        if ssc == "fixest":
            res = mod.fit(
                cov_type="clustered",
                clusters=clusters,
                debiased=False,
                auto_df=False,
                count_effects=False,
                group_debias=True,
            )
            K = k + codes.n_times
            cov = res.cov.to_numpy() * n / (n - K)  # PanelOLS's (G/(G-1))(n-1)/n -> fixest's
            factor = panel_ssc_factor(
                "fixest", n=n, k=k, n_units=codes.n_units, n_times=codes.n_times, G=G
            )
        else:
            res = mod.fit(cov_type="clustered", clusters=clusters)
            cov = res.cov.to_numpy()
            factor = panel_ssc_factor(
                "linearmodels", n=n, k=k, n_units=codes.n_units, n_times=codes.n_times, G=G
            )
    except Exception as exc:  # linearmodels raises on absorbed / rank-deficient designs
        name = type(exc).__name__
        if "Absorb" in name or "rank" in str(exc).lower():
            raise InputError(
                "the treatment dummy or a covariate is absorbed by the unit and time effects"
            ) from None
        raise
    params = res.params.to_numpy()
    if not np.isfinite(params[0]):
        raise InputError("the treatment dummy is absorbed by the unit and time effects")
    return fitted(params, cov, factor=factor, backend="linearmodels PanelOLS")


def _within_balanced(arr, cluster, ssc, result):
    """Balanced panel, no covariates: the within fit by two-way demeaning of n x T
    arrays (:func:`analysis.design.twfe_balanced`), the same estimate and CR1 SE as
    the sparse absorbed fit with a fraction of its memory; ``None`` (use the general
    path, which reports why) when the treatment dummy is absorbed. ``result`` is
    :func:`_result` with the fit's common arguments bound."""
    n_u, n_t = arr.n_units, arr.times.size
    y2 = np.asarray(arr.y, dtype=np.float64).reshape(n_u, n_t)
    g = arr.unit_cohort()
    d2 = (g[:, None] > 0) & (arr.times[None, :] >= g[:, None])
    if cluster:
        cl, uniq = pd.factorize(pd.Series(arr.cluster_values[arr.starts]), sort=True)
        G = len(uniq)
    else:
        cl, G = np.arange(n_u), n_u
    if G < 2:
        raise InputError("clustered standard errors need at least two clusters")
    out = twfe_balanced(y2, d2, np.asarray(cl, dtype=np.int64), G)
    if out is None:
        return None
    beta, scores, den = out
    n = n_u * n_t
    factor = _fe.ssc_factor(ssc, n=n, k=1, n_units=n_u, n_times=n_t, G=G)
    var = factor * float(scores @ scores) / den**2
    return result(
        np.array([beta]),
        np.array([[var]]),
        terms=["D"],
        factor=factor,
        G=G,
        covs=[],
        cov_notes=[],
        n=n,
        backend=_WITHIN,
    )


_WITHIN = "within (exact absorption)"


def _result(
    params,
    cov,
    *,
    terms,
    factor,
    panel,
    outcome,
    unit,
    cluster,
    ssc,
    G,
    alpha,
    covs,
    cov_notes,
    data_layer,
    n,
    backend,
    se="cr1",
    weights=None,
) -> DiDResult:
    se_kind = se
    se = np.sqrt(np.diag(cov))
    coefs = pd.DataFrame({"term": terms, "estimate": params, "se": se})
    info = {
        "estimator": f"static TWFE (unit + time effects; {backend})",
        "control": "never+not-yet (implicit)",
        "est_method": "wls" if weights else "ols",
        "se_type": se_label(se_kind, cluster or unit),
        "se": se_kind,
        "ssc": ssc if se_kind == "cr1" else None,
        "ssc_factor": float(factor),
        "weights": weights,
        "cluster": (cluster or unit) if se_kind in ("cr1", "cr2") else None,
        "n_clusters": int(G),
        "alpha": alpha,
        "reference_period": "untreated periods (never+not-yet treated)",
        "window": None,
        "covariates": covs,
        "data_layer": data_layer or "unspecified",
        "notes": [*panel.notes, *cov_notes],
    }
    return DiDResult(
        design=regression_design(panel, cluster),
        method="twfe",
        outcome=outcome,
        n_units=panel.n_units,
        n_obs=n,
        att_gt=None,
        aggregates={"simple": Aggregate("simple", params[0], se[0])},
        info=info,
        coefficients=coefs,
    )


def regression_arrays(panel: Any, cluster: str | None):
    """``(y, X, clusters, fe)`` of the TWFE regression of ``panel`` (post-estimation input).

    ``X`` holds the treatment dummy ``D`` first and every covariate of the
    panel; the fixed effects are unit and time; clusters default to the unit.
    Unweighted only: post-estimation CR2 / wild bootstrap refuse a weighted fit.
    """
    if getattr(panel, "weights", None):
        raise InputError(
            "post-estimation inference (cr2, wild) does not take weights; "
            "for weighted CR2 use se='cr2' (--se cr2)"
        )
    d = panel.data
    D = ((d["cohort"] > 0) & (d["time"] >= d["cohort"])).astype(float)
    X = pd.DataFrame({"D": D.to_numpy(), **{c: d[c].to_numpy() for c in panel.covariates}})
    clusters = d[cluster].to_numpy() if cluster else d["uid"].to_numpy()
    fe = pd.DataFrame({"unit": d["uid"].to_numpy(), "time": d["time"].to_numpy()})
    return d["y"].to_numpy(float), X, clusters, fe


def regression_design(panel: Any, cluster: str | None) -> EstimationDesign:
    """The :class:`~analysis.results.EstimationDesign` a TWFE result carries."""
    return EstimationDesign(
        panel=panel, cluster=cluster, regression=partial(regression_arrays, panel, cluster)
    )


# --------------------------------------------------------------------------- closed forms
# On a balanced panel without covariates the TWFE coefficient is
# <D~, Y~> / <D~, D~> with ~ the two-way within transformation
# (analysis.design.demean_two_way), and its CR1 score of unit i is
# sum_t D~_it e_it. Randomisation inference and power simulation evaluate these
# over many assignments / simulated panels instead of re-fitting; the equality
# with twfe() is tested in tests/test_twfe.py.
def _label_profiles(labels: np.ndarray, times: np.ndarray) -> np.ndarray:
    return ((labels[:, None] > 0) & (times[None, :] >= labels[:, None])).astype(np.float64)


def ri_parts(
    labels: np.ndarray, counts: np.ndarray, times: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Treatment profiles d of each label, their two-way demeaned versions h and <D~, D~>."""
    d = _label_profiles(labels, times)
    n = counts.sum()
    dbar_t = counts @ d / n
    h = d - d.mean(axis=1, keepdims=True) - dbar_t[None, :] + dbar_t.mean()
    den = float(counts @ (h**2).sum(axis=1))
    if den <= 1e-12 * n * times.size:
        return None
    return d, h, den


def ri_closed_form(labels: np.ndarray, counts: np.ndarray, times: np.ndarray, options) -> Any:
    """:class:`~analysis.estimators.registry.ClosedForm` of the TWFE coefficient (or why not)."""
    from analysis.estimators.registry import ClosedForm

    parts = ri_parts(labels, counts, times)
    if parts is None:
        return "treatment absorbed by the fixed effects"
    d, h, den = parts
    return ClosedForm(
        "twfe: two-way demeaned inner products",
        d / den,
        True,
        name_t="twfe_t: two-way demeaned inner products and CR1 cluster scores",
        h=h,
        den=den,
    )


@dataclass(frozen=True)
class TwfeClosedForm:
    """Static TWFE coefficient and CR1 (fixest) SE by unit, for stacks of Y (S x N x T)."""

    Dt: np.ndarray
    den: float
    factor: float

    def __call__(self, Y: np.ndarray) -> np.ndarray:
        Yt = demean_two_way(Y)
        beta = np.einsum("snt,nt->s", Yt, self.Dt) / self.den
        e = Yt - beta[:, None, None] * self.Dt[None]
        s = np.einsum("snt,nt->sn", e, self.Dt)
        se = np.sqrt(self.factor * (s**2).sum(axis=1)) / self.den
        return np.column_stack([beta, se])


def power_closed_form(design: Any) -> TwfeClosedForm:
    """The closed form for a balanced power design (``PanelDesign``), clustered by unit."""
    D = design.treatment()
    Dt = demean_two_way(D)
    n, T = D.shape
    factor = panel_ssc_factor("fixest", n=n * T, k=1, n_units=n, n_times=T, G=n)
    return TwfeClosedForm(Dt, float((Dt**2).sum()), factor)
