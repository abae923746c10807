r"""Benefit sharing in a jointly owned enclave park: who is credited with what.

The seed paper's main proposal (section 三(一)) is to run an enclave park through
a jointly owned shareholding management company (股份制管理服务公司) and to split
the park's GDP and tax between the two governments by the equity each holds,
with equity set by what each side puts in (capital, entrepreneurial talent,
resources). The 2017 eight-ministry guidance 《关于支持"飞地经济"发展的指导意见》
(发改地区〔2017〕922号, NDRC and seven other ministries, signed 2017-05-12;
``data/raw/paper_claims.csv`` C21/C22, ``../shared/research/enclave-timeline.md``)
allows the two sides of an enclave to divide GDP and fiscal revenue by
agreement. This module makes the proposal quantitative. It is a stylised
accounting model, not an estimate: its numbers are only as good as its inputs.

Model
-----
Two governments: the *sending* side :math:`S` (飞出地: puts capital and
talent into the park) and the *receiving* side :math:`R` (飞入地: hosts it,
puts in land and services). Which one is the mountain county depends on the
enclave's direction; the model is symmetric. Per year:

* the park produces value added :math:`V` (亿元); with an effect size
  :math:`\theta` measured as a log-point effect on a base output :math:`B`,
  :math:`V = B(e^{\theta} - 1)` (:func:`value_added_from_log_effect`), or
  :math:`V` is entered directly;
* the park pays tax :math:`\tau V` (:math:`\tau` = tax / value added of the park);
* the management company is owned in shares :math:`s` (sending) and
  :math:`1-s` (receiving); **GDP and tax are credited by the same shares**
  (:math:`s_{tax} = s` unless a separate tax share is given);
* without the enclave each side would have used its inputs :math:`K_j` at
  home with value-added yield :math:`r_j` and tax rate :math:`\tau_j`
  (the counterfactual).

Credited amounts and gains relative to no enclave:

.. math::

    \text{GDP}_S = sV,\quad \text{GDP}_R = (1-s)V,\quad
    \text{Tax}_S = s_{tax}\tau V,\quad \text{Tax}_R = (1-s_{tax})\tau V,

.. math::

    \Delta^{GDP}_S = sV - r_S K_S,\qquad \Delta^{GDP}_R = (1-s)V - r_R K_R,

and for tax :math:`\Delta^{tax}_S = s_{tax}\tau V - \tau_S r_S K_S`,
:math:`\Delta^{tax}_R = (1 - s_{tax})\tau V - \tau_R r_R K_R`. Accounting
identities: credited shares sum to the park totals; the two gains sum to the
park's surplus :math:`V - r_S K_S - r_R K_R` (GDP) whatever the split.

Break-even splits. The sending side gains GDP iff :math:`s \ge \underline s =
r_S K_S / V`; the receiving side iff :math:`s \le \overline s = 1 - r_R K_R/V`.
With tax shares equal to GDP shares the tax conditions add
:math:`s \ge \tau_S r_S K_S/(\tau V)` and :math:`s \le 1 - \tau_R r_R K_R/(\tau V)`.
Both sides gain on both counts for every :math:`s` in
:math:`[\max \text{lower}, \min \text{upper}]` (empty if the park does not
create enough surplus). Reference splits: the *equity* split
:math:`s_K = K_S/(K_S + K_R)` (the seed's rule, by contributions), and the
*equal-gain* split that divides the GDP surplus equally,
:math:`s_{eq} = (V + r_S K_S - r_R K_R) / (2V)`.

Uncertainty. With an estimate :math:`\hat\theta` and standard error
:math:`se`, :func:`sharing_uncertainty` draws :math:`\theta^{(b)} \sim
N(\hat\theta, se^2)` (seeded; the normal sampling distribution of the
estimate) and reports, for each draw, :math:`V^{(b)}`, the break-even bounds
and whether a given split makes both sides gain.

Assumptions (all stated, all simplifications)
---------------------------------------------
1. The park's value added and tax are additional: without the park they would
   not exist, except for the inputs' home uses, which are the counterfactual.
2. Home yields :math:`r_j` and tax rates :math:`\tau_j` are constant (no
   diminishing returns, no spill-overs to the rest of either economy, no
   employment or income effects of commuting workers).
3. One year in a steady state; no discounting, no construction phase, no
   depreciation of contributions (use annualised values for :math:`K_j`).
4. The split of tax follows the split of GDP unless a separate tax share is
   given; no higher-level (provincial) transfers react to the split.
5. The effect size is causal for the park's output and its sampling
   distribution is normal; model uncertainty (wrong :math:`B`, :math:`r_j`) is
   not included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from analysis.errors import InputError

__all__ = [
    "SharingInputs",
    "credited",
    "break_even",
    "gains_by_split",
    "sharing_uncertainty",
    "value_added_from_log_effect",
    "equity_share",
    "equal_gain_share",
    "sharing_plot",
    "uncertainty_plot",
    "break_even_curve",
    "break_even_plot",
    "with_value_added",
]


def _pos(name: str, v: float, allow_zero: bool = True) -> float:
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number (got {v!r})") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise InputError(
            f"{name} must be {'non-negative' if allow_zero else 'positive'} (got {v!r})"
        )
    return v


def value_added_from_log_effect(effect: float, base: float) -> float:
    """Park value added :math:`V = B(e^{\\theta} - 1)` from a log-point effect on output ``base``."""
    base = _pos("base", base, allow_zero=False)
    return base * (math.exp(float(effect)) - 1.0)


@dataclass(frozen=True)
class SharingInputs:
    """Inputs of the benefit-sharing model (module docstring; amounts in 亿元 per year).

    Parameters
    ----------
    value_added
        Park value added :math:`V` (must be positive).
    tax_rate
        Park tax / value added :math:`\\tau`.
    k_send, k_recv
        Annualised contributions :math:`K_S, K_R` (capital, talent, land, services).
    yield_send, yield_recv
        Home value-added yields :math:`r_S, r_R` of those contributions.
    tax_send, tax_recv
        Tax / value added at home :math:`\\tau_S, \\tau_R` (default: ``tax_rate``).
    """

    value_added: float
    tax_rate: float = 0.1
    k_send: float = 1.0
    k_recv: float = 1.0
    yield_send: float = 0.3
    yield_recv: float = 0.3
    tax_send: float | None = None
    tax_recv: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value_added", _pos("value_added", self.value_added, False))
        for n in ("tax_rate", "k_send", "k_recv", "yield_send", "yield_recv"):
            object.__setattr__(self, n, _pos(n, getattr(self, n)))
        if self.tax_rate > 1:
            raise InputError("tax_rate is tax / value added and must not exceed 1")
        for n in ("tax_send", "tax_recv"):
            v = getattr(self, n)
            object.__setattr__(self, n, self.tax_rate if v is None else _pos(n, v))

    @property
    def home_send(self) -> float:
        """Value added the sending side's inputs would produce at home, :math:`r_S K_S`."""
        return self.yield_send * self.k_send

    @property
    def home_recv(self) -> float:
        return self.yield_recv * self.k_recv

    @property
    def surplus(self) -> float:
        """GDP surplus of the park over the inputs' home uses."""
        return self.value_added - self.home_send - self.home_recv


def _share(name: str, s: float) -> float:
    try:
        s = float(s)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number in [0, 1] (got {s!r})") from None
    if not (0.0 <= s <= 1.0):
        raise InputError(f"{name} must lie in [0, 1] (got {s!r})")
    return s


def equity_share(inputs: SharingInputs) -> float:
    """The seed's rule: sending side's equity = its share of contributions :math:`K_S/(K_S+K_R)`."""
    tot = inputs.k_send + inputs.k_recv
    if tot == 0:
        raise InputError("contributions k_send + k_recv must be positive for the equity rule")
    return inputs.k_send / tot


def equal_gain_share(inputs: SharingInputs) -> float:
    """Split giving both sides the same GDP gain, :math:`(V + r_SK_S - r_RK_R)/(2V)`."""
    v = inputs.value_added
    return (v + inputs.home_send - inputs.home_recv) / (2.0 * v)


def credited(inputs: SharingInputs, share: float, tax_share: float | None = None) -> pd.DataFrame:
    """Credited GDP and tax of each side, without and with the enclave, and the gains.

    Returns
    -------
    pandas.DataFrame
        Index ``sending, receiving, total``; columns ``share, gdp, tax,
        gdp_no_enclave, tax_no_enclave, gdp_gain, tax_gain``.
    """
    s = _share("share", share)
    st = s if tax_share is None else _share("tax_share", tax_share)
    v, tau = inputs.value_added, inputs.tax_rate
    rows = {
        "sending": (s, s * v, st * tau * v, inputs.home_send, inputs.tax_send * inputs.home_send),
        "receiving": (
            1 - s,
            (1 - s) * v,
            (1 - st) * tau * v,
            inputs.home_recv,
            inputs.tax_recv * inputs.home_recv,
        ),
    }
    df = pd.DataFrame.from_dict(
        rows, orient="index", columns=["share", "gdp", "tax", "gdp_no_enclave", "tax_no_enclave"]
    )
    df["gdp_gain"] = df["gdp"] - df["gdp_no_enclave"]
    df["tax_gain"] = df["tax"] - df["tax_no_enclave"]
    df.loc["total"] = df.sum()
    return df


@dataclass(frozen=True)
class BreakEven:
    """Break-even splits (sending side's share :math:`s`).

    ``gdp_low``/``gdp_high``: the sending / receiving side's GDP break-even;
    ``tax_low``/``tax_high``: the same for tax (tax shares = GDP shares);
    ``low``/``high``: the interval where both gain on both counts
    (``feasible`` False when empty).
    """

    gdp_low: float
    gdp_high: float
    tax_low: float
    tax_high: float

    @property
    def low(self) -> float:
        return max(self.gdp_low, self.tax_low, 0.0)

    @property
    def high(self) -> float:
        return min(self.gdp_high, self.tax_high, 1.0)

    @property
    def feasible(self) -> bool:
        return self.low <= self.high

    def to_series(self) -> pd.Series:
        return pd.Series(
            {
                "gdp_low": self.gdp_low,
                "gdp_high": self.gdp_high,
                "tax_low": self.tax_low,
                "tax_high": self.tax_high,
                "low": self.low,
                "high": self.high,
                "feasible": self.feasible,
            }
        )


def break_even(inputs: SharingInputs) -> BreakEven:
    """Shares at which each side's gain is exactly zero (module docstring)."""
    v, tau = inputs.value_added, inputs.tax_rate
    gl = inputs.home_send / v
    gh = 1.0 - inputs.home_recv / v
    if tau > 0:
        tl = inputs.tax_send * inputs.home_send / (tau * v)
        th = 1.0 - inputs.tax_recv * inputs.home_recv / (tau * v)
    else:
        tl = 0.0 if inputs.tax_send * inputs.home_send == 0 else math.inf
        th = 1.0 if inputs.tax_recv * inputs.home_recv == 0 else -math.inf
    return BreakEven(gl, gh, tl, th)


def gains_by_split(inputs: SharingInputs, shares: np.ndarray | None = None) -> pd.DataFrame:
    """GDP and tax gains of both sides over a grid of sending shares ``shares`` (default 0..1)."""
    s = np.linspace(0.0, 1.0, 101) if shares is None else np.asarray(shares, dtype=float)
    if ((s < 0) | (s > 1)).any():
        raise InputError("shares must lie in [0, 1]")
    v, tau = inputs.value_added, inputs.tax_rate
    return pd.DataFrame(
        {
            "share": s,
            "gdp_gain_send": s * v - inputs.home_send,
            "gdp_gain_recv": (1 - s) * v - inputs.home_recv,
            "tax_gain_send": s * tau * v - inputs.tax_send * inputs.home_send,
            "tax_gain_recv": (1 - s) * tau * v - inputs.tax_recv * inputs.home_recv,
        }
    )


def sharing_uncertainty(
    inputs: SharingInputs,
    *,
    effect: float,
    se: float,
    base: float,
    share: float,
    n_draws: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Draw the effect from its sampling distribution and recompute the model.

    ``inputs.value_added`` is replaced, draw by draw, by
    :math:`V^{(b)} = B(e^{\\theta^{(b)}} - 1)`, :math:`\\theta^{(b)} \\sim N(\\hat\\theta, se^2)`.
    Draws with :math:`V^{(b)} \\le 0` (the park destroys output) are kept and
    flagged: there no split makes both sides gain.

    Returns
    -------
    pandas.DataFrame
        One row per draw: ``effect, value_added, low, high, feasible,
        both_gain`` (at ``share``), ``gdp_gain_send, gdp_gain_recv``.
    """
    se = _pos("se", se)
    base = _pos("base", base, allow_zero=False)
    s = _share("share", share)
    if isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or n_draws < 1:
        raise InputError(f"n_draws must be a positive integer (got {n_draws!r})")
    rng = np.random.default_rng(seed)
    theta = float(effect) + se * rng.standard_normal(int(n_draws))
    v = base * np.expm1(theta)
    tau = inputs.tax_rate
    with np.errstate(divide="ignore", invalid="ignore"):
        lows = [inputs.home_send / v]
        highs = [1.0 - inputs.home_recv / v]
        if tau > 0:
            lows.append(inputs.tax_send * inputs.home_send / (tau * v))
            highs.append(1.0 - inputs.tax_recv * inputs.home_recv / (tau * v))
    low = np.maximum.reduce([*lows, np.zeros_like(v)])
    high = np.minimum.reduce([*highs, np.ones_like(v)])
    pos = v > 0
    low = np.where(pos, low, np.nan)
    high = np.where(pos, high, np.nan)
    feasible = pos & (low <= high)
    both = feasible & (s >= low) & (s <= high)
    return pd.DataFrame(
        {
            "effect": theta,
            "value_added": v,
            "low": low,
            "high": high,
            "feasible": feasible,
            "both_gain": both,
            "gdp_gain_send": s * v - inputs.home_send,
            "gdp_gain_recv": (1 - s) * v - inputs.home_recv,
        }
    )


def with_value_added(inputs: SharingInputs, value_added: float) -> SharingInputs:
    """The same inputs with another park value added."""
    return replace(inputs, value_added=value_added)


# ------------------------------------------------------------------ plots
def _ax(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        return fig, ax
    return ax.figure, ax


def _corner_label(ax, label: str) -> None:
    """Print ``label`` small in the lower-right corner of a panel (nothing when empty).

    Parameters
    ----------
    ax
        A matplotlib axes.
    label
        E.g. ``ILLUSTRATIVE`` or the data layer of the inputs.
    """
    if label:
        ax.text(
            0.995,
            0.01,
            label,
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color="0.35",
        )


def sharing_plot(inputs: SharingInputs, *, share: float | None = None, ax=None, label: str = ""):
    """Each side's GDP gain against the sending share, with the both-gain band shaded.

    ``share`` marks a chosen split; ``label`` is printed in the corner (e.g.
    "ILLUSTRATIVE inputs"). Returns the figure.
    """
    fig, ax = _ax(ax)
    g = gains_by_split(inputs)
    be = break_even(inputs)
    ax.axhline(0, color="0.6", lw=0.8)
    if be.feasible:
        ax.axvspan(be.low, be.high, color="#d9f0d3", label="both sides gain (GDP and tax)")
    ax.plot(g["share"], g["gdp_gain_send"], color="#2166ac", lw=2, label="sending side")
    ax.plot(g["share"], g["gdp_gain_recv"], color="#b2182b", lw=2, label="receiving side")
    for s, name, ls in (
        (equity_share(inputs) if inputs.k_send + inputs.k_recv > 0 else None, "equity split", "--"),
        (equal_gain_share(inputs), "equal-gain split", ":"),
    ):
        if s is not None and 0 <= s <= 1:
            ax.axvline(s, color="0.25", ls=ls, lw=1, label=f"{name} s={s:.2f}")
    if share is not None:
        ax.axvline(share, color="black", lw=1.5, label=f"chosen split s={share:.2f}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("sending side's equity share s (GDP and tax credited by s)")
    ax.set_ylabel("GDP gain vs no enclave (100 million yuan / year)")
    ax.legend(fontsize=7, loc="upper center", frameon=False)
    _corner_label(ax, label)
    return fig


def uncertainty_plot(draws: pd.DataFrame, *, share: float | None = None, ax=None, label: str = ""):
    """Probability that both sides gain, against the sending share, over effect draws.

    For each share on a grid: the share of draws in which that split lies in the
    both-gain interval. Returns the figure.
    """
    fig, ax = _ax(ax)
    s = np.linspace(0, 1, 201)
    low = draws["low"].to_numpy()[:, None]
    high = draws["high"].to_numpy()[:, None]
    feas = draws["feasible"].to_numpy()[:, None]
    with np.errstate(invalid="ignore"):
        p = (feas & (s[None, :] >= low) & (s[None, :] <= high)).mean(axis=0)
    ax.plot(s, p, color="#1b7837", lw=2)
    ax.fill_between(s, 0, p, color="#1b7837", alpha=0.15)
    if share is not None:
        ax.axvline(share, color="black", lw=1.2, label=f"chosen split s={share:.2f}")
        ax.legend(fontsize=7, frameon=False)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("sending side's equity share s")
    ax.set_ylabel("P(both sides gain) over effect draws")
    _corner_label(ax, label)
    return fig


def break_even_curve(inputs: SharingInputs, effects: np.ndarray, base: float) -> pd.DataFrame:
    """Break-even splits as the log-point effect varies (:math:`V = B(e^\\theta - 1)`).

    Returns ``effect, value_added, low, high, feasible`` (``NaN`` bounds where
    :math:`V \\le 0`).
    """
    rows = []
    for th in np.asarray(effects, dtype=float):
        v = base * math.expm1(th)
        if v <= 0:
            rows.append((th, v, math.nan, math.nan, False))
            continue
        be = break_even(with_value_added(inputs, v))
        rows.append((th, v, be.low, be.high, be.feasible))
    return pd.DataFrame(rows, columns=["effect", "value_added", "low", "high", "feasible"])


def break_even_plot(
    inputs: SharingInputs,
    *,
    base: float,
    effects: np.ndarray,
    estimate: tuple[float, float] | None = None,
    share: float | None = None,
    ax=None,
    label: str = "",
):
    """The both-gain band of splits against the effect size; ``estimate = (att, se)``
    shades its 95% interval. Returns the figure."""
    fig, ax = _ax(ax)
    c = break_even_curve(inputs, effects, base)
    ok = c["feasible"].to_numpy()
    ax.fill_between(
        c["effect"], c["low"], c["high"], where=ok, color="#d9f0d3", label="both sides gain"
    )
    ax.plot(c["effect"], c["low"], color="#2166ac", lw=1.5, label="sending side breaks even")
    ax.plot(c["effect"], c["high"], color="#b2182b", lw=1.5, label="receiving side breaks even")
    if estimate is not None:
        att, se = estimate
        ax.axvspan(
            att - 1.96 * se,
            att + 1.96 * se,
            color="0.85",
            zorder=0,
            label="95% interval of the effect",
        )
        ax.axvline(att, color="0.3", lw=1)
    if share is not None:
        ax.axhline(share, color="black", lw=1.2, ls="--", label=f"chosen split s={share:.2f}")
    ax.set_ylim(0, 1)
    ax.set_xlabel("effect on output (log points)")
    ax.set_ylabel("sending side's equity share s")
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    _corner_label(ax, label)
    return fig
