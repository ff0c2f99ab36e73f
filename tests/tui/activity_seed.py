"""Runs with known orders per day, failures and durations, for the dashboard's tests.

Times are UTC; the console's zone in the tests is Europe/Rome (UTC+1 in November), and
its clock is fakes.NOW (28 Nov 2026 06:00 UTC), so the last 30 days are 30 Oct - 28 Nov.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from core.schedule import Schedule
from core.schedules_store import save_schedule
from core.store.hub import open_hub
from tests.tui.fakes import NOW, TZ

ACTIVITY = (
    # account id, kind, outcome, started (UTC), seconds, orders imported
    (1, "orders", "ok", "2026-10-20T09:00:00+00:00", 30, 100),  # before the 30 days
    (1, "orders", "ok", "2026-11-20T08:00:00+00:00", 10, 5),
    (1, "scheduled", "ok", "2026-11-20T14:00:00+00:00", 20, 3),
    (1, "scheduled", "failed", "2026-11-25T09:00:00+00:00", 4, 0),
    (1, "orders", "ok", "2026-11-27T10:00:00+00:00", 65, 12),
    (1, "orders", "ok", "2026-11-27T23:30:00+00:00", 6, 7),  # 28 Nov 00:30 in Rome
    (2, "orders", "ok", "2026-11-26T10:00:00+00:00", 60, 4),
    (2, "orders", "failed", "2026-11-28T05:00:00+00:00", 2, 0),
)

# what the dashboard must show, per account: orders by day label, failed days, longest runs
SHOP1_ORDERS = {"20 Nov": 8, "27 Nov": 12, "28 Nov": 7}
SHOP1_FAILED = ["25 Nov"]
SHOP1_LONGEST = {"20 Nov": 20.0, "25 Nov": 4.0, "27 Nov": 65.0, "28 Nov": 6.0}
SHOP2_ORDERS = {"26 Nov": 4}
SHOP2_FAILED = ["28 Nov"]


async def seed_activity(home: Path) -> None:
    """The runs above, and shop1 scheduled four times a day between 08:00 and 20:00."""
    db = await open_hub(home / "hub.db")
    try:
        async with db.transaction() as conn:
            for account_id, kind, outcome, started, secs, orders in ACTIVITY:
                end = (datetime.fromisoformat(started) + timedelta(seconds=secs)).isoformat()
                counts = {"orders_imported": orders} if orders else {}
                if outcome == "failed":
                    counts["errors"] = 1
                await conn.execute(
                    "INSERT INTO runs (account_id, kind, trigger, owner, started_at, ended_at, "
                    "outcome, counts, errors, steps) VALUES (?, ?, 'schedule', 'test', ?, ?, ?, "
                    "?, ?, '[]')",
                    (account_id, kind, started, end, outcome, json.dumps(counts),
                     json.dumps(["the shop answered 503"] if outcome == "failed" else [])))
        await save_schedule(db, 1, Schedule("daily", tz=TZ, times=4, between=("08:00", "20:00")),
                            now=NOW)
    finally:
        await db.close()
