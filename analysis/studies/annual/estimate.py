"""Annual study: the run of the whole analysis of one outcome and of the family.

:func:`analyse` combines the estimates of :mod:`analysis.studies.annual.effects`
with the inference of :mod:`analysis.studies.annual.inference` into one
immutable :class:`OutcomeAnalysis`; :func:`family`, :func:`run` and the
in-process cache :func:`run_cached` do so for the outcome family.

The public names of the two modules it combines are re-exported here, so
``analysis.studies.annual.estimate.<name>`` keeps working for every public name
this module held before the split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pandas as pd

from analysis.errors import InputError
from analysis.studies.annual.design import (
    COVARIATES,
    DRAW_SEED,
    MAIN,
    N_DRAWS,
    N_POWER_SIMS,
    OUTCOMES,
    SPECS,
    WINDOW,
    AnnualData,
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
from analysis.studies.annual.inference import (
    family_table,
    inference_table,
    mde,
    ri_main,
    trust_sentence,
)

__all__ = [
    "FamilyEntry",
    "OutcomeAnalysis",
    "analyse",
    "bacon",
    "bacon_table",
    "bacon_truth",
    "event_frame",
    "family",
    "family_entry",
    "family_table",
    "fingerprint",
    "fit",
    "fit_all",
    "heterogeneity_table",
    "honest",
    "honest_table",
    "inference_table",
    "main_table",
    "mde",
    "pretrend_table",
    "ri_main",
    "run",
    "run_cached",
    "subgroups",
    "true_aggregates",
    "trust_sentence",
]


# ---------------------------------------------------------------- the study
@dataclass(frozen=True)
class OutcomeAnalysis:
    """Everything the study computes for one outcome (immutable hand-off to notebooks/pipeline)."""

    outcome: str
    results: Mapping[str, Any]
    main: pd.DataFrame
    events: pd.DataFrame
    bacon: Any
    bacon_truth: Any
    bacon_table: pd.DataFrame
    pretrends: pd.DataFrame
    honest: Mapping[str, Any]
    inference: pd.DataFrame
    ri: Any
    heterogeneity: pd.DataFrame
    truth: Mapping[str, Any] | None
    mountain: pd.DataFrame
    power: Mapping[str, float] | None = None

    @property
    def label(self) -> str:
        return OUTCOMES[self.outcome].label if self.outcome in OUTCOMES else self.outcome


def analyse(
    data: AnnualData,
    outcome: str,
    *,
    draws: int = N_DRAWS,
    seed: int = DRAW_SEED,
    power: bool = True,
) -> OutcomeAnalysis:
    """Run the whole analysis of one outcome (see the module docstring)."""
    if outcome not in data.panel.columns:
        raise InputError(f"outcome {outcome!r} is not in the annual panel")
    res = fit_all(data, outcome)
    truth = true_aggregates(data, outcome)
    main = main_table(res, truth)
    mres = fit_all(data, outcome, "mountain")
    mountain = main_table(mres, true_aggregates(data, outcome, "mountain"))
    dec = bacon(data, outcome)
    dect = bacon_truth(data, outcome)
    inf, ri = inference_table(data, outcome, res, draws=draws, seed=seed)
    return OutcomeAnalysis(
        outcome=outcome,
        results=MappingProxyType(res),
        main=main,
        events=event_frame(res),
        bacon=dec,
        bacon_truth=dect,
        bacon_table=bacon_table(dec, dect),
        pretrends=pretrend_table(res),
        honest=MappingProxyType(honest(res[MAIN])),
        inference=inf,
        ri=ri,
        heterogeneity=heterogeneity_table(data, outcome),
        truth=None if truth is None else MappingProxyType(truth),
        mountain=mountain,
        power=MappingProxyType(mde(data, outcome, seed=seed))
        if (power and data.synthetic)
        else None,
    )


@dataclass(frozen=True)
class FamilyEntry:
    """What the family table needs of one outcome: the main table, RI result and truth."""

    outcome: str
    main: pd.DataFrame
    ri: Any
    truth: Mapping[str, Any] | None


def family_entry(data: AnnualData, outcome: str) -> FamilyEntry:
    """The main CS fit and its randomisation test only (same settings as :func:`analyse`)."""
    r = fit(data, outcome, MAIN)
    truth = true_aggregates(data, outcome)
    return FamilyEntry(outcome, main_table({MAIN: r}, truth), ri_main(data, outcome), truth)


def family(
    data: AnnualData,
    analyses: Mapping[str, Any] | None = None,
    outcomes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Family table over ``outcomes`` (default all), reusing ``analyses`` where given."""
    analyses = dict(analyses or {})
    outs = list(OUTCOMES) if outcomes is None else list(outcomes)
    entries = {o: analyses[o] if o in analyses else family_entry(data, o) for o in outs}
    return family_table(entries)


def run(
    data: AnnualData,
    outcomes: Sequence[str] | None = None,
    *,
    power: bool = True,
    progress: bool = False,
) -> dict[str, OutcomeAnalysis]:
    """:func:`analyse` every outcome (default: the whole family), in family order."""
    outs = list(OUTCOMES) if outcomes is None else list(outcomes)
    done = {}
    for o in outs:
        if progress:
            print(f"  annual study: {o} ...", flush=True)
        done[o] = analyse(data, o, power=power)
    return done


# -------------------------------------------------------------------- cache
_RUNS: dict[str, dict[str, OutcomeAnalysis]] = {}


def fingerprint(data: AnnualData) -> str:
    """Hash of the panel, the truth and the study's settings (in-process cache key)."""
    import hashlib

    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(data.panel, index=False).to_numpy().tobytes())
    for k in sorted(data.truth or {}):
        h.update(k.encode())
        h.update(pd.util.hash_pandas_object(data.truth[k], index=False).to_numpy().tobytes())
    h.update(
        repr(
            (
                data.layer,
                data.scenario,
                data.seed,
                N_DRAWS,
                DRAW_SEED,
                N_POWER_SIMS,
                WINDOW,
                COVARIATES,
                [(s.key, dict(s.options)) for s in SPECS],
            )
        ).encode()
    )
    return h.hexdigest()


def run_cached(data: AnnualData) -> dict[str, OutcomeAnalysis]:
    """:func:`run` on the whole family, memoised within the process.

    ``enclave reproduce`` and ``enclave verify`` (and the tests that call both)
    then compute the study once per data set.
    """
    key = fingerprint(data)
    if key not in _RUNS:
        _RUNS.clear()
        _RUNS[key] = run(data)
    return dict(_RUNS[key])
