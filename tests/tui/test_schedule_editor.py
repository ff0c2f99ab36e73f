"""The schedule editor: Test shows the next ten runs as typed; Reset; Save validates in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.schedule import Schedule
from core.schedules_store import get_schedule
from core.store.hub import open_hub
from tests.tui.fakes import fill, make_app, screen_text, seed_runs, settle
from tui.screens.schedule_editor import ScheduleEditor, schedule_from_fields
from tui.widgets.form import FormMessage
from tui.widgets.schedule_preview import SchedulePreview


async def stored(home: Path):
    db = await open_hub(home / "hub.db")
    try:
        return await get_schedule(db, 1)
    finally:
        await db.close()


def test_fields_make_the_schedule_the_engine_knows() -> None:
    assert schedule_from_fields("daily", times="4", between="08:00-20:00",
                                tz="Europe/Rome").run_times() == (
        "08:00", "12:00", "16:00", "20:00")
    assert schedule_from_fields("weekly", weekdays="mon,thu", at="07:30", tz="UTC") == \
        Schedule("weekly", tz="UTC", weekdays=("mon", "thu"), at=("07:30",))
    assert schedule_from_fields("off", tz="UTC").kind == "off"
    with pytest.raises(ConfigError, match="'between' goes with 'runs a day'"):
        schedule_from_fields("daily", between="08:00-20:00", tz="UTC")


async def test_test_shows_the_next_ten_runs_before_saving_then_save_stores(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        assert isinstance(app.screen, ScheduleEditor)
        await fill(pilot, "#sch-times", "4")
        await fill(pilot, "#sch-between", "08:00-20:00")
        await pilot.press("ctrl+t")
        await pilot.pause()
        preview = app.screen.query_one(SchedulePreview)
        assert len(preview.runs) == 10
        assert preview.runs[0] == "Sat 28 Nov 2026 08:00 CET"  # the clock says 07:00 there
        assert preview.runs[4] == "Sun 29 Nov 2026 08:00 CET"
        assert "Sat 28 Nov 2026 08:00 CET" in screen_text(app)
        assert await stored(home) is None  # Test never saves
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, ScheduleEditor)
        saved = await stored(home)
        assert saved.schedule.describe() == "daily, 4 times between 08:00 and 20:00 (Europe/Rome)"
        assert "28 Nov 08:00" in screen_text(app)  # the accounts table's next run


async def test_an_invalid_cron_shows_its_message_in_place(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        app.screen.query_one("#sch-kind").value = "cron"
        await pilot.pause()
        await fill(pilot, "#sch-cron", "0 25 * * *")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ScheduleEditor)  # not saved
        message = str(app.screen.query_one(FormMessage).render())
        assert "invalid hour field '25' in cron expression '0 25 * * *'" in message
        assert app.screen.query_one("#sch-cron").has_class("-invalid")
        assert "invalid hour field" in screen_text(app)
        assert await stored(home) is None
        await fill(pilot, "#sch-cron", "0 8 * * mon-fri")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert not app.screen.query_one("#sch-cron").has_class("-invalid")
        assert app.screen.query_one(SchedulePreview).runs[0] == "Mon 30 Nov 2026 08:00 CET"


async def test_a_bad_zone_is_flagged_on_its_field(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        await fill(pilot, "#sch-at", "09:00")
        await fill(pilot, "#sch-tz", "Mars/Olympus")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert "unknown time zone 'Mars/Olympus'" in str(
            app.screen.query_one(FormMessage).render())
        assert app.screen.query_one("#sch-tz").has_class("-invalid")
        assert app.screen.query_one(SchedulePreview).runs == []


async def test_reset_clears_the_preview_and_the_stored_next_run(home: Path) -> None:
    await seed_runs(home)  # shop1 has a daily schedule
    assert (await stored(home)).next_run is not None
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        assert app.screen.query_one("#sch-times").value == "4"
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.screen.query_one(SchedulePreview).runs
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert app.screen.query_one(SchedulePreview).runs == []
        assert "next-run computation cleared" in screen_text(app)
        assert (await stored(home)).next_run is None
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ScheduleEditor)


async def test_after_reset_the_editor_shows_the_stored_next_run_as_it_is_now(home: Path) -> None:
    from datetime import UTC, datetime

    from core.schedules_store import set_next_run

    await seed_runs(home)  # shop1: daily, stored next run Sat 28 Nov 08:00 CET
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        editor = app.screen
        hint = editor.query_one("#schedule-hint")
        assert "stored next run: Sat 28 Nov 2026 08:00 CET" in str(hint.render())
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert "stored next run: none" in str(hint.render())
        assert "Sat 28 Nov 2026 08:00" not in screen_text(app)  # the old one is gone
        assert "the scheduler computes it again from now" in str(
            editor.query_one(FormMessage).render())
        # a scheduler computes it again (this console's, or a daemon's): the editor follows
        await set_next_run(app.engine.hub, 1, datetime(2026, 11, 28, 11, 0, tzinfo=UTC))
        editor.look_again()  # what its timer does every refresh_every seconds
        await settle(pilot)
        assert "stored next run: Sat 28 Nov 2026 12:00 CET" in str(hint.render())
        await pilot.press("escape")  # after a Reset, the accounts read the next run again
        await settle(pilot)
        assert not isinstance(app.screen, ScheduleEditor)
        assert "28 Nov 12:00" in screen_text(app)
