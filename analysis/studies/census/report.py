"""Census DiD study: what it publishes -- tables, figures, numbers and notes.

:func:`write_outputs` runs the study (sample, main table, robustness tables)
and writes its tables and figures under ``paper/``, returning every number the
paper quotes (keys ``did.*``); :func:`design_notes` are the notes every table
carries. Separate from the computation so that nothing else in the study
imports the report layer.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from analysis.data import census
from analysis.inference.ri import RIFamily
from analysis.studies.census.estimate import balance_table, fd_fit
from analysis.studies.census.inference import (
    RI_SETTINGS,
    WILD_SETTINGS,
    main_table,
    randomization_inference,
)
from analysis.studies.census.robustness import (
    LISHUI,
    comparisons_table,
    drop_prefecture_table,
    event_study_table,
    lopo_table,
    prefecture_concentration,
    pretrend_table,
    rules_table,
)
from analysis.studies.census.sample import (
    BASELINE,
    ENDLINE,
    OUTCOME_LABELS,
    PRE_BASELINE,
    PRE_COVARIATES,
    StudySample,
    build_sample,
    three_census_sample,
)

# --------------------------------------------- outputs: tables, figures, numbers
#: Readable column headers of the published tables.
_HEADERS = {
    "outcome": "Outcome",
    "beta": "Estimate",
    "p_ri": "RI p (exact)",
    "p_wild": "Wild p",
    "wild_ci_low": "Wild CI low",
    "wild_ci_high": "Wild CI high",
    "p_ri_holm": "RI p, Holm",
    "p_ri_bh": "RI p, BH",
    "p_ri_romano_wolf": "RI p, Romano-Wolf",
    "dr_att": "DR 2x2",
    "dr_p": "DR p",
    "se_hc1": "SE (HC1)",
    "p_hc1": "HC1 p",
    "se_cr1": "SE (CR1)",
    "p_cr1": "CR1 p",
}

_MAIN_COLUMNS = (
    "outcome",
    "beta",
    "p_ri",
    "p_wild",
    "p_ri_holm",
    "p_ri_bh",
    "p_ri_romano_wolf",
    "dr_att",
    "dr_p",
    "se_hc1",
    "p_hc1",
    "p_cr1",
)


#: Columns of the log-population tables (pre-trend, event study) after the row label.
_POPULATION_COLUMNS = (
    "beta",
    "p_ri",
    "p_wild",
    "wild_ci_low",
    "wild_ci_high",
    "se_hc1",
    "p_hc1",
    "p_cr1",
)


def _population_table(table: pd.DataFrame, key: str, header: str) -> pd.DataFrame:
    """The published columns of a log-population table, with readable headers.

    Parameters
    ----------
    table
        :func:`~analysis.studies.census.robustness.pretrend_table` or
        :func:`~analysis.studies.census.robustness.event_study_table`.
    key
        Its row-label column (``"period"`` or ``"census"``).
    header
        The label column's header in the published table.

    Returns
    -------
    pandas.DataFrame
        ``key``, :data:`_POPULATION_COLUMNS`, units and treated units, renamed.
    """
    return table[[key, *_POPULATION_COLUMNS, "n_units", "n_treated"]].rename(
        columns={**_HEADERS, key: header, "n_units": "Units", "n_treated": "Treated"}
    )


def _ri_phrase(ri: RIFamily) -> str:
    """How the RI p-values were computed, for table notes."""
    if ri.exact:
        return f"exact over all {ri.n_draws:,} identified assignments"
    return f"Monte Carlo ({RI_SETTINGS['n_draws']:,} draws, seed {RI_SETTINGS['seed']})"


def design_notes(sample: StudySample, ri: RIFamily) -> list[str]:
    """The notes every census-DiD table carries (data layer, design, inference)."""
    lishui = int(sample.data.loc[sample.data["prefecture"] == LISHUI, "treated"].sum())
    n_pref = int(sample.data["prefecture"].nunique())
    return [
        "Data layer: real (2010 and 2020 censuses; consistent-boundary units).",
        f"Treatment: {sample.rule.describe()}; {sample.n_treated} treated and "
        f"{sample.n_units - sample.n_treated} comparison mountain counties in "
        f"{sample.data['prefecture'].nunique()} prefectures ({lishui} of the "
        f"{sample.n_treated} treated counties are in Lishui); " + "; ".join(sample.dropped) + ".",
        "First-difference regression with prefecture effects and 2010 log population and "
        f"urbanisation. Valid inference with {sample.n_treated} treated units in {n_pref} "
        f"prefectures: randomisation inference, {_ri_phrase(ri)} of the "
        f"{sample.n_treated} treated units, and the wild cluster bootstrap (WCR, Webb weights, "
        f"{WILD_SETTINGS['B']:,} draws, seed {WILD_SETTINGS['seed']}) over prefectures. Holm, "
        "Benjamini-Hochberg and Romano-Wolf adjust the RI p-values across the outcome family. "
        "DR: doubly-robust 2x2 (Sant'Anna-Zhao), same covariates, analytic SE. HC1 and CR1 "
        f"(by prefecture, t with G-1 df) are shown last for reference only: with {n_pref} "
        f"clusters and {sample.n_treated} treated units they over-reject.",
        census.LONG_FORM_NOTE + ".",
    ]


def write_outputs(paper_dir=None) -> dict[str, float]:
    """Run the census study; write its tables and figures under ``paper_dir``.

    Returns every number the paper quotes from this study (keys ``did.*``).
    With ``paper_dir=None`` nothing is written (``enclave verify``).
    """
    from scipy import stats as _st

    panel = census.harmonised_census("census")
    sample = build_sample(panel=panel)
    ri = randomization_inference(sample)
    main = main_table(sample, ri=ri)
    numbers: dict[str, float] = {
        "did.n_units": sample.n_units,
        "did.n_treated": sample.n_treated,
        "did.n_controls": sample.n_units - sample.n_treated,
        "did.n_prefectures": int(sample.data["prefecture"].nunique()),
        "did.ri_n_assignments": ri.n_draws,
        "did.n_outcomes": len(main),
    }
    for r in main.itertuples(index=False):
        for col in (
            "beta",
            "p_hc1",
            "p_cr1",
            "p_wild",
            "p_ri",
            "p_ri_holm",
            "p_ri_bh",
            "p_ri_romano_wolf",
            "dr_att",
            "dr_p",
            "effect_sd",
        ):
            numbers[f"did.{r.outcome}.{col}"] = float(getattr(r, col))
    for col in ("p_hc1", "p_cr1", "p_wild", "p_ri", "p_ri_holm", "p_ri_bh", "p_ri_romano_wolf"):
        numbers[f"did.n_sig05.{col}"] = int((main[col] < 0.05).sum())
    numbers["did.n_sig05.dr_p"] = int((main["dr_p"] < 0.05).sum())
    numbers["did.n_sig05.any_adjusted"] = int(
        (main[["p_ri_holm", "p_ri_bh", "p_ri_romano_wolf"]].min(axis=1) < 0.05).sum()
    )
    # minimum detectable effect at 5% / 80% power, (z_.975 + z_.8) x SE, in s.d. of the change
    mult = _st.norm.ppf(0.975) + _st.norm.ppf(0.8)
    numbers["did.mde_sd_median"] = float((mult * main["se_hc1"] / main["sd_control"]).median())

    conc = prefecture_concentration(sample)
    numbers["did.lishui.n_treated"] = int(
        conc.loc[conc["prefecture"] == LISHUI, "n_treated"].iloc[0]
    )
    numbers["did.lishui.n_units"] = int(conc.loc[conc["prefecture"] == LISHUI, "n_units"].iloc[0])
    numbers["did.lishui.n_comparison"] = int(
        conc.loc[conc["prefecture"] == LISHUI, "n_comparison"].iloc[0]
    )
    numbers["did.n_prefectures_with_treated"] = int((conc["n_treated"] > 0).sum())
    nol = drop_prefecture_table(sample)
    numbers["did.no_lishui.n_treated"] = int(nol["n_treated_without"].iloc[0])
    numbers["did.no_lishui.n_units"] = int(nol["n_units_without"].iloc[0])
    numbers["did.no_lishui.n_sign_flips"] = int(nol["sign_flip"].sum())
    for r in nol.itertuples(index=False):
        numbers[f"did.no_lishui.{r.outcome}.beta"] = float(r.beta_without)

    lopo = lopo_table(sample)
    numbers["did.lopo.n_fits"] = int(len(lopo))
    numbers["did.lopo.n_sig05"] = int((lopo["p_hc1"] < 0.05).sum())
    per_pref = lopo.drop_duplicates("dropped_prefecture")
    numbers["did.lopo.n_prefectures"] = int(len(per_pref))
    numbers["did.lopo.n_repeat_full"] = int((per_pref["status"] == "repeats full sample").sum())
    numbers["did.lopo.n_one_treated"] = int((per_pref["status"] == "one treated unit").sum())
    valid = lopo[lopo["status"] == ""]
    numbers["did.lopo.n_informative"] = int(valid["dropped_prefecture"].nunique())
    numbers["did.lopo.n_sig05_ri"] = int((valid["p_ri"] < 0.05).sum())

    pre = pretrend_table(sample.rule)
    ev = event_study_table(sample.rule)
    for r, key in zip(pre.itertuples(index=False), ("pretrend", "pretrend_post"), strict=True):
        for col in ("beta", "p_hc1", "p_cr1", "p_wild", "p_ri"):
            numbers[f"did.{key}.{col}"] = float(getattr(r, col))
    numbers["did.pretrend.n_units"] = int(pre["n_units"].iloc[0])
    numbers["did.pretrend.n_treated"] = int(pre["n_treated"].iloc[0])
    numbers["did.pretrend.ri_n_assignments"] = int(pre["ri_n_assignments"].iloc[0])
    numbers["did.pretrend.pct"] = float(100 * np.expm1(pre["beta"].iloc[0]))
    for r in ev[~ev["reference"]].itertuples(index=False):
        numbers[f"did.event.{r.census}.beta"] = float(r.beta)
        numbers[f"did.event.{r.census}.p_ri"] = float(r.p_ri)
        numbers[f"did.event.{r.census}.p_wild"] = float(r.p_wild)
    if paper_dir is None:
        return numbers

    import matplotlib.pyplot as plt

    from analysis.report.figures import coefficient_plot, event_study_plot, save_figure
    from analysis.report.tables import write_table

    lab = OUTCOME_LABELS
    notes = design_notes(sample, ri)
    tables = paper_dir / "tables"
    show = main.assign(outcome=main["outcome"].map(lab))[list(_MAIN_COLUMNS)]
    write_table(
        show.rename(columns=_HEADERS),
        tables,
        "census_did_main",
        caption="Enclaves agreed by 2019 and the 2010-2020 change in county outcomes",
        notes=notes,
        digits=3,
    )
    bal = balance_table(sample).assign(variable=lambda d: d["variable"].map(lab))
    write_table(
        bal,
        tables,
        "census_did_balance",
        caption="Balance of 2010 characteristics: treated vs comparison mountain counties",
        notes=notes[:2],
        digits=3,
    )
    write_table(
        conc,
        tables,
        "census_did_prefectures",
        caption="Where the treated counties are: sample units by prefecture",
        notes=[
            notes[0],
            f"{numbers['did.lishui.n_treated']} of the {sample.n_treated} treated counties are in "
            "Lishui (丽水市); the prefecture effects compare them with Lishui's other mountain "
            "counties.",
        ],
    )
    write_table(
        nol.assign(outcome=nol["outcome"].map(lab)).rename(
            columns={
                "outcome": "Outcome",
                "beta_full": "Full sample",
                "beta_without": "Without Lishui",
                "sign_flip": "Sign flips",
                "n_treated_without": "Treated left",
                "n_units_without": "Units left",
            }
        ),
        tables,
        "census_did_no_lishui",
        caption="Dropping Lishui: the coefficient rests on one treated county",
        notes=[
            notes[0],
            f"Without Lishui, {numbers['did.no_lishui.n_treated']} treated county (泰顺) remains: "
            "the estimate is one county's deviation from its comparison counties, and no p-value "
            "is valid with one treated unit, so none is shown.",
        ],
        digits=3,
    )
    rules = rules_table(panel=panel)
    write_table(
        rules.assign(outcome=rules["outcome"].map(lab)).drop(columns=["note"]),
        tables,
        "census_did_rules",
        caption="Alternative treatment rules (FD coefficient, exact RI p-value)",
        notes=[
            notes[0],
            "Comparison: mountain counties not treated under the rule; "
            "specification as in the main table.",
        ],
        digits=3,
    )
    comps = comparisons_table(panel=panel)
    write_table(
        comps.assign(outcome=comps["outcome"].map(lab)),
        tables,
        "census_did_comparisons",
        caption="The default treatment against three comparison groups",
        notes=[
            notes[0],
            "mountain: other mountain counties (prefecture effects); rest: all "
            "non-mountain units; designation: the mountain-26 designation as the treatment "
            "against the other units (no prefecture effects: Quzhou and Lishui are all-mountain). "
            f"RI by Monte Carlo ({RI_SETTINGS['n_draws']:,} draws, seed {RI_SETTINGS['seed']}) "
            f"where there are more than {RI_SETTINGS['exact_limit']:,} assignments, exact "
            "otherwise.",
        ],
        digits=3,
    )
    write_table(
        lopo.assign(outcome=lopo["outcome"].map(lab)),
        tables,
        "census_did_lopo",
        caption="Leave one prefecture out (FD coefficient; exact RI and HC1 p-values)",
        notes=[
            *notes[:2],
            "status 'repeats full sample': the prefecture has one county in the sample, which its "
            "prefecture effect absorbs, so the coefficient equals the full-sample one. "
            "status 'one treated unit': only one treated county is left; no p-value is valid "
            "with one treated unit, so none is shown. RI p: exact, in the reduced sample.",
        ],
        digits=3,
    )
    pre_notes = [
        "Data layer: real (2000, 2010 and 2020 censuses; three-census consistent units: "
        "柯城+衢江 merged, since towns moved between them in 2001).",
        f"Treatment and comparison as in the main table ({int(pre['n_treated'].iloc[0])} treated, "
        f"{int(pre['n_units'].iloc[0] - pre['n_treated'].iloc[0])} comparison mountain units; "
        "磐安 dropped).",
        "First-difference regression of the change in log population with prefecture effects "
        "and the start-of-period log population (the 2000 census has total population only, "
        "so urbanisation is not a covariate here). Wild cluster bootstrap (WCR, Webb, "
        f"{WILD_SETTINGS['B']:,} draws, seed {WILD_SETTINGS['seed']}) over prefectures; exact RI over "
        f"{int(pre['ri_n_assignments'].iloc[0]):,} assignments; HC1 and CR1 for reference.",
    ]
    write_table(
        _population_table(pre, "period", "Change"),
        tables,
        "census_pop_pretrend",
        caption="Pre-trend test: log population 2000-2010, treated vs comparison mountain counties",
        notes=pre_notes,
        digits=3,
    )
    write_table(
        _population_table(ev, "census", "Census"),
        tables,
        "census_pop_event_study",
        caption="Three-census event study of log population (2010 = reference)",
        notes=[
            *pre_notes[:2],
            "Coefficient of treatment in the regression of log P(t) - log P(2010) on treatment, "
            "prefecture effects and 2000 log population, for t = 2000 and 2020.",
        ],
        digits=3,
    )
    from analysis.report.regtable import regression_table, write_regression_table

    pop3 = census.three_census_population()
    s_post = three_census_sample(BASELINE, ENDLINE, sample.rule, pop3)
    s_post = replace(s_post, baseline=BASELINE)
    s_pre = three_census_sample(PRE_BASELINE, BASELINE, sample.rule, pop3)
    models = {
        "(1) 2010-2020": fd_fit(sample, "log_pop"),
        "(2) 2010-2020": fd_fit(s_post, "log_pop", PRE_COVARIATES),
        "(3) 2000-2010": fd_fit(s_pre, "log_pop", PRE_COVARIATES),
    }
    start = "Log population, start of period"
    reg = regression_table(
        models,
        terms=["treated", "log_pop_2010", "urbanisation_2010"],
        labels={
            "treated": "Enclave agreed 2011-2019",
            "log_pop_2010": start,
            "log_pop_2000": start,
            "urbanisation_2010": "Urbanisation 2010",
        },
        digits=3,
        show=("n_obs", "fixed_effects", "se_type"),
        fixed_effects={"Prefecture effects": ["yes", "yes", "yes"]},
        extra_rows={
            "Units": ["census CBUs", "three-census units", "three-census units"],
            "Treated": [sample.n_treated, s_post.n_treated, s_pre.n_treated],
            "Clusters (prefectures)": [
                int(sample.data["prefecture"].nunique()),
                int(s_post.data["prefecture"].nunique()),
                int(s_pre.data["prefecture"].nunique()),
            ],
            "RI p (exact)": [
                numbers["did.log_pop.p_ri"],
                float(pre["p_ri"].iloc[1]),
                float(pre["p_ri"].iloc[0]),
            ],
            "Wild cluster bootstrap p": [
                numbers["did.log_pop.p_wild"],
                float(pre["p_wild"].iloc[1]),
                float(pre["p_wild"].iloc[0]),
            ],
        },
        caption="Log population: the 2010-2020 change and the 2000-2010 pre-trend",
        notes=[
            pre_notes[0],
            "Dependent variable: change in log resident population over the period in the header. "
            "(1) is the main table's specification; (2) and (3) use the three-census units and the "
            "start-of-period log population only. RI and wild p-values are the valid inference; "
            "HC1 standard errors are shown for reference.",
        ],
    )
    write_regression_table(reg, tables, "census_pop_models")
    figures = paper_dir / "figures"
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    coefficient_plot(main, lab, ax=ax)
    ax.set_title("Enclave counties vs other mountain counties, 2010-2020 (real census)")
    save_figure(fig, figures, "census_did_coefficients")
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    event_study_plot(ev, ax=ax)
    ax.set_title("Log population: enclave vs other mountain counties (real census)")
    save_figure(fig, figures, "census_pop_event_study")
    return numbers
