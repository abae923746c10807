r"""Results of :mod:`analysis.inference.ri`: the randomisation test (:class:`RIResult`),
the test-inversion interval (:class:`RIInterval`), the test of a family of outcomes on
shared assignments (:class:`RIFamily`), and the p-value with its conventions.

Split from :mod:`analysis.inference.ri`; see its docstring for the design, the
p-value conventions and the tie policy (:mod:`analysis.inference.ties`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.inference.ties import ALTERNATIVES as ALTERNATIVES  # re-exported
from analysis.inference.ties import Alternative as Alternative  # re-exported
from analysis.inference.ties import count_at_least, count_at_most
from analysis.validation import check_draws, check_option

P_VALUE_CONVENTIONS = {
    "exact": "exact: p = #{a in A: |T(a)| >= |T_obs|} / |A| over all |A| assignments "
    "(the observed one included)",
    "mc": "Monte Carlo: p = (1 + #{r: |T*_r| >= |T_obs|}) / (1 + R), the observed "
    "assignment counted as one draw",
}


# =========================================================================== results
@dataclass(frozen=True)
class RIResult:
    """Result of a randomisation test.

    Attributes
    ----------
    statistic
        Name of the statistic.
    observed
        Statistic at the observed assignment (under the null ``null``).
    p_value
        Randomisation p-value (convention in ``p_value_convention``).
    n_draws
        Number of assignments evaluated besides the observed one (Monte Carlo:
        ``R``; exact: all :math:`|\\mathcal{A}|`, the observed one included).
    exact
        Whether every assignment was enumerated.
    draws
        The statistic at each evaluated assignment (read-only).
    design
        Description of the randomisation design.
    alternative
        ``"two-sided"`` (:math:`|T^*| \\ge |T|`), ``"greater"`` or ``"less"``.
    p_value_convention
        The formula used.
    n_assignments
        Number of distinct assignments.
    null
        The constant effect :math:`\\tau_0` of the sharp null.
    seed
        Seed of the draws (``None`` for exact enumeration, which is not random).
    fast_path
        The closed-form evaluator used, or ``None`` when the statistic was re-fitted.
    notes
        Recodings and remarks.
    """

    statistic: str
    observed: float
    p_value: float
    n_draws: int
    exact: bool
    draws: np.ndarray
    design: str
    alternative: str
    p_value_convention: str
    n_assignments: int
    null: float = 0.0
    seed: int | None = None
    fast_path: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        d = np.array(self.draws, dtype=np.float64, copy=True)
        d.setflags(write=False)
        object.__setattr__(self, "draws", d)

    @property
    def mc_se(self) -> float:
        """Monte Carlo standard error of the p-value (0 for exact enumeration)."""
        if self.exact:
            return 0.0
        return math.sqrt(self.p_value * (1.0 - self.p_value) / max(self.n_draws, 1))

    def to_dict(self) -> dict[str, Any]:
        return {
            "statistic": self.statistic,
            "observed": self.observed,
            "p_value": self.p_value,
            "alternative": self.alternative,
            "null": self.null,
            "exact": self.exact,
            "n_draws": self.n_draws,
            "n_assignments": str(self.n_assignments)
            if self.n_assignments > 2**53
            else self.n_assignments,
            "p_value_convention": self.p_value_convention,
            "design": self.design,
            "seed": self.seed,
            "fast_path": self.fast_path,
        }

    def summary(self) -> str:
        kind = (
            "exact enumeration"
            if self.exact
            else f"Monte Carlo, {self.n_draws} draws, seed {self.seed}"
        )
        return "\n".join(
            [
                f"Randomisation test of H0: constant effect = {self.null:g} ({self.alternative})",
                f"Statistic: {self.statistic} = {self.observed:.6g}",
                f"p-value: {self.p_value:.4f} ({kind}"
                + ("" if self.exact else f"; MC s.e. {self.mc_se:.4f}")
                + ")",
                f"Convention: {self.p_value_convention}",
                f"Design: {self.design}",
            ]
        )

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()


@dataclass(frozen=True)
class RIInterval:
    """Confidence set for a constant effect by inverting randomisation tests.

    Attributes
    ----------
    estimate
        Point estimate (the :math:`\\tau` at which the statistic is zero for the
        fast paths; the observed statistic or the value given otherwise).
    low, high
        Bounds: the :math:`\\tau` where the p-value falls to ``alpha``
        (``-inf``/``inf`` for the open side of a one-sided interval).
    alpha
        Level of the tests inverted (coverage ``1 - alpha``).
    alternative
        Alternative of the inverted tests.
    p_at_estimate
        p-value of the null :math:`\\tau_0 =` ``estimate``.
    n_draws, exact, design, statistic, seed, fast_path
        As in :class:`RIResult`.
    xtol
        Bisection tolerance on :math:`\\tau`.
    n_evaluations
        Number of p-value evaluations used by the root search.
    """

    estimate: float
    low: float
    high: float
    alpha: float
    alternative: str
    p_at_estimate: float
    n_draws: int
    exact: bool
    design: str
    statistic: str
    seed: int | None
    fast_path: str | None
    xtol: float
    n_evaluations: int

    @property
    def ci(self) -> tuple[float, float]:
        return (self.low, self.high)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _p_value(obs: float, draws: np.ndarray, alternative: str, exact: bool) -> float:
    ok = np.isfinite(draws)
    d = draws[ok]
    if alternative == "two-sided":
        hits = int(count_at_least(np.abs(d), abs(obs)))
    elif alternative == "greater":
        hits = int(count_at_least(d, obs))
    else:
        hits = int(count_at_most(d, obs))
    if exact:
        return hits / d.size
    return (1 + hits) / (1 + d.size)


def _convention(exact: bool, alternative: str) -> str:
    """The p-value formula of ``P_VALUE_CONVENTIONS`` for ``alternative``."""
    conv = P_VALUE_CONVENTIONS["exact" if exact else "mc"]
    if alternative != "two-sided":
        conv = conv.replace(
            "|T(a)| >= |T_obs|", "T(a) >= T_obs" if alternative == "greater" else "T(a) <= T_obs"
        )
        conv = conv.replace(
            "|T*_r| >= |T_obs|", "T*_r >= T_obs" if alternative == "greater" else "T*_r <= T_obs"
        )
    return conv


def _check_common(alternative: str, n_draws: int, block: int) -> None:
    check_option("alternative", alternative, Alternative)
    check_draws("n_draws", n_draws)
    check_draws("block", block)


def _nan_note(draws: np.ndarray, notes: list[str]) -> None:
    bad = int((~np.isfinite(draws)).sum())
    if bad:
        msg = f"{bad} draw(s) gave a non-finite statistic and were left out of the p-value"
        notes.append(msg)
        warnings.warn(msg, UserWarning, stacklevel=3)


@dataclass(frozen=True)
class RIFamily:
    """Randomisation tests of a family of outcomes on the same assignments.

    Every outcome's statistic is evaluated at the same enumerated or drawn
    assignments, so the rows of ``draws`` keep the joint dependence of the
    statistics that resampling-based multiple-testing adjustments
    (:func:`analysis.inference.multitest.romano_wolf`) need.

    Attributes
    ----------
    outcomes
        Outcome names, one per column.
    observed
        Statistic of each outcome at the observed assignment, shape ``(K,)``.
    draws
        Statistics at the evaluated assignments at which they are defined,
        shape ``(R, K)`` (read-only); see ``notes`` for the assignments left out.
    p_values
        Randomisation p-value of each outcome (convention in ``p_value_convention``).
    exact
        Whether every assignment was enumerated.
    n_assignments
        Number of distinct assignments of the design.
    design, alternative, p_value_convention, null, seed, statistic, notes
        As in :class:`RIResult`.
    """

    outcomes: tuple[str, ...]
    observed: np.ndarray
    draws: np.ndarray
    p_values: np.ndarray
    exact: bool
    n_assignments: int
    design: str
    alternative: str
    p_value_convention: str
    statistic: str
    null: float = 0.0
    seed: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in ("observed", "draws", "p_values"):
            a = np.array(getattr(self, name), dtype=np.float64, copy=True)
            a.setflags(write=False)
            object.__setattr__(self, name, a)

    @property
    def n_draws(self) -> int:
        """Assignments evaluated (rows of ``draws``)."""
        return int(self.draws.shape[0])

    def result(self, outcome: str) -> RIResult:
        """The test of one outcome as an :class:`RIResult`."""
        k = self.outcomes.index(outcome)
        return RIResult(
            statistic=f"{self.statistic} ({outcome})",
            observed=float(self.observed[k]),
            p_value=float(self.p_values[k]),
            n_draws=self.n_draws,
            exact=self.exact,
            draws=self.draws[:, k],
            design=self.design,
            alternative=self.alternative,
            p_value_convention=self.p_value_convention,
            n_assignments=self.n_assignments,
            null=self.null,
            seed=self.seed,
            fast_path="closed form",
            notes=self.notes,
        )
