"""The "Quit while a sync runs?" dialog says when the sync it warns about has finished
(issue 18): its text follows the run, and quitting then interrupts nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.runs import get_run
from core.store.hub import open_hub
from tests.tui.fakes import make_app, screen_text, settle
from tui.screens.quit_dialog import QuitDialog


async def until(pilot, condition) -> None:
    """Let messages through until `condition()` holds (events, not time)."""
    for _ in range(200):
        if condition():
            return
        await pilot.pause()
    raise AssertionError("never happened")


def body(dialog: QuitDialog) -> str:
    return str(dialog.query_one(".dialog-body").render())


async def outcome(home: Path, run_id: int) -> str | None:
    db = await open_hub(home / "hub.db")
    try:
        run = await get_run(db, run_id)
        return run.outcome if run else None
    finally:
        await db.close()


async def test_the_dialog_says_when_the_sync_started_here_has_finished(home: Path,
                                                                       shop) -> None:
    gate = shop.hold()
    app = make_app(home, shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot, skip=("bridge", "run:"))
        await pilot.press("q")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, QuitDialog)
        text = screen_text(app)
        assert "Quit while a sync runs?" in text and "Running: Orders sync of shop1" in text
        gate.set()  # the run goes on to its end
        await settle(pilot)
        assert app.screen is dialog  # still up: the operator answers it
        assert dialog.all_finished
        text = screen_text(app)
        assert "The sync has finished" in text and "Quit while a sync runs?" not in text
        assert body(dialog) == "Orders sync of shop1 has finished: quitting interrupts nothing now."
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0
    assert await outcome(home, 1) == "ok"  # finished, not interrupted


async def test_a_scheduled_run_of_the_console_is_warned_about_and_followed(home: Path,
                                                                          shop) -> None:
    gate = shop.hold()
    app = make_app(home, shop)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # as the console's scheduler fires it (core.scheduler.Scheduler._run)
        run = asyncio.create_task(app.engine.run_sync("shop2", "scheduled", trigger="schedule"))
        await pilot.press("o")  # and one started by hand on shop1
        await settle(pilot, skip=("bridge", "run:"))
        await until(pilot, lambda: "shop2" in app.main.accounts.live)  # through the bridge
        await pilot.press("q")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, QuitDialog)
        assert set(dialog.running) == {"shop1", "shop2"}
        assert "Scheduled run of shop2" in screen_text(app)
        gate.set()
        await run
        await settle(pilot)
        await until(pilot, lambda: dialog.all_finished)  # its end comes through the bridge
        assert "The syncs have finished" in screen_text(app)
        assert body(dialog) in (
            "Orders sync of shop1, Scheduled run of shop2 have finished: quitting interrupts "
            "nothing now.", "Scheduled run of shop2, Orders sync of shop1 have finished: "
            "quitting interrupts nothing now.")
        await pilot.press("n")  # stay; quitting now asks nothing
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_the_dialog_names_what_finished_while_another_still_runs() -> None:
    dialog = QuitDialog({"shop1": "Orders sync of shop1", "shop2": "Scheduled run of shop2"})
    title, question = dialog.title_text, dialog.question
    assert title == "Quit while a sync runs?"
    assert question.startswith("Running: Orders sync of shop1, Scheduled run of shop2.")
    dialog.finished["shop1"] = dialog.running.pop("shop1")
    title, question = dialog._texts()
    assert title == "Quit while a sync runs?"
    assert question.startswith("Running: Scheduled run of shop2.")
    assert question.endswith("Finished meanwhile: Orders sync of shop1.")
