"""Pipeline stages: numbers, paper rendering, verify."""

from __future__ import annotations

import json

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
    key = next(iter(stored))
    stored[key] = (stored[key] or 0) + 1.0
    (tmp_path / "numbers.json").write_text(json.dumps(stored))
    problems = pipeline.verify(tmp_path)
    assert len(problems) == 1 and key in problems[0]


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
