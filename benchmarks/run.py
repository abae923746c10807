"""Benchmark our estimators against peer packages on seeded synthetic panels.

Usage (``make bench`` runs the first line)::

    .venv/bin/python benchmarks/run.py                      # N = 1k, 10k, 100k
    .venv/bin/python benchmarks/run.py --quick              # N = 1k, 10k; 1 repeat
    .venv/bin/python benchmarks/run.py --sizes 1000 --estimators cs,twfe

Every (estimator, N, implementation) runs in a fresh child process of this
script (``--child``), so that one implementation's imports, caches and freed
but unreturned memory cannot affect another's numbers.  The child

1. imports the implementation and loads the panel (parquet written by the parent);
2. formats the input the way the package wants it (untimed);
3. warms up once on the first 200 units (imports inside the package, JIT);
4. for each repeat: ``gc.collect()``, resets the kernel's peak-RSS mark
   (``/proc/self/clear_refs``), times the estimator call with
   ``time.perf_counter`` and reads the new peak (``VmHWM``).

Reported per row: median wall time over repeats, peak resident memory of the
process during the call ("process peak": interpreter + libraries + data + the
estimator's working set) and the increment of that peak over the resident size
just before the call ("working memory"), the overall ATT (or TWFE coefficient)
and its SE, and the largest absolute difference from ours in the same run.
The results go to ``benchmarks/RESULTS.md`` and ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import importlib.metadata as md
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import peers  # noqa: E402

N_PERIODS = 20
COHORTS = (4, 7, 10, 13, 16)  # five cohorts spread over periods 2..20
BASE_EFFECT = (1.0, 1.5, 2.0, 2.5, 3.0)
NEVER_SHARE = 0.3
SEED = 20240601
TOL = 1e-8
MB = 1024.0 * 1024.0


# ------------------------------------------------------------------ child process
def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def child(args: argparse.Namespace) -> None:
    import pandas as pd

    prepare, run = peers.CASES[args.estimator][args.impl]
    df = pd.read_parquet(args.data)
    small = df[df[peers.UNIT] <= df[peers.UNIT].min() + 199].reset_index(drop=True)
    x_small = prepare(small)
    run(x_small)  # warm-up: lazy imports, JIT compilation, first-call caches
    del x_small, small
    x = prepare(df)
    del df
    times, cpu, work, peak = [], [], [], []
    can_reset = True
    out: dict = {}
    for _ in range(args.repeats):
        out = {}
        gc.collect()
        can_reset = _reset_peak() and can_reset
        rss0 = _status_kb("VmRSS")
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = run(x)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        hwm = _status_kb("VmHWM")
        peak.append(hwm / 1024.0)
        work.append(max(hwm - rss0, 0) / 1024.0)
    extra = {}
    if args.impl == "ours" and args.estimator in peers.OURS_SE_FOR_PEER:
        for peer_name, fn in peers.OURS_SE_FOR_PEER[args.estimator].items():
            extra[peer_name] = fn(x)  # untimed: our SE under the peer's convention
    res = {
        "times": times,
        "cpu": cpu,
        "work_mb": work,
        "peak_mb": peak,
        "peak_reset": can_reset,
        "att": out.get("att"),
        "se": out.get("se"),
        "vec": out.get("vec") or {},
        "se_for_peer": extra,
    }
    Path(args.result).write_text(json.dumps(res))


# ----------------------------------------------------------------- parent process
def machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = int(line.split()[1]) / MB
    except OSError:
        pass
    vers = {}
    for p in peers.PACKAGES + ["enclave-analysis"]:
        try:
            vers[p] = md.version(p)
        except md.PackageNotFoundError:
            vers[p] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "analysis"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        commit += " (analysis/ modified)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    blas = ""
    try:
        import numpy as np

        cfg = np.show_config(mode="dicts")
        b = cfg.get("Build Dependencies", {}).get("blas", {})
        blas = f"{b.get('name', '?')} {b.get('version', '')}".strip()
    except Exception:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "blas": blas,
        "versions": vers,
        "commit": commit,
        "env": {
            k: os.environ[k]
            for k in (
                "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS",
                "OPENBLAS_CORETYPE",
                "RAYON_NUM_THREADS",
                "POLARS_MAX_THREADS",
                "NUMBA_NUM_THREADS",
            )
            if k in os.environ
        },
    }


def make_panel(n: int, path: Path) -> dict:
    from analysis.data.simulate import simulate_staggered

    sim = simulate_staggered(
        n_units=n,
        n_periods=N_PERIODS,
        cohorts=COHORTS,
        never_share=NEVER_SHARE,
        base_effect=BASE_EFFECT,
        seed=SEED,
    )
    sim.data.to_parquet(path)
    counts = sim.data.drop_duplicates("unit")["cohort"].value_counts().sort_index()
    return {
        "rows": len(sim.data),
        "true_simple": sim.true_simple(),
        "units_by_cohort": {int(k): int(v) for k, v in counts.items()},
    }


def _watch(cmd: list[str], env: dict, timeout: float, mem_limit_mb: float) -> str | None:
    """Run ``cmd``; kill it past ``timeout`` seconds or ``mem_limit_mb`` of resident memory
    (so a peer that explodes cannot push the machine into the OOM killer).  Returns a
    status string when it had to be killed, else ``None`` (result in ``_watch.last``)."""
    import psutil

    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True, env=env)
        ps = psutil.Process(proc.pid)
        t0 = time.perf_counter()
        killed = None
        while proc.poll() is None:
            try:
                rss = ps.memory_info().rss / MB
            except psutil.Error:
                rss = 0.0
            if rss > mem_limit_mb:
                killed = f"failed: resident memory above the {mem_limit_mb:,.0f} MB guard"
            elif time.perf_counter() - t0 > timeout:
                killed = f"timeout (> {timeout:.0f} s)"
            if killed:
                proc.kill()
                proc.wait()
                return killed
            time.sleep(0.1)
        err.seek(0)
        _watch.last = subprocess.CompletedProcess(cmd, proc.returncode, "", err.read())  # type: ignore[attr-defined]
    return None


def run_child(
    est: str,
    impl: str,
    data: Path,
    repeats: int,
    timeout: float,
    python: str,
    tmp: Path,
    mem_limit_mb: float,
) -> dict:
    res_path = tmp / f"{est}-{impl}-{data.stem}.json"
    cmd = [
        python,
        str(Path(__file__).resolve()),
        "--child",
        "--estimator",
        est,
        "--impl",
        impl,
        "--data",
        str(data),
        "--repeats",
        str(repeats),
        "--result",
        str(res_path),
    ]
    env = dict(os.environ, PYTHONHASHSEED="0", CI=os.environ.get("CI", "1"))
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    status = _watch(cmd, env, timeout, mem_limit_mb)
    if status is not None:
        return {"status": status, "load": [load0, os.getloadavg()[0]]}
    p = _watch.last  # type: ignore[attr-defined]
    wall = time.perf_counter() - t0
    if p.returncode != 0 or not res_path.exists():
        lines = [ln for ln in (p.stderr or "").strip().splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"exit status {p.returncode}"
        if p.returncode < 0:
            reason = f"killed by signal {-p.returncode}"
        if "No module named" in reason:
            return {
                "status": f"not installed ({reason.split('No module named')[-1].strip()}; "
                "install the `bench` extra)"
            }
        return {"status": f"failed: {reason[:200]}", "child_wall": wall}
    r = json.loads(res_path.read_text())
    r["status"] = "ok"
    r["child_wall"] = wall
    r["load"] = [load0, os.getloadavg()[0]]
    return r


def compare(rows: dict[str, dict]) -> None:
    """Fill |diff| vs ours (same N, same run) into each peer row."""
    ours = rows.get("ours")
    for name, r in rows.items():
        if name == "ours" or r.get("status") != "ok" or not ours or ours.get("status") != "ok":
            continue
        r["d_att"] = abs(r["att"] - ours["att"])
        se_ref = ours.get("se_for_peer", {}).get(name, ours.get("se"))
        r["d_se"] = None if (r.get("se") is None or se_ref is None) else abs(r["se"] - se_ref)
        common = sorted(set(r.get("vec", {})) & set(ours.get("vec", {})))
        r["n_vec"] = len(common)
        r["d_vec"] = max((abs(r["vec"][k] - ours["vec"][k]) for k in common), default=None)


def summarise(rows: dict[str, dict]) -> None:
    for r in rows.values():
        if r.get("status") == "ok":
            r["time"] = statistics.median(r["times"])
            r["cpu_time"] = statistics.median(r["cpu"])
            r["work"] = max(r["work_mb"])
            r["peak"] = max(r["peak_mb"])
    peers_ok = {
        k: r
        for k, r in rows.items()
        if k != "ours" and k not in peers.BOUNDS and r.get("status") == "ok"
    }
    if not peers_ok:
        return
    fastest = min(peers_ok, key=lambda k: peers_ok[k]["time"])
    f = peers_ok[fastest]
    for r in rows.values():
        r["fastest_peer"] = fastest
        if r.get("status") == "ok":
            r["r_time"] = r["time"] / f["time"]
            r["r_work"] = r["work"] / f["work"] if f["work"] > 0 else math.nan
            r["r_peak"] = r["peak"] / f["peak"]


# ---------------------------------------------------------------------- reporting
def _fmt_t(x):
    return "—" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")


def _fmt_m(x):
    return "—" if x is None else f"{x:,.0f}"


def _fmt_r(x):
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def _fmt_se(x):
    return "—" if x is None else f"{x:.6f}"


def _fmt_d(x):
    return "—" if x is None else f"{x:.1e}"


TARGETS = [
    # (estimator, description, metric, threshold)
    ("cs", "CS dr, analytic SEs, all aggregations: time ≤ 1/3 of fastest peer", "r_time", 1 / 3),
    ("cs", "CS dr, analytic SEs: working memory ≤ 1/2 of fastest peer's", "r_work", 1 / 2),
    ("cs", "CS dr, analytic SEs: within 1.3× of a minimal numpy implementation", "vs_numpy", 1.3),
    ("cs_boot", "CS dr, 999 bootstrap draws: time ≤ 1/3 of fastest peer", "r_time", 1 / 3),
    ("sa", "Sun–Abraham: time ≤ 1/10 of fastest peer", "r_time", 1 / 10),
    ("sa", "Sun–Abraham: process peak < 2 GB", "peak", 2048),
    ("bjs", "BJS imputation: time ≤ 1/2 of fastest peer", "r_time", 1 / 2),
    ("gardner", "Gardner: wall time < 10 s", "time", 10.0),
    ("gardner", "Gardner: process peak < 2 GB", "peak", 2048),
    ("twfe", "TWFE, CRV1: no slower than pyfixest", "vs_pyfixest", 1.0),
]


def write_results(path: Path, results: dict, meta: dict, cmd: str) -> None:
    L: list[str] = []
    m = meta["machine"]
    L += [
        "# Benchmark results",
        "",
        "Generated by `benchmarks/run.py` — do not edit by hand. "
        "Synthetic data only (seeded `simulate_staggered`); nothing here is about Zhejiang.",
        "",
        f"- **Command:** `{cmd}`",
        f"- **Date:** {meta['date']}  (total run time {meta['elapsed'] / 60:.1f} min)",
        f"- **Machine:** {m['cpu']}, {m['cores']} cores, {m['ram_gb']:.1f} GB RAM; "
        f"{m['platform']}; BLAS: {m['blas'] or 'unknown'}"
        + (f"; env {m['env']}" if m["env"] else ""),
        f"- **Python** {m['python']}; our package at commit {m['commit']}",
        f"- **Machine load** (1-min load average when each row started / ended): "
        f"{meta['load_desc']}",
        "- **Packages:** " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- **Data:** balanced panel, {N_PERIODS} periods, cohorts {list(COHORTS)} plus "
        f"never-treated (share {NEVER_SHARE}), effects {list(BASE_EFFECT)} on impact "
        f"+0.5 per period of exposure, seed {SEED}.",
        f"- **Repeats:** {meta['repeats_desc']}; time = median wall time of the "
        "estimator call after a warm-up on 200 units, in a fresh process per row.",
        "- **Memory:** *work* = peak RSS during the call minus RSS just before it (the "
        "estimator's working set); *peak* = peak RSS of the whole process during the "
        "call (interpreter, libraries, data and the estimator's working set). MB = 2^20 bytes.",
        "- **Ratios** are to the fastest peer at that N (time, work, peak). "
        f"**|ΔATT|, |ΔSE|** are absolute differences from ours in the same run "
        f"(tolerance {TOL:g}); *max |Δ| fine* is the largest difference over the finer "
        "estimates both report (group-time ATTs, event-time and cohort aggregates), with "
        "their count. Bootstrap SEs are not compared (different random draws).",
        "",
    ]
    # targets
    L += [
        "## Targets (at the largest N run)",
        "",
        "| target | N | measured | threshold | fastest peer | verdict |",
        "|---|---:|---:|---:|---|---|",
    ]
    for est, desc, metric, thr in TARGETS:
        if est not in results:
            continue
        n = max(results[est], key=int)
        rows = results[est][n]
        o = rows.get("ours", {})
        fp = o.get("fastest_peer", "—")
        if o.get("status") != "ok":
            L.append(f"| {desc} | {int(n):,} | ours {o.get('status', 'not run')} | | | not met |")
            continue
        if metric == "vs_numpy":
            nm = rows.get("numpy-minimal", {})
            if nm.get("status") != "ok":
                L.append(f"| {desc} | {int(n):,} | numpy-minimal {nm.get('status')} | | | n/a |")
                continue
            val = o["time"] / nm["time"]
            shown = f"{val:.2f}× numpy ({o['time']:.3f} s vs {nm['time']:.3f} s)"
            thr_s, fp = f"≤ {thr:.2f}×", "numpy-minimal"
        elif metric == "vs_pyfixest":
            pf = rows.get("pyfixest", {})
            if pf.get("status") != "ok":
                L.append(f"| {desc} | {int(n):,} | pyfixest {pf.get('status')} | | | n/a |")
                continue
            val = o["time"] / pf["time"]
            shown = f"{val:.2f}× pyfixest ({o['time']:.2f} s vs {pf['time']:.2f} s)"
            thr_s, fp = "≤ 1.00×", "pyfixest"
        elif metric in ("r_time", "r_work"):
            val = o.get(metric)
            if val is None:
                L.append(f"| {desc} | {int(n):,} | no peer finished | | | n/a |")
                continue
            shown, thr_s = f"{val:.3f}", f"≤ {thr:.3f}"
        else:
            val = o[metric]
            shown = f"{val:,.2f} s" if metric == "time" else f"{val:,.0f} MB"
            thr_s = f"< {thr:g} s" if metric == "time" else f"< {thr:,.0f} MB"
        ok = val <= thr if metric != "peak" else val < thr
        agree = all(
            r.get("d_att") is None or r["d_att"] <= TOL for k, r in rows.items() if k != "ours"
        )
        verdict = ("**met**" if ok else "**not met**") + ("" if agree else " (estimates differ)")
        L.append(f"| {desc} | {int(n):,} | {shown} | {thr_s} | {fp} | {verdict} |")
    L.append("")
    # agreement summary
    bad = []
    for est, by_n in results.items():
        for n, rows in by_n.items():
            for k, r in rows.items():
                for key in ("d_att", "d_se", "d_vec"):
                    v = r.get(key)
                    if v is not None and v > TOL and not (key == "d_se" and est == "cs_boot"):
                        bad.append(
                            f"- {est}, N = {int(n):,}, {k}: {key[2:]} differs from ours by {v:.2e}"
                        )
    L += ["## Estimates that differ from ours by more than 1e-8", ""]
    L += bad or ["None."]
    L += [""] + [f"- {x}" for x in meta.get("notes", [])] + [""]
    ref = [
        (est, n, k, r["d_exact"])
        for est in ("bjs", "gardner")
        for n, rows in results.get(est, {}).items()
        for k, r in rows.items()
        if "d_exact" in r
    ]
    if ref:
        L += [
            "### Imputation estimates against a direct sparse solve",
            "",
            "BJS and Gardner's static coefficient are the same number: the mean over "
            "treated observations of y minus unit + time effects fitted on the untreated "
            "observations. `peers.exact_imputation_att` computes it by an exact sparse LU "
            "solve of the normal equations (no iteration, no tolerance).",
            "",
            "| estimator | N | implementation | abs diff from direct solve |",
            "|---|---:|---|---:|",
        ]
        L += [f"| {e} | {int(n):,} | {k} | {d:.1e} |" for e, n, k, d in ref]
        L.append("")
    # tables
    for est, by_n in results.items():
        L += [
            f"## {peers.TITLES.get(est, est)}",
            "",
            "| N | implementation | time (s) | min–max (s) | CPU (s) | work (MB) | peak (MB) "
            "| time ratio | work ratio | peak ratio | ATT | SE | abs ΔATT | abs ΔSE "
            "| max abs Δ fine (n) | status |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for n in sorted(by_n, key=int):
            for k, r in by_n[n].items():
                if r.get("status") != "ok":
                    L.append(f"| {int(n):,} | {k} |" + " |" * 13 + f" {r.get('status')} |")
                    continue
                se_d = (
                    "n/a (bootstrap)" if est == "cs_boot" and k != "ours" else _fmt_d(r.get("d_se"))
                )
                fine = "—" if r.get("d_vec") is None else f"{r['d_vec']:.1e} ({r['n_vec']})"
                L.append(
                    f"| {int(n):,} | {'**ours**' if k == 'ours' else k} | {_fmt_t(r['time'])} | "
                    f"{_fmt_t(min(r['times']))}–{_fmt_t(max(r['times']))} | {_fmt_t(r['cpu_time'])} | "
                    f"{_fmt_m(r['work'])} | "
                    f"{_fmt_m(r['peak'])} | {_fmt_r(r.get('r_time'))} | {_fmt_r(r.get('r_work'))} | "
                    f"{_fmt_r(r.get('r_peak'))} | {r['att']:.10f} | "
                    f"{_fmt_se(r['se'])} | {_fmt_d(r.get('d_att'))} | "
                    f"{se_d} | {fine} | ok |"
                )
        L.append("")
    path.write_text("\n".join(L))


#: code whose change during a run would make its rows incomparable
ESTIMATION_CODE = [
    "analysis/estimators",
    "analysis/inference",
    "analysis/data/simulate.py",
    "analysis/results.py",
]


def code_change_note(start: str, end: str) -> str:
    a, b = start.split()[0], end.split()[0]
    try:
        changed = subprocess.run(
            ["git", "-C", str(ROOT), "diff", "--name-only", a, b, "--", *ESTIMATION_CODE],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        changed = ["(unknown: git diff failed)"]
    if not changed:
        return f"{start} at the start, {end} at the end (no estimation code changed in between)"
    return (
        f"{start} at the start, {end} at the end — **estimation code changed during the "
        f"run** ({', '.join(changed)}): rows measured before and after are not comparable"
    )


def load_desc(results: dict) -> str:
    loads = [
        x
        for by_n in results.values()
        for rows in by_n.values()
        for r in rows.values()
        for x in r.get("load", [])
    ]
    if not loads:
        return "not recorded"
    cores = os.cpu_count() or 1
    s = f"min {min(loads):.2f}, median {statistics.median(loads):.2f}, max {max(loads):.2f}"
    s += " (the benchmark's own child process accounts for about 1)"
    if max(loads) > cores + 0.5:
        s += (
            f" — **the machine ({cores} cores) was busy with other work during part of the "
            "run; wall times of the affected rows are inflated (compare the CPU column)**"
        )
    return s


def parent(args: argparse.Namespace) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    ests = args.estimators.split(",") if args.estimators else list(peers.CASES)
    only = set(args.impls.split(",")) if args.impls else None
    cmd = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    try:
        cmd = " ".join(
            shlex.quote(a)
            for a in [
                os.path.relpath(sys.executable, Path.cwd()),
                os.path.relpath(Path(__file__).resolve(), Path.cwd()),
                *sys.argv[1:],
            ]
        )
    except ValueError:
        pass
    peer_python = args.peer_python or sys.executable
    t_start = time.perf_counter()
    commit_start = machine_info()["commit"]
    results: dict = {}
    notes: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="enclave-bench-"))
    panels = {}
    prev_time: dict[tuple[str, str], tuple[int, float]] = {}
    for n in sizes:
        data = tmp / f"panel_{n}.parquet"
        panels[n] = make_panel(n, data)
        reps = args.repeats or (3 if n <= 10_000 else args.repeats_large)
        print(f"== N = {n:,} units ({panels[n]['rows']:,} rows), {reps} repeat(s)", flush=True)
        for est in ests:
            rows: dict = {}
            for impl in peers.CASES[est]:
                if only and impl not in only and impl != "ours":
                    continue
                # skip a peer whose extrapolated time (linear in N) exceeds the budget
                if (est, impl) in prev_time:
                    n0, t0 = prev_time[(est, impl)]
                    guess = t0 * n / n0 * reps
                    if math.isinf(t0):
                        rows[impl] = {"status": f"skipped: did not finish at N = {n0:,}"}
                        print(f"   {est:8s} {impl:13s} {rows[impl]['status']}", flush=True)
                        continue
                    if guess > args.budget:
                        rows[impl] = {
                            "status": f"skipped: ~{guess:.0f} s expected "
                            f"({t0:.1f} s at N = {n0:,}, × {n // n0} × "
                            f"{reps} repeat(s)) > {args.budget:.0f} s budget"
                        }
                        print(f"   {est:8s} {impl:13s} {rows[impl]['status']}", flush=True)
                        continue
                py = sys.executable if impl == "ours" else peer_python
                r = run_child(est, impl, data, reps, args.timeout, py, tmp, args.mem_limit)
                rows[impl] = r
                if r.get("status") == "ok":
                    prev_time[(est, impl)] = (n, statistics.median(r["times"]))
                    print(
                        f"   {est:8s} {impl:13s} {statistics.median(r['times']):8.3f} s "
                        f"work {max(r['work_mb']):8.0f} MB peak {max(r['peak_mb']):8.0f} MB "
                        f"att {r['att']:.10f}",
                        flush=True,
                    )
                else:
                    prev_time[(est, impl)] = (n, math.inf)
                    print(f"   {est:8s} {impl:13s} {r['status']}", flush=True)
            summarise(rows)
            compare(rows)
            if est in ("bjs", "gardner") and n <= 10_000:
                import pandas as pd

                if "exact" not in panels[n]:
                    panels[n]["exact"] = peers.exact_imputation_att(pd.read_parquet(data))
                for r in rows.values():
                    if r.get("status") == "ok":
                        r["d_exact"] = abs(r["att"] - panels[n]["exact"])
            results.setdefault(est, {})[str(n)] = rows
            # write after every block so an interrupted run still leaves its numbers
            mi = machine_info()
            mi["commit_start"], mi["commit_end"] = commit_start, mi["commit"]
            if mi["commit"] != commit_start:
                mi["commit"] = code_change_note(commit_start, mi["commit"])
            meta = {
                "machine": mi,
                "date": _dt.datetime.now().isoformat(timespec="seconds"),
                "elapsed": time.perf_counter() - t_start,
                "panels": panels,
                "repeats_desc": (
                    f"{args.repeats} at every N"
                    if args.repeats
                    else f"3 at N ≤ 10,000, {args.repeats_large} above"
                ),
                "notes": notes + peers.NOTES,
                "load_desc": load_desc(results),
                "command": cmd,
            }
            if not args.no_write:
                write_results(Path(args.out), results, meta, cmd)
                Path(args.json).write_text(
                    json.dumps({"meta": meta, "results": results}, indent=1, default=str)
                )
    print(
        f"done in {(time.perf_counter() - t_start) / 60:.1f} min"
        + ("" if args.no_write else f" -> {args.out}")
    )


def render(args: argparse.Namespace) -> None:
    """Re-write RESULTS.md from a results.json (after a change of the report format)."""
    blob = json.loads(Path(args.render).read_text())
    meta, results = blob["meta"], blob["results"]
    mi = meta["machine"]
    if mi.get("commit_start") and mi.get("commit_end") and mi["commit_start"] != mi["commit_end"]:
        mi["commit"] = code_change_note(mi["commit_start"], mi["commit_end"])
    meta["load_desc"] = load_desc(results)
    meta["notes"] = peers.NOTES
    write_results(Path(args.out), results, meta, meta.get("command", "?"))
    Path(args.json).write_text(json.dumps(blob, indent=1, default=str))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="comma-separated numbers of units")
    ap.add_argument("--quick", action="store_true", help="N = 1,000 and 10,000, one repeat")
    ap.add_argument("--full", action="store_true", help="3 repeats at every N")
    ap.add_argument("--repeats", type=int, default=None, help="repeats at every N")
    ap.add_argument("--repeats-large", type=int, default=1, help="repeats at N > 10,000")
    ap.add_argument("--estimators", default=None, help=f"subset of {','.join(peers.CASES)}")
    ap.add_argument("--impls", default=None, help="subset of implementations (ours always runs)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per child process")
    ap.add_argument(
        "--budget",
        type=float,
        default=300.0,
        help="skip a peer whose extrapolated time at the next N exceeds this (s)",
    )
    ap.add_argument(
        "--mem-limit",
        type=float,
        default=12_000.0,
        help="kill a child whose resident memory exceeds this many MB",
    )
    ap.add_argument(
        "--peer-python",
        default=None,
        help="interpreter for peer children (a separate venv), default: this one",
    )
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--json", default=str(HERE / "results.json"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--render",
        metavar="JSON",
        default=None,
        help="only re-write --out from a previous results.json",
    )
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--estimator", help=argparse.SUPPRESS)
    ap.add_argument("--impl", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args)
        return
    if args.render:
        render(args)
        return
    if args.quick:
        args.sizes, args.repeats = "1000,10000", args.repeats or 1
    if args.full:
        args.repeats = 3
    parent(args)


if __name__ == "__main__":
    main()
