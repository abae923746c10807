"""Sun & Abraham (2021) interaction-weighted (IW) event-study estimator.

Model
-----
A saturated regression of cohort x relative-time interactions,

.. math::

    y_{it} = \\alpha_i + \\lambda_t
      + \\sum_{g \\in \\mathcal G} \\sum_{e \\ne -1} \\delta_{g,e}\\,
        1\\{g_i = g,\\ t - g = e\\} + x_{it}'\\gamma + \\varepsilon_{it},

where :math:`\\mathcal G` are the treated cohorts other than the control
cohort, and every relative period except :math:`e = -1` gets its own dummy (no
binning). :math:`\\hat\\delta_{g,e}` estimates :math:`CATT_{g,e}` relative to
the control cohort :math:`C`:

* ``control="never"`` (default when never-treated units exist): :math:`C` =
  never-treated units;
* ``control="last"`` (default otherwise): :math:`C` = the last-treated cohort
  :math:`g_{max}`; periods :math:`t \\ge g_{max}` are dropped and that cohort
  gets no dummies (Sun & Abraham 2021, Sec. 4.1).

Aggregation (interaction weights)
---------------------------------
With :math:`n_{g,e}` the number of observations of cohort :math:`g` at relative
time :math:`e` in the estimation sample,

.. math::

    \\hat\\nu_e = \\sum_g \\frac{n_{g,e}}{\\sum_{g'} n_{g',e}}\\hat\\delta_{g,e},
    \\qquad
    \\widehat{ATT} = \\frac{\\sum_{g}\\sum_{e \\ge 0} n_{g,e}\\hat\\delta_{g,e}}
                          {\\sum_g\\sum_{e\\ge 0} n_{g,e}},

i.e. cohort shares among the treated at each relative time (``dynamic``) and the
average over all treated observations (``simple``). These are exactly fixest's
``sunab()`` aggregation (``aggregate.fixest`` weights each CATT by its number of
observations; ``summary(., agg = "ATT")``) and pyfixest's
``SaturatedEventStudy.aggregate(weighting="shares")``. Like fixest, the sample
shares are treated as known, so the standard errors are the delta method
:math:`\\sqrt{w'\\hat V_\\delta w}` applied to the clustered covariance of the
saturated regression (fixest CR1 small-sample convention by default; see
:func:`~analysis.estimators.twfe.twfe`). Sun & Abraham's own variance adds a
term for the estimated shares; it is not included (as in fixest).

``dynamic`` contains the leads too (:math:`e \\le -2`), omitting the reference
:math:`e=-1`; ``pretest`` is the joint Wald test that the aggregated leads are
zero; ``att_gt`` holds the :math:`\\hat\\delta_{g,e}` as ATT(g, t = g + e).

Weights
-------
With observation weights :math:`\\omega_{it}` (``weights=``; fixest
``feols(..., weights = ~w)`` with ``sunab()``) the saturated regression is
weighted least squares and the cell sizes :math:`n_{g,e}` of the interaction
weights become the weight totals :math:`\\sum_{it \\in (g,e)} \\omega_{it}`
(fixest ``aggregate(..., use_weights = TRUE)``, its default).

Computation: the unit effects are absorbed exactly and the interaction and time
dummies are sparse (:mod:`analysis.estimators._fe`), so 100,000 units x 20
periods take a few seconds and well under 2 GB.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis.errors import InputError
from analysis.estimators import _fe
from analysis.estimators._docs import fill_doc
from analysis.estimators._panel import estimator_input, note
from analysis.results import Aggregate, DiDResult, EstimationDesign
from analysis.validation import comparison_group

__all__ = ["sun_abraham"]


@fill_doc
def sun_abraham(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    control: Literal["never", "last"] | None = None,
    ssc: Literal["fixest", "linearmodels"] = "fixest",
    alpha: float = 0.05,
    data_layer: str | None = None,
    weights: str | None = None,
) -> DiDResult:
    """Sun & Abraham (2021) interaction-weighted event study.

    Parameters
    ----------
    {{data}}
    {{columns}}
    covariates
        Time-varying controls entered linearly.
    {{cluster}}
    control
        Comparison cohort (the package's one vocabulary): ``"never"``,
        ``"last"`` (last-treated cohort) or ``None`` (default: never if any
        never-treated unit exists, else last). The old spelling ``"auto"`` for
        the default is accepted with a ``DeprecationWarning``.
    {{ssc}}
    {{alpha}}
    {{data_layer}}
    weights
        Column of analytic observation weights (fixest ``weights=``): weighted
        least squares, and weight totals as the cell sizes of the interaction
        weights (module docstring).

    Returns
    -------
    DiDResult
        ``simple`` (ATT over all treated observations), ``dynamic`` (IW
        event-time effects, reference -1 omitted), ``att_gt`` (the CATTs),
        ``pretest`` (joint Wald test of the aggregated leads).
    """
    control = comparison_group(control, ("never", "last"))
    inp = estimator_input(
        data,
        alpha=alpha,
        ssc=ssc,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=covariates,
        cluster=cluster,
        require_never_treated=(control == "never"),
        weights=weights,
    )
    panel, alpha = inp.panel, inp.alpha
    d = panel.data
    notes = list(panel.notes)
    has_never = bool((d["cohort"] == 0).any())
    use = "never" if (control == "never" or (control is None and has_never)) else "last"
    g = d["cohort"].to_numpy().copy()
    if use == "last":
        if panel.cohorts.size < 2:
            raise InputError("control='last' needs at least two treated cohorts")
        gmax = float(panel.cohorts.max())
        keep = d["time"].to_numpy() < gmax
        d = d.loc[keep].reset_index(drop=True)
        g = np.where(d["cohort"].to_numpy() == gmax, 0.0, d["cohort"].to_numpy())
        if has_never:
            g = np.where(d["cohort"].to_numpy() == 0, 0.0, g)
        note(
            notes,
            f"control = last-treated cohort {int(gmax)} (with never-treated units if any); "
            f"periods >= {int(gmax)} dropped",
        )
        d = d.assign(cohort=g)
    times = np.sort(d["time"].unique())
    tid = np.searchsorted(times, d["time"].to_numpy())
    uid = d["uid"].to_numpy()
    n_units = panel.n_units
    cl, n_cl = _fe.cluster_codes(d, panel.cluster, uid, n_units)
    covs, cov_notes = _fe.usable_covariates(panel, panel.data["uid"].to_numpy(), n_units)
    notes += cov_notes

    t = d["time"].to_numpy().astype(float)
    e = np.where(g > 0, t - g, np.nan)
    cell = (g > 0) & (e != -1)
    cells = (
        pd.DataFrame({"g": g[cell], "e": e[cell]}).value_counts().sort_index().reset_index(name="n")
    )
    om = d["_weight"].to_numpy() if weights else None
    if cells.empty:
        raise InputError("no cohort x relative-time cell to estimate")
    cell_id = pd.MultiIndex.from_frame(cells[["g", "e"]])
    codes = np.full(len(d), -1, dtype=np.int64)
    codes[cell] = cell_id.get_indexer(pd.MultiIndex.from_arrays([g[cell], e[cell]]))
    Ic = _fe.indicator_matrix(codes, len(cells))
    Td = _fe.time_dummies(tid, len(times))
    S = sp.hstack([Td, Ic]).tocsr()
    X = d[covs].to_numpy(dtype=float) if covs else None
    fit = _fe.fit_absorbed(d["y"].to_numpy(), uid, n_units, S, X, weights=om)
    if om is not None:  # cell sizes = weight totals (fixest aggregate(use_weights = TRUE))
        cells["n"] = np.bincount(codes[cell], weights=om[cell], minlength=len(cells))

    nT = Td.shape[1]
    kept = fit.keep
    ic_keep = kept[nT : nT + len(cells)]
    if not ic_keep.all():
        bad = cells.loc[~ic_keep, ["g", "e"]].astype(int).to_records(index=False).tolist()
        note(notes, f"cohort x event cell(s) {bad[:5]} not identified and dropped")
    scores = _fe.cluster_scores(cl, n_cl, S, X, fit.score_resid)[:, kept]
    k = int(kept[nT:].sum())
    factor = _fe.ssc_factor(
        ssc, n=fit.n_obs, k=k, n_units=int(np.unique(uid).size), n_times=len(times), G=n_cl
    )
    V = _fe.sandwich(fit.bread, scores, factor)
    kept_idx = np.flatnonzero(kept)
    pos = np.full(kept.size, -1)
    pos[kept_idx] = np.arange(kept_idx.size)

    cells = (
        cells.assign(delta=fit.coef[nT : nT + len(cells)], col=pos[nT : nT + len(cells)])
        .loc[ic_keep]
        .reset_index(drop=True)
    )
    Vd = V[np.ix_(cells["col"].to_numpy(), cells["col"].to_numpy())]
    dse = np.sqrt(np.diag(Vd))
    att_gt = pd.DataFrame(
        {"cohort": cells["g"], "time": cells["g"] + cells["e"], "att": cells["delta"], "se": dse}
    )

    # interaction weights
    ev = np.sort(cells["e"].unique())
    W = np.zeros((ev.size, len(cells)))
    for i, v in enumerate(ev):
        m = (cells["e"] == v).to_numpy()
        W[i, m] = cells["n"].to_numpy()[m] / cells["n"].to_numpy()[m].sum()
    nu = W @ cells["delta"].to_numpy()
    Vnu = W @ Vd @ W.T
    dyn = pd.DataFrame({"event": ev.astype(int), "att": nu, "se": np.sqrt(np.diag(Vnu))})
    post = (cells["e"] >= 0).to_numpy()
    if not post.any():
        raise InputError("no post-treatment cohort x event cell is identified")
    w = np.where(post, cells["n"].to_numpy(), 0.0)
    w = w / w.sum()
    att = float(w @ cells["delta"].to_numpy())
    se = float(np.sqrt(w @ Vd @ w))
    dyn_post = ev >= 0
    wd = np.where(dyn_post, 1.0, 0.0) / dyn_post.sum()

    leads = ev < 0
    pretest = None
    if leads.any():
        Wst, df, p = _fe.wald_test(nu[leads], Vnu[np.ix_(leads, leads)], notes)
        pretest = {"name": "joint Wald test of IW leads = 0", "stat": Wst, "df": df, "p_value": p}

    coefs = _fe.coefficient_table(
        [f"cohort::{int(a)}:event::{int(b)}" for a, b in zip(cells["g"], cells["e"], strict=True)],
        cells["delta"],
        dse,
        covs,
        nT + len(ic_keep),
        fit,
        V,
        pos,
    )
    info = {
        "estimator": "Sun & Abraham (2021) interaction-weighted",
        "control": "never" if use == "never" else "last cohort",
        "est_method": "wls" if weights else "ols",
        "se_type": f"CR1 clustered by {cluster or unit} (delta method over CATTs)",
        "ssc": ssc,
        "ssc_factor": float(factor),
        "cluster": cluster or unit,
        "n_clusters": int(n_cl),
        "alpha": alpha,
        "reference_period": -1,
        "window": [int(ev.min()), int(ev.max())],
        "weights": weights,
        "aggregation_weights": (
            "cohort shares of observations at each relative time (fixest sunab)"
            if not weights
            else f"cohort shares of the {weights!r} weight totals at each relative time "
            "(fixest sunab, aggregate use_weights = TRUE)"
        ),
        "simple_definition": "average over all treated observations (fixest agg='ATT')",
        "dynamic_overall": "equal-weight average of post-period IW effects",
        "dynamic_note": "reference period -1 omitted from 'dynamic'",
        "covariates": covs,
        "data_layer": data_layer or "unspecified",
        "notes": notes,
    }
    return DiDResult(
        design=EstimationDesign(panel=panel, cluster=cluster),
        method="sa",
        outcome=outcome,
        n_units=int(np.unique(uid).size),
        n_obs=len(d),
        att_gt=att_gt,
        aggregates={
            "simple": Aggregate("simple", att, se),
            "dynamic": Aggregate(
                "dynamic", float(wd @ nu), float(np.sqrt(wd @ Vnu @ wd)), by=dyn, vcov=Vnu
            ),
        },
        info=info,
        coefficients=coefs,
        pretest=pretest,
    )
