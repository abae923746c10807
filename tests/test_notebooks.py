"""Notebooks: paired with their jupytext source, committed without outputs, and executable."""

from __future__ import annotations

import jupytext
import nbformat
import pytest

from analysis.data.paths import NOTEBOOKS_DIR
from analysis.pipeline import execute_notebook, notebook_paths
from analysis.studies.annual.notebook import FIGURE_SECTIONS

NOTEBOOKS = notebook_paths()


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_ipynb_in_sync_with_py_and_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    py = jupytext.read(path.with_suffix(".py"))
    src_nb = [c.source for c in nb.cells]
    src_py = [c.source for c in py.cells]
    assert src_nb == src_py, "run `jupytext --sync` on the notebook pair"
    for c in nb.cells:
        if c.cell_type == "code":
            assert not c.outputs and c.execution_count is None


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path):
    out = execute_notebook(path, out_dir=tmp_path)
    nb = nbformat.read(out, as_version=4)
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "Data layer" in text  # every notebook says which layer it uses
    assert NOTEBOOKS_DIR.exists()
    # figures are embedded as images (inline backend), never left as "<Figure size ...>"
    raw = out.read_text(encoding="utf-8")
    assert "<Figure size" not in raw, "a figure was not rendered (headless backend in the kernel?)"
    n_png = sum(
        "image/png" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    makes_figures = any(k in code for k in ("plt.", "_plot(", "subplots(", ".plot("))
    # notebooks 03-05 draw their figures inside the annual study's sections
    makes_figures |= any(f"{s}(" in code for s in FIGURE_SECTIONS)
    assert n_png >= (1 if makes_figures else 0), f"{n_png} embedded images"
    # each figure once: a cell ending in ``fig`` under the inline backend shows it twice
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        pngs = [
            o["data"]["image/png"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})
        ]
        assert len(pngs) == len(set(pngs)), (
            f"cell {i} shows the same figure twice (end it with plt.show())"
        )
    # no run-dependent metadata: two runs give the same bytes
    for key in ('"start_time"', '"end_time"', '"duration"', '"iopub.', "shell.execute_reply"):
        assert key not in raw, key
    assert not list(tmp_path.glob(".*.tmp*")), "temporary notebook left behind"
