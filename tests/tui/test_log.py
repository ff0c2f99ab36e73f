"""The live log: lines as they arrive, coloured, filtered, followed or paused, 100k lines."""

from __future__ import annotations

from pathlib import Path

from core.events import LogLine
from tests.tui.fakes import NOW, make_app, screen_text, settle
from tui.screens.log import LogView
from tui.widgets.sync_log import SyncLog


def line(account: str | None, message: str, level: str = "info", run_id: int = 1) -> LogLine:
    return LogLine(run_id=run_id, account=account, at=NOW, level=level, message=message)


async def shown(pilot) -> list[str]:
    await pilot.pause()
    log = pilot.app.screen.query_one(SyncLog)
    log.flush()  # what the 100 ms timer does
    return list(log.lines)


async def test_lines_arrive_with_time_level_and_account(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        app.publish(line("shop1", "reading orders after id 0"))
        app.publish(line("shop2", "the shop answered 503", "error", 2))
        lines = await shown(pilot)
        assert lines == ["07:00:00 INFO  shop1        reading orders after id 0",
                         "07:00:00 ERROR shop2        the shop answered 503"]


async def test_shop_data_is_shown_literally_not_as_markup(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        app.publish(line("shop1", "customer [b]Rossi[/b] created; [red]x[/red] \\[y]"))
        await shown(pilot)
        await pilot.pause()
        assert "customer [b]Rossi[/b] created; [red]x[/red] \\[y]" in screen_text(app)


async def test_filter_by_account_level_and_search(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        app.publish(line("shop1", "one"))
        app.publish(line("shop2", "two", "warning", 2))
        app.publish(line("shop1", "three", "debug"))
        app.publish(line("shop1", "four", "error"))
        assert len(await shown(pilot)) == 3  # debug is below the default level
        await pilot.press("a")  # shop1
        assert [ln[-5:].strip() for ln in await shown(pilot)] == ["one", "four"]
        assert "account: shop1" in screen_text(app)
        await pilot.press("a")  # shop2
        assert [ln[-3:] for ln in await shown(pilot)] == ["two"]
        await pilot.press("a", "v")  # all accounts, warning and above
        assert [ln.split()[-1] for ln in await shown(pilot)] == ["two", "four"]
        await pilot.press("escape")
        await pilot.press("slash")
        await pilot.press(*"thr", "enter")  # search; debug lines are hidden still
        assert await shown(pilot) == []
        await pilot.press("v", "v", "v")  # info → warning → error → debug
        assert [ln.split()[-1] for ln in await shown(pilot)] == ["three"]
        await pilot.press("escape")
        assert len(await shown(pilot)) == 3


async def test_follow_and_pause(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        view = app.screen.query_one(LogView)
        log = view.log_widget
        for i in range(200):
            app.publish(line("shop1", f"line {i}"))
        await shown(pilot)
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y > 0
        await pilot.press("space")
        assert "paused" in screen_text(app) and log.auto_scroll is False
        log.scroll_home(animate=False)
        for i in range(50):
            app.publish(line("shop1", f"more {i}"))
        await shown(pilot)
        await pilot.pause()
        assert log.scroll_y == 0  # paused: the view holds still while lines arrive
        await pilot.press("space")
        await pilot.pause()
        assert "following" in screen_text(app)
        assert log.scroll_y == log.max_scroll_y


async def test_keeps_up_with_100k_lines(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        log = app.screen.query_one(SyncLog)
        for i in range(100_000):
            app.publish(line("shop1", f"order {i} imported"))
        lines = await shown(pilot)
        while len(lines) < 100_000:  # the bridge hands them over in batches
            lines = await shown(pilot)
        assert log.line_count == 100_000
        assert lines[-1].endswith("order 99999 imported")


async def test_lines_of_a_run_in_another_process_show_up(home: Path) -> None:
    from core.store.hub import open_hub

    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        db = await open_hub(home / "hub.db")
        try:
            async with db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO runs (id, account_id, kind, trigger, owner, started_at) "
                    "VALUES (90, 2, 'scheduled', 'schedule', 'daemon', ?)", (NOW.isoformat(),))
                await conn.execute("INSERT INTO run_logs (run_id, at, level, message) VALUES "
                                   "(90, ?, 'info', 'scheduled sync of shop2 started')",
                                   (NOW.isoformat(),))
            await pilot.press("2")
            app.screen._poll()
            await settle(pilot)
            assert (await shown(pilot))[-1].endswith("scheduled sync of shop2 started")
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO run_logs (run_id, at, level, message) VALUES "
                                   "(90, ?, 'info', 'orders: 3 imported')", (NOW.isoformat(),))
                await conn.execute("UPDATE runs SET ended_at = ?, outcome = 'ok' WHERE id = 90",
                                   (NOW.isoformat(),))
            app.screen._poll()
            await settle(pilot)
            lines = await shown(pilot)
            assert [ln.split(maxsplit=3)[-1] for ln in lines] == [
                "scheduled sync of shop2 started", "orders: 3 imported"]
            app.screen._poll()
            await settle(pilot)
            assert len(await shown(pilot)) == 2  # nothing read twice
        finally:
            await db.close()
