"""One validation layer: option vocabularies, levels, seeds and draw counts.

Every public function of the package validates its options here, first, before
any preprocessing (R ``did``'s validate-first habit). Anything a user can get
wrong raises :class:`~analysis.errors.InputError` with one line that names the
option, the allowed values and the value received.

* :func:`check_option` checks a value against its ``Literal`` vocabulary (or an
  explicit sequence of allowed values); the ``Literal`` type annotating the
  keyword is the single source of the allowed values.
* :func:`check_alpha`, :func:`check_int`, :func:`check_seed` and
  :func:`check_draws` check the numbers every resampling or interval needs.
* :func:`comparison_group` maps the one comparison-group vocabulary
  (``"never"``, ``"notyet"``, ``"last"``) and the older spellings onto it.
"""

from __future__ import annotations

import typing
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from analysis.errors import InputError

#: The one comparison-group vocabulary of the package's estimators: never-treated
#: units only; never-treated and not-yet-treated units; the last-treated cohort.
ComparisonGroup = Literal["never", "notyet", "last"]

#: Older spellings still accepted (with a ``DeprecationWarning``) -> the new value.
#: ``None`` means "the estimator's default" (Sun-Abraham's ``control="auto"``).
#: The event study's ``never_only`` flag is mapped in the estimator itself.
_OLD_SPELLINGS: dict[str, str | None] = {"auto": None}


def literal_values(allowed: Any) -> tuple[Any, ...]:
    """The values of a ``Literal`` type (unions of literals flattened), or of a sequence."""
    origin = typing.get_origin(allowed)
    if origin is Literal:
        return tuple(typing.get_args(allowed))
    if origin is typing.Union:
        out: list[Any] = []
        for arg in typing.get_args(allowed):
            out.extend(literal_values(arg) if arg is not type(None) else (None,))
        return tuple(out)
    if isinstance(allowed, (str, bytes)) or not isinstance(allowed, Sequence):
        raise TypeError(f"not a Literal type or a sequence of values: {allowed!r}")
    return tuple(allowed)


def _same(value: Any, allowed: Any) -> bool:
    # a string option only matches a string (no numpy/pandas broadcasting surprises)
    if isinstance(allowed, str) or isinstance(value, str):
        return isinstance(value, str) and isinstance(allowed, str) and value == allowed
    try:
        return bool(value == allowed)
    except (TypeError, ValueError):
        return False


def check_option(name: str, value: Any, allowed: Any) -> Any:
    """Return ``value`` if it is one of ``allowed`` (a ``Literal`` type or a sequence).

    Raises
    ------
    InputError
        ``"<name> must be one of 'a', 'b' (got 'c')"``.
    """
    values = literal_values(allowed)
    if not any(_same(value, a) for a in values):
        opts = ", ".join(repr(a) for a in values)
        raise InputError(f"{name} must be one of {opts} (got {value!r})")
    return value


def check_alpha(alpha: Any, name: str = "alpha") -> float:
    """A level strictly between 0 and 1, as a float."""
    if isinstance(alpha, bool):
        raise InputError(f"{name} must lie strictly between 0 and 1 (got {alpha!r})")
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise InputError(f"{name} must lie strictly between 0 and 1 (got {alpha!r})") from None
    if not 0.0 < a < 1.0:
        raise InputError(f"{name} must lie strictly between 0 and 1 (got {alpha!r})")
    return a


def check_int(name: str, value: Any, minimum: int, *, allow_none: bool = False) -> int | None:
    """An integer (not a bool) at least ``minimum`` (or ``None`` if allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        req = f"an integer >= {minimum}" + (" or None" if allow_none else "")
        raise InputError(f"{name} must be {req} (got {value!r})")
    return int(value)


def check_seed(seed: Any, *, name: str = "seed", allow_none: bool = True) -> int | None:
    """A non-negative integer seed (``None`` = fresh entropy where allowed)."""
    return check_int(name, seed, 0, allow_none=allow_none)


def check_draws(name: str, n: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
    """A number of resampling draws: a positive integer, at most ``maximum``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise InputError(f"{name} must be a positive integer (got {n!r})")
    if maximum is not None and n > maximum:
        raise InputError(f"{name} {int(n):,} is above the limit of {maximum:,}")
    return int(n)


def comparison_group(value: Any, allowed: Sequence[str], default: str | None = None) -> str | None:
    """Normalise a comparison-group option onto ``never`` / ``notyet`` / ``last``.

    ``allowed`` is the subset the estimator supports. The older spelling
    ``"auto"`` (= the estimator's default) is accepted with a
    ``DeprecationWarning``; ``None`` returns ``default``.
    """
    if value is None:
        return default
    if isinstance(value, str) and value in _OLD_SPELLINGS:
        new = _OLD_SPELLINGS[value]
        warnings.warn(
            f"control={value!r} is deprecated; use "
            + (f"control={new!r}" if new else "control=None (the default)"),
            DeprecationWarning,
            stacklevel=3,
        )
        value = default if new is None else new
        if value is None:
            return None
    return check_option("control", value, tuple(allowed))


def check_weights(values: Any, name: str) -> np.ndarray:
    """Observation weights from column ``name``: numeric, finite, non-negative, not all zero.

    Returns the weights as a float array. Zero weights are allowed (the rows
    then carry no information; the panel preparation drops them with a note,
    as fixest does).
    """
    import pandas as pd

    s = pd.Series(values)
    if pd.api.types.is_bool_dtype(s):
        raise InputError(f"weights column {name!r} is boolean; give numeric weights")
    if not pd.api.types.is_numeric_dtype(s):
        conv = pd.to_numeric(s, errors="coerce")
        bad = s.notna() & conv.isna()
        if bad.any():
            raise InputError(
                f"weights column {name!r} is not numeric ({int(bad.sum())} value(s) such as "
                f"{s[bad].iloc[0]!r})"
            )
        s = conv
    w = s.to_numpy(dtype=np.float64)
    if not np.isfinite(w).all():
        raise InputError(
            f"weights column {name!r} has {int((~np.isfinite(w)).sum())} missing or "
            "non-finite value(s)"
        )
    if (w < 0).any():
        raise InputError(f"weights column {name!r} has {int((w < 0).sum())} negative value(s)")
    if not (w > 0).any():
        raise InputError(f"weights column {name!r} is zero everywhere")
    return w
