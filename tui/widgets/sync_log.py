"""The live log: a `Log` fed in batches on a 100 ms timer, filtered and coloured by level."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Any

from rich.highlighter import Highlighter
from rich.style import Style
from rich.text import Text
from textual.widgets import Log

from core.events import LogLine
from core.kinds import Level
from tui import format as fmt

LEVELS = tuple(Level)  # lowest first
TAGS = {Level.DEBUG: "DEBUG", Level.INFO: "INFO ", Level.WARNING: "WARN ", Level.ERROR: "ERROR"}
CAPACITY = 100_000
TAG_AT = 9  # "07:02:13 " then the level tag


@dataclass(frozen=True, slots=True)
class LogEntry:
    account: str | None
    run_id: int | None
    level: Level
    text: str

    @classmethod
    def from_event(cls, line: LogLine, tz: tzinfo) -> LogEntry:
        tag = TAGS.get(line.level, line.level[:5].upper().ljust(5))
        who = (line.account or "sincro")[:12].ljust(12)
        text = f"{fmt.clock(line.at, tz)} {tag} {who} {fmt.one_line(line.message)}"
        return cls(line.account, line.run_id, line.level, text)


@dataclass(frozen=True, slots=True)
class LogFilter:
    account: str | None = None
    run_id: int | None = None
    level: Level = Level.INFO  # the lowest level shown
    search: str = ""

    def matches(self, entry: LogEntry) -> bool:
        if self.account is not None and entry.account != self.account:
            return False
        if self.run_id is not None and entry.run_id != self.run_id:
            return False
        if entry.level in LEVELS and LEVELS.index(entry.level) < LEVELS.index(self.level):
            return False
        return not self.search or self.search.lower() in entry.text.lower()

    def describe(self) -> str:
        parts = [f"account: {self.account or 'all'}"]
        if self.run_id is not None:
            parts.append(f"run #{self.run_id}")
        parts.append(f"level: {self.level}+")
        if self.search:
            parts.append(f"search: {self.search!r}")
        return "  ".join(parts)

    def with_(self, **changes: Any) -> LogFilter:
        return replace(self, **changes)


class LevelHighlighter(Highlighter):
    """Colours the level tag, and whole lines for warnings and errors (theme colours)."""

    def __init__(self) -> None:
        self.styles: dict[str, Style] = {}

    def highlight(self, text: Text) -> None:
        tag = text.plain[TAG_AT:TAG_AT + 5]
        style = self.styles.get(tag)
        if style is None:
            return
        if tag in ("ERROR", "WARN "):
            text.stylize(style)
        else:
            text.stylize(style, TAG_AT, TAG_AT + 5)


class SyncLog(Log):
    """Keeps every line (up to CAPACITY); shows those its filter matches."""

    def __init__(self, *, capacity: int = CAPACITY, id: str | None = None) -> None:
        super().__init__(highlight=True, max_lines=capacity, id=id)
        self.entries: deque[LogEntry] = deque(maxlen=capacity)
        self._pending: list[LogEntry] = []
        self.filter = LogFilter()
        self.levels = LevelHighlighter()
        self.highlighter = self.levels

    def on_mount(self) -> None:
        self.set_interval(0.1, self.flush, name="log-flush")
        self.watch(self.app, "theme", self._theme_changed, init=True)

    def _theme_changed(self) -> None:
        colours = self.app.theme_variables
        self.levels.styles = {
            "ERROR": Style(color=colours["error"], bold=True),
            "WARN ": Style(color=colours["warning"]),
            "INFO ": Style(color=colours["success"]),
            "DEBUG": Style(dim=True),
        }
        self._render_line_cache.clear()
        self.refresh()

    def add(self, entries: Iterable[LogEntry]) -> None:
        """Queue lines; the timer writes them (one write per 100 ms, whatever the rate)."""
        entries = list(entries)
        self.entries.extend(entries)
        self._pending.extend(entries)

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        lines = [e.text for e in pending if self.filter.matches(e)]
        if lines:
            self.write_lines(lines)

    def apply(self, new: LogFilter) -> None:
        """Show the kept lines again through a new filter."""
        self.filter = new
        self._pending.clear()
        self.clear()
        self.write_lines([e.text for e in self.entries if new.matches(e)])

    @property
    def shown(self) -> list[str]:
        """The lines on display (for tests and search)."""
        return list(self.lines)
