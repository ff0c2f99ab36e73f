"""Listings and sales lists in the console (view 5): view, enable/disable, dry run, run.

Over the real emulator and the embedded ERP; the emulator's request counts prove
that the dry run writes nothing on the shop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.widgets import DataTable

from core import accounts as acc
from core import listings as lst
from core.engine import Engine
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.synctools import fast_shop_factory
from tests.tui.fakes import NOW, TZ, screen_text, settle
from tui.app import SincroApp
from tui.screens.dialogs import ConfirmScreen
from tui.screens.listings import ListingsView

STOP_PUBLISH = [lst.make_rule("stock <= 0", "stop"), lst.make_rule("stock > 0", "publish")]


def console_on(home: Path) -> SincroApp:
    return SincroApp(engine_factory=lambda: Engine(home, shop_factory=fast_shop_factory(),
                                                   notify=False, log_retention_days=365_000),
                     tz=TZ, clock=lambda: NOW, refresh_every=3600, lines_every=3600)


def simple_product(emu: Any) -> tuple[int, str]:
    """An active product without combinations, and its reference."""
    tables = emu.state.tables
    combos = {c["id_product"] for c in tables["combinations"].values()}
    for pid, p in sorted(tables["products"].items()):
        if str(pid) not in combos and p.get("reference"):
            return int(pid), p["reference"]
    raise AssertionError("no product without combinations")


async def prepare(home: Path, emu: Any) -> tuple[int, str]:
    async with Engine(home, notify=False) as engine:
        return await setup_listings(engine, emu)


async def setup_listings(engine: Engine, emu: Any) -> tuple[int, str]:
    """shop1 on the emulator; an ERP article out of stock whose product is active on the
    shop; a sales list with it; an enabled listing that stops it, and a disabled one."""
    pid, code = simple_product(emu)
    await acc.add_account(engine.hub, acc.build_account("shop1", emu.url, key=emu.key,
                                                        tz=TZ, options={"tax_map": {"0": "N4"}}))
    erp = await engine.erp()
    await erp.add_article(code, f"article {code}", "10.00", stock=0)
    await lst.save_list(engine.hub, "web", add_codes=[code])
    await lst.save_list(engine.hub, "spare", add_patterns=["SKU-9*"])
    await lst.save_listing(engine.hub, "web-stock", account="shop1", lists=["web"],
                           rules=STOP_PUBLISH, create=True)
    await lst.save_listing(engine.hub, "later", account="shop1", lists=["spare"],
                           rules=[lst.make_rule("always", "update", "price")], create=True,
                           enabled=False)
    async with httpx.AsyncClient(base_url=emu.url + "_emulator/") as side:
        r = await side.patch(f"objects/products/{pid}", json={"active": "1"})
        assert r.status_code == 200
        await side.post("requests/reset")
    return pid, code


async def shop(emu: Any, path: str) -> Any:
    async with httpx.AsyncClient(base_url=emu.url + "_emulator/") as side:
        return (await side.get(path)).json()


async def open_view(pilot: Any) -> ListingsView:
    await settle(pilot)
    await pilot.press("5")
    await settle(pilot)
    return pilot.app.main.query_one(ListingsView)


async def select(pilot: Any, view: ListingsView, name: str) -> None:
    table = view.table
    table.move_cursor(row=table.get_row_index(name))
    await pilot.pause()


@pytest.fixture
async def emu():
    async with EmulatorServer(generate(5, seed=3)) as server:
        yield server


async def test_the_view_lists_listings_their_rules_and_the_sales_lists(tmp_path: Path,
                                                                        emu) -> None:
    home = tmp_path / "home"
    _pid, code = await prepare(home, emu)
    app = console_on(home)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_view(pilot)
        table = view.query_one("#listings-table", DataTable)
        assert [r.key.value for r in table.ordered_rows] == ["later", "web-stock"]
        assert table.get_cell("later", "enabled").plain == "no"
        await select(pilot, view, "web-stock")
        text = screen_text(app)
        assert "2 listings (1 enabled), 2 sales lists" in text
        assert "1. when stock <= 0: stop (set inactive)" in text
        assert "2. when stock > 0: publish" in text
        # a disabled listing can be neither tried nor run
        await select(pilot, view, "later")
        assert view.check_action("dry_run", ()) is None
        assert view.check_action("run", ()) is None
        await pilot.press("t")
        await settle(pilot)
        lists = view.query_one("#lists-table", DataTable)
        assert lists.get_cell("spare", "used").plain == "later"
        await select(pilot, view, "web")
        assert f"codes (1): {code}" in screen_text(app)
        assert view.check_action("toggle_enabled", ()) is None  # a sales list has no switch


async def test_dry_run_shows_the_change_and_writes_nothing_then_run_applies_it(
        tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    pid, code = await prepare(home, emu)
    app = console_on(home)
    async with app.run_test(size=(100, 40)) as pilot:
        view = await open_view(pilot)
        await select(pilot, view, "web-stock")
        await pilot.press("d")
        await settle(pilot)
        text = screen_text(app)
        assert "dry run at" in text and "1 change would be made" in text
        assert f"would set product {pid} (article {code}) active: 1 -> 0" in text
        counts = await shop(emu, "requests")
        assert counts["writes"] == 0 and counts["total"] > 0
        assert (await shop(emu, f"products/{pid}"))["active"] is True
        assert await app.engine.hub.scalar("SELECT COUNT(*) FROM runs") == 0

        await pilot.press("g")
        await settle(pilot, skip=("bridge", "ask:"))
        assert isinstance(app.screen, ConfirmScreen)
        assert "found 1 change" in screen_text(app).replace("\n", " ")
        await pilot.press("y")
        await settle(pilot)
        assert (await shop(emu, f"products/{pid}"))["active"] is False
        run = await app.engine.hub.fetchone("SELECT id, kind, trigger, outcome FROM runs")
        assert tuple(run) == (run[0], "listings", "console", "ok")
        assert f"run #{run[0]} at" in screen_text(app)

        # nothing differs any more: a second dry run finds nothing to do
        await pilot.press("d")
        await settle(pilot)
        assert "0 changes would be made" in screen_text(app)


async def test_cancelling_the_run_writes_nothing(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    pid, _code = await prepare(home, emu)
    app = console_on(home)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_view(pilot)
        await select(pilot, view, "web-stock")
        await pilot.press("g")
        await settle(pilot, skip=("bridge", "ask:"))
        assert "No dry run yet" in screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert (await shop(emu, "requests"))["writes"] == 0
        assert (await shop(emu, f"products/{pid}"))["active"] is True


async def test_space_enables_and_disables_a_listing(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    await prepare(home, emu)
    app = console_on(home)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_view(pilot)
        await select(pilot, view, "later")
        await pilot.press("space")
        await settle(pilot)
        assert (await lst.get_listing(app.engine.hub, "later")).enabled
        assert view.query_one("#listings-table", DataTable).get_cell("later",
                                                                     "enabled").plain == "yes"
        assert view.check_action("dry_run", ()) is True
        await pilot.press("space")
        await settle(pilot)
        assert not (await lst.get_listing(app.engine.hub, "later")).enabled


async def test_no_listings_says_how_to_make_them(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    app = console_on(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_view(pilot)
        assert "sincro listing import FILE.toml" in screen_text(app)


def test_listings_snapshot(snap_compare, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        async with EmulatorServer(generate(5, seed=3)) as server:  # up while the app runs
            await setup_listings(pilot.app.engine, server)
            view = await open_view(pilot)
            await select(pilot, view, "web-stock")
            await pilot.press("d")
            await settle(pilot)
        pilot.app.clear_notifications()  # the toast carries a duration
        await pilot.pause()

    assert snap_compare(console_on(home), terminal_size=(80, 24), run_before=run_before)
