"""Estimators: pure functions ``(data, column names, options) -> DiDResult``.

=========  ==========================================  =====================================
method     function                                    reference
=========  ==========================================  =====================================
twfe       :func:`analysis.estimators.twfe.twfe`        static two-way fixed effects
event      :func:`analysis.estimators.event.event_study`  dynamic TWFE event study
cs         :func:`analysis.estimators.cs.callaway_santanna`  Callaway & Sant'Anna (2021)
sa         :func:`analysis.estimators.sa.sun_abraham`   Sun & Abraham (2021)
bjs        :func:`analysis.estimators.bjs.bjs_imputation`  Borusyak, Jaravel & Spiess (2024)
gardner    :func:`analysis.estimators.gardner.gardner`  Gardner (2021) two-stage DiD
=========  ==========================================  =====================================

The Goodman-Bacon (2021) decomposition is
:func:`analysis.estimators.bacon.bacon_decomposition`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

#: method name -> (module, function)
METHODS: dict[str, tuple[str, str]] = {
    "twfe": ("analysis.estimators.twfe", "twfe"),
    "event": ("analysis.estimators.event", "event_study"),
    "cs": ("analysis.estimators.cs", "callaway_santanna"),
    "sa": ("analysis.estimators.sa", "sun_abraham"),
    "bjs": ("analysis.estimators.bjs", "bjs_imputation"),
    "gardner": ("analysis.estimators.gardner", "gardner"),
}


def get_estimator(method: str) -> Callable[..., Any]:
    """The estimator function registered under ``method``."""
    from analysis.errors import InputError

    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    module, name = METHODS[method]
    return getattr(importlib.import_module(module), name)
