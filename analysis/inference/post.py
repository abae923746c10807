"""Post-estimation inference for ``enclave estimate --inference``.

One function, :func:`post_inference`, maps the CLI's vocabulary onto the
inference modules and returns a JSON-ready dict with the p-value and interval:

``cr2``  Bell-McCaffrey CR2 standard error with Satterthwaite degrees of
         freedom (:mod:`analysis.inference.crve`) for the static TWFE
         coefficient, clustered as the estimate;
``wild`` restricted wild cluster bootstrap (:mod:`analysis.inference.wild`;
         Rademacher weights, enumerated when the clusters are few) for the
         static TWFE coefficient, interval by test inversion;
``ri``   randomisation inference (:mod:`analysis.inference.ri`): cohorts
         re-assigned across units, p-value for the method's simple ATT (every
         method with the registry's ``ri`` capability), interval by test
         inversion under a constant effect.

The TWFE design is the one the estimator built (``DiDResult.design``, from
:func:`analysis.estimators.twfe.regression_design`), so the coefficient equals
``twfe(...)``'s and nothing is validated twice; RI starts from the result's
prepared panel (``DiDResult.design.panel``, filled by every estimator).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.estimators import registry
from analysis.validation import check_draws, check_option, literal_values

InferenceKind = Literal["cr2", "wild", "ri"]
INFERENCE_KINDS: tuple[str, ...] = literal_values(InferenceKind)


def _twfe_design(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str],
    cluster: str | None,
    result: Any = None,
):
    """The TWFE regression: from ``result.design`` when given, else from ``data``."""
    des = getattr(result, "design", None)
    if des is None or des.regression is None:
        fit = registry.get_estimator("twfe")(
            data,
            outcome=outcome,
            unit=unit,
            time=time,
            cohort=cohort,
            covariates=tuple(covariates),
            cluster=cluster,
        )
        des = fit.design
    return des.regression()


def post_inference(
    kind: InferenceKind,
    data: pd.DataFrame,
    *,
    method: str,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    draws: int = 9999,
    seed: int = 0,
    alpha: float = 0.05,
    result: Any = None,
) -> dict[str, Any]:
    """p-value and interval for ``method``'s headline estimate under ``kind``.

    ``result`` (the method's :class:`~analysis.results.DiDResult`) supplies the
    prepared regression design (``result.design``) for ``cr2`` and ``wild``, so
    the panel is neither re-validated nor the model re-built; for ``ri`` its
    prepared panel and its estimate (every estimator fills ``result.design``),
    so the observed statistic is not re-fitted.

    Raises
    ------
    InputError
        An inference kind that does not apply to the method, or bad options.
    """
    check_option("inference", kind, InferenceKind)
    check_draws("--draws", draws)
    if kind in ("cr2", "wild") and not registry.get_spec(method).supports("regression"):
        ok = ", ".join(registry.methods("regression"))
        raise InputError(
            f"--inference {kind} applies to the regression coefficient of method {ok}; "
            f"for {method!r} use --inference ri (or --bootstrap for cs)"
        )
    if kind == "ri":
        registry.get_spec(method, "ri", what="--inference ri")

    if kind in ("cr2", "wild"):
        y, X, clusters, fe = _twfe_design(
            data,
            outcome=outcome,
            unit=unit,
            time=time,
            cohort=cohort,
            covariates=covariates,
            cluster=cluster,
            result=result,
        )
    if kind == "cr2":
        from analysis.inference.crve import ols_cluster

        res = ols_cluster(y, X, clusters, fe=fe, kind="CR2")
        lo, hi = res.conf_int(alpha=alpha)[0]
        return {
            "inference": "cr2",
            "term": "D",
            "estimate": float(res.coef[0]),
            "se": float(res.se[0]),
            "df": float(np.atleast_1d(res.df)[0]),
            "p_value": float(res.p[0]),
            "ci": [float(lo), float(hi)],
            "n_clusters": int(len(np.unique(clusters))),
        }
    if kind == "wild":
        from analysis.inference.wild import wild_cluster_bootstrap

        w = wild_cluster_bootstrap(y, X, clusters, 0, fe=fe, B=draws, seed=seed, alpha=alpha)
        return {"inference": "wild", **w.to_dict()}
    from analysis.inference.ri import randomization_test, ri_confidence_interval

    # the test and its inversion: the same panel, statistic, draws and seed
    ri = {
        "unit": unit,
        "time": time,
        "cohort": cohort,
        "outcome": outcome,
        "statistic": method,
        "n_draws": draws,
        "seed": seed,
        "estimator_options": {"covariates": tuple(covariates)} if covariates else None,
        "result": result,
    }
    r = randomization_test(data, **ri)
    out = {
        "inference": "ri",
        "statistic": method,
        "observed": float(r.observed),
        "p_value": float(r.p_value),
        "exact": bool(r.exact),
        "draws": int(r.n_draws),
        "seed": seed,
    }
    try:
        ci = ri_confidence_interval(data, alpha=alpha, **ri)
        out["ci"] = [float(ci.low), float(ci.high)]
    except InputError as e:
        out["ci"] = [None, None]
        out["ci_note"] = str(e)
    return out
