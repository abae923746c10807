"""Command-line interface ``enclave``.

Exit status: 0 success; 2 bad input (one line on stderr naming the problem);
1 an internal error (a bug: the traceback is kept).

Notes (drops, recodings, warnings of the estimator) are printed once: on stderr
as ``enclave: note: ...`` lines, except the ones the text summary on stdout
already lists; the JSON output carries all of them in its ``notes`` list.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any, NoReturn

from analysis.errors import InputError


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _fail(msg: str) -> NoReturn:
    sys.stderr.write(f"enclave: error: {msg}\n")
    raise SystemExit(2)


#: Upper bound of ``--draws`` (wild bootstrap / randomisation draws). Every draw's
#: statistic is kept in memory and the run time grows linearly; at 1,000,000 draws the
#: Monte Carlo standard error of a p-value is already below 0.0005.
MAX_DRAWS = 1_000_000
#: Upper bound of ``--bootstrap`` (multiplier bootstrap). Each draw holds a weight per
#: cluster and a value per group-time effect in memory; at 100,000 draws the Monte Carlo
#: error of a bootstrap standard error is about 0.2%.
MAX_BOOTSTRAP = 100_000
#: Largest absolute value (and inverse of the smallest non-zero one) of an outcome or
#: covariate: beyond it, squares and cross-products of residuals overflow or underflow
#: in double precision (inf or 0 standard errors). Rescale such a column.
MAX_MAGNITUDE = 1e60


def _int_pair(text: str) -> tuple[int, int]:
    """``"LO,HI"`` -> ``(LO, HI)`` (``--window``)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        lo, hi = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected two integers LO,HI such as -5,5 (got {text!r})"
        ) from None
    return lo, hi


def _count_in(flag: str, value: int | None, limit: int, why: str) -> None:
    if value is None:
        return
    if value < 1:
        raise InputError(f"{flag} must be a positive number of draws (got {value})")
    if value > limit:
        raise InputError(f"{flag} {value:,} is above the limit of {limit:,}: {why}")


def _nearest_existing(p: Path) -> Path:
    """``p`` or its nearest existing ancestor: the folder a write below ``p`` depends on.

    Parameters
    ----------
    p
        A file or folder path that may not exist yet.

    Returns
    -------
    pathlib.Path
        The first of ``p``, ``p.parent``, ... that exists (the root at the latest).
    """
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_output_path(out: str | None) -> None:
    """Refuse an --output that cannot be written, before any computing."""
    if not out:
        return
    p = Path(out)
    if p.is_dir():
        raise InputError(f"--output {p} is a folder: give a file name")
    parent = _nearest_existing(p.parent)
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"--output {p}: cannot write to folder {parent} (permission denied)")


def _check_out_dir(out: str | None) -> None:
    """Refuse an --out that is a file or sits in an unwritable folder, before computing."""
    if not out:
        return
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise InputError(f"--out {p} is a file: give a folder")
    parent = _nearest_existing(p)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"--out {p}: cannot write to folder {parent} (permission denied)")


def _write_estimate_outputs(res: Any, out: str, payload_text: str) -> list[Path]:
    """Tables (md, tex, html, csv), the effects figure and the JSON of one estimate.

    Everything is written to a temporary folder inside ``out`` first and moved
    in at the end, so a failure leaves no partial set of files.
    """
    import tempfile

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.report.figures import effects_plot, save_figure
    from analysis.report.regtable import regression_table, write_regression_table
    from analysis.report.tables import design_notes, write_table

    dest = Path(out)
    dest.mkdir(parents=True, exist_ok=True)
    stem = f"{res.method}_{res.outcome}"
    with tempfile.TemporaryDirectory(dir=dest, prefix=".enclave-out-") as tmp:
        t = Path(tmp)
        tidy = res.tidy()
        show = tidy[["aggregation", "term", "estimate", "std_error", "conf_low", "conf_high"]]
        write_table(
            show.rename(
                columns={"std_error": "s.e.", "conf_low": "CI low", "conf_high": "CI high"}
            ),
            t,
            f"{stem}_estimates",
            caption=f"{res.method.upper()} estimates for {res.outcome}",
            notes=design_notes(res),
            digits=4,
        )
        reg = regression_table(
            {res.method.upper(): res},
            caption=f"{res.method.upper()}: {res.outcome}",
            notes=design_notes(res),
            digits=4,
        )
        write_regression_table(reg, t, f"{stem}_table")
        for agg in ("dynamic", "group", "calendar"):
            if agg in res.aggregates and res.aggregates[agg].by is not None:
                fig, ax = plt.subplots(figsize=(6.4, 4.0))
                effects_plot(res, ax=ax, aggregation=agg)
                save_figure(fig, t, f"{stem}_{agg}")
                break
        (t / f"{stem}.json").write_text(payload_text, encoding="utf-8")
        written = []
        for f in sorted(t.iterdir()):
            target = dest / f.name
            f.replace(target)
            written.append(target)
    return written


def _check_columns(df: Any, args: argparse.Namespace, covariates: tuple[str, ...]) -> None:
    """Boundary checks of the numbers the estimators will use (validate first).

    Infinite values, magnitudes the estimators cannot square in double precision,
    and a single cluster are refused with one line naming the column.
    """
    import numpy as np
    import pandas as pd

    for col in (args.outcome, *covariates):
        if col not in df.columns or not pd.api.types.is_numeric_dtype(df[col]):
            continue  # missing / non-numeric columns are reported by the estimator
        v = df[col].to_numpy(dtype=np.float64, na_value=np.nan)
        inf = np.isinf(v)
        if inf.any():
            first = int(np.flatnonzero(inf)[0])
            raise InputError(
                f"column {col!r} has {int(inf.sum())} infinite value(s) (first in data row "
                f"{first + 1}): remove or recode them"
            )
        a = np.abs(v[np.isfinite(v) & (v != 0)])
        if a.size and a.max() > MAX_MAGNITUDE:
            raise InputError(
                f"column {col!r} reaches {a.max():.3g} in absolute value, beyond "
                f"{MAX_MAGNITUDE:.0e} where squared residuals overflow in double precision: "
                f"rescale it (e.g. divide by {10 ** np.floor(np.log10(a.max())):.0e})"
            )
        if a.size and a.max() < 1.0 / MAX_MAGNITUDE:
            raise InputError(
                f"column {col!r} is at most {a.max():.3g} in absolute value, below "
                f"{1.0 / MAX_MAGNITUDE:.0e} where squared residuals underflow to zero: "
                f"rescale it (e.g. multiply by {10 ** -np.floor(np.log10(a.max())):.0e})"
            )
    cl = args.cluster or args.unit
    if cl in df.columns:
        n_cl = int(df[cl].nunique(dropna=True))
        if n_cl < 2:
            what = f"--cluster {cl!r}" if args.cluster else f"the unit column {cl!r}"
            raise InputError(
                f"{what} has {n_cl} cluster(s): cluster-robust standard errors need at least 2"
            )


# ----------------------------------------------------------------- estimate
def _cmd_estimate(args: argparse.Namespace) -> int:
    from analysis import __version__
    from analysis.data.manifest import sha256
    from analysis.data.sources import read_table
    from analysis.estimators import registry

    est = registry.get_estimator(args.method)
    _count_in(
        "--bootstrap",
        args.bootstrap,
        MAX_BOOTSTRAP,
        "each draw holds a weight per cluster in memory, and at this size the Monte Carlo "
        "error of a bootstrap standard error is already about 0.2%",
    )
    if args.inference in ("wild", "ri"):
        _count_in(
            "--draws",
            args.draws,
            MAX_DRAWS,
            "every draw's statistic is kept in memory and run time grows with the draws; "
            "at this size the Monte Carlo error of a p-value is already below 0.0005",
        )
    _check_output_path(args.output)
    _check_out_dir(args.out)
    df = read_table(args.data)
    params = inspect.signature(est).parameters
    if (args.cohort is None) == (args.treatment is None):
        raise InputError("give one of --cohort (first treated period) or --treatment (a 0/1 dummy)")
    kwargs: dict[str, Any] = {
        "outcome": args.outcome,
        "unit": args.unit,
        "time": args.time,
    }
    if args.cohort is not None:
        kwargs["cohort"] = args.cohort
    optional = {
        "control": ("--control", args.control),
        "est_method": ("--est-method", args.est_method),
        "covariates": (
            "--covariates",
            tuple(c.strip() for c in args.covariates.split(",") if c.strip())
            if args.covariates
            else None,
        ),
        "cluster": ("--cluster", args.cluster),
        "treatment": ("--treatment", args.treatment),
        "n_boot": ("--bootstrap", args.bootstrap),
        "seed": ("--seed", args.seed),
        "alpha": ("--alpha", args.alpha),
        "weights": ("--weights", args.weights),
        "se": ("--se", args.se),
        "n_reps": ("--reps", args.reps),
        "window": ("--window", args.window),
        "ref_period": ("--ref-period", args.ref_period),
        "bin_width": ("--bins", args.bins),
        "bin_endpoints": ("--no-bin-endpoints", False if args.no_bin_endpoints else None),
        "never_only": ("--never-only", True if args.never_only else None),
        "always_treated": ("--always-treated", "include" if args.always_treated else None),
        "horizons": ("--horizons", args.horizons),
        "pretrends": ("--pretrends", args.pretrends),
    }
    for name, (flag, value) in optional.items():
        if value is None:
            continue
        if name not in params and name == "seed" and args.inference:
            continue  # the seed is for the post-estimation inference
        if name not in params:
            raise InputError(f"option {flag} does not apply to method {args.method!r}")
        kwargs[name] = value
    if kwargs.pop("never_only", None):
        # --never-only is --control never (the event study's deprecated keyword is not used)
        if kwargs.get("control", "never") != "never":
            raise InputError(f"--never-only contradicts --control {kwargs['control']}")
        kwargs["control"] = "never"
    if "data_layer" in params:
        kwargs["data_layer"] = args.data_layer
    if args.weights and args.inference:
        raise InputError(f"--inference {args.inference} does not take --weights")
    registry.validate_options(args.method, {k: v for k, v in kwargs.items() if k in params})
    _check_columns(df, args, tuple(kwargs.get("covariates") or ()))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = est(df, **kwargs)
    # each note once; the text summary (stdout) lists the result's notes itself
    shown = set(res.notes) if not (args.json or args.output) else set()
    for msg in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning)):
        if msg not in shown:
            sys.stderr.write(f"enclave: note: {msg}\n")
    extra = None
    if args.inference:
        from analysis.inference.post import post_inference

        extra = post_inference(
            args.inference,
            df,
            method=args.method,
            outcome=args.outcome,
            unit=args.unit,
            time=args.time,
            cohort=args.cohort,
            covariates=kwargs.get("covariates", ()),
            cluster=args.cluster,
            draws=args.draws,
            seed=args.seed if args.seed is not None else 0,
            alpha=args.alpha if args.alpha is not None else 0.05,
            result=res,
        )
    if args.json or args.output or args.out:
        prov = {
            "data": str(args.data),
            "data_sha256": sha256(Path(args.data)),
            "package_version": __version__,
            "seed": args.seed if args.seed is not None else 0,
        }
        payload = res.to_dict(provenance=prov)
        if extra is not None:
            payload["inference"] = extra
        text = json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
        if args.output:
            from analysis.data.atomic import atomic_write_text

            atomic_write_text(Path(args.output), text)
        if args.out:
            written = _write_estimate_outputs(res, args.out, text)
            sys.stderr.write(
                f"enclave: wrote {len(written)} file(s) to {args.out}: "
                + ", ".join(p.name for p in written)
                + "\n"
            )
        if args.json:
            sys.stdout.write(text)
        elif not args.output:
            sys.stdout.write(res.summary() + "\n")
    else:
        sys.stdout.write(res.summary() + "\n")
        if extra is not None:
            sys.stdout.write(
                f"\n{extra['inference']} inference: p = {extra['p_value']:.4f}"
                + (f", CI {extra['ci']}" if extra.get("ci") else "")
                + "\n"
            )
    return 0


# -------------------------------------------------------------------- power
def _cmd_power(args: argparse.Namespace) -> int:
    from analysis.inference.power import PanelDesign, mde_table

    if args.data:
        from analysis.data.sources import read_table

        missing = [f for f in ("outcome", "unit", "time", "cohort") if getattr(args, f) is None]
        if missing:
            raise InputError("with --data, give --outcome, --unit, --time and --cohort")
        design = PanelDesign.from_data(
            read_table(args.data),
            outcome=args.outcome,
            unit=args.unit,
            time=args.time,
            cohort=args.cohort,
            sigma=args.sigma,
            rho=args.rho,
        )
    else:
        if args.units is None or args.treated is None or args.periods is None or not args.cohorts:
            raise InputError("give --data, or --units, --treated, --periods and --cohorts")
        cohorts = [int(c) for c in args.cohorts.split(",") if c.strip()]
        design = PanelDesign.from_counts(
            args.units,
            args.treated,
            args.periods,
            cohorts,
            sigma=args.sigma if args.sigma is not None else 1.0,
            rho=args.rho if args.rho is not None else 0.0,
        )
    from analysis.estimators import registry

    methods = (
        list(registry.methods("power"))
        if args.methods is None
        else [m.strip() for m in args.methods.split(",") if m.strip()]
    )
    inferences = [m.strip() for m in args.inferences.split(",") if m.strip()]
    table = mde_table(
        design,
        methods=methods,
        inferences=inferences,
        power=args.power,
        n_sims=args.sims,
        alpha=args.alpha,
        seed=args.seed,
    )
    if args.json:
        sys.stdout.write(table.to_json(orient="records", force_ascii=False, indent=2) + "\n")
    else:
        cols = [
            c
            for c in (
                "method",
                "inference",
                "mde",
                "mde_over_sigma",
                "power_at_mde",
                "size",
                "note",
            )
            if c in table.columns
        ]
        sys.stdout.write(f"Design: {design}\n")
        sys.stdout.write(
            table[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}") + "\n"
        )
    return 0


# --------------------------------------------------------------------- data
def _cmd_data(args: argparse.Namespace) -> int:
    if args.action == "build":
        from analysis.data import paths
        from analysis.data.build import build_processed

        written = build_processed(paths.PROCESSED_DIR)
        for p in written:
            print(f"wrote {p}")
        return 0
    if args.action == "manifest":
        from analysis.data.manifest import update_manifest

        man = update_manifest()
        print(f"manifest updated: {len(man)} file(s)")
        return 0
    # check
    if (args.unit or args.time or args.cohort) and not args.file:
        _fail("--unit/--time/--cohort check a panel FILE: give the file to check")
    if args.file and (args.unit or args.time or args.cohort):
        from analysis.data.build import check_long_panel

        if not (args.unit and args.time):
            _fail("a generic panel check needs both --unit and --time (and optionally --cohort)")
        problems = check_long_panel(args.file, unit=args.unit, time=args.time, cohort=args.cohort)
        target = args.file
    elif args.file:
        from analysis.data.build import check_panel_file

        problems = check_panel_file(args.file)
        target = args.file
    else:
        from analysis.data.build import check_raw

        problems = check_raw()
        target = "data/raw"
    if problems:
        for p in problems:
            sys.stderr.write(f"enclave: problem: {p}\n")
        if not args.unit and any("required column 'code'" in p for p in problems):
            sys.stderr.write(
                "enclave: hint: not a Zhejiang county-year panel? check any long panel with "
                "--unit U --time T [--cohort G]\n"
            )
        sys.stderr.write(f"enclave: error: {target}: {len(problems)} problem(s) found\n")
        return 2
    print(f"{target}: OK")
    return 0


# ---------------------------------------------------------------- reproduce
def _cmd_reproduce(args: argparse.Namespace) -> int:
    from analysis.pipeline import STAGES, reproduce

    stages = args.stage or list(STAGES)
    return reproduce(stages, execute_notebooks=not args.skip_notebooks, layer=args.layer)


def _cmd_verify(args: argparse.Namespace) -> int:
    from analysis.pipeline import verify

    problems = verify()
    if problems:
        for p in problems:
            sys.stderr.write(f"enclave: mismatch: {p}\n")
        sys.stderr.write(
            f"enclave: error: {len(problems)} number(s) differ from paper/numbers.json\n"
        )
        return 2
    print("verify: every number in paper/numbers.json is reproduced")
    return 0


def _seed(text: str) -> int:
    """A seed: a non-negative integer (numpy's SeedSequence rejects negative ones)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"seed must be a non-negative integer (got {text!r})"
        ) from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"seed must be a non-negative integer (got {v})")
    return v


def build_parser() -> argparse.ArgumentParser:
    from analysis.estimators import registry
    from analysis.validation import ComparisonGroup, literal_values

    p = _Parser(prog="enclave", description="Enclave study: data, estimators, reproduction.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    e = sub.add_parser("estimate", help="run a DiD / FE estimator on any long panel")
    e.add_argument("--data", required=True, help="CSV or parquet long panel")
    e.add_argument("--outcome", required=True, help="outcome column (numeric)")
    e.add_argument("--unit", required=True, help="unit identifier column")
    e.add_argument("--time", required=True, help="time period column (integer periods)")
    e.add_argument(
        "--cohort",
        default=None,
        help="first treated period; 0 or empty = never treated (required unless --treatment)",
    )
    e.add_argument(
        "--treatment",
        default=None,
        metavar="COL",
        help="absorbing 0/1 treatment dummy instead of --cohort (methods: "
        + ", ".join(m for m in registry.methods() if registry.get_spec(m).accepts("treatment"))
        + ")",
    )
    e.add_argument(
        "--method",
        required=True,
        choices=list(registry.methods()),
        help="estimator (from the estimator registry): " + ", ".join(registry.methods()),
    )
    e.add_argument(
        "--control",
        choices=list(literal_values(ComparisonGroup)),
        default=None,
        help="comparison group: never / notyet / last (where the method has it)",
    )
    e.add_argument("--covariates", default=None, help="comma-separated covariate columns")
    e.add_argument(
        "--est-method",
        dest="est_method",
        default=None,
        help="estimation method of the 2x2 comparisons where the method has one (cs: dr / ipw / reg)",
    )
    e.add_argument("--cluster", default=None, help="cluster column (default: the unit)")
    e.add_argument(
        "--weights",
        default=None,
        metavar="COL",
        help="observation-weights column ("
        + ", ".join(registry.methods("weights"))
        + "; cs: unit-level sampling weights)",
    )
    e.add_argument(
        "--se",
        default=None,
        help="standard-error type where the method has a choice (vocabulary per method: "
        "twfe, event: iid / hc1 / cr1 / cr2, default cr1; sdid/sc: placebo / jackknife / "
        "bootstrap)",
    )
    e.add_argument(
        "--bootstrap", type=int, default=None, metavar="N", help="multiplier-bootstrap draws"
    )
    e.add_argument("--seed", type=_seed, default=None, help="non-negative integer")
    e.add_argument(
        "--alpha", type=float, default=None, help="significance level of intervals (default 0.05)"
    )
    e.add_argument(
        "--window",
        type=_int_pair,
        default=None,
        metavar="LO,HI",
        help="window of event times, e.g. --window=-5,5 (write '=' before a negative LO)"
        + " (event study)",
    )
    e.add_argument(
        "--ref-period",
        dest="ref_period",
        type=int,
        default=None,
        metavar="K",
        help="reference (omitted) event time, negative (default -1)" + " (event study)",
    )
    e.add_argument(
        "--bins",
        type=int,
        default=None,
        metavar="WIDTH",
        help="group event times into bins of WIDTH periods, anchored at the onset and the "
        "reference (which stays alone)" + " (event study)",
    )
    e.add_argument(
        "--no-bin-endpoints",
        dest="no_bin_endpoints",
        action="store_true",
        help="do not pool leads/lags beyond the window into the end bins (they get no dummy)"
        + " (event study)",
    )
    e.add_argument(
        "--never-only",
        dest="never_only",
        action="store_true",
        help="compare with never-treated units only (= --control never)" + " (event study)",
    )
    e.add_argument(
        "--always-treated",
        dest="always_treated",
        action="store_true",
        help="keep units treated at or before the first period (in the binned end-point lags)"
        + " (event study)",
    )
    e.add_argument(
        "--horizons",
        type=int,
        default=None,
        metavar="H",
        help="report event-time effects for horizons 0..H only" + " (imputation)",
    )
    e.add_argument(
        "--pretrends",
        type=int,
        default=None,
        metavar="K",
        help="K leads in the pre-trend test (default all; 0 = no test)" + " (imputation)",
    )
    e.add_argument(
        "--data-layer",
        dest="data_layer",
        default="user-supplied",
        help="label for tables: real / synthetic / user-supplied",
    )
    e.add_argument(
        "--inference",
        choices=["wild", "ri", "cr2"],
        default=None,
        help="extra inference: wild cluster bootstrap / CR2 ("
        + ", ".join(registry.methods("regression"))
        + "), randomisation ("
        + ", ".join(registry.methods("ri"))
        + ")",
    )
    e.add_argument(
        "--draws", type=int, default=9999, help="draws for --inference wild|ri (default 9999)"
    )
    e.add_argument(
        "--reps",
        type=int,
        default=None,
        metavar="N",
        help="placebo / bootstrap replications of sdid and sc (default 200, as R synthdid)",
    )
    e.add_argument("--json", action="store_true", help="print the JSON result")
    e.add_argument("--output", default=None, help="also write the JSON result to this file")
    e.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="write the estimate's tables (md, tex, html, csv), effects figure (png) and JSON to DIR",
    )
    e.set_defaults(func=_cmd_estimate)

    d = sub.add_parser("data", help="build processed tables or check data")
    d.add_argument(
        "action",
        choices=["build", "check", "manifest"],
        help="build: processed tables; check: raw data (or FILE); manifest: refresh checksums",
    )
    d.add_argument(
        "file",
        nargs="?",
        default=None,
        help="(check) a panel to validate: the yearbook layer (data/raw/yearbook/ or a file "
        "with a data_layer column), a county-year panel, or any long panel with --unit/--time",
    )
    d.add_argument("--unit", default=None, help="(check) unit column of a generic long panel")
    d.add_argument("--time", default=None, help="(check) time column of a generic long panel")
    d.add_argument("--cohort", default=None, help="(check) first-treated-period column (optional)")
    d.set_defaults(func=_cmd_data)

    r = sub.add_parser(
        "reproduce", help="run the named stages: data -> analyses -> notebooks -> paper"
    )
    r.add_argument(
        "--stage",
        action="append",
        choices=["data", "analyses", "notebooks", "paper", "site"],
        help="run only this stage (repeatable); default: all, in order",
    )
    r.add_argument(
        "--skip-notebooks", action="store_true", help="do not execute the notebooks (faster)"
    )
    r.add_argument(
        "--layer",
        choices=["auto", "synthetic", "yearbook"],
        default="auto",
        help="annual panel layer (default auto: yearbook when a complete real file is in "
        "data/raw/yearbook/, else the SYNTHETIC twin)",
    )
    r.set_defaults(func=_cmd_reproduce)

    pw = sub.add_parser("power", help="minimum detectable effects by simulation for a panel design")
    pw.add_argument("--data", default=None, help="panel whose design and noise to use")
    pw.add_argument("--outcome", help="outcome column (with --data)")
    pw.add_argument("--unit", help="unit identifier column (with --data)")
    pw.add_argument("--time", help="time period column (with --data)")
    pw.add_argument("--cohort", help="first treated period column, 0 = never (with --data)")
    pw.add_argument("--units", type=int, help="number of units (without --data)")
    pw.add_argument("--treated", type=int, help="number of treated units (without --data)")
    pw.add_argument("--periods", type=int, help="number of periods 1..T (without --data)")
    pw.add_argument("--cohorts", help="comma-separated adoption periods (without --data)")
    pw.add_argument("--sigma", type=float, default=None, help="noise s.d. (default: estimated / 1)")
    pw.add_argument("--rho", type=float, default=None, help="AR(1) within-unit correlation")
    pw.add_argument(
        "--methods",
        default=None,
        help="comma-separated methods (default: " + ",".join(registry.methods("power")) + ")",
    )
    pw.add_argument(
        "--inferences",
        default="analytic,ri",
        help="comma-separated inference methods (default analytic,ri)",
    )
    pw.add_argument("--power", type=float, default=0.8, help="target power (default 0.8)")
    pw.add_argument("--sims", type=int, default=500, help="simulated panels (default 500)")
    pw.add_argument("--alpha", type=float, default=0.05, help="test size (default 0.05)")
    pw.add_argument("--seed", type=_seed, default=0, help="non-negative integer (default 0)")
    pw.add_argument("--json", action="store_true", help="print the result as JSON")
    pw.set_defaults(func=_cmd_power)

    v = sub.add_parser("verify", help="re-run the analyses and compare with paper/numbers.json")
    v.set_defaults(func=_cmd_verify)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except InputError as err:
        _fail(str(err).splitlines()[0])
    except KeyboardInterrupt:
        # every write is atomic, so an interrupted run leaves nothing half-written
        sys.stderr.write("enclave: interrupted (Ctrl-C); nothing half-written was left behind\n")
        return 130
    except OSError as err:  # the environment, not a bug: unwritable folder, full disk ...
        where = f" {err.filename}" if err.filename else ""
        _fail(f"cannot complete:{where}: {err.strerror or err}")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
