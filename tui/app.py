"""The operator console (Textual): wiring only — app, bindings, commands, themes.

`run_console(home)` is what bare `sincro` calls. The app opens its Engine in
a worker (nothing blocks the event loop), and one bridge worker turns the
engine's events into messages for the main screen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.theme import BUILTIN_THEMES

from core.engine import Engine, Subscription
from core.errors import SincroError
from core.events import Event
from core.textsafe import visible
from core.timeutil import machine_zone, utcnow, zone
from tui import bridge
from tui.gc_pacer import GcPacer
from tui.screens.main import MainScreen
from tui.workers import ReportsFailures

if TYPE_CHECKING:
    from core.scheduler import Scheduler

EngineFactory = Callable[[], Engine]

DARK = replace(BUILTIN_THEMES["textual-dark"], name="sincro-dark")
LIGHT = replace(BUILTIN_THEMES["textual-light"], name="sincro-light")

# (palette name, help text, view, action on that view)
VIEW_COMMANDS = (
    ("Orders sync", "Import the selected account's new orders and push them to the ERP",
     "accounts", "sync('orders')"),
    ("Customers sync", "Update the selected account's customers from the shop (long)",
     "accounts", "sync('customers')"),
    ("Full sync", "Realign customers and articles with the ERP (counts against the quota)",
     "accounts", "sync('full')"),
    ("States push", "Send ERP document states to the shop's orders", "accounts",
     "sync('states')"),
    ("Listing rules", "Evaluate the listing rules of the selected account", "accounts",
     "sync('listings')"),
    ("Reconcile", "Compare the selected account's shop orders with the ERP; fix by category",
     "accounts", "reconcile"),
    ("Review", "What Sincro created on its own: auto-coded articles, merged guest customers",
     "accounts", "review"),
    ("Edit account", "Change the selected account", "accounts", "edit"),
    ("New account", "Add a shop account", "accounts", "new"),
    ("Schedule", "Edit the selected account's schedule", "accounts", "schedule"),
    ("Account log", "The live log of the selected account", "accounts", "show_log"),
    ("Refresh accounts", "Read the accounts again", "accounts", "refresh"),
    ("Log: cycle account", "Filter the live log by account", "log", "cycle_account"),
    ("Log: cycle level", "Filter the live log by level", "log", "cycle_level"),
    ("Log: follow or pause", "Follow new lines, or hold the view", "log", "toggle_follow"),
    ("Log: search", "Show only lines containing a text", "log", "search"),
    ("Open run", "Read the selected run's log and errors", "history", "open"),
    ("History: live log of the run", "The live log, only the selected run's lines", "history",
     "live_log"),
    ("History: this account or all", "Runs of the selected account, or of all", "history",
     "toggle_scope"),
    ("ERP: mark shipped", "Ship the selected document", "erp", "set_state('shipped')"),
    ("ERP: mark invoiced", "Invoice the selected document", "erp", "set_state('invoiced')"),
    ("ERP: cancel document", "Cancel the selected document", "erp", "set_state('cancelled')"),
    ("ERP: set stock", "Set the selected article's stock", "erp", "set_stock"),
    ("ERP: documents or articles", "Switch the ERP tables", "erp", "toggle_tables"),
    ("Listing: dry run", "What the selected listing would change on the shop; writes nothing",
     "listings", "dry_run"),
    ("Listing: run", "Apply the selected listing's rules now (asks first)", "listings", "run"),
    ("Listing: enable or disable", "Enable or disable the selected listing", "listings",
     "toggle_enabled"),
    ("Listings or sales lists", "Switch the listings tables", "listings", "toggle_table"),
    ("Listing: new", "A new listing, or a new sales list when the sales lists are shown",
     "listings", "new"),
    ("Listing: edit", "Edit the selected listing or sales list", "listings", "edit"),
    ("Dashboard: next account", "Show the charts of the next account", "dashboard",
     "next_account"),
)
VIEW_NAMES = (("accounts", "Show accounts"), ("log", "Show live log"),
              ("history", "Show run history"), ("erp", "Show ERP"),
              ("listings", "Show listings"), ("dashboard", "Show dashboard"))


# what tells the gc pacer that the operator is at the keyboard
INPUT_EVENTS = (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)


class SincroApp(ReportsFailures, App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "Sincro"
    BINDINGS = [
        Binding("f1", "help", "Help", id="help"),
        Binding("question_mark", "help", "Help", id="help-key", show=False, key_display="?"),
        Binding("ctrl+t", "toggle_theme", "Dark/light", id="theme", show=False),
    ]

    def __init__(
        self,
        home: Path | None = None,
        *,
        engine_factory: EngineFactory | None = None,
        tz: str | tzinfo | None = None,
        clock: Callable[[], datetime] = utcnow,
        theme: str = "sincro-dark",
        refresh_every: float = 5.0,
        lines_every: float = 0.5,
        schedule: bool = False,
        pace_gc: bool = True,
    ) -> None:
        super().__init__()
        if engine_factory is None:
            if home is None:
                raise ValueError("give home or engine_factory")
            engine_factory = partial(Engine, home)
        self.engine_factory = engine_factory
        self.engine: Engine | None = None
        self.tz: tzinfo = zone(tz or machine_zone()) if not isinstance(tz, tzinfo) else tz
        self.clock = clock
        self.refresh_every = refresh_every
        self.lines_every = lines_every
        self.ready = asyncio.Event()
        self._subscription: Subscription | None = None
        self._start_theme = theme
        self.schedule = schedule
        self.scheduler: Scheduler | None = None
        self.scheduling_note = ""
        self.gc_pacer = GcPacer() if pace_gc else None

    # -- lifecycle ------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        return MainScreen(id="main")

    @property
    def main(self) -> MainScreen:
        return self.screen_stack[0]  # type: ignore[return-value]

    def on_mount(self) -> None:
        quiet_engine_logging()
        self.register_theme(DARK)
        self.register_theme(LIGHT)
        self.theme = self._start_theme
        if self.gc_pacer is not None:
            self.gc_pacer.start()
            self.set_interval(1.0, self.gc_pacer.tick, name="gc pacer")
        self.run_worker(self._open_engine(), group="engine", exit_on_error=False,
                        name="Opening the hub")

    def running_engine(self) -> Engine:
        """The engine, once the hub is open: screens load after EngineReady."""
        if self.engine is None:
            raise RuntimeError("the hub is not open")
        return self.engine

    async def _open_engine(self) -> None:
        engine = self.engine_factory()
        try:
            await engine.__aenter__()
        except SincroError as exc:
            self.main.post_message(bridge.EngineFailed(str(exc)))
            raise
        self.engine = engine
        self._subscription = engine.subscribe()
        self.run_worker(bridge.pump(self._subscription.queue, self.main), group="bridge",
                        exit_on_error=False, name="Engine events")
        self.main.post_message(bridge.EngineReady())
        self.ready.set()
        if self.schedule:
            self.run_worker(self._run_scheduler(), group="scheduler", exit_on_error=False,
                            name="Scheduler")

    async def _run_scheduler(self) -> None:
        """Schedules fire from the console too, unless a daemon schedules this hub."""
        from core.scheduler import Scheduler

        assert self.engine is not None
        self.scheduler = Scheduler(self.engine, role="console")
        active = await self.scheduler.acquire()
        self.scheduling_note = ("this console schedules the runs" if active else
                                "a Sincro daemon schedules the runs; this console shows them")
        self.notify(visible(self.scheduling_note), title="Scheduling", markup=False, timeout=6)
        await self.scheduler.run()

    async def on_event(self, event: events.Event) -> None:
        if self.gc_pacer is not None and isinstance(event, INPUT_EVENTS):
            self.gc_pacer.input_seen()
        await super().on_event(event)

    async def on_unmount(self) -> None:
        if self.gc_pacer is not None:
            self.gc_pacer.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
            await self.scheduler.drain(0)
            await self.scheduler.release()
        if self._subscription is not None:
            self._subscription.close()
        if self.engine is not None:
            engine, self.engine = self.engine, None
            await engine.__aexit__(None, None, None)

    def publish(self, event: Event) -> None:
        """For tests and the demo: an event as if the engine had sent it."""
        assert self.engine is not None
        self.engine.publish(event)

    # -- actions ------------------------------------------------------------
    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.key_sections()))

    def action_toggle_theme(self) -> None:
        self.theme = "sincro-light" if self.theme == "sincro-dark" else "sincro-dark"

    def key_sections(self) -> list[tuple[str, list[Binding]]]:
        from tui.screens.account_form import AccountForm
        from tui.screens.accounts import AccountsView
        from tui.screens.dashboard import DashboardView
        from tui.screens.erp import ErpView
        from tui.screens.history import HistoryView
        from tui.screens.listing_forms import ListingForm, SalesListForm
        from tui.screens.listings import ListingsView
        from tui.screens.log import LogView
        from tui.screens.reconcile import ReconcileScreen
        from tui.screens.review import ReviewScreen
        from tui.screens.run_detail import RunDetailScreen
        from tui.screens.schedule_editor import ScheduleEditor

        palette = Binding("ctrl+p", "command_palette", "Command palette: every action by name")
        return [
            ("Everywhere", [*_declared(self.BINDINGS), *_declared(MainScreen.BINDINGS), palette]),
            ("Accounts", _declared(AccountsView.BINDINGS)),
            ("Live log", _declared(LogView.BINDINGS)),
            ("Run history", _declared(HistoryView.BINDINGS)),
            ("Run", _declared(RunDetailScreen.BINDINGS)),
            ("ERP", _declared(ErpView.BINDINGS)),
            ("Listings", _declared(ListingsView.BINDINGS)),
            ("Listing form", _declared(ListingForm.BINDINGS)),
            ("Sales list form", _declared(SalesListForm.BINDINGS)),
            ("Dashboard", _declared(DashboardView.BINDINGS)),
            ("Reconcile", _declared(ReconcileScreen.BINDINGS)),
            ("Review", _declared(ReviewScreen.BINDINGS)),
            ("Schedule editor", _declared(ScheduleEditor.BINDINGS)),
            ("Account form", _declared(AccountForm.BINDINGS)),
        ]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help: every key", "List every key of the console", self.action_help)
        yield SystemCommand("Toggle dark/light theme", "Switch between the dark and light theme",
                            self.action_toggle_theme)
        for view, title in VIEW_NAMES:
            yield SystemCommand(title, f"Switch to the {view} view",
                                partial(self.main.action_show, view))
        for title, help_text, view, action in VIEW_COMMANDS:
            yield SystemCommand(title, help_text, partial(self._run_on_view, view, action))

    async def _run_on_view(self, view: str, action: str) -> None:
        """Show `view`, then run one of its actions as its key would."""
        main = self.main
        if self.screen is not main:
            return
        main.action_show(view)
        await main.query_one(f"#{view}").run_action(action)


def _declared(bindings: Iterable[BindingType]) -> list[Binding]:
    """A class's BINDINGS, each a Binding (Textual also allows tuples; Sincro writes none)."""
    out: list[Binding] = []
    for b in bindings:
        if not isinstance(b, Binding):
            raise TypeError(f"declare key bindings as Binding, not {b!r}")
        out.append(b)
    return out


def quiet_engine_logging() -> None:
    """The engine logs through stdlib logging; in the console those lines are shown in the
    live log instead, and nothing may write to the terminal under the app."""
    engine_log = logging.getLogger("sincro")
    if not any(isinstance(h, logging.NullHandler) for h in engine_log.handlers):
        engine_log.addHandler(logging.NullHandler())


def run_console(home: Path, *, engine_factory: EngineFactory | None = None) -> int:
    """Open the console on `home` (or on the engine the factory makes); returns the exit code."""
    app = SincroApp(home, engine_factory=engine_factory, schedule=True)
    app.run()
    return app.return_code or 0
