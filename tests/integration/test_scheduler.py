"""The scheduler loop with a fake clock: due runs, missed runs once, busy accounts skipped,
one scheduling process per database."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core import accounts as acc
from core.engine import Engine
from core.events import Notice
from core.schedule import Schedule
from core.scheduler import Scheduler, SchedulerBusy
from core.schedules_store import get_schedule, save_schedule, set_next_run
from core.sync.pipeline import PIPELINES, STEPS

T0 = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def engine(tmp_path: Path):
    started: list[str] = []
    release = asyncio.Event()

    class FakeShop:
        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc):
            return None

    started_event = asyncio.Event()

    async def fake_step(ctx) -> None:
        started.append(ctx.account.name)
        started_event.set()
        await release.wait()

    STEPS["fake-scheduled"] = fake_step
    PIPELINES["fake"] = ["fake-scheduled"]
    saved = PIPELINES["scheduled"]
    PIPELINES["scheduled"] = ["fake-scheduled"]

    async def no_erp(engine):
        return None

    async with Engine(tmp_path / "home", shop_factory=lambda a: FakeShop(),
                      erp_factory=no_erp, notify=False) as eng:
        for name in ("shop1", "shop2"):
            await acc.add_account(eng.hub, acc.build_account(
                name, "https://x.example", key="A" * 32, tz="Europe/Rome"))
        eng.test_started = started
        eng.test_started_event = started_event
        eng.test_release = release
        yield eng
    PIPELINES["scheduled"] = saved
    PIPELINES.pop("fake", None)
    STEPS.pop("fake-scheduled", None)


async def _account_id(engine, name: str) -> int:
    return (await acc.get_account(engine.hub, name)).id


async def _finish_runs(sched: Scheduler) -> None:
    await asyncio.gather(*sched.tasks.values())


async def test_missed_runs_happen_once_then_the_next_is_in_the_future(engine) -> None:
    clock = Clock(T0)
    sched = Scheduler(engine, clock=clock)
    assert await sched.acquire()
    sid = await _account_id(engine, "shop1")
    daily = Schedule("daily", tz="Europe/Rome", times=4, between=("08:00", "20:00"))
    await save_schedule(engine.hub, sid, daily, now=T0 - timedelta(days=3))
    stored = await get_schedule(engine.hub, sid)
    assert stored.next_run < T0  # twelve runs were missed since
    engine.test_release.set()
    nearest = await sched.tick()
    await _finish_runs(sched)
    assert engine.test_started == ["shop1"]
    assert nearest == datetime(2026, 3, 28, 12, 0, tzinfo=UTC) - timedelta(hours=1)  # 12:00 CET
    assert await sched.tick() == nearest  # nothing due again at the same instant
    assert engine.test_started == ["shop1"]
    clock.now = nearest
    await sched.tick()
    await _finish_runs(sched)
    assert engine.test_started == ["shop1", "shop1"]
    await sched.release()


async def test_a_run_due_while_the_account_still_runs_is_skipped_and_logged(engine) -> None:
    clock = Clock(T0)
    sched = Scheduler(engine, clock=clock)
    await sched.acquire()
    sub = engine.subscribe()
    sid = await _account_id(engine, "shop1")
    await save_schedule(engine.hub, sid, Schedule("cron", tz="UTC", cron="*/5 * * * *"), now=T0)
    clock.now = T0 + timedelta(minutes=5)
    await sched.tick()
    await engine.test_started_event.wait()  # the run has started
    clock.now = T0 + timedelta(minutes=10)
    await sched.tick()
    engine.test_release.set()
    await _finish_runs(sched)
    assert engine.test_started == ["shop1"]
    notices = []
    while not sub.queue.empty():
        ev = sub.queue.get_nowait()
        if isinstance(ev, Notice) and "skipped" in ev.message:
            notices.append(ev.message)
    assert notices and "still going" in notices[0]
    await sched.release()


async def test_only_one_process_schedules_a_database(engine) -> None:
    first = Scheduler(engine, role="daemon")
    assert await first.acquire()
    other = Engine(engine.home, notify=False)
    async with other:
        console = Scheduler(other, role="console")
        assert not await console.acquire()  # the console leaves scheduling to the daemon
        second = Scheduler(other, role="daemon")
        if engine.hub.dialect == "postgresql":  # daemons share a PostgreSQL hub (docs/HUB.md)
            assert await second.acquire() and second.shared
            assert not await console.acquire()
            await second.release()
        else:
            with pytest.raises(SchedulerBusy, match="already schedules"):
                await second.acquire()
        await first.release()
        assert await console.acquire()
        # a daemon starting later takes over from a console
        assert await Scheduler(engine, role="daemon").acquire()
        assert not await console._renew()


async def test_the_loop_wakes_when_a_schedule_changes(engine) -> None:
    clock = Clock(T0)
    sched = Scheduler(engine, clock=clock)
    engine.test_release.set()
    assert await sched.acquire()
    loop = asyncio.create_task(sched.run())
    try:
        sid = await _account_id(engine, "shop2")
        await save_schedule(engine.hub, sid, Schedule("cron", tz="UTC", cron="0 * * * *"), now=T0)
        await set_next_run(engine.hub, sid, T0 - timedelta(minutes=1))
        sched.wake()
        await asyncio.wait_for(engine.test_started_event.wait(), 10)
        assert engine.test_started == ["shop2"]
    finally:
        sched.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert not sched.active


async def test_one_engine_never_runs_an_account_twice_at_once(engine) -> None:
    from core.locks import AccountBusy

    first = asyncio.create_task(engine.run_sync("shop1", "fake", trigger="console"))
    await engine.test_started_event.wait()
    with pytest.raises(AccountBusy, match=r"busy: fake sync \(console\) \(run \d+\) by process"):
        await engine.run_sync("shop1", "fake", trigger="schedule")
    other = asyncio.create_task(engine.run_sync("shop2", "fake"))
    engine.test_release.set()
    assert (await first).outcome == "ok"
    assert (await other).outcome == "ok"
