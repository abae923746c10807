"""One small engine for every resampling, permutation and Monte Carlo loop.

Reproducibility under parallelism
---------------------------------
Draws are produced in fixed-size *blocks*. Block ``b`` always receives the
generator ``numpy.random.Generator(PCG64(SeedSequence(seed).spawn(n_blocks)[b]))``
-- its own independent stream -- and blocks are concatenated in block order.
The result therefore depends only on ``(seed, n_draws, block)``, never on the
number of workers or the backend: the same seed gives the same bytes serially,
with joblib on 2 cores, or on a Dask cluster.

Vectorise inside a block: the block function receives a generator and a block
size and returns all of that block's draws at once (e.g. a multiplier
bootstrap as one matrix product, a wild bootstrap from precomputed projection
pieces). Re-fitting loops are for statistics with no such algebra.

Progress
--------
A tqdm bar over blocks, shown only when stderr is a terminal and the ``CI``
environment variable is not set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

Backend = Literal["serial", "joblib", "dask"]
BlockFn = Callable[[np.random.Generator, int], Any]


def progress_enabled() -> bool:
    """Progress bars only for a human at a terminal (off in CI and pipes)."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def block_sizes(n_draws: int, block: int) -> list[int]:
    if n_draws < 0:
        raise ValueError("n_draws must be non-negative")
    if block < 1:
        raise ValueError("block must be at least 1")
    full, rest = divmod(n_draws, block)
    return [block] * full + ([rest] if rest else [])


def block_generators(
    seed: int | np.random.SeedSequence | None, n_blocks: int
) -> list[np.random.Generator]:
    """Independent generators, one per block, spawned from one seed."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [np.random.Generator(np.random.PCG64(s)) for s in ss.spawn(n_blocks)]


def _run_block(fn: BlockFn, seed_seq: np.random.SeedSequence, size: int) -> Any:
    return fn(np.random.Generator(np.random.PCG64(seed_seq)), size)


def run_draws(
    fn: BlockFn,
    n_draws: int,
    seed: int | None,
    *,
    block: int = 1000,
    n_jobs: int = 1,
    backend: Backend = "joblib",
    client: Any = None,
    desc: str | None = None,
) -> np.ndarray:
    """Run ``n_draws`` draws of ``fn`` in seeded blocks and stack them.

    Parameters
    ----------
    fn
        ``fn(rng, size) -> array`` with first axis of length ``size`` (the
        block's draws). Must be picklable for the joblib/dask backends
        (a module-level function or :func:`functools.partial` of one).
    n_draws
        Total number of draws.
    seed
        Seed of the root :class:`numpy.random.SeedSequence`. ``None`` draws
        fresh entropy (not reproducible; avoid in research code).
    block
        Draws per block. Part of the random design: changing it changes the
        draws, changing ``n_jobs`` or ``backend`` does not.
    n_jobs
        Workers for the joblib backend (``1`` runs serially in-process).
    backend
        ``"serial"``, ``"joblib"`` (local processes) or ``"dask"`` (a
        ``dask.distributed`` cluster: pass ``client`` or have a default client).
    desc
        Label of the progress bar.

    Returns
    -------
    numpy.ndarray
        The draws concatenated along the first axis, in block order.
    """
    sizes = block_sizes(n_draws, block)
    if not sizes:
        return np.empty((0,))
    root = np.random.SeedSequence(seed)
    seqs = root.spawn(len(sizes))
    show = progress_enabled()
    if backend == "dask":
        try:
            from dask.distributed import default_client
        except ImportError as e:  # pragma: no cover - optional dependency
            raise ImportError("backend='dask' needs `dask[distributed]` installed") from e
        client = client or default_client()
        futures = client.map(_run_block, [fn] * len(sizes), seqs, sizes, pure=False)
        parts = client.gather(futures)
    elif backend == "joblib" and n_jobs != 1:
        from joblib import Parallel, delayed

        parts = Parallel(n_jobs=n_jobs, verbose=0)(
            delayed(_run_block)(fn, s, n) for s, n in zip(seqs, sizes, strict=True)
        )
    elif backend in ("serial", "joblib"):
        it: Sequence[tuple[np.random.SeedSequence, int]] = list(zip(seqs, sizes, strict=True))
        if show:
            from tqdm.auto import tqdm

            it = tqdm(it, desc=desc or "draws", unit="block", leave=False)
        parts = [_run_block(fn, s, n) for s, n in it]
    else:
        raise ValueError(f"unknown backend {backend!r}; use 'serial', 'joblib' or 'dask'")
    return np.concatenate([np.asarray(p) for p in parts], axis=0)
