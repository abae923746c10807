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

import contextlib
import json
import math
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from analysis.data.atomic import atomic_path, atomic_write_text
from analysis.data.paths import BUILD_DIR, NOTEBOOKS_DIR, PAPER_DIR

STAGES = ("data", "analyses", "notebooks", "paper", "site")
NUMBERS_FILE = "numbers.json"

Analysis = Callable[[Path | None], dict[str, float]]


# ------------------------------------------------------------------ analyses
def claims_audit(paper_dir: Path | None) -> dict[str, float]:
    """Audit of the paper's claims (the study module owns its table and words)."""
    from analysis.studies import claims_audit as ca

    return ca.write_outputs(paper_dir)


def census_descriptive(paper_dir: Path | None) -> dict[str, float]:
    """Mountain 26 vs the rest of Zhejiang, 2010 and 2020 censuses (the study module
    owns its tables, figures, numbers and words)."""
    from analysis.studies import census_descriptive as cdesc

    return cdesc.write_outputs(paper_dir)


def census_did(paper_dir: Path | None) -> dict[str, float]:
    """Enclaves and county change between the censuses (real DiD, with the 2000 pre-period).

    The study module owns its tables, figures, numbers and sentences.
    """
    from analysis.studies import census_did as cd

    return cd.write_outputs(paper_dir)


def annual_did(paper_dir: Path | None) -> dict[str, float]:
    """Annual staggered DiD on income, employment and R&D (twin by default, else yearbook)."""
    from analysis.studies import annual_did as ad

    data = ad.load()
    analyses = ad.run_cached(data)
    family = ad.family_table(analyses)
    if paper_dir is not None:
        ad.write_outputs(data, analyses, family, paper_dir)
    return ad.numbers(data, analyses, family)


def annual_layer(paper_dir: Path | None) -> dict[str, float]:
    """Which layer the annual panel comes from (recorded in ``numbers.json``)."""
    from analysis.data.annual import resolve_layer

    layer, _ = resolve_layer("auto")
    return {
        "annual_layer.layer": layer,  # type: ignore[dict-item]
        "annual_layer.data_layer": "real" if layer == "yearbook" else "synthetic",  # type: ignore[dict-item]
    }


#: Every analysis of the ``analyses`` stage, in run order.
ANALYSES: dict[str, Analysis] = {
    "annual_layer": annual_layer,
    "claims_audit": claims_audit,
    "census_descriptive": census_descriptive,
    "census_did": census_did,
    "annual_did": annual_did,
}


def run_analyses(paper_dir: Path | None = PAPER_DIR) -> dict[str, float]:
    numbers: dict[str, float] = {}
    for fn in ANALYSES.values():
        numbers.update(fn(paper_dir))
    return numbers


def _committed_value(v: Any) -> Any:
    """A number as committed: floats at ``COMMITTED_SIG_DIGITS`` significant digits.

    Last-bit differences between machines (BLAS kernels, CPUs) then never reach
    ``numbers.json``; ``verify`` compares at ``rel_tol=1e-9``, far above the rounding.
    """
    from analysis.report.tables import COMMITTED_SIG_DIGITS

    if isinstance(v, bool) or not isinstance(v, float):
        return v
    if not math.isfinite(v):
        return None
    return float(f"{v:.{COMMITTED_SIG_DIGITS}g}")


def _write_numbers(numbers: dict[str, float], paper_dir: Path) -> Path:
    path = paper_dir / NUMBERS_FILE
    clean = {k: _committed_value(v) for k, v in sorted(numbers.items())}
    atomic_write_text(path, json.dumps(clean, indent=2, ensure_ascii=False) + "\n")
    return path


# -------------------------------------------------------------------- stages
def stage_data() -> None:
    from analysis.data import paths
    from analysis.data.build import build_processed, check_raw

    problems = check_raw()
    if problems:
        raise RuntimeError("data/raw failed its checks: " + "; ".join(problems))
    build_processed(paths.PROCESSED_DIR)


def stage_analyses(paper_dir: Path = PAPER_DIR) -> None:
    numbers = run_analyses(paper_dir)
    _write_numbers(numbers, paper_dir)


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


#: Backend of the notebook kernels: inline, so that executed notebooks embed their
#: figures as PNG images (a headless ``MPLBACKEND=Agg`` inherited from the Makefile or
#: a CI shell would leave ``<Figure size ...>`` text instead).
KERNEL_MPLBACKEND = "module://matplotlib_inline.backend_inline"

#: Run-dependent keys that papermill / nbclient write into a notebook's metadata.
_NB_TIMING_KEYS = ("start_time", "end_time", "duration")


def scrub_notebook(nb: Any, source: Path, out: Path) -> Any:
    """Drop everything that differs between two runs (timestamps, durations, temp paths).

    Two executions of the same notebook on the same inputs then give the same bytes.
    """
    pmeta = nb.metadata.get("papermill", {})
    for k in _NB_TIMING_KEYS:
        pmeta.pop(k, None)
    if pmeta:
        pmeta["input_path"] = source.name
        pmeta["output_path"] = out.name
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cmeta = cell.metadata.get("papermill")
        if cmeta is not None:
            for k in _NB_TIMING_KEYS:
                cmeta.pop(k, None)
        if "outputs" in cell:
            cell["outputs"] = _merge_streams(cell["outputs"])
        for output in cell.get("outputs", []):
            # the plain-text stand-in of an embedded figure ("<Figure size 640x480 with 1
            # Axes>") says nothing the image does not; drop it so that such text in an
            # executed notebook always means a figure that was NOT rendered
            data = output.get("data", {})
            text = _joined(data.get("text/plain", ""))
            if "image/png" in data and text.startswith("<Figure size"):
                del data["text/plain"]
    return nb


def _joined(text: str | list[str]) -> str:
    return "".join(text) if isinstance(text, list) else text


def _merge_streams(outputs: list) -> list:
    """Consecutive pieces of the same stream (stdout, stderr) as one output.

    The kernel flushes a stream when it likes, so one ``print`` can arrive as one
    output or as two; joined, the text is the same and the bytes are too.
    """
    merged: list = []
    for output in outputs:
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and output.get("output_type") == "stream"
            and prev.get("output_type") == "stream"
            and output.get("name") == prev.get("name")
        ):
            prev["text"] = _joined(prev["text"]) + _joined(output["text"])
        else:
            merged.append(output)
    return merged


@contextlib.contextmanager
def _kernel_environment() -> Iterator[None]:
    """Kernels are started with the inline matplotlib backend (restored afterwards)."""
    old = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = KERNEL_MPLBACKEND
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = old


def execute_notebook(
    path: Path, out_dir: Path = BUILD_DIR / "notebooks", timeout: int = 600
) -> Path:
    """Execute one notebook with papermill into ``out_dir`` (outputs kept there only).

    The notebook is executed into a temporary file beside the target and moved into
    place only when it has run to the end, scrubbed of timestamps
    (:func:`scrub_notebook`); a failed, interrupted or killed run never leaves a
    partly executed notebook under the final name.
    """
    import nbformat
    import papermill as pm

    out = out_dir / path.name
    with atomic_path(out, suffix=".ipynb") as tmp:
        try:
            with _kernel_environment():
                pm.execute_notebook(
                    str(path),
                    str(tmp),
                    kernel_name="python3",
                    progress_bar=False,
                    cwd=str(path.parent),
                    execution_timeout=timeout,
                )
            nb = scrub_notebook(nbformat.read(tmp, as_version=4), path, out)
            nbformat.write(nb, tmp)
        except pm.PapermillExecutionError as e:
            raise RuntimeError(
                f"notebook {path.name} failed in cell {e.exec_count}: {e.ename}: {e.evalue}"
            ) from None
    return out


def stage_notebooks() -> None:
    paths = notebook_paths()
    if not paths:
        raise RuntimeError(f"no notebooks found in {NOTEBOOKS_DIR}")
    for p in paths:
        execute_notebook(p, BUILD_DIR / "notebooks")


_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*(?::\s*([^}]+?))?\s*\}\}")


_CONDITIONAL = re.compile(
    r"\{\{#if\s+([A-Za-z0-9_.]+)\s*\}\}(.*?)(?:\{\{else\}\}(.*?))?\{\{/if\}\}", re.DOTALL
)


def _conditionals(template: str, numbers: dict[str, float]) -> str:
    """Keep the ``{{#if key}}...{{else}}...{{/if}}`` branch chosen by the number ``key``
    (non-zero = first branch); blocks do not nest; an unknown key is an error."""

    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in numbers or numbers[key] is None:
            raise RuntimeError(f"paper template branches on unknown number: {key}")
        return m.group(2) if numbers[key] else (m.group(3) or "")

    return _CONDITIONAL.sub(sub, template)


#: Directives placed by :func:`analysis.report.document.place_outputs`, not numbers.
_DIRECTIVES = ("table", "figure", "ref")


def render_paper(
    template: str, numbers: dict[str, float], paper_dir: Path | None = PAPER_DIR
) -> str:
    """Replace ``{{key}}`` / ``{{key:.1f}}`` placeholders; unknown keys are an error.

    ``{{#if key}}A{{else}}B{{/if}}`` keeps ``A`` when the number ``key`` is
    non-zero, else ``B`` (e.g. one template for the synthetic and the real layer).
    Then, with ``paper_dir``, place the generated tables and figures
    (``{{table:..}}``, ``{{figure:..}}``, ``{{ref:..}}``; see
    :mod:`analysis.report.document`).
    """
    template = _conditionals(template, numbers)
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
    atomic_write_text(out, text)
    from analysis.report.document import render_html, render_pdf, write_latex_wrapper

    write_latex_wrapper(paper_dir / "tables")
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


class _Interrupt:
    """SIGINT handler that remembers the interrupt, so that a library swallowing the
    ``KeyboardInterrupt`` (a kernel client, a worker pool) cannot let the run carry on."""

    def __init__(self) -> None:
        self.seen = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.seen = True
        raise KeyboardInterrupt


def reproduce(
    stages: list[str] | tuple[str, ...] = STAGES,
    execute_notebooks: bool = True,
    layer: str = "auto",
) -> int:
    """Run the stages in order with a progress line each; stop at the first failure.

    ``layer`` (``auto``, ``synthetic``, ``yearbook``) selects the annual panel's layer for
    every analysis and notebook of the run (through ``ENCLAVE_LAYER``); the chosen layer
    is printed and recorded in ``paper/numbers.json`` (``annual_layer.layer``).

    Returns 0 on success; 2 when the layer cannot be used or a stage fails on bad input
    or its environment (an :class:`~analysis.errors.InputError` or ``OSError``:
    unreadable data, a read-only or full disk); 1 on any other failure. Ctrl-C raises
    ``KeyboardInterrupt`` (the CLI ends with status 130), even if a stage swallowed it.
    """
    import os

    from analysis.data.annual import LAYER_ENV, resolve_layer
    from analysis.errors import InputError

    todo = [s for s in STAGES if s in stages and (execute_notebooks or s != "notebooks")]
    try:
        chosen, reason = resolve_layer(layer)  # type: ignore[arg-type]
    except InputError as e:
        sys.stderr.write(f"enclave: error: {e}\n")
        return 2
    print(f"annual panel layer: {chosen} ({reason})", flush=True)
    previous_layer = os.environ.get(LAYER_ENV)
    if layer != "auto":  # "auto" resolves the same way in every stage (and in `verify`)
        os.environ[LAYER_ENV] = chosen
    interrupt = _Interrupt()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, interrupt) if in_main else None
    try:
        for i, name in enumerate(todo, 1):
            t0 = time.perf_counter()
            print(f"[{i}/{len(todo)}] {name} ...", flush=True)
            try:
                _RUNNERS[name]()
            except Exception as e:  # a failing stage stops the run with a clear message
                if interrupt.seen:
                    raise KeyboardInterrupt from None
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                sys.stderr.write(f"enclave: error: stage '{name}' failed: {msg}\n")
                return 2 if isinstance(e, (InputError, OSError)) else 1
            if interrupt.seen:
                raise KeyboardInterrupt
            print(f"[{i}/{len(todo)}] {name} done ({time.perf_counter() - t0:.1f} s)", flush=True)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
        if previous_layer is None:
            os.environ.pop(LAYER_ENV, None)
        else:
            os.environ[LAYER_ENV] = previous_layer
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
            if isinstance(a, str) or isinstance(b, str):
                if a != b:
                    problems.append(f"{k}: stored {a!r} != recomputed {b!r}")
                continue
            if a is None and (b is None or (isinstance(b, float) and math.isnan(b))):
                continue
            if (
                a is None
                or b is None
                or not math.isclose(float(a), float(b), rel_tol=rel_tol, abs_tol=1e-12)
            ):
                problems.append(f"{k}: stored {a!r} != recomputed {b!r}")
    return problems
