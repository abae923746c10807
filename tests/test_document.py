"""The paper as a document: placed, numbered outputs; HTML and PDF; table number formats."""

from __future__ import annotations

import re
import zlib

import pandas as pd
import pytest
from PIL import Image

from analysis.data.paths import PAPER_DIR
from analysis.report import document
from analysis.report.tables import render


def _paper_dir(tmp_path):
    (tmp_path / "tables").mkdir()
    (tmp_path / "figures").mkdir()
    df = pd.DataFrame(
        {"county": ["淳安县", "泰顺县"], "year": [2010.0, 2020.0], "code": [330127, 330329]}
    )
    for stem in ("first", "second"):
        (tmp_path / "tables" / f"{stem}.md").write_text(
            render(df, "markdown", caption=f"The {stem} table", notes=["Data layer: SYNTHETIC."]),
            encoding="utf-8",
        )
    Image.new("RGB", (4, 3), "white").save(tmp_path / "figures" / "fig.png")
    (tmp_path / "references.bib").write_text(
        "@book{imbens2015, author={Imbens, G. and Rubin, D.}, title={Causal Inference},"
        " publisher={CUP}, year={2015}}\n",
        encoding="utf-8",
    )
    return tmp_path


TEXT = """# Title

See {{ref:second}} and {{ref:fig}} before they appear [@imbens2015].

{{table:first}}

{{figure:fig|A figure 图}}

{{table:second}}

## References

::: {#refs}
:::
"""


def test_place_outputs_numbers_captions_and_refs(tmp_path):
    d = _paper_dir(tmp_path)
    out = document.place_outputs(TEXT, d)
    assert "[Table 2](#tbl-second)" in out and "[Figure 1](#fig-fig)" in out
    assert ": **Table 1.** The first table" in out and ": **Table 2.** The second table" in out
    assert "![**Figure 1.** A figure 图](figures/fig.png){#fig-fig}" in out
    assert "| 淳安县 | 2010 | 330127 |" in out  # years and codes as plain integers
    with pytest.raises(document.DocumentError, match="never places"):
        document.place_outputs("{{ref:nothing}}", d)
    with pytest.raises(document.DocumentError, match="does not exist"):
        document.place_outputs("{{table:absent}}", d)
    with pytest.raises(document.DocumentError, match="twice"):
        document.place_outputs("{{table:first}} {{table:first}}", d)


def test_committed_paper_places_every_table_and_figure():
    template = (PAPER_DIR / "paper.template.md").read_text(encoding="utf-8")
    paper = (PAPER_DIR / "paper.md").read_text(encoding="utf-8")
    n_tables = len(re.findall(r"\{\{\s*table:", template))
    n_figures = len(re.findall(r"\{\{\s*figure:", template))
    assert n_tables >= 10 and n_figures >= 4
    for k in range(1, n_tables + 1):
        assert f"**Table {k}.**" in paper
    for k in range(1, n_figures + 1):
        assert f"**Figure {k}.**" in paper
    for src in re.findall(r"\]\((figures/[^)]+\.png)\)", paper):
        assert (PAPER_DIR / src).exists(), src
    assert "{{" not in paper


def test_table_numbers_are_formatted_as_a_journal_would():
    df = pd.DataFrame(
        {"year": [2002.0], "prefecture_code": [330100], "n_units": [42501], "value": [7404.1234]}
    )
    md = render(df, "markdown", digits=2)
    row = md.strip().splitlines()[-1]
    assert row == "| 2002 | 330100 | 42501 | 7,404.12 |"
    assert "2,002" not in md and "330,100" not in md


@pytest.mark.skipif(
    not any(document._font_dirs_have(document.CJK_FONT_FILE)),
    reason="no CJK font installed (make fonts)",
)
def test_html_and_pdf_render_with_chinese_text(tmp_path):
    d = _paper_dir(tmp_path)
    md = d / "paper.md"
    md.write_text(document.place_outputs(TEXT, d), encoding="utf-8")
    html = document.render_html(md).read_text(encoding="utf-8")
    assert '<img src="figures/fig.png"' in html and "Figure 1." in html
    assert "淳安县" in html and "Imbens" in html  # citeproc resolved the reference
    pdf = document.render_pdf(md).read_bytes()
    assert pdf.startswith(b"%PDF")
    # the CJK font is embedded (font names may sit in compressed object streams)
    blobs = [pdf]
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, flags=re.S):
        try:
            blobs.append(zlib.decompress(m.group(1)))
        except zlib.error:
            pass
    assert any(b"NotoSerifCJK" in b or b"Noto Serif CJK" in b for b in blobs)
    assert not list(d.glob(".*tmp*"))  # no temporary files left behind


def test_latex_wrapper_inputs_every_table(tmp_path):
    for stem in ("b_table", "a_table"):
        (tmp_path / f"{stem}.tex").write_text(
            render(pd.DataFrame({"县": ["淳安县"], "x": [1.5]}), "latex", caption=stem),
            encoding="utf-8",
        )
    text = document.write_latex_wrapper(tmp_path).read_text(encoding="utf-8")
    assert text.index(r"\input{a_table.tex}") < text.index(r"\input{b_table.tex}")
    assert r"\usepackage{xeCJK}" in text and r"\usepackage{booktabs}" in text
    assert text.rstrip().endswith(r"\end{document}")
    # the committed wrapper lists every committed table
    committed = (PAPER_DIR / "tables" / "all_tables.tex").read_text(encoding="utf-8")
    for p in (PAPER_DIR / "tables").glob("*.tex"):
        if p.name != "all_tables.tex":
            assert f"\\input{{{p.name}}}" in committed
