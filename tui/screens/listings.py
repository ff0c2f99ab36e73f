"""Listings and sales lists: view them, enable or disable a listing, run it with a dry run first.

A dry run (`d`) is `sincro listing run NAME --dry-run`: it reads the shop and the
ERP, and the changes it would make are shown here, one line per product field,
with nothing written. `g` runs the listing for real (asks first, saying how many
changes the last dry run found), as a recorded console run under the account's
lease. `n` and `e` create and edit the listing or sales list of the table shown
(tui/screens/listing_forms.py); a listing created here gets its dry run at once,
before any run. `sincro listing`, `sincro list` and TOML import do the same.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, DataTable, Static
from textual.widgets.data_table import RowDoesNotExist

from core import listings as lst
from core.events import LogLine, RunFinished
from core.kinds import Level, Outcome, RunKind, Trigger
from tui import format as fmt
from tui.context import console
from tui.screens.dialogs import ConfirmScreen
from tui.widgets.table_rows import sync_rows
from tui.widgets.tones import tone
from tui.workers import ReportsFailures

LISTING_COLUMNS = (("name", "Listing", 16), ("account", "Account", 14), ("lists", "Sales lists", 18),
                   ("rules", "Rules", 5), ("enabled", "Enabled", 7))
LIST_COLUMNS = (("name", "Sales list", 16), ("codes", "Codes", 6), ("patterns", "Patterns", 24),
                ("used", "Used by", 22))
PREVIEW_LINES = 200  # lines of a dry run kept for the panel; the live log has them all


@dataclass
class Preview:
    """What the last dry run of a listing said it would do."""

    at: Any
    outcome: str
    actions: int
    lines: list[LogLine] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class LastRun:
    """The last real run of a listing from this console."""

    run_id: int
    at: Any
    outcome: str
    actions: int
    errors: list[str]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


class ListingsView(ReportsFailures, Vertical):
    BINDINGS = [
        Binding("d", "dry_run", "Dry run", id="listing-dry-run",
                tooltip="What the selected listing would change on the shop; writes nothing"),
        Binding("g", "run", "Run", id="listing-run",
                tooltip="Apply the selected listing's rules to all its articles (asks first)"),
        Binding("space", "toggle_enabled", "On/off", id="listing-toggle",
                key_display="space",
                tooltip="Enable or disable the selected listing (scheduled runs skip it)"),
        Binding("n", "new", "New", id="listing-new",
                tooltip="A new listing, or a new sales list when the sales lists are shown"),
        Binding("e", "edit", "Edit", id="listing-edit",
                tooltip="Edit the selected listing (lists, rules) or sales list"),
        Binding("t", "toggle_table", "Listings/lists", id="listing-table",
                tooltip="Switch between the listings and the sales lists"),
        Binding("r", "refresh", "Refresh", id="listings-refresh", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.listings: dict[str, lst.Listing] = {}
        self.lists: dict[str, lst.SalesList] = {}
        self.previews: dict[str, Preview] = {}
        self.last_runs: dict[str, LastRun] = {}
        self.running: set[str] = set()  # listings with a dry run or run going on here

    def compose(self) -> ComposeResult:
        yield Static(id="listings-status")
        with ContentSwitcher(initial="listings-table", id="listings-tables"):
            yield DataTable(id="listings-table", cursor_type="row")
            yield DataTable(id="lists-table", cursor_type="row")
        with VerticalScroll(id="listing-detail-box"):
            yield Static(id="listing-detail")

    def on_mount(self) -> None:
        for table_id, columns in (("#listings-table", LISTING_COLUMNS),
                                  ("#lists-table", LIST_COLUMNS)):
            table = self.query_one(table_id, DataTable)
            for key, label, width in columns:
                table.add_column(label, key=key, width=width)

    @property
    def showing(self) -> str:
        return self.query_one("#listings-tables", ContentSwitcher).current or "listings-table"

    @property
    def table(self) -> DataTable:
        return self.query_one(f"#{self.showing}", DataTable)

    @property
    def selected(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate)[0].value

    @property
    def selected_listing(self) -> lst.Listing | None:
        if self.showing != "listings-table":
            return None
        return self.listings.get(self.selected or "")

    def focus_main(self) -> None:
        self.table.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("new", "edit") and console(self).engine is None:
            return None
        if action == "edit" and self.selected is None:
            return None
        if action in ("dry_run", "run", "toggle_enabled"):
            x = self.selected_listing
            if x is None or console(self).engine is None:
                return None
            if action in ("dry_run", "run") and (x.name in self.running or not x.enabled):
                return None
        return True

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()
        self.screen.refresh_bindings()

    # -- loading ------------------------------------------------------------
    def load(self) -> None:
        self.run_worker(self._load(), group="listings-load", exclusive=True,
                        exit_on_error=False, name="Loading the listings")

    async def _load(self) -> None:
        engine = console(self).engine
        if engine is None:
            return
        listings = await lst.list_listings(engine.database)
        lists = await lst.list_lists(engine.database)
        self.listings = {x.name: x for x in listings}
        self.lists = {s.name: s for s in lists}
        used: dict[str, list[str]] = {}
        for x in listings:
            for name in x.lists:
                used.setdefault(name, []).append(x.name)
        sync_rows(self.query_one("#listings-table", DataTable), {
            x.name: {"name": Text(x.name), "account": Text(x.account),
                     "lists": Text(", ".join(x.lists)),
                     "rules": Text(str(len(x.rules)), justify="right"),
                     "enabled": Text("yes", style=tone(self.app, "success")) if x.enabled
                     else Text("no", style="dim")}
            for x in listings})
        sync_rows(self.query_one("#lists-table", DataTable), {
            s.name: {"name": Text(s.name), "codes": Text(str(len(s.codes)), justify="right"),
                     "patterns": Text(fmt.safe(", ".join(s.patterns) or "—")),
                     "used": Text(", ".join(used.get(s.name, [])) or "no listing",
                                  style="" if s.name in used else "dim")}
            for s in lists})
        enabled = sum(x.enabled for x in listings)
        status = Text(f"{len(listings)} listings ({enabled} enabled), {len(lists)} sales lists; "
                      f"showing {'listings' if self.showing == 'listings-table' else 'sales lists'}"
                      " (t switches)")
        self.query_one("#listings-status", Static).update(status)
        self.show_detail()
        self.screen.refresh_bindings()

    # -- the detail panel -----------------------------------------------------
    def show_detail(self) -> None:
        box = self.query_one("#listing-detail", Static)
        name = self.selected
        if name is None:
            what = "listings" if self.showing == "listings-table" else "sales lists"
            box.update(Text(f"no {what} yet: n creates one (t: listings or sales lists); "
                            "or 'sincro list add', 'sincro listing add', 'sincro listing "
                            "import FILE.toml' (README: Listings)", style="dim"))
            return
        if self.showing == "lists-table":
            box.update(self._list_text(self.lists[name]) if name in self.lists else "")
            return
        x = self.listings.get(name)
        box.update(self._listing_text(x) if x else "")

    def _list_text(self, s: lst.SalesList) -> Text:
        text = Text()
        text.append(f"sales list {s.name}", style="bold")
        text.append(f"\ncodes ({len(s.codes)}): ")
        text.append(fmt.safe(", ".join(s.codes[:60]) + (" …" if len(s.codes) > 60 else ""))
                    if s.codes else "none")
        text.append(f"\npatterns ({len(s.patterns)}): ")
        text.append(fmt.safe(", ".join(s.patterns)) or "none")
        return text

    def _listing_text(self, x: lst.Listing) -> Text:
        text = Text()
        text.append(f"listing {x.name} on {x.account}", style="bold")
        text.append(f"  ({'enabled' if x.enabled else 'disabled: scheduled runs skip it'})",
                    style="" if x.enabled else tone(self.app, "warning"))
        text.append(f"\nsales lists: {', '.join(x.lists)}")
        if not x.rules:
            text.append("\nno rules: nothing to do (sincro listing rule add)",
                        style=tone(self.app, "warning"))
        for i, rule in enumerate(x.rules, 1):
            text.append(f"\n{i}. {rule.describe()}")
        preview = self.previews.get(x.name)
        last = self.last_runs.get(x.name)
        if last is not None:
            when = fmt.clock(last.at, console(self).tz)
            ok = last.outcome == Outcome.OK
            text.append(f"\n\nrun #{last.run_id} at {when}: {last.outcome}, "
                        f"{plural(last.actions, 'change')} made"
                        + (f"; {plural(len(last.errors), 'error')}" if last.errors else "")
                        + " (3: run history)",
                        style=tone(self.app, "success" if ok else "warning"))
        if x.name in self.running:
            text.append("\n\nrunning…", style="dim")
        elif preview is not None:
            text.append("\n\n")
            text.append_text(self._preview_text(preview))
        elif x.enabled:
            text.append("\n\nd: dry run, to see what it would change", style="dim")
        return text

    def _preview_text(self, p: Preview) -> Text:
        when = fmt.clock(p.at, console(self).tz)
        ok = p.outcome == Outcome.OK
        head = (f"dry run at {when}: {plural(p.actions, 'change')} would be made"
                if ok else f"dry run at {when}: {p.outcome}")
        text = Text()
        text.append(head, style=tone(self.app, "success" if ok else "error") + Style(bold=True))
        for line in p.lines:
            style = {Level.WARNING: tone(self.app, "warning"),
                     Level.ERROR: tone(self.app, "error")}.get(
                line.level, "")
            text.append("\n")
            text.append(fmt.one_line(line.message), style=style)
        if len(p.lines) >= PREVIEW_LINES:
            text.append("\n… more in the live log (2)", style="dim")
        for err in p.errors:
            text.append(f"\n{fmt.one_line(err)}", style=tone(self.app, "error"))
        if ok and p.actions:
            text.append("\ng runs it for real", style="dim")
        return text

    # -- actions --------------------------------------------------------------
    def action_refresh(self) -> None:
        self.load()

    def action_new(self) -> None:
        self.run_worker(self._form(None), group="listing-form", exclusive=True,
                        exit_on_error=False, name="Listing form")

    def action_edit(self) -> None:
        name = self.selected
        if name is not None:
            self.run_worker(self._form(name), group="listing-form", exclusive=True,
                            exit_on_error=False, name="Listing form")

    async def _form(self, name: str | None) -> None:
        from core.accounts import list_accounts
        from tui.screens.listing_forms import ListingForm, SalesListForm

        engine = console(self).running_engine()
        if self.showing == "lists-table":
            saved = await self.app.push_screen_wait(
                SalesListForm(self.lists.get(name) if name else None))
            if saved:
                await self._load()
                self.select(saved)
            return
        accounts = [a.name for a in await list_accounts(engine.database)]
        lists = [s.name for s in await lst.list_lists(engine.database)]
        if not lists:
            self.app.notify("a listing works on sales lists: create one first (t, then n)",
                            title="Listings", severity="warning", markup=False)
            return
        saved = await self.app.push_screen_wait(
            ListingForm(self.listings.get(name) if name else None, accounts, lists))
        if not saved:
            return
        await self._load()
        self.select(saved)
        x = self.listings.get(saved)
        if name is None and x is not None and x.enabled and x.rules:
            self.action_dry_run()  # a listing made here is seen at work before any run

    def select(self, name: str) -> None:
        table = self.table
        with contextlib.suppress(RowDoesNotExist):
            table.move_cursor(row=table.get_row_index(name))
        self.show_detail()

    def action_toggle_table(self) -> None:
        switcher = self.query_one("#listings-tables", ContentSwitcher)
        switcher.current = "lists-table" if self.showing == "listings-table" else "listings-table"
        self.table.focus()
        self.load()

    def action_toggle_enabled(self) -> None:
        x = self.selected_listing
        if x is None:
            return
        self.run_worker(self._set_enabled(x.name, not x.enabled), group="listings-edit",
                        exit_on_error=False, name=f"{'Enable' if not x.enabled else 'Disable'} "
                        f"listing {x.name}")

    async def _set_enabled(self, name: str, enabled: bool) -> None:
        await lst.save_listing(console(self).running_engine().database, name, enabled=enabled)
        self.app.notify(f"listing {name} {'enabled' if enabled else 'disabled'}",
                        title="Listings", markup=False)
        await self._load()

    def _refused(self, x: lst.Listing) -> bool:
        if x.enabled:
            return False
        self.app.notify(f"listing {x.name} is disabled; space enables it", title="Listings",
                        severity="warning", markup=False)
        return True

    def action_dry_run(self) -> None:
        x = self.selected_listing
        if x is None or x.name in self.running or self._refused(x):
            return
        self.running.add(x.name)
        self.show_detail()
        self.screen.refresh_bindings()
        self.run_worker(self._dry_run(x), group=f"dry:{x.name}", exclusive=True,
                        exit_on_error=False, name=f"Dry run of listing {x.name}")

    async def _dry_run(self, x: lst.Listing) -> None:
        engine = console(self).running_engine()
        sub = engine.subscribe()
        lines: list[LogLine] = []

        async def collect() -> None:
            async for event in sub:
                if (isinstance(event, LogLine) and event.run_id == 0
                        and event.account == x.account and event.level != Level.DEBUG
                        and event.message.startswith(f"listing {x.name}:")
                        and len(lines) < PREVIEW_LINES):
                    lines.append(event)
                elif isinstance(event, RunFinished) and event.run_id == 0 \
                        and event.account == x.account:
                    return

        collector = asyncio.create_task(collect())
        try:
            summary = await run_listing(engine, x, dry_run=True)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(collector, 1)  # the lines already queued
            self.previews[x.name] = Preview(console(self).clock(), summary.outcome,
                                            summary.counts.get("listing_actions", 0), lines,
                                            list(summary.errors))
        finally:
            collector.cancel()
            sub.close()
            self.running.discard(x.name)
            self.show_detail()
            self.screen.refresh_bindings()

    def action_run(self) -> None:
        x = self.selected_listing
        if x is None or x.name in self.running or self._refused(x):
            return
        self.run_worker(self._confirm_then_run(x), group=f"ask:listing:{x.name}",
                        exclusive=True, exit_on_error=False, name=f"Run listing {x.name}")

    async def _confirm_then_run(self, x: lst.Listing) -> None:
        preview = self.previews.get(x.name)
        if preview is not None and preview.outcome == Outcome.OK:
            seen = (f"The dry run at {fmt.clock(preview.at, console(self).tz)} found "
                    f"{preview.actions} changes; values are read again now.")
        else:
            seen = "No dry run yet: d shows what it would change without writing."
        question = (f"Apply the rules of listing {x.name} to all its articles on {x.account}: "
                    f"products published, updated or stopped on the shop.\n{seen}\n"
                    "Recorded as a run. Start?")
        if not await self.app.push_screen_wait(ConfirmScreen(f"Run listing {x.name}", question,
                                                             yes="Run")):
            return
        self.running.add(x.name)
        self.show_detail()
        self.screen.refresh_bindings()
        self.run_worker(self._run(x), group=f"run:{x.account}", exclusive=True,
                        exit_on_error=False, name=f"Listing {x.name} on {x.account}")

    async def _run(self, x: lst.Listing) -> None:
        try:
            s = await run_listing(console(self).engine, x, dry_run=False)
            self.last_runs[x.name] = LastRun(s.id, console(self).clock(), s.outcome or "?",
                                             s.counts.get("listing_actions", 0), list(s.errors))
        finally:
            self.running.discard(x.name)
            self.previews.pop(x.name, None)  # what it showed is done, or stale
            self.show_detail()
            self.screen.refresh_bindings()


async def run_listing(engine: Any, x: lst.Listing, *, dry_run: bool) -> Any:
    """What `sincro listing run NAME [--dry-run]` does: this listing only, on its account."""
    from core.sync.listings import listings_all

    done = await engine.run_operation(x.account, RunKind.LISTINGS,
                                      lambda ctx: listings_all(ctx, only=x.name),
                                      trigger=Trigger.CONSOLE, dry_run=dry_run)
    return done.summary
