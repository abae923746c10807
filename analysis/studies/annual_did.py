"""The annual study of income, employment and R&D (entry point of notebooks 03-05).

The study lives in the package :mod:`analysis.studies.annual` (``design``:
data, outcomes and design; ``estimate``: every estimator, test and draw;
``report``: the numbers, figures, tables and sentences). This module
re-exports its public names so that notebooks and the pipeline import one
module::

    from analysis.studies import annual_did as ad
"""

from __future__ import annotations

from analysis.studies.annual import *  # noqa: F403
from analysis.studies.annual import __all__  # noqa: F401
