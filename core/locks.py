"""One run per account, across every process on the hub database (R-1).

A lease is a row per account: owner, heartbeat and expiry, taken in a write
transaction. Its holder renews it while the run goes on; a holder that dies
stops renewing, and its lease expires after ``ttl`` seconds at most (sooner
when the holder was on this host and its pid is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import SincroError
from core.store.db import Database
from core.timeutil import iso, utcnow

DEFAULT_TTL = 30.0
HOST = socket.gethostname()


class AccountBusy(SincroError):
    """A run was refused because another one holds the account."""

    exit_code = 1


def new_owner() -> str:
    return f"{os.getpid()}@{HOST}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    account_id: int
    owner: str
    pid: int
    host: str
    what: str
    run_id: int | None
    acquired_at: datetime
    expires_at: datetime

    def describe(self, account: str) -> str:
        since = self.acquired_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        who = f"process {self.pid} on {self.host}"
        run = f" (run {self.run_id})" if self.run_id else ""
        return f"account {account} is busy: {self.what}{run} by {who} since {since}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def current_lease(db: Database, account_id: int) -> LeaseInfo | None:
    row = await db.fetchone("SELECT * FROM leases WHERE account_id = ?", (account_id,))
    return _info(row) if row else None


def _info(row) -> LeaseInfo:
    return LeaseInfo(
        account_id=row["account_id"], owner=row["owner"], pid=row["pid"], host=row["host"],
        what=row["what"], run_id=row["run_id"],
        acquired_at=datetime.fromisoformat(row["acquired_at"]),
        expires_at=datetime.fromisoformat(row["expires_at"]),
    )


def lease_is_stale(info: LeaseInfo, now: datetime) -> bool:
    if info.expires_at <= now:
        return True
    return info.host == HOST and not _pid_alive(info.pid)


class Lease:
    """Held while a run goes on; renew with ``heartbeat`` (``keep_alive`` does it)."""

    def __init__(self, db: Database, account_id: int, account: str, owner: str,
                 ttl: float = DEFAULT_TTL) -> None:
        self.db = db
        self.account_id = account_id
        self.account = account
        self.owner = owner
        self.ttl = ttl
        self._task: asyncio.Task | None = None

    async def acquire(self, what: str, run_id: int | None = None) -> None:
        now = utcnow()
        async with self.db.transaction() as conn:
            row = await (await conn.execute(
                "SELECT * FROM leases WHERE account_id = ?", (self.account_id,))).fetchone()
            stale_owner = ""
            if row is not None:
                info = _info(row)
                if info.owner != self.owner and not lease_is_stale(info, now):
                    raise AccountBusy(
                        info.describe(self.account),
                        hint="wait for it to finish and try again",
                    )
                stale_owner = info.owner
            # taken only if it is still as read: on a shared PostgreSQL hub a daemon's
            # claim (core/scheduler.py) may take it between the read and this write
            cur = await conn.execute(
                "INSERT INTO leases (account_id, owner, pid, host, what, run_id, "
                "acquired_at, heartbeat_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (account_id) DO UPDATE SET owner = excluded.owner, "
                "pid = excluded.pid, host = excluded.host, what = excluded.what, "
                "run_id = excluded.run_id, acquired_at = excluded.acquired_at, "
                "heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at "
                "WHERE leases.owner = excluded.owner OR leases.owner = ? "
                "OR leases.expires_at <= ?",
                (self.account_id, self.owner, os.getpid(), HOST, what, run_id, iso(now), iso(now),
                 iso(now + timedelta(seconds=self.ttl)), stale_owner, iso(now)),
            )
            if cur.rowcount == 0:
                raise AccountBusy(f"account {self.account} is busy: another process has just "
                                  "started a run", hint="wait for it to finish and try again")

    async def set_run(self, run_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE leases SET run_id = ? WHERE account_id = ? AND owner = ?",
                               (run_id, self.account_id, self.owner))

    async def heartbeat(self) -> None:
        now = utcnow()
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE leases SET heartbeat_at = ?, expires_at = ? WHERE account_id = ? AND owner = ?",
                (iso(now), iso(now + timedelta(seconds=self.ttl)), self.account_id, self.owner),
            )

    async def release(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM leases WHERE account_id = ? AND owner = ?",
                               (self.account_id, self.owner))

    def keep_alive(self) -> None:
        async def beat() -> None:
            while True:
                await asyncio.sleep(self.ttl / 3)
                with contextlib.suppress(SincroError):
                    await self.heartbeat()

        self._task = asyncio.create_task(beat(), name=f"lease-{self.account}")
