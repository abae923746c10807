"""Treatment coding: documented rules over ``enclave_events``.

A :class:`TreatmentRule` says which events count as a county "having an
enclave" and by when. :func:`first_enclave_year` applies it and returns, per
county code, the first year the rule is met (``0`` = not met by the cut-off,
which means "not treated *as far as the sources show*": the timeline is
incomplete, a blank is "not found", not "never").

The default rule, used throughout unless stated, is **an enclave located in a
developed partner area, with an agreement (or a later milestone: start,
opening) dated by 2019**, county-level platforms only, read or inferred
dates. Events with an unknown year never count (their timing is unknown).
City-level platforms (衢州海创园 2012; 丽水经开区's enclave in 宁波杭州湾新区
2019) count for *every* county of their prefecture only when
``city_platforms=True``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import pandas as pd

from analysis.data import registry, sources

ENCLAVE_KINDS = ("industrial", "sci-tech", "village-income")
MILESTONES = ("agreement", "start", "open")


@dataclass(frozen=True)
class TreatmentRule:
    """Which enclave events count, and by when.

    Attributes
    ----------
    name
        Short label used in tables.
    kinds
        Enclave kinds that count (``industrial``, ``sci-tech``, ``village-income``).
    directions
        Where the enclave must be (default: in the developed partner area).
    event_types
        Milestones that count (a county counts from its first such milestone).
    cutoff
        Latest year that counts (inclusive).
    date_status
        Accepted date qualities (``read``, ``inferred``).
    city_platforms
        Whether a prefecture-level platform treats all counties of the prefecture.
    min_confidence
        Lowest source confidence accepted.
    """

    name: str = "default"
    kinds: tuple[str, ...] = ENCLAVE_KINDS
    directions: tuple[str, ...] = ("in_developed_area",)
    event_types: tuple[str, ...] = MILESTONES
    cutoff: int = 2019
    date_status: tuple[str, ...] = ("read", "inferred")
    city_platforms: bool = False
    min_confidence: str = "low"
    description: str = field(default="", compare=False)
    #: Annual design only (:func:`annual_cohorts`): mountain counties with no qualifying
    #: dated event by this year are coded as treated in this year (the 2021-2022 provincial
    #: wave) and flagged ``timing_imputed``. ``None`` = no imputation (the census rules).
    impute_year: int | None = None

    def describe(self) -> str:
        if self.description:
            return self.description
        return (
            f"{'/'.join(self.kinds)} enclave, {' or '.join(self.directions)}, first "
            f"{'/'.join(self.event_types)} dated by {self.cutoff} ({'/'.join(self.date_status)} dates"
            f"{'; city-level platforms count' if self.city_platforms else ''})"
        )


_CONF_ORDER = ["low", "medium-low", "medium", "medium-high", "high"]

DEFAULT_RULE = TreatmentRule(
    description="Enclave in a developed partner area (any kind), agreement or later milestone dated by 2019"
)

#: Alternative rules for robustness (each differs from the default in one respect).
ALTERNATIVE_RULES: tuple[TreatmentRule, ...] = (
    replace(
        DEFAULT_RULE,
        name="read_high",
        date_status=("read",),
        min_confidence="high",
        description="Default, counting only read dates from high-confidence sources",
    ),
    replace(
        DEFAULT_RULE,
        name="city_platforms",
        city_platforms=True,
        description="Default, plus city-level platforms for every county of their prefecture",
    ),
    replace(
        DEFAULT_RULE,
        name="village_income",
        kinds=("village-income",),
        description="Village-income (消薄) enclaves only",
    ),
    replace(
        DEFAULT_RULE,
        name="industrial_scitech",
        kinds=("industrial", "sci-tech"),
        description="Industrial and sci-tech enclaves only",
    ),
    replace(
        DEFAULT_RULE,
        name="started_by_2019",
        event_types=("start", "open"),
        description="Construction started or opened by 2019 (agreements alone do not count)",
    ),
    replace(
        DEFAULT_RULE,
        name="by_2017",
        cutoff=2017,
        description="Default with cut-off 2017 (at least three years of exposure by 2020)",
    ),
)


def _qualifying(rule: TreatmentRule, ev: pd.DataFrame, *, dated: bool) -> pd.Series:
    """Mask of the events of ``ev`` that count under ``rule``.

    Kind, direction, event type, confidence and (unless ``rule.city_platforms``) county
    level; with ``dated``, also a dated year of an accepted date status by the cut-off.
    """
    ok_conf = _CONF_ORDER[_CONF_ORDER.index(rule.min_confidence) :]
    m = (
        ev["kind"].isin(rule.kinds)
        & ev["direction"].isin(rule.directions)
        & ev["event_type"].isin(rule.event_types)
        & ev["confidence"].isin(ok_conf)
    )
    if dated:
        m &= ev["date_status"].isin(rule.date_status) & ev["year"].notna()
        m &= ev["year"] <= rule.cutoff
    if not rule.city_platforms:
        m &= ev["level"] == "county"
    return m


def first_enclave_year(
    rule: TreatmentRule = DEFAULT_RULE, events: pd.DataFrame | None = None
) -> pd.Series:
    """First year each mountain county meets ``rule`` (``0`` = not by the cut-off).

    Returns a Series indexed by county code (the 26 mountain counties, 2022
    codes), named ``cohort``.
    """
    ev = sources.load_enclave_events() if events is None else events.copy()
    hits = ev.loc[_qualifying(rule, ev, dated=True), ["county_code", "level", "year"]]
    counties = registry.load_counties()
    mountain = counties.loc[counties["mountain26"], ["code", "prefecture_code"]]
    rows = []
    for r in hits.itertuples(index=False):
        if r.level == "city":
            for c in mountain.loc[mountain["prefecture_code"] == r.county_code, "code"]:
                rows.append((int(c), int(r.year)))
        else:
            rows.append((int(r.county_code), int(r.year)))
    first = pd.DataFrame(rows, columns=["code", "year"]).groupby("code")["year"].min()
    out = pd.Series(
        0, index=pd.Index(sorted(mountain["code"]), name="code"), name="cohort", dtype="int64"
    )
    out.loc[first.index.intersection(out.index)] = first.loc[
        first.index.intersection(out.index)
    ].astype("int64")
    return out


# ----------------------------------------------------------------- annual design
#: The 7 counties paired one-to-one with central SOEs in 2021 (seed paper, claims C25-C27):
#: 文成, 泰顺, 龙泉, 云和, 庆元, 松阳, 景宁. The pairing date could not be confirmed from
#: public sources (timeline section 5); it is coded from the paper.
SOE_COUNTIES: tuple[int, ...] = (330328, 330329, 331181, 331125, 331124, 331126, 331127)
SOE_YEAR = 2021
#: Kind given to counties whose timing is imputed: the provincial wave is one 产业飞地 per
#: county in a high-level platform (paper claim C10).
IMPUTED_KIND = "industrial"

ANNUAL_RULE = replace(
    DEFAULT_RULE,
    name="annual",
    cutoff=2023,
    impute_year=2022,
    description=(
        "Annual design: first agreement/start/opening of an enclave (any kind) in a developed "
        "partner area, dated 2023 or earlier; mountain counties with none dated by 2022 get the "
        "2021-2022 provincial wave (coded 2022, flagged imputed)"
    ),
)

#: Alternatives for the annual design (each differs from :data:`ANNUAL_RULE` in one respect).
ANNUAL_ALTERNATIVES: tuple[TreatmentRule, ...] = (
    replace(
        ANNUAL_RULE,
        name="annual_wave2021",
        impute_year=2021,
        description="Annual rule with the provincial wave coded 2021 (the 2021-12 target year)",
    ),
    replace(
        ANNUAL_RULE,
        name="annual_industrial_scitech",
        kinds=("industrial", "sci-tech"),
        description="Annual rule counting industrial and sci-tech enclaves only",
    ),
    replace(
        ANNUAL_RULE,
        name="annual_city_platforms",
        city_platforms=True,
        description="Annual rule, plus city-level platforms for every county of their prefecture",
    ),
)

#: The two comparisons an annual design on Zhejiang can make (every mountain county is
#: treated by 2022, so there is no never-treated mountain county).
COMPARISONS: dict[str, str] = {
    "notyet_mountain": (
        "Mountain counties only; controls are the not-yet-treated mountain counties "
        "(no comparison exists once the 2022 wave is treated)"
    ),
    "never_nonmountain": (
        "All 90 units; the 64 non-mountain units are the never-treated group. Caveat: they "
        "are the developed partner areas that host the enclaves, richer and on other trends, "
        "and may themselves be affected (spillovers), so parallel trends is a strong assumption"
    ),
}


def annual_cohorts(rule: TreatmentRule = ANNUAL_RULE, impute: bool = True) -> pd.DataFrame:
    """Treatment timing of every county-level unit for an annual design.

    Parameters
    ----------
    rule
        Which events count (default :data:`ANNUAL_RULE`). ``rule.impute_year`` is the year
        given to mountain counties with no qualifying dated event by then.
    impute
        ``False`` is the rule's alternative: drop the counties whose timing would be imputed.

    Returns
    -------
    DataFrame
        One row per unit (90, fewer when ``impute=False``), sorted by ``code``: ``code``,
        ``name_zh``, ``mountain26``, ``cohort`` (first treated year, 0 = never: the 64
        non-mountain units), ``timing_imputed``, ``source_event`` (event_id of the dating
        event or ""), ``enclave_kind`` (kind of that event; imputed: ``industrial``),
        ``kinds`` (every kind of enclave event recorded for the county, dated or not,
        ``;``-joined), ``soe_cohort`` (2021 for the 7 SOE-paired counties, else 0) and
        ``note``.
    """
    return _annual(rule, bool(impute)).copy()


@lru_cache(maxsize=32)
def _annual(rule: TreatmentRule, impute: bool) -> pd.DataFrame:
    """Cached body of :func:`annual_cohorts` (callers get a copy)."""
    ev = sources.load_enclave_events()
    counties = registry.load_counties()
    dated = ev.loc[_qualifying(rule, ev, dated=True)].copy()
    dated["date"] = dated["date"].fillna("").astype(str)
    any_kind = ev.loc[
        ev["kind"].isin(ENCLAVE_KINDS) & (ev["level"] == "county"), ["county_code", "kind"]
    ]
    rows = []
    for c in counties.sort_values("code").itertuples(index=False):
        code = int(c.code)
        rec = {
            "code": code,
            "name_zh": c.name_zh,
            "mountain26": bool(c.mountain26),
            "cohort": 0,
            "timing_imputed": False,
            "source_event": "",
            "enclave_kind": "",
            "kinds": "",
            "soe_cohort": SOE_YEAR if code in SOE_COUNTIES else 0,
            "note": "",
        }
        if c.mountain26:
            own = dated[dated["county_code"] == code]
            if rule.city_platforms:
                pref = dated[
                    (dated["level"] == "city") & (dated["county_code"] == c.prefecture_code)
                ]
                own = pd.concat([own, pref])
            own = own.sort_values(["year", "date", "event_id"], kind="mergesort")
            kinds = sorted(set(any_kind.loc[any_kind["county_code"] == code, "kind"]))
            first = own.iloc[0] if len(own) else None
            late = (
                first is not None
                and rule.impute_year is not None
                and int(first["year"]) > rule.impute_year
            )
            if first is not None and not late:
                rec.update(
                    cohort=int(first["year"]),
                    source_event=str(first["event_id"]),
                    enclave_kind=str(first["kind"]),
                )
            elif rule.impute_year is not None:
                rec.update(cohort=rule.impute_year, timing_imputed=True, enclave_kind=IMPUTED_KIND)
                rec["note"] = (
                    f"first dated event {first['event_id']} ({int(first['year'])}) is after the "
                    "provincial wave"
                    if late
                    else "no qualifying dated event; provincial wave (paper C10)"
                )
            rec["kinds"] = ";".join(sorted(set(kinds) | {rec["enclave_kind"]}))
        rows.append(rec)
    out = pd.DataFrame(rows)
    if not impute:
        out = out.loc[~out["timing_imputed"]].reset_index(drop=True)
    return out.astype({"code": "int64", "cohort": "int64", "soe_cohort": "int64"})
