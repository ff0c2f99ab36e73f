"""Build sales lists and listings in the console, as `sincro list` and `sincro listing` do.

A sales list is ERP article codes and glob patterns; while they are typed, the form
counts the ERP articles they match (read in a worker, a moment after the last key). A
listing names its account, its sales lists and its rules, tried in order: each rule a
condition (`stock <= 0`, `price changed`, `inactive`, `active`, `always`), an action
(publish, update, stop), the fields an update writes and the way a stop stops. Every
value is checked by core.listings, as the CLI checks it; the error shows in place.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Checkbox, DataTable, Input, Label, Select, SelectionList, Static

from core import listings as lst
from core.errors import SincroError
from tui import format as fmt
from tui.context import console
from tui.widgets.footer import ConsoleFooter
from tui.widgets.form import FormMessage, FormRow
from tui.workers import ReportsFailures

COUNT_AFTER = 0.3  # seconds after the last key before the matching articles are counted
ACTIONS = (("publish", "publish"), ("update", "update"), ("stop", "stop"))
STOP_MODES = (("set inactive", "inactive"), ("quantity 0", "zero"))


def split_csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


class SalesListForm(ReportsFailures, Screen[str | None]):
    """New or edit a sales list; dismissed with its name once saved."""

    DEFAULT_CSS = """
    #list-fields { padding: 1 2; height: 1fr; }
    #list-count { margin-bottom: 1; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="list-save", priority=True),
        Binding("escape", "cancel", "Cancel", id="list-cancel"),
    ]

    def __init__(self, sales_list: lst.SalesList | None) -> None:
        super().__init__()
        self.sales_list = sales_list
        self.matching: int | None = None  # ERP articles the typed codes and patterns match

    def compose(self) -> ComposeResult:
        s = self.sales_list
        yield Static(Text(f" Sales list {s.name}" if s else " New sales list", style="bold"),
                     id="list-title")
        with VerticalScroll(id="list-fields"):
            yield FormRow("Name", Input(value=s.name if s else "", id="list-name",
                                        compact=True, placeholder="summer-2026",
                                        disabled=s is not None))
            yield FormRow("Codes", Input(value=", ".join(s.codes) if s else "",
                                         id="list-codes", compact=True,
                                         placeholder="ERP article codes, comma-separated"))
            yield FormRow("Patterns", Input(value=", ".join(s.patterns) if s else "",
                                            id="list-patterns", compact=True,
                                            placeholder="globs, e.g. SKU-00*, TS-[A-Z]*"))
            yield Static(id="list-count")
            yield FormMessage(id="list-message")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#list-codes" if self.sales_list else "#list-name", Input).focus()
        self.count_later()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("list-codes", "list-patterns"):
            self.count_later()

    def count_later(self) -> None:
        self.query_one("#list-count", Static).update(Text("counting the matching ERP "
                                                          "articles…", style="dim"))
        self.run_worker(self._count(), group="list-count", exclusive=True,
                        exit_on_error=False, name="Count the matching ERP articles")

    async def _count(self) -> None:
        import asyncio

        await asyncio.sleep(COUNT_AFTER)  # typing on: this worker is replaced, not run
        box = self.query_one("#list-count", Static)
        codes = split_csv(self.query_one("#list-codes", Input).value)
        patterns = split_csv(self.query_one("#list-patterns", Input).value)
        try:
            for p in patterns:
                lst.check_code(p, "pattern")
            erp = await console(self).running_engine().erp_to_read()
            found = set((await erp.find_articles(codes)).keys()) if codes else set()
            matched = set(found)
            for p in patterns:
                matched.update(a.code for a in await erp.list_articles(p))
        except SincroError as exc:
            self.matching = None
            box.update(Text(fmt.one_line(f"cannot count the matching articles: {exc}"),
                            style="dim"))
            return
        self.matching = len(matched)
        text = Text(f"matches {len(matched)} ERP articles", style="bold")
        if codes:
            text.append(f" ({len(found)} of the {len(codes)} codes are in the ERP", style="")
            missing = [c for c in codes if c not in found]
            text.append(f"; not found: {fmt.one_line(', '.join(missing[:5]))}"
                        + (" …" if len(missing) > 5 else "") if missing else "")
            text.append(")")
        box.update(text)

    def action_save(self) -> None:
        self.run_worker(self._save(), group="list-write", exclusive=True, exit_on_error=False,
                        name="Save the sales list")

    async def _save(self) -> None:
        message = self.query_one("#list-message", FormMessage)
        name = self.query_one("#list-name", Input).value.strip()
        codes = split_csv(self.query_one("#list-codes", Input).value)
        patterns = split_csv(self.query_one("#list-patterns", Input).value)
        if not codes and not patterns:
            message.show("a sales list needs at least one code or pattern")
            self.query_one("#list-codes", Input).focus()
            return
        db = console(self).running_engine().database
        try:
            saved = await lst.save_list(db, name, add_codes=codes, add_patterns=patterns,
                                        create=self.sales_list is None, replace=True)
        except SincroError as exc:
            message.show(str(exc))
            return
        self.app.notify(f"sales list {saved.name} saved: {len(saved.codes)} codes, "
                        f"{len(saved.patterns)} patterns", title="Listings", markup=False)
        self.dismiss(saved.name)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ListingForm(ReportsFailures, Screen[str | None]):
    """New or edit a listing and its ordered rules; dismissed with its name once saved."""

    DEFAULT_CSS = """
    #listing-fields { padding: 1 2; height: 1fr; }
    #listing-lists { height: auto; max-height: 6; margin-bottom: 1; }
    #listing-rules { height: auto; max-height: 8; margin-bottom: 1; }
    #rule-editor { height: 1; margin-bottom: 1; }
    #rule-editor Input { width: 1fr; }
    #rule-editor Select { width: 16; }
    .field-label { margin-bottom: 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="listing-save", priority=True),
        Binding("ctrl+a", "add_rule", "Add rule", id="rule-add", priority=True,
                tooltip="Add the rule typed in the rule line, after the selected one"),
        Binding("ctrl+x", "remove_rule", "Remove rule", id="rule-remove", priority=True,
                tooltip="Remove the selected rule"),
        Binding("ctrl+u", "move_rule(-1)", "Rule up", id="rule-up", priority=True,
                tooltip="Move the selected rule up: rules are tried in order"),
        Binding("ctrl+d", "move_rule(1)", "Rule down", id="rule-down", priority=True,
                tooltip="Move the selected rule down"),
        Binding("escape", "cancel", "Cancel", id="listing-cancel"),
    ]

    def __init__(self, listing: lst.Listing | None, accounts: list[str],
                 lists: list[str]) -> None:
        super().__init__()
        self.listing = listing
        self.accounts = accounts
        self.lists = lists
        self.rules: list[lst.Rule] = list(listing.rules) if listing else []

    def compose(self) -> ComposeResult:
        x = self.listing
        yield Static(Text(f" Listing {x.name}" if x else " New listing", style="bold"),
                     id="listing-title")
        with VerticalScroll(id="listing-fields"):
            yield FormRow("Name", Input(value=x.name if x else "", id="listing-name",
                                        compact=True, placeholder="autumn-push",
                                        disabled=x is not None))
            yield FormRow("Account", Select(
                [(a, a) for a in self.accounts], id="listing-account", compact=True,
                value=x.account if x and x.account in self.accounts else Select.NULL,
                prompt="(choose)"))
            yield FormRow("Enabled", Checkbox("scheduled runs apply it",
                                              value=x.enabled if x else True,
                                              id="listing-enabled", compact=True))
            yield Label("Sales lists (space: on/off)", classes="field-label")
            yield SelectionList[str](*[(name, name, bool(x and name in x.lists))
                                       for name in self.lists],
                                     id="listing-lists", compact=True)
            yield Label("Rules, tried in order (the first that holds decides)",
                        classes="field-label")
            yield DataTable(id="listing-rules", cursor_type="row")
            with Horizontal(id="rule-editor"):
                yield Input(id="rule-condition", compact=True,
                            placeholder="stock <= 0 | price changed | inactive | always")
                yield Select(ACTIONS, value="publish", allow_blank=False, id="rule-action",
                             compact=True)
                yield Input(id="rule-fields", compact=True,
                            placeholder="update: quantity,price")
                yield Select(STOP_MODES, value="inactive", allow_blank=False,
                             id="rule-stop-mode", compact=True)
            yield FormMessage(id="listing-message")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        table = self.query_one("#listing-rules", DataTable)
        table.add_column("#", key="pos", width=3)
        table.add_column("Rule", key="rule")
        self.show_rules()
        self.query_one("#listing-account" if self.listing else "#listing-name").focus()

    def show_rules(self, select: int | None = None) -> None:
        table = self.query_one("#listing-rules", DataTable)
        table.clear()
        for i, rule in enumerate(self.rules, 1):
            table.add_row(Text(str(i), justify="right"), Text(rule.describe()), key=str(i))
        if not self.rules:
            table.add_row("", Text("no rules yet: type one below, ctrl+a adds it", style="dim"),
                          key="none")
        elif select is not None:
            table.move_cursor(row=max(0, min(select, len(self.rules) - 1)))

    @property
    def selected_rule(self) -> int | None:
        table = self.query_one("#listing-rules", DataTable)
        if not self.rules or not table.row_count:
            return None
        return min(table.cursor_row, len(self.rules) - 1)

    def action_add_rule(self) -> None:
        message = self.query_one("#listing-message", FormMessage)
        action = str(self.query_one("#rule-action", Select).value)
        fields = self.query_one("#rule-fields", Input).value
        stop = str(self.query_one("#rule-stop-mode", Select).value) if action == "stop" else None
        try:
            rule = lst.make_rule(self.query_one("#rule-condition", Input).value, action,
                                 fields if action == "update" else None, stop)
        except SincroError as exc:
            message.show(str(exc))
            self.query_one("#rule-condition", Input).focus()
            return
        at = self.selected_rule
        position = len(self.rules) if at is None else at + 1
        self.rules.insert(position, rule)
        self.show_rules(select=position)
        message.show(f"rule {position + 1} added: {rule.describe()} (ctrl+s saves the listing)",
                     error=False)
        self.query_one("#rule-condition", Input).value = ""
        self.query_one("#rule-fields", Input).value = ""

    def action_remove_rule(self) -> None:
        at = self.selected_rule
        if at is None:
            return
        gone = self.rules.pop(at)
        self.show_rules(select=at)
        self.query_one("#listing-message", FormMessage).show(
            f"rule removed: {gone.describe()}", error=False)

    def action_move_rule(self, step: int) -> None:
        at = self.selected_rule
        if at is None or not 0 <= at + step < len(self.rules):
            return
        self.rules[at], self.rules[at + step] = self.rules[at + step], self.rules[at]
        self.show_rules(select=at + step)

    def action_save(self) -> None:
        self.run_worker(self._save(), group="listing-write", exclusive=True,
                        exit_on_error=False, name="Save the listing")

    async def _save(self) -> None:
        message = self.query_one("#listing-message", FormMessage)
        account = self.query_one("#listing-account", Select).value
        chosen = list(self.query_one("#listing-lists", SelectionList).selected)
        if not isinstance(account, str):
            message.show("choose the account the listing writes to")
            self.query_one("#listing-account").focus()
            return
        if not chosen:
            message.show("choose at least one sales list (space on a list)")
            self.query_one("#listing-lists").focus()
            return
        db = console(self).running_engine().database
        try:
            saved = await lst.save_listing(
                db, self.query_one("#listing-name", Input).value.strip(), account=account,
                lists=[str(c) for c in chosen],
                enabled=self.query_one("#listing-enabled", Checkbox).value, rules=self.rules,
                create=self.listing is None)
        except SincroError as exc:
            message.show(str(exc))
            return
        self.app.notify(f"listing {saved.name} saved: {len(saved.rules)} rules on "
                        f"{saved.account}", title="Listings", markup=False)
        self.dismiss(saved.name)

    def action_cancel(self) -> None:
        self.dismiss(None)
