"""The scheduler (S-3, S-5): sleeps until the next due run, then starts it.

On a SQLite hub one process schedules at a time: it holds the scheduler lease (a
daemon takes it over from a console; a second daemon is refused). On a PostgreSQL hub
several daemons share the accounts (docs/HUB.md): each claims due runs in a
transaction that locks the schedules it takes with ``FOR UPDATE SKIP LOCKED``, moves
their next run on and takes the account's lease, so each due run is claimed by one
daemon and an account runs in one place at a time. A console never schedules beside a
live daemon.

Every daemon keeps a row in ``daemons`` (host, pid, accounts running, heartbeat), which
``sincro daemons`` lists. It sleeps until the earliest next run, waking early when told
a schedule changed (``wake``), and at least every ``ttl / 3`` seconds to renew its lease
and to notice schedules changed by another process; on a shared hub it then also ends
what dead daemons left: their leases go and their open runs become interrupted (they
resume, exactly once, at the account's next run).
Runs missed while nothing was scheduling run once, not once per miss; a run
that comes due while the account is still running is skipped and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta

from core.errors import DiskFull, SincroError, StoreError
from core.events import ALSO_AN_EVENT, Notice
from core.kinds import Level, RunKind, Trigger
from core.locks import DEFAULT_TTL as LEASE_TTL
from core.locks import HOST, AccountBusy, _pid_alive
from core.schedule import Schedule, next_run
from core.schedules_store import all_schedules, set_next_run
from core.timeutil import iso, utcnow

log = logging.getLogger("sincro.scheduler")

DEFAULT_TTL = 60.0
# On a shared hub, the runs one daemon has going at most: it claims no more, and leaves
# the other due runs to the other daemons (SINCRO_DAEMON_RUNS changes it).
MAX_RUNNING = 16


def max_running() -> int:
    try:
        return max(1, int(os.environ.get("SINCRO_DAEMON_RUNS") or MAX_RUNNING))
    except ValueError:
        return MAX_RUNNING


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
        # several daemons share a PostgreSQL hub; on SQLite one process schedules
        self.shared = role == "daemon" and engine.hub.dialect == "postgresql"
        self.max_running = max_running()
        self.started_at = utcnow()

    # -- the lease ------------------------------------------------------
    async def holder(self) -> dict | None:
        row = await self.engine.hub.fetchone("SELECT * FROM scheduler_lease WHERE id = 1")
        if row is None:
            return None
        info = dict(row)
        expired = datetime.fromisoformat(info["expires_at"]) <= utcnow()
        dead = info["host"] == HOST and not _pid_alive(info["pid"])
        return None if expired or dead else info

    async def live_daemons(self) -> list[dict]:
        """The other daemons alive on this hub."""
        now = utcnow()
        return [d for d in (dict(r) for r in await self.engine.hub.fetchall(
                    "SELECT * FROM daemons WHERE owner <> ?", (self.engine.owner,)))
                if datetime.fromisoformat(d["expires_at"]) > now
                and not (d["host"] == HOST and not _pid_alive(d["pid"]))]

    async def _beat(self) -> None:
        """This daemon's row in ``daemons``: alive until ``ttl`` from now, and what runs."""
        now = utcnow()
        running = sorted(a for a, t in self.tasks.items() if not t.done())
        async with self.engine.hub.transaction(serial=False) as conn:
            await conn.execute(
                "INSERT INTO daemons (owner, host, pid, started_at, heartbeat_at, expires_at, "
                "running) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (owner) DO UPDATE SET "
                "heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at, "
                "running = excluded.running",
                (self.engine.owner, HOST, os.getpid(), iso(self.started_at), iso(now),
                 iso(now + timedelta(seconds=self.ttl)), json.dumps(running)))

    async def acquire(self) -> bool:
        """Take the lease. A daemon refuses to start beside another live daemon (on
        SQLite; on PostgreSQL daemons share the hub); a console yields to any live
        holder and to any live daemon. Returns whether we hold it."""
        db = self.engine.hub
        now = utcnow()
        if self.role == "console" and await self.live_daemons():
            self.active = False
            return False
        if self.shared:
            await self._beat()
            async with db.transaction() as conn:  # a console scheduling stops (_renew)
                await conn.execute("DELETE FROM scheduler_lease WHERE role = 'console'")
            self.active = True
            return True
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
                "INSERT INTO scheduler_lease (id, owner, role, pid, host, acquired_at, "
                "expires_at) VALUES (1, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "owner = excluded.owner, role = excluded.role, pid = excluded.pid, "
                "host = excluded.host, acquired_at = excluded.acquired_at, "
                "expires_at = excluded.expires_at",
                (self.engine.owner, self.role, os.getpid(), HOST, iso(now),
                 iso(now + timedelta(seconds=self.ttl))))
        if self.role == "daemon":
            await self._beat()
        self.active = True
        return True

    async def _renew(self) -> bool:
        db = self.engine.hub
        now = utcnow()
        if self.shared:
            await self._beat()
            return True
        if self.role == "console" and self.active and await self.live_daemons():
            held = False
            async with db.transaction() as conn:
                await conn.execute("DELETE FROM scheduler_lease WHERE id = 1 AND owner = ?",
                                   (self.engine.owner,))
            self.engine.publish(Notice(message="a Sincro daemon took over scheduling",
                                       level=Level.INFO))
            self.active = False
            return False
        if self.role == "daemon":
            await self._beat()
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
                await conn.execute("DELETE FROM daemons WHERE owner = ?", (self.engine.owner,))
        self.active = False

    async def _end_the_dead(self) -> None:
        """What daemons that died left (shared hub): the leases of a dead process on this
        host go at once (others expire by their TTL); runs whose owner holds no live lease
        become interrupted, to resume at the account's next run."""
        from core.runs import mark_interrupted

        db = self.engine.hub
        now = utcnow()
        dead_owners = [r["owner"] for r in await db.fetchall(
            "SELECT owner, pid FROM leases WHERE host = ?", (HOST,)) if not _pid_alive(r["pid"])]
        if dead_owners:
            marks = ",".join("?" * len(dead_owners))
            async with db.transaction() as conn:
                await conn.execute(f"DELETE FROM leases WHERE owner IN ({marks})", dead_owners)
        rows = await db.fetchall(
            "SELECT runs.id, leases.owner AS holder, leases.expires_at FROM runs "
            "LEFT JOIN leases ON leases.account_id = runs.account_id "
            "AND leases.owner = runs.owner WHERE runs.ended_at IS NULL")
        dead = [r["id"] for r in rows
                if r["holder"] is None or datetime.fromisoformat(r["expires_at"]) <= now]
        if dead:
            await mark_interrupted(db, dead)
        gone = iso(now - timedelta(hours=1))  # a dead daemon's row is shown for an hour
        if await db.scalar("SELECT COUNT(*) FROM daemons WHERE expires_at < ?", (gone,)):
            async with db.transaction() as conn:
                await conn.execute("DELETE FROM daemons WHERE expires_at < ?", (gone,))

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
                        if nearest is not None:  # (a clock may run faster: tests, benches)
                            speed = float(getattr(self.clock, "speed", 1.0))
                            delay = max(0.0, min(delay, (nearest - self.clock()).total_seconds()
                                                 / speed))
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
        if self.shared:
            return await self._claim(now)
        nearest: datetime | None = None
        for stored in await all_schedules(self.engine.hub):
            if self._stopping:  # SIGTERM during a long round: start nothing more
                break
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

    async def _claim(self, now: datetime) -> datetime | None:
        """Claim the due runs no other daemon has claimed, and start them (shared hub)."""
        db = self.engine.hub
        await self._end_the_dead()
        for r in await db.fetchall(  # schedules whose next run was never worked out
                "SELECT s.account_id, s.spec FROM schedules s JOIN accounts a ON "
                "a.id = s.account_id WHERE a.enabled = 1 AND s.next_run IS NULL"):
            sched = Schedule.from_dict(json.loads(r["spec"]))
            nxt = None if sched.kind == "off" else next_run(sched, now)
            if nxt is not None:
                async with db.transaction(serial=False) as conn:
                    await conn.execute("UPDATE schedules SET next_run = ? WHERE account_id = ? "
                                       "AND next_run IS NULL", (iso(nxt), r["account_id"]))
        while not self._stopping:
            room = self.max_running - sum(1 for t in self.tasks.values() if not t.done())
            if room <= 0:
                break  # a run that ends wakes the loop (_fire)
            started: list[tuple[str, datetime]] = []
            skipped: list[tuple[str, datetime, str]] = []
            real_now = utcnow()
            async with db.transaction(serial=False) as conn:
                due = await (await conn.execute(
                    "SELECT s.account_id, s.spec, s.next_run, a.name FROM schedules s "
                    "JOIN accounts a ON a.id = s.account_id WHERE a.enabled = 1 "
                    "AND s.next_run <= ? ORDER BY s.next_run, s.account_id LIMIT ? "
                    "FOR UPDATE OF s SKIP LOCKED", (iso(now), room))).fetchall()
                for r in due:
                    sched = Schedule.from_dict(json.loads(r["spec"]))
                    due_at = datetime.fromisoformat(r["next_run"])
                    nxt = None if sched.kind == "off" else next_run(sched, now)
                    await conn.execute(  # once, whatever was missed (S-5)
                        "UPDATE schedules SET next_run = ?, last_run = ? WHERE account_id = ?",
                        (iso(nxt) if nxt else None, iso(now), r["account_id"]))
                    if sched.kind == "off":
                        continue
                    task = self.tasks.get(r["name"])
                    if task is not None and not task.done():
                        skipped.append((r["name"], due_at, "its previous run is still going"))
                        continue
                    taken = await conn.execute(
                        "INSERT INTO leases (account_id, owner, pid, host, what, run_id, "
                        "acquired_at, heartbeat_at, expires_at) VALUES (?, ?, ?, ?, ?, NULL, "
                        "?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET owner = excluded.owner, "
                        "pid = excluded.pid, host = excluded.host, what = excluded.what, "
                        "run_id = NULL, acquired_at = excluded.acquired_at, "
                        "heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at "
                        "WHERE leases.owner = excluded.owner OR leases.expires_at <= ?",
                        (r["account_id"], self.engine.owner, os.getpid(), HOST,
                         f"{RunKind.SCHEDULED} sync", iso(real_now), iso(real_now),
                         iso(real_now + timedelta(seconds=LEASE_TTL)), iso(real_now)))
                    if taken.rowcount == 1:
                        started.append((r["name"], due_at))
                    else:
                        skipped.append((r["name"], due_at, "another process runs it"))
            for account, due_at in started:
                self._fire(account, due_at)
            for account, due_at, why in skipped:
                self._skipped(account, due_at, why)
            if len(due) < room:
                break
        value = await db.scalar(
            "SELECT MIN(s.next_run) FROM schedules s JOIN accounts a ON a.id = s.account_id "
            "WHERE a.enabled = 1 AND s.next_run IS NOT NULL")
        return datetime.fromisoformat(value) if value else None

    def _fire(self, account: str, due_at: datetime) -> None:
        task = self.tasks.get(account)
        if task is not None and not task.done():
            self._skipped(account, due_at, "its previous run is still going")
            return
        self.engine.publish(Notice(message=f"scheduled run of {account} due {due_at.isoformat()} starts",
                                   account=account))
        self.tasks[account] = task = asyncio.create_task(self._run(account, due_at),
                                                         name=f"scheduled-{account}")
        if self.shared:  # room for the next due run
            task.add_done_callback(lambda _: self._wake.set())

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
