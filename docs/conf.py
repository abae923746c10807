"""Sphinx configuration: the API reference of ``analysis`` from its numpydoc docstrings.

Built by ``make docs`` into ``build/docs`` (linked from ``build/site/index.html``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

project = "enclave-analysis"
author = "Enclave study contributors"
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",  # numpydoc-style sections (Parameters, Returns, ...)
    "sphinx.ext.viewcode",
]
autosummary_generate = True
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_typehints = "description"
autodoc_mock_imports: list[str] = []
napoleon_google_docstring = False
napoleon_numpy_docstring = True
html_theme = "alabaster"
html_title = "enclave-analysis: Python API"
exclude_patterns = ["_build"]
suppress_warnings = ["autosummary"]

# Formulas render offline: MathJax 2 from the jupyter-server-mathjax wheel (pinned), copied
# into _static, instead of Sphinx's default CDN copy (nothing may load from the network).
import jupyter_server_mathjax  # noqa: E402

html_static_path = [str(Path(jupyter_server_mathjax.__file__).parent / "static")]
mathjax_path = "MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
mathjax2_config = {
    "HTML-CSS": {
        "availableFonts": [],
        "preferredFont": None,
        "webFont": "STIX-Web",
        "imageFont": None,
    }
}


def _write_api_page() -> None:
    """``api.rst`` from the package layout, so new modules appear without editing docs."""
    import pkgutil

    import analysis

    titles = {
        "": "Package, results, pipeline and CLI",
        "data": "Data",
        "estimators": "Estimators",
        "inference": "Inference",
        "report": "Report: tables, figures, documents",
        "studies": "Studies",
    }
    groups: dict[str, list[str]] = {}
    for m in pkgutil.walk_packages(analysis.__path__, "analysis."):
        parts = m.name.split(".")
        if parts[-1].startswith("_"):
            continue
        key = parts[1] if len(parts) > 2 else ""
        groups.setdefault(key, []).append(m.name)
    out = ["API reference", "=============", ""]
    for key in [*titles, *sorted(set(groups) - set(titles))]:
        if key not in groups:
            continue
        title = titles.get(key, key)
        out += [title, "-" * len(title), "", ".. autosummary::", "   :toctree: generated", ""]
        out += [f"   {name}" for name in sorted(groups[key])]
        out.append("")
    page = Path(__file__).with_name("api.rst")
    text = "\n".join(out)
    if not page.exists() or page.read_text(encoding="utf-8") != text:
        page.write_text(text, encoding="utf-8")


_write_api_page()
