"""Multi-model regression tables: the summary_col layout, our results, renderers."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.iolib.summary2 import summary_col

from analysis.data.sources import load_mpdta
from analysis.estimators import get_estimator
from analysis.report.regtable import regression_table


@pytest.fixture(scope="module")
def ols_models():
    rng = np.random.default_rng(7)
    n = 300
    X = pd.DataFrame({"const": 1.0, "x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    g = rng.integers(0, 30, size=n)
    y = 1 + 0.5 * X["x1"] - 0.08 * X["x2"] + rng.normal(size=n)
    m1 = sm.OLS(y, X[["const", "x1"]]).fit()
    m2 = sm.OLS(y, X).fit(cov_type="HC1")
    m3 = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": g})
    return [m1, m2, m3], g


def test_reproduces_summary_col_layout_and_numbers(ols_models):
    models, _ = ols_models
    ref = summary_col(models, stars=True, float_format="%.4f", model_names=["A", "B", "C"])
    ref = ref.tables[0]
    ours = regression_table(dict(zip("ABC", models, strict=True)), stars=True, digits=4)
    # the coefficient block: same row labels, same cells (estimate+stars over "(se)")
    k = ours.n_coef_rows
    ref_coef = ref.iloc[:k]
    assert list(ours.body.columns) == list(ref.columns)
    assert [str(i).strip() for i in ours.body.index[:k]] == [str(i).strip() for i in ref_coef.index]
    got = ours.body.iloc[:k].to_numpy()
    want = ref_coef.to_numpy().astype(str)
    assert np.array_equal(np.char.strip(got.astype(str)), np.char.strip(want))
    # the statistics block: N and the SE type of each model, clusters where clustered
    stats_rows = ours.body.iloc[k:]
    assert list(stats_rows.loc["N"]) == ["300", "300", "300"]
    assert list(stats_rows.loc["SE type"]) == ["nonrobust", "HC1", "cluster"]
    assert list(stats_rows.loc["Clusters"]) == ["", "", "30"]


def test_ci_option_and_no_stars(ols_models):
    models, _ = ols_models
    t = regression_table(models, interval="ci", digits=3)
    assert list(t.body.columns) == ["(1)", "(2)", "(3)"]
    lo, hi = np.asarray(models[1].conf_int())[1]
    assert t.body.iloc[3, 1] == f"[{lo:.3f}, {hi:.3f}]"
    assert "*" not in "".join(t.body.iloc[: t.n_coef_rows].to_numpy().ravel())
    assert any("confidence intervals" in n for n in t.notes)


def test_did_results_side_by_side():
    d = load_mpdta()
    kw = dict(outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
    twfe = get_estimator("twfe")(d, cluster="countyreal", **kw)
    cs = get_estimator("cs")(d, control="never", est_method="reg", **kw)
    t = regression_table(
        {"TWFE": twfe, "CS (2021)": cs},
        labels={"D": "ATT", "ATT": "ATT"},
        fixed_effects={"Unit FE": ["yes", "yes"], "Year FE": ["yes", "yes"]},
        extra_rows={"Comparison": ["never+not-yet", "never"]},
        stars=True,
    )
    b = t.body
    assert b.index[0] == "ATT"
    assert b.loc["ATT", "TWFE"].startswith(f"{twfe.att:.3f}")
    assert b.loc["ATT", "CS (2021)"].startswith(f"{cs.att:.3f}")
    assert b.iloc[1, 0] == f"({twfe.se:.3f})"
    assert b.loc["N", "TWFE"] == "2500" and b.loc["Units", "CS (2021)"] == "500"
    assert b.loc["Unit FE"].tolist() == ["yes", "yes"]


def test_renderers(ols_models):
    models, _ = ols_models
    t = regression_table(
        models, stars=True, caption="Wages 工资 & hours", notes=["Data: SYNTHETIC."]
    )
    md = t.to_markdown()
    assert md.splitlines()[3].startswith("| :--- |") and "(1)" in md
    tex = t.to_latex()
    assert tex.count(r"\midrule") == 2 and r"\toprule" in tex and r"\bottomrule" in tex
    assert r"Wages 工资 \& hours" in tex and r"\footnotesize" in tex
    doc = t.to_latex_document()
    assert r"\usepackage{xeCJK}" in doc and doc.rstrip().endswith(r"\end{document}")
    html = t.to_html()
    assert html.count("<tr>") == len(t.body) + 1 and "border-top" in html
    assert re.search(r"<caption>Wages 工资 &amp; hours</caption>", html)


@pytest.mark.skipif(shutil.which("xelatex") is None, reason="no TeX engine (xelatex) installed")
def test_latex_wrapper_compiles(ols_models, tmp_path):
    models, _ = ols_models
    (tmp_path / "t.tex").write_text(
        regression_table(models, caption="工资").to_latex_document(), encoding="utf-8"
    )
    r = subprocess.run(
        ["xelatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout[-2000:]
