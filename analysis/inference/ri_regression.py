r"""Randomisation inference for a cross-section or a two-period first difference:
the coefficient of a 0/1 treatment in a regression with fixed controls, for a family
of outcomes on shared assignments (:func:`regression_randomization_test`).

The same randomisation inference as :mod:`analysis.inference.ri` -- the design and
its samplers and enumeration (:mod:`analysis.inference.ri_design`), the engine's
seeded blocks, the p-value conventions and the tie policy
(:mod:`analysis.inference.ri_result`, :mod:`analysis.inference.ties`) -- with a
closed-form statistic for designs in which the treatment is a unit-level indicator
and the outcome one number per unit (the census study's design). Re-exported by
:mod:`analysis.inference.ri`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.inference.ri_design import (
    DEFAULT_MAX_EXACT,
    _evaluate,
    _use_exact,
    treatment_design,
)
from analysis.inference.ri_result import (
    Alternative,
    RIFamily,
    _check_common,
    _convention,
    _p_value,
)


@dataclass(frozen=True)
class _RegressionEvaluator:
    r"""Coefficient of the treatment indicator in a regression with fixed controls,
    for every outcome column at once (Frisch-Waugh-Lovell):
    :math:`\hat\beta_k(D) = (MD)'(MY_k) / (MD)'(MD)`, ``NaN`` where
    :math:`(MD)'(MD) \le 10^{-12}` (the assignment is collinear with the controls)."""

    m: np.ndarray  # (n, n) residual maker of the controls
    my: np.ndarray  # (n, K) residualised outcomes
    treated: np.ndarray  # (n_labels,) treatment value of each label

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        md = self.m @ self.treated[codes].T  # (n, R)
        denom = np.einsum("ir,ir->r", md, md)
        out = (md.T @ self.my) / np.where(denom > 1e-12, denom, np.nan)[:, None]
        return out


def regression_randomization_test(
    outcomes: pd.DataFrame | Mapping[str, Any],
    treated: np.ndarray | pd.Series,
    controls: np.ndarray | pd.DataFrame | None = None,
    *,
    strata: np.ndarray | pd.Series | None = None,
    strata_column: str | None = None,
    n_draws: int = 9999,
    seed: int | None = 0,
    exact: bool | Literal["auto"] = "auto",
    max_exact: int = DEFAULT_MAX_EXACT,
    alternative: Alternative = "two-sided",
    null: float = 0.0,
    n_jobs: int = 1,
    backend: Literal["serial", "joblib", "dask"] = "joblib",
    client: Any = None,
    block: int = 1000,
) -> RIFamily:
    r"""Randomisation test of a cross-sectional (or first-difference) regression
    coefficient, for a family of outcomes on the same assignments.

    The model, one outcome :math:`k` at a time, is

    .. math::

        Y_{ik} = \beta_k D_i + Z_i'\gamma_k + \varepsilon_{ik},

    with a 0/1 treatment :math:`D` and fixed controls :math:`Z` (a constant,
    baseline covariates, stratum or prefecture effects). A two-period
    difference-in-differences is this model with :math:`Y_{ik}` the change of
    outcome :math:`k` between the periods. The design (:func:`treatment_design`)
    re-assigns :math:`D` across units, holding the number treated fixed within
    each stratum; the statistic is :math:`\hat\beta_k` by Frisch-Waugh-Lovell,
    :math:`\hat\beta_k(D) = (MD)'(MY_k) / (MD)'(MD)` with
    :math:`M = I - Z Z^+` (pseudo-inverse: collinear controls are allowed),
    computed for all assignments of a block at once.

    Parameters
    ----------
    outcomes
        ``(n, K)`` outcomes (a data frame or a mapping name -> array; one row per unit).
    treated
        0/1 treatment of each unit.
    controls
        ``(n, p)`` controls :math:`Z`, including the constant if one is wanted
        (``None``: a constant only).
    strata, strata_column
        Stratum of each unit and its name (:func:`treatment_design`).
    n_draws, seed, exact, max_exact, alternative, null, n_jobs, backend, client, block
        As in :func:`randomization_test` (``null`` is the constant effect
        :math:`\tau_0` of the sharp null, the same for every outcome).

    Returns
    -------
    RIFamily
        ``draws`` holds the assignments at which :math:`(MD)'(MD) > 10^{-12}`;
        the others (treated units exactly spanned by the controls, e.g. all
        the units of some prefectures when prefecture effects are controls)
        do not identify :math:`\beta`, are left out of every p-value and are
        counted in ``notes``.

    Notes
    -----
    Procedure: as :func:`randomization_test` -- exact enumeration when
    :math:`|\mathcal{A}| \le` ``max_exact`` (``exact="auto"``), else
    ``n_draws`` Monte Carlo assignments from the engine's seeded blocks; the
    p-value of each outcome counts the draws with
    :math:`|\hat\beta^*| \ge |\hat\beta^{obs}|` under the package's tie rule.
    Under the sharp null :math:`\tau_0` the outcomes are replaced by
    :math:`Y - \tau_0 D` (observed :math:`D`).
    """
    _check_common(alternative, n_draws, block)
    frame = pd.DataFrame(outcomes)
    names = tuple(str(c) for c in frame.columns)
    y = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    if y.ndim != 2 or y.shape[1] == 0:
        raise InputError("outcomes must have at least one column")
    if not np.isfinite(y).all():
        raise InputError("outcomes must be finite (no missing values)")
    design = treatment_design(treated, strata, strata_column=strata_column)
    n = design.n_units
    if y.shape[0] != n:
        raise InputError(f"outcomes have {y.shape[0]} rows for {n} units")
    z = np.ones((n, 1)) if controls is None else np.asarray(controls, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] != n or not np.isfinite(z).all():
        raise InputError(f"controls must be a finite ({n} x p) array")
    if design.n_assignments <= 1:
        raise InputError("the design admits a single assignment: nothing to permute")
    use_exact = _use_exact(design, exact, max_exact)
    null = float(null)
    d_obs = design.labels[design.codes]
    m = np.eye(n) - z @ np.linalg.pinv(z)
    evaluator = _RegressionEvaluator(m, m @ (y - null * d_obs[:, None]), design.labels)
    observed, draws = _evaluate(
        design,
        evaluator,
        exact=use_exact,
        n_draws=n_draws,
        seed=seed,
        block=block,
        n_jobs=n_jobs,
        backend=backend,
        client=client,
    )
    if not np.isfinite(observed).all():
        raise InputError("the observed treatment is collinear with the controls")
    keep = np.isfinite(draws).all(axis=1)
    notes = []
    if not keep.all():
        notes.append(
            f"{int((~keep).sum()):,} assignment(s) collinear with the controls (coefficient "
            "not identified) left out of the p-values"
        )
    draws = draws[keep]
    p = [
        _p_value(float(observed[k]), draws[:, k], alternative, use_exact) for k in range(len(names))
    ]
    how = (
        "; exact enumeration" if use_exact else f"; Monte Carlo with {n_draws} draws (seed {seed})"
    )
    return RIFamily(
        outcomes=names,
        observed=observed,
        draws=draws,
        p_values=np.asarray(p),
        exact=use_exact,
        n_assignments=design.n_assignments,
        design=design.describe() + how,
        alternative=alternative,
        p_value_convention=_convention(use_exact, alternative),
        statistic="regression coefficient of the treatment",
        null=null,
        seed=None if use_exact else seed,
        notes=tuple(notes),
    )
