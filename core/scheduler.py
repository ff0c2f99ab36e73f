"""The scheduler (S-3, S-5): sleeps until the next due run, then starts it.

Only one process per hub database schedules at a time: it holds the scheduler
lease (a daemon takes it over from a console; a second daemon is refused).
It sleeps until the earliest next run, waking early when told a schedule
changed (``wake``), and at least every ``ttl / 3`` seconds to renew its lease
and to notice schedules changed by another process.
Runs missed while nothing was scheduling run once, not once per miss; a run
that comes due while the account is still running is skipped and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta

from core.errors import DiskFull, SincroError, StoreError
from core.events import ALSO_AN_EVENT, Notice
from core.kinds import Level, RunKind, Trigger
from core.locks import HOST, AccountBusy, _pid_alive
from core.schedule import next_run
from core.schedules_store import all_schedules, set_next_run
from core.timeutil import iso, utcnow

log = logging.getLogger("sincro.scheduler")

DEFAULT_TTL = 60.0


class SchedulerBusy(SincroError):
    exit_code = 1


class Scheduler:
    def __init__(self, engine, *, role: str = "daemon", clock: Callable[[], datetime] = utcnow,
                 ttl: float = DEFAULT_TTL) -> None:
        self.engine = engine
        self.role = role
        self.clock = clock
        self.ttl = ttl
        self.tasks: dict[str, asyncio.Task] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self.active = False  # holds the scheduler lease

    # -- the lease ------------------------------------------------------
    async def holder(self) -> dict | None:
        row = await self.engine.hub.fetchone("SELECT * FROM scheduler_lease WHERE id = 1")
        if row is None:
            return None
        info = dict(row)
        expired = datetime.fromisoformat(info["expires_at"]) <= utcnow()
        dead = info["host"] == HOST and not _pid_alive(info["pid"])
        return None if expired or dead else info

    async def acquire(self) -> bool:
        """Take the lease. A daemon refuses to start beside another live daemon;
        a console yields to any live holder. Returns whether we hold it."""
        db = self.engine.hub
        now = utcnow()
        async with db.transaction() as conn:
            row = await (await conn.execute("SELECT * FROM scheduler_lease WHERE id = 1")).fetchone()
            if row is not None and row["owner"] != self.engine.owner:
                alive = datetime.fromisoformat(row["expires_at"]) > now and not (
                    row["host"] == HOST and not _pid_alive(row["pid"]))
                if alive and (self.role == "console" or row["role"] == "daemon"):
                    if self.role == "daemon":
                        since = datetime.fromisoformat(row["acquired_at"]).astimezone()
                        raise SchedulerBusy(
                            f"another Sincro daemon (process {row['pid']} on {row['host']}, "
                            f"since {since:%Y-%m-%d %H:%M:%S}) already schedules this database",
                            hint="stop it first, or use another --home",
                        )
                    self.active = False
                    return False
            await conn.execute(
                "INSERT OR REPLACE INTO scheduler_lease (id, owner, role, pid, host, acquired_at, "
                "expires_at) VALUES (1, ?, ?, ?, ?, ?, ?)",
                (self.engine.owner, self.role, os.getpid(), HOST, iso(now),
                 iso(now + timedelta(seconds=self.ttl))))
        self.active = True
        return True

    async def _renew(self) -> bool:
        db = self.engine.hub
        now = utcnow()
        async with db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE scheduler_lease SET expires_at = ? WHERE id = 1 AND owner = ?",
                (iso(now + timedelta(seconds=self.ttl)), self.engine.owner))
            held = cur.rowcount == 1
        if not held and self.active:
            self.engine.publish(Notice(message="a Sincro daemon took over scheduling", level=Level.INFO))
        self.active = held
        return held

    async def release(self) -> None:
        with contextlib.suppress(SincroError):
            async with self.engine.hub.transaction() as conn:
                await conn.execute("DELETE FROM scheduler_lease WHERE id = 1 AND owner = ?",
                                   (self.engine.owner,))
        self.active = False

    # -- the loop -------------------------------------------------------
    def wake(self) -> None:
        """A schedule changed: look again now."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        if not self.active:
            await self.acquire()
        try:
            while not self._stopping:
                delay = self.ttl / 3
                try:
                    if not self.active:
                        await self.acquire()
                    else:
                        await self._renew()
                    if self.active:
                        nearest = await self.tick()
                        if nearest is not None:
                            delay = max(0.0, min(delay,
                                                 (nearest - self.clock()).total_seconds()))
                except DiskFull as exc:  # said once a round; schedules go on when space returns
                    self.engine.publish(Notice(message=f"scheduler: {exc}", level=Level.ERROR))
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
        finally:
            await self.release()

    async def tick(self) -> datetime | None:
        """Start what is due now; return when the next run is due."""
        now = self.clock()
        nearest: datetime | None = None
        for stored in await all_schedules(self.engine.hub):
            sched = stored.schedule
            if sched.kind == "off":
                continue
            due_at = stored.next_run
            if due_at is None:
                due_at = next_run(sched, now)
                await set_next_run(self.engine.hub, stored.account_id, due_at)
            if due_at is not None and due_at <= now:
                self._fire(stored.account, due_at)
                # once, whatever was missed (S-5)
                due_at = next_run(sched, now)
                await set_next_run(self.engine.hub, stored.account_id, due_at, last_run=now)
            if due_at is not None and (nearest is None or due_at < nearest):
                nearest = due_at
        return nearest

    def _fire(self, account: str, due_at: datetime) -> None:
        task = self.tasks.get(account)
        if task is not None and not task.done():
            self._skipped(account, due_at, "its previous run is still going")
            return
        self.engine.publish(Notice(message=f"scheduled run of {account} due {due_at.isoformat()} starts",
                                   account=account))
        self.tasks[account] = asyncio.create_task(self._run(account, due_at),
                                                  name=f"scheduled-{account}")

    async def _run(self, account: str, due_at: datetime) -> None:
        try:
            await self.engine.run_sync(account, RunKind.SCHEDULED, trigger=Trigger.SCHEDULE)
        except AccountBusy as exc:
            self._skipped(account, due_at, str(exc))
        except StoreError as exc:  # a full disk, a damaged store: the run failed on it
            self.engine.publish(Notice(message=f"scheduled run of {account} failed: {exc}",
                                       level=Level.ERROR, account=account))
        except SincroError as exc:
            self.engine.publish(Notice(message=f"scheduled run of {account} not started: {exc}",
                                       level=Level.ERROR, account=account))
        except Exception as exc:  # never an exception nobody retrieves
            if self._stopping:  # the engine closed under a run that was only starting
                log.debug("scheduled run of %s ended with the engine: %s", account, exc)
                return
            log.exception("scheduled run of %s failed", account)
            self.engine.publish(Notice(message=f"scheduled run of {account} failed: internal error: "
                                       f"{type(exc).__name__}", level=Level.ERROR, account=account))

    def _skipped(self, account: str, due_at: datetime, why: str) -> None:
        msg = f"scheduled run of {account} due {due_at.isoformat()} skipped: {why}"
        log.warning(msg, extra=ALSO_AN_EVENT)
        self.engine.publish(Notice(message=msg, level=Level.WARNING, account=account))

    async def drain(self, grace: float) -> None:
        """Let running runs finish within ``grace`` seconds, then cancel them (resumable)."""
        running = [t for t in self.tasks.values() if not t.done()]
        if not running:
            return
        done, pending = await asyncio.wait(running, timeout=grace)
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
