"""Census DiD study: the samples -- which units, which treatment, which years.

The cross-section of consistent-boundary units for one (treatment rule,
comparison group) design (:func:`build_sample`), and the mountain-county
cross-section on three-census units for log population with the 2000 census
as a real pre-period (:func:`three_census_sample`), both as a
:class:`StudySample`. The design is described in
:mod:`analysis.studies.census_did`; everything downstream (estimation,
inference, robustness tables, outputs) takes a :class:`StudySample`, so the
coding of treatment lives here only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import pandas as pd

from analysis.data import census, registry
from analysis.data.treatment import DEFAULT_RULE, TreatmentRule, first_enclave_year
from analysis.errors import InputError

Comparison = Literal["mountain", "rest", "designation"]

#: The outcome family (all from the census; long-form shares marked in labels), in
#: table order: the data layer's :data:`analysis.data.census.OUTCOMES`.
OUTCOMES: tuple[str, ...] = census.OUTCOMES
DEFAULT_COVARIATES: tuple[str, ...] = ("log_pop", "urbanisation")
BASELINE, ENDLINE = 2010, 2020

#: Labels of the outcomes for tables (long-form shares marked *).
OUTCOME_LABELS: dict[str, str] = {**census.OUTCOME_LABELS}


def county_to_cbu() -> pd.Series:
    """Map 2020 county codes to census-level CBU ids."""
    cw = registry.load_crosswalk("census")
    cw = cw[cw["year"] == 2020]
    return cw.set_index("code")["cbu"]


@dataclass(frozen=True)
class StudySample:
    """The cross-section of CBUs used for one (rule, comparison) design.

    ``data`` has one row per CBU with ``cbu``, ``name``, ``prefecture``,
    ``treated`` (0/1), ``cohort`` (first enclave year or 0), 2010 levels
    ``<outcome>_2010``, 2020 levels ``<outcome>_2020`` and changes ``d_<outcome>``.
    """

    data: pd.DataFrame
    rule: TreatmentRule
    comparison: str
    dropped: tuple[str, ...]
    #: census year at which the baseline covariates ``<covariate>_<baseline>`` are measured
    baseline: int = BASELINE

    @property
    def n_treated(self) -> int:
        return int(self.data["treated"].sum())

    @property
    def n_units(self) -> int:
        return len(self.data)

    def without_prefecture(self, prefecture: int) -> StudySample:
        """The sample without one prefecture's units (noted in ``dropped``)."""
        d = self.data[self.data["prefecture"] != prefecture].reset_index(drop=True)
        return replace(self, data=d, dropped=(*self.dropped, f"prefecture {prefecture} left out"))


def _drop_pre_baseline(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Drop the units treated before the baseline census (treated in both periods)."""
    pre = df["cohort"].between(1, BASELINE)
    if not pre.any():
        return df, []
    note = f"dropped {int(pre.sum())} unit(s) treated before the {BASELINE} baseline: " + ", ".join(
        df.loc[pre, "name"]
    )
    return df.loc[~pre], [note]


def build_sample(
    rule: TreatmentRule = DEFAULT_RULE,
    comparison: Comparison = "mountain",
    panel: pd.DataFrame | None = None,
) -> StudySample:
    """Cross-section of CBUs for one design (see module docstring)."""
    if comparison not in ("mountain", "rest", "designation"):
        raise InputError(f"unknown comparison {comparison!r}; use mountain, rest or designation")
    panel = census.harmonised_census("census") if panel is None else panel
    wide = panel.pivot(index="cbu", columns="year", values=list(OUTCOMES))
    df = pd.DataFrame(index=wide.index)
    for y in OUTCOMES:
        df[f"{y}_{BASELINE}"] = wide[(y, BASELINE)]
        df[f"{y}_{ENDLINE}"] = wide[(y, ENDLINE)]
        df[f"d_{y}"] = df[f"{y}_{ENDLINE}"] - df[f"{y}_{BASELINE}"]
    meta = panel[panel["year"] == ENDLINE].set_index("cbu")
    df["name"] = meta["cbu_name_zh"]
    df["mountain26"] = meta["mountain26"].astype(bool)
    cbus = registry.cbu_table("census").set_index("cbu")
    df["prefecture"] = cbus.loc[df.index, "prefecture_code"].astype(int).to_numpy()

    first = first_enclave_year(rule)
    cbu_of = county_to_cbu()
    cohort = pd.Series(0, index=df.index, dtype="int64")
    for code, year in first.items():
        if year > 0:
            cohort.loc[cbu_of.loc[code]] = year
    df["cohort"] = cohort
    df, dropped = _drop_pre_baseline(df)
    enclave = df["cohort"].between(BASELINE + 1, rule.cutoff).astype(int)
    if comparison == "mountain":
        df = df.loc[df["mountain26"]].assign(treated=enclave[df["mountain26"]])
    elif comparison == "rest":
        keep = (~df["mountain26"]) | (enclave == 1)
        df = df.loc[keep].assign(treated=enclave[keep])
    else:
        df = df.assign(treated=df["mountain26"].astype(int))
    df = df.reset_index().sort_values("cbu", kind="mergesort").reset_index(drop=True)
    if df["treated"].sum() == 0 or df["treated"].sum() == len(df):
        raise InputError(
            f"rule {rule.name!r} with comparison {comparison!r} leaves no treated or no control units"
        )
    return StudySample(data=df, rule=rule, comparison=comparison, dropped=tuple(dropped))


# ------------------------------------------- the third census: a real pre-period
#: Start of the pre-period: the 5th census (2000), total population only.
PRE_BASELINE = 2000
#: The covariate available in all three censuses (2000 has total population only).
PRE_COVARIATES: tuple[str, ...] = ("log_pop",)


def three_census_sample(
    start: int,
    end: int,
    rule: TreatmentRule = DEFAULT_RULE,
    population: pd.DataFrame | None = None,
) -> StudySample:
    """Mountain-county cross-section on three-census units for log population.

    Units are the three-census units of
    :func:`analysis.data.census.three_census_population` (census CBUs merged
    where the 2000 boundaries differ: among the mountain counties only
    柯城+衢江). Treatment and comparison are coded exactly as in
    :func:`build_sample` with ``comparison="mountain"`` (磐安, treated before
    2010, dropped). ``d_log_pop`` is ``log_pop[end] - log_pop[start]``; the
    baseline covariate is ``log_pop_2000`` (``baseline = 2000``), the one
    covariate measured before both periods. With ``start=2010, end=2000`` the
    coefficient is the event-study coefficient of 2000 relative to 2010.
    """
    years = (PRE_BASELINE, BASELINE, ENDLINE)
    if start not in years or end not in years or start == end:
        raise InputError(f"start and end must be two different census years of {years}")
    pop = census.three_census_population() if population is None else population
    wide = pop.pivot(index="tcu", columns="year", values="log_pop")
    meta = pop.drop_duplicates("tcu").set_index("tcu")
    groups = census.three_census_groups()
    counties = registry.load_counties().set_index("code")
    df = pd.DataFrame(index=wide.index)
    for y in years:
        df[f"log_pop_{y}"] = wide[y]
    df["d_log_pop"] = df[f"log_pop_{end}"] - df[f"log_pop_{start}"]
    df["name"] = meta["tcu_name_zh"]
    df["mountain26"] = meta["mountain26"].astype(bool)
    pref = groups.assign(p=groups["code"].map(counties["prefecture_code"])).groupby("tcu")["p"]
    if (pref.nunique() != 1).any():
        raise ValueError("a three-census unit spans two prefectures")
    df["prefecture"] = pref.first().loc[df.index].astype(int)
    first = first_enclave_year(rule)
    tcu_of = groups.set_index("code")["tcu"]
    coh = pd.DataFrame({"tcu": tcu_of.loc[first.index].to_numpy(), "year": first.to_numpy()})
    by_unit = coh.groupby("tcu")["year"]
    mixed = by_unit.apply(lambda s: (s > 0).any() and (s == 0).any())
    if mixed.any():
        raise InputError(
            f"three-census unit(s) {sorted(mixed[mixed].index)} mix treated and untreated counties"
        )
    df["cohort"] = by_unit.max().reindex(df.index).fillna(0).astype("int64")
    df = df.loc[df["mountain26"]]
    df, dropped = _drop_pre_baseline(df)
    df["treated"] = df["cohort"].between(BASELINE + 1, rule.cutoff).astype(int)
    df = df.rename_axis("cbu").reset_index().sort_values("cbu", kind="mergesort")
    return StudySample(
        data=df.reset_index(drop=True),
        rule=rule,
        comparison="mountain",
        dropped=tuple(dropped),
        baseline=PRE_BASELINE,
    )
