"""Annual study: the sections of notebooks 03-05, one function each.

Notebooks 03 (income), 04 (employment) and 05 (R&D and output) run the same
annual study (:mod:`analysis.studies.annual`) on three outcome families and
show the same sections in the same order. The code of a section lives here,
once; each notebook keeps its own prose and calls the section in a one-line
cell::

    from analysis.studies import annual_did as ad
    from analysis.studies.annual import notebook as nb

    data = ad.load()
    analyses = {o: ad.analyse(data, o) for o in ad.outcomes_of("income")}
    nb.show_estimates(data, analyses)

It is separate from :mod:`analysis.studies.annual.report` because ``report``
makes the study's outputs (numbers, tables, figures, sentences, files) and
this module only *arranges* them for a reader: in a notebook, for every outcome
of the family, the sentence that reads a table, the table, then its figure.

Two kinds of function:

* **builders** return one object and show nothing -- :func:`estimates_table`
  (a DataFrame) and :func:`figure` (a Matplotlib figure from one of the
  study's ``plot_*`` functions, which take ``ax=`` and return the figure);
* **sections** (``show_*``) display, in order, the sentences (printed), tables
  and figures of one section, and return ``None``. A figure is displayed as
  an embedded image and then closed, so that the inline backend does not show
  it a second time; no function calls ``plt.show()``.

Tables are displayed with :data:`DISPLAY_OPTIONS` (the pandas options of the
notebooks), so a notebook needs no ``pd.set_option`` of its own.

The study's functions are reached through the package namespace
(``study.estimates_sentence``), not through its submodules, so this module does
not depend on how the study splits its code; the package ``__init__`` does not
import this module (notebooks import it by name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from analysis.errors import InputError
from analysis.studies import annual as study
from analysis.studies.annual import AnnualData, OutcomeAnalysis, Sample

__all__ = [
    "DISPLAY_OPTIONS",
    "FIGSIZE",
    "FIGURE_SECTIONS",
    "estimates_table",
    "figure",
    "show_bacon",
    "show_design",
    "show_employment_structure",
    "show_estimates",
    "show_family",
    "show_heterogeneity",
    "show_inference",
    "show_mountain",
    "show_sensitivity",
    "show_timing",
    "show_truth_and_power",
]

#: pandas display options under which the sections display their tables
DISPLAY_OPTIONS: Mapping[str, Any] = {"display.width": 200, "display.max_columns": 20}

#: figure size (inches) of each of the study's plots in the notebooks, by plot function name
FIGSIZE: Mapping[str, tuple[float, float]] = {
    "plot_timing": (8, 7.5),
    "plot_overlay": (9, 4.2),
    "plot_bacon": (6.5, 4),
    "plot_honest": (10, 3.6),  # two panels side by side
    "plot_estimates": (8, 4),
}

#: the sections that display figures (the notebook tests expect embedded images from them)
FIGURE_SECTIONS = (
    "show_timing",
    "show_estimates",
    "show_bacon",
    "show_sensitivity",
    "show_truth_and_power",
)


# ----------------------------------------------------------------- builders
def estimates_table(a: OutcomeAnalysis, sample: Sample = "all") -> pd.DataFrame:
    """The side-by-side estimates of one outcome, rounded for display.

    Parameters
    ----------
    a
        The analysis of one outcome (:func:`analysis.studies.annual.analyse`).
    sample
        ``"all"`` (every county; ``a.main``) or ``"mountain"`` (the 26 mountain
        counties only; ``a.mountain``).

    Returns
    -------
    pandas.DataFrame
        One row per estimator (:data:`analysis.studies.annual.SPECS`) with the
        simple ATT, its county-clustered standard error, 95% interval and
        p-value (and, on the twin, the truth and the bias), floats rounded to
        4 decimals; the free-text ``note`` column is left out.
    """
    if sample not in ("all", "mountain"):
        raise InputError(f"unknown sample {sample!r}; use all or mountain")
    t = a.main if sample == "all" else a.mountain
    return study.show(t.drop(columns=["note"]))


def figure(plot: Callable[..., Any], *args: Any, ax: Any = None) -> Any:
    """One of the study's figures at the size the notebooks show it.

    Parameters
    ----------
    plot
        A plot function of the study (``plot_timing``, ``plot_overlay``,
        ``plot_bacon``, ``plot_honest``, ``plot_estimates``; see
        :data:`FIGSIZE`).
    *args
        Its arguments (``data`` and, except for ``plot_timing``, the analysis
        of one outcome).
    ax
        Axes to draw on (for ``plot_honest`` a pair of axes); ``None`` makes a
        new figure of size ``FIGSIZE[plot.__name__]``.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on; it is neither shown nor closed.
    """
    two = plot.__name__ == "plot_honest"  # draws two panels side by side
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(1, 2 if two else 1, figsize=FIGSIZE[plot.__name__])
    return plot(*args, axes=ax) if two else plot(*args, ax=ax)


# ------------------------------------------------------------------ display
def _emit(item: Any) -> None:
    """Show one item in the notebook: print a string, display a table, embed and close a figure."""
    if isinstance(item, str):
        print(item)
        return
    from IPython.display import display

    if isinstance(item, pd.DataFrame):
        with pd.option_context(*(x for kv in DISPLAY_OPTIONS.items() for x in kv)):
            display(item)
        return
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    if not isinstance(item, Figure):
        raise TypeError(
            f"a section shows strings, DataFrames and figures, not {type(item).__name__}"
        )
    display(item)
    plt.close(item)


# ----------------------------------------------------------------- sections
def show_design(data: AnnualData) -> None:
    """Section 1: the design in words (counts of units, cohorts, clusters) and the cohort table."""
    des = study.design(data)
    _emit("\n".join(des.lines()))
    _emit(des.cohorts)


def show_timing(data: AnnualData) -> None:
    """Section 1: the treatment-timing picture (counties by years, imputed years dotted)."""
    _emit(figure(study.plot_timing, data))


def show_estimates(data: AnnualData, analyses: Mapping[str, OutcomeAnalysis]) -> None:
    """Section 2: per outcome, the sentence that reads it, the estimates table and the
    overlay of every estimator's event study."""
    for a in analyses.values():
        _emit(study.estimates_sentence(data, a))
        _emit(estimates_table(a))
        _emit(figure(study.plot_overlay, data, a))


def show_mountain(analyses: Mapping[str, OutcomeAnalysis]) -> None:
    """Section 2: per outcome, the estimates on the 26 mountain counties only."""
    for a in analyses.values():
        _emit(a.label)
        _emit(estimates_table(a, "mountain"))


def show_bacon(data: AnnualData, analyses: Mapping[str, OutcomeAnalysis]) -> None:
    """Section 3: per outcome, the Goodman-Bacon decomposition of static TWFE
    (sentence, table by comparison type, weight-vs-estimate scatter)."""
    for a in analyses.values():
        _emit(study.bacon_sentence(data, a))
        _emit(study.show(a.bacon_table))
        _emit(figure(study.plot_bacon, data, a))


def show_sensitivity(data: AnnualData, analyses: Mapping[str, OutcomeAnalysis]) -> None:
    """Section 4: per outcome, the pre-trend tests and the HonestDiD sensitivity of the
    main CS event study (sentence, pre-trend table, intervals and breakdown values, plots)."""
    for a in analyses.values():
        _emit(study.honest_sentence(data, a))
        _emit(study.show(a.pretrends))
        _emit(study.show(study.honest_table(a.honest)))
        _emit(figure(study.plot_honest, data, a))


def show_inference(data: AnnualData, analyses: Mapping[str, OutcomeAnalysis]) -> None:
    """Section 5: per outcome, inference side by side (county and prefecture clusters,
    wild cluster bootstrap, randomisation inference), then which inference to trust."""
    for a in analyses.values():
        _emit(a.label)
        _emit(study.show(a.inference))
    first = next(iter(analyses.values()))
    _emit(study.trust_sentence(study.design(data), first.inference))


def show_heterogeneity(analyses: Mapping[str, OutcomeAnalysis]) -> None:
    """Section 6: per outcome, the main CS ATT by subgroup of treated counties."""
    for a in analyses.values():
        _emit(a.label)
        _emit(study.show(a.heterogeneity))


def show_employment_structure(data: AnnualData) -> None:
    """Section 6 (notebook 04): sector shares of employment, when the layer has them."""
    structure = study.employment_structure(data)
    _emit("employment structure: " + ("not in this layer" if structure is None else "available"))
    if structure is not None:
        _emit(structure)


def show_family(data: AnnualData, analyses: Mapping[str, OutcomeAnalysis]) -> None:
    """Section 7: multiple-testing adjustments across the eight outcomes of notebooks 03-05
    (:func:`analysis.studies.annual.family`; the other notebooks' outcomes are estimated here)."""
    _emit(study.show(study.family(data, analyses)))


def show_truth_and_power(data: AnnualData, analyses: Mapping[str, OutcomeAnalysis]) -> None:
    """Section 8: on the twin, per outcome, the estimates against the true effect and the
    minimum detectable effect of the design; on a real layer, a line saying why not."""
    if not data.synthetic:
        _emit(
            "REAL layer: the true effects are unknown; no truth comparison or power analysis here."
        )
        return
    for a in analyses.values():
        _emit(figure(study.plot_estimates, data, a))
        _emit(study.power_sentence(data, a))
