"""Numerical core of :mod:`analysis.estimators.synthdid` (block design, matrices only).

Everything here works on one outcome matrix ``Y`` (``N x T``) whose first ``N0``
rows are the control units and whose first ``T0`` columns are the pre-treatment
periods, exactly the layout of R ``synthdid`` (Arkhangelsky, Athey, Hirshberg,
Imbens & Wager 2021; package by D. Hirshberg, ``R/synthdid.R``, ``R/solver.R``,
``R/vcov.R`` at commit 70c1ce3). The algorithm is that package's, step for
step, so that the numbers agree:

* the weights solve penalised simplex least squares by Frank-Wolfe with exact
  line search, on the *collapsed* matrix (treated rows and post columns
  averaged); stop when an iteration lowers the objective by less than
  ``min_decrease**2`` or after ``max_iter`` iterations;
* a first round of at most 100 iterations, then the *sparsification* step
  (weights at or below a quarter of the largest set to 0, renormalised) and a
  second round from there;
* regularisation :math:`\\zeta_\\omega = (N_{tr} T_{post})^{1/4}\\hat\\sigma`,
  :math:`\\zeta_\\lambda = 10^{-6}\\hat\\sigma`, with :math:`\\hat\\sigma` the
  standard deviation of the first differences of the control units'
  pre-treatment outcomes, and ``min_decrease = 1e-5 * sigma``, ``max_iter = 1e4``;
* synthetic control (``sc_estimate``): :math:`\\zeta_\\omega = 10^{-6}\\hat\\sigma`,
  no intercept in the unit-weight problem, time weights fixed at zero;
  DiD (``did_estimate``): uniform weights, nothing estimated.

Replications (placebo, bootstrap) re-estimate the weights with the *original*
regularisation and stopping values, starting from the original weights
(restricted to the drawn controls and renormalised), as ``vcov.R`` does; the
jackknife keeps the weights fixed (Algorithm 3 of the paper).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

#: The R function whose defaults a fit uses.
Kind = Literal["synthdid_estimate", "sc_estimate", "did_estimate"]

#: First-round iteration cap before sparsification (R ``max.iter.pre.sparsify``).
MAX_ITER_PRE_SPARSIFY = 100
#: Floats of outcome data per batch of blocks solved together (bounds the padded
#: batch arrays of :func:`fit_blocks` to about 8 x 4 x this many bytes).
CHUNK_FLOATS = 2_000_000
#: Largest number of candidate weights solved through the Gram matrix (one problem).
GRAM_MAX_K = 2_000
#: Batches of at most this many problems are solved one problem at a time.
SERIAL_MAX_B = 4


@dataclass(frozen=True)
class Options:
    """Regularisation and stopping values of one fit (R's ``opts`` attribute)."""

    zeta_omega: float
    zeta_lambda: float
    omega_intercept: bool
    lambda_intercept: bool
    update_omega: bool
    update_lambda: bool
    min_decrease: float
    max_iter: int
    noise_level: float


@dataclass(frozen=True)
class Fit:
    """One block fit: the estimate, the weights and the options that produced them."""

    tau: float
    omega: np.ndarray  # (N0,)
    lam: np.ndarray  # (T0,)
    opts: Options
    n_iter_omega: int = 0
    n_iter_lambda: int = 0


def noise_level(Y: np.ndarray, N0: int, T0: int) -> float:
    """Standard deviation (n - 1) of all first differences of ``Y[:N0, :T0]`` along time."""
    return float(np.std(np.diff(Y[:N0, :T0], axis=1), ddof=1))


def collapsed_form(Y: np.ndarray, N0: int, T0: int) -> np.ndarray:
    """The ``(N0 + 1) x (T0 + 1)`` matrix: treated rows and post columns averaged."""
    top = np.column_stack([Y[:N0, :T0], Y[:N0, T0:].mean(axis=1)])
    bottom = np.append(Y[N0:, :T0].mean(axis=0), Y[N0:, T0:].mean())
    return np.vstack([top, bottom])


def sparsify(v: np.ndarray) -> np.ndarray:
    """Weights at or below a quarter of the largest set to zero; renormalised."""
    v = v.copy()
    v[v <= v.max() / 4] = 0.0
    return v / v.sum()


def sum_normalize(x: np.ndarray) -> np.ndarray:
    """``x / sum(x)``; uniform weights when ``x`` sums to zero (R ``sum_normalize``)."""
    s = x.sum()
    if s != 0:
        return x / s
    return np.full(len(x), 1.0 / len(x))


def fw_batch(
    A: np.ndarray,
    b: np.ndarray,
    n_rows: np.ndarray,
    zeta: float,
    x0: np.ndarray,
    col_mask: np.ndarray,
    *,
    min_decrease: float,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Frank-Wolfe for :math:`\\min_{x \\in \\Delta} \\|A x - b\\|^2 / n + \\zeta^2 \\|x\\|^2`, batched.

    ``A`` is ``(B, n, k)`` and ``b`` ``(B, n)``, already centred where the problem
    has an intercept; problem ``j`` uses its first ``n_rows[j]`` rows (the rest are
    zero padding) and the columns where ``col_mask[j]`` is true (padded columns
    are never chosen and keep weight 0). Each iteration moves toward the vertex
    with the smallest gradient, with the exact line-search step clipped to
    ``[0, 1]`` (R ``fw.step``); problem ``j`` stops when its objective falls by at
    most ``min_decrease**2`` or after ``max_iter`` iterations (R ``sc.weight.fw``),
    independently of the others. Returns the weights ``(B, k)`` and the
    iterations of each problem.

    The residual :math:`A x - b` is updated along the step instead of being
    re-multiplied (equal in exact arithmetic; the difference is rounding).
    """
    B, n, k = A.shape
    if 1 < B <= SERIAL_MAX_B and k <= GRAM_MAX_K:  # a few problems: one at a time is faster
        parts = [
            fw_batch(
                A[j : j + 1],
                b[j : j + 1],
                n_rows[j : j + 1],
                zeta,
                x0[j : j + 1],
                col_mask[j : j + 1],
                min_decrease=min_decrease,
                max_iter=max_iter,
            )
            for j in range(B)
        ]
        return np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    if B == 1 and k <= GRAM_MAX_K:
        x, it = _fw_single(
            A[0, : int(n_rows[0])],
            b[0, : int(n_rows[0])],
            float(zeta),
            x0[0],
            col_mask[0],
            min_decrease=min_decrease,
            max_iter=max_iter,
        )
        return x[None, :], np.array([it])
    x = np.array(x0, dtype=float, copy=True)
    nr = np.asarray(n_rows, dtype=float)
    z2 = float(zeta) ** 2
    eta = nr * z2
    At = np.ascontiguousarray(np.swapaxes(A, 1, 2))  # (B, k, n)
    r = (A @ x[:, :, None])[:, :, 0] - b  # residual A x - b
    rows = np.arange(B)
    tol = float(min_decrease) ** 2
    prev = np.full(B, np.inf)
    prev2 = np.full(B, np.inf)
    active = np.ones(B, dtype=bool)
    iters = np.zeros(B, dtype=np.int64)
    big = np.where(col_mask, 0.0, np.inf)
    x_out = x.copy()
    it_out = iters.copy()
    idx = np.arange(B)  # original problem of each row still in the batch
    for t in range(1, int(max_iter) + 1):
        if t % 128 == 0 and active.sum() <= 0.75 * len(idx):
            # drop the problems that have stopped (rows are independent): smaller arrays
            x_out[idx] = x
            it_out[idx] = iters
            keep = np.flatnonzero(active)
            idx, At, r, b, x = idx[keep], At[keep], r[keep], b[keep], x[keep]
            eta, nr, big = eta[keep], nr[keep], big[keep]
            prev, prev2, active, iters = prev[keep], prev2[keep], active[keep], iters[keep]
            rows = np.arange(len(idx))
        hg = (At @ r[:, :, None])[:, :, 0]
        hg += eta[:, None] * x
        i = np.argmin(hg + big, axis=1)
        xi = x[rows, i]
        xx = (x * x).sum(axis=1)
        hgd = hg[rows, i] - (hg * x).sum(axis=1)
        d_err = At[rows, i, :] - r - b  # A e_i - A x
        den = (d_err * d_err).sum(axis=1) + eta * (1.0 - 2.0 * xi + xx)
        ok = (den > 0) & active & ~((xi == 1.0) & (xx == 1.0))
        step = np.zeros(len(idx))
        step[ok] = np.clip(-hgd[ok] / den[ok], 0.0, 1.0)
        x *= (1.0 - step)[:, None]
        x[rows, i] += step
        r += step[:, None] * d_err
        val = z2 * (x * x).sum(axis=1) + (r * r).sum(axis=1) / nr
        iters += active
        prev2 = np.where(active, prev, prev2)
        prev = np.where(active, val, prev)
        if t >= 2:
            active &= (prev2 - prev) > tol
            if not active.any():
                break
    x_out[idx] = x
    it_out[idx] = iters
    x, iters = x_out, it_out
    return x, iters


def _fw_single(
    A: np.ndarray,
    b: np.ndarray,
    zeta: float,
    x0: np.ndarray,
    col_mask: np.ndarray,
    *,
    min_decrease: float,
    max_iter: int,
) -> tuple[np.ndarray, int]:
    """:func:`fw_batch` for one problem, through the Gram matrix :math:`A'A` (fewer,
    smaller array operations per iteration; the same iterates up to rounding)."""
    n = A.shape[0]
    x = np.array(x0, dtype=float, copy=True)
    z2 = zeta * zeta
    eta = n * z2
    G = A.T @ A
    Ab = A.T @ b
    bb = float(b @ b)
    Gd = np.diag(G).copy()
    Gx = G @ x
    big = np.where(col_mask, 0.0, np.inf)
    tol = float(min_decrease) ** 2
    prev = prev2 = np.inf
    t = 0
    while t < max_iter and (t < 2 or prev2 - prev > tol):
        t += 1
        hg = Gx - Ab + eta * x
        i = int(np.argmin(hg + big))
        xi = float(x[i])
        xx = float(x @ x)
        if not (xi == 1.0 and xx == 1.0):
            xGx = float(x @ Gx)
            hgd = float(hg[i]) - float(hg @ x)
            den = (float(Gd[i]) - 2.0 * float(Gx[i]) + xGx) + eta * (1.0 - 2.0 * xi + xx)
            step = min(1.0, max(0.0, -hgd / den)) if den > 0 else 0.0
            if step != 0.0:
                x *= 1.0 - step
                x[i] += step
                Gx *= 1.0 - step
                Gx += step * G[:, i]
        err2 = float(x @ Gx) - 2.0 * float(Ab @ x) + bb
        prev2, prev = prev, z2 * float(x @ x) + err2 / n
    return x, t


def _problems(
    mats: list[np.ndarray], intercept: bool, starts: list[np.ndarray | None]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stack ``[A | b]`` matrices (centred if ``intercept``) into padded batch arrays."""
    B = len(mats)
    n = max(m.shape[0] for m in mats)
    k = max(m.shape[1] - 1 for m in mats)
    A = np.zeros((B, n, k))
    b = np.zeros((B, n))
    x0 = np.zeros((B, k))
    mask = np.zeros((B, k), dtype=bool)
    n_rows = np.zeros(B, dtype=np.int64)
    for j, (m, s) in enumerate(zip(mats, starts, strict=True)):
        if intercept:
            m = m - m.mean(axis=0)
        nj, kj = m.shape[0], m.shape[1] - 1
        A[j, :nj, :kj] = m[:, :kj]
        b[j, :nj] = m[:, kj]
        x0[j, :kj] = np.full(kj, 1.0 / kj) if s is None else s
        mask[j, :kj] = True
        n_rows[j] = nj
    return A, b, x0, mask, n_rows


def _sparsify_rows(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """:func:`sparsify` applied to every row of a batch (padded entries stay 0)."""
    x = x.copy()
    x[x <= x.max(axis=1, keepdims=True) / 4] = 0.0
    x[~mask] = 0.0
    return x / x.sum(axis=1, keepdims=True)


def solve_weights(
    mats: list[np.ndarray],
    zeta: float,
    *,
    intercept: bool,
    starts: list[np.ndarray | None],
    min_decrease: float,
    max_iter: int,
) -> tuple[list[np.ndarray], np.ndarray]:
    """R's two-round weight solve (100 iterations, sparsify, ``max_iter``) for a batch.

    ``mats[j]`` is ``[A | b]`` of problem ``j`` (rows: observations of the fit,
    columns: candidate weights then the target). Returns the weights of each
    problem and its total iterations.
    """
    A, b, x0, mask, n_rows = _problems(mats, intercept, starts)
    x1, it1 = fw_batch(
        A, b, n_rows, zeta, x0, mask, min_decrease=min_decrease, max_iter=MAX_ITER_PRE_SPARSIFY
    )
    x2, it2 = fw_batch(
        A,
        b,
        n_rows,
        zeta,
        _sparsify_rows(x1, mask),
        mask,
        min_decrease=min_decrease,
        max_iter=max_iter,
    )
    out = [x2[j, : m.shape[1] - 1].copy() for j, m in enumerate(mats)]
    return out, it1 + it2


def fit_blocks(
    Ys: list[np.ndarray],
    N0s: list[int],
    T0: int,
    opts: Options,
    omega0s: list[np.ndarray | None],
    lambda0s: list[np.ndarray | None],
) -> list[Fit]:
    """Weights and estimates for a batch of blocks sharing ``T0`` and the options.

    Block ``j`` is R ``synthdid_estimate(Ys[j], N0s[j], T0, weights = list(omega =
    omega0s[j], lambda = lambda0s[j]), <opts>)`` without covariates. The blocks are
    solved together (one vectorised Frank-Wolfe loop, each block with its own
    stopping rule) in chunks that bound the memory of the padded batch.
    """
    B = len(Ys)
    if B == 0:
        return []
    T = Ys[0].shape[1]
    nmax = max(y.shape[0] for y in Ys)
    chunk = max(1, int(CHUNK_FLOATS // max(1, nmax * T)))
    if B > chunk:
        out: list[Fit] = []
        for s in range(0, B, chunk):
            e = s + chunk
            out += fit_blocks(Ys[s:e], N0s[s:e], T0, opts, omega0s[s:e], lambda0s[s:e])
        return out
    lams: list = list(lambda0s)
    omegas: list = list(omega0s)
    it_l = np.zeros(B, dtype=np.int64)
    it_o = np.zeros(B, dtype=np.int64)
    if opts.update_lambda or opts.update_omega:
        Ycs = [collapsed_form(Y, n0, T0) for Y, n0 in zip(Ys, N0s, strict=True)]
    if opts.update_lambda:
        lams, it_l = solve_weights(
            [Yc[:n0, :] for Yc, n0 in zip(Ycs, N0s, strict=True)],
            opts.zeta_lambda,
            intercept=opts.lambda_intercept,
            starts=list(lambda0s),
            min_decrease=opts.min_decrease,
            max_iter=opts.max_iter,
        )
    if opts.update_omega:
        omegas, it_o = solve_weights(
            [Yc[:, :T0].T for Yc in Ycs],
            opts.zeta_omega,
            intercept=opts.omega_intercept,
            starts=list(omega0s),
            min_decrease=opts.min_decrease,
            max_iter=opts.max_iter,
        )
    return [
        Fit(
            contrast(Y, n0, T0, om, la),
            np.asarray(om, float),
            np.asarray(la, float),
            opts,
            int(io),
            int(il),
        )
        for Y, n0, om, la, io, il in zip(Ys, N0s, omegas, lams, it_o, it_l, strict=True)
    ]


def fit_block(
    Y: np.ndarray,
    N0: int,
    T0: int,
    opts: Options,
    omega0: np.ndarray | None = None,
    lambda0: np.ndarray | None = None,
) -> Fit:
    """One block: R ``synthdid_estimate`` without covariates (see :func:`fit_blocks`)."""
    return fit_blocks([Y], [N0], T0, opts, [omega0], [lambda0])[0]


def contrast(Y: np.ndarray, N0: int, T0: int, omega: np.ndarray, lam: np.ndarray) -> float:
    """:math:`(-\\omega, 1/N_1)' \\, Y \\, (-\\lambda, 1/T_1)`: the weighted 2x2 contrast."""
    N1 = Y.shape[0] - N0
    T1 = Y.shape[1] - T0
    u = np.concatenate([-np.asarray(omega, float), np.full(N1, 1.0 / N1)])
    v = np.concatenate([-np.asarray(lam, float), np.full(T1, 1.0 / T1)])
    return float(u @ Y @ v)


def default_options(
    Y: np.ndarray, N0: int, T0: int, kind: Kind
) -> tuple[Options, np.ndarray | None, np.ndarray | None]:
    """R's defaults for ``synthdid_estimate`` / ``sc_estimate`` / ``did_estimate``.

    Returns the options and the fixed starting (or final) weights
    ``(omega0, lambda0)`` (``None``: start from uniform weights).
    """
    if kind not in ("synthdid_estimate", "sc_estimate", "did_estimate"):
        raise ValueError(f"unknown estimator kind {kind!r}")
    N1 = Y.shape[0] - N0
    T1 = Y.shape[1] - T0
    sigma = noise_level(Y, N0, T0)
    eta_omega = (N1 * T1) ** 0.25 if kind == "synthdid_estimate" else 1e-6
    base = Options(
        zeta_omega=eta_omega * sigma,
        zeta_lambda=1e-6 * sigma,
        omega_intercept=kind != "sc_estimate",
        lambda_intercept=True,
        update_omega=kind != "did_estimate",
        update_lambda=kind == "synthdid_estimate",
        min_decrease=1e-5 * sigma,
        max_iter=10_000,
        noise_level=sigma,
    )
    if kind == "synthdid_estimate":
        return base, None, None
    if kind == "sc_estimate":
        return base, None, np.zeros(T0)
    return base, np.full(N0, 1.0 / N0), np.full(T0, 1.0 / T0)
