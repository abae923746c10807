"""The shared parameter paragraphs (analysis.estimators._docs) render into complete numpydoc."""

from __future__ import annotations

import inspect
import re

import pytest

from analysis.estimators._docs import PARAMETERS, fill_doc
from analysis.estimators._panel import prepare_panel
from analysis.estimators.bjs import bjs_imputation
from analysis.estimators.etwfe import etwfe
from analysis.estimators.event import event_study
from analysis.estimators.gardner import gardner
from analysis.estimators.sa import sun_abraham
from analysis.estimators.twfe import twfe

FUNCS = [twfe, event_study, sun_abraham, bjs_imputation, gardner, etwfe, prepare_panel]


def _documented(doc: str) -> set[str]:
    """Names of the numpydoc ``Parameters`` section (``a, b`` lines give both)."""
    section = re.split(r"\n    (?:Returns|Raises)\n", doc.split("Parameters\n")[1])[0]
    names: set[str] = set()
    for line in section.splitlines():
        m = re.fullmatch(r"    ([A-Za-z_][\w, ]*)", line)
        if m:
            names.update(n.strip() for n in m.group(1).split(","))
    return names


@pytest.mark.parametrize("func", FUNCS, ids=lambda f: f.__name__)
def test_every_parameter_is_documented_and_no_slot_is_left(func):
    doc = func.__doc__
    assert "{{" not in doc and "}}" not in doc
    assert _documented(doc) == set(inspect.signature(func).parameters)


@pytest.mark.parametrize("func", FUNCS[:-1], ids=lambda f: f.__name__)
def test_shared_paragraphs_are_the_one_wording(func):
    doc = inspect.cleandoc(func.__doc__)
    for name in ("data", "columns", "cluster"):
        assert PARAMETERS[name] in doc


def test_fill_doc_indents_and_rejects_unknown_names():
    def f():
        """Title.

        Parameters
        ----------
        {{alpha}}
        """

    assert "        alpha\n            Significance level" in fill_doc(f).__doc__

    def g():
        """{{no_such_fragment}}"""

    with pytest.raises(KeyError):
        fill_doc(g)
