"""Typed errors. Anything a user can cause by bad input is an :class:`InputError`.

The CLI turns an ``InputError`` into one line on stderr and exit status 2; every
other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: a one-line message naming the problem.

    ``problems`` optionally carries every problem found (for example by a panel
    check), so that callers can report all of them rather than the first.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems) if problems else [message]


class DataIntegrityError(RuntimeError):
    """A shipped raw file does not match its manifest (checksum or schema)."""
