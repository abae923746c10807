"""The tolerant comparison of re-run outputs with the committed ones (.ci/run step 3)."""

from __future__ import annotations

import io
import subprocess

import matplotlib.pyplot as plt

from analysis.report import committed as C


def test_last_digit_flips_are_within_tolerance_and_real_changes_are_not():
    old = "a,b\n0.00648644338737,9.76872269466e-48\nx,2\n"
    flip = "a,b\n0.00648644338738,9.76872269327e-48\nx,2\n"  # seen between two CPUs
    d = C.compare_text(old, flip)
    assert d.ok and d.n_numbers == 2 and d.max_rel < 1e-9
    assert not C.compare_text(old, old.replace("0.00648644338737", "0.00648654338737")).ok
    assert not C.compare_text(old, old.replace("x", "y")).ok  # text must be identical
    assert not C.compare_text(old, old + "3\n").ok  # a number more
    assert C.compare_text("0.0 1e-13", "1e-13 0.0").ok  # absolute floor 1e-12


def _png(shift: float = 0.0, extra: bool = False) -> bytes:
    fig, ax = plt.subplots(figsize=(3, 2), dpi=100)
    ax.plot([0, 1], [0, 1 + shift])
    if extra:
        ax.plot([0.2], [0.8], "o")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def test_figures_compare_by_pixels():
    base = _png()
    assert C.compare_png(base, _png(1e-13)).ok  # a last-bit change moves no pixel
    assert not C.compare_png(base, _png(extra=True)).ok  # a marker more


def test_worktree_check_restores_files_within_tolerance(tmp_path):
    def git(*a):
        subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@t")
    git("config", "user.name", "t")
    (tmp_path / "t.csv").write_text("v\n0.00648644338737\n")
    (tmp_path / "u.csv").write_text("v\n1.5\n")
    git("add", ".")
    git("commit", "-qm", "x")
    (tmp_path / "t.csv").write_text("v\n0.00648644338738\n")
    (tmp_path / "u.csv").write_text("v\n1.6\n")
    out = {d.path: d for d in C.check_worktree(tmp_path, restore=True)}
    assert out["t.csv"].ok and not out["u.csv"].ok
    assert (tmp_path / "t.csv").read_text() == "v\n0.00648644338737\n"  # restored
    assert (tmp_path / "u.csv").read_text() == "v\n1.6\n"  # left for the diff to show
    assert C.main(["--repo", str(tmp_path)]) == 1
