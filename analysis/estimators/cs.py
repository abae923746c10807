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

References
----------
Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with
multiple time periods. *Journal of Econometrics* 225(2), 200-230.
Sant'Anna, P. H. C. and Zhao, J. (2020). Doubly robust difference-in-differences
estimators. *Journal of Econometrics* 219(1), 101-122.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from analysis.errors import InputError
from analysis.estimators._panel import prepare_panel
from analysis.inference.multiplier import (
    BOOT_WEIGHTS,
    iqr_se,
    multiplier_draws,
    sup_t_critical_value,
)
from analysis.inference.vcov import Clusters, cluster_sums, wald_test
from analysis.results import Aggregate, DiDResult
from analysis.validation import check_alpha, check_int, check_option, comparison_group

Control = Literal["never", "notyet"]
EstMethod = Literal["dr", "ipw", "reg"]
BasePeriod = Literal["varying", "universal"]
PanelHandling = Literal["balance", "unbalanced"]

CONTROLS = ("never", "notyet")
EST_METHODS = ("dr", "ipw", "reg")
BASE_PERIODS = ("varying", "universal")
PANEL_HANDLINGS = ("balance", "unbalanced")

#: DRDID 1.3.0 propensity-score trimming level for comparison units.
TRIM_LEVEL = 0.995
#: R ``did`` overlap guard: a cell is NA when the propensity score reaches this.
OVERLAP_MAX = 0.999
_EPS = np.finfo(float).eps


# --------------------------------------------------------------------------- options
def _check_choice(name: str, value: object, choices: Sequence[str]) -> None:
    check_option(name, value, choices)


def _check_int(name: str, value: object, minimum: int, allow_none: bool = False) -> None:
    check_int(name, value, minimum, allow_none=allow_none)


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
    _check_choice("control", control, CONTROLS)
    _check_choice("est_method", est_method, EST_METHODS)
    _check_choice("base_period", base_period, BASE_PERIODS)
    _check_choice("panel_handling", panel_handling, PANEL_HANDLINGS)
    _check_choice("boot_weights", boot_weights, BOOT_WEIGHTS)
    _check_int("anticipation", anticipation, 0)
    _check_int("n_boot", n_boot, 1, allow_none=True)
    _check_int("seed", seed, 0, allow_none=True)
    _check_int("max_event", max_event, 0, allow_none=True)
    _check_int("balance_event", balance_event, 0, allow_none=True)
    if isinstance(alpha, str):
        raise InputError(f"alpha must be a number strictly between 0 and 1 (got {alpha!r})")
    check_alpha(alpha)


# --------------------------------------------------------------------------- design
@dataclass
class _Long:
    """Row-level arrays of an unbalanced panel (one entry per observed unit-period)."""

    unit: np.ndarray  # unit code 0..n-1
    period: np.ndarray  # period index into ``times``
    y: np.ndarray
    x: np.ndarray | None  # rows x k design (intercept first) or None


@dataclass
class _Design:
    """Wide (unit x period) arrays of a balanced panel, or rows of an unbalanced one."""

    y: np.ndarray | None  # n x T (None for an unbalanced panel)
    x: np.ndarray | None  # n x T x k (time-varying) or None
    x_static: np.ndarray | None  # n x k when the covariates are time-invariant
    g: np.ndarray  # n, cohort (0 = never treated)
    times: np.ndarray  # T
    glist: np.ndarray  # treated cohorts for which ATT(g,t) are estimated
    clusters: Clusters | None
    units: np.ndarray  # original unit ids, length n
    notes: list[str] = field(default_factory=list)
    n_dropped_unbalanced: int = 0
    long: _Long | None = None

    @property
    def n(self) -> int:
        return int(self.g.shape[0])

    @property
    def n_obs(self) -> int:
        if self.long is not None:
            return int(self.long.y.shape[0])
        return self.n * int(self.times.size)

    def covariates_at(self, j: int) -> np.ndarray | None:
        """Design matrix (intercept + covariates) of all units at period index j."""
        if self.x_static is not None:
            return self.x_static
        if self.x is None:
            return None
        return self.x[:, j, :]


def _warn(notes: list[str], msg: str, stacklevel: int = 3) -> None:
    """Record a sample/estimation note and emit it as a UserWarning (never silent).

    ``stacklevel`` 3 points at the caller of :func:`callaway_santanna` when
    ``_warn`` is called from it directly; helpers one level deeper pass 4.
    """
    notes.append(msg)
    warnings.warn(msg, UserWarning, stacklevel=stacklevel)


def _build_design(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: tuple[str, ...],
    cluster: str | None,
    control: str,
    anticipation: int,
    panel_handling: str = "balance",
) -> _Design:
    panel = prepare_panel(
        data,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        covariates=covariates,
        cluster=cluster,
        require_never_treated=(control == "never"),
    )
    notes: list[str] = list(panel.notes)
    df = panel.data
    tmin, tmax = int(df["time"].min()), int(df["time"].max())

    if anticipation > 0:
        # prepare_panel codes cohorts after the last period as never treated; R keeps
        # cohorts in (tmax, tmax + anticipation] as treated (they anticipate in-sample).
        late = df["cohort"] == 0
        if late.any():
            orig = pd.to_numeric(data[cohort], errors="coerce")
            by_unit = pd.Series(orig.to_numpy(), index=data[unit].to_numpy())
            by_unit = by_unit[~by_unit.index.duplicated()]
            g0 = df.loc[late, "unit"].map(by_unit)
            restore = g0.notna() & (g0 > tmax) & (g0 <= tmax + anticipation)
            if restore.any():
                idx = g0.index[restore]
                df.loc[idx, "cohort"] = g0[restore].astype(float)
                _warn(
                    notes,
                    f"{df.loc[idx, 'unit'].nunique()} unit(s) first treated within "
                    f"{anticipation} period(s) after the sample end are kept as a treated "
                    "cohort (anticipation)",
                    stacklevel=4,
                )
        early = (df["cohort"] > 0) & (df["cohort"] <= tmin + anticipation)
        if early.any():
            n_u = df.loc[early, "unit"].nunique()
            _warn(
                notes,
                f"dropped {n_u} unit(s) treated at or before the first period plus "
                f"anticipation ({tmin} + {anticipation})",
                stacklevel=4,
            )
            df = df.loc[~early]

    has_never = bool((df["cohort"] == 0).any())
    latest_only_control = None
    if not has_never:
        # control == "notyet" (prepare_panel already refused "never").
        latest = float(df.loc[df["cohort"] > 0, "cohort"].max())
        cutoff = latest - anticipation
        keep = df["time"] < cutoff
        _warn(
            notes,
            f"no never-treated units: periods from {int(cutoff)} on are dropped and cohort "
            f"{int(latest)} serves only as a not-yet-treated comparison group",
            stacklevel=4,
        )
        df = df.loc[keep]
        latest_only_control = latest
        if df.empty:
            raise InputError("no periods left before the last cohort is treated")

    cohorts = np.sort(df.loc[df["cohort"] > 0, "cohort"].unique())
    times = np.sort(df["time"].unique())
    if times.size < 2:
        raise InputError("at least two time periods are needed")
    first = times[0]
    glist = cohorts[cohorts > first + anticipation]
    if latest_only_control is not None:
        glist = glist[glist < latest_only_control]
    if glist.size == 0:
        raise InputError("no treated cohort with an untreated pre-period to estimate ATT(g,t)")

    # Balance: drop units not observed in every period (R did's default).
    n_t = times.size
    uid = df["uid"].to_numpy()
    counts = np.bincount(uid)
    present = counts > 0
    incomplete = present & (counts < n_t)
    n_drop = int(incomplete.sum())
    if n_drop and panel_handling == "unbalanced":
        return _long_design(df, times, glist, covariates, cluster, notes, n_drop)
    if n_drop:
        _warn(
            notes,
            f"dropped {n_drop} unit(s) not observed in all {n_t} periods "
            "(balanced panel required, as in R did)",
            stacklevel=4,
        )
        df = df.loc[~incomplete[uid]]
        if df.empty:
            raise InputError("no units left after balancing the panel")
    # prepare_panel returns rows sorted by (uid, time); row filters keep that order.
    n = len(df) // n_t
    if n * n_t != len(df):  # pragma: no cover - guarded by the balancing above
        raise InputError("panel could not be balanced")
    time_vals = df["time"].to_numpy().reshape(n, n_t)
    if not (time_vals == times[None, :]).all():  # pragma: no cover - defensive
        raise InputError("panel periods are not aligned after balancing")

    y = df["y"].to_numpy(dtype=np.float64).reshape(n, n_t)
    g = df["cohort"].to_numpy(dtype=np.float64)[::n_t]
    units = df["unit"].to_numpy()[::n_t]
    for c in glist:
        if not (g == c).any():  # pragma: no cover - defensive
            raise InputError(f"cohort {c} has no units after balancing")
    if not ((g == 0) | (g > glist.min())).any():  # no possible comparison unit
        raise InputError("no untreated comparison units after sample restrictions")

    x = x_static = None
    if covariates:
        xs = df[list(covariates)].to_numpy(dtype=np.float64).reshape(n, n_t, len(covariates))
        ones = np.ones((n, n_t, 1))
        xfull = np.concatenate([ones, xs], axis=2)
        if np.all(xs == xs[:, :1, :]):
            x_static = np.ascontiguousarray(xfull[:, 0, :])
        else:
            x = xfull
        base = x_static if x_static is not None else xfull[:, 0, :]
        if np.linalg.matrix_rank(base) < base.shape[1]:
            raise InputError(
                "covariates are collinear or constant (the design with an intercept is rank deficient)"
            )

    clusters = None
    if cluster:
        labels = df[cluster].to_numpy()[::n_t]
        clusters = Clusters.from_labels(labels)
        if clusters.n_clusters < 2:
            raise InputError(f"cluster column {cluster!r} has fewer than 2 clusters")

    return _Design(
        y=y,
        x=x,
        x_static=x_static,
        g=g,
        times=times.astype(np.int64),
        glist=glist.astype(np.float64),
        clusters=clusters,
        units=units,
        notes=notes,
        n_dropped_unbalanced=n_drop,
    )


def _long_design(
    df: pd.DataFrame,
    times: np.ndarray,
    glist: np.ndarray,
    covariates: tuple[str, ...],
    cluster: str | None,
    notes: list[str],
    n_incomplete: int,
) -> _Design:
    """Keep every observed row (R ``allow_unbalanced_panel = TRUE``)."""
    _warn(
        notes,
        f"unbalanced panel: {n_incomplete} unit(s) are not observed in every period; kept "
        "(panel_handling='unbalanced': repeated-cross-section estimators, influence "
        "functions summed by unit)",
        stacklevel=5,
    )
    codes, uniques = pd.factorize(df["uid"], sort=True)
    first = ~pd.Series(codes).duplicated().to_numpy()
    g = df["cohort"].to_numpy(dtype=np.float64)[first]
    units = df["unit"].to_numpy()[first]
    if not ((g == 0) | (g > glist.min())).any():
        raise InputError("no untreated comparison units after sample restrictions")
    period = np.searchsorted(times, df["time"].to_numpy())
    x = None
    if covariates:
        xs = df[list(covariates)].to_numpy(dtype=np.float64)
        x = np.column_stack([np.ones(len(df)), xs])
        if np.linalg.matrix_rank(x) < x.shape[1]:
            raise InputError(
                "covariates are collinear or constant (the design with an intercept is rank deficient)"
            )
    clusters = None
    if cluster:
        clusters = Clusters.from_labels(df[cluster].to_numpy()[first])
        if clusters.n_clusters < 2:
            raise InputError(f"cluster column {cluster!r} has fewer than 2 clusters")
    return _Design(
        y=None,
        x=None,
        x_static=None,
        g=g,
        times=times.astype(np.int64),
        glist=glist.astype(np.float64),
        clusters=clusters,
        units=units,
        notes=notes,
        n_dropped_unbalanced=0,
        long=_Long(
            unit=codes.astype(np.int64),
            period=period.astype(np.int64),
            y=df["y"].to_numpy(dtype=np.float64),
            x=x,
        ),
    )


# --------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class _Cell:
    g: float
    t: int  # period index of the current period
    b: int  # period index of the base period
    base_zero: bool  # universal-base normalisation cell (att = 0)


def _cells(design: _Design, base_period: str, anticipation: int) -> list[_Cell]:
    times = design.times
    n_t = times.size
    tfac = 1 if base_period == "varying" else 0
    out: list[_Cell] = []
    for g in design.glist:
        pre_idx = np.flatnonzero(times + anticipation < g)
        bar_b = int(pre_idx[-1])  # exists: g > first + anticipation
        for ti in range(n_t - tfac):
            cur = ti + tfac
            b = ti if base_period == "varying" else bar_b
            if g - anticipation <= times[cur]:
                b = bar_b
            out.append(_Cell(g=float(g), t=cur, b=b, base_zero=(b == cur)))
    return out


def _control_cohorts(
    design: _Design, ucoh: np.ndarray, cell: _Cell, control: str, anticipation: int
) -> np.ndarray:
    """Boolean over the distinct cohort values ``ucoh``: which form the comparison group."""
    if control == "never":
        return ucoh == 0
    thr = design.times[max(cell.t, cell.b)] + anticipation
    return (ucoh == 0) | ((ucoh > thr) & (ucoh != cell.g))


# --------------------------------------------------------------------------- 2x2 pieces
def _logit(d: np.ndarray, x: np.ndarray, max_iter: int = 100) -> tuple[np.ndarray, bool]:
    """Maximum-likelihood logit by Newton-Raphson; returns (fitted p, converged)."""
    k = x.shape[1]
    beta = np.zeros(k)
    pbar = float(np.clip(d.mean(), 1e-10, 1 - 1e-10))
    beta[0] = math.log(pbar / (1 - pbar))  # intercept start
    eta = x @ beta

    def loglik(e: np.ndarray) -> float:
        # sum d*e - log(1+exp(e)), stably
        return float(np.sum(d * e - np.logaddexp(0.0, e)))

    ll = loglik(eta)
    converged = False
    for _ in range(max_iter):
        p = expit(eta)
        w = p * (1.0 - p)
        grad = x.T @ (d - p)
        hess = (x * w[:, None]).T @ x
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        lam = 1.0
        for _h in range(30):
            new_beta = beta + lam * step
            new_eta = x @ new_beta
            new_ll = loglik(new_eta)
            if new_ll >= ll - 1e-12 * (1 + abs(ll)):
                break
            lam /= 2.0
        done = np.max(np.abs(lam * step)) <= 1e-10 * (1.0 + np.max(np.abs(beta)))
        beta, eta, ll = new_beta, new_eta, new_ll
        if done or abs(lam * np.max(np.abs(step))) < 1e-14:
            converged = True
            break
    return expit(eta), converged


def _rcond(a: np.ndarray) -> float:
    try:
        c = np.linalg.cond(a, 1)
    except np.linalg.LinAlgError:  # pragma: no cover
        return 0.0
    return 0.0 if not np.isfinite(c) else 1.0 / c


def _two_by_two_cov(
    dy: np.ndarray,
    d: np.ndarray,
    x: np.ndarray,
    method: str,
    ps: np.ndarray | None,
) -> tuple[float, np.ndarray]:
    """DRDID panel 2x2 estimators with covariates on the n1 used units.

    Returns (att, influence function of length n1), the latter in DRDID's
    scaling (``se = sqrt(mean(if^2)/n1)``).
    """
    n1 = d.shape[0]
    c = 1.0 - d
    if method in ("reg", "dr"):
        xc = x[c == 1]
        xtx = xc.T @ xc
        beta = np.linalg.solve(xtx, xc.T @ dy[c == 1])
        out = x @ beta
        resid = dy - out
        # asymptotic linear representation of the comparison-group OLS
        xpx_inv = np.linalg.inv(xtx / n1)
        alr_ols = (c * resid)[:, None] * x @ xpx_inv
    if method == "reg":
        mt = d.mean()
        eta_t = np.sum(d * dy) / np.sum(d)
        eta_c = np.sum(d * out) / np.sum(d)
        att = eta_t - eta_c
        inf_treat = d * (dy - eta_t) / mt
        m1 = (d[:, None] * x).mean(axis=0)
        inf_control = (d * (out - eta_c) + alr_ols @ m1) / mt
        return float(att), inf_treat - inf_control

    # propensity score pieces (ipw and dr)
    assert ps is not None
    ps = np.minimum(ps, 1.0 - 1e-6)
    trim = np.where(d == 1, True, ps < TRIM_LEVEL).astype(np.float64)
    w_treat = trim * d
    w_cont = trim * ps * c / (1.0 - ps)
    wps = ps * (1.0 - ps)
    info = (x * wps[:, None]).T @ x
    if _rcond(info) < _EPS:
        raise np.linalg.LinAlgError("singular propensity-score information matrix")
    hess = np.linalg.inv(info) * n1
    alr_ps = ((d - ps)[:, None] * x) @ hess
    mw_t, mw_c = w_treat.mean(), w_cont.mean()
    if method == "ipw":
        eta_t = np.mean(w_treat * dy) / mw_t
        eta_c = np.mean(w_cont * dy) / mw_c
        att = eta_t - eta_c
        inf_treat = w_treat * (dy - eta_t) / mw_t
        m2 = ((w_cont * (dy - eta_c))[:, None] * x).mean(axis=0)
        inf_control = (w_cont * (dy - eta_c) + alr_ps @ m2) / mw_c
        return float(att), inf_treat - inf_control
    # dr (traditional, drdid_panel)
    eta_t = np.mean(w_treat * resid) / mw_t
    eta_c = np.mean(w_cont * resid) / mw_c
    att = eta_t - eta_c
    m1 = (w_treat[:, None] * x).mean(axis=0)
    inf_treat = (w_treat * (resid - eta_t) - alr_ols @ m1) / mw_t
    m2 = ((w_cont * (resid - eta_c))[:, None] * x).mean(axis=0)
    m3 = (w_cont[:, None] * x).mean(axis=0)
    inf_control = (w_cont * (resid - eta_c) + alr_ps @ m2 - alr_ols @ m3) / mw_c
    return float(att), inf_treat - inf_control


def _ols_alr(x: np.ndarray, y: np.ndarray, sel: np.ndarray, n1: int):
    """OLS on rows ``sel``; fitted values for all rows and the asymptotic linear rep."""
    xs = x[sel]
    xtx = xs.T @ xs
    if xs.shape[0] < xs.shape[1] or _rcond(xtx) < _EPS:
        raise np.linalg.LinAlgError("singular outcome-regression design")
    beta = np.linalg.solve(xtx, xs.T @ y[sel])
    fit = x @ beta
    alr = (sel * (y - fit))[:, None] * x @ np.linalg.inv(xtx / n1)
    return fit, alr


def _two_by_two_rc(
    y: np.ndarray,
    post: np.ndarray,
    d: np.ndarray,
    x: np.ndarray,
    method: str,
    ps: np.ndarray | None,
) -> tuple[float, np.ndarray]:
    """DRDID repeated-cross-section 2x2 estimators (``reg_did_rc``,
    ``std_ipw_did_rc``, ``drdid_rc``) on the n1 rows used; used for unbalanced
    panels as R ``did`` does. Returns (att, row-level influence function)."""
    n1 = d.shape[0]
    c = 1.0 - d
    pre = 1.0 - post
    mean = np.mean
    if method == "reg":
        out_pre, alr_pre = _ols_alr(x, y, (c * pre) == 1, n1)
        out_post, alr_post = _ols_alr(x, y, (c * post) == 1, n1)
        w_tpre, w_tpost = d * pre, d * post
        eta_tpre = mean(w_tpre * y) / mean(w_tpre)
        eta_tpost = mean(w_tpost * y) / mean(w_tpost)
        eta_c = mean(d * (out_post - out_pre)) / mean(d)
        att = (eta_tpost - eta_tpre) - eta_c
        inf_treat = w_tpost * (y - eta_tpost) / mean(w_tpost) - w_tpre * (y - eta_tpre) / mean(
            w_tpre
        )
        m1 = (d[:, None] * x).mean(axis=0)
        inf_control = (d * (out_post - out_pre - eta_c) + alr_post @ m1 - alr_pre @ m1) / mean(d)
        return float(att), inf_treat - inf_control

    assert ps is not None
    ps = np.minimum(ps, 1.0 - 1e-6)
    trim = np.where(d == 1, True, ps < TRIM_LEVEL).astype(np.float64)
    odds = ps / (1.0 - ps)
    w_tpre, w_tpost = trim * d * pre, trim * d * post
    w_cpre, w_cpost = trim * odds * c * pre, trim * odds * c * post
    info = (x * (ps * (1.0 - ps))[:, None]).T @ x
    if _rcond(info) < _EPS:
        raise np.linalg.LinAlgError("singular propensity-score information matrix")
    alr_ps = ((d - ps)[:, None] * x) @ (np.linalg.inv(info) * n1)

    def lead(w: np.ndarray, r: np.ndarray) -> tuple[float, np.ndarray]:
        # normalised mean of r with weights w, and its leading influence term
        mw = mean(w)
        a = mean(w * r) / mw
        return a, w * (r - a) / mw

    if method == "ipw":
        a_tpost, i_tpost = lead(w_tpost, y)
        a_tpre, i_tpre = lead(w_tpre, y)
        a_cpost, i_cpost = lead(w_cpost, y)
        a_cpre, i_cpre = lead(w_cpre, y)
        att = (a_tpost - a_tpre) - (a_cpost - a_cpre)
        m2_pre = ((w_cpre * (y - a_cpre))[:, None] * x).mean(axis=0) / mean(w_cpre)
        m2_post = ((w_cpost * (y - a_cpost))[:, None] * x).mean(axis=0) / mean(w_cpost)
        inf_cont = (i_cpost - i_cpre) + alr_ps @ (m2_post - m2_pre)
        return float(att), (i_tpost - i_tpre) - inf_cont

    # dr: locally efficient doubly robust (drdid_rc, Sant'Anna and Zhao 2020 eq. 3.4)
    out_cpre, alr_cpre = _ols_alr(x, y, (c * pre) == 1, n1)
    out_cpost, alr_cpost = _ols_alr(x, y, (c * post) == 1, n1)
    out_tpre, alr_tpre = _ols_alr(x, y, (d * pre) == 1, n1)
    out_tpost, alr_tpost = _ols_alr(x, y, (d * post) == 1, n1)
    out_c = post * out_cpost + pre * out_cpre
    r = y - out_c
    w_d, w_dt1, w_dt0 = trim * d, trim * d * post, trim * d * pre
    a_tpost, i_tpost = lead(w_tpost, r)
    a_tpre, i_tpre = lead(w_tpre, r)
    a_cpost, i_cpost = lead(w_cpost, r)
    a_cpre, i_cpre = lead(w_cpre, r)
    a_d1, i_d1 = lead(w_d, out_tpost - out_cpost)
    a_dt1, i_dt1 = lead(w_dt1, out_tpost - out_cpost)
    a_d0, i_d0 = lead(w_d, out_tpre - out_cpre)
    a_dt0, i_dt0 = lead(w_dt0, out_tpre - out_cpre)
    att = (a_tpost - a_tpre) - (a_cpost - a_cpre) + (a_d1 - a_dt1) - (a_d0 - a_dt0)
    # estimation effect of the comparison-group regressions (post minus pre)
    m1_post = -(w_tpost[:, None] * x).mean(axis=0) / mean(w_tpost)
    m1_pre = -(w_tpre[:, None] * x).mean(axis=0) / mean(w_tpre)
    inf_treat = (i_tpost - i_tpre) + alr_cpost @ m1_post - alr_cpre @ m1_pre
    m2_pre = ((w_cpre * (r - a_cpre))[:, None] * x).mean(axis=0) / mean(w_cpre)
    m2_post = ((w_cpost * (r - a_cpost))[:, None] * x).mean(axis=0) / mean(w_cpost)
    m3_post = -(w_cpost[:, None] * x).mean(axis=0) / mean(w_cpost)
    m3_pre = -(w_cpre[:, None] * x).mean(axis=0) / mean(w_cpre)
    inf_cont = (
        (i_cpost - i_cpre) + alr_ps @ (m2_post - m2_pre) + alr_cpost @ m3_post - alr_cpre @ m3_pre
    )
    inf_eff = (i_d1 - i_dt1) - (i_d0 - i_dt0)
    mom_post = ((w_d / mean(w_d) - w_dt1 / mean(w_dt1))[:, None] * x).mean(axis=0)
    mom_pre = ((w_d / mean(w_d) - w_dt0 / mean(w_dt0))[:, None] * x).mean(axis=0)
    inf_or = (alr_tpost - alr_cpost) @ mom_post - (alr_tpre - alr_cpre) @ mom_pre
    return float(att), inf_treat - inf_cont + inf_eff + inf_or


def _estimate_cells_unbalanced(
    design: _Design,
    cells: list[_Cell],
    *,
    control: str,
    est_method: str,
    anticipation: int,
) -> _CellResults:
    """ATT(g,t) on an unbalanced panel: each 2x2 uses the rows observed in the base
    or the current period of treated/comparison units (R ``did``, unbalanced)."""
    lg = design.long
    assert lg is not None
    n = design.n
    k = len(cells)
    times = design.times
    ucoh, codes = np.unique(design.g, return_inverse=True)
    row_code = codes[lg.unit]
    att = np.full(k, np.nan)
    psi = np.zeros((n, k), order="F")
    n_tr = np.zeros(k, dtype=np.int64)
    n_co = np.zeros(k, dtype=np.int64)
    na_notes: list[str] = []
    x_all = lg.x if lg.x is not None else np.ones((lg.y.shape[0], 1))
    for j, cell in enumerate(cells):
        if cell.base_zero:
            att[j] = 0.0
            continue
        label = f"ATT({int(cell.g)},{int(times[cell.t])})"
        cc = _control_cohorts(design, ucoh, cell, control, anticipation)
        tcode = int(np.searchsorted(ucoh, cell.g))
        in_period = (lg.period == cell.t) | (lg.period == cell.b)
        is_d = row_code == tcode
        use = in_period & (is_d | cc[row_code])
        rows = np.flatnonzero(use)
        d = is_d[rows].astype(np.float64)
        post = (lg.period[rows] == cell.t).astype(np.float64)
        n_tr[j] = np.unique(lg.unit[rows][d == 1]).size
        n_co[j] = np.unique(lg.unit[rows][d == 0]).size
        if (
            min(
                (d * post).sum(),
                (d * (1 - post)).sum(),
                ((1 - d) * post).sum(),
                ((1 - d) * (1 - post)).sum(),
            )
            == 0
        ):
            na_notes.append(f"{label}: a treated or comparison group is empty in a period; NA")
            continue
        xs = x_all[rows]
        ps = None
        if est_method in ("dr", "ipw"):
            ps, _conv = _logit(d, xs)
            if np.max(ps) >= OVERLAP_MAX:
                na_notes.append(f"{label}: overlap condition violated; reported as NA")
                continue
        try:
            a, inf = _two_by_two_rc(lg.y[rows], post, d, xs, est_method, ps)
        except np.linalg.LinAlgError:
            na_notes.append(f"{label}: singular design in the 2x2 estimator; reported as NA")
            continue
        if not np.isfinite(a):
            na_notes.append(f"{label}: estimate not finite; reported as NA")
            continue
        att[j] = a
        n1 = rows.size
        psi[:, j] = np.bincount(lg.unit[rows], weights=(n / n1) * inf, minlength=n)
    return _CellResults(att=att, psi=psi, n_treated=n_tr, n_control=n_co, na_notes=na_notes)


@dataclass
class _CellResults:
    att: np.ndarray  # K (nan = NA cell)
    psi: np.ndarray  # n x K
    n_treated: np.ndarray
    n_control: np.ndarray
    na_notes: list[str]


def _estimate_cells(
    design: _Design,
    cells: list[_Cell],
    *,
    control: str,
    est_method: str,
    anticipation: int,
) -> _CellResults:
    n = design.n
    k = len(cells)
    times = design.times
    ucoh, codes = np.unique(design.g, return_inverse=True)
    n_u = ucoh.size
    cnt = np.bincount(codes, minlength=n_u).astype(np.float64)
    tcode = np.searchsorted(ucoh, np.array([c.g for c in cells]))
    cm = np.column_stack(
        [_control_cohorts(design, ucoh, c, control, anticipation) for c in cells]
    )  # n_u x K
    nd = cnt[tcode]
    nc = cnt @ cm
    tidx = np.array([c.t for c in cells])
    bidx = np.array([c.b for c in cells])
    base_zero = np.array([c.base_zero for c in cells])
    n_tr = np.where(base_zero, 0, nd).astype(np.int64)
    n_co = np.where(base_zero, 0, nc).astype(np.int64)
    att = np.full(k, np.nan)
    att[base_zero] = 0.0
    na_notes: list[str] = []
    has_x = design.x is not None or design.x_static is not None

    def label(j: int) -> str:
        return f"ATT({int(cells[j].g)},{int(times[tidx[j]])})"

    # Cells that cannot be estimated whatever the covariates.
    est = ~base_zero
    for j in np.flatnonzero(est & ((nd == 0) | (nc == 0))):
        na_notes.append(f"{label(j)}: no treated or no comparison units; reported as NA")
        est[j] = False

    dy = design.y[:, tidx] - design.y[:, bidx]  # n x K (zero for base cells)

    if not has_x:
        # Closed form: dr = ipw = reg without covariates (DRDID with an intercept only).
        if est_method in ("dr", "ipw"):
            p = np.divide(nd, nd + nc, out=np.ones(k), where=(nd + nc) > 0)
            for j in np.flatnonzero(est & (p >= OVERLAP_MAX)):
                na_notes.append(f"{label(j)}: overlap condition violated; reported as NA")
                est[j] = False
            for j in np.flatnonzero(est & (np.minimum(p, 1 - 1e-6) >= TRIM_LEVEL)):
                na_notes.append(
                    f"{label(j)}: every comparison unit trimmed (propensity score >= "
                    f"{TRIM_LEVEL}); reported as NA"
                )
                est[j] = False
        sums = _cohort_sums(dy, codes, n_u)
        cols = np.arange(k)
        with np.errstate(invalid="ignore", divide="ignore"):
            m_t = sums[tcode, cols] / nd
            m_c = (sums * cm).sum(axis=0) / nc
        coef = np.zeros((n_u, k))
        cent = np.zeros((n_u, k))
        ctrl = cm & est[None, :]
        coef[ctrl] = np.broadcast_to(-(n / np.where(nc > 0, nc, 1.0)), (n_u, k))[ctrl]
        cent[ctrl] = np.broadcast_to(m_c, (n_u, k))[ctrl]
        e = np.flatnonzero(est)
        coef[tcode[e], e] = n / nd[e]
        cent[tcode[e], e] = m_t[e]
        att[e] = m_t[e] - m_c[e]
        psi = coef[codes] * dy
        psi -= (coef * cent)[codes]
        return _CellResults(att=att, psi=psi, n_treated=n_tr, n_control=n_co, na_notes=na_notes)

    # Covariates: DRDID estimators cell by cell on the n1 units used.
    psi = np.zeros((n, k), order="F")
    ps_cache: dict[tuple, tuple[np.ndarray, bool]] = {}
    for j in np.flatnonzero(est):
        cell = cells[j]
        dmask = codes == tcode[j]
        use = dmask | cm[codes, j]
        n1 = int(nd[j] + nc[j])
        xper = min(cell.t, cell.b)
        xs = design.covariates_at(xper)[use]
        d = dmask[use].astype(np.float64)
        dyj = dy[use, j]
        ps = None
        if est_method in ("dr", "ipw"):
            thr = None if control == "never" else max(cell.t, cell.b)
            key = (cell.g, thr, -1 if design.x_static is not None else xper)
            if key not in ps_cache:
                ps_cache[key] = _logit(d, xs)
            ps, _conv = ps_cache[key]
            if np.max(ps) >= OVERLAP_MAX:
                na_notes.append(f"{label(j)}: overlap condition violated; reported as NA")
                continue
        if est_method in ("dr", "reg"):
            xc = xs[d == 0]
            if xc.shape[0] < xc.shape[1] or _rcond(xc.T @ xc) < _EPS:
                na_notes.append(
                    f"{label(j)}: not enough comparison units to run the outcome regression; "
                    "reported as NA"
                )
                continue
        try:
            a, inf = _two_by_two_cov(dyj, d, xs, est_method, ps)
        except np.linalg.LinAlgError:
            na_notes.append(f"{label(j)}: singular design in the 2x2 estimator; reported as NA")
            continue
        if not np.isfinite(a):
            na_notes.append(f"{label(j)}: estimate not finite; reported as NA")
            continue
        att[j] = a
        psi[use, j] = (n / n1) * inf
    return _CellResults(att=att, psi=psi, n_treated=n_tr, n_control=n_co, na_notes=na_notes)


def _cohort_sums(a: np.ndarray, codes: np.ndarray, n_u: int) -> np.ndarray:
    """Column sums of ``a`` (n x K) within cohort codes -> (n_u x K)."""
    out = np.empty((n_u, a.shape[1]))
    for u in range(n_u):
        out[u] = a[codes == u].sum(axis=0)
    return out


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
    """Weights and wif cohort terms for sum_k pg_k att_k / sum pg_k over ``sel``."""
    k = att.size
    w = np.zeros(k)
    b = np.zeros(n_g)
    s = pg_cell[sel].sum()
    w[sel] = pg_cell[sel] / s
    theta = float(np.dot(w[sel], att[sel]))
    if with_wif:
        np.add.at(b, cell_gidx[sel], (att[sel] - theta) / s)
    return w, b, theta


def _aggregations(
    design: _Design,
    cells: list[_Cell],
    att: np.ndarray,
    *,
    max_event: int | None,
    balance_event: int | None,
) -> dict[str, _AggSpec]:
    times = design.times
    glist = design.glist
    n_g = glist.size
    pg = np.array([np.mean(design.g == c) for c in glist])
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
    cols_w, cols_b, th_g, keys, pgg = [], [], [], [], []
    for gi, c in enumerate(glist):
        sel = post & (cell_gidx == gi)
        if not sel.any():
            continue
        w, b, th = _weighted_component(sel, att0, pg_cell, cell_gidx, n_g, False)
        cols_w.append(w)
        cols_b.append(b)
        th_g.append(th)
        keys.append(c)
        pgg.append(pg[gi])
    pgg_a = np.array(pgg)
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
    cols_w, cols_b, th_e = [], [], []
    for ev in eseq:
        sel = include & (e == ev)
        w, b, th = _weighted_component(sel, att0, pg_cell, cell_gidx, n_g, True)
        cols_w.append(w)
        cols_b.append(b)
        th_e.append(th)
    epos = eseq >= 0
    if not epos.any():
        raise InputError("no non-negative event time to aggregate")
    m = int(epos.sum())
    wo = sum(wc for wc, p in zip(cols_w, epos, strict=True) if p) / m
    bo = sum(bc for bc, p in zip(cols_b, epos, strict=True) if p) / m
    th_o = float(np.mean(np.array(th_e)[epos]))
    specs["dynamic"] = pack(
        "dynamic", "event", [int(v) for v in eseq], [*cols_w, wo], [*cols_b, bo], [*th_e, th_o]
    )

    # calendar (max_event ignored, as in R)
    postc = ok & (cg <= ct)
    tl = [t for t in np.unique(ct) if t >= glist.min() and (postc & (ct == t)).any()]
    cols_w, cols_b, th_t = [], [], []
    for t in tl:
        sel = postc & (ct == t)
        w, b, th = _weighted_component(sel, att0, pg_cell, cell_gidx, n_g, True)
        cols_w.append(w)
        cols_b.append(b)
        th_t.append(th)
    m = len(tl)
    wo = sum(cols_w) / m
    bo = sum(cols_b) / m
    th_o = float(np.mean(th_t))
    specs["calendar"] = pack(
        "calendar", "time", [int(t) for t in tl], [*cols_w, wo], [*cols_b, bo], [*th_t, th_o]
    )
    return specs


# --------------------------------------------------------------------------- main
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
) -> DiDResult:
    """Callaway-Sant'Anna group-time ATTs and their aggregations (R ``did``).

    Parameters
    ----------
    data
        Long panel, one row per unit and period.
    outcome, unit, time, cohort
        Column names; ``cohort`` is the first treated period (0/missing = never).
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
    data_layer
        Label of the data layer (``"real"``, ``"synthetic"``...), recorded in ``info``.
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
    )
    notes = design.notes
    n = design.n
    cells = _cells(design, base_period, anticipation)
    estimate = _estimate_cells if design.long is None else _estimate_cells_unbalanced
    cr = estimate(design, cells, control=control, est_method=est_method, anticipation=anticipation)
    att = cr.att
    if cr.na_notes:
        for m in cr.na_notes:
            _warn(notes, m)
        _warn(notes, f"{len(cr.na_notes)} ATT(g,t) reported as NA are left out of the aggregations")
    clusters = design.clusters
    psi = cr.psi

    # Aggregations are linear in (ATT(g,t), cohort indicators): with
    # Z = [Psi | H] (H = n x nG cohort dummies) every influence function in the
    # result is Z @ A for a small matrix A, so one Gram matrix of the cluster sums
    # of Z gives every analytic covariance, and one bootstrap of Z every draw.
    specs = _aggregations(design, cells, att, max_event=max_event, balance_event=balance_event)
    glist = design.glist
    k = psi.shape[1]
    n_g = glist.size
    blocks_w = [np.eye(k)] + [spec.w for spec in specs.values()]
    blocks_b = [np.zeros((n_g, k))] + [spec.b for spec in specs.values()]
    amat = np.vstack([np.hstack(blocks_w), np.hstack(blocks_b)])  # (K+nG) x (K+J)
    z = np.empty((n, k + n_g))
    z[:, :k] = psi
    z[:, k:] = design.g[:, None] == glist[None, :]
    sz = cluster_sums(z, clusters)
    gram = sz.T @ sz
    v_all = amat.T @ gram @ amat / float(n) ** 2
    se_all = np.sqrt(np.clip(np.diag(v_all), 0.0, None))
    theta_all = np.concatenate([att, *[spec.theta for spec in specs.values()]])
    finite = np.isfinite(theta_all)
    se_all = np.where(finite & (se_all > 0), se_all, np.nan)
    analytic_ok = np.isfinite(se_all)

    # multiplier bootstrap: one set of draws for every influence function
    z_crit = float(stats.norm.ppf(1 - alpha / 2))
    att_gt_crit = None
    crit_by: dict[str, float | None] = {name: None for name in specs}
    used_seed = seed
    if n_boot is not None:
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
                notes, "simultaneous critical value for ATT(g,t) not available; bands are pointwise"
            )
            att_gt_crit = None
        elif att_gt_crit >= 7:
            _warn(notes, f"simultaneous critical value for ATT(g,t) is large ({att_gt_crit:.2f})")
        offset = k
        for name, spec in specs.items():
            jn = spec.w.shape[1]
            if name != "simple":
                comp = slice(offset, offset + jn - 1)
                cv = sup_t_critical_value(draws[:, comp], se_all[comp], alpha)
                if not np.isfinite(cv):
                    _warn(
                        notes, f"{name}: simultaneous critical value not available; pointwise bands"
                    )
                    cv = z_crit
                elif cv < z_crit:
                    _warn(
                        notes,
                        f"{name}: simultaneous critical value below the pointwise one; "
                        "pointwise bands reported",
                    )
                    cv = z_crit
                elif cv >= 7:
                    _warn(notes, f"{name}: simultaneous critical value is large ({cv:.2f})")
                crit_by[name] = float(cv)
            offset += jn
    se_gt = se_all[:k]

    # pre-trend Wald test (analytic, cluster-robust when clustered)
    cg = np.array([c.g for c in cells])
    ct = design.times[np.array([c.t for c in cells])]
    pre = np.flatnonzero((cg - anticipation > ct) & analytic_ok[:k])
    pretest = None
    if pre.size:
        wt = wald_test(att[pre], v_all[np.ix_(pre, pre)])
        pretest = {
            "name": "Wald pre-test of parallel trends (pre-treatment ATT(g,t) = 0)",
            "stat": wt.stat,
            "df": wt.df,
            "p_value": wt.p_value,
        }
        if wt.note:
            pretest["note"] = wt.note
            _warn(notes, f"pre-trend test not computed: {wt.note}")
    else:
        notes.append("no pre-treatment ATT(g,t) to test")

    # assemble results
    att_gt = pd.DataFrame(
        {
            "cohort": cg.astype(np.int64),
            "time": ct.astype(np.int64),
            "event": (ct - cg).astype(np.int64),
            "att": att,
            "se": se_gt,
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
                crit_value=crit_by[name],
                vcov=v_all[comp, comp],
            )
        offset += jn

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
        "seed": used_seed,
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
        "n_periods": int(design.times.size),
        "cohorts": [int(c) for c in glist],
        "notes": list(notes),
    }
    return DiDResult(
        method="cs",
        outcome=outcome,
        n_units=n,
        n_obs=design.n_obs,
        att_gt=att_gt,
        aggregates=aggregates,
        info=info,
        att_gt_crit=att_gt_crit,
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
