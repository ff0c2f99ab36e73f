"""What the console reads from the hub, gathered in one place (read-only queries)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.accounts import Account, list_accounts
from core.events import LogLine
from core.kinds import Level
from core.locks import current_lease
from core.runs import RunSummary, list_runs
from core.store.db import Database
from core.sync.full import quota


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """One account as the accounts screen shows it."""

    account: Account
    last_run: RunSummary | None
    schedule: str | None  # the schedule described, None when there is none
    next_run: datetime | None
    busy: str | None  # another process's lease on it: who and since when
    quota: dict[str, Any]

    @property
    def name(self) -> str:
        return self.account.name


async def load_accounts(db: Database, owner: str) -> list[AccountInfo]:
    from core.errors import SincroError
    from core.schedules_store import get_schedule

    infos = []
    for account in await list_accounts(db):
        assert account.id is not None
        runs = await list_runs(db, account.name, limit=1)
        try:
            stored = await get_schedule(db, account.id)
        except SincroError:
            stored = None  # an unreadable stored schedule shows as none; the editor says why
        lease = await current_lease(db, account.id)
        busy = lease.describe(account.name) if lease and lease.owner != owner else None
        infos.append(AccountInfo(
            account=account,
            last_run=runs[0] if runs else None,
            schedule=stored.schedule.describe() if stored else None,
            next_run=stored.next_run if stored else None,
            busy=busy,
            quota=await quota(db, account),
        ))
    return infos


async def customers_in_hub(db: Database, account_id: int) -> int:
    return int(await db.scalar("SELECT COUNT(*) FROM customers WHERE account_id = ?",
                               (account_id,)) or 0)


class ForeignRuns:
    """Log lines of runs that other processes (the daemon) are running, read from the hub.

    This console's own runs reach it as events; another process's only through the hub,
    where its run recorder writes each line within ``core.runs.LINES_WITHIN``. A look costs
    one ``PRAGMA data_version`` (on PostgreSQL, one empty statement that takes in the
    hub's notifications) while no other process has committed anything; then the
    lines written since the last look, of every other process's run, in the order they
    were written (the hub's line ids).
    """

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.last_id: int | None = None  # the last line looked at
        self.version: int | None = None  # the hub's data_version at the last look

    async def poll(self, db: Database) -> list[LogLine]:
        # what it has seen changes only after the last await: a look cancelled half-way
        # (a newer one replaces it) leaves nothing unread
        version = await db.data_version()
        if version == self.version:
            return []  # no other connection has committed since the last look
        last_id = self.last_id
        if last_id is None:  # the first look: the runs under way, from their start
            last_id = int(await db.scalar("SELECT COALESCE(MAX(id), 0) FROM run_logs"))
            rows = await db.fetchall(
                _FOREIGN_LINES + "runs.ended_at IS NULL AND run_logs.id <= ? "
                "ORDER BY run_logs.id", (self.owner, last_id))
        else:
            rows = await db.fetchall(
                _FOREIGN_LINES + "run_logs.id > ? ORDER BY run_logs.id", (self.owner, last_id))
        lines: list[LogLine] = []
        for line_id, run_id, account, at, level, message in rows:
            lines.append(LogLine(run_id=run_id, account=account, at=datetime.fromisoformat(at),
                                 level=Level(level), message=message))
            last_id = max(last_id, line_id)
        self.version, self.last_id = version, last_id
        return lines


_FOREIGN_LINES = (
    "SELECT run_logs.id, runs.id, accounts.name, run_logs.at, run_logs.level, "
    "run_logs.message FROM run_logs JOIN runs ON runs.id = run_logs.run_id "
    "JOIN accounts ON accounts.id = runs.account_id WHERE runs.owner != ? AND ")
