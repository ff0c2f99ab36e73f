"""Issue 18: sales lists and listings built in the console (view 5: n, e), checked as the
CLI checks them, with a live count of the matching ERP articles; a listing made here gets
its dry run before any run. Over the real emulator and the embedded ERP."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Checkbox, DataTable, Select, SelectionList, Static

from core import accounts as acc
from core import listings as lst
from core.engine import Engine
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.tui.fakes import TZ, fill
from tests.tui.fakes import settle as settle_all
from tests.tui.test_listings_view import console_on, simple_product
from tui.screens.listing_forms import ListingForm, SalesListForm
from tui.screens.listings import ListingsView
from tui.widgets.form import FormMessage


async def settle(pilot) -> None:
    """Every worker done but the one holding a form open (it waits for the form)."""
    await settle_all(pilot, skip=("bridge", "listing-form"))


def message(app) -> str:
    return str(app.screen.query_one(FormMessage).render())


async def test_build_a_sales_list_and_a_listing_with_two_rules_then_dry_run(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with EmulatorServer(generate(20, seed=3)) as emu:
        pid, code = simple_product(emu)
        async with Engine(home, notify=False) as engine:
            await acc.add_account(engine.hub, acc.build_account(
                "shop1", emu.url, key=emu.key, tz=TZ, options={"tax_map": {"0": "N4"}}))
            erp = await engine.erp()
            await erp.add_article(code, f"article {code}", "10.00", stock=0)
            await erp.add_article("SKU-900", "spare one", "5.00", stock=3)
            await erp.add_article("SKU-901", "spare two", "5.00", stock=0)
        app = console_on(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("5")
            await settle(pilot)
            view = app.screen.query_one(ListingsView)
            await pilot.press("t")  # the sales lists
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            form = app.screen
            assert isinstance(form, SalesListForm)
            await fill(pilot, "#list-name", "autumn")
            await fill(pilot, "#list-codes", f"{code}, NOT-THERE")
            await fill(pilot, "#list-patterns", "SKU-9*")
            await settle(pilot)
            count = str(form.query_one("#list-count", Static).render())
            assert form.matching == 3, count  # the code and the two SKU-9 articles
            assert "1 of the 2 codes are in the ERP" in count and "NOT-THERE" in count
            await fill(pilot, "#list-patterns", "SKU-[A-Z")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, SalesListForm)
            assert "is never closed" in message(app)
            await fill(pilot, "#list-patterns", "SKU-9*")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert not isinstance(app.screen, SalesListForm), message(app)
            await pilot.press("t")  # back to the listings
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            form = app.screen
            assert isinstance(form, ListingForm)
            await fill(pilot, "#listing-name", "autumn-stock")
            form.query_one("#listing-account", Select).value = "shop1"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "choose at least one sales list" in message(app)
            form.query_one("#listing-lists", SelectionList).select("autumn")
            await fill(pilot, "#rule-condition", "stock <= -x")
            await pilot.press("ctrl+a")
            assert "invalid rule condition" in message(app)
            await fill(pilot, "#rule-condition", "stock <= 0")
            form.query_one("#rule-action", Select).value = "stop"
            await pilot.press("ctrl+a")
            await fill(pilot, "#rule-condition", "stock > 0")
            form.query_one("#rule-action", Select).value = "publish"
            await pilot.press("ctrl+a")
            rules = form.query_one("#listing-rules", DataTable)
            assert rules.row_count == 2
            form.query_one("#listing-enabled", Checkbox).value = True
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert not isinstance(app.screen, ListingForm), message(app)
            await settle_all(pilot)  # the form's worker too: it starts the dry run
            await settle_all(pilot)
            # saved as the CLI would, and its dry run shown at once
            assert view.selected == "autumn-stock"
            assert "autumn-stock" in view.previews
            assert view.previews["autumn-stock"].outcome == "ok"
            detail = str(view.query_one("#listing-detail", Static).render())
            assert "dry run at" in detail
    async with Engine(home, notify=False) as engine:
        saved = await lst.get_listing(engine.hub, "autumn-stock")
        autumn = await lst.get_list(engine.hub, "autumn")
    assert [r.describe() for r in saved.rules] == [
        "when stock <= 0: stop (set inactive)", "when stock > 0: publish"]
    assert saved.account == "shop1" and saved.lists == ("autumn",) and saved.enabled
    assert sorted(autumn.codes) == sorted([code, "NOT-THERE"]) and autumn.patterns == ("SKU-9*",)


async def test_edit_a_listing_reorders_and_removes_rules(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with EmulatorServer(generate(5, seed=3)) as emu:
        async with Engine(home, notify=False) as engine:
            await acc.add_account(engine.hub, acc.build_account(
                "shop1", emu.url, key=emu.key, tz=TZ))
            await lst.save_list(engine.hub, "web", add_codes=["A1"])
            await lst.save_listing(engine.hub, "web-stock", account="shop1", lists=["web"],
                                   rules=[lst.make_rule("stock <= 0", "stop"),
                                          lst.make_rule("stock > 0", "publish"),
                                          lst.make_rule("always", "update", "price")],
                                   create=True)
        app = console_on(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("5")
            await settle(pilot)
            await pilot.press("e")
            await settle(pilot)
            form = app.screen
            assert isinstance(form, ListingForm)
            assert form.query_one("#listing-name").disabled
            rules = form.query_one("#listing-rules", DataTable)
            rules.focus()
            rules.move_cursor(row=2)
            await pilot.press("ctrl+u")  # the update rule first but one
            rules.move_cursor(row=0)
            await pilot.press("ctrl+x")  # the stop rule goes
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert not isinstance(app.screen, ListingForm), message(app)
    async with Engine(home, notify=False) as engine:
        saved = await lst.get_listing(engine.hub, "web-stock")
    assert [r.describe() for r in saved.rules] == [
        "when always: update price", "when stock > 0: publish"]
