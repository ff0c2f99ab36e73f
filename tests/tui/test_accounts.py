"""The accounts screen: state, last and next run, and the selected account's actions."""

from __future__ import annotations

import os
from pathlib import Path

from core.locks import HOST, Lease
from core.store.hub import open_hub
from tests.tui.fakes import KEY, make_app, screen_text, seed, seed_runs, settle
from tui.screens.accounts import AccountsView
from tui.screens.dialogs import ConfirmScreen
from tui.widgets.account_table import AccountTable

SKIP_RUNS = ("bridge", "run:", "ask:")


async def test_accounts_show_state_last_and_next_run_and_a_masked_key(home: Path) -> None:
    await seed_runs(home)
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AccountTable)
        assert [k.value for k in table.rows] == ["shop1", "shop2"]
        text = screen_text(app)
        assert "idle" in text
        assert "✓ ok 2 orders" in text  # shop1's last run (#3)
        assert "! partial" in text  # shop2's
        assert "28 Nov 08:00" in text  # shop1's next run, Europe/Rome
        assert "key ABCD…" in text and KEY not in text
        assert "full syncs: 0 of 4 used this month, 4 left" in text


async def test_an_orders_sync_runs_in_a_worker_and_ends_with_a_notification(
        home: Path, shop, notes) -> None:
    app = make_app(home, shop)
    seen = notes(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        assert shop.opened == ["shop1"]
        finished = [n for n in seen if "finished" in n.get("title", "")]
        assert finished and finished[0]["title"] == "shop1: run #1 finished"
        assert "orders sync ✓ ok" in finished[0]["message"]
        assert finished[0]["severity"] == "information"
        assert "✓ ok" in screen_text(app)


async def test_a_second_sync_while_one_runs_here_is_refused_with_the_reason(
        home: Path, shop, notes) -> None:
    gate = shop.hold()
    app = make_app(home, shop)
    seen = notes(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot, skip=SKIP_RUNS)
        view = app.screen.query_one(AccountsView)
        assert "shop1" in view.live
        assert "▶ orders" in screen_text(app)
        await pilot.press("s")
        await pilot.pause()
        refused = [n for n in seen if "refused" in n.get("title", "")]
        assert refused and "account shop1 is busy" in refused[0]["message"]
        assert "refused: account shop1 is busy" in screen_text(app)
        gate.set()
        await settle(pilot)
        assert shop.opened == ["shop1"]
        assert "shop1" not in view.live


async def test_a_sync_refused_because_another_process_runs_it_shows_who_and_since(
        home: Path, shop, notes) -> None:
    db = await open_hub(home / "hub.db")
    lease = Lease(db, 1, "shop1", "daemon:abcdef12")
    await lease.acquire("orders sync (schedule)")
    app = make_app(home, shop)
    seen = notes(app)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert "▶ other process" in screen_text(app)
            await pilot.press("o")
            await settle(pilot)
            errors = [n for n in seen if n.get("severity") == "error"]
            assert errors, seen
            assert (f"account shop1 is busy: orders sync (schedule) by process {os.getpid()} "
                    f"on {HOST} since") in errors[0]["message"]
            assert shop.opened == []
            log = app.screen.query_one("#sync-log")
            log.flush()
            assert any("orders sync refused: account shop1 is busy" in line
                       for line in log.lines)
    finally:
        await lease.release()
        await db.close()


async def test_customers_sync_asks_first_and_says_it_can_take_long(home: Path, shop) -> None:
    app = make_app(home, shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot, skip=SKIP_RUNS)
        assert isinstance(app.screen, ConfirmScreen)
        assert "can take long" in screen_text(app)
        await pilot.press("n")
        await settle(pilot)
        assert shop.opened == []
        await pilot.press("c")
        await settle(pilot, skip=SKIP_RUNS)
        await pilot.press("y")
        await settle(pilot)
        assert shop.opened == ["shop1"]
        view = app.screen.query_one(AccountsView)
        assert view.infos["shop1"].last_run.kind == "customers"


async def test_full_sync_shows_the_quota_before_starting(home: Path, shop) -> None:
    app = make_app(home, shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot, skip=SKIP_RUNS)
        assert isinstance(app.screen, ConfirmScreen)
        assert "full syncs: 0 of 4 used this month, 4 left" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert shop.opened == []


async def test_without_accounts_the_actions_are_disabled(tmp_path: Path, shop) -> None:
    home = tmp_path / "empty"
    await seed(home, names=())
    app = make_app(home, shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        view = app.screen.query_one(AccountsView)
        assert view.check_action("sync", ("orders",)) is None
        await pilot.press("o")
        await settle(pilot)
        assert shop.opened == []
        assert "No account yet: press n to add one." in screen_text(app)


async def test_progress_shows_in_the_state_column(home: Path, shop) -> None:
    from core.events import RunProgress

    gate = shop.hold()
    app = make_app(home, shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot, skip=SKIP_RUNS)
        run_id = app.screen.query_one(AccountsView).live["shop1"].run_id
        app.publish(RunProgress(run_id=run_id, account="shop1", step="customers", done=45,
                                total=120))
        await pilot.pause()
        table = app.screen.query_one(AccountTable)
        assert table.get_cell("shop1", "state").plain == "▶ customers 45/120"
        gate.set()
        await settle(pilot)


async def test_a_failed_run_notifies_its_error(home: Path, shop, notes) -> None:
    from core.prestashop.errors import ShopUnavailable

    shop.fail = ShopUnavailable("the shop at https://shop1.example/ does not answer",
                                hint="check that it is up")
    app = make_app(home, shop)
    seen = notes(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot)
        finished = [n for n in seen if "finished" in n.get("title", "")]
        assert finished[0]["severity"] == "error"
        assert "orders sync ✗ failed" in finished[0]["message"]
        assert "first error: the shop at https://shop1.example/ does not answer" in \
            finished[0]["message"]
        assert "✗ failed 1 err" in screen_text(app)


async def test_full_sync_past_the_allowance_is_refused_with_the_quota(tmp_path: Path,
                                                                      shop, notes) -> None:
    home = tmp_path / "home"
    home.mkdir()
    db = await open_hub(home / "hub.db")
    from core import accounts as acc

    await acc.add_account(db, acc.build_account("shop1", "https://shop1.example", key=KEY,
                                                tz="Europe/Rome",
                                                options={"full_sync_allowance": 0}))
    await db.close()
    app = make_app(home, shop)
    seen = notes(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "full syncs: 0 of 0 used this month, 0 left" in screen_text(app)
        await pilot.press("f")
        await settle(pilot)
        assert any("has used all 0 full syncs allowed" in n["message"] for n in seen)
        assert shop.opened == []
