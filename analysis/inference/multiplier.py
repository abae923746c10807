r"""Multiplier bootstrap on influence functions, with sup-t simultaneous bands.

Given the influence-function matrix :math:`\Psi` (:math:`n \times K`, scaled
as in :mod:`analysis.inference.vcov`) and optional clusters with sums
:math:`S_c`, draw :math:`b = 1,\dots,B` i.i.d. multiplier vectors
:math:`V_b = (V_{b1},\dots,V_{bG})` with :math:`E V = 0`, :math:`E V^2 = 1`
and form the bootstrap deviations

.. math::

    \hat\theta^{*}_b - \hat\theta = \frac{1}{n}\sum_{c=1}^{G} V_{bc}\, S_c ,

one multiplier per cluster (Callaway and Sant'Anna 2021, Remark 10; R ``did``
>= 2.5 ``mboot``: cluster *sums*, standard error scaled by
:math:`\sqrt{G}/n` -- equivalent to the expression above). All :math:`B`
deviations are computed as one matrix product :math:`V S / n`, in blocks of
draws so that memory stays bounded.

Conventions (R ``did`` / ``BMisc``):

* multipliers are **Rademacher** (:math:`\pm 1` with probability 1/2 each),
  as in ``BMisc::multiplier_bootstrap``; Mammen's two-point weights are
  available as an option;
* the bootstrap standard error is the robust, IQR-based
  :math:`(q_{.75} - q_{.25}) / (z_{.75} - z_{.25})` of each column's draws,
  with R's type-1 (inverse empirical CDF) quantiles;
* the simultaneous (sup-t) critical value is the type-1
  :math:`1-\alpha` quantile of :math:`\max_k |\hat\theta^{*}_{bk} - \hat\theta_k| / \hat\sigma_k`
  over the non-degenerate columns.

Draws run through :func:`analysis.inference.engine.run_draws`: fixed blocks
of ``BLOCK_DRAWS`` draws, each with its own stream spawned from the caller's
seed, so the same seed gives bit-identical results.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

import numpy as np
from scipy import special

from analysis.inference.engine import run_draws
from analysis.inference.vcov import Clusters, cluster_sums
from analysis.validation import check_draws, check_option, literal_values

BootWeights = Literal["rademacher", "mammen"]
BOOT_WEIGHTS: tuple[str, ...] = literal_values(BootWeights)

#: Draws generated per block (fixed, so that results never depend on memory).
BLOCK_DRAWS = 64

_Z_IQR = special.ndtri(0.75) - special.ndtri(0.25)
_SQRT5 = np.sqrt(5.0)
_MAMMEN_LOW = -(_SQRT5 - 1.0) / 2.0
_MAMMEN_HIGH = (_SQRT5 + 1.0) / 2.0
_MAMMEN_P_LOW = (_SQRT5 + 1.0) / (2.0 * _SQRT5)


def _multipliers(rng: np.random.Generator, b: int, g: int, weights: str) -> np.ndarray:
    if weights == "rademacher":
        # One random bit per multiplier. Returned as {0, 1}; the caller maps
        # bit -> 1 - 2*bit (i.e. {+1, -1}) inside the matrix product.
        nbytes = (g + 7) // 8
        raw = rng.integers(0, 256, size=(b, nbytes), dtype=np.uint8)
        return np.unpackbits(raw, axis=1, count=g).astype(np.float64)
    if weights == "mammen":
        u = rng.random(size=(b, g))
        return np.where(u < _MAMMEN_P_LOW, _MAMMEN_LOW, _MAMMEN_HIGH)
    raise ValueError(f"unknown multiplier weights {weights!r}; use one of {BOOT_WEIGHTS}")


def multiplier_draws(
    psi: np.ndarray,
    n_boot: int,
    *,
    rng: np.random.Generator | int | None = None,
    clusters: Clusters | None = None,
    weights: BootWeights = "rademacher",
    progress: bool | None = None,
) -> np.ndarray:
    r"""Bootstrap deviations :math:`\hat\theta^*_b - \hat\theta`, shape ``(n_boot, K)``.

    Parameters
    ----------
    psi
        ``n x K`` influence-function matrix (length-``n`` vector allowed).
    n_boot
        Number of bootstrap draws ``B``.
    rng
        A :class:`numpy.random.Generator` or a seed for one.
    clusters
        Unit-level clusters (one multiplier per cluster); ``None`` = units.
    weights
        ``"rademacher"`` (R ``did``) or ``"mammen"``.
    progress
        Ignored (kept for compatibility): the engine shows a bar only on a
        terminal and never when ``CI`` is set.
    """
    psi = np.asarray(psi, dtype=np.float64)
    if psi.ndim == 1:
        psi = psi[:, None]
    n = psi.shape[0]
    n_boot = check_draws("n_boot", int(n_boot))
    check_option("weights", weights, BOOT_WEIGHTS)
    s = np.ascontiguousarray(cluster_sums(psi, clusters))
    # Every draw goes through the simulation engine: seeded blocks of
    # BLOCK_DRAWS draws, each with its own spawned stream, so results depend only
    # on the seed (a Generator passed by the caller is reduced to a seed).
    if isinstance(rng, np.random.Generator):
        seed = int(rng.integers(0, 2**63 - 1))
    else:
        seed = rng
    total = s.sum(axis=0) if weights == "rademacher" else None
    fn = partial(_multiplier_block, s=s, total=total, weights=weights)
    out = run_draws(
        fn, n_boot, seed, block=BLOCK_DRAWS, backend="serial", desc="multiplier bootstrap"
    )
    return out / n


def _multiplier_block(
    rng: np.random.Generator, size: int, *, s: np.ndarray, total: np.ndarray | None, weights: str
) -> np.ndarray:
    """One block of bootstrap sums ``V S`` (``size`` draws)."""
    v = _multipliers(rng, size, s.shape[0], weights)
    if total is not None:
        # sum_c (1 - 2 bit_c) S_c = sum_c S_c - 2 * bits @ S
        return total - 2.0 * (v @ s)
    return v @ s


def _type1_quantile(x: np.ndarray, p: float, axis: int = 0) -> np.ndarray:
    return np.quantile(x, p, axis=axis, method="inverted_cdf")


def iqr_se(draws: np.ndarray) -> np.ndarray:
    r"""Robust bootstrap standard errors :math:`(q_{.75}-q_{.25})/(z_{.75}-z_{.25})`.

    Columns whose draws are all zero or non-finite (degenerate: a parameter
    with an identically-zero influence function) get ``nan``.
    """
    draws = np.asarray(draws, dtype=np.float64)
    if draws.ndim == 1:
        draws = draws[:, None]
    ok = np.all(np.isfinite(draws), axis=0) & np.any(draws != 0, axis=0)
    se = np.full(draws.shape[1], np.nan)
    if ok.any():
        d = draws[:, ok]
        sig = (_type1_quantile(d, 0.75) - _type1_quantile(d, 0.25)) / _Z_IQR
        sig[~(np.isfinite(sig) & (sig > 0))] = np.nan
        se[ok] = sig
    return se


def sup_t_critical_value(draws: np.ndarray, se: np.ndarray, alpha: float) -> float:
    r"""Type-1 :math:`1-\alpha` quantile of :math:`\max_k |d_{bk}|/\hat\sigma_k`.

    Columns with a missing (``nan``) ``se`` are ignored; returns ``nan`` when
    no column is usable.
    """
    draws = np.asarray(draws, dtype=np.float64)
    if draws.ndim == 1:
        draws = draws[:, None]
    se = np.asarray(se, dtype=np.float64).ravel()
    use = np.isfinite(se) & (se > 0)
    if not use.any():
        return float("nan")
    t = np.abs(draws[:, use] / se[use])
    bt = t.max(axis=1)
    bt = bt[np.isfinite(bt)]
    if bt.size == 0:
        return float("nan")
    return float(_type1_quantile(bt, 1.0 - alpha))


@dataclass(frozen=True)
class BootstrapResult:
    """Multiplier-bootstrap summary for a set of parameters."""

    draws: np.ndarray
    se: np.ndarray
    n_boot: int
    weights: str


def multiplier_bootstrap(
    psi: np.ndarray,
    n_boot: int,
    *,
    rng: np.random.Generator | int | None = None,
    clusters: Clusters | None = None,
    weights: BootWeights = "rademacher",
    progress: bool | None = None,
) -> BootstrapResult:
    """Draws plus IQR-based standard errors for every column of ``psi``."""
    d = multiplier_draws(
        psi, n_boot, rng=rng, clusters=clusters, weights=weights, progress=progress
    )
    return BootstrapResult(draws=d, se=iqr_se(d), n_boot=int(n_boot), weights=weights)


__all__ = [
    "BLOCK_DRAWS",
    "BOOT_WEIGHTS",
    "BootstrapResult",
    "iqr_se",
    "multiplier_bootstrap",
    "multiplier_draws",
    "sup_t_critical_value",
]
