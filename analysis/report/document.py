"""The paper as a document: embedded tables and figures, numbering, HTML, PDF, site.

The paper template (``paper/paper.template.md``) quotes numbers as ``{{key}}``
(filled by :func:`analysis.pipeline.render_paper`) and places generated
outputs with three directives, processed here so that every renderer sees the
same Markdown:

``{{table:STEM}}``
    the generated table ``paper/tables/STEM.md``, numbered and captioned
    ("Table N."), with its notes, inside a block with id ``tbl-STEM``;
``{{figure:STEM|CAPTION}}`` or ``{{figure:STEM|CAPTION|LABEL}}``
    ``paper/figures/STEM.png`` as a numbered figure ("Figure N."), id
    ``fig-LABEL`` (``LABEL`` defaults to ``STEM``);
``{{ref:LABEL}}``
    a link "Table N" / "Figure N" to a table or figure placed anywhere in the
    paper (forward references are fine).

Numbering is done here, once, and written into the text: HTML and PDF carry
the same numbers, and typst's own figure numbering is switched off. Citations
``[@key]`` resolve against ``paper/references.bib`` with pandoc's citeproc.

Renderers (all from the package registries, pinned in ``requirements.lock``):
pandoc from the ``pypandoc-binary`` wheel (Markdown -> HTML5, Markdown ->
typst markup), the ``typst`` wheel (typst -> PDF) and ``nbconvert`` (executed
notebooks -> HTML). Chinese text needs a CJK font: Debian's
``fonts-noto-cjk`` (``make fonts``); typst finds it among the system fonts.
A table or figure whose file is missing is an error, never a silent gap.
"""

from __future__ import annotations

import html
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from analysis.data.atomic import atomic_path

_DIRECTIVE = re.compile(r"\{\{\s*(table|figure|ref)\s*:\s*([^}]*?)\s*\}\}")

#: Fonts tried in order by the PDF (typst falls back per glyph): a Latin serif
#: shipped inside typst, then Noto CJK from Debian's fonts-noto-cjk.
PDF_FONTS = ("Libertinus Serif", "Noto Serif CJK SC", "Noto Sans CJK SC")
CJK_FONT_FAMILY = "Noto Serif CJK SC"

_CSS = """
body { max-width: 62rem; margin: 2rem auto; padding: 0 1.2rem; line-height: 1.5;
       font-family: "Libertinus Serif", "DejaVu Serif", Georgia, "Noto Serif CJK SC", serif;
       color: #1a1a1a; }
h1, h2, h3 { font-family: "DejaVu Sans", "Helvetica Neue", Arial, "Noto Sans CJK SC", sans-serif; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.82rem; }
thead th { border-top: 2px solid #000; border-bottom: 1px solid #000; padding: 0.2rem 0.5rem; }
tbody td { padding: 0.15rem 0.5rem; }
tbody tr:last-child td { border-bottom: 2px solid #000; }
.table-block { overflow-x: auto; margin: 1.2rem 0; }
.table-notes p { font-size: 0.78rem; color: #444; margin: 0.2rem 0; }
figure { margin: 1.5rem 0; }
figure img { max-width: 100%; }
figcaption, caption { font-size: 0.88rem; text-align: left; color: #333; }
.references { font-size: 0.9rem; }
"""

_TYPST_PREAMBLE = """```{=typst}
#set figure(numbering: none)
#show figure: set block(breakable: true)
#show figure.caption: it => it.body
#show table: set text(size: 6.5pt)
#set table(inset: 3pt)
```
"""


#: File-name stem of the CJK font typst must find among the system fonts.
CJK_FONT_FILE = "NotoSerifCJK"
_FONT_DIRS = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local/share/fonts",
    Path.home() / ".fonts",
)


def _font_dirs_have(stem: str):
    for d in _FONT_DIRS:
        if d.is_dir():
            yield any(p.name.startswith(stem) for p in d.rglob("*.tt[cf]"))


class DocumentError(RuntimeError):
    """A directive names a table, figure or label that does not exist."""


@dataclass(frozen=True)
class _Item:
    kind: str  # "table" | "figure"
    number: int
    label: str


def _number_items(text: str) -> dict[str, _Item]:
    items: dict[str, _Item] = {}
    counts = {"table": 0, "figure": 0}
    for m in _DIRECTIVE.finditer(text):
        kind, arg = m.group(1), m.group(2)
        if kind == "ref":
            continue
        parts = [p.strip() for p in arg.split("|")]
        stem = parts[0]
        label = parts[2] if kind == "figure" and len(parts) > 2 and parts[2] else stem
        if label in items:
            raise DocumentError(f"label {label!r} is placed twice in the paper")
        counts[kind] += 1
        items[label] = _Item(kind, counts[kind], label)
    return items


def _anchor(item: _Item) -> str:
    return ("tbl-" if item.kind == "table" else "fig-") + item.label


def _table_block(stem: str, item: _Item, tables_dir: Path) -> str:
    path = tables_dir / f"{stem}.md"
    if not path.exists():
        raise DocumentError(f"paper places table {stem!r} but {path} does not exist")
    lines = path.read_text(encoding="utf-8").strip().splitlines()
    caption = ""
    if lines and lines[0].startswith("**") and lines[0].endswith("**"):
        caption = lines[0].strip("*").strip()
        lines = lines[1:]
    body = [ln for ln in lines if ln.startswith("|")]
    notes = [ln for ln in lines if ln.strip() and not ln.startswith("|")]
    out = [
        f"::: {{#{_anchor(item)} .table-block}}",
        "",
        f": **Table {item.number}.** {caption}",
        "",
        *body,
        "",
    ]
    if notes:
        out += ["::: table-notes", *[n + "\n" for n in notes], ":::", ""]
    out.append(":::")
    return "\n".join(out)


def _figure_block(stem: str, caption: str, item: _Item, figures_dir: Path) -> str:
    path = figures_dir / f"{stem}.png"
    if not path.exists():
        raise DocumentError(f"paper places figure {stem!r} but {path} does not exist")
    cap = caption.replace("[", "(").replace("]", ")")
    return f"![**Figure {item.number}.** {cap}](figures/{stem}.png){{#{_anchor(item)}}}"


def place_outputs(text: str, paper_dir: Path) -> str:
    """Replace the ``table``/``figure``/``ref`` directives (see module docstring)."""
    items = _number_items(text)

    def sub(m: re.Match[str]) -> str:
        kind, arg = m.group(1), m.group(2)
        parts = [p.strip() for p in arg.split("|")]
        if kind == "ref":
            item = items.get(parts[0])
            if item is None:
                raise DocumentError(f"paper refers to {parts[0]!r}, which it never places")
            name = "Table" if item.kind == "table" else "Figure"
            return f"[{name} {item.number}](#{_anchor(item)})"
        stem = parts[0]
        if kind == "table":
            return _table_block(stem, items[stem], paper_dir / "tables")
        if len(parts) < 2 or not parts[1]:
            raise DocumentError(f"figure {stem!r} has no caption")
        label = parts[2] if len(parts) > 2 and parts[2] else stem
        return _figure_block(stem, parts[1], items[label], paper_dir / "figures")

    return _DIRECTIVE.sub(sub, text)


# ------------------------------------------------------------------ renderers
def _pandoc(src: Path, to: str, out: Path, extra: list[str]) -> None:
    import pypandoc

    pypandoc.convert_file(
        str(src),
        to,
        format="markdown",
        outputfile=str(out),
        extra_args=[
            "--citeproc",
            f"--bibliography={src.parent / 'references.bib'}",
            f"--resource-path={src.parent}",
            "--shift-heading-level-by=-1",
            # wide --columns: pipe tables get natural column widths, not equal shares
            "--columns=2000",
            *extra,
        ],
    )


def _atomic(out: Path, write) -> Path:
    """Run ``write(tmp)`` on a temporary sibling of ``out`` and rename it into place.

    The package's one atomic writer (:func:`analysis.data.atomic.atomic_path`); the
    temporary name keeps ``out``'s extension because pandoc and typst choose the
    output format from it.
    """
    with atomic_path(out, suffix=out.suffix) as tmp:
        write(tmp)
    return out


def render_html(paper_md: Path, out: Path | None = None) -> Path:
    """``paper.md`` -> standalone HTML5 beside it (images linked, not inlined)."""
    out = out or paper_md.with_suffix(".html")
    css = paper_md.parent / ".paper.css.html"
    css.write_text(f"<style>{_CSS}</style>\n", encoding="utf-8")
    try:
        return _atomic(
            out,
            lambda tmp: _pandoc(
                paper_md,
                "html5",
                tmp,
                ["--standalone", "--toc", "--toc-depth=2", f"--include-in-header={css}"],
            ),
        )
    finally:
        css.unlink(missing_ok=True)


def render_pdf(paper_md: Path, out: Path | None = None) -> Path:
    """``paper.md`` -> typst markup (pandoc) -> PDF (typst), fonts as in :data:`PDF_FONTS`."""
    import typst

    if not any(_font_dirs_have(CJK_FONT_FILE)):
        raise DocumentError(
            "no CJK font for the PDF's Chinese text: install Debian's fonts-noto-cjk (make fonts)"
        )
    out = out or paper_md.with_suffix(".pdf")
    src = paper_md.parent / ".paper.typ.md"
    typ = paper_md.parent / ".paper.typ"
    fonts = ", ".join(f'"{f}"' for f in PDF_FONTS)
    preamble = _TYPST_PREAMBLE.replace("#set figure", f"#set text(font: ({fonts}))\n#set figure")
    src.write_text(preamble + "\n" + paper_md.read_text(encoding="utf-8"), encoding="utf-8")
    try:
        _pandoc(
            src,
            "typst",
            typ,
            ["--standalone", "--variable=papersize:a4", "--variable=fontsize:10pt"],
        )
        # a fixed timestamp keeps the PDF's bytes stable
        return _atomic(
            out,
            lambda tmp: typst.compile(
                str(typ), output=str(tmp), root=str(paper_md.parent), timestamp=0
            ),
        )
    finally:
        for tmp in (src, typ):
            tmp.unlink(missing_ok=True)


#: nbconvert's templates load require.js from a CDN; static pages of matplotlib
#: output do not need it, and nothing may load from the network.
_REQUIRE_JS = re.compile(r'<script src="https://[^"]*require[^"]*"></script>\n?')


#: Pages open from file://, where Chromium blocks web fonts (CORS): MathJax renders
#: with the system's Unicode fonts instead of downloading its own.
_MATHJAX_FONTS = (
    '<script type="text/x-mathjax-config">MathJax.Hub.Config({"HTML-CSS": '
    "{availableFonts: [], preferredFont: null, webFont: null, imageFont: null, "
    "undefinedFamily: \"'DejaVu Serif', 'Noto Serif CJK SC', serif\"}});"
    "</script>\n"
)


def _local_mathjax(site_dir: Path) -> str:
    """Copy MathJax 2 (from the ``jupyter-server-mathjax`` wheel) under ``site_dir``.

    Returns the URL of ``MathJax.js`` relative to a page one level below
    ``site_dir`` (the notebooks), so formulas render offline.
    """
    import jupyter_server_mathjax

    src = Path(jupyter_server_mathjax.__file__).parent / "static"
    dst = site_dir / "mathjax"
    if not (dst / "MathJax.js").exists():
        shutil.copytree(src, dst, dirs_exist_ok=True)
    return "../mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"


def render_notebooks(executed_dir: Path, out_dir: Path) -> list[Path]:
    """Every executed notebook in ``executed_dir`` -> HTML in ``out_dir`` (nbconvert).

    Pages are self-contained apart from a local MathJax copy in
    ``out_dir/../mathjax``: no script is fetched from the network.
    """
    from nbconvert import HTMLExporter

    out_dir.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab", mathjax_url=_local_mathjax(out_dir.parent))
    written = []
    for nb in sorted(executed_dir.glob("*.ipynb")):
        body, _ = exporter.from_filename(str(nb))
        body = _REQUIRE_JS.sub("", body)
        # font settings must precede MathJax itself
        body = body.replace(
            '<script src="../mathjax/MathJax.js',
            _MATHJAX_FONTS + '<script src="../mathjax/MathJax.js',
            1,
        )
        out = out_dir / f"{nb.stem}.html"
        _atomic(out, lambda tmp, b=body: tmp.write_text(b, encoding="utf-8"))
        written.append(out)
    return written


def _rel(target: Path, start: Path) -> str:
    import os

    return Path(os.path.relpath(target, start)).as_posix()


def write_index(
    site_dir: Path, paper_dir: Path, notebooks: list[Path], docs_index: Path | None = None
) -> Path:
    """``index.html`` linking the paper (HTML, PDF), notebooks, tables and API docs."""
    site_dir.mkdir(parents=True, exist_ok=True)
    rows = []

    def link(p: Path, text: str) -> str:
        return f'<a href="{html.escape(_rel(p, site_dir))}">{html.escape(text)}</a>'

    rows.append("<h2>Paper</h2><ul>")
    for name, what in (("paper.html", "HTML"), ("paper.pdf", "PDF"), ("paper.md", "Markdown")):
        p = paper_dir / name
        if p.exists():
            rows.append(f"<li>{link(p, f'{what}: {name}')}</li>")
    rows.append("</ul><h2>Executed notebooks</h2><ul>")
    for nb in notebooks:
        rows.append(f"<li>{link(nb, nb.stem.replace('_', ' '))}</li>")
    rows.append("</ul><h2>Tables</h2><ul>")
    for t in sorted((paper_dir / "tables").glob("*.html")):
        fmts = [
            link(t.with_suffix(s), s.lstrip("."))
            for s in (".html", ".md", ".tex", ".csv")
            if t.with_suffix(s).exists()
        ]
        rows.append(f"<li>{html.escape(t.stem)}: {' · '.join(fmts)}</li>")
    rows.append("</ul><h2>Figures</h2><ul>")
    for f in sorted((paper_dir / "figures").glob("*.png")):
        rows.append(f"<li>{link(f, f.name)}</li>")
    rows.append("</ul>")
    if docs_index is not None and docs_index.exists():
        rows.append(f"<h2>API reference</h2><ul><li>{link(docs_index, 'Python API')}</li></ul>")
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Enclave study: outputs</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>Enclaves and Zhejiang's mountain counties: outputs</h1>"
        "<p>Everything here is generated by <code>make reproduce</code> from "
        "<code>data/raw</code>. Data layer of every output: see its caption "
        "(real census and cited facts; synthetic panels are marked SYNTHETIC).</p>"
        + "\n".join(rows)
        + "</body></html>\n"
    )
    out = site_dir / "index.html"
    return _atomic(out, lambda tmp: tmp.write_text(page, encoding="utf-8"))


def build_site(paper_dir: Path, build_dir: Path, docs_index: Path | None = None) -> Path:
    """Notebook HTML into ``build_dir/site/notebooks`` and the index page; returns it."""
    site = build_dir / "site"
    nb_dir = site / "notebooks"
    if nb_dir.exists():
        shutil.rmtree(nb_dir)
    notebooks = render_notebooks(build_dir / "notebooks", nb_dir)
    return write_index(site, paper_dir, notebooks, docs_index)


def write_latex_wrapper(tables_dir: Path, name: str = "all_tables.tex") -> Path:
    """A compilable LaTeX document (xelatex) that inputs every ``*.tex`` table.

    Booktabs rules; Chinese through xeCJK with Noto Serif CJK SC (``make fonts``).
    Compile in ``tables_dir``: ``xelatex all_tables.tex``.
    """
    from analysis.report.regtable import LATEX_PREAMBLE

    stems = sorted(p.stem for p in tables_dir.glob("*.tex") if p.name != name)
    body = "".join(f"\\input{{{s}.tex}}\n\\clearpage\n" for s in stems)
    text = (
        "% Generated by enclave reproduce (analysis.report.document.write_latex_wrapper).\n"
        + LATEX_PREAMBLE
        + body
        + "\\end{document}\n"
    )
    out = tables_dir / name
    return _atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
