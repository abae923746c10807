"""Multi-model regression tables: coefficient over (SE) or [CI], side by side.

The layout is the one of Stata's ``esttab``, R's ``modelsummary``/``fixest::etable``,
pyfixest's ``etable`` and statsmodels' ``summary_col``: one column per model, two
rows per term (estimate, with optional significance stars, over its standard
error in parentheses or its confidence interval in brackets), then rows for the
number of observations, units and clusters, the fixed effects, the
standard-error type and any extra statistics (e.g. randomisation p-values).
``tests/test_regtable.py`` checks the cells against ``summary_col`` for the same
models.

Rendering goes through pandas' ``Styler`` for LaTeX (booktabs rules) and HTML;
Markdown is a plain pipe table. Why not ``maketables`` or ``great-tables``:
they would add a dependency tree (polars/pyarrow-backed frames, a second table
model) for what is here a ~100-line layout over a DataFrame that pandas, already
pinned, renders; and neither understands this package's ``DiDResult``
(aggregates, RI/wild p-values in ``info``) without an adapter of the same size.

Accepted models: :class:`analysis.results.DiDResult` (terms from
``coefficients`` when present, else the ``simple`` ATT) and any
statsmodels-like result with ``params``, ``bse``, ``pvalues``, ``nobs``.
"""

from __future__ import annotations

import html as _html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from analysis.report.tables import _latex_escape, html_page, write_texts

Interval = Literal["se", "ci"]

#: Significance thresholds and marks (as in summary_col and esttab).
STARS: tuple[tuple[float, str], ...] = ((0.01, "***"), (0.05, "**"), (0.1, "*"))

#: LaTeX preamble of the stand-alone wrapper: booktabs rules, Chinese via xeCJK
#: (compile with xelatex; the font is Debian's fonts-noto-cjk, ``make fonts``).
LATEX_PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[margin=2cm,landscape]{geometry}
\usepackage{booktabs}
\usepackage{xeCJK}
\setCJKmainfont{Noto Serif CJK SC}
\begin{document}
"""


@dataclass(frozen=True)
class _Model:
    coefs: pd.DataFrame  # term, estimate, std_error, p_value, conf_low, conf_high
    stats: dict[str, Any]


def _from_did(res: Any, alpha: float) -> _Model:
    z = stats.norm.ppf(1 - alpha / 2)
    if res.coefficients is not None and len(res.coefficients):
        c = res.coefficients.rename(columns={"se": "std_error"})[["term", "estimate", "std_error"]]
    else:
        c = pd.DataFrame({"term": ["ATT"], "estimate": [res.att], "std_error": [res.se]})
    c = c.copy()
    t = c["estimate"] / c["std_error"]
    c["p_value"] = 2 * stats.norm.sf(np.abs(t))
    c["conf_low"] = c["estimate"] - z * c["std_error"]
    c["conf_high"] = c["estimate"] + z * c["std_error"]
    info = res.info
    return _Model(
        c,
        {
            "n_obs": res.n_obs,
            "n_units": res.n_units,
            "n_clusters": info.get("n_clusters"),
            "se_type": info.get("se_type", ""),
            "fixed_effects": info.get("fixed_effects", ""),
            "method": res.method,
        },
    )


def _from_statsmodels(res: Any, alpha: float) -> _Model:
    names = list(getattr(res.model, "exog_names", None) or range(len(res.params)))
    params = pd.Series(np.asarray(res.params), index=names)
    bse = pd.Series(np.asarray(res.bse), index=names)
    pv = pd.Series(np.asarray(res.pvalues), index=names)
    ci = np.asarray(res.conf_int(alpha=alpha))
    c = pd.DataFrame(
        {
            "term": names,
            "estimate": params.to_numpy(),
            "std_error": bse.to_numpy(),
            "p_value": pv.to_numpy(),
            "conf_low": ci[:, 0],
            "conf_high": ci[:, 1],
        }
    )
    n_clusters = None
    groups = (getattr(res, "cov_kwds", None) or {}).get("groups")
    if groups is not None:
        n_clusters = len(np.unique(np.asarray(groups)))
    return _Model(
        c,
        {
            "n_obs": int(res.nobs),
            "n_units": None,
            "n_clusters": n_clusters,
            "se_type": getattr(res, "cov_type", ""),
            "fixed_effects": "",
            "r2": getattr(res, "rsquared", None),
        },
    )


def _adapt(model: Any, alpha: float) -> _Model:
    if hasattr(model, "tidy") and hasattr(model, "aggregates"):
        return _from_did(model, alpha)
    if hasattr(model, "params") and hasattr(model, "bse"):
        return _from_statsmodels(model, alpha)
    raise TypeError(
        f"cannot tabulate a {type(model).__name__}: need a DiDResult or a statsmodels result"
    )


def _stars(p: float, marks: Sequence[tuple[float, str]]) -> str:
    if not np.isfinite(p):
        return ""
    for cut, mark in marks:
        if p < cut:
            return mark
    return ""


@dataclass(frozen=True)
class RegressionTable:
    """A laid-out table: ``body`` (strings; index = row labels) plus metadata.

    ``n_coef_rows`` rows of coefficients come first, the statistics rows after;
    renderers draw a rule between the two blocks.
    """

    body: pd.DataFrame
    n_coef_rows: int
    caption: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    # ------------------------------------------------------------- renderers
    def to_markdown(self) -> str:
        cols = ["", *map(str, self.body.columns)]
        lines = []
        if self.caption:
            lines += [f"**{self.caption}**", ""]
        lines.append("| " + " | ".join(cols) + " |")
        lines.append("| :--- | " + " | ".join("---:" for _ in self.body.columns) + " |")
        for k, (lab, row) in enumerate(self.body.iterrows()):
            first = f"*{lab}*" if k >= self.n_coef_rows and lab else str(lab)
            lines.append("| " + " | ".join([first, *map(str, row.to_numpy())]) + " |")
        if self.notes:
            lines += ["", *["*" + n.replace("*", "\\*") + "*" for n in self.notes]]
        return "\n".join(lines) + "\n"

    def _styler(self):
        # row labels repeat ("" under each estimate): keep them in a column, not the index
        shown = self.body.reset_index(drop=True)
        shown.insert(0, " ", [str(i) for i in self.body.index])
        return shown.style.hide(axis="index")

    def to_latex(self) -> str:
        """A ``table`` float with booktabs rules (pandas ``Styler.to_latex``)."""
        sty = self._styler()
        if self.caption:
            sty = sty.set_caption(_latex_escape(self.caption))
        body = sty.format_index(_latex_escape, axis=1).format(_latex_escape)
        tex = body.to_latex(
            hrules=True,
            column_format="l" + "c" * self.body.shape[1],
            environment="table",
            position="htbp",
            position_float="centering",
        )
        lines = tex.splitlines()
        # a \midrule between the coefficient block and the statistics block
        start = next(i for i, ln in enumerate(lines) if ln.strip() == r"\midrule") + 1
        if 0 < self.n_coef_rows < len(self.body):
            lines.insert(start + self.n_coef_rows, r"\midrule")
        if self.notes:
            end = next(i for i, ln in enumerate(lines) if ln.strip() == r"\end{tabular}")
            note = r"\par\smallskip\footnotesize " + " ".join(_latex_escape(n) for n in self.notes)
            lines.insert(end + 1, note)
        return "\n".join(lines) + "\n"

    def to_latex_document(self) -> str:
        """A stand-alone, compilable document (xelatex; xeCJK for Chinese)."""
        return LATEX_PREAMBLE + self.to_latex() + "\\end{document}\n"

    def to_html(self) -> str:
        """An HTML table (pandas ``Styler.to_html``) with a rule above the statistics."""
        sty = self._styler().format(escape="html").format_index(escape="html", axis=1)
        if self.caption:
            sty = sty.set_caption(_html.escape(self.caption))
        sty = sty.set_table_styles(
            [
                {"selector": "td", "props": "text-align: center; padding: 0 0.6em;"},
                {"selector": "td.col0", "props": "text-align: left;"},
            ]
        )
        if 0 < self.n_coef_rows < len(self.body):
            sty = sty.set_table_styles(
                {self.n_coef_rows: [{"selector": "td", "props": "border-top: 1px solid #000;"}]},
                axis=1,
                overwrite=False,
            )
        out = sty.to_html(table_uuid="regtable", doctype_html=False)
        if self.notes:
            out += (
                '<div class="table-notes">'
                + "".join(f"<p>{_html.escape(n)}</p>" for n in self.notes)
                + "</div>\n"
            )
        return out


def regression_table(
    models: Mapping[str, Any] | Sequence[Any],
    *,
    terms: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    interval: Interval = "se",
    stars: bool | Sequence[tuple[float, str]] = False,
    digits: int = 3,
    alpha: float = 0.05,
    fixed_effects: Mapping[str, Sequence[str]] | None = None,
    extra_rows: Mapping[str, Sequence[Any]] | None = None,
    show: Sequence[str] = ("n_obs", "n_units", "n_clusters", "fixed_effects", "se_type"),
    caption: str = "",
    notes: Sequence[str] = (),
) -> RegressionTable:
    """Lay several models out side by side.

    Parameters
    ----------
    models
        ``{header: result}`` or a sequence (headers ``(1)``, ``(2)``, ...).
    terms
        Terms to show, in order (default: every term, in order of first appearance).
    labels
        Display names of terms; terms of different models with the same label
        share a row (e.g. ``{"D": "ATT"}`` aligns a TWFE coefficient with a CS ATT).
    interval
        ``"se"``: standard error in parentheses; ``"ci"``: ``[low, high]`` at ``1 - alpha``.
    stars
        ``True`` for ``*** p<0.01, ** p<0.05, * p<0.1``, or a sequence of
        ``(threshold, mark)``; ``False`` (default) for none.
    digits
        Decimals of estimates and intervals.
    fixed_effects
        ``{"Unit FE": ["yes", "yes"], ...}`` rows, one value per model; by default
        the models' own ``fixed_effects`` entry if any.
    extra_rows
        Further rows (e.g. ``{"RI p": [0.63, 0.16]}``); floats printed with ``digits``.
    show
        Which statistics rows to print, in order: ``n_obs`` (N), ``n_units``,
        ``n_clusters``, ``fixed_effects``, ``se_type``, ``r2``.
    """
    if interval not in ("se", "ci"):
        raise ValueError(f"interval must be 'se' or 'ci', not {interval!r}")
    if isinstance(models, Mapping):
        heads, objs = list(map(str, models)), list(models.values())
    else:
        objs = list(models)
        heads = [f"({k})" for k in range(1, len(objs) + 1)]
    if not objs:
        raise ValueError("regression_table needs at least one model")
    adapted = [_adapt(m, alpha) for m in objs]
    marks: Sequence[tuple[float, str]] = (
        STARS if stars is True else (() if stars is False else tuple(stars))
    )
    labels = dict(labels or {})
    # labels first: terms of different models given one label share a row (D and ATT -> "ATT")
    adapted = [
        _Model(a.coefs.assign(term=[labels.get(str(t), str(t)) for t in a.coefs["term"]]), a.stats)
        for a in adapted
    ]
    if terms is not None:
        terms = [labels.get(str(t), str(t)) for t in terms]
    if terms is None:
        seen: dict[str, None] = {}
        for a in adapted:
            for t in a.coefs["term"]:
                seen.setdefault(str(t), None)
        terms = list(seen)
    f = f"{{:.{digits}f}}"
    rows: list[tuple[str, list[str]]] = []
    for term in terms:
        est_row, int_row = [], []
        for a in adapted:
            c = a.coefs[a.coefs["term"].astype(str) == str(term)]
            if c.empty:
                est_row.append("")
                int_row.append("")
                continue
            r = c.iloc[0]
            est_row.append(f.format(r["estimate"]) + _stars(float(r["p_value"]), marks))
            if interval == "se":
                int_row.append("(" + f.format(r["std_error"]) + ")")
            else:
                int_row.append(
                    "[" + f.format(r["conf_low"]) + ", " + f.format(r["conf_high"]) + "]"
                )
        rows.append((str(term), est_row))
        rows.append(("", int_row))
    n_coef = len(rows)
    names = {
        "n_obs": "N",
        "n_units": "Units",
        "n_clusters": "Clusters",
        "se_type": "SE type",
        "r2": "R-squared",
    }
    for key in show:
        if key == "fixed_effects":
            if fixed_effects:
                for lab, vals in fixed_effects.items():
                    rows.append((lab, [str(v) for v in vals]))
            elif any(a.stats.get("fixed_effects") for a in adapted):
                rows.append(
                    ("Fixed effects", [str(a.stats.get("fixed_effects") or "") for a in adapted])
                )
            continue
        vals = [a.stats.get(key) for a in adapted]
        if all(v is None or v == "" for v in vals):
            continue
        cells = []
        for v in vals:
            if v is None or (isinstance(v, float) and not np.isfinite(v)):
                cells.append("")
            elif key == "r2":
                cells.append(f.format(float(v)))
            elif isinstance(v, (int, np.integer)) or (
                isinstance(v, float) and float(v).is_integer()
            ):
                cells.append(str(int(v)))
            else:
                cells.append(str(v))
        rows.append((names[key], cells))
    for lab, vals in (extra_rows or {}).items():
        rows.append(
            (lab, [f.format(v) if isinstance(v, (float, np.floating)) else str(v) for v in vals])
        )
    for lab, vals in rows:
        if len(vals) != len(adapted):
            raise ValueError(f"row {lab!r} has {len(vals)} values for {len(adapted)} models")
    body = pd.DataFrame([v for _, v in rows], index=[lab for lab, _ in rows], columns=heads)
    all_notes = list(notes)
    if marks:
        all_notes.append(" ".join(f"{m} p<{c:g}" for c, m in marks) + ".")
    all_notes.append(
        "Standard errors in parentheses."
        if interval == "se"
        else f"{100 * (1 - alpha):g}% confidence intervals in brackets."
    )
    return RegressionTable(body=body, n_coef_rows=n_coef, caption=caption, notes=tuple(all_notes))


def write_regression_table(table: RegressionTable, out_dir, stem: str) -> list:
    """Write ``stem.md``, ``.tex``, ``.html`` and ``.csv`` (the laid-out cells), atomically."""
    csv = table.body.rename_axis("row").reset_index().to_csv(index=False, lineterminator="\n")
    return write_texts(
        out_dir,
        stem,
        {
            "md": table.to_markdown(),
            "tex": table.to_latex(),
            "html": html_page(table.to_html(), table.caption),
            "csv": csv,
        },
    )
