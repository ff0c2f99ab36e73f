"""The console schedules runs, unless a daemon schedules the hub (U-2, S-3)."""

from __future__ import annotations

from pathlib import Path

from core.engine import Engine
from core.scheduler import Scheduler
from tests.tui.fakes import make_app, settle


async def test_the_console_schedules_when_no_daemon_does(home: Path, notes) -> None:
    app = make_app(home, schedule=True)
    seen = notes(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, skip=("bridge", "scheduler"))
        while app.scheduler is None or not app.scheduling_note:
            await pilot.pause()
        assert app.scheduler.active
        assert any(n["message"] == "this console schedules the runs" for n in seen)
        await pilot.press("q")
    # leaving, it hands the lease back
    async with Engine(home, notify=False) as engine:
        assert await Scheduler(engine, role="daemon").acquire()


async def test_the_console_leaves_scheduling_to_a_running_daemon(home: Path, notes) -> None:
    async with Engine(home, notify=False) as daemon_engine:
        daemon = Scheduler(daemon_engine, role="daemon")
        assert await daemon.acquire()
        app = make_app(home, schedule=True)
        seen = notes(app)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, skip=("bridge", "scheduler"))
            while not app.scheduling_note:
                await pilot.pause()
            assert not app.scheduler.active
            assert any("daemon schedules the runs" in n["message"] for n in seen)
            await pilot.press("q")
        await daemon.release()
