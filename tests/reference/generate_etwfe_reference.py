"""Extract the stored R ``etwfe`` outputs into ``tests/reference/etwfe_r.json``.

Source: grantmcdermott/etwfe (GitHub) @ 2b47cfdf61b90140c8372574eece4ad6d43d37f9
(CRAN v0.6.2 submission), files ``inst/tinytest/test_etwfe.R`` (``fixest::coeftable()``
of ``etwfe(...)`` on ``did::mpdta``, dput at full precision) and
``inst/tinytest/test_emfx.R`` (``emfx(...)`` results, dput at full precision).
The R calls are copied verbatim into the JSON (``calls``). The numbers are those
printed by R (etwfe + fixest + marginaleffects); nothing is recomputed here.

Run with the path of a checkout of the etwfe repository::

    python tests/reference/generate_etwfe_reference.py /path/to/etwfe
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

COMMIT = "2b47cfdf61b90140c8372574eece4ad6d43d37f9"
NUM = r"-?\d+(?:\.\d+)?(?:e-?\d+)?|NA"


def _show(repo: Path, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo), "show", f"{COMMIT}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _block(text: str, name: str) -> str:
    start = text.index(f"{name} = structure(")
    depth, i = 0, text.index("(", start)
    for j in range(i, len(text)):
        depth += {"(": 1, ")": -1}.get(text[j], 0)
        if depth == 0:
            return text[i : j + 1]
    raise ValueError(name)


def _vec(block: str, field: str) -> list:
    rng = re.search(rf"\b{re.escape(field)} = (\d+):(\d+)", block)  # R's a:b
    if rng:
        return [float(v) for v in range(int(rng.group(1)), int(rng.group(2)) + 1)]
    m = re.search(rf"\b{re.escape(field)} = (c\(([^)]*)\)|(" + NUM + "))", block)
    raw = m.group(2) if m.group(2) is not None else m.group(3)
    return [None if v == "NA" else float(v) for v in re.findall(NUM, raw)]


def coeftable(text: str, name: str) -> dict:
    b = _block(text, name)
    vals = [float(v) for v in re.findall(NUM, b[: b.index("dim =")])]
    k = int(re.search(r"dim = c\((\d+)L", b).group(1))
    terms = re.findall(r'"([^"]+)"', b[b.index("dimnames") :])[:k]
    return {
        "term": terms,
        "estimate": vals[:k],
        "std_error": vals[k : 2 * k],
    }


def emfx(text: str, name: str, key: str | None) -> dict:
    b = _block(text, name)
    out = {"estimate": _vec(b, "estimate"), "std_error": _vec(b, "std.error")}
    if key:
        out[key] = _vec(b, key)
    return out


def main(repo: str) -> None:
    git = Path(repo) / ".git" if (Path(repo) / ".git").exists() else Path(repo)
    te = _show(git, "inst/tinytest/test_etwfe.R")
    tm = _show(git, "inst/tinytest/test_emfx.R")
    out = {
        "source": f"github.com/grantmcdermott/etwfe @ {COMMIT}",
        "files": ["inst/tinytest/test_etwfe.R", "inst/tinytest/test_emfx.R"],
        "dataset": "did::mpdta (data/raw/external/mpdta.csv)",
        "r_tolerance": "test_etwfe.R: expect_equal (1.5e-8 relative); test_emfx.R: tol = 5e-4",
        "calls": {
            "m1": "etwfe(lemp ~ 0, tvar = year, gvar = first.treat, data = mpdta, vcov = ~countyreal)",
            "m2": 'etwfe(lemp ~ 0, tvar = year, gvar = first.treat, data = mpdta, vcov = ~countyreal, cgroup = "never")',
            "m3": "etwfe(lemp ~ lpop, tvar = year, gvar = first.treat, data = mpdta, vcov = ~countyreal)",
            "m3n": 'etwfe(lemp ~ lpop, tvar = year, gvar = first.treat, data = mpdta, cgroup = "never", vcov = ~countyreal)',
            "simple": 'emfx(m3, type = "simple")',
            "group": 'emfx(m3, type = "group")',
            "calendar": 'emfx(m3, type = "calendar")',
            "event": 'emfx(m3, type = "event")',
            "event_never_window": 'emfx(m3n, type = "event", window = c(2, 3))',
        },
        "coeftable": {m: coeftable(te, f"{m}_known") for m in ("m1", "m2", "m3")},
        "emfx": {
            "simple": emfx(tm, "simple_known", None),
            "group": emfx(tm, "group_known", "first.treat"),
            "calendar": emfx(tm, "calendar_known", "year"),
            "event": emfx(tm, "event_known", "event"),
            "event_never_window": emfx(tm, "event_never_window_known", "event"),
        },
    }
    dest = Path(__file__).with_name("etwfe_r.json")
    dest.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
