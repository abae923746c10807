"""Real descriptive comparison: the 26 mountain counties vs the rest of Zhejiang,
2010 and 2020 censuses, on consistent-boundary units.

Group figures are *aggregates* (summed counts, then rates), i.e. weighted by
population; county-level distributions are shown in the figures. The mountain
group is 26 consistent-boundary units; 苍南's unit includes 龙港, split off in
2019, so that both censuses cover the same territory. The comparison group
("rest of Zhejiang") is every other consistent-boundary unit (60 at the
census level, covering the 64 other county-level units of 2022; see
``data/raw/registry/README.md`` for the merges).
"""

from __future__ import annotations

import pandas as pd

from analysis.data import census

GROUPS = {True: "Mountain 26", False: "Rest of Zhejiang"}

#: (row label, function of a group's summed counts) for the comparison table.
INDICATORS: list[tuple[str, str]] = [
    ("Resident population (million)", "pop_million"),
    ("Urbanisation rate (%)", "urbanisation"),
    ("Share aged 65+ (%)", "old_age_share"),
    ("Mean years of schooling, aged 6+", "edu_years"),
    ("College-educated share, aged 6+ (%)", "college_share"),
    ("Agriculture share of employed (%)*", "agri_share"),
    ("Manufacturing share of employed (%)*", "manuf_share"),
    ("Services share of employed (%)*", "services_share"),
    ("Research & technical services share (%)*", "research_share"),
    ("Professional & technical occupations (%)*", "professional_share"),
]
#: Indicators shown in percent: the census share outcomes.
_PERCENT = frozenset(census.SHARE_OUTCOMES)


def cbu_panel() -> pd.DataFrame:
    """Harmonised CBU x year census table with a ``group`` label."""
    df = census.harmonised_census("census")
    df["group"] = df["mountain26"].map(GROUPS)
    return df


def group_aggregates(panel: pd.DataFrame | None = None) -> pd.DataFrame:
    """Summed counts by group and year, with rates recomputed from the sums."""
    panel = cbu_panel() if panel is None else panel
    counts = [*census.COUNTS, "edu_pop6_published", "edu_years_x_pop6"]
    agg = panel.groupby(["group", "year"], sort=True)[counts].sum().reset_index()
    agg = census.add_rates(agg)
    agg["pop_million"] = agg["pop_total"] / 1e6
    agg["n_units"] = panel.groupby(["group", "year"], sort=True).size().to_numpy()
    return agg


def comparison_table(panel: pd.DataFrame | None = None) -> pd.DataFrame:
    """Indicator x (group, year) table with 2010-2020 changes and the gap."""
    agg = group_aggregates(panel).set_index(["group", "year"])
    rows = []
    for label, var in INDICATORS:
        scale = 100.0 if var in _PERCENT else 1.0
        m10, m20 = (scale * agg.loc[("Mountain 26", y), var] for y in (2010, 2020))
        r10, r20 = (scale * agg.loc[("Rest of Zhejiang", y), var] for y in (2010, 2020))
        rows.append(
            {
                "Indicator": label,
                "Mountain 26, 2010": m10,
                "Mountain 26, 2020": m20,
                "Mountain 26, change": m20 - m10,
                "Rest, 2010": r10,
                "Rest, 2020": r20,
                "Rest, change": r20 - r10,
                "Gap 2020 (M - R)": m20 - r20,
            }
        )
    return pd.DataFrame(rows)


def employment_structure(panel: pd.DataFrame | None = None) -> pd.DataFrame:
    """Shares of long-form employment in five broad sectors by group and year."""
    agg = group_aggregates(panel).set_index(["group", "year"])
    tertiary_other = [c for c in census.SERVICE_SECTIONS if c != "ind_research"]
    out = pd.DataFrame(
        {
            "Agriculture": agg["ind_agriculture"],
            "Manufacturing": agg["ind_manufacturing"],
            "Construction, mining, utilities": agg[
                ["ind_construction", "ind_mining", "ind_utilities"]
            ].sum(axis=1),
            "Research & technical services": agg["ind_research"],
            "Other services": agg[tertiary_other].sum(axis=1),
        }
    )
    return out.div(agg["ind_total"], axis=0)


def descriptive_numbers(table: pd.DataFrame, agg: pd.DataFrame) -> dict[str, float]:
    """Numbers the paper text quotes from the comparison."""
    t = table.set_index("Indicator")
    out: dict[str, float] = {}
    keys = {
        "Urbanisation rate (%)": "urbanisation_pct",
        "Mean years of schooling, aged 6+": "edu_years",
        "Manufacturing share of employed (%)*": "manuf_share_pct",
        "Research & technical services share (%)*": "research_share_pct",
        "Professional & technical occupations (%)*": "professional_share_pct",
        "Share aged 65+ (%)": "old_age_share_pct",
        "Resident population (million)": "pop_million",
    }
    for label, key in keys.items():
        for col, tag in (
            ("Mountain 26, 2010", "m26_2010"),
            ("Mountain 26, 2020", "m26_2020"),
            ("Rest, 2010", "rest_2010"),
            ("Rest, 2020", "rest_2020"),
        ):
            out[f"census.{key}.{tag}"] = float(t.loc[label, col])
    a = agg.set_index(["group", "year"])
    for g, tag in (("Mountain 26", "m26"), ("Rest of Zhejiang", "rest")):
        out[f"census.n_units.{tag}"] = int(a.loc[(g, 2020), "n_units"])
        out[f"census.pop_growth_pct.{tag}"] = float(
            100 * (a.loc[(g, 2020), "pop_total"] / a.loc[(g, 2010), "pop_total"] - 1)
        )
    return out


def write_outputs(paper_dir=None) -> dict[str, float]:
    """Run the descriptive comparison; write its table and figures under ``paper_dir``.

    Returns every number the paper quotes from it (keys ``census.*``). With
    ``paper_dir=None`` nothing is written (``enclave verify``).
    """
    panel = cbu_panel()
    table = comparison_table(panel)
    agg = group_aggregates(panel)
    if paper_dir is not None:
        import matplotlib.pyplot as plt

        from analysis.report.figures import group_change_plot, save_figure, structure_plot
        from analysis.report.tables import write_table

        n_2020 = agg[agg["year"] == 2020].set_index("group")["n_units"]
        n_m26 = int(n_2020.loc["Mountain 26"])
        n_rest = int(n_2020.drop("Mountain 26").iloc[0])
        write_table(
            table,
            paper_dir / "tables",
            "census_comparison",
            caption="The 26 mountain counties and the rest of Zhejiang in the 2010 and 2020 censuses",
            notes=[
                "Data layer: real (6th and 7th population censuses, county tables; MIT-licensed copies).",
                f"Group aggregates over consistent-boundary units ({n_m26} mountain, {n_rest} "
                "other; 苍南 incl. 龙港).",
                "* Shares of the long-form (~10%) sample of the employed; 2010 and 2020 "
                "classifications matched at section / major-group level.",
            ],
            digits=2,
        )
        fig, axes = plt.subplots(1, 3, figsize=(13, 4))
        for ax, (var, lab) in zip(
            axes,
            [
                ("urbanisation", "urbanisation rate"),
                ("edu_years", "mean years of schooling (6+)"),
                ("professional_share", "professional & technical share*"),
            ],
            strict=True,
        ):
            group_change_plot(panel, var, lab, ax=ax)
        fig.suptitle("County-level distributions, consistent-boundary units (real census data)")
        save_figure(fig, paper_dir / "figures", "census_distributions")
        fig, ax = plt.subplots(figsize=(8, 3.2))
        structure_plot(employment_structure(panel), ax=ax)
        ax.set_title("Employment structure (real census, long-form sample)")
        save_figure(fig, paper_dir / "figures", "census_employment_structure")
    return descriptive_numbers(table, agg)
