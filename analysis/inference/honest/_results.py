"""Result types of the HonestDiD sensitivity analysis (Rambachan & Roth 2023)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

TABLE_COLUMNS = ["M", "lb", "ub", "method"]


@dataclass(frozen=True)
class HonestResult:
    """Sensitivity analysis of one event-study target.

    Attributes
    ----------
    table
        One row per grid value: ``M`` (the smoothness bound :math:`M`, or
        :math:`\\bar M` for relative magnitudes), ``lb``, ``ub``, ``method``
        (``"FLCI"``, ``"C-F"``, ``"C-LF"`` or ``"Conditional"``).
    original
        ``(lb, ub)``: the conventional interval
        :math:`l'\\hat\\beta_{post} \\pm z_{1-\\alpha/2}\\sqrt{l'\\Sigma_{post}l}`.
    breakdown
        Smallest grid-bound value at which the robust interval contains zero
        (refined by bisection); ``0.0`` if the original interval already
        contains zero; ``inf`` if no value up to ``max(grid)`` does.
    restriction
        ``"relative_magnitude"`` or ``"smoothness"``.
    delta
        R's name of the restriction set (``"DeltaRM"``, ``"DeltaSD"``,
        ``"DeltaSDRM"``, with ``PB``/``NB`` for a sign and ``I``/``D`` for a
        monotonicity restriction, e.g. ``"DeltaSDNB"``); the options behind it
        (``bias_direction``, ``monotonicity_direction``, ``bound``) are in
        ``options``.
    estimate, se
        :math:`l'\\hat\\beta_{post}` and its standard error.
    alpha
        Level: intervals have nominal coverage :math:`1-\\alpha`.
    l_vec
        Target weights on the post-period effects.
    num_pre_periods, num_post_periods
        Event-study dimensions.
    options
        Numerical settings (grid points, simulation draws, seed, ...).
    """

    table: pd.DataFrame
    original: tuple[float, float]
    breakdown: float
    restriction: str
    delta: str
    estimate: float
    se: float
    alpha: float
    l_vec: tuple[float, ...]
    num_pre_periods: int
    num_post_periods: int
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", self.table.reset_index(drop=True).copy())
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        object.__setattr__(self, "original", (float(self.original[0]), float(self.original[1])))

    @property
    def method(self) -> str:
        return str(self.table["method"].iloc[0]) if len(self.table) else ""

    @property
    def bound_name(self) -> str:
        """``"Mbar"`` for relative magnitudes, ``"M"`` for smoothness."""
        return "Mbar" if self.restriction == "relative_magnitude" else "M"

    def tidy(self) -> pd.DataFrame:
        """Long frame: the original interval first, then one row per bound.

        Columns ``restriction``, ``delta``, ``method``, ``bound`` (``M`` or
        ``Mbar``), ``M``, ``estimate`` (only for the original row),
        ``conf_low``, ``conf_high``, ``alpha``, ``covers_zero``.
        """
        rows = [
            {
                "restriction": self.restriction,
                "delta": self.delta,
                "method": "Original",
                "bound": self.bound_name,
                "M": np.nan,
                "estimate": self.estimate,
                "conf_low": self.original[0],
                "conf_high": self.original[1],
            }
        ]
        for r in self.table.itertuples(index=False):
            rows.append(
                {
                    "restriction": self.restriction,
                    "delta": self.delta,
                    "method": r.method,
                    "bound": self.bound_name,
                    "M": float(r.M),
                    "estimate": np.nan,
                    "conf_low": float(r.lb),
                    "conf_high": float(r.ub),
                }
            )
        out = pd.DataFrame(rows)
        out["alpha"] = self.alpha
        out["covers_zero"] = (out["conf_low"] <= 0) & (out["conf_high"] >= 0)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (non-finite numbers become ``None``)."""

        def num(x: float) -> float | None:
            x = float(x)
            return x if math.isfinite(x) else None

        return {
            "restriction": self.restriction,
            "delta": self.delta,
            "method": self.method,
            "alpha": self.alpha,
            "l_vec": list(self.l_vec),
            "num_pre_periods": self.num_pre_periods,
            "num_post_periods": self.num_post_periods,
            "estimate": num(self.estimate),
            "se": num(self.se),
            "original": [num(self.original[0]), num(self.original[1])],
            "breakdown": num(self.breakdown),
            "table": [
                {"M": num(r.M), "lb": num(r.lb), "ub": num(r.ub), "method": r.method}
                for r in self.table.itertuples(index=False)
            ],
            "options": dict(self.options),
        }

    def summary(self) -> str:
        """Plain-text table with the original interval and the breakdown value."""
        name = self.bound_name
        lines = [
            f"HonestDiD sensitivity ({self.delta}, {self.method}), "
            f"{100 * (1 - self.alpha):.0f}% intervals for l'tau_post, l = {list(self.l_vec)}",
            f"Original: estimate {self.estimate:.6g}, se {self.se:.6g}, "
            f"CI [{self.original[0]:.6g}, {self.original[1]:.6g}]",
        ]
        tab = self.table.rename(columns={"M": name})
        lines.append(tab.to_string(index=False, float_format=lambda v: f"{v: .6f}"))
        bd = self.breakdown
        if math.isnan(bd):
            txt = "not computed"
        elif math.isinf(bd):
            txt = f"> {self.table['M'].max():g} (robust CI excludes 0 on the whole grid)"
        else:
            txt = f"{bd:.6g}"
        lines.append(f"Breakdown value ({name}): {txt}")
        return "\n".join(lines)

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()

    def plot(self, ax=None):
        """Sensitivity plot; thin delegate to :func:`analysis.report.figures.sensitivity_plot`."""
        from analysis.presentation import present

        return present("sensitivity_plot")(self.table, original_ci=self.original, ax=ax)
