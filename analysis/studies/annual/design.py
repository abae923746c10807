"""Annual study: data, outcomes, estimator specs and the design (see :mod:`analysis.studies.annual`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

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
N_POWER_SIMS = 1000
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
            Outcome(
                "log_urban_income",
                "log urban disposable income per capita",
                "income",
                "log points",
                True,
            ),
            Outcome(
                "log_rural_income",
                "log rural disposable income per capita",
                "income",
                "log points",
                True,
            ),
            Outcome(
                "urban_rural_ratio", "urban-rural income ratio", "income", "ratio", False, "derived"
            ),
            Outcome("log_employment", "log employed persons", "employment", "log points", True),
            Outcome(
                "rd_intensity", "R&D intensity (% of GDP)", "rd", "percentage points", False, "none"
            ),
            Outcome("log_rd", "log R&D expenditure", "rd", "log points", True),
            Outcome("log_gdp", "log GDP (current prices)", "rd", "log points", True, "none"),
            Outcome("log_fiscal", "log fiscal revenue", "rd", "log points", True, "none"),
        )
    }
)
NOTEBOOK_TITLES = {
    "income": "03 — income",
    "employment": "04 — employment",
    "rd": "05 — R&D and output",
}


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
    #: heterogeneity-robust: its simple ATT estimates the average ATT over
    #: treated county-years (static TWFE and the TWFE event study do not)
    robust: bool = True
    #: label in the pre-trend table (default: ``label``)
    pretrend_label: str = ""


SPECS: tuple[Spec, ...] = (
    Spec("twfe", "Static TWFE", "twfe", {}, "never + not-yet + already treated", robust=False),
    Spec(
        "event",
        "TWFE event study (mean of e=0..5)",
        "event",
        {"window": WINDOW},
        "never + not-yet + already treated",
        robust=False,
        pretrend_label="TWFE event study",
    ),
    Spec(
        "cs_never",
        "Callaway-Sant'Anna, never treated (dr)",
        "cs",
        {"control": "never", "est_method": "dr", "base_period": "universal"},
        "never treated",
    ),
    Spec(
        "cs_notyet",
        "Callaway-Sant'Anna, not yet treated (dr)",
        "cs",
        {"control": "notyet", "est_method": "dr", "base_period": "universal"},
        "never + not-yet treated",
    ),
    Spec("sa", "Sun-Abraham (IW)", "sa", {}, "never treated (last cohort if none)"),
    Spec(
        "bjs",
        "BJS imputation",
        "bjs",
        {"pretrends": 0},
        "never + not-yet treated",
        pretrend_label="BJS imputation (Test 1, untreated obs.)",
    ),
    Spec("gardner", "Gardner two-stage", "gardner", {}, "never + not-yet treated"),
)
SPEC = {s.key: s for s in SPECS}
#: the main estimator (event study for HonestDiD, RI statistic, family table)
MAIN = "cs_notyet"
#: estimators whose simple ATT estimates the average ATT over treated county-years
ROBUST = tuple(s.key for s in SPECS if s.robust)
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
    need = [
        "urban_income",
        "rural_income",
        "employment",
        "rd_expenditure",
        "gdp",
        "fiscal_revenue",
        "rd_intensity",
    ]
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
    out["urban_rural_ratio"] = pd.to_numeric(out["urban_income"]) / pd.to_numeric(
        out["rural_income"]
    )
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
    R&D intensity :math:`100\\,RD/GDP` (GDP carries no effect) has
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
        a = pd.DataFrame(
            {
                "cohort": p[COHORT].to_numpy(),
                "time": p.index.get_level_values(TIME),
                "att": v.to_numpy(float),
            }
        )
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
        truth=None
        if layer == "real"
        else (None if truth is None else MappingProxyType(dict(truth))),
    )


def load(
    layer: Layer = "auto", scenario: Scenario = "effects", seed: int = TWIN_SEED
) -> AnnualData:
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
            + (", ".join(self.dropped_names) or "none")
            + ".",
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
        .agg(
            n_units=(UNIT, "size"),
            n_imputed=("timing_imputed", "sum"),
            counties=("name_en", lambda s: ", ".join(s)),
        )
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
STATUS = {
    0: "never treated (non-mountain)",
    1: "never treated (mountain)",
    2: "not yet treated",
    3: "treated",
    4: "treated throughout (dropped)",
}


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
        (g > 0) & (g <= t0),
        4,
        np.where(g > 0, np.where(yy >= g, 3, 2), np.where(mt, 1, 0)),
    )
    code = np.broadcast_to(code, (len(units), len(years)))
    idx = pd.Index(units["name_en"].to_numpy(), name="unit")
    status = pd.DataFrame(code, index=idx, columns=years)
    imp = pd.DataFrame(
        np.broadcast_to(
            units["timing_imputed"].astype(bool).to_numpy()[:, None] & (code >= 3), code.shape
        ),
        index=idx,
        columns=years,
    )
    return status, imp
