"""The annual county panel: one entry point for both layers (see ANNUAL_CONTRACT.md).

Two layers share one schema (the columns of :data:`analysis.data.twin.COLUMNS`, which are
the columns of ``data/raw/yearbook/TEMPLATE.csv``):

``synthetic``
    The calibrated SYNTHETIC "Zhejiang twin" (:mod:`analysis.data.twin`) with known
    effects. Never a finding about Zhejiang.
``yearbook``
    A real panel keyed in from the Zhejiang Statistical Yearbook and dropped into
    ``data/raw/yearbook/`` (:mod:`analysis.data.yearbook`).

``layer="auto"`` means the configured layer (environment variable ``ENCLAVE_LAYER``, which
``enclave reproduce --layer synthetic|yearbook`` sets for the analyses and notebooks it
runs) and, when none is configured, ``yearbook`` if a *complete* real file is present
there, else ``synthetic``; :func:`resolve_layer` says which and why. Frames carry ``attrs``
``data_layer`` (``"synthetic"`` or ``"real"``), ``scenario``, ``seed`` and ``source``.
"""

from __future__ import annotations

import os
from typing import Literal

import pandas as pd

from analysis.data import twin, yearbook
from analysis.data.treatment import (
    ANNUAL_ALTERNATIVES,
    ANNUAL_RULE,
    COMPARISONS,
    TreatmentRule,
    annual_cohorts,
)
from analysis.errors import InputError

__all__ = [
    "ANNUAL_ALTERNATIVES",
    "ANNUAL_RULE",
    "COMPARISONS",
    "DEFAULT_SEED",
    "LAYER_ENV",
    "Layer",
    "annual_treatment",
    "comparison_sample",
    "load_annual_panel",
    "resolve_layer",
    "true_effects",
    "twin_vs_real",
]

Layer = Literal["auto", "synthetic", "yearbook"]
Scenario = Literal["effects", "null"]
DEFAULT_SEED = 20260101
_LAYERS = ("auto", "synthetic", "yearbook")
#: Environment variable holding the configured layer (set by ``enclave reproduce --layer``).
LAYER_ENV = "ENCLAVE_LAYER"


def resolve_layer(layer: Layer = "auto") -> tuple[Literal["synthetic", "yearbook"], str]:
    """The layer ``layer`` stands for, and a one-line reason (printed by the pipeline)."""
    if layer not in _LAYERS:
        raise InputError(f"layer must be one of {', '.join(_LAYERS)}, not {layer!r}")
    configured = os.environ.get(LAYER_ENV, "auto").strip() or "auto"
    if layer == "auto" and configured != "auto":
        if configured not in _LAYERS:
            raise InputError(f"{LAYER_ENV} must be one of {', '.join(_LAYERS)}, not {configured!r}")
        chosen, why = resolve_layer(configured)  # type: ignore[arg-type]
        return chosen, f"{why} (configured: {LAYER_ENV}={configured})"
    if layer == "synthetic":
        return "synthetic", "synthetic layer requested"
    path = yearbook.complete_file()
    if layer == "yearbook":
        if path is None:
            raise InputError(
                "layer 'yearbook' requested but no complete real yearbook file is in "
                f"{yearbook.YEARBOOK_DIR} ({yearbook.completeness_hint()})"
            )
        return "yearbook", f"complete real yearbook file {path.name}"
    if path is None:
        return (
            "synthetic",
            f"no complete real yearbook file in data/raw/yearbook ({yearbook.completeness_hint()})",
        )
    return "yearbook", f"complete real yearbook file {path.name}"


def load_annual_panel(
    layer: Layer = "auto", scenario: Scenario = "effects", seed: int = DEFAULT_SEED
) -> pd.DataFrame:
    """One row per (code, year), columns of :data:`analysis.data.twin.COLUMNS`.

    Parameters
    ----------
    layer
        ``"synthetic"`` (the twin), ``"yearbook"`` (the complete real file; an error if
        there is none) or ``"auto"`` (yearbook if complete, else synthetic).
    scenario, seed
        The twin's scenario (``"effects"`` or ``"null"``) and seed; ignored for real data.
    """
    chosen, _ = resolve_layer(layer)
    if chosen == "yearbook":
        return yearbook.load_yearbook(yearbook.complete_file())
    if scenario not in ("effects", "null"):
        raise InputError(f"scenario must be 'effects' or 'null', not {scenario!r}")
    return twin.build_twin(seed, scenario).panel


def annual_treatment(rule: TreatmentRule | None = None, impute: bool = True) -> pd.DataFrame:
    """Treatment timing per unit (:func:`analysis.data.treatment.annual_cohorts`).

    Columns ``code, cohort, timing_imputed, source_event, soe_cohort, kinds`` plus
    ``name_zh, mountain26, enclave_kind, note``. ``impute=False`` drops the counties whose
    timing is imputed (the rule's alternative).
    """
    return annual_cohorts(ANNUAL_RULE if rule is None else rule, impute=impute)


def true_effects(
    scenario: Scenario = "effects", seed: int = DEFAULT_SEED
) -> dict[str, pd.DataFrame]:
    """The twin's known effects, computed from the same parameters as the panel.

    Returns ``{"att_gt": outcome, cohort, time, event, att, post; "aggregates": outcome,
    type (simple|group|dynamic|calendar), key (cohort/event/time; NaN = the overall
    value), att; "effects": code, year, outcome, tau}``. Outcomes are the log outcomes
    the studies estimate on (``log_urban_income, log_rural_income, log_employment,
    log_rd``). Aggregates use cohort-size weights over every estimable cohort (first
    treated year after 2010) as :func:`analysis.estimators.cs.callaway_santanna` does; for
    another sample (e.g. without imputed counties) call
    :func:`analysis.data.twin.aggregate_truth` with that sample's cohort sizes.
    """
    t = twin.build_twin(seed, scenario)
    return {"att_gt": t.att_gt, "aggregates": t.aggregates, "effects": t.effects}


def comparison_sample(
    panel: pd.DataFrame, comparison: Literal["notyet_mountain", "never_nonmountain"]
) -> pd.DataFrame:
    """The rows a comparison uses (:data:`analysis.data.treatment.COMPARISONS`).

    ``notyet_mountain`` keeps the 26 mountain counties (use not-yet-treated controls);
    ``never_nonmountain`` keeps all 90 units (the 64 non-mountain units are the
    never-treated group; see the caveat in ``COMPARISONS``).
    """
    if comparison not in COMPARISONS:
        raise InputError(f"comparison must be one of {', '.join(COMPARISONS)}, not {comparison!r}")
    out = panel[panel["mountain26"]] if comparison == "notyet_mountain" else panel
    out = out.reset_index(drop=True)
    out.attrs = {**panel.attrs, "comparison": comparison}
    return out


def twin_vs_real(seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The table "SYNTHETIC twin vs every cited real value" (:func:`analysis.data.twin.twin_vs_real`)."""
    return twin.twin_vs_real(seed)
