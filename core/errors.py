"""Errors an operator can act on.

Every exception that reaches the CLI or the console as a message derives from
``SincroError``: its text names the thing that is wrong and how to fix it, and
never contains a secret.
"""

from __future__ import annotations


class SincroError(Exception):
    """An error with a message fit for the operator (no traceback shown)."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message}; {hint}")

    def __str__(self) -> str:  # one line, message then the fix
        return self.message if not self.hint else f"{self.message}; {self.hint}"


class ConfigError(SincroError):
    """Bad input or configuration: usage errors, invalid values."""


class NotFound(SincroError):
    """A named thing (account, run, document...) does not exist."""


class StoreError(SincroError):
    """The database cannot be opened, is locked or is newer than the code."""


class DiskFull(StoreError):
    """A write failed because the filesystem is full: the message names the file and the
    space left (core.store.faults builds it)."""


class StoreDamaged(StoreError):
    """A database is corrupted, or is empty while its companion says it should not be: it
    is not taken for a new one, and the message names the way to restore it."""
