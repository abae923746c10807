r"""Extended two-way fixed effects (Wooldridge 2021), as R ``etwfe`` estimates it.

Model
-----
Let :math:`g_i` be unit :math:`i`'s cohort (first treated period, ``0`` = never
treated), :math:`\mathcal C` the set of *treated cells* :math:`(g, t)` given a
comparison group (below), :math:`d^{gt}_{it} = 1\{g_i = g, t = t\}` and
:math:`x_{it}` the (optional) covariates. The pooled Mundlak regression of
Wooldridge (2021) is

.. math::

    y_{it} = \alpha_{g_i} + \lambda_t
       + \sum_{(g,t)\in\mathcal C} \tau_{gt}\, d^{gt}_{it}
       + \sum_{(g,t)\in\mathcal C} d^{gt}_{it}\,\dot x_{it}'\delta_{gt}
       + x_{it}'\beta + \sum_{g \ne g_0} 1\{g_i = g\}\, x_{it}'\beta_g
       + \sum_{t \ne t_0} 1\{t = t\}\, x_{it}'\gamma_t + \varepsilon_{it},

with cohort effects :math:`\alpha_g` (not unit effects: R ``etwfe``'s default,
``ivar = NULL``), period effects :math:`\lambda_t`, reference cohort :math:`g_0`
and first period :math:`t_0`, and :math:`\dot x_{it} = x_{it} - \bar x_{g_i}`
the covariates demeaned within cohort. This is ``etwfe(y ~ x, tvar, gvar,
vcov = ~unit)`` with its default ``fe = "feo"`` (the covariate-by-cohort and
covariate-by-period slopes written out; ``fe = "vs"`` is the same model).

Comparison group
----------------
``control="notyet"`` (``etwfe``'s default)
    :math:`\mathcal C = \{(g,t): g \ne g_0,\ t \ge g\}`: every treated
    observation gets its own cell, and all untreated observations (never- and
    not-yet-treated) identify :math:`\alpha_g, \lambda_t`. :math:`g_0` is the
    never-treated cohort; without never-treated units it is the last-treated
    cohort and periods :math:`t \ge g_0` are dropped (``etwfe`` sets
    ``.Dtreat`` to ``NA`` there). Without covariates and on a balanced panel,
    :math:`\hat\tau_{gt}` equals the imputation estimator's ATT(g, t)
    (Wooldridge 2021, Theorem 7.3; :mod:`analysis.estimators.bjs`).
``control="never"``
    :math:`\mathcal C = \{(g,t): g \ne 0,\ t \ne g - 1\}`: every period of a
    treated cohort but the one before treatment gets a cell, so only
    never-treated units identify :math:`\lambda_t` and each
    :math:`\hat\tau_{gt}` is relative to period :math:`g-1` (pre-treatment
    cells are placebo effects).

Aggregation (``etwfe::emfx``)
-----------------------------
The effect of row :math:`it` in cell :math:`(g,t)` is
:math:`\hat\theta_{it} = \hat\tau_{gt} + \dot x_{it}'\hat\delta_{gt}`;
``emfx`` averages it over the treated rows (equal weight per row):
``simple`` over all rows with :math:`t \ge g`, ``group`` by cohort, ``calendar``
by period, ``dynamic`` (``emfx(type = "event")``) by :math:`e = t - g`; with
``control="never"`` the event aggregate also carries the pre-treatment event
times (as ``emfx`` does), except the reference :math:`e=-1`, which is zero by
construction and left out. ``att_gt`` holds the cell averages. Each is linear
in the coefficients, :math:`a'\hat b`, with standard error
:math:`\sqrt{a'\hat V a}` (delta method, exact for this linear model;
``marginaleffects`` computes the same Jacobian numerically). The overall number
of ``group`` / ``calendar`` / ``dynamic`` is R ``did``'s convention: the
cohort-size weighted mean of the group effects, and the plain means of the
calendar and (post-treatment) event effects.

Variance
--------
Cluster-robust (CR1) by unit unless ``cluster`` is given, with fixest's
small-sample factor (:func:`analysis.design.ssc_factor`): the cohort and period
effects are not nested in the unit clusters, so
:math:`K = k + n_{cohorts} + T - 1`, exactly ``feols(..., vcov = ~unit)``.
The cohort effects are absorbed exactly (:func:`analysis.design.fit_absorbed`,
the cohort playing the role of the absorbed factor); because clusters need not
nest cohorts, the cluster scores are those of the cohort-demeaned regressors.

Not covered
-----------
``etwfe``'s heterogeneity covariate ``xvar``, non-linear families
(``family = "poisson"``), unit instead of cohort effects (``ivar``), ``emfx``'s
``window`` and ``post_only = FALSE`` (pre-treatment placebo cells in the
not-yet design) and observation weights are not implemented. Units first
treated after the last period are coded never treated (with a note) rather
than kept as a separate reference cohort; on the sample this is the same model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis import design
from analysis.errors import InputError
from analysis.estimators._docs import fill_doc
from analysis.estimators._panel import estimator_input, note
from analysis.results import Aggregate, DiDResult, EstimationDesign
from analysis.validation import comparison_group

__all__ = ["etwfe"]


def _nested(levels: np.ndarray, cl: np.ndarray) -> bool:
    """Whether every level of a factor lies in a single cluster (fixest's "nested")."""
    pairs = pd.DataFrame({"f": levels, "c": cl}).drop_duplicates()
    return bool(pairs["f"].is_unique)


@fill_doc
def etwfe(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str] = (),
    control: Literal["notyet", "never"] = "notyet",
    cluster: str | None = None,
    ssc: design.SSCName = "fixest",
    alpha: float = 0.05,
    data_layer: str | None = None,
) -> DiDResult:
    """Extended TWFE (Wooldridge 2021) with ``etwfe::emfx`` aggregations.

    Parameters
    ----------
    {{data}}
    {{columns}}
    covariates
        Controls :math:`x_{it}` entered as in ``etwfe(y ~ x1 + x2, ...)``: with
        cohort- and period-specific slopes and, demeaned within cohort,
        interacted with every treated cell. Time-invariant covariates are
        allowed (the model has cohort, not unit, effects).
    control
        ``"notyet"`` (default, never- and not-yet-treated units) or ``"never"``.
    {{cluster}}
    ssc
        Small-sample convention of CR1 (default fixest's, as ``etwfe``).
    {{alpha}}
    {{data_layer}}

    Returns
    -------
    DiDResult
        ``att_gt`` (cell averages), ``simple``, ``group``, ``calendar`` and
        ``dynamic`` aggregates (the latter with its covariance), the regression
        table in ``coefficients`` (fixest's term names), and ``info``.

    Raises
    ------
    InputError
        Invalid panel or options; ``control="never"`` without never-treated
        units; no identified treated cell.
    """
    control = comparison_group(control, ("notyet", "never"))
    covariates = tuple(c for c in covariates if c)
    inp = estimator_input(
        data,
        alpha=alpha,
        ssc=ssc,
        ssc_names=design.SSCName,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=covariates,
        cluster=cluster,
        require_never_treated=(control == "never"),
    )
    panel, alpha = inp.panel, inp.alpha
    notes = list(panel.notes)
    d = panel.data
    g_all = d["cohort"].to_numpy()
    t_all = d["time"].to_numpy().astype(np.int64)
    has_never = bool((g_all == 0).any())
    gref = 0.0 if has_never else float(panel.cohorts.max())
    keep_rows = np.ones(len(d), dtype=bool)
    if not has_never:
        keep_rows = t_all < gref
        note(
            notes,
            f"no never-treated units: cohort {int(gref)} is the comparison cohort and "
            f"periods from {int(gref)} on are dropped ({int((~keep_rows).sum())} rows)",
        )
    # covariates demeaned within cohort on every row (etwfe demeans before estimating)
    X_raw = d[list(covariates)].to_numpy(dtype=float) if covariates else np.zeros((len(d), 0))
    coh_codes, coh_levels = pd.factorize(g_all, sort=True)
    if covariates:
        means = design.group_mean(X_raw, coh_codes, len(coh_levels))
        X_dm = X_raw - means[coh_codes]
        flat = [
            c
            for j, c in enumerate(covariates)
            if np.allclose(X_dm[:, j], 0.0, atol=1e-12 * max(1.0, np.abs(X_raw[:, j]).max()))
        ]
        if flat:
            raise InputError(
                f"covariate(s) {', '.join(map(repr, flat))} are constant within every cohort "
                "and collinear with the cohort effects"
            )
    else:
        X_dm = X_raw

    d = d.loc[keep_rows].reset_index(drop=True)
    X_raw, X_dm = X_raw[keep_rows], X_dm[keep_rows]
    g = d["cohort"].to_numpy()
    t = d["time"].to_numpy().astype(np.int64)
    y = d["y"].to_numpy()
    times = np.unique(t)
    n = len(d)
    tid = np.searchsorted(times, t)
    coh_codes, coh_levels = pd.factorize(g, sort=True)
    n_coh = len(coh_levels)

    # ---- treated cells
    treated_cohorts = [c for c in coh_levels if c != gref and c > 0]
    base_of: dict[float, int] = {}
    if control == "notyet":
        in_cell = (g != gref) & (g > 0) & (t >= g)
    else:
        in_cell = np.zeros(n, dtype=bool)
        for c in treated_cohorts:
            before = times[times < c]
            base = int(before.max())
            base_of[c] = base
            if base != c - 1:
                note(
                    notes,
                    f"cohort {int(c)}: period {int(c) - 1} is not observed; "
                    f"period {base} is its reference period",
                )
            in_cell |= (g == c) & (t != base)
    cells = (
        pd.DataFrame({"cohort": g[in_cell], "time": t[in_cell]})
        .drop_duplicates()
        .sort_values(["cohort", "time"])
        .reset_index(drop=True)
    )
    if cells.empty:
        raise InputError("no treated cell to estimate: no treated observations in the sample")
    n_cells = len(cells)
    cell_id = np.full(n, -1, dtype=np.int64)
    key = pd.MultiIndex.from_arrays([g[in_cell], t[in_cell]])
    cell_id[in_cell] = pd.MultiIndex.from_frame(cells).get_indexer(key)

    # ---- design. Sparse S: time dummies (first period omitted), cell dummies and, per
    # covariate, x by cohort (g != g0), x by period (t != t0) and cell by demeaned x (one
    # non-zero per row each); dense X: the covariates themselves.
    cell_ind = design.indicator_matrix(cell_id, n_cells)
    term_names = [
        f".Dtreat:{cohort}::{_fmt(c)}:{time}::{_fmt(tt)}" for c, tt in cells.itertuples(index=False)
    ]
    s_blocks = [design.time_dummies(tid, len(times), ref=0), cell_ind]
    names = [""] * (len(times) - 1) + term_names
    cat = [-1] * (len(times) - 1) + [3] * n_cells  # print order: x, g:x, t:x, cells, cells:x_dm
    gcodes = design.level_codes(g, [c for c in coh_levels if c != gref])
    dm_pos: list[np.ndarray] = []
    for j, x in enumerate(covariates):
        xr = X_raw[:, j][:, None]
        s_blocks.append(design.indicator_matrix(gcodes, n_coh - 1).multiply(xr))
        names += [f"{cohort}::{_fmt(c)}:{x}" for c in coh_levels if c != gref]
        cat += [1] * (n_coh - 1)
        s_blocks.append(design.time_dummies(tid, len(times), ref=0).multiply(xr))
        names += [f"{time}::{_fmt(tt)}:{x}" for tt in times[1:]]
        cat += [2] * (len(times) - 1)
        dm_pos.append(len(names) + np.arange(n_cells))
        s_blocks.append(cell_ind.multiply(X_dm[:, j][:, None]))
        names += [f"{nm}:{x}_dm" for nm in term_names]
        cat += [4] * n_cells
    S = sp.hstack(s_blocks).tocsr()
    X = X_raw if covariates else None
    names += list(covariates)
    cat += [0] * len(covariates)

    fit = design.fit_absorbed(y, coh_codes, n_coh, S, X)
    n_time = len(times) - 1
    coef = fit.coef
    tau_idx = np.arange(n_time, n_time + n_cells)
    if np.isnan(coef[tau_idx]).any():
        bad = cells[np.isnan(coef[tau_idx])]
        note(
            notes,
            f"{len(bad)} treated cell(s) not identified (collinear): "
            + ", ".join(f"({_fmt(a)},{_fmt(b)})" for a, b in bad.itertuples(index=False)),
        )

    # ---- clustered covariance (scores of the cohort-demeaned regressors)
    if cluster:
        cl, cl_levels = pd.factorize(d[cluster], sort=True)
    else:
        cl, cl_levels = pd.factorize(d["uid"], sort=True)
    cl = np.asarray(cl, dtype=np.int64)
    G = len(cl_levels)
    e = fit.resid
    raw = design.cluster_scores(cl, G, S, X, e)
    cnt = np.maximum(fit.unit_counts, 1.0)
    zbar = np.hstack([fit.unit_sums_S, fit.unit_sums_X]) / cnt[:, None]
    E = sp.csr_matrix((e, (cl, coh_codes)), shape=(G, n_coh))
    scores = (raw - E @ zbar)[:, fit.keep]
    k_slopes = int(fit.keep.sum()) - int(fit.keep[:n_time].sum())
    factor = design.ssc_factor(
        ssc,
        n=n,
        k=k_slopes,
        G=G,
        fe_levels=(n_coh, len(times)),
        fe_nested=(_nested(coh_codes, cl), _nested(tid, cl)),
    )
    Vk = design.sandwich(fit.bread, scores, factor)
    p_all = coef.size
    V = np.full((p_all, p_all), np.nan)
    V[np.ix_(fit.keep, fit.keep)] = Vk

    # ---- coefficient table (fixest's term names and order; time dummies are fixed effects)
    order = [i for i in np.argsort(np.asarray(cat), kind="stable") if cat[i] >= 0]
    se_all = np.sqrt(np.where(np.isfinite(np.diag(V)), np.diag(V), np.nan))
    coefficients = pd.DataFrame(
        {
            "term": [names[i] for i in order],
            "estimate": coef[order],
            "se": se_all[order],
        }
    )

    # ---- emfx: row effects theta_it = tau_c + xdm_it' delta_c on the rows of each aggregate
    b = np.nan_to_num(coef, nan=0.0)
    ok_cell = ~np.isnan(coef[tau_idx])

    def gradient(rows: np.ndarray) -> np.ndarray:
        """Row vector a with a'b = mean over ``rows`` of theta_it."""
        a = np.zeros(p_all)
        cid = cell_id[rows]
        np.add.at(a, n_time + cid, 1.0)
        for j in range(len(covariates)):
            np.add.at(a, dm_pos[j][cid], X_dm[rows, j])
        return a / rows.size

    usable = in_cell & (cell_id >= 0)
    usable[usable] = ok_cell[cell_id[usable]]
    post = usable & (t >= g)
    ev = t - g

    def agg(mask: np.ndarray, by: np.ndarray | None):
        if by is None:
            A = gradient(np.flatnonzero(mask))[None, :]
            keys = np.array([0])
        else:
            keys = np.unique(by[mask])
            A = np.vstack([gradient(np.flatnonzero(mask & (by == k))) for k in keys])
        est = A @ b
        Vm = A[:, fit.keep] @ Vk @ A[:, fit.keep].T
        return keys, est, (Vm + Vm.T) / 2, A

    # att_gt (cell averages)
    cell_rows = [np.flatnonzero(usable & (cell_id == c)) for c in range(n_cells)]
    A_gt = np.vstack([gradient(r) if r.size else np.zeros(p_all) for r in cell_rows])
    gt_est = np.where(ok_cell, A_gt @ b, np.nan)
    gt_V = A_gt[:, fit.keep] @ Vk @ A_gt[:, fit.keep].T
    gt_se = np.where(ok_cell, np.sqrt(np.clip(np.diag(gt_V), 0, None)), np.nan)
    att_gt = cells.assign(att=gt_est, se=gt_se)

    if not post.any():
        raise InputError("no identified post-treatment cell: nothing to aggregate")
    aggregates: dict[str, Aggregate] = {}
    _, s_est, s_V, _ = agg(post, None)
    aggregates["simple"] = Aggregate("simple", s_est[0], np.sqrt(s_V[0, 0]))

    keys, est, Vg, _ = agg(post, g)
    sizes = np.array([d.loc[g == k, "uid"].nunique() for k in keys], dtype=float)
    w = sizes / sizes.sum()
    aggregates["group"] = _aggregate("group", "cohort", keys, est, Vg, w)

    keys, est, Vc, _ = agg(post, t.astype(float))
    aggregates["calendar"] = _aggregate(
        "calendar", "time", keys, est, Vc, np.full(keys.size, 1.0 / keys.size)
    )

    ev_mask = usable if control == "never" else post
    keys, est, Ve, _ = agg(ev_mask, ev.astype(float))
    w = np.where(keys >= 0, 1.0, 0.0)
    aggregates["dynamic"] = _aggregate("dynamic", "event", keys, est, Ve, w / w.sum())

    info = {
        "control": control,
        "est_method": "etwfe (pooled Mundlak OLS, cohort and period effects)",
        "se_type": f"cluster-robust CR1 ({design.SSC.preset(ssc).label} small-sample factor)",
        "cluster": cluster or unit,
        "n_clusters": G,
        "alpha": alpha,
        "ssc": design.SSC.preset(ssc).label,
        "ssc_factor": factor,
        "reference_cohort": int(gref),
        "covariates": list(covariates),
        "data_layer": data_layer or "unspecified",
        "notes": notes,
    }
    return DiDResult(
        design=EstimationDesign(panel=panel, cluster=cluster),
        method="etwfe",
        outcome=outcome,
        n_units=int(d["uid"].nunique()),
        n_obs=n,
        att_gt=att_gt,
        aggregates=aggregates,
        info=info,
        coefficients=coefficients,
    )


def _fmt(v) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def _aggregate(kind, key, keys, est, V, w) -> Aggregate:
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    by = pd.DataFrame({key: keys.astype(np.int64), "att": est, "se": se})
    overall = float(w @ est)
    overall_se = float(np.sqrt(max(w @ V @ w, 0.0)))
    return Aggregate(kind, overall, overall_se, by=by, vcov=V)
