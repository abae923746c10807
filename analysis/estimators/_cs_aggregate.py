r"""Aggregation and inference layer of :func:`analysis.estimators.cs.callaway_santanna`.

Everything after the ATT(g,t) and their influence functions are estimated
(:mod:`analysis.estimators._cs_cells`): the R ``aggte`` aggregations as linear
maps of :math:`Z = [\Psi \mid H]` (``simple``, ``group``, ``dynamic``,
``calendar``), their analytic covariances from one Gram matrix, the shared
multiplier bootstrap with its sup-t critical values, the pre-trend Wald test,
and the ``att_gt`` / :class:`~analysis.results.Aggregate` tables. Split from
:mod:`analysis.estimators.cs` (which keeps the option checks, the estimation
driver and the closed forms) because this layer never looks at the data: it
reads only the cells, their estimates and :math:`Z`. The formulas are in the
docstring of :mod:`analysis.estimators.cs` ("Aggregations", "Multiplier
bootstrap", "Pre-trend test").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special  # scipy.stats costs ~0.5 s to import; ndtri is norm.ppf

from analysis.errors import InputError
from analysis.estimators._cs_cells import _Cell, _CellResults
from analysis.estimators._cs_design import _Design, _warn
from analysis.inference.multiplier import iqr_se, multiplier_draws, sup_t_critical_value
from analysis.inference.vcov import cluster_sums, wald_test
from analysis.results import Aggregate

#: ``_warn`` stack level from the helpers here: they are called by ``callaway_santanna``.
_STACK = 4


# --------------------------------------------------------------------------- aggregation
@dataclass
class _AggSpec:
    """Linear map from (att, psi) to aggregate components and their overall."""

    kind: str
    key: str
    keys: list  # component labels
    w: np.ndarray  # K x J weights on ATT(g,t) (J = components + 1 overall, overall last)
    b: np.ndarray  # nG x J cohort terms of the weight influence function
    theta: np.ndarray  # J estimates


def _weighted_component(
    sel: np.ndarray,
    att: np.ndarray,
    pg_cell: np.ndarray,
    cell_gidx: np.ndarray,
    n_g: int,
    with_wif: bool,
) -> tuple[np.ndarray, np.ndarray, float]:
    r"""Weights and wif cohort terms of :math:`\sum_k p_k a_k / \sum_k p_k` over ``sel``.

    Parameters
    ----------
    sel
        ``K`` boolean: the cells entering the component.
    att
        ``K`` ATT(g,t) (NA cells set to 0; they are never selected).
    pg_cell
        Cohort share :math:`\hat p_g` of each cell's cohort.
    cell_gidx
        Index of each cell's cohort in ``design.glist``.
    n_g
        Number of treated cohorts.
    with_wif
        Add the weight influence function :math:`s^{-1}\sum_k (a_k - \theta) 1\{G_i = g_k\}`.

    Returns
    -------
    w, b, theta
        ``K`` weights on the ATT(g,t), ``n_g`` cohort terms of the wif, estimate.
    """
    k = att.size
    w = np.zeros(k)
    b = np.zeros(n_g)
    s = pg_cell[sel].sum()
    w[sel] = pg_cell[sel] / s
    theta = float(np.dot(w[sel], att[sel]))
    if with_wif:
        np.add.at(b, cell_gidx[sel], (att[sel] - theta) / s)
    return w, b, theta


def _components(
    sels: list[np.ndarray],
    att: np.ndarray,
    pg_cell: np.ndarray,
    cell_gidx: np.ndarray,
    n_g: int,
    with_wif: bool,
) -> tuple[list[np.ndarray], list[np.ndarray], list[float]]:
    """:func:`_weighted_component` of each selection in ``sels``, as three lists.

    Returns
    -------
    cols_w, cols_b, thetas
        The weights, wif cohort terms and estimates of the components, in order.
    """
    cols_w, cols_b, thetas = [], [], []
    for sel in sels:
        w, b, th = _weighted_component(sel, att, pg_cell, cell_gidx, n_g, with_wif)
        cols_w.append(w)
        cols_b.append(b)
        thetas.append(th)
    return cols_w, cols_b, thetas


def _mean_overall(
    cols_w: list[np.ndarray], cols_b: list[np.ndarray], thetas: list[float], use: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Unweighted mean of the components flagged by ``use`` (dynamic and calendar overall).

    Returns
    -------
    w, b, theta
        Its weights on the ATT(g,t), wif cohort terms and estimate.
    """
    m = int(use.sum())
    wo = sum(wc for wc, u in zip(cols_w, use, strict=True) if u) / m
    bo = sum(bc for bc, u in zip(cols_b, use, strict=True) if u) / m
    return wo, bo, float(np.mean(np.array(thetas)[use]))


def _aggregations(
    design: _Design,
    cells: list[_Cell],
    att: np.ndarray,
    *,
    max_event: int | None,
    balance_event: int | None,
) -> dict[str, _AggSpec]:
    """The four R ``aggte`` aggregations as linear maps of ATT(g,t) and cohort dummies.

    Parameters
    ----------
    design
        The estimation design (periods, cohorts, sampling weights).
    cells
        The ATT(g,t) cells, in the order of ``att``.
    att
        ``K`` ATT(g,t) (``nan`` = NA, left out).
    max_event, balance_event
        R ``max_e`` and ``balance_e`` (module docstring of :mod:`analysis.estimators.cs`).

    Returns
    -------
    dict
        ``simple``, ``group``, ``dynamic``, ``calendar`` -> :class:`_AggSpec`.

    Raises
    ------
    InputError
        No post-treatment cell, no cohort meeting ``balance_event`` or no
        non-negative event time.
    """
    times = design.times
    glist = design.glist
    n_g = glist.size
    if design.w is None:
        pg = np.array([np.mean(design.g == c) for c in glist])
    else:  # R aggte: pg = mean(w * 1{G = g}) with the sampling weights
        pg = np.array([np.mean(design.w * (design.g == c)) for c in glist])
    cg = np.array([c.g for c in cells])
    ct = times[np.array([c.t for c in cells])].astype(np.float64)
    e = ct - cg
    cell_gidx = np.searchsorted(glist, cg)
    pg_cell = pg[cell_gidx]
    ok = np.isfinite(att)
    att0 = np.where(ok, att, 0.0)
    me = np.inf if max_event is None else float(max_event)
    post = ok & (cg <= ct) & (e <= me)
    specs: dict[str, _AggSpec] = {}

    def pack(kind, key, keys, cols_w, cols_b, thetas) -> _AggSpec:
        return _AggSpec(
            kind,
            key,
            keys,
            np.column_stack(cols_w),
            np.column_stack(cols_b),
            np.asarray(thetas, dtype=np.float64),
        )

    # simple
    if not post.any():
        raise InputError("no post-treatment ATT(g,t) could be estimated")
    w, b, th = _weighted_component(post, att0, pg_cell, cell_gidx, n_g, True)
    specs["simple"] = pack("simple", None, [], [w], [b], [th])

    # group
    by_g = [(gi, c, post & (cell_gidx == gi)) for gi, c in enumerate(glist)]
    by_g = [(gi, c, sel) for gi, c, sel in by_g if sel.any()]
    cols_w, cols_b, th_g = _components(
        [sel for _, _, sel in by_g], att0, pg_cell, cell_gidx, n_g, False
    )
    keys = [c for _, c, _ in by_g]
    pgg_a = np.array([pg[gi] for gi, _, _ in by_g])
    s = pgg_a.sum()
    wo = sum(p / s * wc for p, wc in zip(pgg_a, cols_w, strict=True))
    th_o = float(np.dot(pgg_a / s, th_g))
    bo = np.zeros(n_g)
    gidx = np.searchsorted(glist, np.array(keys))
    bo[gidx] = (np.array(th_g) - th_o) / s
    specs["group"] = pack("group", "cohort", keys, [*cols_w, wo], [*cols_b, bo], [*th_g, th_o])

    # dynamic
    include = ok.copy()
    eseq = np.unique(e[ok])
    if balance_event is not None:
        t_last = float(times[-1])
        eligible = []
        for c in glist:
            if t_last - c < balance_event:
                continue
            need = np.arange(0, balance_event + 1)
            have = e[ok & (cg == c)]
            if np.all(np.isin(need, have)):
                eligible.append(c)
        if not eligible:
            raise InputError(
                f"balance_event={balance_event}: no cohort is observed for that many "
                "post-treatment periods"
            )
        include &= np.isin(cg, eligible)
        eseq = np.unique(e[include])
        eseq = eseq[(eseq <= balance_event) & (eseq >= balance_event - (times[-1] - times[0]))]
    eseq = eseq[eseq <= me]
    cols_w, cols_b, th_e = _components(
        [include & (e == ev) for ev in eseq], att0, pg_cell, cell_gidx, n_g, True
    )
    epos = eseq >= 0
    if not epos.any():
        raise InputError("no non-negative event time to aggregate")
    wo, bo, th_o = _mean_overall(cols_w, cols_b, th_e, epos)
    specs["dynamic"] = pack(
        "dynamic", "event", [int(v) for v in eseq], [*cols_w, wo], [*cols_b, bo], [*th_e, th_o]
    )

    # calendar (max_event ignored, as in R)
    postc = ok & (cg <= ct)
    tl = [t for t in np.unique(ct) if t >= glist.min() and (postc & (ct == t)).any()]
    cols_w, cols_b, th_t = _components(
        [postc & (ct == t) for t in tl], att0, pg_cell, cell_gidx, n_g, True
    )
    wo, bo, th_o = _mean_overall(cols_w, cols_b, th_t, np.ones(len(tl), dtype=bool))
    specs["calendar"] = pack(
        "calendar", "time", [int(t) for t in tl], [*cols_w, wo], [*cols_b, bo], [*th_t, th_o]
    )
    return specs


# --------------------------------------------------------------------------- inference
@dataclass
class _Inference:
    """Standard errors, covariances and bands of every parameter of the result.

    Parameters are ordered as the columns of ``amat`` in :func:`_inference`: the
    ``K`` ATT(g,t), then for each aggregation its components and its overall.
    """

    v_all: np.ndarray  # analytic covariance (cluster-robust when clustered)
    se_all: np.ndarray  # reported SE (bootstrap IQR-based with n_boot; nan = degenerate)
    analytic_ok: np.ndarray  # finite, non-zero analytic SE
    att_gt_crit: float | None  # sup-t critical value over the ATT(g,t) (bootstrap only)
    crit_by: dict[str, float | None]  # sup-t critical value of each aggregation
    seed: int | None  # the bootstrap seed used (drawn fresh when none was given)


def _inference(
    design: _Design,
    cr: _CellResults,
    specs: dict[str, _AggSpec],
    *,
    alpha: float,
    n_boot: int | None,
    seed: int | None,
    boot_weights: str,
    notes: list[str],
) -> _Inference:
    r"""Analytic covariance of every parameter and, with ``n_boot``, the multiplier bootstrap.

    Aggregations are linear in (ATT(g,t), cohort indicators): with
    :math:`Z = [\Psi \mid H]` (:math:`H` = ``n x nG`` cohort dummies, times the
    sampling weights) every influence function in the result is :math:`ZA`
    for a small matrix :math:`A`, so one Gram matrix of the cluster sums of
    :math:`Z` gives every analytic covariance, :math:`V = A'(S'S)A/n^2`, and
    one bootstrap of :math:`Z` every draw. The moment path supplies the Gram
    matrix directly (``cr.gram``; :math:`Z` is never formed).

    Parameters
    ----------
    design, cr, specs
        The design, the cell estimates and the aggregations.
    alpha
        Level of the pointwise and simultaneous bands.
    n_boot, seed, boot_weights
        Multiplier bootstrap draws (``None`` = analytic only), seed, distribution.
    notes
        Sample/estimation notes, appended to (each also a ``UserWarning``).

    Returns
    -------
    _Inference
    """
    att = cr.att
    k = att.size
    n = design.n
    clusters = design.clusters
    glist = design.glist
    n_g = glist.size
    blocks_w = [np.eye(k)] + [spec.w for spec in specs.values()]
    blocks_b = [np.zeros((n_g, k))] + [spec.b for spec in specs.values()]
    amat = np.vstack([np.hstack(blocks_w), np.hstack(blocks_b)])  # (K+nG) x (K+J)
    if cr.gram is not None:
        gram = cr.gram
        z = None
    else:
        z = np.empty((n, k + n_g))
        z[:, :k] = cr.psi
        z[:, k:] = design.g[:, None] == glist[None, :]
        if design.w is not None:  # the weight influence function is w_i 1{G_i = g} - p_g
            z[:, k:] *= design.w[:, None]
        sz = cluster_sums(z, clusters)
        gram = sz.T @ sz
        del sz
    v_all = amat.T @ gram @ amat / float(n) ** 2
    se_all = np.sqrt(np.clip(np.diag(v_all), 0.0, None))
    theta_all = np.concatenate([att, *[spec.theta for spec in specs.values()]])
    finite = np.isfinite(theta_all)
    se_all = np.where(finite & (se_all > 0), se_all, np.nan)
    analytic_ok = np.isfinite(se_all)

    # multiplier bootstrap: one set of draws for every influence function
    z_crit = float(special.ndtri(1 - alpha / 2))
    att_gt_crit = None
    crit_by: dict[str, float | None] = {name: None for name in specs}
    used_seed = seed
    if n_boot is not None:
        assert z is not None  # the bootstrap path forms Psi
        if used_seed is None:
            used_seed = int(np.random.SeedSequence().entropy % (2**63))
        draws_z = multiplier_draws(
            z,
            n_boot,
            rng=np.random.default_rng(used_seed),
            clusters=clusters,
            weights=boot_weights,
        )
        draws = draws_z @ amat
        bse = iqr_se(draws)
        se_all = np.where(analytic_ok, bse, np.nan)
        att_gt_crit = sup_t_critical_value(draws[:, :k], se_all[:k], alpha)
        if not np.isfinite(att_gt_crit):
            _warn(
                notes,
                "simultaneous critical value for ATT(g,t) not available; bands are pointwise",
                stacklevel=_STACK,
            )
            att_gt_crit = None
        elif att_gt_crit >= 7:
            _warn(
                notes,
                f"simultaneous critical value for ATT(g,t) is large ({att_gt_crit:.2f})",
                stacklevel=_STACK,
            )
        offset = k
        for name, spec in specs.items():
            jn = spec.w.shape[1]
            if name != "simple":
                comp = slice(offset, offset + jn - 1)
                cv = sup_t_critical_value(draws[:, comp], se_all[comp], alpha)
                if not np.isfinite(cv):
                    _warn(
                        notes,
                        f"{name}: simultaneous critical value not available; pointwise bands",
                        stacklevel=_STACK,
                    )
                    cv = z_crit
                elif cv < z_crit:
                    _warn(
                        notes,
                        f"{name}: simultaneous critical value below the pointwise one; "
                        "pointwise bands reported",
                        stacklevel=_STACK,
                    )
                    cv = z_crit
                elif cv >= 7:
                    _warn(
                        notes,
                        f"{name}: simultaneous critical value is large ({cv:.2f})",
                        stacklevel=_STACK,
                    )
                crit_by[name] = float(cv)
            offset += jn
    return _Inference(
        v_all=v_all,
        se_all=se_all,
        analytic_ok=analytic_ok,
        att_gt_crit=att_gt_crit,
        crit_by=crit_by,
        seed=used_seed,
    )


def _pretest(att: np.ndarray, pre: np.ndarray, v_all: np.ndarray, notes: list[str]) -> dict | None:
    r"""Wald pre-test :math:`W = \hat a'\hat V^{-1}\hat a \sim \chi^2_q` of the cells ``pre``.

    Parameters
    ----------
    att
        ``K`` ATT(g,t).
    pre
        Indices of the non-degenerate pre-treatment cells.
    v_all
        Analytic covariance of all parameters (the ATT(g,t) first).
    notes
        Sample/estimation notes, appended to (each also a ``UserWarning``).

    Returns
    -------
    dict or None
        ``name, stat, df, p_value`` (and ``note`` when the covariance is
        singular); ``None`` when there is no pre-treatment cell.
    """
    if not pre.size:
        _warn(notes, "no pre-treatment ATT(g,t) to test", stacklevel=_STACK)
        return None
    wt = wald_test(att[pre], v_all[np.ix_(pre, pre)])
    pretest = {
        "name": "Wald pre-test of parallel trends (pre-treatment ATT(g,t) = 0)",
        "stat": wt.stat,
        "df": wt.df,
        "p_value": wt.p_value,
    }
    if wt.note:
        pretest["note"] = wt.note
        _warn(notes, f"pre-trend test not computed: {wt.note}", stacklevel=_STACK)
    return pretest


def _tables(
    design: _Design,
    cells: list[_Cell],
    cr: _CellResults,
    specs: dict[str, _AggSpec],
    inference: _Inference,
) -> tuple[pd.DataFrame, dict[str, Aggregate]]:
    """The ``att_gt`` table and the :class:`~analysis.results.Aggregate` of each aggregation.

    Returns
    -------
    att_gt, aggregates
        ``cohort, time, event, att, se, post, base, n_treated, n_control``, and
        ``simple`` (overall only), ``group``, ``dynamic``, ``calendar`` (with
        ``by`` table, simultaneous critical value and component covariance).
    """
    k = len(cells)
    cg = np.array([c.g for c in cells])
    ct = design.times[np.array([c.t for c in cells])]
    se_all = inference.se_all
    att_gt = pd.DataFrame(
        {
            "cohort": cg.astype(np.int64),
            "time": ct.astype(np.int64),
            "event": (ct - cg).astype(np.int64),
            "att": cr.att,
            "se": se_all[:k],
            "post": cg <= ct,
            "base": design.times[np.array([c.b for c in cells])].astype(np.int64),
            "n_treated": cr.n_treated,
            "n_control": cr.n_control,
        }
    )
    aggregates: dict[str, Aggregate] = {}
    offset = k
    for name, spec in specs.items():
        jn = spec.w.shape[1]
        se_j = se_all[offset : offset + jn]
        if name == "simple":
            aggregates[name] = Aggregate(kind="simple", att=spec.theta[0], se=se_j[0])
        else:
            by = pd.DataFrame({spec.key: spec.keys, "att": spec.theta[:-1], "se": se_j[:-1]})
            if spec.key == "cohort":
                by["cohort"] = by["cohort"].astype(np.int64)
            comp = slice(offset, offset + jn - 1)
            aggregates[name] = Aggregate(
                kind=name,
                att=spec.theta[-1],
                se=se_j[-1],
                by=by,
                crit_value=inference.crit_by[name],
                vcov=inference.v_all[comp, comp],
            )
        offset += jn
    return att_gt, aggregates
