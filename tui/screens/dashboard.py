"""The dashboard (view 6): how the business goes, per account, at a glance.

One line per account (orders imported and failed runs over the last 30 days, the next
run), and the charts of one account at a time (`a` shows the next one): orders
imported per day with the days of failed runs marked, the longest run of each day,
the next scheduled runs. It reads the hub in a worker (`tui.activity`: one aggregate
query, and the schedules), when it is shown and when a run has finished; a cheap look
at the runs and schedules first spares the aggregate when nothing changed.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from tui import format as fmt
from tui.activity import Activity, activity_stamp, load_activity
from tui.context import console
from tui.widgets.activity_panel import ActivityPanel, plural
from tui.widgets.tones import tone
from tui.workers import ReportsFailures


class DashboardView(ReportsFailures, Vertical, can_focus=True):
    BINDINGS = [
        Binding("a", "next_account", "Next account", id="dashboard-next",
                tooltip="Show the charts of the next account"),
        Binding("r", "refresh", "Refresh", id="dashboard-refresh",
                tooltip="Read the dashboard's figures from the hub again"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.activity: list[Activity] = []
        self.account: str | None = None  # the account whose charts are shown
        self._stamp: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="dashboard-accounts")
        yield ActivityPanel(id="dashboard-panel")

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self.show, init=False)

    @property
    def panel(self) -> ActivityPanel:
        return self.query_one(ActivityPanel)

    @property
    def shown(self) -> Activity | None:
        for activity in self.activity:
            if activity.account == self.account:
                return activity
        return self.activity[0] if self.activity else None

    # -- loading --------------------------------------------------------------
    def load(self, *, force: bool = False) -> None:
        """Read the figures again if a run or a schedule changed since the last read."""
        self.run_worker(self._load(force), group="dashboard-load", exclusive=True,
                        exit_on_error=False, name="Loading the dashboard")

    async def _load(self, force: bool) -> None:
        app = console(self)
        engine = app.engine
        if engine is None:
            return
        now = app.clock()
        stamp = (await activity_stamp(engine.database), now.astimezone(app.tz).date())
        if stamp == self._stamp and not force:
            return
        self.activity = await load_activity(engine.database, app.tz, now)
        self._stamp = stamp
        self.show()

    def show(self) -> None:
        shown = self.shown
        self.account = shown.account if shown else None
        lines = Text(no_wrap=True, overflow="ellipsis")
        for activity in self.activity:
            if lines:
                lines.append("\n")
            this = activity is shown
            lines.append("▶ " if this else "  ", style="bold" if this else "")
            lines.append(f"{fmt.safe(activity.account):<14.14}", style="bold" if this else "")
            orders, runs = plural(activity.orders, "order"), plural(activity.runs, "run")
            lines.append(f"{orders:>13}  {runs:>9}  ")
            failed = f"{activity.failed} failed"
            lines.append(f"{failed:<10}",
                         style=tone(self.app, "error") if activity.failed else "dim")
            nxt = fmt.when(activity.next_runs[0], console(self).tz) \
                if activity.next_runs else "—"
            lines.append(f"  next {nxt}")
        if not self.activity:
            lines.append("No accounts yet: add one in the accounts view (1, then n).",
                         style="dim")
        self.query_one("#dashboard-accounts", Static).update(lines)
        self.panel.show(shown, console(self).tz)

    # -- actions ----------------------------------------------------------------
    def action_next_account(self) -> None:
        if not self.activity:
            return
        names = [a.account for a in self.activity]
        at = names.index(self.account) if self.account in names else -1
        self.account = names[(at + 1) % len(names)]
        self.show()

    def action_refresh(self) -> None:
        self.load(force=True)

    def focus_main(self) -> None:
        self.focus()
