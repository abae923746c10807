"""Estimators: pure functions ``(data, column names, options) -> DiDResult``.

=========  ================================================  =====================================
method     function                                          reference
=========  ================================================  =====================================
twfe       :func:`analysis.estimators.twfe.twfe`              static two-way fixed effects
event      :func:`analysis.estimators.event.event_study`      dynamic TWFE event study
cs         :func:`analysis.estimators.cs.callaway_santanna`   Callaway & Sant'Anna (2021)
sa         :func:`analysis.estimators.sa.sun_abraham`         Sun & Abraham (2021)
bjs        :func:`analysis.estimators.bjs.bjs_imputation`     Borusyak, Jaravel & Spiess (2024)
gardner    :func:`analysis.estimators.gardner.gardner`        Gardner (2021) two-stage DiD
sdid       :func:`analysis.estimators.synthdid.synthdid`      Arkhangelsky et al. (2021) synthetic DiD
=========  ================================================  =====================================

Synthetic control (method ``sc``, as R ``synthdid::sc_estimate``) is
:func:`analysis.estimators.synthdid.synthetic_control`.

The Goodman-Bacon (2021) decomposition is
:func:`analysis.estimators.bacon.bacon_decomposition`.

The one list of methods is :mod:`analysis.estimators.registry`; the CLI,
randomisation inference, power simulation, post-estimation inference and the
studies read it. The numerical core the estimators share (absorbing fixed
effects, the CR1 small-sample factor, the Wald-test policy) is
:mod:`analysis.design`; option checks are :mod:`analysis.validation`.

Adding an estimator
-------------------
1. **One module** ``analysis/estimators/<name>.py`` with one public function
   ``f(data, *, outcome, unit, time, cohort, <options>) -> DiDResult``:
   validate first (``analysis.validation``: annotate each option with a
   ``Literal`` vocabulary and check it with ``check_option``; ``check_alpha``;
   raise :class:`~analysis.errors.InputError` for anything a user can cause),
   then ``analysis.estimators._panel.estimator_input`` (the one prologue:
   ``ssc``, ``se``, ``alpha``, then the prepared panel), then compute with
   :mod:`analysis.design` (``fit_absorbed``, ``ssc_factor``, ``wald_test``) --
   never a second copy of those. Fill ``aggregates["simple"]`` always, the
   ``dynamic`` aggregate with its ``vcov`` for event-study methods (then
   HonestDiD works), and ``info`` (comparison group in the one vocabulary
   ``never`` / ``notyet`` / ``last``, SE type, data layer).
2. **One registry entry**: ``register(EstimatorSpec("<name>",
   "analysis.estimators.<name>:f", "<title>", capabilities={...}))`` in
   :mod:`analysis.estimators.registry`. The capabilities say what it supports
   (``group_time``, ``dynamic``, ``calendar``, ``covariates``, ``weights``,
   ``cluster``, ``regression``, ``ri``, ``power``, ``power_ri``,
   ``power_wild``, ``honest``, ``analytic_se``). ``enclave estimate --method <name>``,
   ``randomization_test(statistic="<name>")``, ``simulate_power(method=
   "<name>", engine="refit")`` and ``--inference ri`` then pick it up with no
   other edit. A closed form for RI (``ri_closed_form``) or power
   (``power_closed_form``) is optional and lives in the estimator's module,
   next to the code it must equal.
3. **Tests** ``tests/test_<name>.py``: known truth (a simulated panel with
   effects we set), reference software (stored values in ``tests/reference/``
   with the command that produced them), invariances
   (``tests/_fe_common.check_invariances``), and, if there is a closed form,
   its equality with the estimator. ``tests/test_estimator_registry.py``
   checks that no other module lists method names.
"""

from __future__ import annotations

from analysis.estimators.registry import get_estimator, get_spec, methods

__all__ = ["get_estimator", "get_spec", "methods"]
