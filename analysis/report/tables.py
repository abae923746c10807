"""Tables: Markdown, LaTeX and CSV from tidy frames, each stating its design.

Every table carries a *notes* block naming the estimator, comparison group,
standard-error type and data layer (real / synthetic), so a table cut out of
the paper still says what it is.
"""

from __future__ import annotations

import html as _html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.data.atomic import atomic_write_text

TableFormat = Literal["markdown", "latex", "csv", "html"]

#: Columns holding identifiers or calendar values (years, codes, cohorts): printed
#: as plain integers, never with a thousands separator or decimals.
_ID_COLUMN = re.compile(
    r"(^|[_ ])(year|years|code|codes|cohort|cohorts|prefecture|census|time|event|period|id)"
    r"($|[_ ])",
    re.IGNORECASE,
)
#: Significant digits of every float in a machine-readable committed output (CSV
#: tables here, ``paper/numbers.json`` in the pipeline). Last-bit differences between
#: machines (BLAS kernels, CPUs) reach the 12th digit only for a number close to a
#: rounding boundary; :mod:`analysis.report.committed` compares re-runs with the
#: committed files at a stated tolerance for that reason. What a reader sees in
#: the Markdown/LaTeX tables is rounded further (``digits``).
COMMITTED_SIG_DIGITS = 12


def _is_id_column(name: object) -> bool:
    return bool(_ID_COLUMN.search(str(name)))


def _fmt(v: Any, digits: int, identifier: bool = False) -> str:
    """One cell: integers plain (counts, years, codes: ``2002``, ``330100``);
    floats with ``digits`` decimals and a thousands separator, except in
    identifier columns, where a whole float is printed as an integer."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if identifier and f.is_integer():
            return str(int(f))
        return f"{f:,.{digits}f}"
    if v is pd.NA:
        return ""
    return str(v)


def _latex_escape(s: Any) -> str:
    """``s`` as text with the LaTeX special characters escaped."""
    s = str(s)
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("$", r"\$"),
        ("#", r"\#"),
        ("_", r"\_"),
        ("{", r"\{"),
        ("}", r"\}"),
    ):
        s = s.replace(a, b)
    return s


def render(
    df: pd.DataFrame,
    fmt: TableFormat,
    *,
    caption: str = "",
    notes: Sequence[str] = (),
    digits: int | Mapping[str, int] = 3,
) -> str:
    """Render a frame as Markdown, LaTeX (booktabs) or CSV with caption and notes."""
    if fmt == "csv":
        return df.to_csv(
            index=False, lineterminator="\n", float_format=f"%.{COMMITTED_SIG_DIGITS}g"
        )

    def d(col: str) -> int:
        return digits.get(col, 3) if isinstance(digits, Mapping) else int(digits)

    ident = {c: _is_id_column(c) for c in df.columns}
    cells = [
        [_fmt(v, d(c), ident[c]) for c, v in zip(df.columns, row, strict=True)]
        for row in df.itertuples(index=False)
    ]
    header = [str(c) for c in df.columns]
    if fmt == "html":
        return _html_table(
            header,
            cells,
            [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns],
            caption,
            notes,
        )
    if fmt == "markdown":
        lines = []
        if caption:
            lines += [f"**{caption}**", ""]
        lines.append("| " + " | ".join(header) + " |")
        aligns = ["---:" if pd.api.types.is_numeric_dtype(df[c]) else ":---" for c in df.columns]
        lines.append("| " + " | ".join(aligns) + " |")
        lines += ["| " + " | ".join(r) + " |" for r in cells]
        if notes:
            lines += [""] + [f"*{n}*" if not n.startswith("*") else n for n in notes]
        return "\n".join(lines) + "\n"
    if fmt == "latex":
        spec = "".join("r" if pd.api.types.is_numeric_dtype(df[c]) else "l" for c in df.columns)
        lines = [r"\begin{table}[htbp]", r"\centering"]
        if caption:
            lines.append(r"\caption{" + _latex_escape(caption) + "}")
        lines += [
            r"\begin{tabular}{" + spec + "}",
            r"\toprule",
            " & ".join(_latex_escape(h) for h in header) + r" \\",
            r"\midrule",
        ]
        lines += [" & ".join(_latex_escape(c) for c in r) + r" \\" for r in cells]
        lines += [r"\bottomrule", r"\end{tabular}"]
        if notes:
            lines.append(
                r"\par\smallskip\footnotesize " + " ".join(_latex_escape(n) for n in notes)
            )
        lines.append(r"\end{table}")
        return "\n".join(lines) + "\n"
    raise ValueError(f"unknown table format {fmt!r}")


def html_page(fragment: str, title: str = "") -> str:
    """A table fragment as a stand-alone UTF-8 page (opens correctly on its own)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_html.escape(title)}</title>"
        "<style>body{font-family:serif;margin:2rem} table{border-collapse:collapse}"
        " td,th{padding:0.15rem 0.5rem} thead th{border-bottom:1px solid #000}"
        " .table-notes p{font-size:0.85rem;color:#444}</style></head><body>\n"
        + fragment
        + "</body></html>\n"
    )


def _html_table(
    header: list[str],
    cells: list[list[str]],
    numeric: list[bool],
    caption: str,
    notes: Sequence[str],
) -> str:
    """A formatted table as an HTML fragment through pandas' Styler (caption, notes)."""
    shown = pd.DataFrame(cells, columns=pd.Index(header))
    sty = shown.style.hide(axis="index").format(escape="html").format_index(escape="html", axis=1)
    if caption:
        sty = sty.set_caption(_html.escape(caption))
    align = [
        {"selector": f"td.col{j}, th.col_heading.col{j}", "props": "text-align: right;"}
        for j, num in enumerate(numeric)
        if num
    ]
    if align:
        sty = sty.set_table_styles(align)
    body = sty.to_html(table_uuid="t", doctype_html=False)
    if notes:
        body += (
            '<div class="table-notes">'
            + "".join(f"<p>{_html.escape(n)}</p>" for n in notes)
            + "</div>\n"
        )
    return body


def write_table(
    df: pd.DataFrame,
    out_dir: Path,
    stem: str,
    *,
    caption: str,
    notes: Sequence[str] = (),
    digits: int | Mapping[str, int] = 3,
) -> list[Path]:
    """Write ``stem.md``, ``stem.tex``, ``stem.html`` and ``stem.csv`` (atomically) to ``out_dir``."""
    texts = {}
    for fmt, ext in (("markdown", "md"), ("latex", "tex"), ("html", "html"), ("csv", "csv")):
        text = render(df, fmt, caption=caption, notes=notes, digits=digits)  # type: ignore[arg-type]
        texts[ext] = html_page(text, caption) if fmt == "html" else text
    return write_texts(out_dir, stem, texts)


def write_texts(out_dir: str | Path, stem: str, texts: Mapping[str, str]) -> list[Path]:
    """Write each rendering of one table to ``out_dir/stem.<ext>``, atomically.

    The one writer of table files (:func:`write_table`,
    :func:`analysis.report.regtable.write_regression_table`).

    Parameters
    ----------
    out_dir
        Folder (created if missing).
    stem
        File name without extension.
    texts
        Extension -> UTF-8 text, written in this order.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of ``texts``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [atomic_write_text(out_dir / f"{stem}.{ext}", text) for ext, text in texts.items()]


def design_notes(result) -> list[str]:
    """The notes every estimation table carries, read from ``result.info``."""
    info = result.info
    se = info.get("se_type", "n/a")
    if info.get("cluster"):
        se += f", clustered by {info['cluster']}"
        if info.get("n_clusters"):
            se += f" ({info['n_clusters']} clusters)"
    if info.get("ssc"):
        se += f"; small-sample convention: {info['ssc']}"
    return [
        f"Estimator: {result.method}"
        + (f" ({info['est_method']})" if info.get("est_method") else "")
        + f". Comparison group: {info.get('control', 'n/a')}.",
        f"Standard errors: {se}."
        + (f" Weights: {info['weights']}." if info.get("weights") else ""),
        f"Data layer: {info.get('data_layer') or 'unspecified'}. "
        f"Units: {result.n_units}; observations: {result.n_obs}.",
    ]


def result_table(
    result,
    fmt: TableFormat = "markdown",
    aggregations: Sequence[str] | None = None,
    digits: int = 4,
    caption: str | None = None,
) -> str:
    """An estimation result as a table (from ``result.tidy()``) with its design notes."""
    tidy = result.tidy()
    if aggregations is not None:
        tidy = tidy[tidy["aggregation"].isin(list(aggregations))]
    show = tidy[["aggregation", "term", "estimate", "std_error", "conf_low", "conf_high"]].rename(
        columns={"std_error": "s.e.", "conf_low": "CI low", "conf_high": "CI high"}
    )
    cap = caption or f"{result.method.upper()} estimates for {result.outcome}"
    return render(show, fmt, caption=cap, notes=design_notes(result), digits=digits)
