r"""Synthetic difference-in-differences, synthetic control and the DiD comparison.

Model and estimators (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021, AER)
---------------------------------------------------------------------------------
For a block of :math:`N_{co}` control units and :math:`N_{tr}` treated units
observed for :math:`T_{pre}` periods before and :math:`T_{post}` periods from
adoption on, synthetic DiD solves the weighted two-way regression

.. math::

    (\hat\tau, \hat\mu, \hat\alpha, \hat\beta) = \arg\min \sum_{i,t}
    (Y_{it} - \mu - \alpha_i - \beta_t - W_{it}\tau)^2 \, \hat\omega_i \hat\lambda_t ,

i.e. :math:`\hat\tau = (\bar Y_{tr,post} - \hat\lambda'\bar Y_{tr,pre}) -
\sum_i \hat\omega_i (\bar Y_{i,post} - \hat\lambda' Y_{i,pre})`, with treated
units weighted :math:`1/N_{tr}` and post periods :math:`1/T_{post}`. The unit
weights :math:`\hat\omega` (on the simplex) solve

.. math::

    \min_{\omega_0, \omega} \sum_{t \le T_{pre}} \Big(\omega_0 + \sum_i \omega_i Y_{it}
    - \bar Y_{tr,t}\Big)^2 + \zeta^2 T_{pre} \|\omega\|^2, \qquad
    \zeta = (N_{tr} T_{post})^{1/4} \hat\sigma,

with :math:`\hat\sigma` the standard deviation of the controls' first
differences before adoption; the time weights :math:`\hat\lambda` solve the same
problem transposed (pre periods predicting the controls' post-period mean, with
an intercept and an infinitesimal ridge :math:`10^{-6}\hat\sigma`).

* **SC** (Abadie, Diamond & Hainmueller 2010, as R ``synthdid::sc_estimate``):
  :math:`\hat\lambda = 0`, no intercept :math:`\omega_0`, ridge
  :math:`10^{-6}\hat\sigma`: the post-period gap to the synthetic control.
* **DiD** (``did_estimate``): :math:`\omega_i = 1/N_{co}`, :math:`\lambda_t = 1/T_{pre}`.

The weights are computed exactly as R ``synthdid`` 0.0.9 (Frank-Wolfe with exact
line search, 100 iterations, sparsification, then up to ``max_iter = 1e4``
iterations with ``min_decrease = 1e-5 * sigma``): see
:mod:`analysis.estimators._synthdid_fw`. Covariates are not supported.

Staggered adoption
------------------
Cohort by cohort (Clarke, Pailanir, Athey & Imbens 2023, Stata ``sdid``): for
each adoption period :math:`a` the block is the never-treated units and the
units first treated in :math:`a`, over all periods (:math:`T_{pre}` = periods
before :math:`a`). The overall effect weights the cohort estimates by their
treated unit-periods,

.. math::

    \hat\tau = \sum_a \frac{N_{tr,a} T_{post,a}}{\sum_b N_{tr,b} T_{post,b}} \hat\tau_a .

Only never-treated units are controls (``control = "never"``). The panel must be
balanced: units not observed in every period (for example after rows with a
missing outcome were dropped) are dropped with a note. A cohort with fewer than
two pre-treatment periods has no pre-treatment first difference (so no
:math:`\hat\sigma`, as in R) and is left out with a note.

Standard errors (R ``vcov.synthdid_estimate``; paper Algorithms 2-4)
--------------------------------------------------------------------
* ``placebo`` (Algorithm 4): permute the never-treated units; the last
  :math:`N_{tr}` of each permutation become placebo treated units (with the
  treated units' cohorts), the rest controls; re-estimate on controls only.
  Needs more never-treated than treated units. The only choice with one
  treated unit.
* ``bootstrap`` (Algorithm 2): resample all units with replacement (draws
  without a control or without a treated unit are redrawn); cohorts absent
  from a draw drop out of its aggregate. Needs two treated units or more.
* ``jackknife`` (Algorithm 3): leave one unit out with the weights fixed.
  Needs two treated units or more in every cohort and more than one control
  with positive weight (R returns ``NA`` otherwise). Not recommended for SC
  (paper, section 5).

Placebo and bootstrap replications re-estimate the weights with the original
regularisation, starting from the original weights of the drawn controls;
:math:`\widehat{SE} = \sqrt{(B-1)/B}\,\mathrm{sd}(\hat\tau^{(b)})`. Replications
use ``numpy.random.default_rng(seed)``: deterministic given ``seed``, but not
R's random stream, so resampling SEs match R only within Monte Carlo error.
Intervals are normal: :math:`\hat\tau \pm z_{1-\alpha/2}\widehat{SE}`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.estimators import _synthdid_fw as fw
from analysis.estimators._panel import Panel, prepare_panel
from analysis.results import Aggregate, DiDResult, EstimationDesign, _key
from analysis.validation import check_alpha, check_draws, check_option, check_seed

__all__ = ["SynthDiDResult", "synthdid", "synthetic_control", "did_estimate", "SEType"]

#: Standard-error methods (R ``vcov.synthdid_estimate(method = ...)``).
SEType = Literal["placebo", "jackknife", "bootstrap"]
#: Upper bound of ``n_reps`` (each replication re-estimates every cohort's weights).
MAX_REPS = 100_000

_TITLES = {
    "synthdid_estimate": "synthetic difference-in-differences",
    "sc_estimate": "synthetic control",
    "did_estimate": "difference-in-differences (uniform weights)",
}


@dataclass(frozen=True)
class SynthDiDResult(DiDResult):
    """A :class:`~analysis.results.DiDResult` with the synthetic-DiD weights.

    ``n_units`` / ``n_obs`` count the balanced panel the estimator worked on
    (including the units of a cohort left out for having fewer than two
    pre-treatment periods: see ``notes`` and ``cohorts``).

    Attributes (besides those of ``DiDResult``)
    -------------------------------------------
    unit_weights
        ``cohort, unit, weight``: :math:`\\hat\\omega` over the never-treated units,
        per cohort (sums to 1 within a cohort).
    time_weights
        ``cohort, time, weight``: :math:`\\hat\\lambda` over the pre-treatment
        periods, per cohort (sums to 1; all 0 for SC).
    trajectories
        ``cohort, time, treated, synthetic``: the cohort's treated mean and the
        :math:`\\hat\\omega`-weighted control mean in every period.
    cohorts
        ``cohort, n_treated, n_controls, t_pre, t_post, weight, att, se,
        zeta_omega, zeta_lambda, noise_level``: the cohort estimates and their
        aggregation weights.
    replicates
        The replication estimates of the overall effect (``None`` for the
        jackknife: its leave-one-out values).
    """

    unit_weights: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    time_weights: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    trajectories: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    cohorts: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    replicates: np.ndarray | None = field(default=None, compare=False, repr=False)

    def to_dict(self, provenance: Any = None) -> dict[str, Any]:
        """The JSON contract of ``DiDResult.to_dict`` plus ``weights`` (non-zero ones)."""
        out = super().to_dict(provenance)
        prov = out.pop("provenance")

        def rows(df: pd.DataFrame | None, key: str) -> list[dict[str, Any]]:
            if df is None:
                return []
            d = df[df["weight"] != 0]
            return [
                {"cohort": _key(c), key: _key(k), "weight": float(w)}
                for c, k, w in zip(d["cohort"], d[key], d["weight"], strict=True)
            ]

        out["weights"] = {
            "unit": rows(self.unit_weights, "unit"),
            "time": rows(self.time_weights, "time"),
        }
        out["provenance"] = prov
        return out


# ------------------------------------------------------------------ the design
@dataclass(frozen=True)
class _Block:
    """One cohort's block: rows ``controls + treated`` of the wide outcome matrix."""

    cohort: float
    treated: np.ndarray  # row indices into Y (uid)
    T0: int


@dataclass(frozen=True)
class _Design:
    Y: np.ndarray  # (n_units, T), rows = uid
    times: np.ndarray
    units: np.ndarray  # original ids by uid
    controls: np.ndarray  # uids of never-treated units
    blocks: tuple[_Block, ...]


def _design(panel: Panel, method: str) -> tuple[_Design, list[str]]:
    """The wide outcome matrix and the cohort blocks; units not observed in every
    period are dropped with a note (synthetic DiD needs a balanced panel)."""
    d = panel.data
    T = len(panel.times)
    notes: list[str] = []
    if not panel.balanced:
        counts = np.bincount(d["uid"].to_numpy(), minlength=panel.n_units)
        incomplete = np.flatnonzero(counts < T)
        note = (
            f"dropped {incomplete.size} unit(s) not observed in all {T} periods "
            f"({method} needs a balanced panel)"
        )
        notes.append(note)
        warnings.warn(note, UserWarning, stacklevel=4)
        d = d[~np.isin(d["uid"].to_numpy(), incomplete)]
        if d.empty:
            raise InputError(
                f"{method} needs a balanced panel: no unit is observed in all {T} periods"
            )
    n_units = len(d) // T
    Y = d["y"].to_numpy(dtype=float).reshape(n_units, T)
    g = d["cohort"].to_numpy()[::T]
    units = d["unit"].to_numpy()[::T]
    controls = np.flatnonzero(g == 0)
    if controls.size < 2:
        raise InputError(
            f"{method} needs at least 2 never-treated units (cohort 0) as controls, found {controls.size}"
        )
    blocks, short = [], []
    for a in np.unique(g[g > 0]):
        T0 = int((panel.times < a).sum())
        if T0 < 2:  # no first difference before adoption: sigma, hence zeta, undefined
            short.append(f"{_key(a)} ({int((g == a).sum())} unit(s), {T0} pre-period)")
            continue
        blocks.append(_Block(float(a), np.flatnonzero(g == a), T0))
    if short and blocks:
        note = (
            f"cohort(s) {', '.join(short)} left out: {method} needs at least 2 "
            "pre-treatment periods"
        )
        notes.append(note)
        warnings.warn(note, UserWarning, stacklevel=4)
    if not blocks:
        if short:
            raise InputError(
                f"cohort(s) {', '.join(short)}: {method} needs at least 2 pre-treatment periods"
            )
        raise InputError(f"{method}: no treated unit is observed in all {T} periods")
    return _Design(Y, panel.times, units, controls, tuple(blocks)), notes


def _start_fit(Y: np.ndarray, N0: int, T0: int, kind: fw.Kind) -> fw.Fit:
    opts, om0, la0 = fw.default_options(Y, N0, T0, kind)
    return fw.fit_block(Y, N0, T0, opts, om0, la0)


def _aggregate(taus: np.ndarray, weights: np.ndarray) -> float:
    ok = ~np.isnan(taus)
    return float(np.sum(taus[ok] * weights[ok]) / np.sum(weights[ok]))


# ------------------------------------------------------------- the replications
def _placebo(des: _Design, fits: list[fw.Fit], n_reps: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_reps, n_cohorts)`` placebo estimates (Algorithm 4, cohort structure kept)."""
    N0 = des.controls.size
    sizes = [b.treated.size for b in des.blocks]
    n_tr = sum(sizes)
    if N0 <= n_tr:
        raise InputError(
            f"se='placebo' needs more never-treated units than treated units ({N0} <= {n_tr})"
        )
    perms = [rng.permutation(N0) for _ in range(n_reps)]
    n_co = N0 - n_tr
    ends = np.cumsum(sizes)
    out = np.empty((n_reps, len(des.blocks)))
    for k, (blk, f) in enumerate(zip(des.blocks, fits, strict=True)):
        Ys, om0 = [], []
        for p in perms:
            fake = p[n_co + ends[k] - sizes[k] : n_co + ends[k]]
            rows = np.concatenate([des.controls[p[:n_co]], des.controls[fake]])
            Ys.append(des.Y[rows])
            om0.append(fw.sum_normalize(f.omega[p[:n_co]]))
        res = fw.fit_blocks(Ys, [n_co] * n_reps, blk.T0, f.opts, om0, [f.lam] * n_reps)
        out[:, k] = [r.tau for r in res]
    return out


def _bootstrap(
    des: _Design, fits: list[fw.Fit], n_reps: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(n_reps, n_cohorts)`` bootstrap estimates (NaN: cohort absent) and treated counts."""
    N0 = des.controls.size
    treated = np.concatenate([b.treated for b in des.blocks])
    cohort_of = np.concatenate([np.full(b.treated.size, k) for k, b in enumerate(des.blocks)])
    if treated.size < 2:
        raise InputError(
            "se='bootstrap' needs at least 2 treated units (R synthdid returns NA); use se='placebo'"
        )
    N = N0 + treated.size
    draws: list[np.ndarray] = []
    tries = 0
    while len(draws) < n_reps:
        tries += 1
        if tries > 100 * n_reps + 1000:
            raise InputError("se='bootstrap': too few draws with both treated and control units")
        ind = np.sort(rng.integers(0, N, N))
        if (ind < N0).all() or (ind >= N0).all():
            continue
        draws.append(ind)
    K = len(des.blocks)
    out = np.full((n_reps, K), np.nan)
    counts = np.zeros((n_reps, K))
    for k, (blk, f) in enumerate(zip(des.blocks, fits, strict=True)):
        Ys, n0s, om0, which = [], [], [], []
        for b, ind in enumerate(draws):
            c = ind[ind < N0]
            t = ind[ind >= N0] - N0
            t = t[cohort_of[t] == k]
            counts[b, k] = t.size
            if t.size == 0:
                continue
            Ys.append(des.Y[np.concatenate([des.controls[c], treated[t]])])
            n0s.append(c.size)
            om0.append(fw.sum_normalize(f.omega[c]))
            which.append(b)
        res = fw.fit_blocks(Ys, n0s, blk.T0, f.opts, om0, [f.lam] * len(Ys))
        out[which, k] = [r.tau for r in res]
    return out, counts


def _jackknife(des: _Design, fits: list[fw.Fit]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Leave-one-unit-out overall estimates (fixed weights) and per-cohort ones."""
    for blk, f in zip(des.blocks, fits, strict=True):
        if blk.treated.size < 2:
            raise InputError(
                f"se='jackknife' needs at least 2 treated units in every cohort "
                f"(cohort {_key(blk.cohort)} has {blk.treated.size}; R synthdid returns NA); "
                "use se='placebo'"
            )
        if int((f.omega != 0).sum()) < 2:
            raise InputError(
                f"se='jackknife' needs more than one control with positive weight "
                f"(cohort {_key(blk.cohort)} has one; R synthdid returns NA)"
            )
    N0 = des.controls.size
    T = des.Y.shape[1]
    K = len(des.blocks)
    sizes = np.array([b.treated.size for b in des.blocks], float)
    t_post = np.array([T - b.T0 for b in des.blocks], float)

    def tau_k(k: int, keep_c: np.ndarray, keep_t: np.ndarray) -> float:
        blk, f = des.blocks[k], fits[k]
        rows = np.concatenate([des.controls[keep_c], blk.treated[keep_t]])
        om = f.omega[keep_c]
        return fw.contrast(des.Y[rows], keep_c.size, blk.T0, fw.sum_normalize(om), f.lam)

    full_c = np.arange(N0)
    base = np.array([f.tau for f in fits])
    overall: list[float] = []
    per = [[] for _ in range(K)]
    for j in range(N0):  # leave out control j
        kc = np.delete(full_c, j)
        taus = np.array([tau_k(k, kc, np.arange(des.blocks[k].treated.size)) for k in range(K)])
        overall.append(_aggregate(taus, sizes * t_post))
        for k in range(K):
            per[k].append(taus[k])
    for k, blk in enumerate(des.blocks):  # leave out a treated unit of cohort k
        for j in range(blk.treated.size):
            taus = base.copy()
            taus[k] = tau_k(k, full_c, np.delete(np.arange(blk.treated.size), j))
            s = sizes.copy()
            s[k] -= 1
            overall.append(_aggregate(taus, s * t_post))
            per[k].append(taus[k])
    return np.array(overall), [np.array(p) for p in per]


def _jk_se(u: np.ndarray) -> float:
    n = u.size
    return float(np.sqrt((n - 1) / n * np.sum((u - u.mean()) ** 2)))


def _rep_se(u: np.ndarray) -> float:
    u = u[~np.isnan(u)]
    if u.size < 2:
        return float("nan")
    return float(np.sqrt(np.mean((u - u.mean()) ** 2)))  # sqrt((B-1)/B) * sd


# ------------------------------------------------------------------ the estimator
def _estimate(
    kind: fw.Kind,
    method: str,
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    se: str | None,
    n_reps: int,
    seed: int,
    alpha: float,
    data_layer: str | None,
) -> SynthDiDResult:
    if se is not None:
        check_option("se", se, SEType)
    n_reps = check_draws("n_reps", n_reps, minimum=2, maximum=MAX_REPS)
    seed = check_seed(seed, allow_none=False)
    alpha = check_alpha(alpha)
    panel = prepare_panel(
        data, outcome=outcome, unit=unit, time=time, cohort=cohort, require_never_treated=True
    )
    des, design_notes = _design(panel, method)
    N0 = des.controls.size
    T = des.Y.shape[1]
    fits = [
        _start_fit(des.Y[np.concatenate([des.controls, b.treated])], N0, b.T0, kind)
        for b in des.blocks
    ]
    taus = np.array([f.tau for f in fits])
    sizes = np.array([b.treated.size for b in des.blocks], float)
    t_post = np.array([T - b.T0 for b in des.blocks], float)
    agg_w = sizes * t_post
    att = _aggregate(taus, agg_w)

    if se is None:  # R's default (bootstrap); placebo when it is the only method
        se = "bootstrap" if sizes.sum() >= 2 else "placebo"
    rng = np.random.default_rng(seed)
    replicates: np.ndarray | None
    if se == "placebo":
        reps = _placebo(des, fits, n_reps, rng)
        replicates = np.array([_aggregate(r, agg_w) for r in reps])
        se_all = _rep_se(replicates)
        se_k = [_rep_se(reps[:, k]) for k in range(len(fits))]
    elif se == "bootstrap":
        reps, counts = _bootstrap(des, fits, n_reps, rng)
        replicates = np.array(
            [_aggregate(r, c * t_post) for r, c in zip(reps, counts, strict=True)]
        )
        se_all = _rep_se(replicates)
        se_k = [_rep_se(reps[:, k]) for k in range(len(fits))]
    else:
        replicates, per = _jackknife(des, fits)
        se_all = _jk_se(replicates)
        se_k = [_jk_se(p) for p in per]

    cohorts = pd.DataFrame(
        {
            "cohort": [b.cohort for b in des.blocks],
            "n_treated": sizes.astype(int),
            "n_controls": N0,
            "t_pre": [b.T0 for b in des.blocks],
            "t_post": t_post.astype(int),
            "weight": agg_w / agg_w.sum(),
            "att": taus,
            "se": se_k,
            "zeta_omega": [f.opts.zeta_omega for f in fits],
            "zeta_lambda": [f.opts.zeta_lambda for f in fits],
            "noise_level": [f.opts.noise_level for f in fits],
        }
    )
    ctrl_ids = des.units[des.controls]
    unit_w = pd.concat(
        [
            pd.DataFrame({"cohort": b.cohort, "unit": ctrl_ids, "weight": f.omega})
            for b, f in zip(des.blocks, fits, strict=True)
        ],
        ignore_index=True,
    )
    time_w = pd.concat(
        [
            pd.DataFrame({"cohort": b.cohort, "time": des.times[: b.T0], "weight": f.lam})
            for b, f in zip(des.blocks, fits, strict=True)
        ],
        ignore_index=True,
    )
    traj = pd.concat(
        [
            pd.DataFrame(
                {
                    "cohort": b.cohort,
                    "time": des.times,
                    "treated": des.Y[b.treated].mean(axis=0),
                    "synthetic": f.omega @ des.Y[des.controls],
                }
            )
            for b, f in zip(des.blocks, fits, strict=True)
        ],
        ignore_index=True,
    )
    group = Aggregate(
        "group",
        att,
        se_all,
        by=pd.DataFrame({"cohort": cohorts["cohort"], "att": taus, "se": se_k}),
    )
    info = {
        "control": "never",
        "est_method": kind,  # the R synthdid function whose defaults were used
        "estimator": _TITLES[kind],
        "se_type": se,
        "n_reps": None if se == "jackknife" else n_reps,
        "seed": None if se == "jackknife" else seed,
        "alpha": alpha,
        "data_layer": data_layer or "unspecified",
        "n_cohorts": len(des.blocks),
        "n_controls": N0,
        "aggregation": "cohorts weighted by treated unit-periods (N_tr x T_post)",
        "notes": (*panel.notes, *design_notes),
    }
    return SynthDiDResult(
        method=method,
        outcome=outcome,
        n_units=des.Y.shape[0],
        n_obs=des.Y.shape[0] * T,
        att_gt=None,
        aggregates={"simple": Aggregate("simple", att, se_all), "group": group},
        info=info,
        design=EstimationDesign(panel=panel),
        unit_weights=unit_w,
        time_weights=time_w,
        trajectories=traj,
        cohorts=cohorts,
        replicates=replicates,
    )


#: The numpydoc sections :func:`synthdid`, :func:`synthetic_control` and
#: :func:`did_estimate` share (substituted into each docstring at import, as
#: pandas' ``@doc`` does), so that ``help()`` and Sphinx show each in full.
_SHARED_DOC = """Parameters
    ----------
    data
        Balanced long panel.
    outcome, unit, time, cohort
        Column names; ``cohort`` = first treated period (0/missing = never
        treated). Never-treated units are the controls.
    se
        ``"placebo"``, ``"bootstrap"`` or ``"jackknife"`` (R ``vcov(method =
        ...)``). Default ``None``: R's default ``"bootstrap"``, or ``"placebo"``
        when there is a single treated unit (the only method that works then).
    n_reps
        Placebo / bootstrap replications (R's default 200; ignored by the jackknife).
    seed
        Seed of ``numpy.random.default_rng`` for the replications.
    alpha
        Significance level of the normal intervals.
    data_layer
        Data-layer label (real / synthetic / user-supplied).

    Returns
    -------
    SynthDiDResult
        ``simple`` (the effect, weighted over cohorts by treated unit-periods),
        ``group`` (one row per cohort), the weights (``unit_weights``,
        ``time_weights``), ``trajectories`` and ``cohorts``.

    Raises
    ------
    InputError
        No unit observed in every period, fewer than 2 never-treated units, a cohort with fewer
        than 2 pre-treatment periods, an SE method the design cannot support.
    """


def _public(name: str, kind: fw.Kind, method: str, summary: str) -> Callable[..., SynthDiDResult]:
    """The public estimator ``name``: :func:`_estimate` with R ``synthdid``'s function ``kind``.

    Parameters
    ----------
    name
        The function's public name (its ``__name__`` and ``__qualname__``, so that
        it pickles and Sphinx documents it under that name).
    kind
        The R ``synthdid`` estimator whose weights it computes.
    method
        The result's ``method`` (the registry's method name).
    summary
        The docstring before the shared sections (:data:`_SHARED_DOC`).

    Returns
    -------
    callable
        ``f(data, *, outcome, unit, time, cohort, se=None, n_reps=200, seed=0,
        alpha=0.05, data_layer=None) -> SynthDiDResult``.
    """

    def estimator(
        data: pd.DataFrame,
        *,
        outcome: str,
        unit: str,
        time: str,
        cohort: str,
        se: SEType | None = None,
        n_reps: int = 200,
        seed: int = 0,
        alpha: float = 0.05,
        data_layer: str | None = None,
    ) -> SynthDiDResult:
        return _estimate(
            kind,
            method,
            data,
            outcome=outcome,
            unit=unit,
            time=time,
            cohort=cohort,
            se=se,
            n_reps=n_reps,
            seed=seed,
            alpha=alpha,
            data_layer=data_layer,
        )

    estimator.__name__ = estimator.__qualname__ = name
    estimator.__doc__ = f"{summary}\n\n    {_SHARED_DOC}"
    return estimator


synthdid = _public(
    "synthdid",
    "synthdid_estimate",
    "sdid",
    "Synthetic difference-in-differences (Arkhangelsky et al. 2021); module docstring.",
)
synthetic_control = _public(
    "synthetic_control",
    "sc_estimate",
    "sc",
    """Synthetic control as R ``synthdid::sc_estimate`` (Abadie et al. 2010); module docstring.

    As :func:`synthdid` but with no intercept in the unit weights and zero time weights.""",
)
did_estimate = _public(
    "did_estimate",
    "did_estimate",
    "did",
    """The DiD comparison of the synthdid framework (R ``synthdid::did_estimate``).

    Uniform unit and time weights; cohort-by-cohort with never-treated
    controls, aggregated as :func:`synthdid`. For one cohort this equals the
    TWFE coefficient on the cohort's block.""",
)
