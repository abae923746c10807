r"""The restriction sets :math:`\Delta` as unions of polyhedra :math:`\{A\delta \le d\}`.

Coordinates: :math:`\delta = (\delta_{-\underline T}, \dots, \delta_{-1},
\delta_1, \dots, \delta_{\bar T})'` (the reference period :math:`\delta_0 = 0`
is built in and its column dropped, as R ``dropZero``). Every builder follows
the matrix of the R package (``.create_A_SD``, ``.create_A_RM``,
``.create_A_SDRM``, ``.create_A_B``, ``.create_A_M``) row for row, so that the
moments handed to the ARP test are the same.

* smoothness :math:`\Delta^{SD}(M)`: :math:`\pm\Delta^2\delta_t \le M` for the
  :math:`\underline T + \bar T - 1` second differences;
* relative magnitudes :math:`\Delta^{RM}(\bar M)`: for each location
  :math:`s \in \{-\underline T + 1, \dots, 0\}` and sign of the largest
  pre-period first difference, :math:`\pm(\delta_t - \delta_{t-1}) \le
  \pm(\delta_s - \delta_{s-1})` before treatment and :math:`\le \bar M (\pm)
  (\delta_s - \delta_{s-1})` after;
* smoothness + relative magnitudes :math:`\Delta^{SDRM}(\bar M)` (R ``bound =
  "deviation from linear trend"``): the same with second differences,
  :math:`s \in \{-\underline T + 2, \dots, 0\}` (the largest pre-period second
  difference :math:`\delta_{s-2} - 2\delta_{s-1} + \delta_s`), post-period
  second differences centred at :math:`t = 0, \dots, \bar T - 1`;
* sign :math:`\Delta^{B}`: :math:`\delta_{post} \ge 0` (``"positive"``) or
  :math:`\le 0` (``"negative"``), appended to every piece;
* monotonicity :math:`\Delta^{M}`: :math:`\delta_{t-1} \le \delta_t` for all
  :math:`t` (``"increasing"``, with :math:`\delta_0 = 0`) or :math:`\ge`
  (``"decreasing"``), appended to every piece.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from analysis.errors import InputError


# ---------------------------------------------------------------- differences
def _first_differences(K: int, T: int) -> np.ndarray:
    """:math:`(\\underline T + \\bar T) \\times (\\underline T + \\bar T + 1)`
    matrix of first differences of the full vector (with :math:`\\delta_0`)."""
    D = np.zeros((K + T, K + T + 1))
    for r in range(K + T):
        D[r, r], D[r, r + 1] = -1.0, 1.0
    return D


def _second_differences(K: int, T: int) -> np.ndarray:
    """Rows :math:`(1, -2, 1)` on the full vector (with :math:`\\delta_0`)."""
    D2 = np.zeros((K + T - 1, K + T + 1))
    for r in range(K + T - 1):
        D2[r, r : r + 3] = (1.0, -2.0, 1.0)
    return D2


def _drop_zero_rows(A: np.ndarray) -> np.ndarray:
    return A[np.sum(A * A, axis=1) > 1e-10]


# ------------------------------------------------------------------ base sets
def sd_polyhedron(K: int, T: int, M: float) -> tuple[np.ndarray, np.ndarray]:
    """:math:`\\Delta^{SD}(M) = \\{A\\delta \\le d\\}` (R ``.create_A_SD``/``.create_d_SD``)."""
    D2 = np.delete(_second_differences(K, T), K, axis=1)
    A = np.vstack([D2, -D2])
    return A, np.full(A.shape[0], float(M))


def _rm_pieces(K: int, T: int, Mbar: float) -> list[tuple[np.ndarray, int, int]]:
    """Constraint matrices :math:`A_{s,\\pm}` (delta_0 dropped) for every piece of
    :math:`\\Delta^{RM}(\\bar M)`; ``d = 0``."""
    D = _first_differences(K, T)
    pieces = []
    for s in range(-K + 1, 1):
        row_s = D[K - 1 + s]  # Delta_s = delta_s - delta_{s-1}
        for sign in (1, -1):
            bound = np.vstack([np.tile(sign * row_s, (K, 1)), np.tile(Mbar * sign * row_s, (T, 1))])
            A = np.vstack([D - bound, -D - bound])
            A = A[np.sum(A * A, axis=1) > 1e-10]
            A = np.delete(A, K, axis=1)
            pieces.append((A, s, sign))
    return pieces


def _sdrm_pieces(K: int, T: int, Mbar: float) -> list[tuple[np.ndarray, int, int]]:
    """Pieces :math:`A_{s,\\pm}` of :math:`\\Delta^{SDRM}(\\bar M)` (R
    ``.create_A_SDRM``), ``d = 0``; needs :math:`\\underline T \\ge 2`."""
    D2 = _second_differences(K, T)
    pieces = []
    for s in range(-K + 2, 1):
        v = np.zeros(K + T + 1)
        v[K + s - 2 : K + s + 1] = (1.0, -2.0, 1.0)  # delta_{s-2} - 2 delta_{s-1} + delta_s
        for sign in (1, -1):
            bound = np.vstack([np.tile(sign * v, (K - 1, 1)), np.tile(Mbar * sign * v, (T, 1))])
            A = _drop_zero_rows(np.vstack([D2 - bound, -D2 - bound]))
            pieces.append((np.delete(A, K, axis=1), s, sign))
    return pieces


# ------------------------------------------------------------- shape rows
def sign_rows(K: int, T: int, direction: str) -> np.ndarray:
    """:math:`\\delta_{post} \\ge 0` (``"positive"``) or :math:`\\le 0` (R ``.create_A_B``)."""
    A = -np.eye(K + T)[K:]
    return A if direction == "positive" else -A


def monotonicity_rows(K: int, T: int, direction: str) -> np.ndarray:
    """:math:`\\delta_{t-1} \\le \\delta_t` for every :math:`t` (``"increasing"``,
    :math:`\\delta_0 = 0`) or the reverse (R ``.create_A_M``, all periods)."""
    D = np.delete(_first_differences(K, T), K, axis=1)  # rows delta_t - delta_{t-1}
    A = -D
    return A if direction == "increasing" else -A


# ------------------------------------------------------------------- assembly
def delta_name(family: str, bias: str | None, mono: str | None) -> str:
    """R's name of the set: ``DeltaSD``, ``DeltaRMNB``, ``DeltaSDRMI``, ..."""
    base = {"smoothness": "DeltaSD", "relative_magnitude": "DeltaRM", "sdrm": "DeltaSDRM"}[family]
    if bias is not None:
        return base + ("PB" if bias == "positive" else "NB")
    if mono is not None:
        return base + ("I" if mono == "increasing" else "D")
    return base


def delta_pieces(
    family: str, K: int, T: int, bound: float, bias: str | None, mono: str | None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The pieces :math:`(A, d)` whose union is the restriction set.

    ``family`` is ``"smoothness"`` (one piece), ``"relative_magnitude"`` or
    ``"sdrm"`` (one piece per location and sign of the largest pre-period
    difference); the sign or monotonicity rows are appended to every piece.
    """
    if family == "smoothness":
        base = [sd_polyhedron(K, T, bound)]
    else:
        if family == "sdrm" and K < 2:
            raise InputError(
                "smoothness + relative magnitudes (bound='linear_trend') needs at least 2 pre-periods"
            )
        make = _rm_pieces if family == "relative_magnitude" else _sdrm_pieces
        base = [(A, np.zeros(A.shape[0])) for A, _, _ in make(K, T, bound)]
    if bias is not None:
        extra = sign_rows(K, T, bias)
    elif mono is not None:
        extra = monotonicity_rows(K, T, mono)
    else:
        return base
    return [(np.vstack([A, extra]), np.concatenate([d, np.zeros(extra.shape[0])])) for A, d in base]


# -------------------------------------------------------------- identified set
def _rm_id_set(b: np.ndarray, K: int, T: int, lv: np.ndarray, Mbar: float) -> tuple[float, float]:
    # delta_pre = beta_pre is known, so the largest pre-period difference is
    # D = max_{s<=0} |beta_s - beta_{s-1}| (beta_0 = 0); post differences are free in
    # [-Mbar D, Mbar D] and l'delta_post = sum_r Delta_r L_r with L_r = sum_{t>=r} l_t.
    pre = np.concatenate([b[:K], [0.0]])
    D = float(np.max(np.abs(np.diff(pre)))) if K >= 1 else 0.0
    L = np.cumsum(lv[::-1])[::-1]
    half = Mbar * D * float(np.abs(L).sum())
    theta_b = float(lv @ b[K:])
    return theta_b - half, theta_b + half


def id_set_lp(
    pieces: list[tuple[np.ndarray, np.ndarray]], b: np.ndarray, K: int, lv: np.ndarray
) -> tuple[float, float]:
    """Identified set of :math:`l'\\tau_{post}` when :math:`\\beta = b` is known:
    :math:`l'b_{post} - [\\max, \\min]\\, l'\\delta_{post}` over
    :math:`\\delta \\in \\bigcup\\{A\\delta \\le d\\}` with :math:`\\delta_{pre} =
    b_{pre}` (linear programs per piece, R ``.compute_IDset_*``); an unbounded
    side gives :math:`\\pm\\infty`, ``(nan, nan)`` if no piece is feasible."""
    theta_b = float(lv @ b[K:])
    los, his = [], []
    free = [(None, None)] * lv.size
    for A, d in pieces:
        rhs, Ap = d - A[:, :K] @ b[:K], A[:, K:]
        lo = optimize.linprog(lv, A_ub=Ap, b_ub=rhs, bounds=free, method="highs")
        if lo.status == 2:  # infeasible piece: contributes nothing
            continue
        hi = optimize.linprog(-lv, A_ub=Ap, b_ub=rhs, bounds=free, method="highs")
        min_d = -np.inf if lo.status == 3 else float(lo.fun)
        max_d = np.inf if hi.status == 3 else -float(hi.fun)
        los.append(theta_b - max_d)
        his.append(theta_b - min_d)
    if not los:
        return np.nan, np.nan
    return float(min(los)), float(max(his))
