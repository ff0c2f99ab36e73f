"""Run history: every run with kind, trigger, outcome, counts and duration; open one.

`g` shows instead the charts of the account it shows (the dashboard's, tui.activity):
orders imported per day with failed runs marked, the longest run of each day, the
next runs."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from core.runs import RunSummary, list_runs
from tui import format as fmt
from tui.activity import activity_stamp, load_activity
from tui.context import console
from tui.widgets.activity_panel import ActivityPanel
from tui.widgets.run_table import RunTable
from tui.widgets.tones import tone
from tui.workers import ReportsFailures

LIMIT = 500


class HistoryView(ReportsFailures, Vertical, can_focus=True):
    BINDINGS = [
        Binding("enter", "open", "Open run", id="history-open", priority=True),
        Binding("l", "live_log", "Live log of run", id="history-live-log",
                tooltip="The live log, showing only the selected run's lines"),
        Binding("a", "toggle_scope", "This account/all", id="history-scope"),
        Binding("r", "refresh", "Refresh", id="history-refresh"),
        Binding("g", "toggle_charts", "Charts/runs", id="history-charts", show=False,
                tooltip="Charts of the account (orders per day, failed runs, durations, "
                "next runs), or the runs"),
    ]

    class RunLogRequested(Message):
        def __init__(self, account: str, run_id: int) -> None:
            super().__init__()
            self.account = account
            self.run_id = run_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.account: str | None = None  # the selected account, from the accounts view
        self.only_account = False
        self.runs: dict[int, RunSummary] = {}
        self._charts_stamp: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="history-status")
        yield RunTable(id="run-table")
        yield Static(id="run-summary")
        yield ActivityPanel(id="history-panel")

    def on_mount(self) -> None:
        self.query_one(RunTable).tz = console(self).tz

    def load(self) -> None:
        self.run_worker(self._load(), group="history-load", exclusive=True,
                        exit_on_error=False, name="Loading run history")

    async def _load(self) -> None:
        engine = console(self).engine
        if engine is None:
            return
        scope = self.account if self.only_account else None
        runs = await list_runs(engine.database, scope, limit=LIMIT)
        self.runs = {r.id: r for r in runs}
        self.query_one(RunTable).show(runs)
        where = f"runs of {scope}" if scope else "runs of all accounts"
        status = f"{where}, newest first ({len(runs)}); g: charts"
        if self.charts:
            status = f"charts of {self.account or 'no account'}; g: the runs"
        self.query_one("#history-status", Static).update(Text(status))
        self.show_summary(self.query_one(RunTable).selected)
        if self.charts:
            await self._load_charts()

    async def _load_charts(self) -> None:
        """The account's figures, read again only when a run or a schedule changed."""
        app = console(self)
        db = app.running_engine().database
        now = app.clock()
        stamp = (await activity_stamp(db), now.astimezone(app.tz).date(), self.account)
        if stamp == self._charts_stamp:
            return
        shown = [a for a in await load_activity(db, app.tz, now) if a.account == self.account]
        self._charts_stamp = stamp
        self.query_one(ActivityPanel).show(shown[0] if shown else None, app.tz)

    @property
    def charts(self) -> bool:
        return self.has_class("-charts")

    def show_summary(self, run_id: int | None) -> None:
        run = self.runs.get(run_id or 0)
        box = self.query_one("#run-summary", Static)
        if run is None:
            box.update(Text("No runs yet.", style="dim"))
            return
        text = Text(f"#{run.id} {run.account} {run.kind}: {fmt.counts(run.counts)}")
        if run.errors:
            text.append(f"\n{len(run.errors)} error(s); first: {fmt.one_line(run.errors[0])}",
                        style=tone(self.app, "error"))
        box.update(text)

    def on_run_table_run_highlighted(self, event: RunTable.RunHighlighted) -> None:
        self.show_summary(event.run_id)

    def action_open(self) -> None:
        run_id = self.query_one(RunTable).selected
        if run_id is not None:
            from tui.screens.run_detail import RunDetailScreen

            self.app.push_screen(RunDetailScreen(run_id))

    def action_live_log(self) -> None:
        run = self.runs.get(self.query_one(RunTable).selected or 0)
        if run is not None:
            self.post_message(self.RunLogRequested(run.account, run.id))

    def action_toggle_scope(self) -> None:
        self.only_account = not self.only_account and self.account is not None
        self.load()

    def action_refresh(self) -> None:
        self.load()

    def action_toggle_charts(self) -> None:
        self.toggle_class("-charts")
        self.focus_main()
        self.load()

    def focus_main(self) -> None:
        if self.charts:
            self.focus()
        else:
            self.query_one(RunTable).focus()

