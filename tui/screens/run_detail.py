"""One run: what started it, when, its counts, its errors and its whole log."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from core.events import LogLine
from core.kinds import Level
from core.runs import get_run, run_log
from tui import format as fmt
from tui.context import console
from tui.widgets.footer import ConsoleFooter
from tui.widgets.sync_log import LogEntry, LogFilter, SyncLog
from tui.widgets.tones import outcome_style, tone
from tui.workers import ReportsFailures


class RunDetailScreen(ReportsFailures, Screen):
    BINDINGS = [
        Binding("escape,backspace", "app.pop_screen", "Back", id="run-back"),
        Binding("v", "cycle_level", "Level", id="run-level"),
    ]

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id

    def compose(self) -> ComposeResult:
        yield Static(Text(f" Run #{self.run_id}", style="bold"), id="run-title")
        yield Static(id="run-head")
        yield Static(id="run-errors")
        yield SyncLog(id="run-log")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one(SyncLog).filter = LogFilter(level=Level.DEBUG)
        self.run_worker(self._load(), group="run-detail", exclusive=True, exit_on_error=False,
                        name=f"Loading run #{self.run_id}")

    async def _load(self) -> None:
        engine = console(self).running_engine()
        tz = console(self).tz
        run = await get_run(engine.database, self.run_id)
        head = self.query_one("#run-head", Static)
        if run is None:
            head.update(Text(f"run {self.run_id} no longer exists (old runs are pruned)"))
            return
        text = Text(f"{run.account} · {run.kind} sync · started by {run.trigger} · "
                    f"{fmt.when(run.started_at, tz)} · took {fmt.duration(run.duration_s)} · ")
        text.append(fmt.outcome(run.outcome), style=outcome_style(self.app, run.outcome))
        text.append(f"\n{fmt.counts(run.counts)}")
        if run.steps:
            text.append(f"\nsteps: {', '.join(run.steps)}", style="dim")
        head.update(text)
        errors = self.query_one("#run-errors", Static)
        if run.errors:
            body = Text(f"{len(run.errors)} error(s):", style=tone(self.app, "error"))
            for error in run.errors:
                body.append(f"\n• {fmt.one_line(error)}")
            errors.update(body)
        else:
            errors.display = False
        rows = await run_log(engine.database, self.run_id)
        log = self.query_one(SyncLog)
        log.add(LogEntry.from_event(LogLine(run_id=self.run_id, account=run.account,
                                            at=datetime.fromisoformat(at), level=level,
                                            message=message), tz)
                for _id, at, level, message in rows)
        log.flush()
        log.scroll_home(animate=False)

    def action_cycle_level(self) -> None:
        from tui.widgets.sync_log import LEVELS

        log = self.query_one(SyncLog)
        level = LEVELS[(LEVELS.index(log.filter.level) + 1) % len(LEVELS)]
        log.apply(log.filter.with_(level=level))
        self.notify(f"showing {level} and above", timeout=2)
