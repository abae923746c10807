"""How results reach the report layer without importing it.

``results`` and ``inference`` sit below ``report`` (data -> estimators ->
inference -> report -> studies -> pipeline/cli) and never import it. Their
convenience methods (``DiDResult.plot``, ``.to_latex``, ``.to_markdown``,
``HonestResult.plot``) call :func:`present`, which looks up a function *bound
at the top of the package* (:mod:`analysis`'s ``__init__`` binds the report
functions by name) and imports it only when called. A user can bind their own
presenter with :func:`bind`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

_BOUND: dict[str, str | Callable[..., Any]] = {}


def bind(name: str, target: str | Callable[..., Any]) -> None:
    """Bind presenter ``name`` to a function or to ``"module:function"`` (imported on use)."""
    _BOUND[name] = target


def present(name: str) -> Callable[..., Any]:
    """The presenter bound to ``name``."""
    try:
        target = _BOUND[name]
    except KeyError:
        raise LookupError(f"no presenter bound to {name!r}") from None
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
