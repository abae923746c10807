"""Pipeline stages: numbers, paper rendering, verify."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import pipeline
from analysis.data.paths import PAPER_DIR


def test_render_paper_formats_and_rejects_unknown_keys():
    out = pipeline.render_paper("a {{x:.2f}} b {{n}} c {{ y }}", {"x": 1.23456, "n": 3, "y": 0.5})
    assert out == "a 1.23 b 3 c 0.5"
    with pytest.raises(RuntimeError, match="unknown number"):
        pipeline.render_paper("{{missing}}", {})


def test_committed_numbers_are_reproduced():
    """`enclave verify`: every committed number is recomputed identically."""
    assert pipeline.verify() == []


def test_verify_catches_a_changed_number(tmp_path):
    stored = json.loads((PAPER_DIR / "numbers.json").read_text(encoding="utf-8"))
    key = next(k for k, v in stored.items() if isinstance(v, float))  # first number (not a label)
    stored[key] = stored[key] + 1.0
    (tmp_path / "numbers.json").write_text(json.dumps(stored))
    problems = pipeline.verify(tmp_path)
    assert len(problems) == 1 and key in problems[0]
    label = "annual_layer.layer"  # labels (strings) are compared as strings
    stored = json.loads((PAPER_DIR / "numbers.json").read_text(encoding="utf-8"))
    stored[label] = "yearbook"
    (tmp_path / "numbers.json").write_text(json.dumps(stored))
    problems = pipeline.verify(tmp_path)
    assert len(problems) == 1 and label in problems[0]


def test_analyses_write_tables_and_figures(tmp_path):
    numbers = pipeline.run_analyses(tmp_path)
    for stem in ("claims_audit", "census_comparison"):
        for ext in ("md", "tex", "csv"):
            assert (tmp_path / "tables" / f"{stem}.{ext}").exists()
    assert (tmp_path / "figures" / "census_distributions.png").exists()
    md = (tmp_path / "tables" / "census_comparison.md").read_text(encoding="utf-8")
    assert "Data layer: real" in md and "long-form" in md
    # same inputs, same bytes
    first = (tmp_path / "tables" / "claims_audit.csv").read_bytes()
    pngs = {p.name: p.read_bytes() for p in (tmp_path / "figures").glob("*.png")}
    assert len(pngs) >= 3
    pipeline.run_analyses(tmp_path)
    assert (tmp_path / "tables" / "claims_audit.csv").read_bytes() == first
    for name, data in pngs.items():
        assert (tmp_path / "figures" / name).read_bytes() == data, name
    assert numbers["census.n_units.m26"] == 26


def test_paper_template_renders_with_committed_numbers():
    numbers = json.loads((PAPER_DIR / "numbers.json").read_text(encoding="utf-8"))
    text = pipeline.render_paper(
        (PAPER_DIR / "paper.template.md").read_text(encoding="utf-8"), numbers
    )
    assert "{{" not in text
    assert (PAPER_DIR / "paper.md").read_text(encoding="utf-8") == text


def test_numbers_are_written_at_12_significant_digits(tmp_path):
    """Last-bit noise never reaches numbers.json: ulp-perturbed numbers give the same bytes."""
    x = 0.1 + 0.2  # 0.30000000000000004
    nums = {"a": x, "b": 1 / 3, "n": 7, "nan": float("nan"), "big": 123456789.123456789}
    pipeline._write_numbers(nums, tmp_path)
    first = (tmp_path / "numbers.json").read_bytes()
    stored = json.loads(first)
    assert stored == {"a": 0.3, "b": 0.333333333333, "n": 7, "nan": None, "big": 123456789.123}
    bumped = {
        k: (float(np.nextafter(v, np.inf)) if isinstance(v, float) else v) for k, v in nums.items()
    }
    pipeline._write_numbers(bumped, tmp_path)
    assert (tmp_path / "numbers.json").read_bytes() == first
    assert not list(tmp_path.glob(".*.tmp"))


def test_committed_csv_tables_are_written_at_12_significant_digits():
    from analysis.report.tables import COMMITTED_SIG_DIGITS, render

    assert COMMITTED_SIG_DIGITS == 12
    df = pd.DataFrame({"x": [0.1 + 0.2, 1 / 3], "k": [1, 2]})
    assert render(df, "csv") == "x,k\n0.3,1\n0.333333333333,2\n"


def test_scrub_notebook_drops_timestamps_and_figure_text():
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {
        "start_time": "t0",
        "end_time": "t1",
        "duration": 1.0,
        "output_path": "/tmp/x",
    }
    cell = nbformat.v4.new_code_cell("fig")
    cell.metadata["execution"] = {"iopub.execute_input": "t"}
    cell.metadata["papermill"] = {"start_time": "t0", "duration": 0.1, "status": "completed"}
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"image/png": "iVBOR", "text/plain": "<Figure size 640x480 with 1 Axes>"},
        )
    ]
    nb.cells = [cell]
    out = pipeline.scrub_notebook(nb, Path("01_x.ipynb"), Path("build/01_x.ipynb"))
    text = nbformat.writes(out)
    for key in ("start_time", "end_time", "duration", "iopub", "<Figure size", "/tmp/x"):
        assert key not in text, key
    assert "image/png" in text and '"status": "completed"' in text


def test_scrub_notebook_joins_pieces_of_one_stream():
    """One print flushed in two pieces gives the same bytes as one piece."""
    import nbformat

    def run(*pieces):
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("print(x)")
        cell.id = "c1"  # new cells get a random id
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=t) for t in pieces]
        cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text="warn\n"))
        cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text="after\n"))
        nb.cells = [cell]
        return pipeline.scrub_notebook(nb, Path("x.ipynb"), Path("build/x.ipynb"))

    one, two = run("label: 1.0\n"), run("label: ", "1.0\n")
    assert nbformat.writes(one) == nbformat.writes(two)
    assert [o["name"] for o in two.cells[0].outputs] == ["stdout", "stderr", "stdout"]
    assert two.cells[0].outputs[0]["text"] == "label: 1.0\n"


def test_interrupt_is_not_swallowed_by_a_stage(monkeypatch):
    """A stage that catches Ctrl-C cannot make the run carry on and exit 0."""
    import os
    import signal

    def stage():
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            pass

    monkeypatch.setitem(pipeline._RUNNERS, "paper", stage)
    with pytest.raises(KeyboardInterrupt):
        pipeline.reproduce(["paper"])
