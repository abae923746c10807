"""Atomic file writes: a file is either absent, its old version, or complete.

Everything the package writes goes to a temporary name in the target's own
folder (same file system, so the final rename is atomic) and is renamed into
place only when complete. On *any* failure -- an exception, a full disk, a
read-only folder, Ctrl-C -- the temporary file is removed and the error is
re-raised, so nothing half-written is left behind. (A SIGKILL cannot be
caught; it can leave a ``.<name>.tmp`` file but never a partial target.)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "tmp_name"]


def tmp_name(path: Path, suffix: str = "") -> Path:
    """The temporary sibling used while ``path`` is written: ``.<name>.tmp<suffix>``."""
    return path.with_name(f".{path.name}.tmp{suffix}")


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path to write; rename it onto ``path`` on success.

    The parent folder is created if needed; ``suffix`` ends the temporary name
    (for writers that look at the extension). On any exception (including
    ``KeyboardInterrupt``) the temporary file is deleted and the exception
    propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see the module docstring)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see the module docstring)."""
    return atomic_write_bytes(path, text.encode("utf-8"))
