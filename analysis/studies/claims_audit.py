"""Audit of the seed paper's quantitative claims against offline evidence.

Every row of ``data/raw/paper_claims.csv`` gets a status:

``reproduced``
    recomputed from other numbers (the paper's own or cited ones) and equal to
    the claim at the precision it is printed;
``consistent``
    independent cited evidence agrees with it within the tolerance stated in
    the evidence text, or it matches the sourced record;
``partly checkable``
    only part of its scope can be checked offline (e.g. some of the 26
    counties); the evidence says which part and what it shows;
``not checkable offline``
    no offline source exists (the reason is given).

All numbers come from the shipped tables (claims, bulletin figures, census,
registry); nothing here is typed in except the tolerances. Each check is a
small function registered in :data:`CHECKS` under the claim's ``quantity``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from analysis.data import census, registry, sources

STATUSES = ("reproduced", "consistent", "partly checkable", "not checkable offline")


def _printed_precision(value: float) -> float:
    """Half a unit of the last printed digit (1.9 -> 0.05, 58.8 -> 0.05, 7404 -> 0.5)."""
    s = f"{value:.10g}"
    decimals = len(s.split(".")[1]) if "." in s else 0
    return 0.5 * 10.0 ** (-decimals)


@dataclass
class AuditContext:
    """Lazy access to everything a check may use."""

    @cached_property
    def claims(self) -> pd.DataFrame:
        return sources.load_paper_claims()

    @cached_property
    def bulletin(self) -> pd.DataFrame:
        return sources.load_bulletin_figures()

    @cached_property
    def mountain(self) -> frozenset[int]:
        return registry.mountain26_codes()

    @cached_property
    def counties(self) -> pd.DataFrame:
        return registry.load_counties()

    @cached_property
    def census2020(self) -> pd.DataFrame:
        return census.add_rates(census.load_census(2020))

    def claim(self, quantity: str) -> float:
        v = self.claims.loc[self.claims["quantity"] == quantity, "value"]
        if v.empty:
            raise KeyError(f"paper_claims has no quantity {quantity!r}")
        return float(v.iloc[0])

    def fig(self, adcode: str, year: int, variable: str) -> float | None:
        b = self.bulletin
        m = (b["adcode"] == str(adcode)) & (b["year"] == year) & (b["variable"] == variable)
        return float(b.loc[m, "value"].iloc[0]) if m.any() else None

    def gdp_coverage_2022(self) -> tuple[set[int], float, list[str]]:
        """2022 GDP of mountain counties from cited figures, without double counting.

        Uses single-county figures, multi-county blocks and prefecture totals
        whose every county-level unit is a mountain county (衢州: all six).
        Larger disjoint blocks are taken first. Returns the covered county
        codes, their summed GDP (亿元) and the labels of the figures used.
        """
        b = self.bulletin
        rows = b[(b["year"] == 2022) & (b["variable"] == "gdp")]
        by_pref = self.counties.groupby("prefecture_code")["mountain26"].all()
        whole_prefs = {int(p) for p, all_m in by_pref.items() if all_m}
        candidates = []
        for r in rows.itertuples(index=False):
            codes = [int(c) for c in str(r.adcode).split("+")]
            if len(codes) == 1 and codes[0] in whole_prefs:
                members = set(
                    self.counties.loc[self.counties["prefecture_code"] == codes[0], "code"]
                )
            elif all(c in self.mountain for c in codes):
                members = set(codes)
            else:
                continue
            candidates.append((len(members), r.county, members, float(r.value)))
        covered: set[int] = set()
        total = 0.0
        labels: list[str] = []
        for _, label, members, value in sorted(candidates, key=lambda x: (-x[0], x[1])):
            if members & covered:
                continue
            covered |= members
            total += value
            labels.append(label)
        return covered, total, labels


Check = Callable[[AuditContext], tuple[str, float | None, str]]
CHECKS: dict[str, Check] = {}


def check(quantity: str) -> Callable[[Check], Check]:
    def deco(fn: Check) -> Check:
        CHECKS[quantity] = fn
        return fn

    return deco


# --------------------------------------------------------------------- checks
@check("n_mountain_counties")
def _n_counties(ctx: AuditContext):
    n = len(ctx.mountain)
    names = ctx.counties.loc[ctx.counties["mountain26"], "name_zh"].tolist()
    ok = n == ctx.claim("n_mountain_counties")
    return (
        "reproduced" if ok else "consistent",
        float(n),
        f"The registry flags {n} units from the paper's own list ({', '.join(names[:3])}, ...); "
        "all are distinct county-level units of Zhejiang in 2022.",
    )


@check("urban_rural_income_ratio_26_counties")
def _ratio(ctx: AuditContext):
    u = ctx.claim("urban_disposable_income_pc_26_counties")
    r = ctx.claim("rural_disposable_income_pc_26_counties")
    ratio = u / r
    claim = ctx.claim("urban_rural_income_ratio_26_counties")
    ok = abs(ratio - claim) <= _printed_precision(claim)
    return (
        "reproduced" if ok else "consistent",
        ratio,
        f"{u:.0f} / {r:.0f} = {ratio:.4f}, which rounds to {claim:g}.",
    )


def _implied_provincial(ctx: AuditContext, which: str):
    income = ctx.claim(f"{which}_disposable_income_pc_26_counties")
    share = ctx.claim(f"{which}_income_share_of_province") / 100
    implied = income / share
    prev = ctx.fig("330000", 2021, f"{which}_disp_income_pc")
    growth = 100 * (implied / prev - 1) if prev else np.nan
    lo = income / (share + 0.0005 if which == "urban" else share + 0.00005)
    hi = income / (share - 0.0005 if which == "urban" else share - 0.00005)
    return implied, prev, growth, lo, hi


@check("urban_income_share_of_province")
def _urban_share(ctx: AuditContext):
    implied, prev, growth, lo, hi = _implied_provincial(ctx, "urban")
    ru = _implied_provincial(ctx, "rural")[0]
    ratio = implied / ru
    prov_ratio = ctx.fig("330000", 2022, "urban_rural_income_ratio")
    ok = (
        prev is not None
        and 0 < growth < 10
        and prov_ratio is not None
        and abs(ratio - prov_ratio) < 0.05
    )
    return (
        "consistent" if ok else "partly checkable",
        implied,
        f"Implied 2022 provincial urban income = 56303/0.79 = {implied:,.0f} 元 (range {lo:,.0f}-{hi:,.0f} "
        f"given rounding of 79%); the cited 2021 provincial figure {prev:,.0f} 元 implies nominal growth of "
        f"{growth:.1f}%, and the implied provincial urban/rural ratio {ratio:.3f} matches the cited "
        f"provincial ratio {prov_ratio:g}. The 2022 provincial urban income itself is not in our cited data.",
    )


@check("rural_income_share_of_province")
def _rural_share(ctx: AuditContext):
    implied, prev, growth, lo, hi = _implied_provincial(ctx, "rural")
    ok = prev is not None and 0 < growth < 12
    return (
        "consistent" if ok else "partly checkable",
        implied,
        f"Implied 2022 provincial rural income = 29607/0.788 = {implied:,.0f} 元 (range {lo:,.0f}-{hi:,.0f}); "
        f"against the cited 2021 figure {prev:,.0f} 元 that is nominal growth of {growth:.1f}%, "
        "plausible for 2022; the 2022 provincial rural income is not in our cited data.",
    )


@check("fai_growth_gap_vs_province_pp")
def _fai_gap(ctx: AuditContext):
    implied = ctx.claim("fai_growth_26_counties") - ctx.claim("fai_growth_gap_vs_province_pp")
    qy = ctx.fig("331126", 2022, "fai_growth")
    return (
        "partly checkable",
        implied,
        f"Implied provincial 2022 fixed-asset-investment growth = 16.4 - 7.3 = {implied:.1f}%. "
        "No provincial FAI growth is in our cited data; the only cited county figure is 庆元 "
        f"({qy:g}%), in line with the 26-county 16.4%.",
    )


@check("fai_growth_26_counties")
def _fai(ctx: AuditContext):
    qy = ctx.fig("331126", 2022, "fai_growth")
    return (
        "partly checkable",
        qy,
        f"Only one of the 26 counties has a cited 2022 FAI growth: 庆元 {qy:g}% (paper: 16.4% for all 26).",
    )


@check("gdp_26_counties")
def _gdp(ctx: AuditContext):
    cov, total, labels = ctx.gdp_coverage_2022()
    n_cov = len(cov)
    prov = ctx.fig("330000", 2022, "gdp")
    claim = ctx.claim("gdp_26_counties")
    share = 100 * claim / prov
    rest = claim - total
    missing = sorted(ctx.mountain - set(cov))
    c20 = ctx.census2020.set_index("code")
    pop_cov = c20.loc[sorted(cov), "pop_total"].sum()
    pop_rest = c20.loc[missing, "pop_total"].sum()
    gdppc_cov = total / pop_cov * 1e8
    gdppc_rest = rest / pop_rest * 1e8
    names = ctx.counties.set_index("code").loc[missing, "name_zh"].tolist()
    ok = 0 < rest and 0.5 < gdppc_rest / gdppc_cov < 1.5
    return (
        "consistent" if ok else "partly checkable",
        total,
        f"Cited 2022 GDPs cover {n_cov} of the 26 counties ({', '.join(labels)}) and sum to {total:,.1f} 亿元, "
        f"{100 * total / claim:.1f}% of the claimed {claim:,.0f} 亿元; the remainder {rest:,.1f} 亿元 for "
        f"{', '.join(names)} implies {gdppc_rest:,.0f} 元 per 2020 census resident against {gdppc_cov:,.0f} "
        f"元 for the covered counties (plausible). The claim is {share:.2f}% of the cited provincial GDP "
        f"{prov:,.0f} 亿元.",
    )


@check("gdp_growth_26_counties")
def _growth(ctx: AuditContext):
    b = ctx.bulletin
    g = b[(b["year"] == 2022) & (b["variable"] == "gdp_real_growth")]
    g = g[g["adcode"].isin([str(c) for c in ctx.mountain])]
    gdp = b[(b["year"] == 2022) & (b["variable"] == "gdp")].set_index("adcode")["value"]
    w = g["adcode"].map(gdp)
    use = w.notna()
    wavg = float(np.average(g.loc[use, "value"], weights=w[use])) if use.any() else np.nan
    return (
        "partly checkable",
        wavg,
        f"{len(g)} counties have a cited 2022 real growth rate (range {g['value'].min():g}% to "
        f"{g['value'].max():g}%; GDP-weighted mean of the {int(use.sum())} with a cited GDP: {wavg:.1f}%) "
        "against the paper's 4.1% for all 26.",
    )


def _census_urbanisation(ctx: AuditContext) -> tuple[float, int]:
    """The 26 counties' urbanisation rate in the 2020 census.

    Returns
    -------
    tuple of (float, int)
        Urban over resident population of the mountain counties, in percent,
        and the number of census units summed.
    """
    c = ctx.census2020
    m = c[c["code"].isin(ctx.mountain)]
    return 100 * m["pop_urban"].sum() / m["pop_total"].sum(), len(m)


@check("urbanisation_rate_26_counties")
def _urban(ctx: AuditContext):
    rate, n_units = _census_urbanisation(ctx)
    claim = ctx.claim("urbanisation_rate_26_counties")
    gap = claim - rate
    ok = 0 <= gap <= 3.0  # at most 1.5 points a year, the range of Zhejiang's recent annual gains
    return (
        "consistent" if ok else "partly checkable",
        rate,
        f"2020 census: the 26 counties' urbanisation rate is {rate:.2f}% (urban / resident population, "
        f"{n_units} units, 苍南 without 龙港). The paper's {claim:g}% for 2022 is {gap:+.2f} points higher "
        "(tolerance: 0 to 3 points over two years).",
    )


@check("urbanisation_rate_change_26_counties")
def _urban_change(ctx: AuditContext):
    claim = ctx.claim("urbanisation_rate_26_counties")
    change = ctx.claim("urbanisation_rate_change_26_counties")
    rate = _census_urbanisation(ctx)[0]
    implied_2021 = claim - change
    return (
        "partly checkable",
        implied_2021,
        f"Read as percentage points, the claim implies {implied_2021:.1f}% in 2021, equal to the 2020 census "
        f"rate {rate:.2f}% at one decimal; the 2021 sample-survey figure itself is not in our cited data, "
        f"so the {change:g}-point gain cannot be checked directly (2020-2022 average: "
        f"{(claim - rate) / 2:.2f} points a year).",
    )


def _income_bracket(
    ctx: AuditContext, which: str, *, quzhou_note: str = "", claim_note: str = "", tail: str = ""
):
    """Quzhou's and Qingyuan's cited 2022 income per head against a 26-county claim.

    Parameters
    ----------
    ctx
        The audit's data.
    which
        ``"urban"`` or ``"rural"`` (disposable income per head).
    quzhou_note, claim_note, tail
        Words of the sentence: after 衢州市, before the claimed figure, at the end.

    Returns
    -------
    tuple
        ``(status, our value, sentence)`` of a :data:`CHECKS` entry; our value
        is Quzhou's figure.
    """
    qz = ctx.fig("330800", 2022, f"{which}_disp_income_pc")
    qy = ctx.fig("331126", 2022, f"{which}_disp_income_pc")
    claim = ctx.claim(f"{which}_disposable_income_pc_26_counties")
    return (
        "partly checkable",
        qz,
        f"衢州市{quzhou_note} 2022 {which} income {qz:,.0f} 元 and 庆元 {qy:,.0f} 元 "
        f"bracket the paper's {claim_note}{claim:,.0f} 元{tail}.",
    )


@check("urban_disposable_income_pc_26_counties")
def _urban_income(ctx: AuditContext):
    return _income_bracket(
        ctx,
        "urban",
        quzhou_note=" (all six units are mountain counties)",
        claim_note="26-county ",
        tail="; the other counties' 2022 figures are not cited",
    )


@check("rural_disposable_income_pc_26_counties")
def _rural_income(ctx: AuditContext):
    return _income_bracket(ctx, "rural")


def _fiscal(ctx: AuditContext, variable: str, quantity: str):
    claim = ctx.claim(quantity)
    qy = ctx.fig("331126", 2022, variable)
    jy23 = ctx.fig("331122", 2023, variable)
    return (
        "partly checkable",
        qy,
        f"The claim implies a 26-county total of {26 * claim:,.1f} 亿元. Cited county figures: 庆元 2022 "
        f"{qy:g} 亿元; 缙云 2023 {jy23:g} 亿元 (2022 derived from its growth rate in the bulletin note). "
        "Two counties cannot test a 26-county average.",
    )


@check("fiscal_revenue_avg_per_county")
def _fiscal_total(ctx: AuditContext):
    return _fiscal(ctx, "fiscal_total_revenue", "fiscal_revenue_avg_per_county")


@check("general_budget_revenue_avg_per_county")
def _fiscal_budget(ctx: AuditContext):
    return _fiscal(ctx, "general_budget_revenue", "general_budget_revenue_avg_per_county")


def _timeline(status: str, text: str) -> Check:
    def fn(ctx: AuditContext):
        return status, None, text

    return fn


CHECKS.update(
    {
        "shanhai_cooperation_start_year": _timeline(
            "consistent",
            "Sourced timeline: first proposed 2001, formally started 2002-04; first pairings 2002.",
        ),
        "enclave_economy_guidance_year": _timeline(
            "consistent",
            "Sourced timeline: 发改地区〔2017〕922号, signed 2017-05-12, published 2017-06.",
        ),
        "n_ministries_issuing_guidance": _timeline(
            "consistent",
            "Sourced timeline: NDRC with 国土部, 环保部 and others, 8 ministries in total.",
        ),
        "n_enclaves_in_high_level_platforms": _timeline(
            "consistent",
            "Sourced timeline: the 2021-12-25 provincial work conference set the 2022 goal that all 26 "
            "'产业飞地' start construction in provincial new areas or high-level zones.",
        ),
    }
)

#: Why the remaining claims cannot be checked offline.
NOT_CHECKABLE: dict[str, str] = {
    "n_enclave_projects_started": "No offline list of enclave projects exists.",
    "enclave_project_investment_threshold": "A threshold defining the next claim, not a measurement.",
    "share_enclave_projects_over_10yi": "No offline list of enclave projects with investment sizes.",
    "land_policy_date": "The land-policy notice was not located in the stored sources.",
    "terrain_mountain_share_idiom": "An idiom (九山半水半分田), not a statistic.",
    "n_counties_without_railway": "No railway network data offline.",
    "soe_pairing_year": "The timeline's search found no record of the 7 SOE-county pairings.",
    "n_central_soes_paired": "The timeline's search found no record of the 7 SOE-county pairings.",
    "n_counties_paired_with_soes": "The timeline's search found no record of the 7 SOE-county pairings.",
    "n_soe_major_projects_signed": "No offline record of the signed central-SOE projects.",
    "soe_projects_total_investment": "No offline record of the signed central-SOE projects.",
}


def audit_claims(ctx: AuditContext | None = None) -> pd.DataFrame:
    """One row per paper claim: status, the offline number the check rests on
    (``check_value``: a recomputed or cited value, if any) and the evidence."""
    ctx = ctx or AuditContext()
    rows = []
    for c in ctx.claims.itertuples(index=False):
        fn = CHECKS.get(c.quantity)
        if fn is None:
            status, computed = "not checkable offline", None
            evidence = NOT_CHECKABLE.get(c.quantity, "No offline source for this figure.")
        else:
            status, computed, evidence = fn(ctx)
        if status not in STATUSES:
            raise ValueError(f"check for {c.quantity} returned unknown status {status!r}")
        rows.append(
            {
                "claim_id": c.claim_id,
                "section": c.section,
                "quantity": c.quantity,
                "value": c.value,
                "unit": c.unit,
                "year": c.year,
                "status": status,
                "check_value": computed,
                "evidence": evidence,
            }
        )
    return pd.DataFrame(rows)


def audit_numbers(audit: pd.DataFrame, ctx: AuditContext | None = None) -> dict[str, float]:
    """Numbers the paper text quotes from the audit (for ``paper/numbers.json``).

    ``audit.check.<quantity>`` is each claim's ``check_value``; the named keys
    below are the derived quantities the text discusses.
    """
    ctx = ctx or AuditContext()
    chk = audit.set_index("quantity")["check_value"]
    out: dict[str, float] = {
        f"audit.check.{k}": float(v) for k, v in chk.items() if v is not None and np.isfinite(v)
    }
    counts = audit["status"].value_counts()
    for s in STATUSES:
        out[f"audit.n_{s.replace(' ', '_')}"] = int(counts.get(s, 0))
    out["audit.n_claims"] = len(audit)
    cov, total, _ = ctx.gdp_coverage_2022()
    claim_gdp = ctx.claim("gdp_26_counties")
    out.update(
        {
            "audit.income_ratio": chk["urban_rural_income_ratio_26_counties"],
            "audit.implied_prov_urban_income": chk["urban_income_share_of_province"],
            "audit.implied_prov_rural_income": chk["rural_income_share_of_province"],
            "audit.implied_prov_income_ratio": chk["urban_income_share_of_province"]
            / chk["rural_income_share_of_province"],
            "audit.implied_prov_fai_growth": chk["fai_growth_gap_vs_province_pp"],
            "audit.gdp_share_of_province_pct": 100 * claim_gdp / ctx.fig("330000", 2022, "gdp"),
            "audit.gdp_cited_total": total,
            "audit.gdp_cited_n_counties": len(cov),
            "audit.gdp_cited_share_pct": 100 * total / claim_gdp,
            "audit.census2020_urbanisation_26": chk["urbanisation_rate_26_counties"],
        }
    )
    return {k: float(v) if not isinstance(v, int) else v for k, v in out.items()}


def write_outputs(paper_dir=None) -> dict[str, float]:
    """Run the audit; write ``tables/claims_audit.*`` under ``paper_dir``.

    Returns every number the paper quotes from the audit (keys ``audit.*``).
    With ``paper_dir=None`` nothing is written (``enclave verify``).
    """
    ctx = AuditContext()
    audit = audit_claims(ctx)
    if paper_dir is not None:
        from analysis.report.tables import write_table

        show = audit[
            ["claim_id", "section", "quantity", "value", "unit", "year", "status", "evidence"]
        ]
        write_table(
            show,
            paper_dir / "tables",
            "claims_audit",
            caption="Quantitative claims of the seed paper and what offline evidence says about them",
            notes=[
                "Data layer: real (the paper's own numbers, cited bulletin figures, 2010/2020 censuses).",
                "Status rules are defined in analysis/studies/claims_audit.py.",
            ],
            digits={"value": 2, "year": 0},
        )
    return audit_numbers(audit, ctx)
