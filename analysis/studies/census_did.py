"""Real-data study: enclaves and county change between the 2010 and 2020 censuses.

Design
------
Units are census consistent-boundary units (CBUs). A mountain county is
*treated* when it meets a :class:`~analysis.data.treatment.TreatmentRule` in
2011-2019 (default: an enclave in a developed partner area agreed by 2019),
i.e. between the two censuses. Counties treated before the 2010 baseline
(磐安's 1995 扶贫飞地) are dropped: they are treated in both periods.

Comparison groups:

``mountain``
    the other mountain counties, not treated by 2020 under the rule
    (the most credible comparison: same programme, same terrain);
``rest``
    all non-mountain units (a much less similar group);
``designation``
    the mountain-26 designation itself as the treatment, against the other units.

Two-period DiD as a first-difference regression

.. math::

    \\Delta Y_i = \\alpha_{p(i)} + \\beta D_i + X_{i,2010}'\\gamma + \\varepsilon_i ,

with prefecture effects :math:`\\alpha_p`, baseline (2010) covariates
:math:`X` (log population and urbanisation by default) and
:math:`\\beta` the DiD effect. The same :math:`\\beta` is the coefficient of
:math:`D_i \\times 1\\{t = 2020\\}` in the two-period panel regression with unit
and period effects and covariate-by-period terms, which the tests use as an
independent route.

Inference: heteroskedasticity-robust (HC1) and prefecture-clustered (CR1)
standard errors; a wild cluster bootstrap over prefectures; randomisation
inference over the assignment of treatment among the sample's units (exact
enumeration when feasible), with family-wise (Holm, Romano-Wolf on the
permutation draws) and false-discovery-rate (Benjamini-Hochberg) control
across the outcome family. Data layer: real.

Layout
------
The study lives in :mod:`analysis.studies.census` (sample, estimate,
inference, robustness, report: one module for each step). This module is its
public face: it keeps the design written out above and re-exports every public
name, so ``from analysis.studies import census_did as cd`` and ``cd.<name>``
work as before.
"""

from __future__ import annotations

from analysis.studies.census.estimate import (
    FDEstimate,
    balance_table,
    design_matrix,
    dr_did,
    fd_fit,
    fd_regression,
    two_period_panel,
)
from analysis.studies.census.inference import (
    RI_SETTINGS,
    WILD_SETTINGS,
    main_table,
    randomization_inference,
    wild_p,
)
from analysis.studies.census.report import (
    design_notes,
    write_outputs,
)
from analysis.studies.census.robustness import (
    LISHUI,
    comparisons_table,
    drop_prefecture_table,
    event_study_table,
    leave_one_prefecture_out,
    lopo_table,
    prefecture_concentration,
    pretrend_table,
    rules_table,
)
from analysis.studies.census.sample import (
    BASELINE,
    DEFAULT_COVARIATES,
    ENDLINE,
    OUTCOME_LABELS,
    OUTCOMES,
    PRE_BASELINE,
    PRE_COVARIATES,
    Comparison,
    StudySample,
    build_sample,
    county_to_cbu,
    three_census_sample,
)

__all__ = [
    "BASELINE",
    "Comparison",
    "DEFAULT_COVARIATES",
    "ENDLINE",
    "FDEstimate",
    "LISHUI",
    "OUTCOMES",
    "OUTCOME_LABELS",
    "PRE_BASELINE",
    "PRE_COVARIATES",
    "RI_SETTINGS",
    "StudySample",
    "WILD_SETTINGS",
    "balance_table",
    "build_sample",
    "comparisons_table",
    "county_to_cbu",
    "design_matrix",
    "design_notes",
    "dr_did",
    "drop_prefecture_table",
    "event_study_table",
    "fd_fit",
    "fd_regression",
    "leave_one_prefecture_out",
    "lopo_table",
    "main_table",
    "prefecture_concentration",
    "pretrend_table",
    "randomization_inference",
    "rules_table",
    "three_census_sample",
    "two_period_panel",
    "wild_p",
    "write_outputs",
]
