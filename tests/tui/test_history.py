"""Run history: runs with kind, trigger, outcome, duration; open one to read its log."""

from __future__ import annotations

from pathlib import Path

from tests.tui.fakes import make_app, screen_text, seed_runs, settle
from tui.screens.history import HistoryView
from tui.screens.run_detail import RunDetailScreen
from tui.widgets.run_table import RunTable
from tui.widgets.sync_log import SyncLog


async def test_history_lists_runs_newest_first_with_their_counts(home: Path) -> None:
    await seed_runs(home)
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one(RunTable)
        assert [r.key.value for r in table.ordered_rows] == ["3", "2", "1"]
        text = screen_text(app)
        assert "#2     shop2       customers  console   27 Nov 10:30  ! partial      1m35s" in text
        assert "#3 shop1 orders: 2 orders, 2 documents" in text
        await pilot.press("down")
        await pilot.pause()
        assert "1 error(s); first: customer 7 [b]Rossi[/b]: the shop answered 500" in \
            screen_text(app)


async def test_opening_a_run_shows_its_errors_and_log(home: Path) -> None:
    await seed_runs(home)
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, RunDetailScreen)
        text = screen_text(app)
        assert "shop2 · customers sync · started by console · 27 Nov 10:30 · took 1m35s" in text
        assert "• customer 7 [b]Rossi[/b]: the shop answered 500 Internal Server Error" in text
        log = app.screen.query_one(SyncLog)
        assert [ln[9:14] for ln in log.lines] == ["INFO ", "ERROR", "INFO "]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, RunDetailScreen)


async def test_a_new_run_appears_at_the_top_and_the_scope_toggles(home: Path, shop) -> None:
    await seed_runs(home)
    app = make_app(home, shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("o")  # shop1, selected
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one(RunTable)
        assert [r.key.value for r in table.ordered_rows] == ["4", "3", "2", "1"]
        assert table.get_cell("4", "trigger").plain == "console"
        await pilot.press("a")
        await settle(pilot)
        assert [r.key.value for r in table.ordered_rows] == ["4", "3", "1"]
        assert "runs of shop1" in screen_text(app)
        assert app.screen.query_one(HistoryView).only_account


async def test_the_live_log_can_show_only_the_selected_run(home: Path) -> None:
    from core.events import LogLine
    from tests.tui.fakes import NOW

    await seed_runs(home)
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for run_id in (2, 3, 2):
            app.publish(LogLine(run_id=run_id, account="shop2" if run_id == 2 else "shop1",
                                at=NOW, level="info", message=f"line of run {run_id}"))
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("down", "l")  # run #2
        await pilot.pause()
        log = app.screen.query_one(SyncLog)
        log.flush()
        assert [ln[-5:] for ln in log.lines] == ["run 2", "run 2"]
        assert "account: shop2  run #2" in screen_text(app)
