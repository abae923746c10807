"""The real values the SYNTHETIC twin is calibrated to or compared with, and the comparison.

:func:`targets` lists every cited real figure (census counts per consistent-boundary unit,
bulletin figures, the seed paper's 26-county aggregates, the parameter file's extra
figures) with its scope, how the twin's value is formed and its tolerance;
:func:`evaluate_targets` forms the same value on any panel with the twin's columns (the
twin, or a real yearbook panel) and says whether it is within tolerance. The generator
(:mod:`analysis.data.twin`) imposes the ``pin`` and ``solve`` rows while it draws; it forms
its group aggregates with the same weights (:func:`stat_weights`). This module is separate
from the generator because the targets are a statement about the real data, read and
checked without generating anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
import pandas as pd

from analysis.data import registry, sources
from analysis.data.twin_params import census_inputs, is_default, load_params, units

__all__ = ["STAT", "evaluate_targets", "stat_weights", "targets"]

#: bulletin_figures variable -> twin column: the panel's columns, plus two quantities the
#: twin forms from them (others are reported, not modelled).
_BULLETIN_VARS = {
    **sources.BULLETIN_COLUMNS,
    "urban_rural_income_ratio": "urban_rural_ratio",
    "gdp_pc": "gdp_pc",
}

#: How a group aggregate of each variable is formed (see [aggregates] of the parameters):
#: ``(stat, weights)`` with ``stat`` ``sum`` or ``wmean`` and ``weights`` a kind of
#: :func:`stat_weights`.
STAT: dict[str, tuple[str, str | None]] = {
    "gdp": ("sum", None),
    "population": ("sum", None),
    "fiscal_revenue": ("sum", None),
    "budget_revenue": ("sum", None),
    "urbanisation": ("wmean", "pop"),
    "gdp_growth": ("wmean", "gdp_lag"),
    "fai_growth": ("wmean", "gdp_lag"),
    "urban_income": ("wmean", "urban_pop"),
    "rural_income": ("wmean", "rural_pop"),
    "disp_income": ("wmean", "pop"),
}

_UNITS = {
    "gdp": "亿元",
    "population": "万人",
    "urbanisation": "%",
    "gdp_growth": "%",
    "fai_growth": "%",
    "urban_income": "元",
    "rural_income": "元",
    "disp_income": "元",
    "fiscal_revenue": "亿元",
    "budget_revenue": "亿元",
    "urban_rural_ratio": "ratio",
    "gdp_pc": "元",
    "urbanisation_change": "pp",
    "urban_income_share": "%",
    "rural_income_share": "%",
}


def stat_weights(
    kind: str | None, a: Mapping[str, np.ndarray], rows: np.ndarray, t: int
) -> np.ndarray:
    """Weights of a group mean of :data:`STAT` over units ``rows`` in year column ``t``.

    Parameters
    ----------
    kind
        ``None`` (equal weights), ``"pop"`` (resident population :math:`P`),
        ``"urban_pop"`` (:math:`P u / 100`, with :math:`u` the urbanisation rate in
        percent), ``"rural_pop"`` (:math:`P (1 - u / 100)`) or ``"gdp_lag"`` (GDP of the
        year before; NaN in the first column).
    a
        Unit x year arrays by variable (``population``, ``urbanisation``, ``gdp``); only
        those ``kind`` needs are read.
    rows, t
        Row indices of the group's units and the year's column.
    """
    if kind is None:
        return np.ones(rows.size)
    pop = a["population"][rows, t]
    if kind == "pop":
        return pop
    if kind == "urban_pop":
        return pop * a["urbanisation"][rows, t] / 100
    if kind == "rural_pop":
        return pop * (1 - a["urbanisation"][rows, t] / 100)
    if kind == "gdp_lag":
        return a["gdp"][rows, t - 1] if t > 0 else np.full(rows.size, np.nan)
    raise ValueError(kind)


# ========================================================================== targets
@dataclass(frozen=True)
class _Tol:
    """A tolerance: ``value``, relative (``rel``) or absolute (``abs``)."""

    value: float
    kind: Literal["rel", "abs"]


def _tol(params: dict, scope: str, variable: str, role: str) -> _Tol:
    """The tolerance of a target of ``scope`` and ``variable`` in ``role`` (``[tolerance]``)."""
    t = params["tolerance"]
    rate = variable in ("urbanisation", "gdp_growth", "fai_growth", "urbanisation_change")
    if role == "context":
        return _Tol(t["context"], "rel")
    if role == "check_path":
        return _Tol(t["province_path"], "rel")
    if scope == "cbu":
        if variable == "population":
            return _Tol(t["census_population"], "rel")
        return _Tol(t["census_urbanisation_pp"], "abs")
    if variable == "urban_rural_ratio":
        return _Tol(0.02, "abs")
    if variable in ("urban_income_share", "rural_income_share"):
        return _Tol(0.5, "abs")
    if scope == "county":
        if variable == "urbanisation":
            return _Tol(t["county_rate_pp"], "abs")
        if rate:
            return _Tol(t["county_growth_pp"], "abs")
        return _Tol(t["county_level"], "rel")
    if scope in ("block", "prefecture"):
        return _Tol(t["county_growth_pp"], "abs") if rate else _Tol(t["block_level"], "rel")
    if scope == "mountain26":
        return _Tol(t["paper_rate_pp"], "abs") if rate else _Tol(t["paper_aggregate"], "rel")
    return _Tol(t["province_rate_pp"], "abs") if rate else _Tol(t["province_level"], "rel")


@cache
def _targets_default() -> pd.DataFrame:
    """:func:`targets` of the parameter file (computed once per process)."""
    return _targets(load_params())


def targets(params: dict | None = None) -> pd.DataFrame:
    """Every real value the twin is calibrated to or compared with, one row each.

    Columns: ``target_id``, ``scope`` (cbu | county | block | prefecture | mountain26 |
    province), ``codes`` (tuple of 2022 unit codes the value refers to), ``label``,
    ``year``, ``variable``, ``stat`` (how the twin's value is formed), ``value``, ``unit``,
    ``role`` (``pin``: imposed on one county; ``solve``: imposed on a group through its
    not-yet-fixed members; ``check``: not imposed, compared with a tolerance; ``context``:
    compared, not comparable enough to test, with the reason in ``how``), ``tolerance``,
    ``tol_kind`` (rel | abs), ``source``, ``how``.
    """
    if is_default(params):
        return _targets_default().copy()
    return _targets(params)  # type: ignore[arg-type]


def _targets(params: dict) -> pd.DataFrame:
    """Body of :func:`targets`."""
    params = load_params() if params is None else params
    unit_frame = units(params)
    all_codes = tuple(int(c) for c in unit_frame["code"])
    mountain = tuple(int(c) for c in unit_frame.loc[unit_frame["mountain26"], "code"])
    first, last = params["panel"]["first_year"], params["panel"]["last_year"]
    rows: list[dict] = []

    def add(scope, codes, label, year, variable, value, role, source, how, stat=None):
        st = stat or STAT.get(variable, ("derived", None))[0]
        tol = _tol(params, scope, variable, role)
        rows.append(
            {
                "scope": scope,
                "codes": tuple(int(c) for c in codes),
                "label": label,
                "year": int(year),
                "variable": variable,
                "stat": st,
                "value": float(value),
                "unit": _UNITS.get(variable, ""),
                "role": role,
                "tolerance": tol.value,
                "tol_kind": tol.kind,
                "source": source,
                "how": how,
            }
        )

    # 1. census, per consistent-boundary unit (imposed through the allocated county pins)
    h = census_inputs()[0]
    cw = registry.load_crosswalk("full")
    c22 = cw[cw["year"] == 2022]
    h = h[h["year"].isin([2010, 2020])]  # the censuses the twin is built on
    for r in h.sort_values(["cbu", "year"]).itertuples(index=False):
        codes = tuple(sorted(int(x) for x in c22.loc[c22["cbu"] == r.cbu, "code"]))
        src = f"census{r.year}_zhejiang.csv (harmonised, CBU {r.cbu})"
        add(
            "cbu",
            codes,
            r.cbu_name_zh,
            r.year,
            "population",
            r.pop_total / 1e4,
            "check",
            src,
            "census count, 2022 units summed to the CBU",
            stat="sum",
        )
        add(
            "cbu",
            codes,
            r.cbu_name_zh,
            r.year,
            "urbanisation",
            100 * r.urbanisation,
            "check",
            src,
            "census urban / total population, 2022 units summed to the CBU",
            stat="wmean",
        )

    # 2. bulletin figures (structured rows)
    bf = sources.load_bulletin_figures()
    pref_members = unit_frame.groupby("prefecture")["code"].apply(
        lambda s: tuple(int(x) for x in s)
    )
    for r in bf.itertuples(index=False):
        var = _BULLETIN_VARS.get(r.variable)
        year = int(r.year)
        codes = tuple(int(x) for x in str(r.adcode).split("+"))
        label = str(r.county)
        if var is None:
            add(
                "county",
                codes,
                label,
                year,
                r.variable,
                r.value,
                "context",
                r.source,
                "not a twin variable (reported for completeness)",
                stat="none",
            )
            continue
        if not first <= year <= last:
            continue
        if codes == (330000,):
            scope, codes = "province", all_codes
        elif len(codes) == 1 and codes[0] in pref_members.index:
            scope, codes = "prefecture", pref_members[codes[0]]
        elif len(codes) > 1:
            scope = "block"
        else:
            scope = "county"
        role = "pin" if scope == "county" else "solve"
        how = f"bulletin_figures.csv ({r.vintage})"
        stat = None
        if var == "gdp_pc":
            role, stat = "context", "gdp_pc"
            how += (
                "; twin GDP / resident population"
                " (bulletins divide by mean, not year-end, population)"
            )
        elif var == "urban_rural_ratio":
            role, stat = "check", "ratio"
        elif scope == "prefecture" and var in ("fiscal_revenue", "budget_revenue"):
            role = "context"
            how += "; city totals include city-level revenue, not a sum of counties"
        else:
            role, how = _bulletin_role(r, bf, scope, var, year, role, how)
        add(scope, codes, label, year, var, r.value, role, r.source, how, stat=stat)
        if role == "check_path":
            rows[-1]["role"] = "check"

    # 3. the paper's 2022 26-county aggregates
    claims = sources.load_paper_claims().set_index("claim_id")
    paper = {
        "C03": ("gdp", "sum", "solve"),
        "C04": ("gdp_growth", "wmean", "solve"),
        "C05": ("fai_growth", "wmean", "solve"),
        "C07": ("urbanisation", "wmean", "solve"),
        "C15": ("urban_income", "wmean", "solve"),
        "C16": ("rural_income", "wmean", "solve"),
        "C19": ("fiscal_revenue", "mean", "solve"),
        "C20": ("budget_revenue", "mean", "solve"),
        "C08": ("urbanisation_change", "diff", "check"),
        "C09": ("urban_rural_ratio", "ratio", "check"),
        "C17": ("urban_income_share", "share", "check"),
        "C18": ("rural_income_share", "share", "check"),
    }
    for cid, (var, stat, role) in paper.items():
        c = claims.loc[cid]
        add(
            "mountain26",
            mountain,
            "浙江山区26县",
            2022,
            var,
            c["value"],
            role,
            f"paper_claims.csv {cid}",
            str(c["phrase_zh"]),
            stat=stat,
        )

    # 4. figures in notes and derived ones (parameter file)
    for e in params.get("extra_targets", []):
        scope = e["scope"]
        if scope == "province":
            codes = all_codes
        elif scope == "mountain26":
            codes = mountain
        elif scope == "prefecture":
            codes = pref_members[int(e["codes"][0])]
        else:
            codes = tuple(e["codes"])
        role = "pin" if scope == "county" else "solve"
        name = unit_frame.set_index("code")["name_zh"]
        label = {"province": "浙江省", "mountain26": "浙江山区26县"}.get(
            scope, "+".join(name.get(int(c), str(c)) for c in e.get("codes", [])) or scope
        )
        if scope == "prefecture":
            label = {330800: "衢州市", 331100: "丽水市"}.get(int(e["codes"][0]), label)
        add(scope, codes, label, e["year"], e["variable"], e["value"], role, e["source"], e["how"])

    out = pd.DataFrame(rows)
    out.insert(0, "target_id", [f"T{i + 1:03d}" for i in range(len(out))])
    return out


def _bulletin_role(r, bf: pd.DataFrame, scope: str, var: str, year: int, role: str, how: str):
    """Role and note of a bulletin figure of a twin variable, from its default ``role``.

    Prefecture incomes are solved; an all-resident income is context where the twin forms
    it from other cited figures; the 2021 provincial incomes check the assumed growth
    path (``check_path``: the province-path tolerance, reported as ``check``); secondary
    county sources are context.
    """
    if scope == "prefecture" and var in ("urban_income", "rural_income"):
        role = "solve"
    if scope == "prefecture" and var == "disp_income":
        role = "context"
    if scope == "province" and (var in ("urban_income", "rural_income") and year == 2021):
        role = "check_path"
        how += "; level solved in 2022, 2021 follows from the assumed growth path"
    if scope == "province" and var == "disp_income":
        role = "context"
        how += "; all-resident income implied by the twin's urban/rural incomes and urbanisation"
    if (
        scope == "county"
        and var == "disp_income"
        and (
            (bf["adcode"] == r.adcode)
            & (bf["year"] == r.year)
            & bf["variable"].isin(["urban_disp_income_pc", "rural_disp_income_pc"])
        ).any()
    ):
        role = "context"
        how += (
            "; implied by the county's cited urban and rural incomes and the census "
            "urbanisation (survey weights differ)"
        )
    if scope == "county" and r.vintage.startswith("secondary (GitHub"):
        role = "context"
        how += "; unverified secondary source"
    return role, how


# ===================================================================== comparison
class _Cube:
    """The panel's numeric columns as unit x year arrays (fast group aggregates)."""

    _VARS = (
        "gdp",
        "population",
        "urbanisation",
        "gdp_growth",
        "fai_growth",
        "urban_income",
        "rural_income",
        "disp_income",
        "fiscal_revenue",
        "budget_revenue",
    )

    def __init__(self, panel: pd.DataFrame) -> None:
        self.codes = np.sort(panel["code"].unique())
        self.years = np.sort(panel["year"].unique())
        ci = np.searchsorted(self.codes, panel["code"].to_numpy())
        yi = np.searchsorted(self.years, panel["year"].to_numpy())
        self.a: dict[str, np.ndarray] = {}
        for v in self._VARS:
            m = np.full((self.codes.size, self.years.size), np.nan)
            if v in panel.columns:
                m[ci, yi] = pd.to_numeric(panel[v], errors="coerce").to_numpy(dtype=float)
            self.a[v] = m

    def rows(self, codes: tuple) -> np.ndarray:
        """Row indices of ``codes``."""
        return np.searchsorted(self.codes, np.asarray(codes))

    def col(self, year: int) -> int | None:
        """Column index of ``year`` (``None`` if the panel has no such year)."""
        k = int(np.searchsorted(self.years, year))
        return k if k < self.years.size and self.years[k] == year else None


def _group_value(cube: _Cube, codes: tuple, year: int, variable: str, stat: str) -> float:
    """The panel's value of a target: ``variable`` over units ``codes`` in ``year`` by ``stat``."""
    t = cube.col(year)
    if t is None:
        return np.nan
    r = cube.rows(codes)
    a = cube.a

    def wmean(v):
        ww = stat_weights(STAT[v][1], a, r, t)
        return float(np.dot(ww, a[v][r, t]) / ww.sum())

    if variable == "urban_rural_ratio":
        return wmean("urban_income") / wmean("rural_income")
    if variable == "gdp_pc":
        return float(1e4 * a["gdp"][r, t].sum() / a["population"][r, t].sum())
    if variable == "urbanisation_change":
        return wmean("urbanisation") - _group_value(cube, codes, year - 1, "urbanisation", "wmean")
    if variable in ("urban_income_share", "rural_income_share"):
        v = variable.replace("_share", "")
        return 100 * wmean(v) / _group_value(cube, tuple(cube.codes), year, v, "wmean")
    if stat == "none" or variable not in a:
        return np.nan
    if stat == "sum":
        return float(a[variable][r, t].sum())
    if stat == "mean":
        return float(a[variable][r, t].mean())
    return wmean(variable)


def evaluate_targets(panel: pd.DataFrame, tg: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every target of :func:`targets` with the panel's value, the gap and a pass flag.

    Adds ``twin`` (the panel's value formed as ``stat`` says), ``gap`` (twin - value),
    ``rel_gap``, ``within`` (``|gap|`` within the tolerance; NaN for ``context`` rows).
    Works on any frame with the twin's columns (also a real yearbook panel).
    """
    tg = targets() if tg is None else tg
    cube = _Cube(panel)
    known = set(int(c) for c in cube.codes)
    vals = []
    for r in tg.itertuples(index=False):
        if r.stat == "none" or not set(r.codes) <= known:
            vals.append(np.nan)
            continue
        vals.append(_group_value(cube, r.codes, r.year, r.variable, r.stat))
    out = tg.copy()
    out["twin"] = vals
    out["gap"] = out["twin"] - out["value"]
    out["rel_gap"] = out["gap"] / out["value"].abs()
    err = np.where(out["tol_kind"] == "rel", out["rel_gap"].abs(), out["gap"].abs())
    within = pd.Series(err <= out["tolerance"] + 1e-12, index=out.index, dtype="boolean")
    within[out["role"].eq("context") | out["twin"].isna()] = pd.NA
    out["within"] = within
    return out
