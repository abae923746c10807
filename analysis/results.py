"""Immutable result objects shared by every estimator.

One result class, :class:`DiDResult`, carries what every DiD / fixed-effects
estimator in :mod:`analysis.estimators` produces:

* ``att_gt`` -- group-time effects ATT(g, t) (empty for methods without them);
* ``aggregates`` -- named :class:`Aggregate` summaries (``simple`` always;
  ``group``, ``dynamic``, ``calendar`` where the method has them);
* ``info`` -- the design choices a table must state (comparison group, standard
  error type, small-sample convention, data layer, seed, ...).

:meth:`DiDResult.tidy` is the single hand-off to tables and plots (pyfixest's
habit); :meth:`DiDResult.to_dict` is the JSON contract of ``enclave estimate``
(DESIGN.md section 4). Results never re-fit anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy import special  # ndtri = norm.ppf, ndtr(-x) = norm.sf(x) (bit for bit)

from analysis.presentation import present

AGGREGATION_KEYS: Mapping[str, str] = MappingProxyType(
    {"group": "cohort", "dynamic": "event", "calendar": "time"}
)

TIDY_COLUMNS = [
    "aggregation",
    "term",
    "cohort",
    "time",
    "event",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
    "band_low",
    "band_high",
]


def _frozen_frame(df: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    if df is None:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    out = df.reset_index(drop=True).copy()
    for c in out.columns:
        if c in ("att", "se"):
            out[c] = out[c].astype("float64")
    return out


def _freeze_array(a: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return None
    a = np.array(a, dtype="float64", copy=True)
    a.setflags(write=False)
    return a


def _num(x: Any) -> float | None:
    """JSON-safe float: non-finite values become ``None``."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _key(x: Any) -> Any:
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, float) and x.is_integer():
        return int(x)
    if isinstance(x, np.floating) and float(x).is_integer():
        return int(x)
    return x


@dataclass(frozen=True)
class Aggregate:
    """One aggregation of treatment effects.

    Parameters
    ----------
    kind
        ``"simple"``, ``"group"``, ``"dynamic"`` or ``"calendar"``.
    att, se
        The overall summary (for ``simple`` the aggregate itself; for the others
        the average over the components, as in R ``did::aggte``).
    by
        Components: a frame with the key column (``cohort``, ``event`` or
        ``time``) and ``att``, ``se``. ``None`` for ``simple``.
    crit_value
        Critical value of the simultaneous (sup-t) band over the components,
        or ``None`` when only pointwise intervals are available.
    vcov
        Covariance matrix of the components (optional), in the order of ``by``.
    """

    kind: str
    att: float
    se: float
    by: pd.DataFrame | None = None
    crit_value: float | None = None
    vcov: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.by is not None:
            key = AGGREGATION_KEYS.get(self.kind)
            if key is None or key not in self.by.columns:
                raise ValueError(f"aggregate {self.kind!r} needs a {key!r} column in `by`")
            object.__setattr__(self, "by", _frozen_frame(self.by, [key, "att", "se"]))
        object.__setattr__(self, "att", float(self.att))
        object.__setattr__(self, "se", float(self.se))
        object.__setattr__(self, "vcov", _freeze_array(self.vcov))


@dataclass(frozen=True)
class EstimationDesign:
    """What post-estimation needs from a fit, so that it neither re-validates nor refits.

    Attributes
    ----------
    panel
        The validated panel the estimator used (``prepare_panel``'s result).
    cluster
        The cluster column (``None``: the unit).
    regression
        For regression estimators, a function returning ``(y, X, clusters, fe)``
        -- outcome, regressors (first column the coefficient reported as
        ``simple``), cluster labels and fixed-effect factors, row-aligned: the
        inputs of :func:`analysis.inference.crve.ols_cluster` and
        :func:`analysis.inference.wild.wild_cluster_bootstrap`. Built on demand
        (re-fits inside randomisation inference never pay for it).
    """

    panel: Any = None
    cluster: str | None = None
    regression: Any = None


@dataclass(frozen=True)
class DiDResult:
    """Result of a DiD or fixed-effects estimator.

    Attributes
    ----------
    method
        Estimator name (``twfe``, ``event``, ``cs``, ``sa``, ``bjs``, ``gardner``).
    outcome
        Outcome column.
    n_units, n_obs
        Units and unit-period rows used.
    att_gt
        Frame ``cohort, time, att, se`` (empty for methods without ATT(g,t)).
    aggregates
        Mapping name -> :class:`Aggregate`.
    info
        Design and inference choices: ``control``, ``est_method``, ``se_type``,
        ``cluster``, ``n_clusters``, ``alpha``, ``ssc``, ``base_period``,
        ``anticipation``, ``data_layer``, ``seed``, ``n_boot`` ... Tables print them.
    att_gt_crit
        Simultaneous-band critical value for the ATT(g,t) (``None`` = pointwise).
    coefficients
        Optional regression table (``term, estimate, se``) for regression-based
        methods (covariates, event-time coefficients).
    pretest
        Optional pre-trend test: mapping with ``stat``, ``df``, ``p_value``, ``name``.
    decomposition
        Optional decomposition of the reported coefficient (the Bacon
        decomposition): a mapping of scalars (``twfe``, ``weighted_sum``, ...)
        and a ``components`` frame (``type, treated_cohort, control_cohort,
        estimate, weight``); serialised under ``decomposition`` by ``to_dict``.
    design
        :class:`EstimationDesign`: the prepared panel (and, for regressions, the
        design) that ``--inference``, HonestDiD and RI start from. Not part of
        ``to_dict``/``tidy`` and not compared.
    notes
        Every drop, recoding and warning the estimator issued, one sentence
        each, in the order issued (each was also a ``UserWarning``). Read from
        ``info["notes"]`` when not given; duplicates are kept once. The
        ``notes`` list of ``to_dict`` and the end of :meth:`summary`.
    """

    method: str
    outcome: str
    n_units: int
    n_obs: int
    att_gt: pd.DataFrame
    aggregates: Mapping[str, Aggregate]
    info: Mapping[str, Any] = field(default_factory=dict)
    att_gt_crit: float | None = None
    coefficients: pd.DataFrame | None = None
    pretest: Mapping[str, Any] | None = None
    decomposition: Mapping[str, Any] | None = None
    design: EstimationDesign | None = field(default=None, repr=False, compare=False)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if "simple" not in self.aggregates:
            raise ValueError("every result carries a 'simple' aggregate")
        given = (self.notes,) if isinstance(self.notes, str) else tuple(self.notes or ())
        from_info = self.info.get("notes") or ()
        if isinstance(from_info, str):
            from_info = (from_info,)
        object.__setattr__(
            self, "notes", tuple(dict.fromkeys(str(n) for n in (*from_info, *given)))
        )
        object.__setattr__(
            self, "att_gt", _frozen_frame(self.att_gt, ["cohort", "time", "att", "se"])
        )
        object.__setattr__(self, "aggregates", MappingProxyType(dict(self.aggregates)))
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))
        if self.coefficients is not None:
            object.__setattr__(
                self, "coefficients", self.coefficients.reset_index(drop=True).copy()
            )
        if self.pretest is not None:
            object.__setattr__(self, "pretest", MappingProxyType(dict(self.pretest)))
        if self.decomposition is not None:
            dec = {
                k: (v.reset_index(drop=True).copy() if isinstance(v, pd.DataFrame) else v)
                for k, v in self.decomposition.items()
            }
            object.__setattr__(self, "decomposition", MappingProxyType(dec))
        object.__setattr__(self, "n_units", int(self.n_units))
        object.__setattr__(self, "n_obs", int(self.n_obs))

    # ------------------------------------------------------------------ access
    @property
    def alpha(self) -> float:
        return float(self.info.get("alpha", 0.05))

    @property
    def att(self) -> float:
        """The overall (simple) ATT."""
        return self.aggregates["simple"].att

    @property
    def se(self) -> float:
        return self.aggregates["simple"].se

    def __getitem__(self, name: str) -> Aggregate:
        return self.aggregates[name]

    # ------------------------------------------------------------------- tidy
    def tidy(self, alpha: float | None = None) -> pd.DataFrame:
        """Every estimate in one long frame: the hand-off to tables and plots.

        Columns: ``aggregation`` (``att_gt``, ``simple``, ``group``, ``dynamic``,
        ``calendar``, ``<name>_overall``), ``term``, ``cohort``, ``time``,
        ``event``, ``estimate``, ``std_error``, ``statistic``, ``p_value``,
        pointwise ``conf_low``/``conf_high`` and simultaneous
        ``band_low``/``band_high`` (equal to the pointwise ones when no band
        critical value is available).
        """
        a = self.alpha if alpha is None else float(alpha)
        z = special.ndtri(1 - a / 2)
        rows: list[dict[str, Any]] = []

        def add(agg: str, term: str, est: float, se: float, crit: float | None, **keys: Any):
            crit_ = z if crit is None or not np.isfinite(crit) else crit
            stat = est / se if se and np.isfinite(se) and se > 0 else np.nan
            rows.append(
                {
                    "aggregation": agg,
                    "term": term,
                    "cohort": keys.get("cohort", np.nan),
                    "time": keys.get("time", np.nan),
                    "event": keys.get("event", np.nan),
                    "estimate": est,
                    "std_error": se,
                    "statistic": stat,
                    "p_value": 2 * special.ndtr(-abs(stat)) if np.isfinite(stat) else np.nan,
                    "conf_low": est - z * se,
                    "conf_high": est + z * se,
                    "band_low": est - crit_ * se,
                    "band_high": est + crit_ * se,
                }
            )

        for r in self.att_gt.itertuples(index=False):
            add(
                "att_gt",
                f"ATT({_key(r.cohort)},{_key(r.time)})",
                r.att,
                r.se,
                self.att_gt_crit,
                cohort=r.cohort,
                time=r.time,
                event=r.time - r.cohort,
            )
        for name, agg in self.aggregates.items():
            if agg.by is None:
                add(name, "ATT", agg.att, agg.se, None)
                continue
            key = AGGREGATION_KEYS[agg.kind]
            add(f"{name}_overall", "ATT", agg.att, agg.se, None)
            for r in agg.by.itertuples(index=False):
                k = getattr(r, key)
                add(name, f"{key}={_key(k)}", r.att, r.se, agg.crit_value, **{key: k})
        out = pd.DataFrame(rows, columns=TIDY_COLUMNS)
        return out

    # ------------------------------------------------------------------- JSON
    def to_dict(self, provenance: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The JSON contract of ``enclave estimate --json`` (DESIGN.md section 4)."""
        z = special.ndtri(1 - self.alpha / 2)
        out: dict[str, Any] = {
            "method": self.method,
            "outcome": self.outcome,
            "n_units": self.n_units,
            "n_obs": self.n_obs,
            "control": self.info.get("control"),
            "est_method": self.info.get("est_method"),
            "se_type": self.info.get("se_type"),
            "att_gt": [
                {
                    "cohort": _key(r.cohort),
                    "time": _key(r.time),
                    "att": _num(r.att),
                    "se": _num(r.se),
                }
                for r in self.att_gt.itertuples(index=False)
            ],
            "aggregates": {},
        }
        for name, agg in self.aggregates.items():
            d: dict[str, Any] = {
                "att": _num(agg.att),
                "se": _num(agg.se),
                "ci": [_num(agg.att - z * agg.se), _num(agg.att + z * agg.se)],
            }
            if agg.by is not None:
                key = AGGREGATION_KEYS[agg.kind]
                d["by"] = [
                    {key: _key(getattr(r, key)), "att": _num(r.att), "se": _num(r.se)}
                    for r in agg.by.itertuples(index=False)
                ]
                if agg.crit_value is not None:
                    d["crit_value"] = _num(agg.crit_value)
            out["aggregates"][name] = d
        if self.pretest is not None:
            out["pretest"] = {
                k: (_num(v) if isinstance(v, (int, float, np.number)) else v)
                for k, v in self.pretest.items()
            }
        if self.info.get("weights"):
            out["weights"] = self.info["weights"]
        if self.decomposition is not None:
            dec: dict[str, Any] = {}
            for k, v in self.decomposition.items():
                if isinstance(v, pd.DataFrame):
                    dec[k] = [
                        {
                            c: (_num(x) if isinstance(x, (float, np.floating)) else _key(x))
                            for c, x in row.items()
                        }
                        for row in v.to_dict("records")
                    ]
                elif isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
                    dec[k] = _num(v)
                else:
                    dec[k] = v
            out["decomposition"] = dec
        out["notes"] = list(self.notes)
        out["provenance"] = dict(provenance or {})
        return out

    # ---------------------------------------------------------------- display
    def summary(self) -> str:
        """A plain-text summary stating estimator, comparison group and SE type."""
        lines = [
            f"Estimator: {self.method}   Outcome: {self.outcome}",
            f"Units: {self.n_units}   Observations: {self.n_obs}",
            "Comparison group: {c}   Estimation: {e}".format(
                c=self.info.get("control", "n/a"), e=self.info.get("est_method", "n/a")
            ),
            "Standard errors: {s}{cl}".format(
                s=self.info.get("se_type", "n/a"),
                cl=(f", clustered by {self.info['cluster']}" if self.info.get("cluster") else ""),
            ),
            f"Data layer: {self.info.get('data_layer', 'unspecified')}",
        ]
        if self.info.get("weights"):
            lines.append(f"Weights: {self.info['weights']}")
        lines.append("")
        tidy = self.tidy()
        show = tidy[tidy["aggregation"] != "att_gt"] if len(tidy) > 40 else tidy
        cols = ["aggregation", "term", "estimate", "std_error", "conf_low", "conf_high"]
        lines.append(show[cols].to_string(index=False, float_format=lambda v: f"{v: .4f}"))
        if self.pretest is not None:
            p = self.pretest
            lines.append("")
            lines.append(
                f"{p.get('name', 'Pre-trend test')}: stat = {p.get('stat', float('nan')):.4f}, "
                f"df = {p.get('df')}, p = {p.get('p_value', float('nan')):.4f}"
            )
        if self.decomposition is not None:
            lines.append("")
            lines.append("Decomposition:")
            for k, v in self.decomposition.items():
                if isinstance(v, pd.DataFrame):
                    lines.append(v.to_string(index=False, float_format=lambda x: f"{x: .4f}"))
                elif v is not None:
                    lines.append(f"  {k}: {v: .6f}" if isinstance(v, float) else f"  {k}: {v}")
        if self.notes:
            lines.append("")
            lines.append("Notes:")
            lines.extend(f"  - {n}" for n in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()

    def plot(self, ax=None, aggregation: str = "dynamic", band: bool = True):
        """Event-study (or other aggregation) plot; returns the figure.

        Thin delegate to :func:`analysis.report.figures.effects_plot` (bound in
        :mod:`analysis.presentation`) so that plotting code lives in one place.
        """
        return present("effects_plot")(self, ax=ax, aggregation=aggregation, band=band)

    def to_latex(self, **kwargs: Any) -> str:
        return present("result_table")(self, fmt="latex", **kwargs)

    def to_markdown(self, **kwargs: Any) -> str:
        return present("result_table")(self, fmt="markdown", **kwargs)
