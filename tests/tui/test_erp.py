"""The embedded ERP view: documents and states, articles and stock; shop data shown literally."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable

from core.erp.embedded import EmbeddedErp
from tests.tui.fakes import fill, make_app, screen_text, seed_erp, settle
from tui.app import SincroApp
from tui.screens.dialogs import ConfirmScreen, PromptScreen


@asynccontextmanager
async def erp_view(home: Path, app: SincroApp) -> AsyncIterator[tuple[Pilot, DataTable]]:
    """The seeded embedded ERP, the console on view 4: its pilot and documents table."""
    await seed_erp(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        yield pilot, app.screen.query_one("#erp-documents", DataTable)


async def erp_state(home: Path, number: str) -> str:
    erp = await EmbeddedErp.open(home / "erp.db")
    try:
        return (await erp.get_document(number)).state
    finally:
        await erp.close()


async def test_documents_show_the_customer_literally_and_can_be_shipped(home: Path) -> None:
    app = make_app(home)
    async with erp_view(home, app) as (pilot, docs):
        assert docs.row_count == 2
        text = screen_text(app)
        assert "[b]Rossi[/b]" in text  # not bold Rossi: the brackets are data
        number = docs.coordinate_to_cell_key(docs.cursor_coordinate)[0].value
        await pilot.press("p")
        await settle(pilot)
        assert docs.get_cell(number, "state").plain == "shipped"
        assert await erp_state(home, number) == "shipped"
        await pilot.press("p")  # shipped again: the ERP says why not
        await settle(pilot)
        assert await erp_state(home, number) == "shipped"


async def test_cancel_asks_first_and_invoice_works(home: Path, notes) -> None:
    app = make_app(home)
    seen = notes(app)
    async with erp_view(home, app) as (pilot, docs):
        first = docs.coordinate_to_cell_key(docs.cursor_coordinate)[0].value
        await pilot.press("x")
        await settle(pilot, skip=("bridge", "erp-write"))
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert await erp_state(home, first) == "cancelled"
        await pilot.press("i")  # a cancelled document cannot be invoiced
        await settle(pilot)
        assert any("is cancelled and cannot become invoiced" in n["message"] for n in seen)
        await pilot.press("down", "i")
        await settle(pilot)
        second = docs.coordinate_to_cell_key(docs.cursor_coordinate)[0].value
        assert await erp_state(home, second) == "invoiced"


async def test_set_stock_validates_in_place(home: Path) -> None:
    app = make_app(home)
    async with erp_view(home, app) as (pilot, docs):
        await pilot.press("t")
        await settle(pilot)
        articles = app.screen.query_one("#erp-articles", DataTable)
        assert articles.get_cell("A1", "stock").plain == "99"  # one went out on an order
        await pilot.press("k")
        await settle(pilot, skip=("bridge", "erp-write"))
        assert isinstance(app.screen, PromptScreen)
        await fill(pilot, "#prompt-value", "lots")
        await pilot.press("enter")
        await pilot.pause()
        assert "stock must be a whole number, not 'lots'" in screen_text(app)
        await fill(pilot, "#prompt-value", "42")
        await pilot.press("enter")
        await settle(pilot)
        assert articles.get_cell("A1", "stock").plain == "42"


async def test_new_documents_come_in_on_top_unchanged_rows_are_not_rebuilt(home: Path) -> None:
    from datetime import date
    from decimal import Decimal as D

    from core.erp.port import OrderDocumentData, OrderLineData

    app = make_app(home)
    async with erp_view(home, app) as (pilot, docs):

        def keys() -> list[str]:
            return [docs.coordinate_to_cell_key((i, 0))[0].value for i in range(docs.row_count)]

        assert keys() == ["2026/000002", "2026/000001"]
        await pilot.press("down")
        kept = docs.get_cell("2026/000002", "customer")
        state_before = docs.get_cell("2026/000001", "state")

        erp = await app.engine.erp()
        customer = (await erp.list_customers())[0]
        line = OrderLineData("A1", "Article A1", 1, D("10.00"), D("12.20"), D("22"))
        await erp.insert_order(OrderDocumentData(
            "shop1:o:3", customer.code, date(2026, 11, 28), "EUR", (line,), D("10.00"),
            D("12.20"), shop_reference="REF3"))
        await erp.set_state("2026/000001", "shipped")
        await pilot.press("r")
        await settle(pilot)

        assert keys() == ["2026/000003", "2026/000002", "2026/000001"]
        # the operator stays on the document they were on
        assert docs.coordinate_to_cell_key(docs.cursor_coordinate)[0].value == "2026/000001"
        assert docs.get_cell("2026/000002", "customer") is kept  # not built again
        assert docs.get_cell("2026/000001", "state").plain == "shipped"
        assert state_before.plain == "open"

        shipped_style = docs.get_cell("2026/000001", "state").style
        await pilot.press("ctrl+t")  # light theme: the state colours follow it
        await settle(pilot)
        assert docs.get_cell("2026/000001", "state").style != shipped_style


async def test_find_narrows_both_tables_and_escape_clears(home: Path) -> None:
    app = make_app(home)
    async with erp_view(home, app) as (pilot, docs):
        articles = app.screen.query_one("#erp-articles", DataTable)
        await pilot.press("slash", *"ref2", "enter")
        await settle(pilot)
        assert docs.row_count == 1 and docs.get_cell("2026/000002", "number").plain
        assert articles.row_count == 0
        assert "1 document and 0 articles match 'ref2'; esc clears" in screen_text(app)
        assert docs.has_focus  # back on the table: p, i, x work on what was found
        await pilot.press("slash", *"ctrl+u".split(), *"gadget", "enter")
        await settle(pilot)
        assert docs.row_count == 0 and articles.row_count == 1
        await pilot.press("escape")
        await settle(pilot)
        assert docs.row_count == 2 and articles.row_count == 2
        assert "2 documents, 2 articles" in screen_text(app)


async def test_only_the_newest_documents_are_listed_and_the_status_says_so(
        home: Path, monkeypatch) -> None:
    from tui.screens import erp as erp_screen

    monkeypatch.setattr(erp_screen, "DOC_WINDOW", 1)
    app = make_app(home)
    async with erp_view(home, app) as (pilot, docs):
        assert docs.row_count == 1 and docs.get_cell("2026/000002", "number")
        assert "2 documents (newest 1 shown), 2 articles" in screen_text(app)
        await pilot.press("slash", *"000001", "enter")  # the older one is found
        await settle(pilot)
        assert docs.row_count == 1 and docs.get_cell("2026/000001", "number")
