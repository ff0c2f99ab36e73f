"""How the console writes times, durations, counts and outcomes: one place, one style."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, tzinfo

from core.kinds import Outcome, RunKind
from core.runs import describe_counts
from core.textsafe import visible

counts = describe_counts  # one wording for counts, in the console and the CLI

OUTCOME_MARK: dict[str, str] = {Outcome.OK: "✓", Outcome.PARTIAL: "!", Outcome.FAILED: "✗",
                                Outcome.INTERRUPTED: "✗"}



def when(value: datetime | str | None, tz: tzinfo) -> str:
    """'28 Nov 07:02' in the console's zone; '—' for nothing; a stored value that is
    not a time, as text."""
    if value is None or value == "":
        return "—"
    try:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.astimezone(tz).strftime("%d %b %H:%M")
    except (ValueError, OverflowError, OSError, AttributeError):
        return safe(value)


def clock(value: datetime, tz: tzinfo) -> str:
    return value.astimezone(tz).strftime("%H:%M:%S")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if isinstance(seconds, float) and math.isnan(seconds):
        return "NaN"  # SQLite keeps a stored 'NaN' as that text, PostgreSQL as a float
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return safe(seconds)  # a stored value that is not a number of seconds ('inf')
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


# The one count that says most about a run of each kind (for narrow columns).
HEADLINE: dict[str, tuple[str, str]] = {
    RunKind.ORDERS: ("orders_imported", "orders"), RunKind.SCHEDULED: ("orders_imported", "orders"),
    RunKind.CUSTOMERS: ("customers_updated", "updated"),
    RunKind.FULL: ("articles_created", "created"), RunKind.STATES: ("states_pushed", "states"),
    RunKind.LISTINGS: ("listing_actions", "actions")}


def headline(kind: str, values: Mapping[str, int]) -> str:
    """' 1 err' when a run had errors, else its main count: ' 12 orders'."""
    if values.get("errors"):
        return f" {values['errors']} err"
    key, label = HEADLINE.get(kind, ("", ""))
    return f" {values[key]} {label}" if values.get(key) else ""


def outcome(value: str | None) -> str:
    if value is None:
        return "running"
    return f"{OUTCOME_MARK.get(value, '?')} {value}"


def progress(step: str, done: int, total: int | None) -> str:
    return f"{step} {done}/{total}" if total else f"{step} {done}"


def one_line(text: object) -> str:
    """Shop or ERP text on one line, spaces squeezed, control characters shown (\\x1b)."""
    return visible(" ".join(str(text).split()))


def safe(text: object) -> str:
    """Shop or ERP text for a cell or a toast: one line, control characters shown."""
    return visible(text)
