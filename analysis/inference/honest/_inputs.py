"""Validated inputs of the HonestDiD functions and the original interval."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from analysis.errors import InputError
from analysis.validation import check_alpha


def _as_vector(x: Any, name: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype="float64")
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numeric") from None
    a = np.squeeze(a) if a.ndim > 1 and 1 in a.shape else a
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise InputError(f"{name} must be a vector, got an array of shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} contains non-finite values")
    return a


def _check_periods(num_pre_periods: Any, num_post_periods: Any) -> tuple[int, int]:
    out = []
    for name, v in (("num_pre_periods", num_pre_periods), ("num_post_periods", num_post_periods)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(f"{name} must be a positive integer, got {v!r}")
        out.append(int(v))
    return out[0], out[1]


def _check_alpha(alpha: Any) -> float:
    """The level, checked by the package's one validator
    (:func:`analysis.validation.check_alpha`), with the HonestDiD wording of the
    error (R ``HonestDiD``'s "alpha must be in (0, 1)")."""
    try:
        return check_alpha(alpha)
    except InputError:
        raise InputError(f"alpha must be in (0, 1), got {alpha!r}") from None


def _validate(
    betahat: Any,
    sigma: Any,
    num_pre_periods: Any,
    num_post_periods: Any,
    l_vec: Any,
    alpha: Any,
) -> tuple[np.ndarray, np.ndarray, int, int, np.ndarray, float]:
    K, T = _check_periods(num_pre_periods, num_post_periods)
    b = _as_vector(betahat, "betahat")
    n = K + T
    if b.size != n:
        raise InputError(
            f"betahat has length {b.size} but num_pre_periods + num_post_periods = {n} "
            "(exclude the reference period)"
        )
    try:
        S = np.asarray(sigma, dtype="float64")
    except (TypeError, ValueError):
        raise InputError("sigma must be a numeric matrix") from None
    if S.shape != (n, n):
        raise InputError(f"sigma must be {n} x {n} to match betahat, got shape {S.shape}")
    if not np.all(np.isfinite(S)):
        raise InputError("sigma contains non-finite values")
    scale = max(float(np.max(np.abs(S))), np.finfo(float).tiny)
    if np.max(np.abs(S - S.T)) > 1e-8 * scale:
        raise InputError("sigma is not symmetric")
    S = (S + S.T) / 2
    ev = np.linalg.eigvalsh(S)
    if ev[0] < -1e-10 * max(ev[-1], np.finfo(float).tiny):
        raise InputError(f"sigma is not positive semi-definite (smallest eigenvalue {ev[0]:.3g})")
    if l_vec is None:
        lv = np.zeros(T)
        lv[0] = 1.0
    else:
        lv = _as_vector(l_vec, "l_vec")
        if lv.size != T:
            raise InputError(f"l_vec has length {lv.size} but num_post_periods = {T}")
        if not np.any(lv != 0):
            raise InputError("l_vec must not be all zeros")
    a = _check_alpha(alpha)
    if float(lv @ S[K:, K:] @ lv) <= 0:
        raise InputError("the target l'beta_post has zero variance under sigma")
    return b, S, K, T, lv, a


def _check_grid(grid: Any, name: str) -> np.ndarray:
    g = _as_vector(grid, name)
    if g.size == 0:
        raise InputError(f"{name} must contain at least one value")
    if np.any(g < 0):
        raise InputError(f"{name} values must be non-negative, got min {g.min():g}")
    return g


# ===========================================================  original interval
def original_ci(
    betahat: Any,
    sigma: Any,
    num_pre_periods: int,
    num_post_periods: int,
    l_vec: Any = None,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Conventional interval :math:`l'\\hat\\beta_{post} \\pm z_{1-\\alpha/2}
    \\sqrt{l'\\Sigma_{post}l}` (R ``constructOriginalCS``).

    Returns
    -------
    tuple
        ``(lb, ub)``.
    """
    b, S, K, T, lv, a = _validate(betahat, sigma, num_pre_periods, num_post_periods, l_vec, alpha)
    est, se = _target(b, S, K, lv)
    z = stats.norm.ppf(1 - a / 2)
    return est - z * se, est + z * se


def _target(b: np.ndarray, S: np.ndarray, K: int, lv: np.ndarray) -> tuple[float, float]:
    return float(lv @ b[K:]), float(np.sqrt(lv @ S[K:, K:] @ lv))
