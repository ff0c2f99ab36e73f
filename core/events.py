"""What the engine tells its clients (console, daemon): frozen dataclasses, built by
keyword; a run's counts are read-only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from core.kinds import Level, Outcome, RunKind, Trigger

# ``extra`` of a log record whose text also goes out as an event (a run's line, a notice):
# a log that prints the events leaves such records out, so each line is written once.
ALSO_AN_EVENT: dict[str, Any] = {"sincro_event": True}


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(Event):
    run_id: int
    account: str
    kind: RunKind
    trigger: Trigger
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RunProgress(Event):
    run_id: int
    account: str
    step: str
    done: int
    total: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LogLine(Event):
    run_id: int | None
    account: str | None
    at: datetime
    level: Level
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished(Event):
    run_id: int
    account: str
    kind: RunKind
    trigger: Trigger
    outcome: Outcome
    counts: Mapping[str, int] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    duration_s: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", MappingProxyType(dict(self.counts)))


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRefused(Event):
    account: str
    kind: RunKind
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice(Event):
    """Anything else worth a line: scheduler decisions, notices sent..."""

    message: str
    level: Level = Level.INFO
    account: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
