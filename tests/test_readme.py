"""The README's Python API example runs as written."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt

from analysis.data.paths import REPO_ROOT


def _api_block() -> str:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the Python API section has exactly one python block"
    return blocks[0]


def test_readme_python_api_example_runs(capsys):
    ns: dict = {}
    exec(compile(_api_block(), "README.md:Python API", "exec"), ns)
    out = capsys.readouterr().out
    cs, table, honest = ns["cs"], ns["table"], ns["honest"]
    assert abs(cs.att - (-0.0400)) < 5e-4  # R did: simple ATT -0.0400 (DR, never treated)
    assert "CS (DR)" in table.to_markdown() and "| ATT |" in out
    assert list(honest.table["M"]) == [0.0, 0.5, 1.0]
    plt.close("all")
