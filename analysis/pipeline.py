"""The named stages of ``enclave reproduce``: data -> analyses -> notebooks -> paper.

* ``data``      validate ``data/raw`` against its manifest and schemas, build
                ``data/processed``;
* ``analyses``  run every registered analysis: tables to ``paper/tables``,
                figures to ``paper/figures``, quoted numbers to
                ``paper/numbers.json``;
* ``notebooks`` execute every notebook in ``notebooks/`` into ``build/notebooks``;
* ``paper``     fill ``paper/paper.template.md`` with the numbers, tables and figures ->
                ``paper/paper.md``, rendered to ``paper/paper.html`` and ``paper/paper.pdf``;
* ``site``      executed notebooks as HTML and ``build/site/index.html`` linking paper,
                notebooks, tables, figures and the API reference.

A failing stage stops the run with a one-line message. ``verify`` re-runs the
analyses in memory and compares with the committed ``paper/numbers.json``.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from analysis.data.paths import BUILD_DIR, NOTEBOOKS_DIR, PAPER_DIR

STAGES = ("data", "analyses", "notebooks", "paper", "site")
NUMBERS_FILE = "numbers.json"

Analysis = Callable[[Path | None], dict[str, float]]


# ------------------------------------------------------------------ analyses
def claims_audit(paper_dir: Path | None) -> dict[str, float]:
    """Audit of the paper's claims: ``tables/claims_audit.*``."""
    from analysis.report.tables import write_table
    from analysis.studies.claims_audit import AuditContext, audit_claims, audit_numbers

    ctx = AuditContext()
    audit = audit_claims(ctx)
    if paper_dir is not None:
        show = audit[
            ["claim_id", "section", "quantity", "value", "unit", "year", "status", "evidence"]
        ]
        write_table(
            show,
            paper_dir / "tables",
            "claims_audit",
            caption="Quantitative claims of the seed paper and what offline evidence says about them",
            notes=[
                "Data layer: real (the paper's own numbers, cited bulletin figures, 2010/2020 censuses).",
                "Status rules are defined in analysis/studies/claims_audit.py.",
            ],
            digits={"value": 2, "year": 0},
        )
    return audit_numbers(audit, ctx)


def census_descriptive(paper_dir: Path | None) -> dict[str, float]:
    """Mountain 26 vs the rest of Zhejiang, 2010 and 2020 censuses."""
    from analysis.report.figures import group_change_plot, save_figure, structure_plot
    from analysis.report.tables import write_table
    from analysis.studies.census_descriptive import (
        cbu_panel,
        comparison_table,
        descriptive_numbers,
        employment_structure,
        group_aggregates,
    )

    panel = cbu_panel()
    table = comparison_table(panel)
    agg = group_aggregates(panel)
    if paper_dir is not None:
        import matplotlib.pyplot as plt

        write_table(
            table,
            paper_dir / "tables",
            "census_comparison",
            caption="The 26 mountain counties and the rest of Zhejiang in the 2010 and 2020 censuses",
            notes=[
                "Data layer: real (6th and 7th population censuses, county tables; MIT-licensed copies).",
                "Group aggregates over consistent-boundary units ("
                f"{int(agg.loc[(agg['group'] == 'Mountain 26') & (agg['year'] == 2020), 'n_units'].iloc[0])}"
                " mountain, "
                f"{int(agg.loc[(agg['group'] != 'Mountain 26') & (agg['year'] == 2020), 'n_units'].iloc[0])}"
                " other; 苍南 incl. 龙港).",
                "* Shares of the long-form (~10%) sample of the employed; 2010 and 2020 "
                "classifications matched at section / major-group level.",
            ],
            digits=2,
        )
        fig, axes = plt.subplots(1, 3, figsize=(13, 4))
        for ax, (var, lab) in zip(
            axes,
            [
                ("urbanisation", "urbanisation rate"),
                ("edu_years", "mean years of schooling (6+)"),
                ("professional_share", "professional & technical share*"),
            ],
            strict=True,
        ):
            group_change_plot(panel, var, lab, ax=ax)
        fig.suptitle("County-level distributions, consistent-boundary units (real census data)")
        save_figure(fig, paper_dir / "figures", "census_distributions")
        fig, ax = plt.subplots(figsize=(8, 3.2))
        structure_plot(employment_structure(panel), ax=ax)
        ax.set_title("Employment structure (real census, long-form sample)")
        save_figure(fig, paper_dir / "figures", "census_employment_structure")
    return descriptive_numbers(table, agg)


def census_did(paper_dir: Path | None) -> dict[str, float]:
    """Enclaves and county change between the censuses (real DiD, with the 2000 pre-period).

    The study module owns its tables, figures, numbers and sentences.
    """
    from analysis.studies import census_did as cd

    return cd.write_outputs(paper_dir)


#: Every analysis of the ``analyses`` stage, in run order.
ANALYSES: dict[str, Analysis] = {
    "claims_audit": claims_audit,
    "census_descriptive": census_descriptive,
    "census_did": census_did,
}


def run_analyses(paper_dir: Path | None = PAPER_DIR) -> dict[str, float]:
    numbers: dict[str, float] = {}
    for fn in ANALYSES.values():
        numbers.update(fn(paper_dir))
    return numbers


def _write_numbers(numbers: dict[str, float], paper_dir: Path) -> Path:
    path = paper_dir / NUMBERS_FILE
    clean = {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in sorted(numbers.items())
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(clean, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


# -------------------------------------------------------------------- stages
def stage_data() -> None:
    from analysis.data.build import build_processed, check_raw

    problems = check_raw()
    if problems:
        raise RuntimeError("data/raw failed its checks: " + "; ".join(problems))
    build_processed()


def stage_analyses(paper_dir: Path = PAPER_DIR) -> None:
    numbers = run_analyses(paper_dir)
    _write_numbers(numbers, paper_dir)


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def execute_notebook(
    path: Path, out_dir: Path = BUILD_DIR / "notebooks", timeout: int = 600
) -> Path:
    """Execute one notebook with papermill into ``out_dir`` (outputs kept there only)."""
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / path.name
    pm.execute_notebook(
        str(path),
        str(out),
        kernel_name="python3",
        progress_bar=False,
        cwd=str(path.parent),
        execution_timeout=timeout,
    )
    return out


def stage_notebooks() -> None:
    paths = notebook_paths()
    if not paths:
        raise RuntimeError(f"no notebooks found in {NOTEBOOKS_DIR}")
    for p in paths:
        execute_notebook(p)


_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*(?::\s*([^}]+?))?\s*\}\}")


#: Directives placed by :func:`analysis.report.document.place_outputs`, not numbers.
_DIRECTIVES = ("table", "figure", "ref")


def render_paper(
    template: str, numbers: dict[str, float], paper_dir: Path | None = PAPER_DIR
) -> str:
    """Replace ``{{key}}`` / ``{{key:.1f}}`` placeholders; unknown keys are an error.

    Then, with ``paper_dir``, place the generated tables and figures
    (``{{table:..}}``, ``{{figure:..}}``, ``{{ref:..}}``; see
    :mod:`analysis.report.document`).
    """
    missing: list[str] = []

    def sub(m: re.Match[str]) -> str:
        key, fmt = m.group(1), m.group(2) or ""
        if key in _DIRECTIVES:
            return m.group(0)
        if key not in numbers or numbers[key] is None:
            missing.append(key)
            return m.group(0)
        v = numbers[key]
        return format(v, fmt) if fmt else (f"{v:g}" if isinstance(v, float) else str(v))

    out = _PLACEHOLDER.sub(sub, template)
    if missing:
        raise RuntimeError(
            f"paper template quotes unknown number(s): {', '.join(sorted(set(missing)))}"
        )
    if paper_dir is not None:
        from analysis.report.document import place_outputs

        out = place_outputs(out, paper_dir)
    return out


def stage_paper(paper_dir: Path = PAPER_DIR) -> None:
    numbers = json.loads((paper_dir / NUMBERS_FILE).read_text(encoding="utf-8"))
    template = (paper_dir / "paper.template.md").read_text(encoding="utf-8")
    text = render_paper(template, numbers, paper_dir)
    out = paper_dir / "paper.md"
    tmp = out.with_name(".paper.md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    from analysis.report.document import render_html, render_pdf

    render_html(out)
    render_pdf(out)


def stage_site(paper_dir: Path = PAPER_DIR, build_dir: Path = BUILD_DIR) -> None:
    """Executed notebooks as HTML and ``build/site/index.html`` linking every output."""
    from analysis.report.document import build_site

    docs = build_dir / "docs" / "index.html"
    build_site(paper_dir, build_dir, docs if docs.exists() else None)


_RUNNERS: dict[str, Callable[[], None]] = {
    "data": stage_data,
    "analyses": stage_analyses,
    "notebooks": stage_notebooks,
    "paper": stage_paper,
    "site": stage_site,
}


def reproduce(stages: list[str] | tuple[str, ...] = STAGES, execute_notebooks: bool = True) -> int:
    """Run the stages in order with a progress line each; stop at the first failure."""
    todo = [s for s in STAGES if s in stages and (execute_notebooks or s != "notebooks")]
    for i, name in enumerate(todo, 1):
        t0 = time.perf_counter()
        print(f"[{i}/{len(todo)}] {name} ...", flush=True)
        try:
            _RUNNERS[name]()
        except Exception as e:  # a failing stage stops the run with a clear message
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            sys.stderr.write(f"enclave: error: stage '{name}' failed: {msg}\n")
            return 1
        print(f"[{i}/{len(todo)}] {name} done ({time.perf_counter() - t0:.1f} s)", flush=True)
    return 0


def verify(paper_dir: Path = PAPER_DIR, rel_tol: float = 1e-9) -> list[str]:
    """Re-run the analyses in memory; list every number that differs from numbers.json."""
    path = paper_dir / NUMBERS_FILE
    if not path.exists():
        return [f"{path} does not exist: run `enclave reproduce` first"]
    stored = json.loads(path.read_text(encoding="utf-8"))
    fresh = run_analyses(None)
    problems = []
    for k in sorted(set(stored) | set(fresh)):
        if k not in fresh:
            problems.append(f"{k}: in numbers.json but no longer produced")
        elif k not in stored:
            problems.append(f"{k}: produced but missing from numbers.json")
        else:
            a, b = stored[k], fresh[k]
            if a is None and (b is None or (isinstance(b, float) and math.isnan(b))):
                continue
            if (
                a is None
                or b is None
                or not math.isclose(float(a), float(b), rel_tol=rel_tol, abs_tol=1e-12)
            ):
                problems.append(f"{k}: stored {a!r} != recomputed {b!r}")
    return problems
