"""Every bad input or fault ends cleanly: one table of CLI cases (issue 8), so the list can only grow.

Each row builds its input in ``tmp_path`` (optionally injects a fault: a read-only or
full disk, a swallowed Ctrl-C), runs the CLI and checks that it

* exits with the expected status (2 for bad input or environment, 130 for Ctrl-C);
* writes exactly one ``enclave: error:`` line (``data check`` may list its problems,
  one ``enclave: problem:`` line each, before it) naming the problem, no traceback;
* leaves nothing half-written: no ``.tmp`` file and no partial output anywhere in
  ``tmp_path``.

Classes (issue 8): 1 duplicated column names; 2 ``inf`` in the outcome; 3 extreme
scales; 4 a single cluster; 5 unbounded draws; 6 negative seed; 7 unwritable
``--output``; 8 read-only ``data/processed``; 9 disk full; 10 ``data check`` on empty,
fractional-year and very wide files; 11 interrupts and failing notebooks;
12 executed notebooks that differ between runs.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.data.paths import REPO_ROOT
from tests.test_cli import run

MPDTA = REPO_ROOT / "data" / "raw" / "external" / "mpdta.csv"
COLS = ["--outcome", "lemp", "--unit", "countyreal", "--time", "year", "--cohort", "first.treat"]
METHODS = ("twfe", "event", "cs", "sa", "bjs", "gardner")


# ------------------------------------------------------------------ inputs
def mpdta(tmp: Path, name: str = "panel.csv", edit: Callable | None = None) -> Path:
    d = pd.read_csv(MPDTA)
    if edit is not None:
        d = edit(d)
    p = tmp / name
    d.to_csv(p, index=False)
    return p


def dup_columns(tmp: Path) -> Path:
    p = mpdta(tmp, "dup.csv", lambda d: d.assign(extra=d["lemp"] + 1.0))
    text = p.read_text(encoding="utf-8")
    p.write_text(text.replace("extra", "lemp", 1), encoding="utf-8")  # two columns named lemp
    return p


def with_inf(d: pd.DataFrame) -> pd.DataFrame:
    d.loc[7, "lemp"] = np.inf
    return d


def estimate(method: str, make: Callable[[Path], Path] = mpdta, *extra: str):
    return lambda tmp: ["estimate", "--data", str(make(tmp)), *COLS, "--method", method, *extra]


def panel_file(rows: list[dict] | None, columns: list[str] | None = None, n_wide: int = 0):
    def make(tmp: Path) -> list[str]:
        p = tmp / "yearbook.csv"
        if n_wide:
            header = ["code", "year"] + [f"v{i}" for i in range(n_wide)]
            line = ",".join(["330127", "2015"] + ["1"] * n_wide)
            p.write_text(",".join(header) + "\n" + "\n".join([line] * 50) + "\n")
        else:
            pd.DataFrame(rows or [], columns=columns).to_csv(p, index=False)
        return ["data", "check", str(p)]

    return make


# ------------------------------------------------------------------ faults
def _raise(err: int):
    return OSError(err, os.strerror(err))


def deny_folder(mp: pytest.MonkeyPatch, tmp: Path) -> None:
    """A read-only folder (tests may run as root, who ignores permission bits)."""
    mp.setattr(os, "access", lambda *a, **k: False)


class _FailingFile:
    """A file that accepts half of what is written, then fails (disk full / EACCES)."""

    def __init__(self, path, mode, err):
        self._f = open(path, mode)
        self._err = err

    def write(self, data):
        self._f.write(data[: len(data) // 2])
        self._f.flush()
        raise _raise(self._err)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def failing_writes(err: int):
    def fault(mp: pytest.MonkeyPatch, tmp: Path) -> None:
        import analysis.data.atomic as atomic

        mp.setattr(atomic, "open", lambda p, m="r", *a, **k: _FailingFile(p, m, err), raising=False)

    return fault


def failing_parquet(err: int, after: int = 2):
    """``data/processed`` in tmp; the ``after+1``-th parquet write fails half-way."""

    def fault(mp: pytest.MonkeyPatch, tmp: Path) -> None:
        from analysis.data import paths

        mp.setattr(paths, "PROCESSED_DIR", tmp / "processed")
        real = pd.DataFrame.to_parquet
        calls = {"n": 0}

        def to_parquet(self, path, *a, **k):
            calls["n"] += 1
            if calls["n"] > after:
                Path(path).write_bytes(b"PAR1 partial")
                raise _raise(err)
            return real(self, path, *a, **k)

        mp.setattr(pd.DataFrame, "to_parquet", to_parquet)

    return fault


def swallowed_sigint(mp: pytest.MonkeyPatch, tmp: Path) -> None:
    """A stage that receives Ctrl-C and swallows it (as a kernel client may)."""
    from analysis import pipeline

    def stage() -> None:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)
        except KeyboardInterrupt:
            pass

    mp.setitem(pipeline._RUNNERS, "data", stage)


def tiny_notebooks(body: str):
    """``notebooks/`` and ``build/`` in tmp, with one small notebook."""

    def fault(mp: pytest.MonkeyPatch, tmp: Path) -> None:
        import jupytext

        from analysis import pipeline

        nb_dir = tmp / "notebooks"
        nb_dir.mkdir()
        nb = jupytext.reads(body, fmt="py:percent")
        jupytext.write(nb, nb_dir / "01_tiny.ipynb")
        mp.setattr(pipeline, "NOTEBOOKS_DIR", nb_dir)
        mp.setattr(pipeline, "BUILD_DIR", tmp / "build")

    return fault


FIGURE_NB = """# %% [markdown]
# Data layer: synthetic (a test notebook).

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(3, 2))
ax.plot([0, 1], [0, 1])
print("ran")
"""
FAILING_NB = FIGURE_NB + '\n# %%\nraise ValueError("cell two fails")\n'


def same_bytes_twice(tmp: Path, first: str) -> None:
    """Class 12: a second run gives the same bytes, with the figure embedded."""
    out = tmp / "build" / "notebooks" / "01_tiny.ipynb"
    a = out.read_bytes()
    assert b'"image/png"' in a and b"<Figure size" not in a
    r = run(["reproduce", "--stage", "notebooks"], cwd=tmp)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == a


def no_notebook_left(tmp: Path, first: str) -> None:
    assert not list((tmp / "build").rglob("*.ipynb")), "partly executed notebook left behind"


# ------------------------------------------------------------------ the table
@dataclass(frozen=True)
class Case:
    id: str
    args: Callable[[Path], list[str]]
    needle: str
    code: int = 2
    fault: Callable[[pytest.MonkeyPatch, Path], None] | None = None
    check: Callable[[Path, str], None] | None = None
    one_line: bool = True
    marks: tuple = field(default_factory=tuple)


CASES: list[Case] = [
    # 1. duplicated column names
    *[
        Case(f"01-dup-columns-{m}", estimate(m, dup_columns), "duplicated column name")
        for m in METHODS
    ],
    Case(
        "01-dup-columns-data-check",
        lambda tmp: ["data", "check", str(dup_columns(tmp))],
        "duplicated column name",
    ),
    # 2. inf in the outcome
    *[
        Case(
            f"02-inf-outcome-{m}", estimate(m, lambda t: mpdta(t, edit=with_inf)), "infinite value"
        )
        for m in METHODS
    ],
    # 3. extreme scales of the outcome
    *[
        Case(
            f"03-scale-{s:g}-{m}",
            estimate(m, lambda t, s=s: mpdta(t, edit=lambda d: d.assign(lemp=d["lemp"] * s))),
            "rescale it",
        )
        for s in (1e300, 1e-300)
        for m in METHODS
    ],
    # 4. a single cluster
    *[
        Case(
            f"04-one-cluster-{m}",
            estimate(m, lambda t: mpdta(t, edit=lambda d: d.assign(cl=1)), "--cluster", "cl"),
            "need at least 2",
        )
        for m in ("twfe", "event", "cs", "sa", "bjs", "gardner")
    ],
    # 5. bounds on draws
    Case(
        "05-draws-ri",
        estimate("twfe", mpdta, "--inference", "ri", "--draws", "2000000000"),
        "limit of 1,000,000",
    ),
    Case(
        "05-draws-wild",
        estimate("twfe", mpdta, "--inference", "wild", "--draws", "2000000000"),
        "limit of 1,000,000",
    ),
    Case(
        "05-draws-zero",
        estimate("twfe", mpdta, "--inference", "ri", "--draws", "0"),
        "positive number",
    ),
    Case("05-bootstrap", estimate("cs", mpdta, "--bootstrap", "2000000000"), "limit of 100,000"),
    # 6. negative seed
    Case(
        "06-seed-negative-ri",
        estimate("twfe", mpdta, "--inference", "ri", "--seed", "-1"),
        "non-negative",
    ),
    # 7. --output that cannot be written
    Case(
        "07-output-is-folder",
        lambda tmp: estimate("twfe", mpdta, "--output", str(tmp))(tmp),
        "is a folder",
    ),
    Case(
        "07-output-read-only-folder",
        lambda tmp: estimate("twfe", mpdta, "--output", str(tmp / "ro" / "out.json"))(tmp),
        "cannot write",
        fault=deny_folder,
    ),
    Case(
        "07-output-permission-denied-on-write",
        lambda tmp: estimate("twfe", mpdta, "--output", str(tmp / "out.json"))(tmp),
        "Permission denied",
        fault=failing_writes(errno.EACCES),
    ),
    # 8. read-only data/processed
    Case(
        "08-data-build-read-only",
        lambda tmp: ["data", "build"],
        "Permission denied",
        fault=failing_parquet(errno.EACCES, after=0),
    ),
    # 9. disk full
    Case(
        "09-reproduce-data-disk-full",
        lambda tmp: ["reproduce", "--stage", "data"],
        "No space left",
        fault=failing_parquet(errno.ENOSPC),
    ),
    Case(
        "09-estimate-output-disk-full",
        lambda tmp: estimate("twfe", mpdta, "--output", str(tmp / "out.json"))(tmp),
        "No space left",
        fault=failing_writes(errno.ENOSPC),
    ),
    # 10. data check: empty panel, non-integer year, very wide file
    Case(
        "10-check-empty-panel",
        panel_file([], ["code", "year", "population"]),
        "no rows",
        one_line=False,
    ),
    Case(
        "10-check-fractional-year",
        panel_file([{"code": 330127, "year": 2019.7, "population": 33.0}]),
        "non-integer",
        one_line=False,
    ),
    Case("10-check-wide-file", panel_file(None, n_wide=20_000), "20,002 columns", one_line=False),
    # 11. Ctrl-C that a stage swallows; a notebook failing half-way
    Case(
        "11-sigint-swallowed-in-reproduce",
        lambda tmp: ["reproduce", "--stage", "data"],
        "interrupted",
        code=130,
        fault=swallowed_sigint,
    ),
    Case(
        "11-notebook-fails-half-way",
        lambda tmp: ["reproduce", "--stage", "notebooks"],
        "cell two fails",
        code=1,
        fault=tiny_notebooks(FAILING_NB),
        check=no_notebook_left,
        marks=(pytest.mark.notebook,),
    ),
    # 12. executed notebooks are byte-identical between runs and embed their figures
    Case(
        "12-notebook-same-bytes",
        lambda tmp: ["reproduce", "--stage", "notebooks"],
        "",
        code=0,
        fault=tiny_notebooks(FIGURE_NB),
        check=same_bytes_twice,
        marks=(pytest.mark.notebook,),
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_fault_ends_cleanly(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    args = case.args(tmp_path)
    if case.fault is not None:
        case.fault(monkeypatch, tmp_path)
    inputs = {p for p in tmp_path.rglob("*") if p.is_file()}
    r = run(args, cwd=tmp_path)
    assert r.returncode == case.code, r.stderr
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    if case.code:
        assert case.needle in r.stderr, r.stderr
        errors = [ln for ln in lines if ": error: " in ln or ln.startswith("enclave: interrupted")]
        assert len(errors) == 1, r.stderr
        if case.one_line:
            assert len(lines) == 1, r.stderr
        assert all(ln.startswith("enclave") for ln in lines), r.stderr
        # nothing half-written: no new file at all (temporary or partial) after a failure
        new = {p for p in tmp_path.rglob("*") if p.is_file()} - inputs
        assert not new, sorted(map(str, new))
    if case.check is not None:
        case.check(tmp_path, r.stdout)


def test_sigint_during_estimate_exits_130_with_one_line_and_no_output(tmp_path):
    """Class 11: Ctrl-C in the middle of a long run (a real signal, a real process)."""
    out = tmp_path / "out.json"
    cmd = [str(Path(sys.executable).with_name("enclave")), "estimate", "--data", str(MPDTA), *COLS]
    cmd += ["--method", "twfe", "--inference", "ri", "--draws", "1000000", "--output", str(out)]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "CI": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(3.0)
    assert proc.poll() is None, "the run ended before the interrupt"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [
        "enclave: interrupted (Ctrl-C); nothing half-written was left behind"
    ], err
    assert list(tmp_path.iterdir()) == []


def test_extreme_but_representable_scales_give_the_scaled_result():
    """Class 3, the other side of the bound: 1e50 x the outcome gives 1e50 x the answer."""
    import json

    base = run(["estimate", "--data", str(MPDTA), *COLS, "--method", "sa", "--json"])
    assert base.returncode == 0, base.stderr
    b = json.loads(base.stdout)["aggregates"]["simple"]
    for s in (1e50, 1e-50):
        d = pd.read_csv(MPDTA).assign(lemp=lambda x, s=s: x["lemp"] * s)
        import tempfile

        with tempfile.TemporaryDirectory() as td:
            p = Path(td) / "scaled.csv"
            d.to_csv(p, index=False)
            r = run(["estimate", "--data", str(p), *COLS, "--method", "sa", "--json"])
        assert r.returncode == 0, r.stderr
        a = json.loads(r.stdout)["aggregates"]["simple"]
        assert a["att"] / s == pytest.approx(b["att"], rel=1e-9)
        assert a["se"] / s == pytest.approx(b["se"], rel=1e-9)
