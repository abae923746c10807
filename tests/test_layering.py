"""Dependencies point one way (DESIGN.md section 3): checked on the import statements."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).parents[1] / "analysis"


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports (absolute names), at any depth of the code."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(node.lineno, node.module)]
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def offenders(files, forbidden, allowed=(), root=PKG):
    bad = {}
    for p in files:
        hits = [
            (ln, m)
            for ln, m in imports(p)
            if any(m == f or m.startswith(f + ".") for f in forbidden)
            and not any(m == a or m.startswith(a + ".") for a in allowed)
        ]
        if hits:
            bad[str(p.relative_to(root))] = hits
    return bad


def test_results_and_inference_never_import_report():
    files = [PKG / "results.py", *sorted((PKG / "inference").rglob("*.py"))]
    assert offenders(files, ["analysis.report"]) == {}


def test_inference_reaches_estimators_only_through_the_registry():
    files = sorted((PKG / "inference").rglob("*.py"))
    bad = offenders(files, ["analysis.estimators"], ["analysis.estimators.registry"])
    # ``from analysis.estimators import registry`` is the registry itself
    bad = {f: [h for h in hits if h[1] not in ("analysis.estimators",)] for f, hits in bad.items()}
    assert {f: h for f, h in bad.items() if h} == {}


def test_core_modules_import_neither_estimators_nor_inference():
    files = [PKG / "design.py", PKG / "validation.py", PKG / "presentation.py"]
    assert offenders(files, ["analysis.estimators", "analysis.inference", "analysis.report"]) == {}


def test_the_check_can_fail(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from analysis.report.figures import effects_plot\n")
    assert imports(p) == [
        (2, "analysis.report.figures"),
        (2, "analysis.report.figures.effects_plot"),
    ]
    assert offenders([p], ["analysis.report"], root=tmp_path) == {
        "m.py": [(2, "analysis.report.figures"), (2, "analysis.report.figures.effects_plot")]
    }
