"""Committed outputs against a fresh ``make reproduce``, with a stated tolerance.

Committed tables and ``paper/numbers.json`` carry floats at
:data:`~analysis.report.tables.COMMITTED_SIG_DIGITS` (12) significant digits.
On the same machine a re-run gives the same bytes. On another CPU or BLAS
kernel the last bits of a sum differ, and at 12 digits a number lying close to
a rounding boundary flips its last digit (measured between two machines of
this project: a dozen of several thousand committed numbers, all below
``1e-10`` relative; a tail p-value such as ``9.8e-48`` moves by ``1.4e-10``
relative). Fewer digits would make such flips rarer, never impossible.

So the check that a fresh reproduce leaves the committed outputs alone compares
*numbers with a tolerance* and everything else exactly:

* text outputs (``.csv``, ``.md``, ``.tex``, ``.html``, ``.json``, ``.txt``,
  ``.bib``): both versions are split into numeric tokens and the text between
  them; the text must be identical and each pair of numbers must satisfy
  ``|a - b| <= max(rel_tol * max(|a|, |b|), abs_tol)`` (defaults ``1e-8`` and
  ``1e-12``: two orders above the largest drift measured, far below any digit
  a reader sees);
* figures (``.png``): the decoded images must have the same size and differ in
  at most ``PNG_PIXEL_SHARE`` (1e-5) of their pixels. A last-bit change of a
  plotted value can move an anti-aliased edge across a rounding boundary of the
  8-bit colour (measured: 8 pixels at two corners of an axes frame in a
  2166 x 1961 figure, 1.9e-6 of it); a real change of content (a marker, a
  label, a line) changes far more;
* any other file: identical bytes.

A file that differs only within tolerance is restored to its committed bytes
(``--restore``), so the working tree is clean afterwards; anything beyond
tolerance is reported with its first differing token and fails the check.
Run by ``.ci/run`` after ``make reproduce``.
"""

from __future__ import annotations

import argparse
import io
import math
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Drift", "compare_text", "compare_png", "check_worktree", "main"]

REL_TOL = 1e-8
ABS_TOL = 1e-12
PNG_PIXEL_SHARE = 1e-5
TEXT_SUFFIXES = frozenset({".csv", ".md", ".tex", ".html", ".json", ".txt", ".bib"})

# a number: optional sign, digits with an optional fraction (or a bare fraction),
# optional exponent; also nan/inf as written by pandas / json
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Drift:
    """Outcome for one changed file: ``ok`` (within tolerance), ``max_rel`` the
    largest relative difference of a number, ``n_numbers`` how many numbers
    differed, ``problem`` the first difference beyond tolerance (or ``""``)."""

    path: str
    ok: bool
    n_numbers: int
    max_rel: float
    problem: str = ""


def _split(text: str) -> tuple[list[str], list[str]]:
    numbers = _NUMBER.findall(text)
    between = _NUMBER.split(text)
    return between, numbers


def compare_text(
    old: str, new: str, path: str = "", rel_tol: float = REL_TOL, abs_tol: float = ABS_TOL
) -> Drift:
    """Compare two versions of a text output: same text between the numbers,
    numbers within tolerance."""
    ob, on = _split(old)
    nb, nn = _split(new)
    if len(on) != len(nn) or ob != nb:
        for a, b in zip(ob, nb, strict=False):
            if a != b:
                return Drift(path, False, 0, math.inf, f"text differs: {a[:60]!r} vs {b[:60]!r}")
        return Drift(path, False, 0, math.inf, f"{len(on)} vs {len(nn)} numbers")
    n, worst = 0, 0.0
    for a_s, b_s in zip(on, nn, strict=True):
        if a_s == b_s:
            continue
        a, b = float(a_s), float(b_s)
        diff = abs(a - b)
        scale = max(abs(a), abs(b))
        rel = diff / scale if scale > 0 else 0.0
        n += 1
        worst = max(worst, rel)
        if diff > max(rel_tol * scale, abs_tol):
            return Drift(path, False, n, rel, f"number {a_s} vs {b_s} (relative {rel:.1e})")
    return Drift(path, True, n, worst)


def compare_png(old: bytes, new: bytes, path: str = "") -> Drift:
    """Compare two PNG files by their decoded pixels."""
    import matplotlib.image as mpimg
    import numpy as np

    a = mpimg.imread(io.BytesIO(old), format="png")
    b = mpimg.imread(io.BytesIO(new), format="png")
    if a.shape != b.shape:
        return Drift(path, False, 0, math.inf, f"image size {a.shape} vs {b.shape}")
    n = int(np.count_nonzero(np.any(a != b, axis=-1) if a.ndim == 3 else a != b))
    share = n / (a.shape[0] * a.shape[1])
    if share > PNG_PIXEL_SHARE:
        return Drift(path, False, n, share, f"{n} pixels differ ({share:.1e} of the image)")
    return Drift(path, True, n, share)


def _git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True).stdout


def check_worktree(
    repo: Path, rel_tol: float = REL_TOL, abs_tol: float = ABS_TOL, restore: bool = False
) -> list[Drift]:
    """Every tracked file that differs from ``HEAD``, compared as above; with
    ``restore`` the files within tolerance get their committed bytes back."""
    names = _git(repo, "diff", "--name-only", "-z", "HEAD").decode().split("\0")
    out = []
    for name in filter(None, names):
        path = repo / name
        if not path.exists():
            out.append(Drift(name, False, 0, math.inf, "deleted"))
            continue
        old = _git(repo, "show", f"HEAD:{name}")
        new = path.read_bytes()
        suffix = path.suffix.lower()
        if suffix in TEXT_SUFFIXES:
            d = compare_text(old.decode("utf-8"), new.decode("utf-8"), name, rel_tol, abs_tol)
        elif suffix == ".png":
            d = compare_png(old, new, name)
        else:
            d = Drift(name, old == new, 0, 0.0, "" if old == new else "bytes differ")
        if d.ok and restore:
            path.write_bytes(old)
        out.append(d)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m analysis.report.committed",
        description="compare outputs rewritten by `make reproduce` with the committed ones",
    )
    p.add_argument("--repo", type=Path, default=Path.cwd(), help="repository (default: .)")
    p.add_argument("--rel-tol", type=float, default=REL_TOL, help=f"default {REL_TOL:g}")
    p.add_argument("--abs-tol", type=float, default=ABS_TOL, help=f"default {ABS_TOL:g}")
    p.add_argument(
        "--restore", action="store_true", help="give files within tolerance their committed bytes"
    )
    a = p.parse_args(argv)
    drifts = check_worktree(a.repo, a.rel_tol, a.abs_tol, a.restore)
    bad = [d for d in drifts if not d.ok]
    for d in drifts:
        if d.ok:
            print(
                f"committed: {d.path}: {d.n_numbers} number(s) within tolerance "
                f"(max relative {d.max_rel:.1e})" + ("; restored" if a.restore else "")
            )
        else:
            print(f"committed: {d.path}: {d.problem}", file=sys.stderr)
    if bad:
        print(
            f"committed: {len(bad)} file(s) differ beyond rel {a.rel_tol:g} / abs {a.abs_tol:g}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
