"""The accounts view: every account's state, and the selected account's actions."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.worker import Worker

from core import events as ev
from core.kinds import RunKind, Trigger
from core.sync.full import quota
from tui import format as fmt
from tui.context import console
from tui.data import AccountInfo, customers_in_hub, load_accounts
from tui.screens.dialogs import ConfirmScreen
from tui.widgets.account_detail import AccountDetail, quota_text
from tui.widgets.account_table import AccountTable, LiveRun
from tui.workers import ReportsFailures

SYNC_LABELS: dict[str, str] = {
    RunKind.ORDERS: "Orders sync", RunKind.CUSTOMERS: "Customers sync",
    RunKind.FULL: "Full sync", RunKind.STATES: "States push", RunKind.LISTINGS: "Listing rules",
    RunKind.SCHEDULED: "Scheduled run"}
ACCOUNT_ACTIONS = {"sync", "edit", "schedule", "show_log", "reconcile", "review"}


class AccountsView(ReportsFailures, Vertical):
    BINDINGS = [
        Binding("o", "sync('orders')", "Orders", id="sync-orders",
                tooltip="Orders sync: import new orders, push them to the ERP"),
        Binding("c", "sync('customers')", "Customers", id="sync-customers",
                tooltip="Customers sync: update every known customer (asks first: long)"),
        Binding("f", "sync('full')", "Full", id="sync-full",
                tooltip="Full sync: realign customers and articles (shows the quota)"),
        Binding("s", "sync('states')", "States", id="sync-states",
                tooltip="States push: ERP document states to the shop's orders"),
        Binding("l", "sync('listings')", "Listing rules", id="sync-listings", show=False,
                tooltip="Listing rules: publish, update or stop listed articles"),
        Binding("e", "edit", "Edit", id="account-edit", tooltip="Edit the selected account"),
        Binding("S", "schedule", "Schedule", id="account-schedule", key_display="S",
                tooltip="Schedule editor of the selected account"),
        Binding("n", "new", "New account", id="account-new", show=False),
        Binding("L", "show_log", "Account log", id="account-log", show=False, key_display="L",
                tooltip="Live log of the selected account"),
        Binding("enter", "show_log", "Account log", id="account-log-enter", show=False,
                priority=True, tooltip="Live log of the selected account"),
        Binding("R", "reconcile", "Reconcile", id="account-reconcile", show=False,
                key_display="R",
                tooltip="Reconcile: the selected account's shop orders against the ERP, "
                "and the fix of each category"),
        Binding("V", "review", "Review", id="account-review", show=False, key_display="V",
                tooltip="Review: articles and customers Sincro created on its own"),
        Binding("r", "refresh", "Refresh", id="accounts-refresh", show=False),
    ]

    class AccountsLoaded(Message):
        def __init__(self, names: list[str]) -> None:
            super().__init__()
            self.names = names

    class LogRequested(Message):
        def __init__(self, account: str) -> None:
            super().__init__()
            self.account = account

    class RunEnded(Message):
        """A sync started here is over, however it ended (its worker is done)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.infos: dict[str, AccountInfo] = {}
        self.live: dict[str, LiveRun] = {}
        self.notes: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield AccountTable(id="account-table")
        yield AccountDetail(id="account-detail")

    def on_mount(self) -> None:
        self.query_one(AccountTable).tz = console(self).tz
        self.show_detail()

    @property
    def table(self) -> AccountTable:
        return self.query_one(AccountTable)

    @property
    def selected(self) -> str | None:
        return self.table.selected

    # -- loading ----------------------------------------------------------
    def load(self) -> None:
        self.run_worker(self._load(), group="accounts-load", exclusive=True,
                        exit_on_error=False, name="Loading accounts")

    async def _load(self) -> None:
        engine = console(self).engine
        if engine is None:
            return
        infos = await load_accounts(engine.database, engine.owner)
        self.infos = {i.name: i for i in infos}
        self.table.show(infos, self.live)
        self.show_detail()
        self.post_message(self.AccountsLoaded(list(self.infos)))
        self.screen.refresh_bindings()

    def show_detail(self) -> None:
        name = self.selected
        self.query_one(AccountDetail).show(self.infos.get(name or ""), console(self).tz,
                                           self.notes.get(name or ""))

    def show_failure(self, reason: str) -> None:
        self.notes[""] = f"cannot open the hub: {reason}"
        self.show_detail()

    def on_account_table_account_selected(self, event: AccountTable.AccountSelected) -> None:
        self.show_detail()
        self.screen.refresh_bindings()

    # -- engine events (called by the main screen) ---------------------------
    def run_started(self, event: ev.RunStarted) -> None:
        self.live[event.account] = LiveRun(event.run_id, event.kind)
        self.notes.pop(event.account, None)
        self._show_state(event.account)

    def run_progressed(self, event: ev.RunProgress) -> None:
        live = self.live.get(event.account)
        if live is None:
            return
        self.live[event.account] = LiveRun(live.run_id, live.kind, event.step, event.done,
                                           event.total)
        self._show_state(event.account)

    def run_finished(self, event: ev.RunFinished) -> None:
        self.live.pop(event.account, None)
        self.load()

    def run_refused(self, event: ev.RunRefused) -> None:
        self.notes[event.account] = f"refused: {event.reason}"
        if event.account == self.selected:
            self.show_detail()

    def _show_state(self, name: str) -> None:
        info = self.infos.get(name)
        if info is not None:
            self.table.update_state(info, self.live.get(name))

    # -- actions ------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if console(self).engine is None:
            return None if action in ACCOUNT_ACTIONS | {"new"} else True
        if action in ACCOUNT_ACTIONS and self.selected is None:
            return None
        return True

    def busy_here(self, name: str) -> str | None:
        """Why a run of `name` cannot start from this console now, if it cannot."""
        live = self.live.get(name)
        running = [w for w in self.app.workers
                   if w.group == f"run:{name}" and not w.is_finished]
        if live is None and not running:
            return None
        what = f"{live.kind} sync (run {live.run_id})" if live else (running[0].name or "a sync")
        return (f"account {name} is busy: {what} is running in this console; "
                "wait for it to finish and try again")

    def action_sync(self, action_kind: str) -> None:
        kind = RunKind(action_kind)  # a binding's action names it as a string: sync('orders')
        name = self.selected
        if name is None:
            return
        busy = self.busy_here(name)
        if busy:
            self.notes[name] = f"refused: {busy}"
            self.show_detail()
            self.app.notify(fmt.one_line(busy), title=f"{SYNC_LABELS[kind]} refused",
                            severity="warning",
                            markup=False)
            return
        if kind in (RunKind.CUSTOMERS, RunKind.FULL):
            self.run_worker(self._confirm_then_run(name, kind), group=f"ask:{name}",
                            exclusive=True, exit_on_error=False, name=SYNC_LABELS[kind])
        else:
            self.start_run(name, kind)

    async def _confirm_then_run(self, name: str, kind: RunKind) -> None:
        engine = console(self).running_engine()
        info = self.infos[name]
        if kind == RunKind.CUSTOMERS:
            count = await customers_in_hub(engine.database, info.account.saved_id)
            question = (f"Update all {count} customers of {name} already in the hub from the "
                        "shop, then push the changes to the ERP. This reads every one of them "
                        "from the shop and can take long (minutes for thousands). Start?")
        else:
            q = await quota(engine.database, info.account)
            if q["left"] == 0:
                self.app.notify(f"account {name} has used all {q['allowance']} full syncs "
                                f"allowed for {q['month']}; orders and customers syncs still run",
                                title="Full sync refused", severity="warning", markup=False)
                return
            question = (f"Realign all customers and articles of {name} with the ERP.\n"
                        f"{quota_text(q)}; this one counts against it. Start?")
        if await self.app.push_screen_wait(ConfirmScreen(f"{SYNC_LABELS[kind]}: {name}",
                                                         question)):
            self.start_run(name, kind)

    def start_run(self, name: str, kind: RunKind) -> None:
        self.run_worker(self._run(name, kind), group=f"run:{name}", exclusive=True,
                        exit_on_error=False, name=f"{SYNC_LABELS[kind]} of {name}")

    async def _run(self, name: str, kind: RunKind) -> None:
        await console(self).running_engine().run_sync(name, kind, trigger=Trigger.CONSOLE)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        super().on_worker_state_changed(event)
        if event.worker.group.startswith("run:") and event.worker.is_finished:
            self.post_message(self.RunEnded())

    def action_refresh(self) -> None:
        self.load()

    def action_show_log(self) -> None:
        if self.selected:
            self.post_message(self.LogRequested(self.selected))

    def action_edit(self) -> None:
        from tui.screens.account_form import AccountForm

        info = self.infos.get(self.selected or "")
        if info is not None:
            self.app.push_screen(AccountForm(info.account), self._saved)

    def action_new(self) -> None:
        from tui.screens.account_form import AccountForm

        self.app.push_screen(AccountForm(None), self._saved)

    def action_schedule(self) -> None:
        from tui.screens.schedule_editor import ScheduleEditor

        info = self.infos.get(self.selected or "")
        if info is not None:
            self.app.push_screen(ScheduleEditor(info.account), self._saved)

    def action_reconcile(self) -> None:
        from tui.screens.reconcile import ReconcileScreen

        if self.selected in self.infos:
            self.app.push_screen(ReconcileScreen(self.selected))

    def action_review(self) -> None:
        from tui.screens.review import ReviewScreen

        if self.selected in self.infos:
            self.app.push_screen(ReviewScreen(self.selected))

    def _saved(self, changed: object) -> None:
        if changed:
            self.load()
