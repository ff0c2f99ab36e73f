"""What the console reads from the hub, gathered in one place (read-only queries)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.accounts import Account, list_accounts
from core.events import LogLine
from core.locks import current_lease
from core.runs import RunSummary, list_runs, run_log
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

    This console's own runs reach it as events; another process's only through
    the hub, where its run recorder writes the lines after each step.
    """

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.seen: dict[int, int] = {}  # run id -> last log line id read

    async def poll(self, db: Database) -> list[LogLine]:
        followed = ",".join(str(int(i)) for i in self.seen) or "0"
        rows = await db.fetchall(
            "SELECT runs.id, runs.ended_at, accounts.name FROM runs JOIN accounts ON "
            "accounts.id = runs.account_id WHERE runs.owner != ? AND "
            f"(runs.ended_at IS NULL OR runs.id IN ({followed})) ORDER BY runs.id",
            (self.owner,))
        lines: list[LogLine] = []
        for run_id, ended_at, account in rows:
            for line_id, at, level, message in await run_log(db, run_id,
                                                             self.seen.get(run_id, 0)):
                lines.append(LogLine(run_id=run_id, account=account,
                                     at=datetime.fromisoformat(at), level=level,
                                     message=message))
                self.seen[run_id] = line_id
            self.seen.setdefault(run_id, 0)
            if ended_at is not None:
                self.seen.pop(run_id, None)
        return lines
