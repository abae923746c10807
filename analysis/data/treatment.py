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


def first_enclave_year(
    rule: TreatmentRule = DEFAULT_RULE, events: pd.DataFrame | None = None
) -> pd.Series:
    """First year each mountain county meets ``rule`` (``0`` = not by the cut-off).

    Returns a Series indexed by county code (the 26 mountain counties, 2022
    codes), named ``cohort``.
    """
    ev = sources.load_enclave_events() if events is None else events.copy()
    ok_conf = _CONF_ORDER[_CONF_ORDER.index(rule.min_confidence) :]
    m = (
        ev["kind"].isin(rule.kinds)
        & ev["direction"].isin(rule.directions)
        & ev["event_type"].isin(rule.event_types)
        & ev["date_status"].isin(rule.date_status)
        & ev["confidence"].isin(ok_conf)
        & ev["year"].notna()
        & (ev["year"] <= rule.cutoff)
    )
    if not rule.city_platforms:
        m &= ev["level"] == "county"
    hits = ev.loc[m, ["county_code", "level", "year"]]
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
