"""Reconcile and review in the console, over the real emulator and the embedded ERP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.widgets import DataTable, Input

from core import accounts as acc
from core.engine import Engine
from core.reconcile import review
from core.store.hub import open_hub
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.integration.test_reconcile import delete_document, pick
from tests.synctools import fast_shop_factory, more_shipping
from tests.tui.fakes import NOW, TZ, fill, screen_text, seed, settle
from tui.app import SincroApp
from tui.screens.dialogs import ConfirmScreen
from tui.screens.reconcile import ReconcileScreen
from tui.screens.review import ReviewScreen

SINCE = "2025-01-01"  # the emulator's orders are placed from 2025-01-07


@pytest.fixture
async def emu():
    async with EmulatorServer(generate(60, seed=5)) as server:
        yield server


def console_on(home: Path) -> SincroApp:
    return SincroApp(engine_factory=lambda: Engine(home, shop_factory=fast_shop_factory(),
                                                   notify=False, log_retention_days=365_000),
                     tz=TZ, clock=lambda: NOW, refresh_every=3600, lines_every=3600)


async def add_shop(home: Path, emu: Any) -> None:
    home.mkdir(parents=True, exist_ok=True)
    db = await open_hub(home / "hub.db")
    try:
        await acc.add_account(db, acc.build_account("shop1", emu.url, key=emu.key, tz=TZ,
                                                      options={"tax_map": {"0": "N4"}}))
    finally:
        await db.close()


async def three_differences(home: Path, emu: Any) -> tuple[int, int, int]:
    """As tests/integration/test_reconcile.py: a document gone, a total changed on the shop,
    an order cancelled on the shop."""
    a, b, c = pick(emu, 3)
    await delete_document(home, f"shop1:o:{a}")
    async with httpx.AsyncClient(base_url=emu.url) as http:
        r = await http.patch(f"/_emulator/orders/{b}", json=more_shipping(emu.state, b))
        assert r.status_code == 200
        r = await http.post(f"/_emulator/orders/{c}/state", json={"state": 6})
        assert r.status_code == 200
    return a, b, c


async def shop_requests(emu: Any) -> int:
    async with httpx.AsyncClient(base_url=emu.url) as http:
        return (await http.get("/_emulator/requests")).json()["total"]


def category_rows(app: SincroApp) -> dict[str, tuple[str, str]]:
    table = app.screen.query_one("#reconcile-categories", DataTable)
    return {row.key.value: (table.get_cell(row.key, "count").plain,
                            table.get_cell(row.key, "action").plain)
            for row in table.ordered_rows}


async def select(pilot: Any, category: str) -> None:
    table = pilot.app.screen.query_one("#reconcile-categories", DataTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(category))
    await pilot.pause()


async def reconcile_from(pilot: Any, since: str) -> None:
    await pilot.press("p")
    await fill(pilot, "#reconcile-since", since)
    await pilot.press("enter")
    await settle(pilot)


async def test_reconcile_shows_the_categories_and_imports_the_missing(tmp_path: Path,
                                                                      emu) -> None:
    home = tmp_path / "home"
    await add_shop(home, emu)
    app = console_on(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.engine.run_sync("shop1", "orders")
        a, b, c = await three_differences(home, emu)
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReconcileScreen)
        # the default period is the last 30 days (fixed clock): no orders, so aligned
        assert screen.query_one("#reconcile-since", Input).value == "2026-10-29"
        assert "aligned: shop, hub and ERP agree" in screen_text(app)

        await reconcile_from(pilot, SINCE)
        rows = category_rows(app)
        assert {k: v[0] for k, v in rows.items()} == {
            "missing": "1", "doubled": "0", "differs": "1", "states": "1", "customers": "0", "doubled_customers": "0",
            "refunds": "0", "not_importable": rows["not_importable"][0],
            "acknowledged": rows["acknowledged"][0]}
        acknowledged = int(rows["acknowledged"][0])
        assert rows["missing"][1] == "import the missing orders (hub and ERP)"
        assert rows["doubled"][1] == "aligned"
        text = screen_text(app)
        assert "not aligned: missing 1, differs 1, states 1" in text
        for category, oid in (("missing", a), ("differs", b), ("states", c)):
            await select(pilot, category)
            assert f"ids {oid}" in screen_text(app), category
            assert f"order {oid} " in screen_text(app)
        await select(pilot, "missing")
        assert "[not_in_erp]" in screen_text(app)

        await pilot.press("f")
        await settle(pilot, skip=("bridge", "ask:"))
        assert isinstance(app.screen, ConfirmScreen)
        assert f"({a})" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is screen
        rows = category_rows(app)
        assert rows["missing"] == ("0", "aligned")
        assert rows["differs"][0] == "1" and rows["states"][0] == "1"
        assert "not aligned: differs 1, states 1" in screen_text(app)
        await select(pilot, "missing")
        assert "Missing: none" in screen_text(app)
        # the fix was recorded as a console run
        (kind, trigger, outcome), = await app.engine.hub.fetchall(
            "SELECT kind, trigger, outcome FROM runs WHERE kind LIKE 'fix-%'")
        assert (kind, trigger, outcome) == ("fix-missing", "console", "ok")

        # the other two, and the account is aligned
        for category in ("differs", "states"):
            await select(pilot, category)
            await pilot.press("f")
            await settle(pilot, skip=("bridge", "ask:"))
            await pilot.press("y")
            await settle(pilot)
        assert "aligned: shop, hub and ERP agree" in screen_text(app)
        assert category_rows(app)["acknowledged"][0] == str(acknowledged + 1)


async def test_cancelling_the_fix_changes_nothing_and_doubled_has_no_fix(tmp_path: Path,
                                                                         emu) -> None:
    home = tmp_path / "home"
    await add_shop(home, emu)
    app = console_on(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.engine.run_sync("shop1", "orders")
        a, _, _ = await three_differences(home, emu)
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        await reconcile_from(pilot, SINCE)
        screen = app.screen
        await select(pilot, "missing")
        await pilot.press("f")
        await settle(pilot, skip=("bridge", "ask:"))
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is screen and category_rows(app)["missing"][0] == "1"
        await select(pilot, "doubled")
        assert screen.check_action("fix", ()) is None  # nothing to fix: the key is disabled
        await select(pilot, "states")
        assert screen.check_action("fix", ()) is True
        await pilot.press("escape")
        assert not isinstance(app.screen, ReconcileScreen)


async def test_an_invalid_period_is_shown_in_place(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    await add_shop(home, emu)
    app = console_on(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        before = await shop_requests(emu)
        await reconcile_from(pilot, "yesterday")
        text = screen_text(app)
        assert "not a date: 'yesterday'; give YYYY-MM-DD" in text
        field = app.screen.query_one("#reconcile-since", Input)
        assert field.has_class("-invalid") and field.has_focus
        assert await shop_requests(emu) == before  # nothing asked of the shop
        await fill(pilot, "#reconcile-since", "")  # empty: every order
        await pilot.press("enter")
        await settle(pilot)
        assert "not a date" not in screen_text(app)
        assert f"{len(emu.state.table('orders'))} orders placed from the start" in \
            screen_text(app)


async def test_review_lists_what_sincro_created(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    await add_shop(home, emu)
    app = console_on(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app.engine.run_sync("shop1", "orders")
        expected = await review(app.engine.hub, "shop1")
        await settle(pilot)
        await pilot.press("V")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        await pilot.press("p")
        await fill(pilot, "#review-since", "")
        await pilot.press("enter")
        await settle(pilot)
        articles = app.screen.query_one("#review-articles", DataTable)
        merged = app.screen.query_one("#review-merged", DataTable)
        assert articles.row_count == len(expected.articles)
        assert merged.row_count == len(expected.merged)
        assert (f"since the start: {len(expected.articles)} auto-coded articles, "
                f"{len(expected.merged)} merged guest customers") in screen_text(app)
        await fill(pilot, "#review-since", "2025-13-01")
        await pilot.press("enter")
        await settle(pilot)
        assert "not a date: '2025-13-01'; give YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC)" in \
            screen_text(app)


async def test_palette_and_help_list_the_two_screens(tmp_path: Path) -> None:
    from tui.app import VIEW_COMMANDS

    home = tmp_path / "home"
    await seed(home)
    app = console_on(home)
    assert {t for t, *_ in VIEW_COMMANDS} >= {"Reconcile", "Review"}
    sections = dict(app.key_sections())
    assert {b.id for b in sections["Accounts"]} >= {"account-reconcile", "account-review"}
    assert "Reconcile" in sections and "Review" in sections
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await app._run_on_view("accounts", "review")
        await settle(pilot)
        assert isinstance(app.screen, ReviewScreen)
        assert "since 2026-10-29 (UTC): 0 auto-coded articles" in screen_text(app)


# -- snapshots (80x24) -----------------------------------------------------------
async def seed_review(home: Path) -> None:
    """Fixed rows for the review: two auto-coded articles (one with markup in its name),
    three guests merged by e-mail into one ERP customer."""
    await seed(home, ("shop1",))
    db = await open_hub(home / "hub.db")
    try:
        async with db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO articles (account_id, product_id, attribute_id, code, reference,"
                " name, auto_coded, created_at) VALUES (1, ?, ?, ?, ?, ?, 1, ?)",
                [(12, 0, "SIN-12-0", None, "Tazza [b]Rossa[/b]", "2026-11-20T08:30:00+00:00"),
                 (15, 3, "SIN-15-3", "", "Maglia L blu", "2026-11-27T16:05:00+00:00"),
                 (16, 0, "OLD-16", None, "Vecchio", "2026-09-01T10:00:00+00:00")])
            await conn.executemany(
                "INSERT INTO customers (account_id, shop_id, email, is_guest, data, erp_ref,"
                " erp_code, imported_at, updated_at) VALUES (1, ?, ?, 1, '{}', ?, ?, ?, ?)",
                [(i, "anna@example.com", "shop1:e:anna@example.com", "C000042", at, at)
                 for i, at in ((31, "2026-11-02T09:00:00+00:00"),
                               (44, "2026-11-25T18:40:00+00:00"))])
    finally:
        await db.close()


def test_review_snapshot(snap_compare, tmp_path: Path) -> None:
    home = tmp_path / "home"
    asyncio.run(seed_review(home))

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("V")
        await settle(pilot)

    app = console_on(home)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_reconcile_snapshot(snap_compare, tmp_path: Path) -> None:
    home = tmp_path / "home"

    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await settle(pilot)
        async with EmulatorServer(generate(60, seed=5)) as server:
            await acc.add_account(app.engine.hub, acc.build_account(
                "shop1", server.url, key=server.key, tz=TZ, options={"tax_map": {"0": "N4"}}))
            await app.engine.run_sync("shop1", "orders")
            await three_differences(home, server)
            app.main.accounts.load()
            await settle(pilot)
            await pilot.press("R")
            await settle(pilot)
            await reconcile_from(pilot, SINCE)
            await select(pilot, "differs")
        app.clear_notifications()  # the orders sync's toast carries its duration
        await pilot.pause()

    async def setup() -> None:
        home.mkdir(parents=True)

    asyncio.run(setup())
    assert snap_compare(console_on(home), terminal_size=(80, 24), run_before=run_before)


async def test_a_shop_that_does_not_answer_is_said_in_place(tmp_path: Path, notes) -> None:
    home = tmp_path / "home"
    async with EmulatorServer(generate(5, seed=1)) as gone:
        await add_shop(home, gone)
    app = console_on(home)  # the shop's port is closed now
    seen = notes(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        await reconcile_from(pilot, SINCE)
        text = screen_text(app)
        assert "Reconcile of shop1 failed: " in text and "cannot reach" in text
        assert any(n.get("title") == "Reconcile of shop1" and n["severity"] == "error"
                   for n in seen)
        assert "Traceback" not in text
        assert app.screen.check_action("fix", ()) is None
        assert app.screen.check_action("run", ()) is True  # it can be tried again
