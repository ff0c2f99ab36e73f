"""Each account's health, for a monitoring system (`sincro status`): its last run, the
next one, and how many runs failed in a row. Read-only.

An account is
- **late** when its stored next run is overdue by more than ``late_after``: nothing has
  fired it (no daemon, or a console that is not running). A next run cleared by Reset
  counts from the schedule's last run, or from the moment it was cleared;
- **failing** when its newest ``fail_after`` runs or more failed in a row. Only outcome
  ``failed`` counts; ``ok`` and ``partial`` end the series; ``interrupted`` runs (a
  stopped process) and runs still going are passed over;
- **disabled**: never late nor failing (nothing is expected of it);
- otherwise **ok**, including an account without a schedule that never ran: nothing is
  expected of it until it gets a schedule (then it is late once its first run is overdue).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.accounts import Account, get_account, list_accounts
from core.errors import SincroError
from core.locks import HOST, _pid_alive, current_lease, lease_is_stale
from core.runs import RunSummary, get_run
from core.schedule import Schedule, next_run
from core.store.db import Database
from core.timeutil import iso, utcnow

DEFAULT_LATE_AFTER = timedelta(minutes=15)
DEFAULT_FAIL_AFTER = 1


@dataclass(frozen=True, slots=True)
class Thresholds:
    late_after: timedelta = DEFAULT_LATE_AFTER
    fail_after: int = DEFAULT_FAIL_AFTER


@dataclass(frozen=True, slots=True)
class SchedulerInfo:
    """Who schedules this home (the scheduler lease), if anyone alive does."""

    role: str
    pid: int
    host: str
    since: datetime


@dataclass(frozen=True, slots=True)
class AccountStatus:
    account: str
    enabled: bool
    schedule: str | None  # described; None when there is none or it is off
    last_run: RunSummary | None  # the newest finished run
    running: RunSummary | None  # a run going on now (its process alive)
    next_run: datetime | None  # when the next scheduled run is due
    failed_in_a_row: int
    problems: tuple[str, ...]  # "late", "failing"
    now: datetime
    thresholds: Thresholds

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def status(self) -> str:
        if self.problems:
            return ", ".join(self.problems)
        return "ok" if self.enabled else "disabled"

    @property
    def last_at(self) -> datetime | None:
        """When the last run ended (or started, when its end is not a time)."""
        run = self.last_run
        if run is None:
            return None
        return _time(run.ended_at) or _time(run.started_at)

    @property
    def age(self) -> timedelta | None:
        at = self.last_at
        return None if at is None else self.now - at

    @property
    def overdue(self) -> timedelta | None:
        """How long ago the next run was due; None when it is not due yet (or none)."""
        if self.next_run is None or self.next_run > self.now:
            return None
        return self.now - self.next_run

    def reasons(self) -> list[str]:
        """One phrase per problem, for people."""
        out = []
        if "late" in self.problems and self.overdue is not None:
            out.append(f"next run was due {span(self.overdue)} ago "
                       f"(late after {span(self.thresholds.late_after)})")
        if "failing" in self.problems:
            runs = "run" if self.failed_in_a_row == 1 else "runs"
            out.append(f"{self.failed_in_a_row} {runs} failed in a row"
                       + (f" (failing from {self.thresholds.fail_after})"
                          if self.thresholds.fail_after > 1 else ""))
        return out

    def as_dict(self) -> dict[str, Any]:
        def seconds(td: timedelta | None) -> float | None:
            return None if td is None else round(td.total_seconds(), 3)

        last = self.last_run
        running = self.running
        return {
            "account": self.account,
            "enabled": self.enabled,
            "status": self.status,
            "problems": list(self.problems),
            "reasons": self.reasons(),
            "schedule": self.schedule,
            "last_run": None if last is None else {
                "id": last.id, "kind": last.kind, "trigger": last.trigger,
                "outcome": last.outcome, "started_at": last.started_at,
                "ended_at": last.ended_at, "errors": last.errors[:3]},
            "age_s": seconds(self.age),
            "running": None if running is None else {
                "id": running.id, "kind": running.kind, "trigger": running.trigger,
                "started_at": running.started_at},
            "next_run": self.next_run.isoformat() if self.next_run else None,
            "overdue_s": seconds(self.overdue),
            "failed_in_a_row": self.failed_in_a_row,
        }


def span(td: timedelta) -> str:
    """'45s', '12m', '3h05m', '2d04h': a length of time at a glance."""
    s = int(abs(td.total_seconds()))
    if s < 60:
        return f"{s}s"
    m, _ = divmod(s, 60)
    if m < 60:
        return f"{m}m"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def _time(value: object) -> datetime | None:
    try:
        dt = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return dt if dt.tzinfo is not None else None


async def failed_in_a_row(db: Database, account_id: int) -> int:
    """Failed runs since the newest ok or partial one (interrupted ones passed over)."""
    return int(await db.scalar(
        "SELECT COUNT(*) FROM runs WHERE account_id = ? AND outcome = 'failed' AND id > "
        "COALESCE((SELECT MAX(id) FROM runs WHERE account_id = ? "
        "AND outcome IN ('ok', 'partial')), 0)", (account_id, account_id)) or 0)


async def _last_finished(db: Database, account_id: int) -> RunSummary | None:
    run_id = await db.scalar("SELECT MAX(id) FROM runs WHERE account_id = ? "
                             "AND ended_at IS NOT NULL", (account_id,))
    return await get_run(db, run_id) if run_id else None


async def _running(db: Database, account_id: int) -> RunSummary | None:
    """The run going on now: without an end, and its lease held by a live process (a run
    whose process died is not running, though not yet marked interrupted)."""
    run_id = await db.scalar("SELECT MAX(id) FROM runs WHERE account_id = ? "
                             "AND ended_at IS NULL", (account_id,))
    if not run_id:
        return None
    lease = await current_lease(db, account_id)
    if lease is None or lease.run_id != run_id or lease_is_stale(lease, utcnow()):
        return None
    return await get_run(db, run_id)


async def _schedule_row(db: Database, account_id: int) -> tuple[Schedule, datetime | None,
                                                                datetime | None] | None:
    """The account's schedule, its stored next run, and when the scheduler counts from
    when the next run was cleared (the schedule's last run, else its last change)."""
    row = await db.fetchone("SELECT spec, next_run, last_run, updated_at FROM schedules "
                            "WHERE account_id = ?", (account_id,))
    if row is None:
        return None
    try:
        schedule = Schedule.from_dict(json.loads(row["spec"]))
    except (SincroError, ValueError, TypeError):
        return None  # an unreadable schedule fires nothing: shown as none
    base = max((t for t in (_time(row["last_run"]), _time(row["updated_at"])) if t),
               default=None)
    return schedule, _time(row["next_run"]), base


async def scheduler_info(db: Database) -> SchedulerInfo | None:
    """The live holder of the scheduler lease, else the first live daemon (daemons that
    share a PostgreSQL hub hold no lease); None when nobody schedules this home."""
    row = await db.fetchone("SELECT * FROM scheduler_lease WHERE id = 1")
    if row is not None:
        expires = _time(row["expires_at"])
        if not (expires is None or expires <= utcnow() or (row["host"] == HOST
                                                           and not _pid_alive(row["pid"]))):
            return SchedulerInfo(row["role"], row["pid"], row["host"],
                                 _time(row["acquired_at"]) or expires)
    alive = [d for d in await daemons(db) if d.alive]
    if alive:
        return SchedulerInfo("daemon", alive[0].pid, alive[0].host, alive[0].started_at)
    return None


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    """A daemon on this hub, as its row in ``daemons`` says (core/scheduler.py)."""

    owner: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    expires_at: datetime
    running: tuple[str, ...]
    alive: bool

    def as_dict(self) -> dict[str, Any]:
        return {"host": self.host, "pid": self.pid, "alive": self.alive,
                "started_at": iso(self.started_at), "last_heartbeat": iso(self.heartbeat_at),
                "accounts_running": list(self.running)}


async def daemons(db: Database, now: datetime | None = None) -> list[DaemonInfo]:
    """Every daemon that has a row: the live ones, and those whose heartbeat stopped (a
    daemon that was killed; another daemon removes the row an hour later)."""
    now = now or utcnow()
    # what each runs now: the accounts whose live lease it holds (the row's own list,
    # written at each heartbeat, may be 20 s old)
    holding: dict[str, list[str]] = {}
    for owner, name in await db.fetchall(
            "SELECT l.owner, a.name FROM leases l JOIN accounts a ON a.id = l.account_id "
            "WHERE l.expires_at > ? ORDER BY a.name", (iso(now),)):
        holding.setdefault(owner, []).append(name)
    found = []
    for r in await db.fetchall("SELECT * FROM daemons ORDER BY started_at, owner"):
        expires = _time(r["expires_at"]) or now
        running = tuple(holding.get(r["owner"], ()))
        alive = expires > now and not (r["host"] == HOST and not _pid_alive(r["pid"]))
        found.append(DaemonInfo(r["owner"], r["host"], int(r["pid"]),
                                _time(r["started_at"]) or now, _time(r["heartbeat_at"]) or now,
                                expires, running if alive else (), alive))
    return found


async def account_status(db: Database, account: Account, now: datetime,
                         thresholds: Thresholds = Thresholds()) -> AccountStatus:
    assert account.id is not None
    found = await _schedule_row(db, account.id)
    schedule = found[0] if found and found[0].kind != "off" else None
    due: datetime | None = None
    if found is not None and schedule is not None:
        _, stored_next, base = found
        due = stored_next
        if due is None:  # cleared (Reset): the next run a scheduler would compute
            due = next_run(schedule, base or now)
    failed = await failed_in_a_row(db, account.id)
    problems: list[str] = []
    if account.enabled:
        if due is not None and now - due > thresholds.late_after:
            problems.append("late")
        if failed >= thresholds.fail_after:
            problems.append("failing")
    return AccountStatus(
        account=account.name, enabled=account.enabled,
        schedule=schedule.describe() if schedule else None,
        last_run=await _last_finished(db, account.id),
        running=await _running(db, account.id),
        next_run=due, failed_in_a_row=failed, problems=tuple(problems), now=now,
        thresholds=thresholds)


async def statuses(db: Database, now: datetime | None = None, name: str | None = None,
                   thresholds: Thresholds = Thresholds()) -> list[AccountStatus]:
    """Every account's status (or the one named: NotFound when there is none)."""
    now = now or utcnow()
    accounts = [await get_account(db, name)] if name else await list_accounts(db)
    return [await account_status(db, a, now, thresholds) for a in accounts]


def report(items: list[AccountStatus], now: datetime, thresholds: Thresholds,
           scheduler: SchedulerInfo | None) -> dict[str, Any]:
    """The whole answer as one JSON-ready document."""
    return {
        "healthy": all(s.healthy for s in items),
        "checked_at": iso(now),
        "late_after_minutes": thresholds.late_after // timedelta(minutes=1),
        "fail_after": thresholds.fail_after,
        "scheduler": None if scheduler is None else {
            "role": scheduler.role, "pid": scheduler.pid, "host": scheduler.host,
            "since": iso(scheduler.since)},
        "accounts": [s.as_dict() for s in items],
    }
