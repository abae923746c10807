"""The estimator registry: the one place that lists the package's estimators.

Each :class:`EstimatorSpec` names an estimator's function, what it supports
(:data:`Capability`), and, where one exists, the closed forms that
randomisation inference and power simulation use instead of re-fitting. The
closed forms live in the estimator's own module, next to the code they must
equal (and their equality tests sit beside that module's tests); the registry
only points at them.

Everything that needs to know "which methods exist / which support X" asks
the registry: the CLI (``enclave estimate --method``, ``enclave power
--methods``), :mod:`analysis.inference.ri`, :mod:`analysis.inference.power`,
:mod:`analysis.inference.post` and the studies. No other module spells a list
of method names (``tests/test_estimator_registry.py`` enforces it).

The options of an estimator are read from its signature: a keyword annotated
with a ``Literal`` type has that vocabulary, and :func:`validate_options`
checks values against it with one error message listing the allowed values.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from analysis.errors import InputError
from analysis.validation import check_option, literal_values

#: What an estimator supports.
#:
#: ``group_time``  group-time effects ATT(g, t) in ``att_gt``;
#: ``dynamic``     an event-time (``dynamic``) aggregate;
#: ``calendar``    a calendar-time aggregate;
#: ``covariates``  time-varying covariates;
#: ``weights``     observation weights;
#: ``cluster``     a cluster column other than the unit;
#: ``regression``  a single regression coefficient (CR2 / wild bootstrap apply);
#: ``ri``          randomisation inference on its simple ATT;
#: ``power``       power simulation of its simple ATT with analytic SEs;
#: ``power_ri``    power simulation with RI (needs an RI closed form);
#: ``power_wild``  power simulation with the wild cluster bootstrap;
#: ``honest``      its ``dynamic`` aggregate is HonestDiD input (with a covariance);
#: ``analytic_se`` its default standard errors are analytic (no re-fitting
#:                 replications), so Monte Carlo studies can afford it.
Capability = Literal[
    "group_time",
    "dynamic",
    "calendar",
    "covariates",
    "weights",
    "cluster",
    "regression",
    "ri",
    "power",
    "power_ri",
    "power_wild",
    "honest",
    "analytic_se",
]
CAPABILITIES: tuple[str, ...] = literal_values(Capability)


def _resolve(path: str | Callable[..., Any] | None) -> Callable[..., Any] | None:
    """``"module:attribute"`` -> the attribute (imported on first use)."""
    if path is None or callable(path):
        return path
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class ClosedForm:
    r"""A statistic over cohort assignments in closed form (randomisation inference).

    For an assignment :math:`a` of labels to units the statistic is
    :math:`\sum_i Z_i \cdot w_{a_i}` with ``Z`` the wide (units x periods)
    outcome, two-way demeaned when ``demean``. ``h`` and ``den`` (the demeaned
    treatment profiles and :math:`\langle \tilde D, \tilde D\rangle`) are given
    when the estimator's t-statistic also has a closed form.
    """

    name: str
    weights: Any  # (n_labels, T)
    demean: bool
    name_t: str = ""
    h: Any = None
    den: float = 1.0


@dataclass(frozen=True)
class Option:
    """One keyword option of an estimator, read from its signature."""

    name: str
    default: Any
    annotation: Any
    choices: tuple[Any, ...] | None  # the Literal vocabulary, if any


@dataclass(frozen=True)
class EstimatorSpec:
    """One registered estimator.

    Parameters
    ----------
    name
        The method name (``enclave estimate --method NAME``).
    function
        ``"module:function"`` (imported lazily) or the function itself; called as
        ``function(data, *, outcome, unit, time, cohort, **options) -> DiDResult``.
    title
        One line naming the estimator and its reference.
    capabilities
        A subset of :data:`CAPABILITIES`.
    ri_closed_form
        ``"module:function"`` of ``f(labels, counts, times, options) -> ClosedForm | str``:
        the statistic over cohort assignments in closed form (a string says why
        there is none for these options). ``None``: RI re-fits the estimator.
    ri_closed_form_options
        The estimator options the closed form covers; any other option falls
        back to re-fitting.
    ri_closed_form_t
        Whether the closed form also gives the t-statistic (TWFE's CR1 pieces).
    power_closed_form
        ``"module:function"`` of ``f(design, **options) -> callable(Y) -> (S, 2)``
        giving (estimate, SE) for a stack of simulated outcome panels ``Y``
        (``S x N x T``) of a balanced ``PanelDesign``. ``None``: power uses
        ``engine="refit"`` only.
    power_options
        Estimator options accepted by power simulation (``method_options``).
    """

    name: str
    function: str | Callable[..., Any]
    title: str = ""
    capabilities: frozenset[str] = frozenset()
    ri_closed_form: str | Callable[..., Any] | None = None
    ri_closed_form_options: frozenset[str] = frozenset()
    ri_closed_form_t: bool = False
    power_closed_form: str | Callable[..., Any] | None = None
    power_options: frozenset[str] = frozenset()
    notes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        caps = frozenset(self.capabilities)
        for c in caps:
            check_option("capability", c, Capability)
        object.__setattr__(self, "capabilities", caps)
        object.__setattr__(self, "ri_closed_form_options", frozenset(self.ri_closed_form_options))
        object.__setattr__(self, "power_options", frozenset(self.power_options))

    # ------------------------------------------------------------------ access
    @property
    def func(self) -> Callable[..., Any]:
        fn = _resolve(self.function)
        assert fn is not None
        return fn

    def supports(self, capability: str) -> bool:
        check_option("capability", capability, Capability)
        return capability in self.capabilities

    def ri_fast(self) -> Callable[..., Any] | None:
        return _resolve(self.ri_closed_form)

    def power_fast(self) -> Callable[..., Any] | None:
        return _resolve(self.power_closed_form)

    @property
    def options(self) -> dict[str, Option]:
        """Keyword options with defaults and ``Literal`` vocabularies (from the signature)."""
        return _options(self.func)

    def accepts(self, option: str) -> bool:
        return option in self.options


@cache
def _options(fn: Callable[..., Any]) -> dict[str, Option]:
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = {}
    out: dict[str, Option] = {}
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        ann = hints.get(name, p.annotation)
        try:
            choices: tuple[Any, ...] | None = literal_values(ann)
        except TypeError:
            choices = None
        if choices is not None and not all(
            c is None or isinstance(c, (str, bool)) for c in choices
        ):
            choices = None
        default = None if p.default is inspect.Parameter.empty else p.default
        out[name] = Option(name, default, ann, choices)
    return out


# --------------------------------------------------------------------- the registry
_ALL_FE = frozenset({"covariates", "cluster", "analytic_se"})

#: method name -> spec. Add an estimator with :func:`register` (see the recipe in
#: the :mod:`analysis.estimators` docstring).
REGISTRY: dict[str, EstimatorSpec] = {}


def register(spec: EstimatorSpec, *, replace: bool = False) -> EstimatorSpec:
    """Add ``spec`` to the registry (``replace=True`` to overwrite an entry)."""
    if spec.name in REGISTRY and not replace:
        raise ValueError(f"method {spec.name!r} is already registered")
    REGISTRY[spec.name] = spec
    return spec


register(
    EstimatorSpec(
        "twfe",
        "analysis.estimators.twfe:twfe",
        "static two-way fixed effects",
        _ALL_FE | {"regression", "ri", "power", "power_ri", "power_wild", "weights"},
        ri_closed_form="analysis.estimators.twfe:ri_closed_form",
        ri_closed_form_options={"cluster", "ssc", "alpha", "data_layer", "covariates"},
        ri_closed_form_t=True,
        power_closed_form="analysis.estimators.twfe:power_closed_form",
    )
)
register(
    EstimatorSpec(
        "event",
        "analysis.estimators.event:event_study",
        "dynamic TWFE event study",
        _ALL_FE | {"dynamic", "honest", "weights"},
    )
)
register(
    EstimatorSpec(
        "cs",
        "analysis.estimators.cs:callaway_santanna",
        "Callaway & Sant'Anna (2021)",
        _ALL_FE
        | {"group_time", "dynamic", "calendar", "ri", "power", "power_ri", "honest", "weights"},
        ri_closed_form="analysis.estimators.cs:ri_closed_form",
        ri_closed_form_options={
            "control",
            "est_method",
            "base_period",
            "anticipation",
            "cluster",
            "alpha",
            "data_layer",
            "max_event",
            "balance_event",
            "panel_handling",
            "boot_weights",
            "covariates",
            "n_boot",
            "seed",
        },
        power_closed_form="analysis.estimators.cs:power_closed_form",
        power_options={"control"},
    )
)
register(
    EstimatorSpec(
        "sa",
        "analysis.estimators.sa:sun_abraham",
        "Sun & Abraham (2021)",
        _ALL_FE | {"dynamic", "honest", "weights"},
    )
)
register(
    EstimatorSpec(
        "bjs",
        "analysis.estimators.bjs:bjs_imputation",
        "Borusyak, Jaravel & Spiess (2024)",
        _ALL_FE | {"dynamic", "ri", "power", "honest", "weights"},
        power_closed_form="analysis.estimators.bjs:power_closed_form",
        notes={
            "power_ri": "RI for BJS has no closed form and would need n_sims x ri_draws re-fits"
        },
    )
)
register(
    EstimatorSpec(
        "gardner",
        "analysis.estimators.gardner:gardner",
        "Gardner (2021) two-stage DiD",
        _ALL_FE | {"dynamic", "weights"},
    )
)
register(
    EstimatorSpec(
        "etwfe",
        "analysis.estimators.etwfe:etwfe",
        "extended TWFE, Wooldridge (2021) / R etwfe",
        _ALL_FE | {"group_time", "dynamic", "calendar"},
    )
)
register(
    EstimatorSpec(
        "bacon",
        "analysis.estimators.bacon:bacon",
        "Goodman-Bacon (2021) decomposition of static TWFE",
        _ALL_FE - {"analytic_se"},
        notes={
            "weights": "R bacondecomp has no observation weights to validate against",
            "analytic_se": "a decomposition: its simple ATT is static TWFE's coefficient with "
            "TWFE's CR1 SE, so Monte Carlo studies that compare estimators take twfe instead",
        },
    )
)

#: Why the synthetic-DiD family (``sdid``, ``sc``) lacks the capabilities it lacks.
_SYNTHDID_NOTES = {
    "ri": "placebo / bootstrap SEs re-estimate the weights in every replication; "
    "RI would need draws x replications re-fits",
    "power": "SEs come from re-fitting replications, not a closed form",
    "covariates": "covariates are not implemented",
}

register(
    EstimatorSpec(
        "sdid",
        "analysis.estimators.synthdid:synthdid",
        "synthetic DiD, Arkhangelsky et al. (2021), as R synthdid",
        frozenset(),
        notes=dict(_SYNTHDID_NOTES),
    )
)
register(
    EstimatorSpec(
        "sc",
        "analysis.estimators.synthdid:synthetic_control",
        "synthetic control, Abadie et al. (2010), as R synthdid::sc_estimate",
        frozenset(),
        notes=dict(_SYNTHDID_NOTES),
    )
)


# --------------------------------------------------------------------------- queries
def methods(capability: str | None = None) -> tuple[str, ...]:
    """Registered method names (in registration order), optionally with ``capability``."""
    if capability is not None:
        check_option("capability", capability, Capability)
    return tuple(
        n for n, s in REGISTRY.items() if capability is None or capability in s.capabilities
    )


def get_spec(
    method: str, capability: str | None = None, *, what: str | None = None
) -> EstimatorSpec:
    """The spec of ``method``; with ``capability``, refuse a method that lacks it.

    ``what`` names the feature in the error (e.g. ``"--inference ri"``).
    """
    if method not in REGISTRY:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(REGISTRY)}")
    spec = REGISTRY[method]
    if capability is not None and capability not in spec.capabilities:
        ok = methods(capability)
        why = spec.notes.get(capability)
        raise InputError(
            f"{what or capability} supports methods {', '.join(ok) or '(none)'}, not {method!r}"
            + (f": {why}" if why else "")
        )
    return spec


def get_estimator(method: str) -> Callable[..., Any]:
    """The estimator function registered under ``method``."""
    return get_spec(method).func


def validate_options(method: str, options: Mapping[str, Any]) -> None:
    """Check ``options`` against the estimator's signature and ``Literal`` vocabularies."""
    spec = get_spec(method)
    known = spec.options
    for name, value in options.items():
        if name not in known:
            raise InputError(f"option {name!r} does not apply to method {method!r}")
        if known[name].choices is not None and value is not None:
            check_option(name, value, known[name].choices)


def prepare_panel(data: Any, **kwargs: Any) -> Any:
    """The validated panel every estimator starts from (:func:`~analysis.estimators._panel.prepare_panel`).

    Exposed here so that inference reaches the estimators only through the registry.
    """
    from analysis.estimators._panel import prepare_panel as _prepare

    return _prepare(data, **kwargs)
