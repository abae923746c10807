r"""Annual study: enclaves and county income, employment and R&D (staggered DiD).

Data
----
The annual county panel of :mod:`analysis.data.annual` (one row per county and
year, 2010-2023 on the twin): the calibrated synthetic "Zhejiang twin" by
default, or a real panel keyed in from the Zhejiang Statistical Yearbook when a
complete file is present in ``data/raw/yearbook/``. Every table, figure and
sentence made here names its layer; on the twin they say SYNTHETIC and read as
a methods demonstration and a power analysis, never as findings.

Design
------
A mountain county is treated from ``cohort``, the first year it has an enclave
under the panel's default annual treatment rule (imputed years flagged in
``timing_imputed``). Units treated in or before the first panel year (磐安's
1995 扶贫飞地) are treated throughout and are dropped. Two comparison groups:

``notyet``  mountain counties not yet treated in the year compared -- the most
            credible comparison (same programme and terrain);
``never``   counties never treated in the panel: the other 64 non-mountain
            units and any mountain county without a dated enclave. *Caveat*:
            the non-mountain counties are the developed partner areas that host
            the enclaves, so spill-overs from the enclave onto the host (and
            their different growth paths) can bias this comparison.

The main sample holds every unit (``sample="all"``); ``sample="mountain"``
keeps only the 26 mountain counties, so that the comparison is purely
not-yet-treated mountain counties.

Estimators (one registry, :mod:`analysis.estimators`), for outcome
:math:`Y_{it}`, unit effects :math:`\alpha_i`, year effects :math:`\lambda_t`,
:math:`D_{it} = 1\{G_i > 0, t \ge G_i\}`:

* static TWFE :math:`Y_{it} = \alpha_i + \lambda_t + \beta D_{it} + \varepsilon_{it}`;
* TWFE event study with binned end-points, window :data:`WINDOW`;
* Callaway-Sant'Anna ATT(g,t) (doubly robust, universal base period) with the
  never-treated and with the not-yet-treated comparison; the not-yet-treated
  version is the **main** estimator (:data:`MAIN`);
* Sun-Abraham interaction-weighted, BJS imputation, Gardner two-stage.

The *simple* ATT of CS, SA and BJS/Gardner is the average of
:math:`ATT(g,t)` over all treated county-years (cohort-size weights), the same
estimand; on the twin its true value is computed from the true ATT(g,t) with
the cohort sizes of the estimation sample (:func:`true_aggregates`).

Inference
---------
Analytic standard errors clustered by county; the static TWFE and the main CS
ATT are also reported clustered by prefecture (11 clusters), with a
restricted wild cluster bootstrap over prefectures (Webb weights, 999 draws)
and randomisation inference over adoption timing (ever-treated counties
exchange adoption years; 999 draws). Draws use seed :data:`DRAW_SEED`.
Multiple testing across the eight outcomes of notebooks 03-05: Holm and
Benjamini-Hochberg on the analytic p-values, Romano-Wolf on the
randomisation draws (the same permutations for every outcome).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import InputError

Sample = Literal["all", "mountain"]
Layer = Literal["auto", "synthetic", "yearbook"]
Scenario = Literal["effects", "null"]

UNIT, TIME, COHORT, CLUSTER = "code", "year", "cohort", "prefecture"
#: the twin's default seed (analysis.data.annual contract)
TWIN_SEED = 20260101
#: seed of every resampling draw of the study (wild bootstrap, RI, bands, power)
DRAW_SEED = 0
#: wild-bootstrap and randomisation draws
N_DRAWS = 999
#: simulated panels per MDE
N_POWER_SIMS = 200
#: event window of the event-study table, figure and HonestDiD
WINDOW = (-5, 5)
#: covariates of the doubly-robust CS estimator (none: the DR, IPW and
#: regression estimators then coincide; see the module docstring of cs.py)
COVARIATES: tuple[str, ...] = ()
ALPHA = 0.05
NO_RAILWAY_ZH = ("云和县", "景宁畲族自治县", "文成县", "泰顺县")


@dataclass(frozen=True)
class Outcome:
    """One outcome of the family.

    ``truth`` says what the twin knows about it: ``exact`` (a log outcome the
    twin gives an effect, with parallel trends by construction), ``derived``
    (a transformation of effect outcomes: the true ATT is known exactly for the
    realised panel, but parallel trends hold only approximately) or ``none``
    (an anchored series: no effect by design, but its county paths are not
    parallel by construction, so it is no known-truth test).
    """

    name: str
    label: str
    notebook: str
    unit: str
    log: bool
    truth: str = "exact"


#: the outcome family of notebooks 03 (income), 04 (employment) and 05 (R&D and output)
OUTCOMES: Mapping[str, Outcome] = MappingProxyType(
    {
        o.name: o
        for o in (
            Outcome("log_urban_income", "log urban disposable income per capita", "income", "log points", True),
            Outcome("log_rural_income", "log rural disposable income per capita", "income", "log points", True),
            Outcome("urban_rural_ratio", "urban-rural income ratio", "income", "ratio", False, "derived"),
            Outcome("log_employment", "log employed persons", "employment", "log points", True),
            Outcome("rd_intensity", "R&D intensity (% of GDP)", "rd", "percentage points", False, "none"),
            Outcome("log_rd", "log R&D expenditure", "rd", "log points", True),
            Outcome("log_gdp", "log GDP (current prices)", "rd", "log points", True, "none"),
            Outcome("log_fiscal", "log fiscal revenue", "rd", "log points", True, "none"),
        )
    }
)
NOTEBOOK_TITLES = {"income": "03 — income", "employment": "04 — employment", "rd": "05 — R&D and output"}


def outcomes_of(notebook: str) -> tuple[str, ...]:
    """The outcomes of one notebook (``income``, ``employment``, ``rd``)."""
    if notebook not in NOTEBOOK_TITLES:
        raise InputError(f"unknown notebook {notebook!r}; use income, employment or rd")
    return tuple(o for o, v in OUTCOMES.items() if v.notebook == notebook)


# --------------------------------------------------------------------- specs
@dataclass(frozen=True)
class Spec:
    key: str
    label: str
    method: str
    options: Mapping[str, Any]
    comparison: str


SPECS: tuple[Spec, ...] = (
    Spec("twfe", "Static TWFE", "twfe", {}, "never + not-yet + already treated"),
    Spec("event", "TWFE event study (mean of e=0..5)", "event", {"window": WINDOW}, "never + not-yet + already treated"),
    Spec("cs_never", "Callaway-Sant'Anna, never treated (dr)", "cs",
         {"control": "never", "est_method": "dr", "base_period": "universal"}, "never treated"),
    Spec("cs_notyet", "Callaway-Sant'Anna, not yet treated (dr)", "cs",
         {"control": "notyet", "est_method": "dr", "base_period": "universal"}, "never + not-yet treated"),
    Spec("sa", "Sun-Abraham (IW)", "sa", {}, "never treated (last cohort if none)"),
    Spec("bjs", "BJS imputation", "bjs", {"pretrends": 0}, "never + not-yet treated"),
    Spec("gardner", "Gardner two-stage", "gardner", {}, "never + not-yet treated"),
)
SPEC = {s.key: s for s in SPECS}
#: the main estimator (event study for HonestDiD, RI statistic, family table)
MAIN = "cs_notyet"
#: estimators whose simple ATT estimates the average ATT over treated county-years
ROBUST = ("cs_never", "cs_notyet", "sa", "bjs", "gardner")
PRE_LEADS = 4


# ---------------------------------------------------------------------- data
@dataclass(frozen=True)
class AnnualData:
    """The annual panel with derived outcomes and, on the twin, the true effects.

    Attributes
    ----------
    panel
        One row per (code, year): the contract's columns plus the derived
        outcomes of :data:`OUTCOMES` and ``name_en``.
    layer
        ``"synthetic"`` or ``"real"``.
    scenario, seed, source
        From the loader (``scenario``/``seed`` only meaningful on the twin).
    truth
        :func:`analysis.data.annual.true_effects` output on the twin, else ``None``.
    """

    panel: pd.DataFrame
    layer: str
    scenario: str = "effects"
    seed: int | None = None
    source: str = ""
    truth: Mapping[str, pd.DataFrame] | None = None

    @property
    def synthetic(self) -> bool:
        return self.layer != "real"

    @property
    def label(self) -> str:
        """The data-layer label every table and figure carries."""
        if self.synthetic:
            return f"SYNTHETIC (Zhejiang twin, scenario {self.scenario}, seed {self.seed})"
        return "REAL (Zhejiang Statistical Yearbook panel)"

    @property
    def short(self) -> str:
        return "SYNTHETIC" if self.synthetic else "REAL"

    def banner(self) -> str:
        """The banner notebooks print at the top."""
        bar = "=" * 78
        if self.synthetic:
            body = (
                f"DATA LAYER: SYNTHETIC -- the calibrated Zhejiang twin (scenario '{self.scenario}', "
                f"seed {self.seed}).\nEffects are set by code; nothing below is a finding about "
                "Zhejiang. Drop a complete\nyearbook panel into data/raw/yearbook/ and the same "
                "notebook reads it."
            )
        else:
            body = f"DATA LAYER: REAL -- annual county panel from the yearbook layer.\nSource: {self.source}"
        return f"{bar}\n{body}\n{bar}"


def add_outcomes(panel: pd.DataFrame) -> pd.DataFrame:
    """Add the derived outcomes (logs of positive levels, the urban-rural ratio)."""
    need = ["urban_income", "rural_income", "employment", "rd_expenditure", "gdp", "fiscal_revenue",
            "rd_intensity"]
    missing = [c for c in need if c not in panel.columns]
    if missing:
        raise InputError(f"annual panel lacks column(s) {', '.join(missing)}")
    out = panel.copy()

    def log(col: str) -> np.ndarray:
        v = pd.to_numeric(out[col], errors="coerce").to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(v > 0, np.log(np.where(v > 0, v, 1.0)), np.nan)

    out["log_urban_income"] = log("urban_income")
    out["log_rural_income"] = log("rural_income")
    out["urban_rural_ratio"] = pd.to_numeric(out["urban_income"]) / pd.to_numeric(out["rural_income"])
    out["log_employment"] = log("employment")
    out["log_rd"] = log("rd_expenditure")
    out["log_gdp"] = log("gdp")
    out["log_fiscal"] = log("fiscal_revenue")
    out["rd_intensity"] = pd.to_numeric(out["rd_intensity"], errors="coerce")
    return out


def _english_names() -> pd.Series:
    from analysis.data import registry

    c = registry.load_counties()
    return c.set_index("code")["name_en_short"]


def derived_truth(panel: pd.DataFrame, effects: pd.DataFrame) -> pd.DataFrame:
    """True ATT(g,t) of the outcomes derived from the twin's effect outcomes.

    From the unit-level log effects :math:`\tau^v_{it}` (``effects``) and the
    observed panel: the urban-rural ratio :math:`R = e^{u}/e^{r}` has
    :math:`R_{it}(1) - R_{it}(0) = R_{it}(1 - e^{-(\tau^u_{it} - \tau^r_{it})})`;
    R&D intensity :math:`100\,RD/GDP` (GDP carries no effect) has
    :math:`RDI_{it}(1 - e^{-\tau^{rd}_{it}})`; log GDP and log fiscal revenue have
    zero effect by design. Averaged over each cohort's counties (the sample ATT).
    """
    tau = effects.pivot_table(index=["code", "year"], columns="outcome", values="tau")
    p = panel.set_index([UNIT, TIME])
    p = p[(p[COHORT] > 0) & (p.index.get_level_values(TIME) >= p[COHORT])]
    tu = tau.reindex(p.index)
    rows = []
    parts = {
        "urban_rural_ratio": p["urban_rural_ratio"]
        * (1 - np.exp(-(tu["log_urban_income"] - tu["log_rural_income"]))),
        "rd_intensity": p["rd_intensity"] * (1 - np.exp(-tu["log_rd"])),
        "log_gdp": pd.Series(0.0, index=p.index),
        "log_fiscal": pd.Series(0.0, index=p.index),
    }
    for name, v in parts.items():
        a = pd.DataFrame({"cohort": p[COHORT].to_numpy(), "time": p.index.get_level_values(TIME),
                          "att": v.to_numpy(float)})
        a = a.groupby(["cohort", "time"], as_index=False)["att"].mean()
        a.insert(0, "outcome", name)
        a["event"] = a["time"] - a["cohort"]
        a["post"] = True
        rows.append(a)
    return pd.concat(rows, ignore_index=True)


def from_frame(panel: pd.DataFrame, truth: Mapping[str, pd.DataFrame] | None = None) -> AnnualData:
    """Wrap a loaded annual panel (``attrs`` name its layer) for the study."""
    attrs = dict(panel.attrs)
    layer = str(attrs.get("data_layer") or panel["data_layer"].iloc[0])
    layer = "real" if layer == "real" else "synthetic"
    p = add_outcomes(panel)
    names = _english_names()
    p["name_en"] = p[UNIT].map(names).fillna(p[UNIT].astype(str))
    p = p.sort_values([UNIT, TIME], kind="mergesort").reset_index(drop=True)
    p.attrs = attrs
    if truth is not None and "effects" in truth and layer != "real":
        have = set(truth["att_gt"]["outcome"])
        extra = derived_truth(p, truth["effects"])
        extra = extra[~extra["outcome"].isin(have)]
        truth = {**truth, "att_gt": pd.concat([truth["att_gt"], extra], ignore_index=True)}
    return AnnualData(
        panel=p,
        layer=layer,
        scenario=str(attrs.get("scenario", "effects")),
        seed=attrs.get("seed"),
        source=str(attrs.get("source", "")),
        truth=None if layer == "real" else (None if truth is None else MappingProxyType(dict(truth))),
    )


def load(layer: Layer = "auto", scenario: Scenario = "effects", seed: int = TWIN_SEED) -> AnnualData:
    """Load the annual panel (:func:`analysis.data.annual.load_annual_panel`) for the study."""
    from analysis.data import annual

    panel = annual.load_annual_panel(layer=layer, scenario=scenario, seed=seed)
    truth = None
    if panel.attrs.get("data_layer") != "real":
        truth = annual.true_effects(scenario=scenario, seed=seed)
    return from_frame(panel, truth)


# -------------------------------------------------------------------- design
def first_year(data: AnnualData) -> int:
    return int(data.panel[TIME].min())


def sample_frame(data: AnnualData, sample: Sample = "all") -> pd.DataFrame:
    """Estimation sample: drops units treated in or before the first panel year."""
    if sample not in ("all", "mountain"):
        raise InputError(f"unknown sample {sample!r}; use all or mountain")
    p = data.panel
    t0 = first_year(data)
    keep = ~p[COHORT].between(1, t0)
    if sample == "mountain":
        keep &= p["mountain26"].astype(bool)
    return p.loc[keep].reset_index(drop=True)


@dataclass(frozen=True)
class Design:
    """Counts and words of the design (one per data set)."""

    n_units: int
    n_years: int
    years: tuple[int, int]
    n_mountain: int
    n_treated: int
    n_never_mountain: int
    n_non_mountain: int
    n_dropped_always: int
    dropped_names: tuple[str, ...]
    n_imputed: int
    cohorts: pd.DataFrame
    n_prefectures: int
    n_treated_prefectures: int
    rule: str

    def lines(self) -> list[str]:
        return [
            f"Panel: {self.n_units} units x {self.n_years} years ({self.years[0]}-{self.years[1]}).",
            f"Treatment: {self.rule}.",
            f"Treated: {self.n_treated} mountain counties in {len(self.cohorts)} cohorts "
            f"({self.n_imputed} with imputed timing); dropped as treated throughout: "
            + (", ".join(self.dropped_names) or "none") + ".",
            f"Comparisons: not-yet-treated mountain counties (the main comparison); never treated: "
            f"{self.n_non_mountain} non-mountain counties (the partner areas hosting the enclaves, "
            f"so spill-overs can bias them) and {self.n_never_mountain} mountain counties without a "
            "dated enclave.",
            f"Clusters: {self.n_units - self.n_dropped_always} counties; {self.n_prefectures} "
            f"prefectures, {self.n_treated_prefectures} with treated counties.",
        ]


def design(data: AnnualData) -> Design:
    p = data.panel
    units = p.drop_duplicates(UNIT)
    t0, t1 = first_year(data), int(p[TIME].max())
    always = units[units[COHORT].between(1, t0)]
    u = units[~units[COHORT].between(1, t0)]
    tr = u[u[COHORT] > 0]
    cohorts = (
        tr.groupby(COHORT)
        .agg(n_units=(UNIT, "size"), n_imputed=("timing_imputed", "sum"),
             counties=("name_en", lambda s: ", ".join(s)))
        .reset_index()
    )
    cohorts["n_imputed"] = cohorts["n_imputed"].astype(int)
    rule = str(p.attrs.get("rule", "")) or _rule_text()
    return Design(
        n_units=len(units),
        n_years=t1 - t0 + 1,
        years=(t0, t1),
        n_mountain=int(units["mountain26"].sum()),
        n_treated=len(tr),
        n_never_mountain=int(((u[COHORT] == 0) & u["mountain26"]).sum()),
        n_non_mountain=int((~u["mountain26"].astype(bool)).sum()),
        n_dropped_always=len(always),
        dropped_names=tuple(always["name_en"]),
        n_imputed=int(tr["timing_imputed"].astype(bool).sum()),
        cohorts=cohorts,
        n_prefectures=int(u[CLUSTER].nunique()),
        n_treated_prefectures=int(tr[CLUSTER].nunique()),
        rule=rule,
    )


def _rule_text() -> str:
    try:
        from analysis.data.annual import ANNUAL_RULE
    except ImportError:  # pragma: no cover - the loader is always there in a release
        return "first enclave year under the panel's default annual rule"
    return ANNUAL_RULE.describe()


#: status codes of the treatment-timing picture
STATUS = {0: "never treated (non-mountain)", 1: "never treated (mountain)", 2: "not yet treated",
          3: "treated", 4: "treated throughout (dropped)"}


def timing_status(data: AnnualData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Units x years status codes (:data:`STATUS`) and the imputed-timing mask.

    Rows: mountain counties ordered by cohort (never last), then the
    non-mountain counties; labelled by English short name.
    """
    p = data.panel
    t0 = first_year(data)
    units = p.drop_duplicates(UNIT).copy()
    units["order"] = np.select(
        [units["mountain26"] & (units[COHORT] > 0), units["mountain26"]], [0, 1], 2
    )
    units["g"] = units[COHORT].where(units[COHORT] > 0, 9999)
    units = units.sort_values(["order", "g", UNIT], kind="mergesort")
    years = np.sort(p[TIME].unique())
    g = units[COHORT].to_numpy()[:, None]
    mt = units["mountain26"].to_numpy(bool)[:, None]
    yy = years[None, :]
    code = np.where(
        (g > 0) & (g <= t0), 4,
        np.where(g > 0, np.where(yy >= g, 3, 2), np.where(mt, 1, 0)),
    )
    code = np.broadcast_to(code, (len(units), len(years)))
    idx = pd.Index(units["name_en"].to_numpy(), name="unit")
    status = pd.DataFrame(code, index=idx, columns=years)
    imp = pd.DataFrame(
        np.broadcast_to(units["timing_imputed"].astype(bool).to_numpy()[:, None] & (code >= 3),
                        code.shape),
        index=idx,
        columns=years,
    )
    return status, imp


# ----------------------------------------------------------------- estimation
def fit(data: AnnualData, outcome: str, spec: str | Spec, sample: Sample = "all", **extra: Any):
    """Fit one estimator spec on one outcome (clustered by county unless ``cluster``)."""
    from analysis.estimators import get_estimator

    s = SPEC[spec] if isinstance(spec, str) else spec
    d = sample_frame(data, sample)
    opts = dict(s.options)
    if s.method == "cs" and COVARIATES:
        opts["covariates"] = COVARIATES
    opts.update(extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_estimator(s.method)(
            d, outcome=outcome, unit=UNIT, time=TIME, cohort=COHORT,
            data_layer=data.label, **opts,
        )


def fit_all(data: AnnualData, outcome: str, sample: Sample = "all") -> dict[str, Any]:
    """Every spec of :data:`SPECS` (a spec that is not identified maps to its error text)."""
    out: dict[str, Any] = {}
    for s in SPECS:
        try:
            out[s.key] = fit(data, outcome, s, sample)
        except InputError as e:
            out[s.key] = str(e)
    try:
        out["bjs_pre"] = fit(data, outcome, "bjs", sample, pretrends=PRE_LEADS)
    except InputError as e:
        out["bjs_pre"] = str(e)
    return out


def true_aggregates(data: AnnualData, outcome: str, sample: Sample = "all") -> dict[str, Any] | None:
    """True simple ATT and dynamic effects for the estimation sample (twin only).

    ``simple`` = :math:`\\sum_{g,t \\ge g} n_g ATT(g,t) / \\sum n_g` over the
    cohorts and years of the sample (the estimand of the CS, SA, BJS and
    Gardner simple ATT); ``dynamic`` = the same average at each event time.
    """
    if data.truth is None:
        return None
    att = data.truth["att_gt"]
    att = att[att["outcome"] == outcome]
    if att.empty:
        return None
    d = sample_frame(data, sample)
    sizes = d.drop_duplicates(UNIT).groupby(COHORT)[UNIT].size()
    sizes = sizes[sizes.index > 0]
    t0, t1 = int(d[TIME].min()), int(d[TIME].max())
    a = att[att["cohort"].isin(sizes.index) & (att["time"] >= att["cohort"])
            & att["time"].between(t0, t1)].copy()
    a["w"] = a["cohort"].map(sizes).astype(float)
    a["event"] = a["time"] - a["cohort"]
    simple = float(np.average(a["att"], weights=a["w"]))
    dyn = a.groupby("event").apply(lambda s: np.average(s["att"], weights=s["w"]), include_groups=False)
    return {"simple": simple, "dynamic": dyn.rename("att"), "att_gt": a}


def _sup_t(V: np.ndarray, se: np.ndarray, seed: int = DRAW_SEED, n: int = 10_000) -> float:
    """Sup-t critical value of a simultaneous band from a covariance matrix.

    Draws :math:`Z \\sim N(0, V)` (seeded) and takes the :math:`1-\\alpha`
    quantile of :math:`\\max_k |Z_k|/se_k` (Montiel Olea and Plagborg-Moller
    2019), via :func:`analysis.inference.multiplier.sup_t_critical_value`.
    """
    from analysis.inference.multiplier import sup_t_critical_value

    rng = np.random.default_rng(seed)
    k = V.shape[0]
    w, Q = np.linalg.eigh((V + V.T) / 2)
    L = Q * np.sqrt(np.clip(w, 0, None))
    Z = rng.standard_normal((n, k)) @ L.T
    return float(sup_t_critical_value(Z, se, ALPHA))


def event_frame(results: Mapping[str, Any], window: tuple[int, int] = WINDOW) -> pd.DataFrame:
    """Event-study coefficients of every dynamic estimator in the window, with bands.

    Columns ``estimator, label, event, estimate, std_error, conf_low, conf_high,
    band_low, band_high, band`` (``sup-t`` when a covariance was available,
    else ``pointwise``). BJS leads come from its pre-trend regression.
    """
    z = stats.norm.ppf(1 - ALPHA / 2)
    rows = []
    for key in ("event", "cs_never", "cs_notyet", "sa", "bjs", "gardner"):
        r = results.get(key)
        if not hasattr(r, "aggregates") or "dynamic" not in r.aggregates:
            continue
        agg = r.aggregates["dynamic"]
        by = agg.by.copy()
        V = agg.vcov
        if key == "bjs":
            pre = results.get("bjs_pre")
            if hasattr(pre, "aggregates"):
                lead = pre.aggregates["dynamic"].by
                lead = lead[lead["event"] < 0]
                by = pd.concat([lead, by], ignore_index=True)
                V = None if V is None else ("post", V)
        by = by[(by["event"] >= window[0]) & (by["event"] <= window[1])]
        by = by.assign(ok=np.isfinite(by["se"]) & (by["se"] > 0))
        crit = z
        band = "pointwise"
        if V is not None:
            full = agg.by["event"].to_numpy()
            if isinstance(V, tuple):  # BJS: band over the horizons only
                V = V[1]
                sel_ev = by.loc[by["ok"] & (by["event"] >= 0), "event"].to_numpy()
            else:
                sel_ev = by.loc[by["ok"], "event"].to_numpy()
            ii = [int(np.flatnonzero(full == e)[0]) for e in sel_ev if (full == e).any()]
            if len(ii) >= 2:
                Vs = np.asarray(V)[np.ix_(ii, ii)]
                crit = max(_sup_t(Vs, np.sqrt(np.diag(Vs))), z)
                band = "sup-t"
        lab = SPEC[key].label.replace(" (mean of e=0..5)", "")
        for rr in by.itertuples(index=False):
            se = rr.se if rr.ok else np.nan
            c = crit if (band == "sup-t" and (key != "bjs" or rr.event >= 0)) else z
            rows.append({
                "estimator": key, "label": lab, "event": int(rr.event), "estimate": float(rr.att),
                "std_error": float(se),
                "conf_low": rr.att - z * se, "conf_high": rr.att + z * se,
                "band_low": rr.att - c * se, "band_high": rr.att + c * se,
                "band": band if c != z or band == "pointwise" else "pointwise",
            })
        if key in ("cs_never", "cs_notyet") and not (by["event"] == -1).any():
            pass
    return pd.DataFrame(rows)


def main_table(results: Mapping[str, Any], truth: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Estimator x simple ATT, SE, 95% CI, p (and the truth, bias, coverage on the twin)."""
    z = stats.norm.ppf(1 - ALPHA / 2)
    rows = []
    for s in SPECS:
        r = results.get(s.key)
        row: dict[str, Any] = {"estimator": s.key, "label": s.label, "comparison": s.comparison}
        if not hasattr(r, "att"):
            row.update(att=np.nan, se=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan,
                       n_units=0, note=str(r))
        else:
            row.update(att=r.att, se=r.se, ci_low=r.att - z * r.se, ci_high=r.att + z * r.se,
                       p_value=float(2 * stats.norm.sf(abs(r.att / r.se))) if r.se > 0 else np.nan,
                       n_units=r.n_units, note="")
        rows.append(row)
    out = pd.DataFrame(rows)
    if truth is not None:
        tv = np.full(len(out), truth["simple"])
        dyn = truth["dynamic"]
        post = dyn[(dyn.index >= 0) & (dyn.index <= WINDOW[1])]
        tv[out["estimator"] == "event"] = float(post.mean()) if len(post) else np.nan
        out["truth"] = tv
        out["bias"] = out["att"] - out["truth"]
        out["covers_truth"] = (out["ci_low"] <= out["truth"]) & (out["truth"] <= out["ci_high"])
    return out


# ------------------------------------------------------------------ Bacon
def bacon(data: AnnualData, outcome: str, sample: Sample = "all"):
    """Goodman-Bacon decomposition of the static TWFE coefficient."""
    from analysis.estimators.bacon import bacon_decomposition

    return bacon_decomposition(
        sample_frame(data, sample), outcome=outcome, unit=UNIT, time=TIME, cohort=COHORT,
        data_layer=data.label,
    )


def bacon_truth(data: AnnualData, outcome: str, sample: Sample = "all"):
    """The decomposition applied to the *true* effects (twin only).

    TWFE is linear in the outcome and, in a balanced panel without covariates,
    its weight on :math:`Y_{it}` depends only on the unit's cohort and the year.
    So under parallel trends its expectation is the TWFE coefficient of the
    noise-free panel :math:`Y_{it} = ATT(G_i, t) D_{it}`: decomposing that panel
    shows the bias TWFE *should* have (``twfe - true simple ATT``) and which
    comparisons cause it.
    """
    from analysis.estimators.bacon import bacon_decomposition

    tr = true_aggregates(data, outcome, sample)
    if tr is None:
        return None
    d = sample_frame(data, sample)[[UNIT, TIME, COHORT]].copy()
    cell = tr["att_gt"].set_index(["cohort", "time"])["att"]
    key = pd.MultiIndex.from_arrays([d[COHORT], d[TIME]])
    d["tau"] = np.nan_to_num(cell.reindex(key).to_numpy(float), nan=0.0)
    d.loc[(d[COHORT] == 0) | (d[TIME] < d[COHORT]), "tau"] = 0.0
    return bacon_decomposition(d, outcome="tau", unit=UNIT, time=TIME, cohort=COHORT,
                               data_layer=data.label + " [true effects]")


def bacon_table(dec, dec_truth=None) -> pd.DataFrame:
    """Weight and average estimate of each comparison type (and of the true-effects panel)."""
    t = dec.by_type().rename(columns={"weight": "weight", "estimate": "estimate"})
    n = dec.table.groupby("type").size()
    t["n_comparisons"] = t["type"].map(n).astype(int)
    t["contribution"] = t["weight"] * t["estimate"]
    if dec_truth is not None:
        bt = dec_truth.by_type().set_index("type")
        t["estimate_true_effects"] = t["type"].map(bt["estimate"])
    tot = {"type": "TWFE (weighted sum)", "weight": t["weight"].sum(), "estimate": dec.twfe,
           "n_comparisons": int(t["n_comparisons"].sum()), "contribution": dec.twfe}
    if dec_truth is not None:
        tot["estimate_true_effects"] = dec_truth.twfe
    return pd.concat([t, pd.DataFrame([tot])], ignore_index=True)


# ----------------------------------------------------------- pre-trends / honest
def pretrend_table(results: Mapping[str, Any]) -> pd.DataFrame:
    """Joint pre-trend test of every event-study estimator."""
    rows = []
    for key, lab in (("event", "TWFE event study"), ("cs_never", SPEC["cs_never"].label),
                     ("cs_notyet", SPEC["cs_notyet"].label), ("sa", SPEC["sa"].label),
                     ("bjs_pre", "BJS imputation (Test 1, untreated obs.)"),
                     ("gardner", SPEC["gardner"].label)):
        r = results.get(key)
        pt = getattr(r, "pretest", None)
        if key.startswith("cs") and hasattr(r, "aggregates"):
            pt = _cs_lead_test(r)
        if pt is None:
            rows.append({"estimator": key, "label": lab, "test": "", "stat": np.nan, "df": np.nan,
                         "p_value": np.nan})
            continue
        rows.append({"estimator": key, "label": lab, "test": str(pt.get("name", "Wald")),
                     "stat": float(pt.get("stat", np.nan)), "df": float(pt.get("df", np.nan)),
                     "p_value": float(pt.get("p_value", np.nan))})
    return pd.DataFrame(rows)


def _cs_lead_test(result, window: tuple[int, int] = WINDOW) -> dict[str, Any]:
    """Wald test that the CS event-study leads ``window[0]..-2`` are zero.

    Uses the dynamic aggregate (universal base period, reference -1) and its
    influence-function covariance. The cell-level pre-test of R ``did``
    (all pre-treatment ATT(g,t)) is singular here: with one- or two-county
    cohorts it has more cells than the covariance can support.
    """
    from analysis.inference.vcov import wald_test

    agg = result.aggregates["dynamic"]
    by = agg.by.reset_index(drop=True)
    ev = by["event"].to_numpy()
    idx = [int(np.flatnonzero(ev == e)[0]) for e in range(window[0], -1) if (ev == e).any()]
    w = wald_test(by["att"].to_numpy()[idx], np.asarray(agg.vcov)[np.ix_(idx, idx)])
    return {"name": f"Wald test of event-study leads {window[0]}..-2", "stat": w.stat,
            "df": w.df, "p_value": w.p_value}


def honest(result, window: tuple[int, int] = WINDOW) -> dict[str, Any]:
    """HonestDiD on the main CS event study: relative magnitudes and smoothness.

    Target: the average effect over event times 0..``window[1]``; pre-periods
    ``window[0]..-2`` (reference -1, universal base period).
    """
    from analysis.inference.honest import honest_did

    agg = result.aggregates["dynamic"]
    by = agg.by.reset_index(drop=True)
    ev = by["event"].to_numpy()
    pre = [e for e in range(window[0], -1) if e in ev]
    post = [e for e in range(0, window[1] + 1) if e in ev]
    idx = [int(np.flatnonzero(ev == e)[0]) for e in pre + post]
    beta = by["att"].to_numpy()[idx]
    V = np.asarray(agg.vcov)[np.ix_(idx, idx)]
    lvec = np.full(len(post), 1.0 / len(post))
    out = {}
    for restr in ("relative_magnitude", "smoothness"):
        out[restr] = honest_did(beta, V, len(pre), len(post), restr, l_vec=lvec, alpha=ALPHA,
                                lf_sims=20_000, seed=DRAW_SEED)
    return out


def honest_table(h: Mapping[str, Any]) -> pd.DataFrame:
    rows = []
    for restr, r in h.items():
        t = r.tidy()
        t["breakdown"] = r.breakdown
        rows.append(t)
    return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------------ inference
def inference_table(data: AnnualData, outcome: str, results: Mapping[str, Any],
                    draws: int = N_DRAWS, seed: int = DRAW_SEED) -> tuple[pd.DataFrame, Any]:
    """Static TWFE and main CS ATT under county/prefecture clustering, wild bootstrap, RI.

    Returns the table and the randomisation result of the main estimator
    (its draws feed the Romano-Wolf adjustment).
    """
    from analysis.inference.post import _twfe_design
    from analysis.inference.ri import randomization_test
    from analysis.inference.wild import wild_cluster_bootstrap

    z = stats.norm.ppf(1 - ALPHA / 2)
    d = sample_frame(data, "all")
    rows = []

    def add(est, inf, att, se, lo, hi, p, G, note=""):
        rows.append({"estimate": est, "inference": inf, "att": att, "se": se, "ci_low": lo,
                     "ci_high": hi, "p_value": p, "n_clusters": G, "note": note})

    tw = results["twfe"]
    add("Static TWFE", "CR1 clustered by county", tw.att, tw.se, tw.att - z * tw.se,
        tw.att + z * tw.se, 2 * stats.norm.sf(abs(tw.att / tw.se)), tw.info.get("n_clusters"))
    twp = fit(data, outcome, "twfe", cluster=CLUSTER)
    G = int(d[CLUSTER].nunique())
    tq = stats.t.ppf(1 - ALPHA / 2, G - 1)
    add("Static TWFE", f"CR1 clustered by prefecture (t, {G - 1} df)", twp.att, twp.se,
        twp.att - tq * twp.se, twp.att + tq * twp.se,
        2 * stats.t.sf(abs(twp.att / twp.se), G - 1), G)
    y, X, cl, fe = _twfe_design(d, outcome=outcome, unit=UNIT, time=TIME, cohort=COHORT,
                                covariates=(), cluster=CLUSTER)
    w = wild_cluster_bootstrap(y, X, cl, 0, fe=fe, B=draws, weights="webb", seed=seed,
                               alpha=ALPHA, backend="serial")
    add("Static TWFE", f"wild cluster bootstrap by prefecture (WCR, Webb, {draws} draws)",
        w.estimate, np.nan, w.ci[0], w.ci[1], w.p_value, w.n_clusters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ri_tw = randomization_test(d, unit=UNIT, time=TIME, cohort=COHORT, outcome=outcome,
                                   statistic="twfe", permute="timing", n_draws=draws, seed=seed,
                                   backend="serial")
    add("Static TWFE", f"randomisation over adoption timing ({ri_tw.n_draws} draws)",
        ri_tw.observed, np.nan, np.nan, np.nan, ri_tw.p_value, np.nan)
    m = results[MAIN]
    add(SPEC[MAIN].label, "analytic, clustered by county", m.att, m.se, m.att - z * m.se,
        m.att + z * m.se, 2 * stats.norm.sf(abs(m.att / m.se)), m.info.get("n_clusters"))
    mp = fit(data, outcome, MAIN, cluster=CLUSTER)
    add(SPEC[MAIN].label, f"analytic, clustered by prefecture (t, {G - 1} df)", mp.att, mp.se,
        mp.att - tq * mp.se, mp.att + tq * mp.se, 2 * stats.t.sf(abs(mp.att / mp.se), G - 1), G)
    ri_cs = ri_main(data, outcome, draws=draws, seed=seed)
    add(SPEC[MAIN].label, f"randomisation over adoption timing ({ri_cs.n_draws} draws)",
        ri_cs.observed, np.nan, np.nan, np.nan, ri_cs.p_value, np.nan)
    return pd.DataFrame(rows), ri_cs


def ri_main(data: AnnualData, outcome: str, draws: int = N_DRAWS, seed: int = DRAW_SEED):
    """Randomisation test of the main CS simple ATT over adoption timing."""
    from analysis.inference.ri import randomization_test

    opts = dict(SPEC[MAIN].options)
    opts.pop("base_period", None)
    opts.pop("est_method", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return randomization_test(
            sample_frame(data, "all"), unit=UNIT, time=TIME, cohort=COHORT, outcome=outcome,
            statistic="cs", permute="timing", n_draws=draws, seed=seed,
            estimator_options=opts, backend="serial",
        )


def trust_sentence(design_: Design, table: pd.DataFrame) -> str:
    """Which inference to trust, and why (generated from the design's counts)."""
    return (
        f"Treated counties sit in only {design_.n_treated_prefectures} of {design_.n_prefectures} "
        "prefectures, so prefecture-clustered standard errors rest on very few effective clusters "
        "(CR1 over-rejects) and the wild cluster bootstrap is unreliable with so few treated clusters "
        "(MacKinnon and Webb 2017); county clustering is valid if shocks are county-level. "
        "Randomisation inference over adoption timing needs neither: it is exact for the sharp null of "
        "no effect given the set of treated counties, so we trust it for the test, and the county-"
        "clustered interval (checked against the prefecture-clustered one) for the size of the effect."
    )


# ------------------------------------------------------------ heterogeneity
def subgroups(data: AnnualData) -> list[tuple[str, str, list[int]]]:
    """(dimension, label, treated unit codes) of the seed paper's heterogeneity splits."""
    d = sample_frame(data, "all")
    u = d.drop_duplicates(UNIT)
    tr = u[u[COHORT] > 0]
    out: list[tuple[str, str, list[int]]] = []
    norail = tr["railway"].astype(bool) == False  # noqa: E712
    out.append(("railway", "no railway (Yunhe, Jingning, Wencheng, Taishun)", tr.loc[norail, UNIT].tolist()))
    out.append(("railway", "railway", tr.loc[~norail, UNIT].tolist()))
    for k in sorted(x for x in tr["enclave_kind"].fillna("").unique() if x):
        out.append(("enclave kind", k, tr.loc[tr["enclave_kind"] == k, UNIT].tolist()))
    en = _prefecture_names()
    for p in sorted(tr[CLUSTER].unique()):
        out.append(("prefecture", en.get(int(p), str(p)), tr.loc[tr[CLUSTER] == p, UNIT].tolist()))
    soe = tr["soe_cohort"].fillna(0).astype(int) > 0
    out.append(("SOE pairing", "SOE-paired counties", tr.loc[soe, UNIT].tolist()))
    out.append(("SOE pairing", "other treated counties", tr.loc[~soe, UNIT].tolist()))
    return out


def _prefecture_names() -> dict[int, str]:
    from analysis.data import registry

    c = registry.load_counties()
    return dict(zip(c["prefecture_code"].astype(int), c["prefecture_en"], strict=False))


def heterogeneity_table(data: AnnualData, outcome: str) -> pd.DataFrame:
    """Main CS ATT for each subgroup of treated counties against all untreated comparisons.

    Each row re-estimates on the subgroup's treated counties plus every
    county not treated in the panel; other treated counties are left out.
    """
    z = stats.norm.ppf(1 - ALPHA / 2)
    d = sample_frame(data, "all")
    treated_all = set(d.loc[d[COHORT] > 0, UNIT])
    rows = []
    for dim, lab, codes in subgroups(data):
        row = {"dimension": dim, "subgroup": lab, "n_treated": len(codes)}
        if not codes:
            rows.append({**row, "att": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                         "note": "no treated county"})
            continue
        drop = treated_all - set(codes)
        sub = AnnualData(panel=d[~d[UNIT].isin(drop)].reset_index(drop=True), layer=data.layer,
                         scenario=data.scenario, seed=data.seed, source=data.source)
        try:
            r = fit(sub, outcome, MAIN)
            rows.append({**row, "att": r.att, "se": r.se, "ci_low": r.att - z * r.se,
                         "ci_high": r.att + z * r.se, "note": ""})
        except InputError as e:
            rows.append({**row, "att": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                         "note": str(e)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- power
def mde(data: AnnualData, outcome: str, n_sims: int = N_POWER_SIMS, seed: int = DRAW_SEED) -> dict[str, float]:
    """MDE of the main CS ATT at 80% power and 5% size, in outcome units.

    The design (units, years, adoption timing) is the estimation sample's; the
    noise (AR(1) s.d. and persistence) is estimated from TWFE residuals
    (:meth:`analysis.inference.power.PanelDesign.from_data`).
    """
    from analysis.inference.power import PanelDesign, simulate_power

    d = sample_frame(data, "all")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        des = PanelDesign.from_data(d, outcome=outcome, unit=UNIT, time=TIME, cohort=COHORT)
        sim = simulate_power(des, method="cs", inference="analytic", n_sims=n_sims, alpha=ALPHA,
                             seed=seed, method_options={"control": "notyet"}, n_jobs=1,
                             backend="serial")
    v = sim.mde(0.8)
    return {"mde": float(v), "sigma": des.sigma, "rho": des.rho, "mde_over_sigma": float(v / des.sigma),
            "size": float(sim.power(0.0)), "n_sims": n_sims}


# ---------------------------------------------------------------- the study
@dataclass(frozen=True)
class OutcomeAnalysis:
    """Everything the study computes for one outcome (immutable hand-off to notebooks/pipeline)."""

    outcome: str
    results: Mapping[str, Any]
    main: pd.DataFrame
    events: pd.DataFrame
    bacon: Any
    bacon_truth: Any
    bacon_table: pd.DataFrame
    pretrends: pd.DataFrame
    honest: Mapping[str, Any]
    inference: pd.DataFrame
    ri: Any
    heterogeneity: pd.DataFrame
    truth: Mapping[str, Any] | None
    mountain: pd.DataFrame
    power: Mapping[str, float] | None = None

    @property
    def label(self) -> str:
        return OUTCOMES[self.outcome].label if self.outcome in OUTCOMES else self.outcome


def analyse(data: AnnualData, outcome: str, *, draws: int = N_DRAWS, seed: int = DRAW_SEED,
            power: bool = True) -> OutcomeAnalysis:
    """Run the whole analysis of one outcome (see the module docstring)."""
    if outcome not in data.panel.columns:
        raise InputError(f"outcome {outcome!r} is not in the annual panel")
    res = fit_all(data, outcome)
    truth = true_aggregates(data, outcome)
    main = main_table(res, truth)
    mres = fit_all(data, outcome, "mountain")
    mountain = main_table(mres, true_aggregates(data, outcome, "mountain"))
    dec = bacon(data, outcome)
    dect = bacon_truth(data, outcome)
    inf, ri = inference_table(data, outcome, res, draws=draws, seed=seed)
    return OutcomeAnalysis(
        outcome=outcome,
        results=MappingProxyType(res),
        main=main,
        events=event_frame(res),
        bacon=dec,
        bacon_truth=dect,
        bacon_table=bacon_table(dec, dect),
        pretrends=pretrend_table(res),
        honest=MappingProxyType(honest(res[MAIN])),
        inference=inf,
        ri=ri,
        heterogeneity=heterogeneity_table(data, outcome),
        truth=None if truth is None else MappingProxyType(truth),
        mountain=mountain,
        power=MappingProxyType(mde(data, outcome, seed=seed)) if (power and data.synthetic) else None,
    )


def family_table(analyses: Mapping[str, OutcomeAnalysis]) -> pd.DataFrame:
    """Multiple testing across the outcome family (main CS ATT of every outcome).

    Holm and Benjamini-Hochberg adjust the analytic (county-clustered)
    p-values; Romano-Wolf adjusts the randomisation p-values using the
    randomisation draws of all outcomes (the same permutations of adoption
    timing), each studentised by its permutation s.d.
    """
    from analysis.inference.multitest import benjamini_hochberg, holm, romano_wolf

    names = list(analyses)
    m = [a.main.set_index("estimator").loc[MAIN] for a in analyses.values()]
    t = pd.DataFrame({
        "outcome": names,
        "notebook": [OUTCOMES[o].notebook if o in OUTCOMES else "" for o in names],
        "att": [r["att"] for r in m],
        "se": [r["se"] for r in m],
        "p_value": [r["p_value"] for r in m],
    })
    t["p_holm"] = holm(t["p_value"].to_numpy())
    t["p_bh"] = benjamini_hochberg(t["p_value"].to_numpy())
    obs = np.array([a.ri.observed for a in analyses.values()])
    D = np.column_stack([np.asarray(a.ri.draws) for a in analyses.values()])
    t["p_ri"] = [a.ri.p_value for a in analyses.values()]
    t["p_ri_holm"] = holm(t["p_ri"].to_numpy())
    scale = D.std(axis=0, ddof=1)
    t["p_ri_romano_wolf"] = romano_wolf(obs / scale, D / scale, plus_one=True)
    if all(a.truth is not None for a in analyses.values()):
        t["truth"] = [a.truth["simple"] for a in analyses.values()]
    return t


@dataclass(frozen=True)
class FamilyEntry:
    """What the family table needs of one outcome: the main table, RI result and truth."""

    outcome: str
    main: pd.DataFrame
    ri: Any
    truth: Mapping[str, Any] | None


def family_entry(data: AnnualData, outcome: str) -> FamilyEntry:
    """The main CS fit and its randomisation test only (same settings as :func:`analyse`)."""
    r = fit(data, outcome, MAIN)
    truth = true_aggregates(data, outcome)
    return FamilyEntry(outcome, main_table({MAIN: r}, truth), ri_main(data, outcome), truth)


def family(data: AnnualData, analyses: Mapping[str, Any] | None = None,
           outcomes: Sequence[str] | None = None) -> pd.DataFrame:
    """Family table over ``outcomes`` (default all), reusing ``analyses`` where given."""
    analyses = dict(analyses or {})
    outs = list(OUTCOMES) if outcomes is None else list(outcomes)
    entries = {o: analyses[o] if o in analyses else family_entry(data, o) for o in outs}
    return family_table(entries)


def run(data: AnnualData, outcomes: Sequence[str] | None = None, *, power: bool = True,
        progress: bool = False) -> dict[str, OutcomeAnalysis]:
    """:func:`analyse` every outcome (default: the whole family), in family order."""
    outs = list(OUTCOMES) if outcomes is None else list(outcomes)
    done = {}
    for o in outs:
        if progress:
            print(f"  annual study: {o} ...", flush=True)
        done[o] = analyse(data, o, power=power)
    return done


# ----------------------------------------------------------------- numbers
def _r12(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    v = float(v)
    return float(f"{v:.12g}") if math.isfinite(v) else v


def round12(df: pd.DataFrame) -> pd.DataFrame:
    """Float columns at 12 significant digits (committed tables never carry last-bit noise)."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = [float(f"{x:.12g}") if np.isfinite(x) else x for x in out[c]]
    return out


def numbers(data: AnnualData, analyses: Mapping[str, OutcomeAnalysis], family: pd.DataFrame) -> dict[str, float]:
    """Every number the paper quotes about the annual design, at 12 significant digits."""
    des = design(data)
    n: dict[str, Any] = {
        "annual.synthetic": int(data.synthetic),
        "annual.n_units": des.n_units - des.n_dropped_always,
        "annual.n_years": des.n_years,
        "annual.first_year": des.years[0],
        "annual.last_year": des.years[1],
        "annual.n_treated": des.n_treated,
        "annual.n_cohorts": len(des.cohorts),
        "annual.n_imputed": des.n_imputed,
        "annual.n_non_mountain": des.n_non_mountain,
        "annual.n_never_mountain": des.n_never_mountain,
        "annual.n_prefectures": des.n_prefectures,
        "annual.n_treated_prefectures": des.n_treated_prefectures,
        "annual.n_outcomes": len(analyses),
        "annual.n_draws": N_DRAWS,
    }
    for o, a in analyses.items():
        k = f"annual.{o}"
        for r in a.main.itertuples(index=False):
            n[f"{k}.{r.estimator}.att"] = r.att
            n[f"{k}.{r.estimator}.se"] = r.se
            n[f"{k}.{r.estimator}.ci_low"] = r.ci_low
            n[f"{k}.{r.estimator}.ci_high"] = r.ci_high
        n[f"{k}.bacon.forbidden_weight"] = float(
            a.bacon.table.loc[a.bacon.table["type"] == "later_vs_earlier", "weight"].sum())
        n[f"{k}.bacon.twfe"] = a.bacon.twfe
        for r in a.pretrends.itertuples(index=False):
            n[f"{k}.pretest_p.{r.estimator}"] = r.p_value
        for restr, h in a.honest.items():
            n[f"{k}.honest.{restr}.breakdown"] = h.breakdown
        inf = a.inference
        for j, tag in enumerate(("twfe_county", "twfe_prefecture", "twfe_wild", "twfe_ri",
                                 "cs_county", "cs_prefecture", "cs_ri")):
            n[f"{k}.p.{tag}"] = inf["p_value"].iloc[j]
        f = family.set_index("outcome").loc[o]
        for c in ("p_holm", "p_bh", "p_ri", "p_ri_holm", "p_ri_romano_wolf"):
            n[f"{k}.{c}"] = f[c]
        if a.truth is not None:
            n[f"{k}.truth"] = a.truth["simple"]
            n[f"{k}.twfe_gap"] = a.main.set_index("estimator").loc["twfe", "att"] - a.truth["simple"]
            if a.bacon_truth is not None:
                n[f"{k}.bacon.implied_bias"] = a.bacon_truth.twfe - a.truth["simple"]
            n[f"{k}.n_robust_cover"] = int(a.main.set_index("estimator").loc[list(ROBUST), "covers_truth"].sum())
        if a.power is not None:
            n[f"{k}.mde"] = a.power["mde"]
            n[f"{k}.mde_over_sigma"] = a.power["mde_over_sigma"]
            n[f"{k}.sigma"] = a.power["sigma"]
    n["annual.n_sig05.cs"] = int((family["p_value"] < 0.05).sum())
    n["annual.n_sig05.holm"] = int((family["p_holm"] < 0.05).sum())
    n["annual.n_sig05.bh"] = int((family["p_bh"] < 0.05).sum())
    n["annual.n_sig05.ri"] = int((family["p_ri"] < 0.05).sum())
    n["annual.n_sig05.romano_wolf"] = int((family["p_ri_romano_wolf"] < 0.05).sum())
    if data.synthetic and all(a.truth is not None for a in analyses.values()):
        n["annual.n_robust_cover"] = int(sum(n[f"annual.{o}.n_robust_cover"] for o in analyses))
        n["annual.n_robust_cells"] = len(ROBUST) * len(analyses)
    return {key: _r12(v) for key, v in n.items()}


# ------------------------------------------------------------------ figures
def _ax_of(fig, ax):
    return ax if ax is not None else fig.axes[0]


def _title(data: AnnualData, text: str) -> str:
    return f"{text} [{data.short}]" if not data.synthetic else f"SYNTHETIC twin: {text}"


def plot_timing(data: AnnualData, ax=None):
    """Treatment-timing picture (units x years, coloured by status)."""
    from analysis.report.figures import treatment_timing_plot

    status, imp = timing_status(data)
    used = {k: v for k, v in STATUS.items() if (status.to_numpy() == k).any()}
    fig = treatment_timing_plot(status, used, ax=ax, imputed=imp, layer=data.label)
    _ax_of(fig, ax).set_title(_title(data, "first enclave year of the mountain counties"), fontsize=9)
    return fig


def plot_overlay(data: AnnualData, a: OutcomeAnalysis, ax=None, truth: bool = True):
    """Event-study estimates of every estimator, pointwise CIs and sup-t bands."""
    from analysis.report.figures import event_study_overlay

    tr = a.truth["dynamic"] if (truth and a.truth is not None) else None
    fig = event_study_overlay(a.events, ax=ax, truth=tr, layer=data.label,
                              ylabel=f"effect on {a.label}")
    _ax_of(fig, ax).set_title(_title(data, f"{a.label}: event studies (bars: 95% CI; boxes: sup-t band)"),
                          fontsize=8)
    return fig


def plot_bacon(data: AnnualData, a: OutcomeAnalysis, ax=None):
    from analysis.report.figures import bacon_scatter

    fig = bacon_scatter(a.bacon.table, a.bacon.twfe, ax=ax, layer=data.label)
    _ax_of(fig, ax).set_title(_title(data, f"{a.label}: Goodman-Bacon decomposition"), fontsize=8)
    return fig


def plot_honest(data: AnnualData, a: OutcomeAnalysis, axes=None):
    """HonestDiD sensitivity plots (relative magnitudes, smoothness) side by side."""
    import matplotlib.pyplot as plt

    from analysis.report.figures import sensitivity_plot

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, (restr, h) in zip(axes, a.honest.items(), strict=True):
        sensitivity_plot(h, ax=ax, layer=data.label)
        ax.set_title(_title(data, f"{a.label}: {restr.replace('_', ' ')} "
                                  f"(breakdown {h.breakdown:.3g})"), fontsize=8)
    return axes[0].figure


def plot_estimates(data: AnnualData, a: OutcomeAnalysis, ax=None):
    """Simple ATT of every estimator with 95% CI (and the truth on the twin)."""
    from analysis.report.figures import estimates_plot

    t = a.main.dropna(subset=["att"])
    fig = estimates_plot(t, ax=ax, truth=None if a.truth is None else a.truth["simple"],
                         layer=data.label, xlabel=f"ATT on {a.label} ({OUTCOMES[a.outcome].unit})")
    _ax_of(fig, ax).set_title(_title(data, f"{a.label}: estimates side by side"), fontsize=8)
    return fig


def plot_truth(data: AnnualData, a: OutcomeAnalysis, ax=None):
    """Estimated (robust estimators) vs true dynamic effects -- twin only."""
    from analysis.report.figures import event_study_overlay

    if a.truth is None:
        raise InputError("the true effects are known only on the synthetic twin")
    ev = a.events[a.events["estimator"].isin(["cs_notyet", "sa", "bjs", "gardner"])]
    fig = event_study_overlay(ev, ax=ax, truth=a.truth["dynamic"], layer=data.label,
                              ylabel=f"effect on {a.label}", bands=False)
    _ax_of(fig, ax).set_title(f"SYNTHETIC twin: {a.label}, estimates vs the true effects", fontsize=8)
    return fig


# ------------------------------------------------------------------- tables
def _lab(o: str) -> str:
    return OUTCOMES[o].label if o in OUTCOMES else o


def estimates_long(analyses: Mapping[str, OutcomeAnalysis], sample: Sample = "all") -> pd.DataFrame:
    rows = []
    for o, a in analyses.items():
        t = a.main if sample == "all" else a.mountain
        rows.append(t.assign(outcome=_lab(o)))
    out = pd.concat(rows, ignore_index=True)
    cols = ["outcome", "label", "att", "se", "ci_low", "ci_high", "p_value"]
    if "truth" in out:
        cols += ["truth", "bias"]
    return out[cols].rename(columns={"label": "estimator"})


def write_outputs(data: AnnualData, analyses: Mapping[str, OutcomeAnalysis], family: pd.DataFrame,
                  paper_dir) -> None:
    """Tables (CSV, Markdown, LaTeX) and figures (PNG) of the study under ``paper_dir``."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    from analysis.report.figures import save_figure
    from analysis.report.tables import write_table

    paper_dir = Path(paper_dir)
    tdir, fdir = paper_dir / "tables", paper_dir / "figures"
    des = design(data)
    syn = data.synthetic
    cap = (lambda s: f"SYNTHETIC (Zhejiang twin): {s}") if syn else (lambda s: f"{s} (real yearbook panel)")
    layer_note = f"Data layer: {data.label}." + (
        " Effects are set by code: a methods demonstration, not a finding about Zhejiang." if syn else "")
    design_note = " ".join(des.lines()[1:4])
    est_note = (
        "Estimators: static TWFE; TWFE event study (binned end-points, window -5..5; its summary is the "
        "mean of e=0..5); Callaway-Sant'Anna doubly robust, universal base period, with never-treated or "
        "not-yet-treated comparison (no covariates); Sun-Abraham interaction-weighted; BJS imputation; "
        "Gardner two-stage. Standard errors clustered by county; 95% normal intervals."
    )

    def w(df, stem, caption, notes, digits=4):
        write_table(round12(df), tdir, stem, caption=cap(caption), notes=[layer_note, *notes],
                    digits=digits)

    w(des.cohorts.rename(columns={"cohort": "first enclave year"}), "annual_design",
      "Treatment cohorts of the annual design", [design_note, des.lines()[4]], digits=0)
    w(estimates_long(analyses), "annual_estimates",
      "Simple ATT of every estimator, all outcomes" + (" (with the true effects)" if syn else ""),
      [design_note, est_note] + (["truth: the true average effect over treated county-years; bias = "
                                  "estimate - truth."] if syn else []))
    w(estimates_long(analyses, "mountain"), "annual_estimates_mountain",
      "Mountain counties only: not-yet-treated mountain counties as the comparison",
      [est_note, "Rows that need never-treated units are empty when every mountain county is treated."])
    bt = pd.concat([a.bacon_table.assign(outcome=_lab(o)) for o, a in analyses.items()], ignore_index=True)
    w(bt[["outcome", *[c for c in bt.columns if c != "outcome"]]], "annual_bacon",
      "Goodman-Bacon decomposition of the static TWFE coefficient",
      ["Weights and weighted-average 2x2 estimates by comparison type; later_vs_earlier uses "
       "already-treated counties as controls."]
      + (["estimate_true_effects: the same decomposition of the noise-free panel of true effects "
          "(what TWFE estimates in expectation)."] if syn else []))
    pt = pd.concat([a.pretrends.assign(outcome=_lab(o)) for o, a in analyses.items()], ignore_index=True)
    w(pt[["outcome", "label", "test", "stat", "df", "p_value"]], "annual_pretrends",
      "Pre-trend tests of every event-study estimator", [est_note])
    hr = []
    for o, a in analyses.items():
        for restr, h in a.honest.items():
            hr.append({"outcome": _lab(o), "restriction": restr, "method": h.method,
                       "estimate": h.estimate, "ci_low": h.original[0], "ci_high": h.original[1],
                       "breakdown": h.breakdown})
    w(pd.DataFrame(hr), "annual_honest",
      "HonestDiD sensitivity of the main CS event study (average effect e=0..5)",
      ["Rambachan-Roth (2023): relative magnitudes (C-LF; breakdown = largest Mbar) and smoothness "
       "(FLCI; breakdown = largest M) at which the robust 95% interval still excludes zero; 0 = the "
       "conventional interval already contains zero. Pre-periods -5..-2, reference -1."])
    inf = pd.concat([a.inference.assign(outcome=_lab(o)) for o, a in analyses.items()], ignore_index=True)
    w(inf[["outcome", "estimate", "inference", "att", "se", "ci_low", "ci_high", "p_value"]],
      "annual_inference", "Inference side by side: clustering, wild bootstrap, randomisation",
      [f"Wild bootstrap and randomisation inference: {N_DRAWS} draws, seed {DRAW_SEED}; randomisation "
       "permutes adoption years among the ever-treated counties.", trust_sentence(des, inf)])
    het = pd.concat([a.heterogeneity.assign(outcome=_lab(o)) for o, a in analyses.items()], ignore_index=True)
    w(het[["outcome", "dimension", "subgroup", "n_treated", "att", "se", "ci_low", "ci_high"]],
      "annual_heterogeneity", "Heterogeneity: main CS ATT by subgroup of treated counties",
      ["Each row: the subgroup's treated counties against every county not treated in the panel "
       "(never and not-yet treated). Overlapping intervals are not a test of equality."])
    fam = family.assign(outcome=family["outcome"].map(_lab))
    w(fam, "annual_family", "Multiple testing across the outcome family (main CS ATT)",
      ["Holm and Benjamini-Hochberg adjust the analytic p-values; Romano-Wolf adjusts the "
       f"randomisation p-values using the joint permutation draws ({N_DRAWS}, seed {DRAW_SEED})."])
    if syn and all(a.power is not None for a in analyses.values()):
        pw = pd.DataFrame([{"outcome": _lab(o), "unit": OUTCOMES[o].unit, "mde": a.power["mde"],
                            "sigma": a.power["sigma"], "rho": a.power["rho"],
                            "mde_over_sigma": a.power["mde_over_sigma"],
                            "size_analytic": a.power["size"],
                            "true_att": a.truth["simple"] if a.truth else np.nan}
                           for o, a in analyses.items()])
        w(pw, "annual_power", "Minimum detectable effect of the main CS ATT (80% power, 5% size)",
          [f"{N_POWER_SIMS} simulated panels per outcome (seed {DRAW_SEED}) with the design's units, "
           "years and adoption timing and AR(1) noise estimated from TWFE residuals "
           "(analysis.inference.power); size_analytic = rejection rate of the analytic test at zero effect."])

    # figures
    fig, ax = plt.subplots(figsize=(8, 9))
    plot_timing(data, ax=ax)
    save_figure(fig, fdir, "annual_timing")
    outs = list(analyses)
    nr = math.ceil(len(outs) / 2)
    for stem, fn, size in (("annual_event_study", plot_overlay, (13, 3.6 * nr)),
                           ("annual_bacon", plot_bacon, (12, 3.4 * nr)),
                           ("annual_estimates_plot", plot_estimates, (12, 3.0 * nr))):
        fig, axes = plt.subplots(nr, 2, figsize=size, squeeze=False)
        for ax, o in zip(axes.ravel(), outs, strict=False):
            fn(data, analyses[o], ax=ax)
        for ax in axes.ravel()[len(outs):]:
            ax.set_visible(False)
        fig.tight_layout()
        save_figure(fig, fdir, stem)
    fig, axes = plt.subplots(len(outs), 2, figsize=(11, 3.0 * len(outs)), squeeze=False)
    for row, o in zip(axes, outs, strict=True):
        plot_honest(data, analyses[o], axes=row)
    fig.tight_layout()
    save_figure(fig, fdir, "annual_honest")
    if syn and all(a.truth is not None for a in analyses.values()):
        fig, axes = plt.subplots(nr, 2, figsize=(13, 3.6 * nr), squeeze=False)
        for ax, o in zip(axes.ravel(), outs, strict=False):
            plot_truth(data, analyses[o], ax=ax)
        for ax in axes.ravel()[len(outs):]:
            ax.set_visible(False)
        fig.tight_layout()
        save_figure(fig, fdir, "annual_truth")


# ---------------------------------------------------------------- sentences
def _fmt(v: float, digits: int = 3) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.{digits}f}"


def estimates_sentence(data: AnnualData, a: OutcomeAnalysis) -> str:
    """What the main table says (worded by layer)."""
    m = a.main.set_index("estimator")
    r = m.loc[MAIN]
    tw = m.loc["twfe"]
    unit = OUTCOMES[a.outcome].unit
    if data.synthetic and a.truth is not None:
        cov = int(m.loc[list(ROBUST), "covers_truth"].sum())
        return (
            f"SYNTHETIC twin, {a.label}: the true average effect over treated county-years is "
            f"{_fmt(a.truth['simple'], 4)} {unit}. The main estimator ({SPEC[MAIN].label}) gives "
            f"{_fmt(r['att'], 4)} (95% CI {_fmt(r['ci_low'], 4)} to {_fmt(r['ci_high'], 4)}); "
            f"{cov} of the {len(ROBUST)} heterogeneity-robust intervals cover the truth. Static TWFE gives "
            f"{_fmt(tw['att'], 4)}, {_fmt(tw['att'] - a.truth['simple'], 4)} from the truth."
        )
    return (
        f"{a.label} (real yearbook data): the main estimator ({SPEC[MAIN].label}) estimates an average "
        f"effect of {_fmt(r['att'], 4)} {unit} (95% CI {_fmt(r['ci_low'], 4)} to {_fmt(r['ci_high'], 4)}, "
        f"p = {_fmt(r['p_value'])}); static TWFE gives {_fmt(tw['att'], 4)}."
    )


def bacon_sentence(data: AnnualData, a: OutcomeAnalysis) -> str:
    bt = a.bacon_table.set_index("type")
    fw = float(bt["weight"].get("later_vs_earlier", 0.0))
    fe = float(bt["estimate"].get("later_vs_earlier", np.nan))
    s = (
        f"{a.label}: {100 * fw:.1f}% of the TWFE weight falls on 'forbidden' comparisons that use "
        f"already-treated counties as controls (their average 2x2 estimate {_fmt(fe, 4)}, against "
        f"{_fmt(a.bacon.twfe, 4)} for TWFE overall)."
    )
    if a.truth is not None and a.bacon_truth is not None:
        s += (
            f" On the SYNTHETIC twin, decomposing the true effects implies a TWFE bias of "
            f"{_fmt(a.bacon_truth.twfe - a.truth['simple'], 4)}; the estimated TWFE is "
            f"{_fmt(a.bacon.twfe - a.truth['simple'], 4)} from the truth."
        )
    return s


def honest_sentence(data: AnnualData, a: OutcomeAnalysis) -> str:
    rm, sd = a.honest["relative_magnitude"], a.honest["smoothness"]
    pre = a.pretrends.set_index("estimator").loc[MAIN, "p_value"]
    return (
        f"{a.label}: pre-trend test of the main CS event study p = {_fmt(pre)}. The average effect over "
        f"e = 0..5 stays significant at 5% for post-treatment trend violations up to "
        f"Mbar = {_fmt(rm.breakdown, 2)} times the largest pre-treatment one (relative magnitudes) and "
        f"for curvature up to M = {_fmt(sd.breakdown, 4)} per year (smoothness)"
        + (" [SYNTHETIC]." if data.synthetic else ".")
    )


def power_sentence(data: AnnualData, a: OutcomeAnalysis) -> str:
    if a.power is None:
        return f"{a.label}: power is computed on the synthetic twin only (pre-analysis plan)."
    p = a.power
    unit = OUTCOMES[a.outcome].unit
    return (
        f"Pre-analysis plan ({a.label}): with this design (its units, years and adoption timing) and "
        f"noise like the twin's (AR(1) s.d. {_fmt(p['sigma'], 4)}, rho {_fmt(p['rho'], 2)}), the main "
        f"CS estimator detects an average effect of {_fmt(p['mde'], 4)} {unit} with 80% power at 5% "
        f"size ({_fmt(p['mde_over_sigma'], 2)} noise s.d.); the analytic test's simulated size is "
        f"{_fmt(p['size'], 3)}. Smaller true effects would likely be missed on a real panel of this shape."
    )


#: optional employment-structure columns (employment by sector, 万人) a layer may carry
STRUCTURE_COLUMNS = ("employment_primary", "employment_secondary", "employment_tertiary")


def employment_structure(data: AnnualData) -> pd.DataFrame | None:
    """Sector shares of employment by group and year when the layer has them, else ``None``."""
    p = data.panel
    if not all(c in p.columns for c in STRUCTURE_COLUMNS):
        return None
    g = p.assign(group=np.where(p["mountain26"], "mountain 26", "rest")).groupby(["group", TIME])
    tot = g[list(STRUCTURE_COLUMNS)].sum()
    return tot.div(tot.sum(axis=1), axis=0)


def show(df: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """A display copy with floats rounded (notebooks)."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].round(digits)
    return out


# -------------------------------------------------------------------- cache
_RUNS: dict[str, dict[str, OutcomeAnalysis]] = {}


def fingerprint(data: AnnualData) -> str:
    """Hash of the panel, the truth and the study's settings (in-process cache key)."""
    import hashlib

    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(data.panel, index=False).to_numpy().tobytes())
    for k in sorted(data.truth or {}):
        h.update(k.encode())
        h.update(pd.util.hash_pandas_object(data.truth[k], index=False).to_numpy().tobytes())
    h.update(repr((data.layer, data.scenario, data.seed, N_DRAWS, DRAW_SEED, N_POWER_SIMS, WINDOW,
                   COVARIATES, [(s.key, dict(s.options)) for s in SPECS])).encode())
    return h.hexdigest()


def run_cached(data: AnnualData) -> dict[str, OutcomeAnalysis]:
    """:func:`run` on the whole family, memoised within the process.

    ``enclave reproduce`` and ``enclave verify`` (and the tests that call both)
    then compute the study once per data set.
    """
    key = fingerprint(data)
    if key not in _RUNS:
        _RUNS.clear()
        _RUNS[key] = run(data)
    return dict(_RUNS[key])
