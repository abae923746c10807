r"""Randomisation inference for staggered-adoption panels.

The design
----------
Randomisation inference (RI; Fisher 1935, Imbens and Rubin 2015 ch. 5, Young
2019) treats the outcomes as fixed and the *assignment* as random. Here the
assignment is the vector of cohort labels :math:`G = (G_1, \dots, G_N)` --
the first treated period of each unit, ``0`` = never treated -- and the stated
design is

    every unit-level permutation of the observed labels that keeps the number
    of units with each label fixed *within each stratum* is equally likely.

With ``permute="cohort"`` (default) all labels, including ``0``, are permuted:
both *whether* and *when* a unit is treated are re-assigned. With
``permute="timing"`` only the ever-treated units exchange adoption years (the
set of treated units is held fixed), i.e. the treated/never split is an extra
stratum. ``strata`` (a unit-level column such as the prefecture or the
mountain-26 flag) restricts permutations to units of the same stratum.

The number of distinct assignments is the product over strata :math:`s` of
multinomial coefficients

.. math::

    |\mathcal{A}| = \prod_s \frac{n_s!}{\prod_g n_{sg}!},

with :math:`n_{sg}` the number of units of stratum :math:`s` carrying label
:math:`g`. Missing cohorts are coded ``0`` and cohorts after the last period
are recoded ``0`` (never treated within the sample, as the estimators do)
before counting.

The sharp null and the test
---------------------------
Under the sharp null of a constant effect :math:`\tau_0`,
:math:`H_0: Y_{it}(g) = Y_{it}(0) + \tau_0 D_{it}(g)` for all units, periods
and assignments (:math:`D_{it}(g) = 1\{g > 0, t \ge g\}`), the untreated
outcomes :math:`Y^{(\tau_0)}_{it} = Y_{it} - \tau_0 D_{it}` (:math:`D` at the
observed assignment) are known, and every statistic
:math:`T(a) = T(Y^{(\tau_0)}, a)` can be recomputed for any assignment
:math:`a`. With :math:`T^{obs}` the statistic at the observed assignment:

* ``exact`` (enumeration of :math:`\mathcal{A}`, used when
  :math:`|\mathcal{A}| \le` ``max_exact``, default 100,000):
  :math:`p = |\mathcal{A}|^{-1} \sum_{a \in \mathcal{A}} 1\{|T(a)| \ge |T^{obs}|\}`,
  the exact proportion (the observed assignment is one of the :math:`a`,
  so :math:`p \ge 1/|\mathcal{A}|`);
* Monte Carlo (otherwise): :math:`R` assignments drawn uniformly with
  replacement from :math:`\mathcal{A}` and
  :math:`p = (1 + \#\{r: |T^*_r| \ge |T^{obs}|\}) / (1 + R)`, which counts
  the observed assignment as one draw and is therefore an exact
  (conservative) level-:math:`\alpha` test for every :math:`R` (Phipson and
  Smyth 2010). Its Monte Carlo standard error is about :math:`\sqrt{p(1-p)/R}`.

``alternative="greater"`` counts :math:`T^*_r \ge T^{obs}` and ``"less"``
counts :math:`T^*_r \le T^{obs}`. Ties follow the package's one tie policy
(:mod:`analysis.inference.ties`): with exact enumeration the observed
statistic is taken from its own row of the enumerated draws, and comparisons
use the relative tolerance ``TIE_RTOL`` (``1e-10``) so that assignments
producing the same statistic up to rounding count as ties (ties count against
the null, i.e. towards a larger p).

Statistics
----------
``statistic`` is any callable ``statistic(data) -> float`` evaluated on the
data with the cohort column re-assigned, or one of the names

* ``"twfe"``, ``"cs"``, ``"bjs"`` -- the simple ATT of
  :func:`~analysis.estimators.twfe.twfe`,
  :func:`~analysis.estimators.cs.callaway_santanna` or
  :func:`~analysis.estimators.bjs.bjs_imputation`;
* ``"twfe_t"``, ``"cs_t"``, ``"bjs_t"`` -- the corresponding t-statistics
  :math:`\widehat{ATT}/\widehat{se}` (studentised statistics make RI robust to
  heteroskedasticity across assignment groups; Young 2019, Wu and Ding 2021),

with estimator options in ``estimator_options``.

Fast paths
----------
Re-fitting an estimator for each of 9,999 assignments is slow. For three
statistics the dependence on the assignment has a closed form, computed for
all draws at once:

* **static TWFE** on a balanced panel without covariates. With
  :math:`\ddot Y` the two-way demeaned outcome and :math:`\ddot D` the two-way
  demeaned treatment dummy, :math:`\hat\beta = \langle \ddot D, \ddot Y\rangle /
  \langle \ddot D, \ddot D \rangle = \sum_i d_{G_i}'\ddot Y_i / \langle \ddot D,
  \ddot D\rangle`, where :math:`d_g = (1\{g>0, t \ge g\})_t`. The denominator
  depends on the assignment only through the label counts, which every
  permutation preserves, so it is a constant; the numerator is
  :math:`\sum_i Q_{i, G_i}` with :math:`Q = \ddot Y D_{prof}' / \langle\ddot D,
  \ddot D\rangle` (units :math:`\times` labels).
* **Callaway-Sant'Anna simple ATT** on a balanced panel without covariates,
  ``anticipation=0``, never-treated units present, ``control`` ``"never"`` or
  ``"notyet"`` (``est_method`` is irrelevant: without covariates ``dr``,
  ``ipw`` and ``reg`` coincide). Each :math:`ATT(g,t)` is a difference of
  group means of :math:`Y_t - Y_{b(g)}`, group sizes are fixed by the
  permutation, and the ``simple`` weights :math:`\hat p_g` too, so again
  :math:`\widehat{ATT} = \sum_i c_{G_i}' Y_i = \sum_i Q_{i,G_i}` with a fixed
  label-by-period weight matrix :math:`c`.
* **TWFE t-statistic** (``"twfe_t"``, same conditions; clusters that nest
  units allowed). The two-way demeaned treatment of unit :math:`i` is
  :math:`h_{G_i}`, a fixed profile of its label, so the CR1 cluster score is
  :math:`s_i = \ddot Y_i' h_{G_i} - \hat\beta\,\|h_{G_i}\|^2` and
  :math:`t = \hat\beta / \sqrt{c \sum_c (\sum_{i \in c} s_i)^2 / \langle\ddot D,
  \ddot D\rangle^2}` (fixest or linearmodels factor :math:`c`, which cancels
  in the p-value) -- again gathers of fixed unit-by-label matrices.

The coefficient and the ATT are linear in :math:`Y`, so the statistic under the null
:math:`\tau_0` is :math:`T(a) = A(a) - \tau_0 B(a)` with :math:`A` the
statistic of :math:`Y` and :math:`B` that of the observed :math:`D` taken as
an outcome (for the t-statistic numerator and squared scores are linear and
quadratic in :math:`\tau`); the interval by test inversion then needs one set
of draws. The
fast statistic is checked against the estimator on the observed assignment
before any draw is made (``verify=True``; a mismatch is a bug and raises), and
the test suite checks it on permuted assignments too. ``fast="auto"`` uses a
fast path when one applies and re-fits otherwise.

Reproducibility
---------------
Every draw goes through :func:`analysis.inference.engine.run_draws`: Monte
Carlo assignments come from the engine's per-block generators, so the same
``seed`` gives identical draws for any ``n_jobs`` and backend; exact
enumeration visits the assignments in a fixed order (mixed radix over strata,
lexicographic within a stratum) and uses no randomness.

References
----------
Imbens, G. W. and Rubin, D. B. (2015). *Causal Inference for Statistics,
Social, and Biomedical Sciences*, ch. 5. Cambridge University Press.
Phipson, B. and Smyth, G. K. (2010). Permutation p-values should never be
zero. *Statistical Applications in Genetics and Molecular Biology* 9(1).
Young, A. (2019). Channeling Fisher: randomization tests and the statistical
insignificance of seemingly significant experimental results. *Quarterly
Journal of Economics* 134(2), 557-598.
Wu, J. and Ding, P. (2021). Randomization tests for weak null hypotheses in
randomized experiments. *JASA* 116(536), 1898-1913.

Modules
-------
This module holds the panel test, its interval and the glue between them; the
rest of the package's one randomisation-inference implementation is split by job
and re-exported here: :mod:`~analysis.inference.ri_design` (the design, its
Monte Carlo and exact samplers, evaluation over the engine's blocks),
:mod:`~analysis.inference.ri_statistics` (named statistics and their closed-form
evaluators; the closed forms themselves are the estimators', registry
``ri_closed_form``), :mod:`~analysis.inference.ri_result` (results, p-value
conventions) and :mod:`~analysis.inference.ri_regression` (the cross-sectional /
first-difference regression coefficient on shared assignments for a family of
outcomes, :func:`regression_randomization_test`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.inference.ri_design import (  # noqa: F401 - re-exported
    DEFAULT_MAX_EXACT,
    HARD_MAX_EXACT,
    PERMUTES,
    AssignmentDesign,
    PermutationSampler,
    Permute,
    _enumeration_sampler,
    _evaluate,
    _fmt_int,
    _ri_block,
    _use_exact,
    assignment_design,
    treatment_design,
)
from analysis.inference.ri_design import PermutationSampler as _PermutationSampler  # noqa: F401
from analysis.inference.ri_regression import (  # noqa: F401 - re-exported
    _RegressionEvaluator,
    regression_randomization_test,
)
from analysis.inference.ri_result import (  # noqa: F401 - re-exported
    ALTERNATIVES,
    P_VALUE_CONVENTIONS,
    Alternative,
    RIFamily,
    RIInterval,
    RIResult,
    _check_common,
    _convention,
    _nan_note,
    _p_value,
)
from analysis.inference.ri_statistics import (  # noqa: F401 - re-exported
    EstimatorStatistic,
    _fast_path,
    _FastPath,
    _LinearEvaluator,
    _resolve_statistic,
    _treatment_rows,
    _TwfeTEvaluator,
    _wide,
    method_statistics,
)
from analysis.inference.ties import TIE_RTOL, count_at_least, count_at_most  # noqa: F401
from analysis.validation import check_alpha

__all__ = [
    "AssignmentDesign",
    "EstimatorStatistic",
    "RIInterval",
    "RIResult",
    "RIFamily",
    "assignment_design",
    "randomization_test",
    "regression_randomization_test",
    "ri_confidence_interval",
    "treatment_design",
]


# =========================================================================== evaluators
@dataclass(frozen=True)
class _RefitEvaluator:
    """Re-assign the cohort column and call the statistic, draw by draw."""

    data: pd.DataFrame
    cohort: str
    labels: np.ndarray
    row_unit: np.ndarray
    statistic: Callable[[pd.DataFrame], float]

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        out = np.empty((codes.shape[0], 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for r in range(codes.shape[0]):
                d = self.data.copy(deep=False)  # copy-on-write: the original is never touched
                d[self.cohort] = self.labels[codes[r]][self.row_unit]
                out[r, 0] = float(self.statistic(d))
        return out


# =========================================================================== engine glue
@dataclass
class _Prepared:
    design: AssignmentDesign
    stat: Callable[[pd.DataFrame], float]
    stat_name: str
    exact: bool
    fast: _FastPath | None
    fast_reason: str
    notes: list[str]
    data: pd.DataFrame
    time: str
    cohort: str
    outcome: str | None
    engine: dict[str, Any]  # n_draws, seed, block, n_jobs, backend, client

    def describe(self) -> str:
        """The design sentence with how the assignments were visited."""
        e = self.engine
        how = "exact enumeration" if self.exact else f"Monte Carlo with {e['n_draws']} draws"
        return self.design.describe() + f"; {how}" + ("" if self.exact else f" (seed {e['seed']})")


def _from_result(
    result: Any,
    data: pd.DataFrame,
    cols: tuple[str, str, str, str | None],
    statistic: Any,
    strata: str | None,
) -> tuple[pd.DataFrame, tuple[str, str, str, str | None]]:
    """``result``'s prepared panel (``result.design.panel``) in place of ``data``, so the
    panel is not validated again: when ``result`` carries one that kept every row of
    ``data`` (the same units, hence the same design) and the statistic is named by
    method; otherwise ``data`` and its column names unchanged."""
    panel = getattr(getattr(result, "design", None), "panel", None)
    if panel is None or not isinstance(statistic, str) or strata is not None:
        return data, cols
    if panel.n_obs != len(data):
        return data, cols
    return panel.data, ("uid", "time", "cohort", "y")


def _reference(result: Any, stat: Any, name: str) -> float:
    """The statistic at the observed assignment read from ``result`` (no refit)."""
    if getattr(stat, "method", None) != result.method:
        raise InputError(f"result is a {result.method!r} fit but the statistic is {name!r}")
    return float(result.att) if stat.kind == "att" else float(result.att / result.se)


def _prepare(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    cohort: str,
    statistic: Any,
    outcome: str | None,
    strata: str | None,
    permute: str,
    exact: bool | str,
    max_exact: int,
    estimator_options: Mapping[str, Any] | None,
    fast: bool | str,
    verify: bool,
    result: Any,
    alternative: str,
    **engine: Any,
) -> _Prepared:
    _check_common(alternative, engine["n_draws"], engine["block"])
    data, (unit, time, cohort, outcome) = _from_result(
        result, data, (unit, time, cohort, outcome), statistic, strata
    )
    design = assignment_design(
        data, unit=unit, time=time, cohort=cohort, strata=strata, permute=permute
    )
    stat, name = _resolve_statistic(
        statistic,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        estimator_options=estimator_options,
    )
    if design.n_assignments <= 1:
        raise InputError("the design admits a single assignment: nothing to permute")
    use_exact = _use_exact(design, exact, max_exact)
    fp, reason = (None, "fast=False") if fast is False else _fast_path(stat, data, design, time)
    if fast is True and fp is None:
        raise InputError(f"no fast path for this statistic: {reason}")
    if fast not in (True, False, "auto"):
        raise InputError(f"fast must be True, False or 'auto' (got {fast!r})")
    notes = list(design.notes)
    if fp is not None and verify:
        ev = fp.evaluator([_wide(data, design, time, _outcome(data, stat))])
        got = float(fp.value(ev(design.codes[None, :]))[0])

        def close(ref: float) -> bool:
            return bool(np.isclose(got, ref, rtol=1e-8, atol=1e-10 * max(1.0, abs(ref))))

        if result is None or not close(_reference(result, stat, name)):
            if result is not None:
                notes.append(
                    "the result's estimate differs from the statistic's (other estimator "
                    "options?); the test is of the statistic with estimator_options"
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = float(stat(data))
            if not close(ref):
                raise RuntimeError(
                    f"fast path {fp.name!r} gives {got!r} but the estimator gives {ref!r} on the "
                    "observed assignment; please report this bug (use fast=False meanwhile)"
                )
    return _Prepared(
        design, stat, name, use_exact, fp, reason, notes, data, time, cohort, outcome, engine
    )


def _outcome(data: pd.DataFrame, stat: Any) -> np.ndarray:
    return pd.to_numeric(data[stat.outcome], errors="coerce").to_numpy(dtype=np.float64)


def _draws(prep: _Prepared, *, null: float, with_d: bool) -> tuple[np.ndarray, np.ndarray]:
    """Observed statistic(s) and draws.

    Fast path: the evaluator's columns for Y and, if ``with_d``, for the observed
    D taken as outcome, from which ``prep.fast.value(cols, tau)`` gives the statistic
    at any null ``tau``. Re-fit: one column, the statistic at ``null``.
    """
    design, data, time, outcome = prep.design, prep.data, prep.time, prep.outcome
    t = pd.to_numeric(data[time]).to_numpy()
    if prep.fast is not None:
        fp = prep.fast
        wides = [_wide(data, design, time, _outcome(data, prep.stat))]
        if with_d:
            wides.append(_wide(data, design, time, _treatment_rows(design, t)))
        evaluator: Any = fp.evaluator(wides)
    else:
        d = data
        if null != 0.0:
            if outcome is None:
                raise InputError("testing a non-zero constant effect needs outcome=...")
            d = data.copy()
            d[outcome] = pd.to_numeric(d[outcome]) - null * _treatment_rows(design, t)
        evaluator = _RefitEvaluator(d, prep.cohort, design.labels, design.row_unit, prep.stat)
    return _evaluate(design, evaluator, exact=prep.exact, **prep.engine)


# =========================================================================== public API
def randomization_test(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    cohort: str,
    statistic: str | Callable[[pd.DataFrame], float],
    outcome: str | None = None,
    strata: str | None = None,
    permute: Permute = "cohort",
    n_draws: int = 9999,
    seed: int | None = 0,
    exact: bool | Literal["auto"] = "auto",
    max_exact: int = DEFAULT_MAX_EXACT,
    alternative: Alternative = "two-sided",
    null: float = 0.0,
    estimator_options: Mapping[str, Any] | None = None,
    fast: bool | Literal["auto"] = "auto",
    verify: bool = True,
    n_jobs: int = 1,
    backend: Literal["serial", "joblib", "dask"] = "joblib",
    client: Any = None,
    block: int = 1000,
    result: Any = None,
) -> RIResult:
    """Randomisation test of a sharp null by re-assigning cohorts across units.

    Parameters
    ----------
    data
        Long panel, one row per unit and period.
    unit, time, cohort
        Column names; ``cohort`` = first treated period (``0``/missing = never).
    statistic
        ``statistic(data) -> float`` (evaluated on the data with the cohort
        column re-assigned; must be picklable for parallel backends) or one of
        ``"twfe"``, ``"cs"``, ``"bjs"`` (simple ATT) and ``"twfe_t"``,
        ``"cs_t"``, ``"bjs_t"`` (t-statistics).
    outcome
        Outcome column (required for named statistics and for ``null != 0``).
    strata
        Unit-level column; permutations stay within strata.
    permute
        ``"cohort"`` (re-assign treatment and timing) or ``"timing"``
        (re-assign adoption years among ever-treated units).
    n_draws
        Monte Carlo draws :math:`R` (ignored when enumerating).
    seed
        Seed of the Monte Carlo draws (engine: identical for any ``n_jobs``).
    exact
        ``"auto"``, ``True`` (enumerate; at most 1,000,000 assignments) or ``False``.
    max_exact
        Threshold of ``exact="auto"`` (default 100,000).
    alternative
        ``"two-sided"``, ``"greater"`` or ``"less"``.
    null
        Constant effect :math:`\\tau_0` under the sharp null (default 0).
    estimator_options
        Keyword arguments of the estimator for named statistics
        (e.g. ``{"control": "notyet"}``).
    fast
        ``"auto"`` (closed form when available), ``True`` (require it) or
        ``False`` (always re-fit).
    verify
        Check the closed form against the estimator at the observed assignment.
    n_jobs, backend, client, block
        Passed to :func:`~analysis.inference.engine.run_draws`.
    result
        Optional :class:`~analysis.results.DiDResult` of the statistic's method
        fitted on ``data`` with ``estimator_options``: its prepared panel
        (``result.design.panel``) is used in place of ``data`` when the estimator
        kept every row (no second validation; same units, same design, same
        p-value), and its estimate replaces the verification re-fit.

    Returns
    -------
    RIResult

    Raises
    ------
    InputError
        Bad columns or options, a design with one assignment, infeasible
        exact enumeration.

    Notes
    -----
    Procedure:

    1. Build the design (:func:`assignment_design`): units, their cohort
       labels and strata; count the distinct assignments
       :math:`|\\mathcal{A}| = \\prod_s n_s! / \\prod_g n_{sg}!`.
    2. Under :math:`H_0`: effect :math:`\\equiv \\tau_0` (``null``), replace the
       outcome by :math:`Y - \\tau_0 D` (observed :math:`D`) and compute
       :math:`T^{obs}`, the statistic at the observed assignment.
    3. If ``exact`` (``"auto"``: :math:`|\\mathcal{A}| \\le` ``max_exact``),
       evaluate :math:`T` at every assignment and report the exact proportion
       :math:`p = \\#\\{a: |T(a)| \\ge |T^{obs}|\\}/|\\mathcal{A}|`; otherwise draw
       ``n_draws`` = :math:`R` uniform permutations within strata and report
       :math:`p = (1 + \\#\\{r: |T^*_r| \\ge |T^{obs}|\\})/(1 + R)`.
       (One-sided alternatives use signed comparisons.)
    """
    prep = _prepare(
        data,
        unit=unit,
        time=time,
        cohort=cohort,
        statistic=statistic,
        outcome=outcome,
        strata=strata,
        permute=permute,
        exact=exact,
        max_exact=max_exact,
        estimator_options=estimator_options,
        fast=fast,
        verify=verify,
        result=result,
        alternative=alternative,
        n_draws=n_draws,
        seed=seed,
        block=block,
        n_jobs=n_jobs,
        backend=backend,
        client=client,
    )
    null = float(null)
    obs, draws = _draws(prep, null=null, with_d=prep.fast is not None and null != 0.0)
    if prep.fast is not None:
        t_obs = float(prep.fast.value(obs, null)[0])
        t_draws = prep.fast.value(draws, null)
    else:
        t_obs, t_draws = float(obs[0]), draws[:, 0]
    notes = list(prep.notes)
    _nan_note(t_draws, notes)
    if not np.isfinite(t_obs):
        raise InputError("the statistic is not finite at the observed assignment")
    p = _p_value(t_obs, t_draws, alternative, prep.exact)
    conv = _convention(prep.exact, alternative)
    return RIResult(
        statistic=prep.stat_name,
        observed=t_obs,
        p_value=float(p),
        n_draws=int(t_draws.size),
        exact=prep.exact,
        draws=t_draws,
        design=prep.describe(),
        alternative=alternative,
        p_value_convention=conv,
        n_assignments=prep.design.n_assignments,
        null=null,
        seed=None if prep.exact else seed,
        fast_path=prep.fast.name if prep.fast is not None else None,
        notes=tuple(notes),
    )


def ri_confidence_interval(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    statistic: str | Callable[[pd.DataFrame], float],
    strata: str | None = None,
    permute: Permute = "cohort",
    alpha: float = 0.05,
    n_draws: int = 9999,
    seed: int | None = 0,
    exact: bool | Literal["auto"] = "auto",
    max_exact: int = DEFAULT_MAX_EXACT,
    alternative: Alternative = "two-sided",
    estimator_options: Mapping[str, Any] | None = None,
    fast: bool | Literal["auto"] = "auto",
    verify: bool = True,
    estimate: float | None = None,
    step: float | None = None,
    xtol: float | None = None,
    max_evaluations: int = 200,
    n_jobs: int = 1,
    backend: Literal["serial", "joblib", "dask"] = "joblib",
    client: Any = None,
    block: int = 1000,
    result: Any = None,
) -> RIInterval:
    """Confidence interval for a constant effect by inverting randomisation tests.

    Parameters
    ----------
    data, outcome, unit, time, cohort, statistic, strata, permute, n_draws, seed,
    exact, max_exact, estimator_options, fast, verify, n_jobs, backend, client, block, result
        As in :func:`randomization_test`.
    alpha
        Level; the interval has coverage :math:`1-\\alpha` under constant effects.
    alternative
        ``"two-sided"`` gives ``(low, high)``; ``"greater"`` ``(low, inf)``;
        ``"less"`` ``(-inf, high)``.
    estimate, step, xtol
        Starting point, initial step and tolerance of the search (defaults in Notes).
    max_evaluations
        Cap on p-value evaluations.

    Returns
    -------
    RIInterval

    Notes
    -----
    Procedure:

    The :math:`1-\\alpha` confidence set is
    :math:`\\{\\tau_0: p(\\tau_0) > \\alpha\\}`, with :math:`p(\\tau_0)` the
    randomisation p-value of the sharp null "the effect is :math:`\\tau_0` for
    every treated unit-period" (:func:`randomization_test` with
    ``null=tau0``: subtract :math:`\\tau_0 D_{it}` from the outcome on treated
    post-periods, re-test). The same assignments are used for every
    :math:`\\tau_0` (same seed, or the same enumeration), so :math:`p(\\cdot)` is
    a fixed step function.

    1. Start at the point estimate :math:`\\hat\\tau` (fast paths: the root of
       :math:`T(\\tau) = A - \\tau B` at the observed assignment; otherwise
       ``estimate`` or the observed statistic, meaningful when the statistic
       is an effect estimate).
    2. Step outwards from :math:`\\hat\\tau` by ``step`` (default: the
       standard deviation of the randomisation distribution at
       :math:`\\hat\\tau` -- for fast paths that of the effect-scale part
       :math:`A - \\hat\\tau B`, also when the statistic is a t-statistic),
       doubling it until :math:`p \\le \\alpha`.
    3. Bisect between the last accepted and the first rejected value until
       they are ``xtol`` apart; the bound is their midpoint. The search finds
       the crossing nearest to :math:`\\hat\\tau` on each side (the set is an
       interval whenever :math:`p(\\cdot)` is unimodal, the usual case).

    With a fast path :math:`p(\\tau)` costs one vectorised comparison, so the
    default ``xtol`` is :math:`10^{-10}` times the scale; when the statistic is
    re-fitted each evaluation costs ``n_draws`` fits and the default ``xtol``
    is :math:`10^{-3}` times the scale.
    """
    alpha = float(check_alpha(alpha))
    prep = _prepare(
        data,
        unit=unit,
        time=time,
        cohort=cohort,
        statistic=statistic,
        outcome=outcome,
        strata=strata,
        permute=permute,
        exact=exact,
        max_exact=max_exact,
        estimator_options=estimator_options,
        fast=fast,
        verify=verify,
        result=result,
        alternative=alternative,
        n_draws=n_draws,
        seed=seed,
        block=block,
        n_jobs=n_jobs,
        backend=backend,
        client=client,
    )
    n_eval = 0
    if prep.fast is not None:
        obs, draws = _draws(prep, null=0.0, with_d=True)
        a_obs, b_obs = float(obs[0]), float(obs[1])
        if abs(b_obs) < 1e-12:
            raise InputError("the statistic does not respond to a constant effect (B = 0)")
        est = a_obs / b_obs if estimate is None else float(estimate)

        fp = prep.fast

        def pfun(tau: float) -> tuple[float, np.ndarray]:
            # second value: draws on the effect scale (for the default step)
            p = _p_value(
                float(fp.value(obs, tau)[0]), fp.value(draws, tau), alternative, prep.exact
            )
            return p, fp.effect(draws, tau)

        rel = 1e-10
    else:
        cache: dict[float, tuple[float, np.ndarray]] = {}

        def pfun(tau: float) -> tuple[float, np.ndarray]:
            if tau not in cache:
                o, d = _draws(prep, null=tau, with_d=False)
                cache[tau] = (_p_value(float(o[0]), d[:, 0], alternative, prep.exact), d[:, 0])
            return cache[tau]

        if estimate is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = float(prep.stat(prep.data))
        else:
            est = float(estimate)
        rel = 1e-3
    p_est, dr_est = pfun(est)
    n_eval += 1
    scale = float(step) if step is not None else float(np.nanstd(dr_est))
    if not np.isfinite(scale) or scale <= 0:
        scale = max(abs(est), 1.0)
    tol = float(xtol) if xtol is not None else rel * scale
    if p_est <= alpha:
        warnings.warn(
            f"p-value at the estimate is {p_est:.4g} <= alpha; the confidence set may be empty "
            "or not an interval",
            UserWarning,
            stacklevel=2,
        )

    def bound(direction: int) -> float:
        nonlocal n_eval
        inside, h = est, scale
        outside = None
        while n_eval < max_evaluations:
            cand = est + direction * h
            p, _ = pfun(cand)
            n_eval += 1
            if p <= alpha:
                outside = cand
                break
            inside, h = cand, 2 * h
        if outside is None:
            return direction * math.inf
        while abs(outside - inside) > tol and n_eval < max_evaluations:
            mid = 0.5 * (inside + outside)
            p, _ = pfun(mid)
            n_eval += 1
            if p > alpha:
                inside = mid
            else:
                outside = mid
        return 0.5 * (inside + outside)

    low = bound(-1) if alternative in ("two-sided", "greater") else -math.inf
    high = bound(+1) if alternative in ("two-sided", "less") else math.inf
    if n_eval >= max_evaluations:
        warnings.warn(
            "root search hit max_evaluations; bounds are approximate", UserWarning, stacklevel=2
        )
    return RIInterval(
        estimate=float(est),
        low=float(low),
        high=float(high),
        alpha=alpha,
        alternative=alternative,
        p_at_estimate=float(p_est),
        n_draws=int(dr_est.size),
        exact=prep.exact,
        design=prep.describe(),
        statistic=prep.stat_name,
        seed=None if prep.exact else seed,
        fast_path=prep.fast.name if prep.fast is not None else None,
        xtol=float(tol),
        n_evaluations=int(n_eval),
    )
