r"""Multiple testing across a family of outcomes (income, employment, R&D ...).

Two kinds of adjustment are provided.

**From p-values alone** (valid under arbitrary dependence unless stated):

* Bonferroni: :math:`\tilde p_j = \min(1, m p_j)`.
* Holm (1979) step-down, controls the family-wise error rate (FWER). Sort
  :math:`p_{(1)} \le \dots \le p_{(m)}`; then
  :math:`\tilde p_{(j)} = \min\{1, \max_{l \le j} (m - l + 1)\, p_{(l)}\}`.
* Benjamini and Hochberg (1995) step-up, controls the false discovery rate
  (FDR) under independence or positive regression dependence:
  :math:`\tilde p_{(j)} = \min\{1, \min_{l \ge j} p_{(l)}\, m / l\}`.

These reproduce :func:`statsmodels.stats.multitest.multipletests` (methods
``"bonferroni"``, ``"holm"``, ``"fdr_bh"``) exactly -- the same floating-point
operations in the same order.

**From resampling draws of the test statistics** (use the joint dependence of
the statistics, hence more power than Holm when outcomes are correlated). The
input is the vector of observed statistics :math:`t` (length :math:`k`) and a
:math:`B \times k` matrix :math:`t^*` of *null-centred* draws -- bootstrap
statistics :math:`(\hat\theta^*_b - \hat\theta)/\widehat{se}^*_b` (Romano and
Wolf 2005), wild-bootstrap statistics with the null imposed, or
randomisation/permutation statistics computed on the *same* draws for every
outcome so that their dependence is preserved. For a two-sided test write
:math:`a_j = |t_j|` and :math:`a^*_{bj} = |t^*_{bj}|` (one-sided: the signed
or negated values).

* **Westfall-Young single-step maxT**:
  :math:`\tilde p_j = \big(1 + \#\{b: \max_m a^*_{bm} \ge a_j\}\big)/(B+1)`.
* **Romano-Wolf step-down** (= Westfall-Young step-down maxT). Order the
  hypotheses so that :math:`a_{r_1} \ge a_{r_2} \ge \dots \ge a_{r_k}`; for
  step :math:`s` take the maximum over the hypotheses not yet rejected,
  :math:`M^*_{b,s} = \max_{l \ge s} a^*_{b r_l}`, and

  .. math::

      p^{init}_{r_s} = \frac{1 + \#\{b: M^*_{b,s} \ge a_{r_s}\}}{B + 1},\qquad
      \tilde p_{r_s} = \max_{l \le s} p^{init}_{r_l}

  (the running maximum enforces monotonicity). Romano and Wolf (2005, 2016)
  and Westfall and Young (1993, Algorithm 2.8) compute the same numbers from
  the same draws; they differ in how the draws are produced (bootstrap
  centred at the estimate vs. resampling under the complete null).
* **Westfall-Young minP** (single-step and step-down). Each statistic is
  first turned into a marginal p-value, for the observed statistics and for
  every draw: ``marginal="empirical"`` uses the resampling distribution of
  the same hypothesis, with the observed statistics counted as one more draw,
  :math:`p^*_{bm} = \#\{r \in \{0,\dots,B\}: a^*_{rm} \ge a^*_{bm}\}/(B+1)`
  (row :math:`r = 0` is the observed vector; so the observed raw p-value is
  :math:`(1 + \#\{b: a^*_{bm} \ge a_m\})/(B+1)`), or any callable
  ``marginal(a) -> p`` (e.g. a normal or :math:`t` tail probability) applied
  elementwise. Then, with :math:`p_{(1)} \le \dots` the ordered observed
  p-values and :math:`q^*_{b,s} = \min_{l \ge s} p^*_{b r_l}` (successive
  minima over the hypotheses not yet rejected),

  .. math::

      p^{init}_{r_s} = \frac{1 + \#\{b: q^*_{b,s} \le p_{r_s}\}}{B + 1},
      \qquad \tilde p_{r_s} = \max_{l \le s} p^{init}_{r_l};

  single-step uses :math:`q^*_{b,1}` (the minimum over all hypotheses) for
  every :math:`s` and no running maximum. With many draws minP and maxT
  coincide when the statistics have identical marginal distributions.

The ``plus_one`` convention (default ``True``) counts the observed statistics
as one draw, :math:`(1 + \#)/(B + 1)`, as pyfixest's ``rwolf`` does;
``plus_one=False`` gives :math:`\#/B` (pyfixest's ``wyoung``). Both are checked
against pyfixest 0.60 in ``tests/test_multitest.py``. Comparisons ``>=`` /
``<=`` follow the package's one tie rule (:mod:`analysis.inference.ties`):
a draw within ``TIE_RTOL`` (``1e-10``) times the scale of the compared
statistics counts as a tie, and ties count against the null, so last-bit
differences between the observed statistics and their copies among the draws
never change a count. Still, feed draws computed in the same way as the
observed statistics.

References
----------
Holm, S. (1979). A simple sequentially rejective multiple test procedure.
*Scandinavian Journal of Statistics* 6, 65-70.
Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate.
*JRSS B* 57(1), 289-300.
Westfall, P. H. and Young, S. S. (1993). *Resampling-Based Multiple
Testing*. Wiley.
Romano, J. P. and Wolf, M. (2005). Stepwise multiple testing as formalized
data snooping. *Econometrica* 73(4), 1237-1282.
Romano, J. P. and Wolf, M. (2016). Efficient computation of adjusted p-values
for resampling-based stepdown multiple testing. *Statistics & Probability
Letters* 113, 38-40.
Clarke, D., Romano, J. P. and Wolf, M. (2020). The Romano-Wolf multiple-
hypothesis correction in Stata. *Stata Journal* 20(4), 812-843.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.inference.ties import Alternative, count_at_least, count_at_most, tie_tolerance
from analysis.validation import check_option

__all__ = [
    "adjust_pvalues",
    "benjamini_hochberg",
    "bonferroni",
    "holm",
    "multiple_testing_table",
    "romano_wolf",
    "westfall_young",
]

PVALUE_METHODS = ("bonferroni", "holm", "bh")


# --------------------------------------------------------------------------- helpers
def _pvals(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise InputError("p-values must be a non-empty one-dimensional array")
    if not np.all(np.isfinite(p)) or (p < 0).any() or (p > 1).any():
        raise InputError("p-values must be finite numbers in [0, 1]")
    return p


def _stats_and_draws(stats, draws, alternative: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(stats, dtype=np.float64)
    d = np.asarray(draws, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise InputError("stats must be a non-empty one-dimensional array (one per hypothesis)")
    if d.ndim == 1 and t.size == 1:
        d = d[:, None]
    if d.ndim != 2 or d.shape[1] != t.size:
        raise InputError(f"draws must be a (B x {t.size}) array; got shape {d.shape}")
    if d.shape[0] < 1:
        raise InputError("draws must contain at least one row")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(d))):
        raise InputError("stats and draws must be finite")
    check_option("alternative", alternative, Alternative)
    if alternative == "two-sided":
        return np.abs(t), np.abs(d)
    if alternative == "greater":
        return t, d
    return -t, -d


def _ratio(count: np.ndarray, B: int, plus_one: bool) -> np.ndarray:
    c = np.asarray(count, dtype=np.float64)
    return (c + 1.0) / (B + 1.0) if plus_one else c / B


def _step_down(count: np.ndarray, order: np.ndarray, B: int, plus_one: bool) -> np.ndarray:
    """Step-down adjusted p-values from the counts of the ordered hypotheses.

    ``count[s]`` is the number of draws at least as extreme as hypothesis
    ``order[s]`` against the hypotheses ``order[s:]`` still in play. The
    adjusted p-value of step :math:`s` is the running maximum
    :math:`\\max_{s' \\le s}` of the resampling ratios (:func:`_ratio`),
    capped at 1 (monotonicity of the step-down procedure), returned in the
    original order of the hypotheses.
    """
    adj = np.minimum(np.maximum.accumulate(_ratio(count, B, plus_one)), 1.0)
    out = np.empty(order.size)
    out[order] = adj
    return out


# --------------------------------------------------------------------------- p-value based
# statsmodels' multipletests is the implementation (bit-identical to the formulas
# below on 9,000 random and tied vectors; checked when this replaced our copy).
def _multipletests(pvalues: Sequence[float] | np.ndarray, method: str) -> np.ndarray:
    from statsmodels.stats.multitest import multipletests

    return np.asarray(multipletests(_pvals(pvalues), method=method)[1], dtype=np.float64)


def bonferroni(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Bonferroni adjusted p-values :math:`\\min(1, m p_j)` (``multipletests(p, "bonferroni")``)."""
    return _multipletests(pvalues, "bonferroni")


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (FWER).

    Procedure: sort :math:`p_{(1)} \\le \\dots \\le p_{(m)}`, multiply
    :math:`p_{(l)}` by :math:`m - l + 1`, take the running maximum, cap at 1,
    and return in the original order: ``multipletests(p, method="holm")[1]``.
    """
    return _multipletests(pvalues, "holm")


def benjamini_hochberg(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg (1995) step-up adjusted p-values (FDR).

    Procedure: sort, divide :math:`p_{(l)}` by :math:`l/m`, take the running
    minimum from the largest down, cap at 1, return in the original order:
    ``multipletests(p, method="fdr_bh")[1]``.
    """
    return _multipletests(pvalues, "fdr_bh")


def adjust_pvalues(pvalues: Sequence[float] | np.ndarray, method: str = "holm") -> np.ndarray:
    """Adjusted p-values by ``method`` in ``"bonferroni"``, ``"holm"``, ``"bh"``."""
    if method == "bonferroni":
        return bonferroni(pvalues)
    if method == "holm":
        return holm(pvalues)
    if method in ("bh", "fdr_bh"):
        return benjamini_hochberg(pvalues)
    raise InputError(f"method must be one of {', '.join(PVALUE_METHODS)} (got {method!r})")


# --------------------------------------------------------------------------- resampling
def romano_wolf(
    stats: Sequence[float] | np.ndarray,
    draws: np.ndarray,
    *,
    alternative: Alternative = "two-sided",
    plus_one: bool = True,
) -> np.ndarray:
    """Romano-Wolf step-down adjusted p-values (FWER).

    Parameters
    ----------
    stats
        Observed test statistics, one per hypothesis (length :math:`k`).
    draws
        :math:`B \\times k` null-centred resampling draws of the statistics
        (the same resamples for every hypothesis).
    alternative
        ``"two-sided"`` (absolute values), ``"greater"`` or ``"less"``.
    plus_one
        ``(1 + #)/(B + 1)`` (default) or ``#/B``.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the order of ``stats``.

    Notes
    -----
    Procedure (module docstring): order the hypotheses by decreasing
    statistic; at step :math:`s` compare :math:`a_{r_s}` with the per-draw
    maximum over the hypotheses :math:`r_s, \\dots, r_k` still in play;
    enforce monotonicity by a running maximum. Identical to the
    Westfall-Young step-down maxT adjustment on the same draws.
    """
    a, ad = _stats_and_draws(stats, draws, alternative)
    B, k = ad.shape
    order = np.argsort(-a, kind="stable")
    # M[:, s] = max over hypotheses order[s:], per draw
    M = np.maximum.accumulate(ad[:, order][:, ::-1], axis=1)[:, ::-1]
    return _step_down(count_at_least(M, a[order]), order, B, plus_one)


def _empirical_pvalues(
    a: np.ndarray, ad: np.ndarray, plus_one: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Marginal p-values of the observed statistics and of every draw."""
    B, k = ad.shape
    p_obs = np.empty(k)
    p_draw = np.empty((B, k))
    for m in range(k):
        ref = np.sort(np.concatenate([[a[m]], ad[:, m]]) if plus_one else ad[:, m])
        n_ref = ref.size
        # number of reference values >= x - tol (the tie rule of analysis.inference.ties)
        tol = tie_tolerance(a[m], ad[:, m])
        p_obs[m] = (n_ref - np.searchsorted(ref, a[m] - tol, side="left")) / n_ref
        p_draw[:, m] = (n_ref - np.searchsorted(ref, ad[:, m] - tol, side="left")) / n_ref
    return p_obs, p_draw


def westfall_young(
    stats: Sequence[float] | np.ndarray,
    draws: np.ndarray,
    *,
    method: Literal["maxT", "minP"] = "maxT",
    stepdown: bool = True,
    alternative: Alternative = "two-sided",
    plus_one: bool = True,
    marginal: Literal["empirical"] | Callable[[np.ndarray], np.ndarray] = "empirical",
) -> np.ndarray:
    """Westfall-Young adjusted p-values (maxT or minP; single-step or step-down).

    Parameters
    ----------
    stats, draws, alternative, plus_one
        As in :func:`romano_wolf`.
    method
        ``"maxT"`` (compare statistics with the per-draw maximum) or
        ``"minP"`` (compare marginal p-values with the per-draw minimum).
    stepdown
        Step-down (default) or single-step.
    marginal
        minP only: ``"empirical"`` marginal p-values from the draws (observed
        statistics counted as a draw when ``plus_one``), or a callable mapping
        the (absolute, for two-sided) statistics to p-values elementwise.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the order of ``stats``.

    Notes
    -----
    Procedures in the module docstring. Step-down maxT equals
    :func:`romano_wolf`. minP with ``marginal`` a :math:`t` tail probability
    and ``plus_one=False`` is pyfixest's ``wyoung``.
    """
    if method not in ("maxT", "minP"):
        raise InputError(f"method must be 'maxT' or 'minP' (got {method!r})")
    a, ad = _stats_and_draws(stats, draws, alternative)
    B, k = ad.shape
    if method == "maxT":
        if stepdown:
            return romano_wolf(stats, draws, alternative=alternative, plus_one=plus_one)
        mx = ad.max(axis=1)
        count = count_at_least(np.broadcast_to(mx[:, None], (B, k)), a)
        return np.minimum(_ratio(count, B, plus_one), 1.0)
    if isinstance(marginal, str):
        if marginal != "empirical":
            raise InputError(f"marginal must be 'empirical' or a callable (got {marginal!r})")
        p_obs, p_draw = _empirical_pvalues(a, ad, plus_one)
    elif callable(marginal):
        p_obs = np.asarray(marginal(a), dtype=np.float64).reshape(k)
        p_draw = np.asarray(marginal(ad), dtype=np.float64).reshape(B, k)
    else:
        raise InputError("marginal must be 'empirical' or a callable")
    if not stepdown:
        mn = p_draw.min(axis=1)
        count = count_at_most(np.broadcast_to(mn[:, None], (B, k)), p_obs)
        return np.minimum(_ratio(count, B, plus_one), 1.0)
    order = np.argsort(p_obs, kind="stable")
    Q = np.minimum.accumulate(p_draw[:, order][:, ::-1], axis=1)[:, ::-1]
    return _step_down(count_at_most(Q, p_obs[order]), order, B, plus_one)


def multiple_testing_table(
    names: Sequence[str],
    stats: Sequence[float] | np.ndarray,
    draws: np.ndarray | None = None,
    *,
    pvalues: Sequence[float] | np.ndarray | None = None,
    alternative: Alternative = "two-sided",
    plus_one: bool = True,
) -> pd.DataFrame:
    """One tidy row per hypothesis with every adjustment available.

    Parameters
    ----------
    names
        Hypothesis labels (e.g. outcomes).
    stats
        Observed statistics.
    draws
        Optional :math:`B \\times k` null-centred draws (enables Romano-Wolf
        and Westfall-Young columns and the resampling raw p-value).
    pvalues
        Unadjusted p-values for Holm/BH; default: the resampling marginal
        p-values when ``draws`` are given.
    alternative, plus_one
        As in :func:`romano_wolf`.

    Returns
    -------
    pandas.DataFrame
        Columns ``hypothesis, statistic, p_raw, p_bonferroni, p_holm, p_bh``
        and, with draws, ``p_romano_wolf, p_wy_maxT_single, p_wy_minP``;
        ``n_draws`` records :math:`B`.
    """
    t = np.asarray(stats, dtype=np.float64)
    if len(names) != t.size:
        raise InputError("names and stats must have the same length")
    out = pd.DataFrame({"hypothesis": list(names), "statistic": t})
    if draws is not None:
        a, ad = _stats_and_draws(t, draws, alternative)
        p_emp, _ = _empirical_pvalues(a, ad, plus_one)
    if pvalues is None:
        if draws is None:
            raise InputError("give pvalues, draws, or both")
        pvalues = p_emp
    p = _pvals(pvalues)
    if p.size != t.size:
        raise InputError("pvalues and stats must have the same length")
    out["p_raw"] = p
    out["p_bonferroni"] = bonferroni(p)
    out["p_holm"] = holm(p)
    out["p_bh"] = benjamini_hochberg(p)
    if draws is not None:
        kw = dict(alternative=alternative, plus_one=plus_one)
        out["p_romano_wolf"] = romano_wolf(t, draws, **kw)
        out["p_wy_maxT_single"] = westfall_young(t, draws, method="maxT", stepdown=False, **kw)
        out["p_wy_minP"] = westfall_young(t, draws, method="minP", stepdown=True, **kw)
        out["n_draws"] = int(np.asarray(draws).shape[0])
    return out
