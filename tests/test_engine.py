"""The simulation engine: seeded blocks give the same draws for any worker count
and backend; different seeds differ; progress bars stay off in CI and pipes."""

from __future__ import annotations

import functools
import io
import sys

import numpy as np
import pytest

from analysis.inference import engine
from analysis.inference.engine import block_generators, block_sizes, progress_enabled, run_draws


def normal_block(rng: np.random.Generator, size: int, k: int = 3) -> np.ndarray:
    """A module-level (picklable) block function: ``size x k`` normal draws."""
    return rng.standard_normal((size, k))


def spawn_key_block(rng: np.random.Generator, size: int) -> np.ndarray:
    """Reports the block index carried by the generator's seed sequence."""
    b = rng.bit_generator.seed_seq.spawn_key[-1]
    return np.full(size, b, dtype=np.int64)


N_DRAWS, BLOCK, SEED = 2_503, 250, 20240601  # last block is partial (3 draws)


@pytest.fixture(scope="module")
def serial_draws() -> np.ndarray:
    return run_draws(normal_block, N_DRAWS, SEED, block=BLOCK, backend="serial")


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_shape_and_block_layout(serial_draws):
    assert serial_draws.shape == (N_DRAWS, 3)
    assert block_sizes(N_DRAWS, BLOCK) == [BLOCK] * 10 + [3]
    # the draws are the concatenation of the documented per-block generators
    gens = block_generators(SEED, 11)
    expected = np.concatenate(
        [g.standard_normal((n, 3)) for g, n in zip(gens, block_sizes(N_DRAWS, BLOCK), strict=True)]
    )
    np.testing.assert_array_equal(serial_draws, expected)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_joblib_identical_for_any_worker_count(serial_draws, n_jobs):
    out = run_draws(normal_block, N_DRAWS, SEED, block=BLOCK, n_jobs=n_jobs, backend="joblib")
    np.testing.assert_array_equal(out, serial_draws)


def test_dask_local_cluster_identical(serial_draws, dask_client):
    out = run_draws(normal_block, N_DRAWS, SEED, block=BLOCK, backend="dask", client=dask_client)
    np.testing.assert_array_equal(out, serial_draws)


def test_partial_function_and_dask_keep_block_identity(dask_client):
    """Blocks keep their index whatever the backend (exact RI enumeration relies on it)."""
    fn = functools.partial(spawn_key_block)
    expected = np.repeat(np.arange(5), [100, 100, 100, 100, 7])
    for kw in (
        {"backend": "serial"},
        {"backend": "joblib", "n_jobs": 2},
        {"backend": "dask", "client": dask_client},
    ):
        np.testing.assert_array_equal(run_draws(fn, 407, 1, block=100, **kw), expected)


def test_different_seeds_differ(serial_draws):
    other = run_draws(normal_block, N_DRAWS, SEED + 1, block=BLOCK, backend="serial")
    assert other.shape == serial_draws.shape
    assert not np.any(np.all(other == serial_draws, axis=1))
    # blocks are independent streams, not shifted copies of one another
    assert not np.array_equal(serial_draws[:BLOCK], serial_draws[BLOCK : 2 * BLOCK])


def test_block_size_is_part_of_the_design(serial_draws):
    other = run_draws(normal_block, N_DRAWS, SEED, block=BLOCK + 1, backend="serial")
    # the first block's first rows coincide (same first spawned stream) ...
    np.testing.assert_array_equal(other[:BLOCK], serial_draws[:BLOCK])
    # ... but later blocks come from different streams
    assert not np.array_equal(other[BLOCK + 1 : 2 * BLOCK], serial_draws[BLOCK + 1 : 2 * BLOCK])


def test_more_draws_extend_the_sequence(serial_draws):
    """Block b's stream depends on (seed, b) only, so asking for more draws keeps
    the earlier ones (the partial last block continues its own stream)."""
    more = run_draws(normal_block, N_DRAWS + 600, SEED, block=BLOCK, backend="serial")
    np.testing.assert_array_equal(more[:N_DRAWS], serial_draws)


def test_zero_draws_and_errors():
    assert run_draws(normal_block, 0, 1).shape == (0,)
    with pytest.raises(ValueError):
        block_sizes(-1, 10)
    with pytest.raises(ValueError):
        block_sizes(10, 0)
    with pytest.raises(ValueError, match="unknown backend"):
        run_draws(normal_block, 10, 1, backend="threads")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- progress
class _TTY(io.StringIO):
    def isatty(self) -> bool:  # pragma: no cover - trivial
        return True


def test_progress_disabled_when_ci_set(monkeypatch):
    monkeypatch.setattr(sys, "stderr", _TTY())
    monkeypatch.setenv("CI", "1")
    assert progress_enabled() is False
    monkeypatch.delenv("CI")
    assert progress_enabled() is True


def test_progress_disabled_outside_a_terminal(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_enabled() is False


def test_no_progress_bar_created_in_ci(monkeypatch):
    """With CI set, run_draws never touches tqdm (even at a terminal)."""
    monkeypatch.setattr(sys, "stderr", _TTY())
    monkeypatch.setenv("CI", "true")
    import tqdm.auto

    def boom(*a, **k):  # pragma: no cover - must not be called
        raise AssertionError("progress bar created in CI")

    monkeypatch.setattr(tqdm.auto, "tqdm", boom)
    out = run_draws(normal_block, 20, 0, block=5, backend="serial")
    assert out.shape == (20, 3)
    assert engine.progress_enabled() is False


def test_progress_bar_shown_at_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", _TTY())
    monkeypatch.delenv("CI", raising=False)
    import tqdm.auto

    calls = []

    def fake(it, **k):
        calls.append(k)
        return it

    monkeypatch.setattr(tqdm.auto, "tqdm", fake)
    a = run_draws(normal_block, 20, 0, block=5, backend="serial", desc="x")
    b = run_draws(normal_block, 20, 0, block=5, backend="serial")
    np.testing.assert_array_equal(a, b)  # progress does not change the draws
    assert calls and calls[0]["desc"] == "x"
