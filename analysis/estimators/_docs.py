"""One wording for the parameters the panel estimators share (numpydoc fragments).

The estimators of :mod:`analysis.estimators` take the same leading arguments
(``data``, ``outcome, unit, time, cohort``, ``cluster``, ``alpha``,
``data_layer``, and for the regressions ``ssc`` and ``se``). Their numpydoc
paragraphs are written once, in :data:`PARAMETERS`, so that what "cohort" or
"cluster" means cannot drift between estimators. A docstring names a fragment
by a line holding only ``{{name}}``; :func:`fill_doc` replaces that line by the
fragment, indented as the line, when the function is defined (as pandas'
``@doc`` and matplotlib's ``_docstring`` substitutions do). The rendered
``__doc__`` -- what ``help()``, Sphinx and the CLI read -- is complete numpydoc;
an unknown name fails at import. Parameters whose meaning differs by estimator
(``covariates``, ``weights``, ``control``, ...) stay in the estimator's own
docstring.

A separate module because it is documentation machinery, not estimation: it
imports nothing from the package.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from typing import TypeVar

__all__ = ["PARAMETERS", "fill_doc"]

F = TypeVar("F", bound=Callable)

#: numpydoc entries (name line, then the description indented by four spaces).
PARAMETERS: dict[str, str] = {
    "data": """\
data
    Long panel, one row per unit and period (balanced or not).""",
    "columns": """\
outcome, unit, time, cohort
    Column names; ``cohort`` is the first treated period (0 or missing = never
    treated).""",
    "cluster": """\
cluster
    Cluster column (must nest units); default: the unit.""",
    "alpha": """\
alpha
    Significance level of the confidence intervals.""",
    "data_layer": """\
data_layer
    Label of the data layer (``"real"``, ``"synthetic"``, ...) stated in tables.""",
    "ssc": """\
ssc
    Small-sample convention of the clustered (CR1) covariance: ``"fixest"``
    (default) or ``"linearmodels"`` (both written out in
    :mod:`analysis.estimators.twfe`).""",
    "se": """\
se
    Standard-error type: ``"cr1"`` (default, cluster-robust with the ``ssc``
    factor), ``"cr2"`` (Bell-McCaffrey cluster-robust,
    :func:`analysis.inference.crve.ols_cluster`), ``"hc1"``
    (heteroskedasticity-robust) or ``"iid"``
    (:func:`analysis.design.absorbed_vcov` gives the formulas). ``ssc``
    applies to ``"cr1"`` only.""",
}

_SLOT = re.compile(r"^(?P<indent>[ ]*)\{\{(?P<name>\w+)\}\}[ ]*$", re.MULTILINE)


def fill_doc(func: F) -> F:
    """Replace every ``{{name}}`` line of ``func.__doc__`` by ``PARAMETERS[name]``.

    Parameters
    ----------
    func
        A function whose docstring names fragments of :data:`PARAMETERS`.

    Returns
    -------
    callable
        ``func`` itself, its ``__doc__`` filled in.

    Raises
    ------
    KeyError
        A name that is not in :data:`PARAMETERS` (at import, not at run time).
    """

    def fragment(m: re.Match) -> str:
        return textwrap.indent(PARAMETERS[m["name"]], m["indent"])

    func.__doc__ = _SLOT.sub(fragment, func.__doc__ or "")
    return func
