"""The main screen: a view bar, the six views in a switcher, the footer.

Every view stays mounted, so the live log keeps every line while another
view is shown. Engine events arrive here as messages (from the bridge) and
are handed down to the views that show them.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import ContentSwitcher
from textual.worker import Worker

from core.events import LogLine
from core.kinds import Level, Outcome
from tui import bridge
from tui import format as fmt
from tui.context import console
from tui.data import ForeignRuns
from tui.screens.accounts import AccountsView
from tui.screens.dashboard import DashboardView
from tui.screens.erp import ErpView
from tui.screens.history import HistoryView
from tui.screens.listings import ListingsView
from tui.screens.log import LogView
from tui.screens.quit_dialog import QuitDialog, running_here
from tui.widgets.account_table import AccountTable
from tui.widgets.footer import ConsoleFooter
from tui.widgets.view_bar import ViewBar
from tui.workers import ReportsFailures

SEVERITY: dict[str, SeverityLevel] = {Outcome.OK: "information", Outcome.PARTIAL: "warning"}


class MainScreen(ReportsFailures, Screen):
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("1", "show('accounts')", "Accounts", id="view-accounts", show=False,
                tooltip="Show the accounts"),
        Binding("2", "show('log')", "Live log", id="view-log", show=False,
                tooltip="Show the live log"),
        Binding("3", "show('history')", "Run history", id="view-history", show=False,
                tooltip="Show the run history"),
        Binding("4", "show('erp')", "ERP", id="view-erp", show=False,
                tooltip="Show the embedded ERP"),
        Binding("5", "show('listings')", "Listings", id="view-listings", show=False,
                tooltip="Show the listings and sales lists"),
        Binding("6", "show('dashboard')", "Dashboard", id="view-dashboard", show=False,
                tooltip="Show the dashboard: orders per day, failed runs, run durations, "
                "next runs"),
    ]

    def compose(self) -> ComposeResult:
        yield ViewBar(id="view-bar")
        with ContentSwitcher(initial="accounts", id="views"):
            yield AccountsView(id="accounts")
            yield LogView(id="log")
            yield HistoryView(id="history")
            yield ErpView(id="erp")
            yield ListingsView(id="listings")
            yield DashboardView(id="dashboard")
        yield ConsoleFooter()

    @property
    def accounts(self) -> AccountsView:
        return self.query_one(AccountsView)

    @property
    def live_log(self) -> LogView:
        return self.query_one(LogView)

    @property
    def history(self) -> HistoryView:
        return self.query_one(HistoryView)

    @property
    def dashboard(self) -> DashboardView:
        return self.query_one(DashboardView)

    @property
    def current(self) -> str:
        return self.query_one(ContentSwitcher).current or "accounts"

    def action_show(self, view: str) -> None:
        self.query_one(ContentSwitcher).current = view
        self.query_one(ViewBar).current = view
        target = self.query_one(f"#{view}")
        if view == "accounts":
            self.query_one(AccountTable).focus()
        else:
            target.focus_main()  # type: ignore[attr-defined]
        if view == "erp":
            self.query_one(ErpView).load()
        if view == "listings":
            self.query_one(ListingsView).load()
        if view == "dashboard":
            self.dashboard.load()
        self.refresh_bindings()

    _foreign: ForeignRuns | None = None
    _lines_look: Worker[None] | None = None

    def on_mount(self) -> None:
        self.query_one(AccountTable).focus()
        self.watch(self.app, "theme", self._theme_changed, init=False)

    def _theme_changed(self) -> None:
        """Cells carry theme colours: draw them again in the new theme."""
        if console(self).engine is not None:
            self.accounts.load()
            self.history.load()
            self.query_one(ErpView).forget_rows()
            if self.current == "erp":
                self.query_one(ErpView).load()
            if self.current == "listings":
                self.query_one(ListingsView).load()

    def action_quit(self) -> None:
        """Quit; a sync in progress is interrupted (it resumes on its next run), so ask."""
        running = running_here(self.app.workers, self.accounts.live)
        if not running:
            self.app.exit(0)
            return

        def answer(quit_now: bool | None) -> None:
            if quit_now:
                self.app.exit(0)

        self.app.push_screen(QuitDialog(running), answer)

    def _runs_ended(self) -> None:
        """The quit dialog, if it is up, says which of its runs have finished."""
        for screen in self.app.screen_stack:
            if isinstance(screen, QuitDialog):
                screen.update_running(running_here(self.app.workers, self.accounts.live))

    def on_accounts_view_run_ended(self, message: AccountsView.RunEnded) -> None:
        self._runs_ended()

    def on_engine_failed(self, message: bridge.EngineFailed) -> None:
        self.accounts.show_failure(message.reason)

    def on_engine_ready(self, message: bridge.EngineReady) -> None:
        self.accounts.load()
        self.history.load()
        self.set_interval(console(self).refresh_every, self._poll)
        self.set_interval(console(self).lines_every, self._poll_lines)
        self.refresh_bindings()

    def _poll(self) -> None:
        """Runs of other processes (the daemon) only show in the hub: look again."""
        if self.current == "dashboard":
            self.dashboard.load()  # a look at what changed; figures only if something did
        self.accounts.load()
        if self.current == "history":
            self.history.load()
        self._poll_lines()

    def _poll_lines(self) -> None:
        """Other processes' log lines: one cheap look while nothing new is committed. A look
        still going is left to finish (a new one replacing it would, on a loaded machine,
        cancel every look before it ends)."""
        if self._lines_look is not None and not self._lines_look.is_finished:
            return
        self._lines_look = self.run_worker(
            self._foreign_lines(), group="foreign-log", exit_on_error=False,
            name="Reading other processes' runs")

    async def _foreign_lines(self) -> None:
        engine = console(self).engine
        if engine is None:
            return
        if self._foreign is None:
            self._foreign = ForeignRuns(engine.owner)
        lines = await self._foreign.poll(engine.database)
        if lines:
            self.live_log.add_lines(lines)

    # -- from the views ----------------------------------------------------
    def on_accounts_view_accounts_loaded(self, message: AccountsView.AccountsLoaded) -> None:
        self.live_log.accounts = message.names
        self.history.account = self.accounts.selected

    def on_account_table_account_selected(self, message: AccountTable.AccountSelected) -> None:
        self.history.account = message.name
        if self.current != "dashboard":
            self.dashboard.account = message.name  # the dashboard opens on it

    def on_accounts_view_log_requested(self, message: AccountsView.LogRequested) -> None:
        self.action_show("log")
        self.live_log.show_account(message.account)

    def on_history_view_run_log_requested(self, message: HistoryView.RunLogRequested) -> None:
        self.action_show("log")
        self.live_log.show_account(message.account, message.run_id)

    # -- from the engine (through the bridge) ----------------------------------
    def on_lines_logged(self, message: bridge.LinesLogged) -> None:
        self.live_log.add_lines(message.lines)

    def on_run_started(self, message: bridge.RunStarted) -> None:
        self.accounts.run_started(message.event)

    def on_run_progressed(self, message: bridge.RunProgressed) -> None:
        self.accounts.run_progressed(message.event)

    def on_run_finished(self, message: bridge.RunFinished) -> None:
        e = message.event
        self.accounts.run_finished(e)
        self._runs_ended()
        self.history.load()
        if self.current == "dashboard":
            self.dashboard.load()  # else when it is shown: it sees the run has ended
        body = f"{e.kind} sync {fmt.outcome(e.outcome)} in {fmt.duration(e.duration_s)}: " \
               f"{fmt.counts(e.counts)}"
        if e.errors:
            body += f"\nfirst error: {fmt.one_line(e.errors[0])}"
        if not e.run_id:  # a dry run: nothing recorded, nothing written
            body += "\nnothing was written (dry run)"
        title = f"{e.account}: run #{e.run_id} finished" if e.run_id else \
            f"{e.account}: dry run finished"
        self.app.notify(body, title=title,
                        severity=SEVERITY.get(e.outcome, "error"), markup=False,
                        timeout=8)

    def on_run_refused(self, message: bridge.RunRefused) -> None:
        e = message.event
        self.accounts.run_refused(e)
        self.live_log.add_lines([LogLine(run_id=None, account=e.account,
                                         at=console(self).clock(), level=Level.WARNING,
                                         message=f"{e.kind} sync refused: {e.reason}")])

    def on_notice_arrived(self, message: bridge.NoticeArrived) -> None:
        e = message.event
        self.live_log.add_lines([LogLine(run_id=None, account=e.account,
                                         at=console(self).clock(), level=e.level,
                                         message=e.message)])
