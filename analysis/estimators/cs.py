r"""Callaway and Sant'Anna (2021) group-time average treatment effects.

:func:`callaway_santanna` reproduces R ``did`` (``att_gt`` + ``aggte``,
version 2.5.0, with ``DRDID`` 1.3.0 for the two-period building blocks) on a
balanced panel, vectorised with numpy.

Model
-----
Units :math:`i = 1,\dots,n` are observed in periods :math:`t_1 < \dots < t_T`.
:math:`G_i` is the first treated period (cohort; :math:`G_i = 0`, written
:math:`\infty` below, for never treated) and :math:`\delta \ge 0` the number of
anticipation periods. The target is

.. math::

    ATT(g,t) = E[Y_t(g) - Y_t(0) \mid G = g].

For each cohort :math:`g` and period :math:`t` the estimator compares the
change of the outcome between a *base period* :math:`b(g,t)` and :math:`t`
among cohort :math:`g` (:math:`D_i = 1\{G_i = g\}`) with the same change among
a comparison group :math:`C_{g,t}`:

* ``control="never"``: :math:`C = \{G_i = \infty\}`;
* ``control="notyet"``: :math:`C = \{G_i = \infty\} \cup
  \{G_i > \max(t, b) + \delta,\ G_i \ne g\}` (units not yet treated, nor
  anticipating, in either period of the comparison).

Base period (:math:`\bar b_g` = last period with :math:`t_j + \delta < g`):

* ``base_period="varying"`` (default): :math:`b = t_{j-1}` (the previous
  period) when :math:`t < g - \delta`, and :math:`b = \bar b_g` otherwise.
  ATT(g,t) is reported for :math:`t = t_2,\dots,t_T`.
* ``base_period="universal"``: :math:`b = \bar b_g` for every :math:`t`; the
  cell :math:`t = \bar b_g` is reported as ``att = 0`` with a missing ``se``
  (normalisation, as in R), and pre-period cells are :math:`Y_t - Y_{b}`
  long differences (so they read as an event study relative to
  :math:`\bar b_g`).

With :math:`\Delta Y_i = Y_{it} - Y_{ib}` on the subsample :math:`D_i + C_i = 1`
of size :math:`n_1`, the three 2x2 estimators are those of ``DRDID``:

* ``est_method="reg"`` (outcome regression, ``reg_did_panel``):
  :math:`\widehat{ATT} = \bar{\Delta Y}_{D=1} - \overline{X'\hat\beta}_{D=1}` with
  :math:`\hat\beta` the OLS of :math:`\Delta Y` on :math:`X` among comparison units;
* ``est_method="ipw"`` (normalised/Hajek IPW, ``std_ipw_did_panel``):
  :math:`\widehat{ATT} = \frac{\sum D\Delta Y}{\sum D} -
  \frac{\sum w_0 \Delta Y}{\sum w_0}`, :math:`w_0 = (1-D)\hat p(X)/(1-\hat p(X))`,
  logit propensity score by maximum likelihood;
* ``est_method="dr"`` (default; the *traditional* doubly robust estimator of
  Sant'Anna and Zhao 2020, eq. 3.1, ``drdid_panel`` -- **not** the "improved"
  ``drdid_imp_panel``): the IPW estimator applied to the residuals
  :math:`\Delta Y - X'\hat\beta` of the comparison-group OLS.

R ``did`` 2.5.0 calls exactly ``DRDID::drdid_panel``, ``std_ipw_did_panel``
and ``reg_did_panel`` (``R/compute.att_gt2.R``); so do we. As in ``DRDID`` 1.3.0
the propensity score is capped at :math:`1-10^{-6}` and comparison units with
:math:`\hat p \ge 0.995` get weight zero (trimming); as in ``did`` a cell whose
preliminary propensity score reaches :math:`0.999` (overlap failure) or whose
comparison-group design is singular (``rcond < eps``) is reported as ``NA``
with a warning. :math:`X` always contains an intercept. Without covariates
all three estimators reduce to the same closed form, used directly:

.. math::

    \widehat{ATT}(g,t) = \bar{\Delta Y}_{D=1} - \bar{\Delta Y}_{C=1}, \qquad
    \psi_i = n\Big[\frac{D_i(\Delta Y_i - \bar{\Delta Y}_{D=1})}{n_D}
             - \frac{C_i(\Delta Y_i - \bar{\Delta Y}_{C=1})}{n_C}\Big].

Covariates are read in the *earlier* of the two periods compared,
:math:`\min(t, b)` -- the base period for post-treatment cells and for every
``varying`` cell (R ``did``: ``covariates_tensor[min(pret, t)]``); with
time-invariant covariates (e.g. ``mpdta``'s ``lpop``) the choice is moot.

Influence functions and standard errors
---------------------------------------
Each 2x2 influence function (DRDID's ``att.inf.func``, defined on the
:math:`n_1` units used) is rescaled by :math:`n/n_1` and padded with zeros, so
that the :math:`n \times K` matrix :math:`\Psi` satisfies
:math:`\widehat{ATT} - ATT \approx n^{-1}\sum_i \psi_i`. Analytic standard
errors are R's :math:`\sqrt{\overline{\psi^2}/n}` (non-centred, divisor
:math:`n`); with ``cluster`` they are the cluster-robust
:math:`\sqrt{\sum_c S_c^2}/n` of :mod:`analysis.inference.vcov` (R ``did``
>= 2.5 with ``bstrap=FALSE``). A parameter whose influence function is
identically zero (the universal-base normalisation) has ``se = nan``; R uses
the absolute cut-off :math:`10\sqrt{\epsilon}` instead, which is not invariant
to the units of the outcome.

Without covariates, weights, clusters other than the units and the bootstrap,
:math:`\Psi` is never formed: every analytic covariance needs only the Gram
matrix of :math:`Z = [\Psi \mid H]`, which is accumulated from cohort means and centred
cohort Gram matrices of the outcome (``_cs_cells._estimate_cells_moments``;
:math:`O(nT^2)` time, :math:`O(K^2)` memory). The bootstrap and the covariate
estimators use the dense :math:`\Psi`; both paths give the same ATT(g,t) bit
for bit and the same Gram matrix to rounding (``tests/test_cs_fastpath.py``).

Aggregations (R ``aggte``)
--------------------------
With cohort shares :math:`\hat p_g = n_g / n` (all units, first period) and
post-treatment cells :math:`t \ge g` (and :math:`t - g \le` ``max_event``):

* ``simple``: :math:`\sum_{(g,t)} \hat p_g ATT(g,t) / \sum \hat p_g`;
* ``group``: :math:`\theta(g)` = mean of the post-treatment ATT(g,t) of
  cohort :math:`g`; overall :math:`\sum_g \hat p_g \theta(g)/\sum_g \hat p_g`;
* ``dynamic``: :math:`\theta(e) = \sum_{g: t-g=e} \hat p_g ATT(g,g+e) / \sum \hat p_g`
  for every event time (negative ones included); overall = mean of
  :math:`\theta(e)` over :math:`e \ge 0`. ``balance_event`` (R ``balance_e``)
  keeps only cohorts observed for at least that many post periods;
* ``calendar``: :math:`\theta(t) = \sum_{g \le t} \hat p_g ATT(g,t)/\sum \hat p_g`
  for :math:`t \ge \min g`; overall = mean over :math:`t` (``max_event`` is
  ignored here, as in R).

Aggregates with estimated weights carry R's extra influence-function term
("wif") for the estimation of :math:`\hat p_g`; for a weighted mean
:math:`\theta = \sum_k \hat p_{g_k} a_k / s` it simplifies exactly to
:math:`s^{-1} \sum_k (a_k - \theta)\,1\{G_i = g_k\}`. The group overall uses
the distinct cohort list (R ``did`` >= 2.1, pull request #223; earlier
versions passed the per-cell cohort vector and understated that one SE).
Cells that could not be estimated (``NA``) are dropped from the aggregations
with a warning (R's ``na.rm = TRUE``).

Sampling weights
----------------
With ``weights`` (R ``did``'s ``weightsname``; unit-level, time-invariant)
every 2x2 estimator is ``DRDID``'s with ``i.weights`` :math:`w_i`: the means
become weighted means, the comparison-group regression weighted least
squares, the propensity score a weighted logit, and each influence function
carries the factor :math:`w_i` (without covariates
:math:`\psi_i = n\,w_i[D_i(\Delta Y_i - \bar{\Delta Y}^w_{D=1})/\sum_j w_jD_j
- C_i(\Delta Y_i - \bar{\Delta Y}^w_{C=1})/\sum_j w_jC_j]`). The cohort shares of
the aggregations are :math:`\hat p_g = n^{-1}\sum_i w_i 1\{G_i = g\}` and the
weight influence function is :math:`w_i 1\{G_i = g\} - \hat p_g` (R ``aggte``'s
``weights.ind``). Every quantity is invariant to the scale of the weights,
so they are not normalised; units with weight zero are dropped with a note
(they contribute nothing to any sum).

Multiplier bootstrap
--------------------
With ``n_boot`` set, one set of Rademacher multipliers per cluster (R
``mboot``) is applied to *all* influence functions at once (ATT(g,t) and every
aggregate), giving IQR-based bootstrap standard errors and sup-t critical
values for simultaneous bands: over all ATT(g,t) (``att_gt_crit``) and over
the components of each aggregation (``Aggregate.crit_value``; replaced by the
pointwise normal value, with a warning, when it is not finite or smaller).
R draws fresh multipliers for each ``aggte`` call; sharing them is
asymptotically equivalent and makes every number reproducible from one seed.
Without ``n_boot`` the standard errors are analytic and the bands pointwise
(``crit_value = None``).

Pre-trend test
--------------
Wald test that all pre-treatment cells (:math:`t < g - \delta`, non-degenerate)
are zero, :math:`W = \hat a' \hat V^{-1} \hat a \sim \chi^2_q`, with the
analytic (cluster-robust if clustered) influence-function covariance, as in
``att_gt``; skipped with a note when the covariance is singular. R suppresses
the test with clustering *and* bootstrap because its analytic covariance was
not cluster-robust; ours is, so it is always reported.

Sample
------
Validation is :func:`analysis.estimators._panel.prepare_panel`. Units treated
at or before the first period plus :math:`\delta` are dropped; cohorts after
the last period plus :math:`\delta` are never treated. With
``control="notyet"`` and no never-treated units, periods from the last cohort
minus :math:`\delta` on are dropped and the last cohort serves only as a
comparison (R). Unbalanced panels are balanced by dropping units not observed
in every period (R's default; a ``UserWarning`` and ``info["n_units_dropped"]``
record it). With ``panel_handling="unbalanced"`` they are kept instead (R
``allow_unbalanced_panel = TRUE``): each 2x2 uses the rows observed in the base
or current period and DRDID's repeated-cross-section estimators
(``reg_did_rc``, ``std_ipw_did_rc``, and the locally efficient ``drdid_rc``,
Sant'Anna and Zhao 2020 eq. 3.4), with covariates read in each row's own
period; the row-level influence functions are scaled by :math:`n/n_1`
(:math:`n_1` = rows used) and summed by unit, so that clustering, the
bootstrap and the aggregations work unchanged. In ``drdid_rc`` the estimation
effect of the comparison-group regressions enters as post minus pre term (the
derivative of the estimator; ``csdid`` 0.4.3 does the same, while the DRDID R
source at commit 20929a8 adds the two -- asymptotically negligible).

Reference-software notes
------------------------
Validated against R ``did``'s published ``mpdta`` output
(``tests/reference/cs_published.json``: every printed point estimate and the
pre-test p-value) and two Python ports (``tests/reference/cs_mpdta.json``, 33
configurations; see its ``notes``). ``csdid`` 0.4.3, a port of R ``did`` 2.5.0,
agrees to about 1e-12 everywhere (balanced and unbalanced, clustered, universal
base, anticipation, ``max_e``/``balance_e``). ``differences`` 0.3.0 agrees on
every estimate; its SEs with a propensity score differ by <= 1.3e-7 relative
(logit tolerance); it cannot cluster under pandas 3. Known defects of older
versions, all fixed in the versions matched here: R ``did`` before PR #223 and
``csdid`` before 0.4.1 computed the group-aggregation overall SE with the
per-cell cohort vector (understated SE; ``mpdta``: 0.0124 vs 0.012446);
``csdid`` before 0.4.1 used ``ddof=1`` in the ATT(g,t) SE; R ``did`` before 2.5
bootstrapped cluster *means* rather than sums of the influence function.

Code layout
-----------
One estimator in four modules, in the order the data flows:
:mod:`analysis.estimators._cs_design` (validated panel to wide unit x period
arrays or unbalanced rows, with R's drops and recodings),
:mod:`analysis.estimators._cs_cells` (the ATT(g,t) cells, the DRDID 2x2
estimators with their influence functions, and the moment path),
:mod:`analysis.estimators._cs_aggregate` (aggregations, analytic covariances,
multiplier bootstrap, pre-test, result tables) and this module (option
checks, the driver :func:`callaway_santanna`, ``info``, and the closed forms
for randomisation inference and power, kept next to the estimator they must
equal).

References
----------
Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with
multiple time periods. *Journal of Econometrics* 225(2), 200-230.
Sant'Anna, P. H. C. and Zhao, J. (2020). Doubly robust difference-in-differences
estimators. *Journal of Econometrics* 219(1), 101-122.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.estimators._cs_aggregate import _aggregations, _inference, _pretest, _tables
from analysis.estimators._cs_cells import (  # noqa: F401 - internals re-exported for tests
    OVERLAP_MAX,
    TRIM_LEVEL,
    _Cell,
    _CellResults,
    _cells,
    _cohort_sums,
    _control_cohorts,
    _estimate_cells,
    _estimate_cells_unbalanced,
    _logit,
    _two_by_two_cov,
    _two_by_two_rc,
)
from analysis.estimators._cs_design import _build_design, _Design, _Long, _long_design, _warn  # noqa: F401
from analysis.estimators._docs import fill_doc
from analysis.inference.multiplier import BOOT_WEIGHTS
from analysis.results import DiDResult, EstimationDesign
from analysis.validation import check_alpha, check_int, check_option, comparison_group

Control = Literal["never", "notyet"]
EstMethod = Literal["dr", "ipw", "reg"]
BasePeriod = Literal["varying", "universal"]
PanelHandling = Literal["balance", "unbalanced"]

CONTROLS = ("never", "notyet")
EST_METHODS = ("dr", "ipw", "reg")
BASE_PERIODS = ("varying", "universal")
PANEL_HANDLINGS = ("balance", "unbalanced")


# --------------------------------------------------------------------------- options
def _validate_options(
    *,
    control: object,
    est_method: object,
    base_period: object,
    anticipation: object,
    alpha: object,
    n_boot: object,
    seed: object,
    max_event: object,
    balance_event: object,
    panel_handling: object,
    boot_weights: object,
) -> None:
    check_option("control", control, CONTROLS)
    check_option("est_method", est_method, EST_METHODS)
    check_option("base_period", base_period, BASE_PERIODS)
    check_option("panel_handling", panel_handling, PANEL_HANDLINGS)
    check_option("boot_weights", boot_weights, BOOT_WEIGHTS)
    check_int("anticipation", anticipation, 0)
    check_int("n_boot", n_boot, 1, allow_none=True)
    check_int("seed", seed, 0, allow_none=True)
    check_int("max_event", max_event, 0, allow_none=True)
    check_int("balance_event", balance_event, 0, allow_none=True)
    if isinstance(alpha, str):
        raise InputError(f"alpha must lie strictly between 0 and 1 (got {alpha!r})")
    check_alpha(alpha)


# --------------------------------------------------------------------------- main
@fill_doc
def callaway_santanna(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str] = (),
    control: Control = "never",
    est_method: EstMethod = "dr",
    base_period: BasePeriod = "varying",
    anticipation: int = 0,
    cluster: str | None = None,
    alpha: float = 0.05,
    n_boot: int | None = None,
    seed: int | None = None,
    data_layer: str | None = None,
    max_event: int | None = None,
    balance_event: int | None = None,
    panel_handling: PanelHandling = "balance",
    boot_weights: Literal["rademacher", "mammen"] = "rademacher",
    weights: str | None = None,
) -> DiDResult:
    """Callaway-Sant'Anna group-time ATTs and their aggregations (R ``did``).

    Parameters
    ----------
    {{data}}
    {{columns}}
    covariates
        Covariates for conditional parallel trends (read in the earlier period
        of each comparison; an intercept is always added).
    control
        ``"never"`` (never-treated comparison) or ``"notyet"`` (not-yet-treated).
    est_method
        ``"dr"`` (traditional doubly robust, default), ``"ipw"`` (normalised
        IPW) or ``"reg"`` (outcome regression).
    base_period
        ``"varying"`` (default) or ``"universal"``.
    anticipation
        Number of periods before treatment in which units may anticipate it.
    cluster
        Unit-level cluster column for cluster-robust analytic and bootstrap
        inference (units are always clusters of their own rows).
    alpha
        Significance level for confidence intervals and bands.
    n_boot
        Number of multiplier-bootstrap draws; ``None`` = analytic standard
        errors and pointwise intervals only.
    seed
        Seed of the bootstrap generator (recorded in ``info``; drawn fresh and
        recorded when ``None``).
    {{data_layer}}
    max_event
        Largest event time entering the simple, group and dynamic aggregations
        (R ``max_e``).
    balance_event
        Balance the dynamic aggregation in event time (R ``balance_e``).
    panel_handling
        ``"balance"`` (default): drop units not observed in every period (R's
        default). ``"unbalanced"``: keep them and, when the panel is indeed
        unbalanced, use DRDID's repeated-cross-section estimators on the rows
        observed in each 2x2, summing influence functions by unit (R
        ``allow_unbalanced_panel = TRUE``).
    boot_weights
        Multiplier distribution: ``"rademacher"`` (R) or ``"mammen"``.
    weights
        Column of unit sampling weights (R ``did``'s ``weightsname``): constant
        within unit, non-negative, finite. They enter the 2x2 estimators (the
        ``DRDID`` ``i.weights``: weighted means, weighted least squares,
        weighted logit), their influence functions and the cohort shares of
        the aggregations (module docstring, "Sampling weights").

    Returns
    -------
    DiDResult
        ``att_gt`` (``cohort, time, event, att, se, post, base``), aggregates
        ``simple``, ``group``, ``dynamic``, ``calendar``, the pre-trend Wald
        test and an ``info`` mapping with every convention used.

    Raises
    ------
    InputError
        Invalid data (see :func:`~analysis.estimators._panel.prepare_panel`) or
        options.
    """
    if isinstance(control, str) and control not in CONTROLS:
        control = comparison_group(control, CONTROLS, default="never")
    _validate_options(
        control=control,
        est_method=est_method,
        base_period=base_period,
        anticipation=anticipation,
        alpha=alpha,
        n_boot=n_boot,
        seed=seed,
        max_event=max_event,
        balance_event=balance_event,
        panel_handling=panel_handling,
        boot_weights=boot_weights,
    )
    if isinstance(covariates, str):
        covariates = (covariates,)
    covariates = tuple(covariates)
    if cluster is not None and not isinstance(cluster, str):
        raise InputError(f"cluster must be a column name (got {cluster!r})")
    cluster_eff = None if (cluster is None or cluster == unit) else cluster
    alpha = float(alpha)
    anticipation = int(anticipation)

    design = _build_design(
        data,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=covariates,
        cluster=cluster_eff,
        control=control,
        anticipation=anticipation,
        panel_handling=panel_handling,
        weights=weights,
    )
    notes = design.notes
    n = design.n
    cells = _cells(design, base_period, anticipation)
    # Analytic SEs without covariates need only the Gram matrix of the influence
    # functions: it is accumulated from cohort moments, never forming n x K Psi.
    moments = (
        n_boot is None
        and design.long is None
        and design.x is None
        and design.x_static is None
        and design.clusters is None
        and design.w is None  # sampling weights: the dense weighted Psi
    )
    if design.long is None:
        cr = _estimate_cells(
            design,
            cells,
            control=control,
            est_method=est_method,
            anticipation=anticipation,
            moments=moments,
        )
    else:
        cr = _estimate_cells_unbalanced(
            design, cells, control=control, est_method=est_method, anticipation=anticipation
        )
    att = cr.att
    if cr.na_notes:
        for m in cr.na_notes:
            _warn(notes, m)
        _warn(notes, f"{len(cr.na_notes)} ATT(g,t) reported as NA are left out of the aggregations")
    clusters = design.clusters
    k = len(cells)

    specs = _aggregations(design, cells, att, max_event=max_event, balance_event=balance_event)
    inference = _inference(
        design,
        cr,
        specs,
        alpha=alpha,
        n_boot=n_boot,
        seed=seed,
        boot_weights=boot_weights,
        notes=notes,
    )
    # pre-trend Wald test (analytic, cluster-robust when clustered)
    cg = np.array([c.g for c in cells])
    ct = design.times[np.array([c.t for c in cells])]
    pretest = _pretest(
        att,
        np.flatnonzero((cg - anticipation > ct) & inference.analytic_ok[:k]),
        inference.v_all,
        notes,
    )
    att_gt, aggregates = _tables(design, cells, cr, specs, inference)

    if n_boot is None:
        se_type = "analytic (influence function" + (", cluster-robust)" if clusters else ")")
    else:
        se_type = f"multiplier bootstrap ({boot_weights}, {n_boot} draws, IQR-based" + (
            ", clustered)" if clusters else ")"
        )
    info = {
        "estimator": "Callaway-Sant'Anna (2021) group-time ATT",
        "reference": "R did 2.5.0 att_gt/aggte; DRDID 1.3.0 2x2 estimators",
        "control": control,
        "control_group": "never treated" if control == "never" else "not yet treated",
        "est_method": est_method,
        "est_method_detail": {
            "dr": "traditional doubly robust (DRDID::drdid_panel: logit MLE + OLS)",
            "ipw": "normalised IPW (DRDID::std_ipw_did_panel: logit MLE)",
            "reg": "outcome regression (DRDID::reg_did_panel: OLS)",
        }[est_method],
        "covariates": list(covariates),
        "covariate_period": "earlier of base and current period (R did)",
        "se_type": se_type,
        "se_convention": "sqrt(sum_c S_c^2)/n of the influence function (R did getSE)",
        "cluster": cluster_eff,
        "n_clusters": clusters.n_clusters if clusters else n,
        "alpha": alpha,
        "base_period": base_period,
        "anticipation": anticipation,
        "seed": inference.seed,
        "n_boot": n_boot,
        "boot_weights": boot_weights if n_boot is not None else None,
        "band": "sup-t simultaneous" if n_boot is not None else "pointwise",
        "panel_handling": panel_handling,
        "panel_estimator": (
            "panel 2x2 (balanced)"
            if design.long is None
            else "repeated-cross-section 2x2 on observed rows (unbalanced panel)"
        ),
        "n_units_dropped": design.n_dropped_unbalanced,
        "max_event": max_event,
        "balance_event": balance_event,
        "data_layer": data_layer,
        "weights": weights,
        "n_periods": int(design.times.size),
        "cohorts": [int(c) for c in design.glist],
        "notes": list(notes),
    }
    return DiDResult(
        design=EstimationDesign(panel=design.panel, cluster=cluster_eff),
        method="cs",
        outcome=outcome,
        n_units=n,
        n_obs=design.n_obs,
        att_gt=att_gt,
        aggregates=aggregates,
        info=info,
        att_gt_crit=inference.att_gt_crit,
        pretest=pretest,
    )


# --------------------------------------------------------------------------- closed forms
# Without covariates, on a balanced panel with the varying/universal base period
# and no anticipation, every ATT(g, t) is a difference of group means of
# Y_t - Y_{g-1}; the simple ATT is therefore linear in Y for a fixed assignment.
# Randomisation inference and power simulation evaluate these closed forms
# instead of re-fitting; their equality with callaway_santanna() is tested in
# tests/test_ri.py and tests/test_power.py.
def ri_weights(
    labels: np.ndarray,
    counts: np.ndarray,
    times: np.ndarray,
    control: str,
    max_event: int | None,
) -> np.ndarray | None:
    n_lab, nt = labels.size, times.size
    n = counts.sum()
    never = labels == 0
    if not never.any() or counts[never].sum() == 0:
        return None
    cells: list[tuple[int, int, int, float]] = []  # (label idx, t idx, b idx, p_g)
    for k, g in enumerate(labels):
        if g <= 0:
            continue
        pre = np.flatnonzero(times < g)
        if pre.size == 0:
            return None
        b = int(pre[-1])
        for ti in np.flatnonzero(times >= g):
            if max_event is not None and times[ti] - g > max_event:
                continue
            cells.append((k, int(ti), b, counts[k] / n))
    if not cells:
        return None
    wsum = sum(c[3] for c in cells)
    c_mat = np.zeros((n_lab, nt))
    for k, ti, b, p in cells:
        w = p / wsum
        c_mat[k, ti] += w / counts[k]
        c_mat[k, b] -= w / counts[k]
        if control == "never":
            ctrl = never
        else:
            ctrl = never | ((labels > times[ti]) & (np.arange(n_lab) != k))
        nc = counts[ctrl].sum()
        c_mat[ctrl, ti] -= w / nc
        c_mat[ctrl, b] += w / nc
    return c_mat


def ri_closed_form(labels: np.ndarray, counts: np.ndarray, times: np.ndarray, options) -> Any:
    """:class:`~analysis.estimators.registry.ClosedForm` of the simple ATT (or why not)."""
    from analysis.estimators.registry import ClosedForm

    control = options.get("control", "never")
    if control not in CONTROLS:
        return f"control={control!r}"
    w = ri_weights(labels, counts, times, control, options.get("max_event"))
    if w is None:
        return "no never-treated units or no post-treatment cell"
    return ClosedForm(f"cs: group-mean differences ({control} control)", w, False)


@dataclass(frozen=True)
class CsClosedForm:
    """CS simple ATT (no covariates) and its influence-function SE, for stacks of Y."""

    cells: tuple[tuple[int, int, float], ...]  # (t idx, b idx, weight w_k = p_k / s)
    treat: np.ndarray  # (K, n) bool
    ctrl: np.ndarray  # (K, n) bool
    s: float

    @classmethod
    def build(cls, design: Any, control: str = "never") -> CsClosedForm:
        g = design.cohorts()
        times = design.times
        n = g.size
        cells, treat, ctrl, ps = [], [], [], []
        for c, k in design.adoption:
            b = int(np.flatnonzero(times < c)[-1])
            for ti in np.flatnonzero(times >= c):
                cells.append((int(ti), b))
                treat.append(g == c)
                if control == "never":
                    ctrl.append(g == 0)
                else:
                    ctrl.append((g == 0) | ((g > times[ti]) & (g != c)))
                ps.append(k / n)
        ps_a = np.array(ps)
        s = float(ps_a.sum())
        return cls(
            tuple((t, b, p / s) for (t, b), p in zip(cells, ps_a, strict=True)),
            np.array(treat),
            np.array(ctrl),
            s,
        )

    def __call__(self, Y: np.ndarray) -> np.ndarray:
        S, n, _ = Y.shape
        att = np.empty((S, len(self.cells)))
        IF = np.zeros((S, n))
        for k, (t, b, w) in enumerate(self.cells):
            dy = Y[:, :, t] - Y[:, :, b]
            tr, co = self.treat[k], self.ctrl[k]
            nd, nc = tr.sum(), co.sum()
            md = dy[:, tr].mean(axis=1)
            mc = dy[:, co].mean(axis=1)
            att[:, k] = md - mc
            psi = np.zeros((S, n))
            psi[:, tr] = n * (dy[:, tr] - md[:, None]) / nd
            psi[:, co] -= n * (dy[:, co] - mc[:, None]) / nc
            IF += w * psi
        w = np.array([c[2] for c in self.cells])
        theta = att @ w
        # weight-estimation term: s^-1 sum_k 1{G_i = g_k} (att_k - theta)
        IF += ((att - theta[:, None]) / self.s) @ self.treat.astype(np.float64)
        se = np.sqrt((IF**2).sum(axis=1)) / n
        return np.column_stack([theta, se])


def power_closed_form(design: Any, control: str = "never") -> CsClosedForm:
    """The closed form for a balanced power design (``PanelDesign``)."""
    return CsClosedForm.build(design, control)


__all__ = ["callaway_santanna", "power_closed_form", "ri_closed_form"]
