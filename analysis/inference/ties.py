r"""The one tie policy of every resampling p-value in the package.

A resampling p-value counts how many draws :math:`T^*_b` are at least as
extreme as the observed statistic :math:`T^{obs}`. Two statistics that are the
same number in exact arithmetic can differ in their last bits in floating
point (a different BLAS kernel, summation order or CPU), and a count that
depends on such a bit is not reproducible: the classic case is the observed
assignment among the enumerated ones of an exact randomisation test, where
whether it "counts against itself" must not depend on the machine.

The policy, used by randomisation inference (:mod:`analysis.inference.ri`,
marginal and step-down), Romano-Wolf and Westfall-Young
(:mod:`analysis.inference.multitest`), the wild cluster bootstrap
(:mod:`analysis.inference.wild`) and the census study's exact RI
(:mod:`analysis.studies.census_did`):

1. when the observed assignment is itself among the enumerated draws, the
   observed statistic is taken from its own row of the draws (the same
   floating-point operations), so it ties with itself exactly;
2. every comparison counts :math:`T^*_b \ge T^{obs} - \epsilon` (resp.
   :math:`\le T^{obs} + \epsilon`) with

   .. math::  \epsilon = \mathtt{TIE\_RTOL} \cdot \max\big(|T^{obs}|, \max_b |T^*_b|\big),

   a tolerance relative to the scale of the statistics (so it is the same
   for an outcome measured in yuan or in 1e-300 yuan). Ties count against
   the null (towards a larger p-value), as in Stata's ``ritest``
   (``|T| >= |T_obs| - eps``) and R's ``ri2`` (which rounds both sides).

``TIE_RTOL`` is :math:`10^{-10}`: about a million ulps, far above the
last-bit noise of any BLAS kernel (a few ulps times the number of summed
terms), far below any difference between distinct assignments that matters
for a p-value. The multiplier bootstrap (:mod:`analysis.inference.multiplier`)
reports standard errors and critical values (quantiles), not counts, so it
needs no tie rule.

The side of a test (``Alternative``: ``"two-sided"``, ``"greater"``,
``"less"``) is the vocabulary of the same comparisons and lives here too, so
that randomisation inference and the multiple-testing adjustments check it
against one ``Literal``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from analysis.validation import literal_values

__all__ = [
    "ALTERNATIVES",
    "TIE_RTOL",
    "Alternative",
    "count_at_least",
    "count_at_most",
    "tie_tolerance",
]

#: The one vocabulary of the side of a resampling test (randomisation
#: inference and the multiple-testing adjustments): ``|T| >= |T_obs|``,
#: ``T >= T_obs`` or ``T <= T_obs``.
Alternative = Literal["two-sided", "greater", "less"]
ALTERNATIVES: tuple[str, ...] = literal_values(Alternative)

#: Relative tolerance under which two resampling statistics count as tied
#: (see the module docstring for the rule and the reason for the value).
TIE_RTOL: float = 1e-10


def tie_tolerance(observed, draws, axis: int = 0) -> np.ndarray:
    r"""Absolute tolerance :math:`\epsilon` of the tie rule.

    Parameters
    ----------
    observed
        Observed statistic(s): a scalar, or one per column of ``draws``.
    draws
        Draws of the statistic(s); non-finite values are ignored.
    axis
        Axis of ``draws`` along which the draws run.

    Returns
    -------
    numpy.ndarray
        :math:`\mathtt{TIE\_RTOL}\cdot\max(|T^{obs}|, \max_b |T^*_b|)` with the
        shape of ``observed`` (at least the smallest positive float times
        ``TIE_RTOL``).
    """
    obs = np.abs(np.asarray(observed, dtype=np.float64))
    d = np.abs(np.asarray(draws, dtype=np.float64))
    d = np.where(np.isfinite(d), d, 0.0)
    top = d.max(axis=axis) if d.size else np.zeros_like(obs)
    scale = np.maximum(np.maximum(np.where(np.isfinite(obs), obs, 0.0), top), np.finfo(float).tiny)
    return TIE_RTOL * scale


def count_at_least(draws, observed, axis: int = 0) -> np.ndarray:
    r"""Number of draws with :math:`T^*_b \ge T^{obs} - \epsilon` (along ``axis``)."""
    d = np.asarray(draws, dtype=np.float64)
    obs = np.asarray(observed, dtype=np.float64)
    tol = tie_tolerance(obs, d, axis=axis)
    return np.count_nonzero(
        d >= np.expand_dims(obs - tol, axis) if obs.ndim else d >= obs - tol, axis=axis
    )


def count_at_most(draws, observed, axis: int = 0) -> np.ndarray:
    r"""Number of draws with :math:`T^*_b \le T^{obs} + \epsilon` (along ``axis``).

    The mirror image of :func:`count_at_least`: :math:`T^*_b \le T^{obs} + \epsilon`
    iff :math:`-T^*_b \ge -T^{obs} - \epsilon`, and :math:`\epsilon` depends on
    absolute values only, so the count is :func:`count_at_least` of the negated
    statistics (negation is exact in floating point).
    """
    d = np.asarray(draws, dtype=np.float64)
    obs = np.asarray(observed, dtype=np.float64)
    return count_at_least(-d, -obs, axis=axis)
