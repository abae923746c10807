"""The census DiD study, in parts (the public face is :mod:`analysis.studies.census_did`).

:mod:`~analysis.studies.census.sample` (which units and treatment),
:mod:`~analysis.studies.census.estimate` (first-difference regression, balance,
doubly-robust 2x2), :mod:`~analysis.studies.census.inference` (randomisation
inference, wild bootstrap, the main table with multiple-testing adjustments),
:mod:`~analysis.studies.census.robustness` (rules, comparisons, leave one
prefecture out, Lishui, the 2000 pre-trend) and
:mod:`~analysis.studies.census.report` (tables, figures, numbers). The design
is written out in :mod:`analysis.studies.census_did`, which re-exports every
public name.
"""
