r"""Influence-function variance primitives (i.i.d. and cluster-robust).

Every asymptotically linear estimator :math:`\hat\theta` (a vector of
:math:`K` parameters) used in the package is represented by its *influence
function matrix* :math:`\Psi \in \mathbb{R}^{n \times K}`, scaled as in R
``did``/``DRDID`` so that

.. math::

    \hat\theta - \theta = \frac{1}{n} \sum_{i=1}^{n} \psi_i + o_p(n^{-1/2}),

where :math:`n` is the number of units. With clusters :math:`c = 1,\dots,G`
that nest units, the cluster sums :math:`S_c = \sum_{i \in c} \psi_i` give the
cluster-robust ("CR0", no small-sample factor) covariance

.. math::

    \widehat{V}(\hat\theta) = \frac{1}{n^2} \sum_{c=1}^{G} S_c S_c^\top ,

which is the covariance the multiplier bootstrap of
:mod:`analysis.inference.multiplier` approximates. Without clusters every unit
is its own cluster and :math:`\widehat{V} = \Psi^\top\Psi / n^2`, i.e. the
standard error of column :math:`k` is :math:`\sqrt{\overline{\psi_k^2}/n}` --
R ``did``'s ``getSE`` convention (non-centred second moment, divisor
:math:`n`, no degrees-of-freedom correction). The clustered form is R ``did``
(>= 2.5)'s analytic cluster-robust standard error
:math:`\sqrt{\sum_c S_c^2}/n` (Callaway and Sant'Anna 2021, Remark 10).

These are leaf functions: they know nothing about estimators and never
re-fit anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.design import WaldTest, wald_test


@dataclass(frozen=True)
class Clusters:
    """Integer cluster codes for ``n`` units.

    Attributes
    ----------
    codes
        Array of length ``n`` with values in ``0..n_clusters-1``.
    n_clusters
        Number of distinct clusters.
    """

    codes: np.ndarray
    n_clusters: int

    @classmethod
    def from_labels(cls, labels: Sequence | np.ndarray | pd.Series) -> Clusters:
        """Factorise arbitrary (hashable) cluster labels, one per unit."""
        codes, uniques = pd.factorize(pd.Series(np.asarray(labels)), sort=True)
        if (codes < 0).any():
            raise ValueError("cluster labels must not be missing")
        return cls(codes=codes.astype(np.int64), n_clusters=len(uniques))

    @property
    def n(self) -> int:
        return int(self.codes.shape[0])

    def indicator(self) -> sparse.csr_matrix:
        """Sparse ``n_clusters x n`` membership matrix."""
        n = self.n
        return sparse.csr_matrix(
            (np.ones(n), (self.codes, np.arange(n))), shape=(self.n_clusters, n)
        )


def cluster_sums(psi: np.ndarray, clusters: Clusters | None = None) -> np.ndarray:
    """Sum influence-function rows within clusters.

    Parameters
    ----------
    psi
        ``n x K`` (or length-``n``) influence-function array.
    clusters
        Unit-level clusters; ``None`` means each unit is its own cluster, in
        which case ``psi`` itself is returned (no copy).

    Returns
    -------
    numpy.ndarray
        ``G x K`` (or length-``G``) array of cluster sums.
    """
    psi = np.asarray(psi, dtype=np.float64)
    if clusters is None:
        return psi
    if clusters.n != psi.shape[0]:
        raise ValueError("clusters and influence function have different numbers of units")
    if clusters.n_clusters == clusters.n and np.array_equal(clusters.codes, np.arange(clusters.n)):
        return psi
    out = clusters.indicator() @ psi
    return np.asarray(out)


def if_se(psi: np.ndarray, clusters: Clusters | None = None, n: int | None = None) -> np.ndarray:
    r"""Standard errors :math:`\sqrt{\sum_c S_{ck}^2}/n` for each column of ``psi``.

    ``n`` defaults to the number of rows of ``psi``. Columns whose influence
    function is identically zero get standard error ``0`` (callers decide how
    to report them; R ``did`` reports ``NA``).
    """
    psi = np.asarray(psi, dtype=np.float64)
    n = psi.shape[0] if n is None else int(n)
    s = cluster_sums(psi, clusters)
    if s.ndim == 1:
        return np.sqrt(np.dot(s, s)) / n
    return np.sqrt(np.einsum("ij,ij->j", s, s)) / n


def if_vcov(psi: np.ndarray, clusters: Clusters | None = None, n: int | None = None) -> np.ndarray:
    r"""Covariance :math:`\frac{1}{n^2}\sum_c S_c S_c^\top` of the estimator."""
    psi = np.asarray(psi, dtype=np.float64)
    if psi.ndim == 1:
        psi = psi[:, None]
    n = psi.shape[0] if n is None else int(n)
    s = cluster_sums(psi, clusters)
    return (s.T @ s) / float(n) ** 2


__all__ = ["Clusters", "WaldTest", "cluster_sums", "if_se", "if_vcov", "wald_test"]
