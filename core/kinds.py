"""The words of a run, defined once: its kind, what started it, how it ended, and the
level of each of its log lines.

They are ``StrEnum``s: each member is its string (``RunKind.ORDERS == "orders"``, the same
hash, ``str()``, ``format()`` and JSON), so the hub's ``runs`` and ``run_logs`` columns, the
daemon's lines and every ``--json`` output hold the same plain strings as before. The
engine, the recorder and the events take these types; what is read back from the hub
(``RunSummary``, ``run_log``) stays the recorded text, which a hub of another version may
hold other values in, and compares equal to the members.
"""

from __future__ import annotations

from enum import StrEnum


class RunKind(StrEnum):
    """What a run does: a sync pipeline (``core.sync.pipeline.PIPELINES``), or another
    operation of ``Engine.run_operation``."""

    # the sync pipelines
    ORDERS = "orders"
    CUSTOMERS = "customers"
    FULL = "full"
    STATES = "states"
    LISTINGS = "listings"  # also `sincro listing run NAME` and the console's listing run
    SCHEDULED = "scheduled"
    # the other operations
    RESYNC = "resync"  # `sincro resync`
    CURSOR = "cursor"  # a cursor moved (`sincro cursor set`)
    # a reconcile fix, one per category of core.resync.FIXES
    FIX_MISSING = "fix-missing"
    FIX_DIFFERS = "fix-differs"
    FIX_STATES = "fix-states"
    FIX_CUSTOMERS = "fix-customers"
    FIX_DOUBLED_CUSTOMERS = "fix-doubled_customers"
    FIX_REFUNDS = "fix-refunds"  # refunds missing from the ERP become credit notes

    @classmethod
    def fix(cls, category: str) -> RunKind:
        """The run kind of a reconcile fix: ``fix(\"missing\")`` is ``FIX_MISSING``; an
        unknown category raises ``ValueError``."""
        return cls(f"fix-{category}")


class Trigger(StrEnum):
    """What started a run."""

    CLI = "cli"  # a command
    CONSOLE = "console"  # a key in the console
    SCHEDULE = "schedule"  # a schedule (the daemon's or the console's scheduler)


class Outcome(StrEnum):
    """How a run ended."""

    OK = "ok"
    PARTIAL = "partial"  # it went through, with errors on some items
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # cancelled, or its process ended (resumes on the next run)


class Level(StrEnum):
    """A log line's level, lowest first."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
