"""Schedules in the hub: one per account, with the stored next-run computation (S-2)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from core.schedule import Schedule, next_run
from core.store.db import Database
from core.timeutil import iso, utcnow


@dataclass(frozen=True, slots=True)
class StoredSchedule:
    account_id: int
    account: str
    schedule: Schedule
    next_run: datetime | None
    last_run: datetime | None


def _dt(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


async def get_schedule(db: Database, account_id: int) -> StoredSchedule | None:
    row = await db.fetchone(
        "SELECT s.*, a.name AS account FROM schedules s JOIN accounts a ON a.id = s.account_id "
        "WHERE s.account_id = ?", (account_id,))
    return _stored(row) if row else None


def _stored(row) -> StoredSchedule:
    return StoredSchedule(row["account_id"], row["account"],
                          Schedule.from_dict(json.loads(row["spec"])),
                          _dt(row["next_run"]), _dt(row["last_run"]))


async def all_schedules(db: Database) -> list[StoredSchedule]:
    rows = await db.fetchall(
        "SELECT s.*, a.name AS account FROM schedules s JOIN accounts a ON a.id = s.account_id "
        "WHERE a.enabled = 1 ORDER BY a.name")
    return [_stored(r) for r in rows]


async def save_schedule(db: Database, account_id: int, schedule: Schedule,
                        now: datetime | None = None) -> StoredSchedule:
    """Store it, and compute its next run from now."""
    now = now or utcnow()
    nxt = None if schedule.kind == "off" else next_run(schedule, now)
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO schedules (account_id, spec, next_run, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (account_id) DO UPDATE SET spec = excluded.spec, "
            "next_run = excluded.next_run, updated_at = excluded.updated_at",
            (account_id, json.dumps(schedule.to_dict()), iso(nxt) if nxt else None, iso(now)))
    stored = await get_schedule(db, account_id)
    assert stored is not None
    return stored


async def reset_next_run(db: Database, account_id: int) -> None:
    """Clear the stored next-run computation (the seed's "Reset")."""
    async with db.transaction() as conn:
        await conn.execute("UPDATE schedules SET next_run = NULL, updated_at = ? "
                           "WHERE account_id = ?", (iso(utcnow()), account_id))


async def set_next_run(db: Database, account_id: int, nxt: datetime | None,
                       last_run: datetime | None = None) -> None:
    async with db.transaction() as conn:
        if last_run is not None:
            await conn.execute(
                "UPDATE schedules SET next_run = ?, last_run = ? WHERE account_id = ?",
                (iso(nxt) if nxt else None, iso(last_run), account_id))
        else:
            await conn.execute("UPDATE schedules SET next_run = ? WHERE account_id = ?",
                               (iso(nxt) if nxt else None, account_id))
