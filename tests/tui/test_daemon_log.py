"""Issue 18: a daemon's run, followed live from the console in another process. Its lines
reach the live log in the order the daemon wrote them, and while the run is still going
(each within core.runs.LINES_WITHIN of being logged, even when the run waits on the shop)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from core.store.hub import open_hub
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.integration.test_daemon import prepare, read_until, start_daemon
from tests.tui.fakes import make_app
from tui.widgets.sync_log import SyncLog


async def _wait_for_lines(pilot, want, limit: float = 60) -> list[str]:
    """The live log's lines once ``want(lines)`` holds (the console looks every 100 ms)."""
    log = pilot.app.screen.query_one(SyncLog)
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        await pilot.pause(0.05)
        log.flush()
        lines = list(log.lines)
        if want(lines):
            return lines
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the live log after {limit} s: {lines}")


async def test_a_daemons_lines_reach_the_live_log_in_order_while_it_runs(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    state = generate(120, seed=31)
    async with EmulatorServer(state) as emu:
        await prepare(home, emu)
        # the shop holds every answer from the second one: the daemon's run logs its start
        # and then waits on the shop, with no transaction of its own to write its lines
        held = state.faults.add(kind="hold")
        daemon = await start_daemon(home)
        app = make_app(home, lines_every=0.1)
        try:
            async with app.run_test(size=(100, 30)) as pilot:
                await asyncio.wait_for(app.ready.wait(), 30)
                await read_until(daemon, "event=run_started")
                await asyncio.wait_for(held.reached.wait(), 60)
                await pilot.press("2")
                started = await _wait_for_lines(
                    pilot, lambda lines: any("started" in ln for ln in lines))
                assert held in state.faults.faults  # still held: the run is under way
                state.faults.clear()
                await read_until(daemon, "event=run_finished")
                db = await open_hub(home / "hub.db")
                try:
                    # what the live log shows by default: info and above
                    written = [r[0] for r in await db.fetchall(
                        "SELECT message FROM run_logs WHERE level != 'debug' ORDER BY id")]
                finally:
                    await db.close()
                lines = await _wait_for_lines(
                    pilot, lambda lines: len(lines) >= len(written), limit=15)
                assert lines, written
        finally:
            daemon.send_signal(signal.SIGTERM)
            await daemon.communicate()
    assert started
    assert len(written) > 3
    # every line once, in the order the daemon wrote them
    assert [ln.split(maxsplit=3)[-1] for ln in lines] == written
