"""The embedded ERP: documents and their states, articles and their stock."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, DataTable, Input, Static

from core.amounts import shown, shown_text
from tui.context import console
from tui.format import safe
from tui.screens.dialogs import ConfirmScreen, PromptScreen
from tui.widgets.table_rows import ValueRows
from tui.widgets.tones import tone
from tui.workers import ReportsFailures

STATE_TONE = {"open": "accent", "shipped": "primary", "invoiced": "success",
              "cancelled": "error"}
DOC_COLUMNS = (("number", "Number", 12), ("date", "Date", 10), ("customer", "Customer", 22),
               ("total", "Total", 10), ("state", "State", 10))
ART_COLUMNS = (("code", "Code", 16), ("description", "Description", 30), ("price", "Price", 9),
               ("stock", "Stock", 7), ("active", "Active", 6))


def check_stock(value: str) -> str | None:
    text = value.strip()
    if not text.lstrip("-").isdigit():
        return f"stock must be a whole number, not {value!r}"
    if int(text) < 0:
        return "stock cannot be negative"
    return None


# the newest documents shown; the others are reached with / (find)
DOC_WINDOW = 500


def describe(total: int, shown_docs: int, articles: int, search: str) -> str:
    """The status line: how many documents and articles, and what is left out."""
    docs = f"{total:,} document{'s' * (total != 1)}"
    if shown_docs < total:
        docs += f" (newest {shown_docs:,} shown)"
    arts = f"{articles:,} article{'s' * (articles != 1)}"
    if search:
        return f"{docs} and {arts} match {search!r}; esc clears"
    return f"{docs}, {arts}"


class ErpView(ReportsFailures, Vertical):
    BINDINGS = [
        Binding("p", "set_state('shipped')", "Shipped", id="erp-shipped"),
        Binding("i", "set_state('invoiced')", "Invoiced", id="erp-invoiced"),
        Binding("x", "set_state('cancelled')", "Cancel", id="erp-cancelled"),
        Binding("t", "toggle_tables", "Docs/articles", id="erp-toggle"),
        Binding("k", "set_stock", "Set stock", id="erp-stock"),
        Binding("r", "refresh", "Refresh", id="erp-refresh", show=False),
        Binding("slash", "find", "Find", id="erp-find", key_display="/", show=False,
                tooltip="Find documents by number, customer, shop reference or state; "
                        "articles by code or description"),
        Binding("escape", "clear_find", "Clear find", id="erp-clear-find", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.erp: Any = None
        self.search = ""

    def compose(self) -> ComposeResult:
        with Horizontal(id="erp-bar"):
            yield Static(id="erp-status")
            yield Input(placeholder="/ find, enter", id="erp-find-input", compact=True)
        with ContentSwitcher(initial="erp-documents", id="erp-tables"):
            yield DataTable(id="erp-documents", cursor_type="row")
            yield DataTable(id="erp-articles", cursor_type="row")

    def on_mount(self) -> None:
        for table_id, columns in (("#erp-documents", DOC_COLUMNS), ("#erp-articles", ART_COLUMNS)):
            table = self.query_one(table_id, DataTable)
            for key, label, width in columns:
                table.add_column(label, key=key, width=width)
        self.doc_rows = ValueRows(self.query_one("#erp-documents", DataTable), self._doc_cells)
        self.article_rows = ValueRows(self.query_one("#erp-articles", DataTable),
                                      self._article_cells)

    @property
    def showing(self) -> str:
        return self.query_one("#erp-tables", ContentSwitcher).current or "erp-documents"

    @property
    def table(self) -> DataTable:
        return self.query_one(f"#{self.showing}", DataTable)

    def selected(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate)[0].value

    def focus_main(self) -> None:
        self.table.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "set_state":
            return self.showing == "erp-documents" and self.selected() is not None or None
        if action == "set_stock":
            return self.showing == "erp-articles" and self.selected() is not None or None
        return True

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.screen.refresh_bindings()

    # -- loading ------------------------------------------------------------
    def load(self) -> None:
        self.run_worker(self._load(), group="erp-load", exclusive=True, exit_on_error=False,
                        name="Loading the ERP")

    async def _load(self) -> None:
        engine = console(self).engine
        if engine is None:
            return
        status = self.query_one("#erp-status", Static)
        self.erp = await engine.erp()
        if not hasattr(self.erp, "list_documents"):
            status.update(Text(safe(f"the ERP {self.erp.name} has no view here: it is managed "
                                    "in its own application")))
            return
        docs, total = await self.erp.document_summaries(self.search, limit=DOC_WINDOW)
        needle = self.search.casefold()
        articles = [(a.code, a.description, a.price, a.stock, a.active)
                    for a in await self.erp.list_articles()
                    if needle in a.code.casefold() or needle in a.description.casefold()]
        await self.doc_rows.sync({d[0]: d for d in docs})
        await self.article_rows.sync({a[0]: a for a in articles})
        status.update(Text(safe(describe(total, len(docs), len(articles), self.search))))
        self.screen.refresh_bindings()

    def _doc_cells(self, doc: tuple[str, str, str, str, str, str]) -> dict[str, Text]:
        number, day, customer, total, currency, state = doc
        return {"number": Text(safe(number)), "date": Text(safe(day)),
                "customer": Text(safe(customer)),
                "total": Text(f"{shown_text(total)} {safe(currency or '')}".strip(),
                              justify="right"),
                "state": Text(safe(state), style=tone(self.app, STATE_TONE.get(state, "accent")))}

    def _article_cells(self, article: tuple[str, str, Decimal, int, bool]) -> dict[str, Text]:
        code, description, price, stock, active = article
        return {"code": Text(safe(code)), "description": Text(safe(description)),
                "price": Text(shown(price), justify="right"),
                "stock": Text(str(stock), justify="right"),
                "active": Text("yes" if active else "no")}

    def forget_rows(self) -> None:
        """State colours come from the theme: the next load builds every row again."""
        self.doc_rows.forget()
        self.article_rows.forget()

    # -- actions ------------------------------------------------------------
    def action_find(self) -> None:
        self.query_one("#erp-find-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.find(event.value)

    def action_clear_find(self) -> None:
        self.query_one("#erp-find-input", Input).value = ""
        self.find("")

    def find(self, text: str) -> None:
        self.search = text.strip()
        self.table.focus()
        self.load()

    def action_toggle_tables(self) -> None:
        switcher = self.query_one("#erp-tables", ContentSwitcher)
        switcher.current = "erp-articles" if self.showing == "erp-documents" else "erp-documents"
        self.table.focus()
        self.load()

    def action_refresh(self) -> None:
        self.load()

    def action_set_state(self, state: str) -> None:
        number = self.selected()
        if number is not None:
            self.run_worker(self._set_state(number, state), group="erp-write", exclusive=True,
                            exit_on_error=False, name=f"Mark {number} {state}")

    async def _set_state(self, number: str, state: str) -> None:
        if state == "cancelled" and not await self.app.push_screen_wait(ConfirmScreen(
                f"Cancel {number}", f"Cancel document {number}? Its stock goes back; a "
                "cancelled document is final.", yes="Cancel it")):
            return
        doc = await self.erp.set_state(number, state)
        before = self.doc_rows.value(number)
        if isinstance(before, tuple):  # the document's row, as _doc_cells reads it
            self.doc_rows.set(number, (*before[:5], doc.state))
        self.app.notify(safe(f"document {number} is now {doc.state}"), markup=False)

    def action_set_stock(self) -> None:
        code = self.selected()
        if code is not None:
            self.run_worker(self._set_stock(code), group="erp-write", exclusive=True,
                            exit_on_error=False, name=f"Set stock of {code}")

    async def _set_stock(self, code: str) -> None:
        current = self.table.get_cell(code, "stock")
        value = await self.app.push_screen_wait(PromptScreen(
            f"Stock of {code}", "New stock (whole number):", value=str(current),
            check=check_stock))
        if value is None:
            return
        a = await self.erp.set_stock(code, int(value.strip()))
        self.article_rows.set(code, (a.code, a.description, a.price, a.stock, a.active))
        self.app.notify(safe(f"stock of {code} set to {a.stock}"), markup=False)
