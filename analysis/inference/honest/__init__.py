r"""Sensitivity of event-study conclusions to violations of parallel trends.

Rambachan & Roth (2023), "A More Credible Approach to Parallel Trends",
*Review of Economic Studies* 90(5), 2555-2591 ("HonestDiD").

The package reads against the paper in order: ``_inputs`` (one validation of
``betahat``/``sigma``), ``_deltas`` (every restriction set as polyhedra, row for
row as R), ``_flci`` (section 4.1), ``_arp`` (section 4.2: the conditional and
hybrid tests, one implementation for every set), ``_api`` (the grid over the
bound, the breakdown value) and ``_results``.

Setting
-------
An event study delivers :math:`\hat\beta = (\hat\beta_{pre}', \hat\beta_{post}')'
\in \mathbb{R}^{\underline T + \bar T}` (the reference period, normalised to
zero, is *excluded*, as in the R package where ``betahat`` has length
``numPrePeriods + numPostPeriods``) with
:math:`\hat\beta \overset{a}{\sim} N(\beta, \Sigma)` and

.. math::

    \beta = \tau + \delta, \qquad \tau_{pre} = 0,

where :math:`\tau_{post}` are the dynamic treatment effects and :math:`\delta`
the (unknown) differential trend. Index periods
:math:`t = -\underline T, \dots, -1, 1, \dots, \bar T` and set
:math:`\delta_0 = 0` for the reference period. The target is
:math:`\theta = l'\tau_{post}` (default :math:`l = e_1`, the first
post-period, as in the R package). Parallel trends (:math:`\delta_{post} = 0`)
is replaced by :math:`\delta \in \Delta`:

*Relative magnitudes* (``"relative_magnitude"``, R ``DeltaRM``):

.. math::

    \Delta^{RM}(\bar M) = \Big\{\delta :\ |\delta_{t} - \delta_{t-1}|
       \le \bar M \max_{s \le 0} |\delta_{s} - \delta_{s-1}|
       \ \ \forall\, t \ge 1 \Big\},

post-treatment period-to-period violations are at most :math:`\bar M` times
the largest pre-treatment one.

*Smoothness* (``"smoothness"``, R ``DeltaSD``):

.. math::

    \Delta^{SD}(M) = \Big\{\delta :\ |(\delta_{t+1} - \delta_t)
       - (\delta_t - \delta_{t-1})| \le M
       \ \ \forall\, t = -\underline T + 1, \dots, \bar T - 1 \Big\},

the slope of the differential trend changes by at most :math:`M` per period
(:math:`M = 0`: exactly linear trends, extrapolated from the pre-period).

*Smoothness + relative magnitudes* (``bound="linear_trend"``, R
``DeltaSDRM``): :math:`|\Delta^2\delta_t| \le \bar M \max_{s<0}|\Delta^2\delta_s|`
for the post-period second differences (:math:`t \ge 0`), the change in slope
after treatment at most :math:`\bar M` times the largest before it.

*Sign and monotonicity* (``bias_direction``, ``monotonicity_direction``; R
``biasDirection``, ``monotonicityDirection``) intersect either family with
:math:`\{\delta_{post} \ge 0\}` (or :math:`\le 0`) or
:math:`\{\delta_{t-1} \le \delta_t\ \forall t\}` (or :math:`\ge`): R's
``DeltaSDPB``/``DeltaSDNB``/``DeltaSDI``/``DeltaSDD``, ``DeltaRMPB`` ...
``DeltaSDRMD``.

Confidence sets (the R package's defaults)
------------------------------------------
``smoothness`` (no shape restriction) -> **FLCI**, the optimal fixed-length affine confidence interval
of Armstrong & Kolesár (2018, 2020):
:math:`\hat\theta_v = v'\hat\beta_{pre} + l'\hat\beta_{post}` with worst-case
bias :math:`b(v) = \sup_{\delta \in \Delta^{SD}(M)} |v'\delta_{pre} +
l'\delta_{post}|` and standard deviation
:math:`h(v) = \sqrt{(v', l')\,\Sigma\,(v', l')'}`; the interval
:math:`\hat\theta_v \pm h(v)\, \mathrm{cv}_\alpha(b(v)/h(v))`, where
:math:`\mathrm{cv}_\alpha(t)` is the :math:`1-\alpha` quantile of
:math:`|N(t, 1)|`, is minimised over :math:`v`. Writing
:math:`\delta_t = c\,t + \sum_j s_j \phi_j(t)` with second differences
:math:`|s_j| \le M` and kink functions :math:`\phi_j(t) = (t-j)_+` for
:math:`j \ge 0`, :math:`(j-t)_+` for :math:`j < 0`, the bias is finite only if
:math:`\sum_{t<0} v_t t + \sum_{t>0} l_t t = 0` and then equals

.. math::

    b(v) = M\Big(\sum_{j=0}^{\bar T - 1}\Big|\sum_{t>j} l_t (t-j)\Big|
         + \sum_{j=-\underline T+1}^{-1}\Big|\sum_{t<j} v_t (j-t)\Big|\Big).

:math:`h\,\mathrm{cv}_\alpha(b/h)` is jointly convex and non-decreasing in
:math:`(b, h)`, so the length is a convex function of :math:`v`; it is
minimised exactly (SLSQP on the epigraph form of the :math:`\ell_1` term, with
analytic gradients and an exact folded-normal quantile; R uses CVXR over a
grid/bisection in :math:`h` and a simulated quantile).

``smoothness`` with a sign or monotonicity restriction -> **C-F**, the
conditional-FLCI hybrid (ARP with the level-:math:`\kappa` FLCI as first stage,
on a grid spanning that FLCI, as R); every relative-magnitude set -> **C-LF**.

``relative_magnitude`` -> **C-LF**, the conditional-least-favourable hybrid
test of Andrews, Roth & Pakes (2023, "ARP"), inverted over a grid of
:math:`\theta`. :math:`\Delta^{RM}(\bar M)` is the union over the location
:math:`s \in \{-\underline T + 1, \dots, 0\}` and sign of the largest
pre-period difference of polyhedra :math:`\{A_{s,\pm}\delta \le 0\}`; the
confidence set is the union of the ARP sets for each piece (R
``computeConditionalCS_DeltaRM``). For a piece :math:`\{A\delta \le d\}`, the
null :math:`l'\tau_{post} = \theta` is the moment inequality
:math:`E[A\hat\beta - d - a_1\theta] - X\tilde\tau \le 0` with nuisance
:math:`\tilde\tau \in \mathbb{R}^{\bar T - 1}` (only the moments involving
post-periods are used, R's ``postPeriodMomentsOnly``). The statistic
:math:`\hat\eta = \min_{\tilde\tau}\max_i (y_i - X_i\tilde\tau)/\sigma_i`
equals :math:`\max_\gamma \gamma'\tilde y` over the vertices of
:math:`\{\gamma \ge 0, 1'\gamma = 1, \tilde X'\gamma = 0\}`; conditioning on
the optimal vertex gives a truncated normal, whose truncation points
:math:`[V^{lo}, V^{up}]` are computed exactly from the vertex list (R uses a
bisection). The first stage rejects when :math:`\hat\eta` exceeds the
:math:`1-\kappa` quantile of its least-favourable (mean-zero) null
distribution (simulated, ``lf_sims`` draws, ``seed``; :math:`\kappa =
\alpha/10`), the second stage uses size :math:`(\alpha-\kappa)/(1-\kappa)` and
:math:`V^{up}` capped at that quantile. The accepted set is found on a grid of
``grid_points`` values (default 1000, as R) spanning the identified set plus
20 standard errors on each side, and each end point is then refined by
repeated sub-gridding, so the reported bounds carry no grid discretisation
error (R reports grid points: its bounds are inside ours by up to one grid
step). Like R, the reported interval is the hull of the accepted set.

Differences from R's defaults, on purpose: the least-favourable critical value
uses 100,000 draws (R: 1,000; with the vertex list the draws are cheap,
while the 1,000-draw :math:`0.995` quantile moves the end points by up to
about 3% of a standard error in the README example -- one R grid step); the
folded-normal quantile is exact (R: :math:`10^6` draws).
The vertex enumeration visits :math:`\binom{m}{\bar T}` supports
(:math:`m` moments); above 400,000 the same test is evaluated by linear
programs instead (``_arp``: dual simplex for :math:`\hat\eta` and its vertex,
exact Newton steps for :math:`V^{lo}, V^{up}`; a 101-point initial grid), which
is how the 23 post-periods of R's vignette example run. There the
least-favourable critical value costs one LP per draw: pass a smaller
``lf_sims`` (R: 1,000) for C-LF on such problems.

Every set and method is checked against R's own stored vignette results in
``tests/test_honest_restrictions.py`` (provenance and tolerances there).

Breakdown value: the smallest :math:`M` (or :math:`\bar M`) at which the robust
interval contains zero: the first grid value whose interval contains zero and
its predecessor bracket the crossing, which Brent's method then locates.
"""

from __future__ import annotations

from analysis.inference.honest._api import (
    METHODS as METHODS,
)
from analysis.inference.honest._api import (
    RESTRICTIONS as RESTRICTIONS,
)
from analysis.inference.honest._api import (
    BiasDirection,
    Bound,
    Method,
    MonotonicityDirection,
    Restriction,
    honest_did,
    honest_from_result,
    rm_confidence_set,
    rm_identified_set,
)

# private names re-exported for the property tests (tests/test_honest*.py)
from analysis.inference.honest._arp import _MAX_SUPPORTS as _MAX_SUPPORTS
from analysis.inference.honest._arp import _ARPPiece as _ARPPiece
from analysis.inference.honest._arp import _draws as _draws
from analysis.inference.honest._arp import _tn_quantile as _tn_quantile
from analysis.inference.honest._deltas import _rm_id_set as _rm_id_set
from analysis.inference.honest._deltas import _rm_pieces as _rm_pieces
from analysis.inference.honest._deltas import _sdrm_pieces as _sdrm_pieces
from analysis.inference.honest._flci import (
    FLCIResult,
    flci,
    folded_normal_quantile,
    sd_default_grid_bound,
)
from analysis.inference.honest._flci import _flci as _flci
from analysis.inference.honest._flci import _sd_bias_terms as _sd_bias_terms
from analysis.inference.honest._inputs import original_ci
from analysis.inference.honest._results import TABLE_COLUMNS as TABLE_COLUMNS
from analysis.inference.honest._results import HonestResult

__all__ = [
    "HonestResult",
    "FLCIResult",
    "honest_did",
    "honest_from_result",
    "original_ci",
    "flci",
    "rm_confidence_set",
    "rm_identified_set",
    "folded_normal_quantile",
    "sd_default_grid_bound",
    "Restriction",
    "Method",
    "BiasDirection",
    "MonotonicityDirection",
    "Bound",
]
