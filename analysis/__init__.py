"""Enclave study: panel-data estimators and a reproducible study of Zhejiang's
mountain-sea (山海协作) enclaves.

Layers (dependencies point one way)::

    data  ->  estimators  ->  inference  ->  report  ->  pipeline / cli

Low-level variance primitives (``analysis.inference.vcov``, ``.multiplier``) are
leaf modules that estimators may import; resampling procedures that re-fit
estimators sit above them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("enclave-analysis")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+local"

# Presentation is bound here, at the top: results and inference call these by name
# (analysis.presentation) and never import the report layer themselves.
from analysis import presentation as _presentation

_presentation.bind("effects_plot", "analysis.report.figures:effects_plot")
_presentation.bind("sensitivity_plot", "analysis.report.figures:sensitivity_plot")
_presentation.bind("result_table", "analysis.report.tables:result_table")

__all__ = ["__version__"]
