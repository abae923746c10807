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

Modules
-------
:mod:`~analysis.studies.annual.design` (data, outcomes, estimator specs, the
design's counts), :mod:`~analysis.studies.annual.effects` (the estimates and
the tables read off them), :mod:`~analysis.studies.annual.inference`
(clustering, wild bootstrap, randomisation, multiple testing, power),
:mod:`~analysis.studies.annual.estimate` (the run of the whole study and its
cache) and :mod:`~analysis.studies.annual.report` (numbers, figures, tables,
sentences). Every public name is re-exported here.
"""

from __future__ import annotations

from analysis.studies.annual.design import (
    ALPHA,
    CLUSTER,
    COHORT,
    COVARIATES,
    DRAW_SEED,
    MAIN,
    N_DRAWS,
    N_POWER_SIMS,
    NO_RAILWAY_ZH,
    NOTEBOOK_TITLES,
    OUTCOMES,
    PRE_LEADS,
    ROBUST,
    SPEC,
    SPECS,
    STATUS,
    TIME,
    TWIN_SEED,
    UNIT,
    WINDOW,
    AnnualData,
    Design,
    Layer,
    Outcome,
    Sample,
    Scenario,
    Spec,
    add_outcomes,
    derived_truth,
    design,
    first_year,
    from_frame,
    load,
    outcomes_of,
    sample_frame,
    timing_status,
)
from analysis.studies.annual.effects import (
    bacon,
    bacon_table,
    bacon_truth,
    event_frame,
    fit,
    fit_all,
    heterogeneity_table,
    honest,
    honest_table,
    main_table,
    pretrend_table,
    subgroups,
    true_aggregates,
)
from analysis.studies.annual.estimate import (
    FamilyEntry,
    OutcomeAnalysis,
    analyse,
    family,
    family_entry,
    fingerprint,
    run,
    run_cached,
)
from analysis.studies.annual.inference import (
    family_table,
    inference_table,
    mde,
    ri_main,
    trust_sentence,
)
from analysis.studies.annual.report import (
    STRUCTURE_COLUMNS,
    bacon_sentence,
    employment_structure,
    estimates_long,
    estimates_sentence,
    honest_sentence,
    numbers,
    plot_bacon,
    plot_estimates,
    plot_honest,
    plot_overlay,
    plot_timing,
    power_sentence,
    show,
    write_outputs,
)

__all__ = [
    "CLUSTER",
    "COHORT",
    "TIME",
    "UNIT",
    "add_outcomes",
    "ALPHA",
    "analyse",
    "AnnualData",
    "bacon",
    "bacon_sentence",
    "bacon_table",
    "bacon_truth",
    "COVARIATES",
    "derived_truth",
    "Design",
    "design",
    "DRAW_SEED",
    "employment_structure",
    "estimates_long",
    "estimates_sentence",
    "event_frame",
    "family",
    "family_entry",
    "family_table",
    "FamilyEntry",
    "fingerprint",
    "first_year",
    "fit",
    "fit_all",
    "from_frame",
    "heterogeneity_table",
    "honest",
    "honest_sentence",
    "honest_table",
    "inference_table",
    "Layer",
    "load",
    "MAIN",
    "main_table",
    "mde",
    "N_DRAWS",
    "N_POWER_SIMS",
    "NO_RAILWAY_ZH",
    "NOTEBOOK_TITLES",
    "numbers",
    "Outcome",
    "OutcomeAnalysis",
    "OUTCOMES",
    "outcomes_of",
    "plot_bacon",
    "plot_estimates",
    "plot_honest",
    "plot_overlay",
    "plot_timing",
    "power_sentence",
    "PRE_LEADS",
    "pretrend_table",
    "ri_main",
    "ROBUST",
    "run",
    "run_cached",
    "Sample",
    "sample_frame",
    "Scenario",
    "show",
    "Spec",
    "SPEC",
    "SPECS",
    "STATUS",
    "STRUCTURE_COLUMNS",
    "subgroups",
    "timing_status",
    "true_aggregates",
    "trust_sentence",
    "TWIN_SEED",
    "WINDOW",
    "write_outputs",
]
