"""The live log view: every account's lines as they arrive, filtered, followed or paused."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static

from core.events import LogLine
from tui import format as fmt
from tui.context import console
from tui.widgets.sync_log import LEVELS, LogEntry, LogFilter, SyncLog


class LogView(Vertical):
    BINDINGS = [
        Binding("a", "cycle_account", "Account", id="log-account"),
        Binding("v", "cycle_level", "Level", id="log-level"),
        Binding("space", "toggle_follow", "Follow/pause", id="log-follow"),
        Binding("slash", "search", "Search", id="log-search", key_display="/"),
        Binding("escape", "clear_filters", "Clear filters", id="log-clear"),
        Binding("end", "latest", "Latest", id="log-latest", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.accounts: list[str] = []
        self.following = True

    def compose(self) -> ComposeResult:
        with Horizontal(id="log-bar"):
            yield Static(id="log-status")
            yield Input(placeholder="/ search, enter", id="log-search-input", compact=True)
        yield SyncLog(id="sync-log")

    def on_mount(self) -> None:
        self.show_status()

    @property
    def log_widget(self) -> SyncLog:
        return self.query_one(SyncLog)

    def add_lines(self, lines: list[LogLine]) -> None:
        tz = console(self).tz
        self.log_widget.add(LogEntry.from_event(line, tz) for line in lines)

    def show_status(self) -> None:
        f = self.log_widget.filter
        text = Text(fmt.safe(f.describe()))
        text.append("  ")
        text.append("following" if self.following else "paused", style="bold")
        self.query_one("#log-status", Static).update(text)

    def apply(self, new: LogFilter) -> None:
        self.log_widget.apply(new)
        if self.following:
            self.log_widget.scroll_end(animate=False)
        self.show_status()

    def show_account(self, account: str | None, run_id: int | None = None) -> None:
        self.apply(self.log_widget.filter.with_(account=account, run_id=run_id))

    def action_cycle_account(self) -> None:
        options: list[str | None] = [None, *self.accounts]
        current = self.log_widget.filter.account
        index = options.index(current) if current in options else 0
        self.show_account(options[(index + 1) % len(options)])

    def action_cycle_level(self) -> None:
        level = self.log_widget.filter.level
        self.apply(self.log_widget.filter.with_(level=LEVELS[(LEVELS.index(level) + 1) % 4]))

    def action_toggle_follow(self) -> None:
        self.following = not self.following
        self.log_widget.auto_scroll = self.following
        if self.following:
            self.log_widget.scroll_end(animate=False)
        self.show_status()

    def action_latest(self) -> None:
        self.log_widget.scroll_end(animate=False)

    def action_search(self) -> None:
        self.query_one("#log-search-input", Input).focus()

    def action_clear_filters(self) -> None:
        search = self.query_one("#log-search-input", Input)
        search.value = ""
        self.apply(LogFilter())
        self.log_widget.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.apply(self.log_widget.filter.with_(search=event.value.strip()))
        self.log_widget.focus()

    def focus_main(self) -> None:
        self.log_widget.focus()
