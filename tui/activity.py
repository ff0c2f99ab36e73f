"""What the dashboard and the run history draw: each account's last 30 days, read from the hub.

One aggregate query over `runs` gives, per account and per day in the console's zone,
the orders imported (the runs' `orders_imported` counts), the runs, the failed runs and
the longest and mean run; a second query reads the schedules for the next runs. Both run
in a worker (the views call `load_activity` from one), never per key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from core.errors import SincroError
from core.kinds import Outcome
from core.schedule import next_runs
from core.store import sql
from core.store.db import Database
from core.timeutil import iso

DAYS = 30
NEXT_RUNS = 3


@dataclass(frozen=True, slots=True)
class Day:
    """One day of an account, in the console's zone."""

    day: date
    orders: int = 0  # orders imported by the runs started that day
    runs: int = 0
    failed: int = 0
    longest_s: float | None = None  # the longest finished run
    mean_s: float | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    """An account's last days (oldest first, today last) and its next scheduled runs."""

    account: str
    days: tuple[Day, ...]
    next_runs: tuple[datetime, ...] = ()
    schedule: str | None = None  # the schedule described; None when there is none

    @property
    def orders(self) -> int:
        return sum(d.orders for d in self.days)

    @property
    def runs(self) -> int:
        return sum(d.runs for d in self.days)

    @property
    def failed(self) -> int:
        return sum(d.failed for d in self.days)

    @property
    def failed_days(self) -> list[date]:
        return [d.day for d in self.days if d.failed]


def day_bounds(today: date, tz: tzinfo, days: int = DAYS) -> list[tuple[date, str, str]]:
    """Each day's start and end as the hub stores times (UTC ISO text, compared as text)."""
    out = []
    for n in range(days - 1, -1, -1):
        day = today - timedelta(days=n)
        start = datetime.combine(day, time(), tzinfo=tz)
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
        out.append((day, iso(start), iso(end)))
    return out


# One pass over the period's runs, grouped by account and day. The days are a VALUES
# table of their UTC bounds, so a day is the console's local day across DST.
_QUERY = """
WITH days(day, day_start, day_end) AS (VALUES {values})
SELECT runs.account_id AS account_id, days.day AS day,
       SUM(COALESCE({orders}, 0)) AS orders,
       COUNT(*) AS runs,
       SUM(CASE WHEN runs.outcome = ? THEN 1 ELSE 0 END) AS failed,
       MAX({took}) AS longest,
       AVG({took}) AS mean
FROM runs JOIN days ON runs.started_at >= days.day_start AND runs.started_at < days.day_end
WHERE runs.started_at >= ? AND runs.started_at < ?
GROUP BY runs.account_id, days.day
"""


def _took(dialect: str) -> str:
    """A finished run's duration: the engine's measure, or its stamps for older runs."""
    return ("CASE WHEN runs.ended_at IS NULL THEN NULL ELSE COALESCE(runs.duration_s, "
            f"{sql.seconds_between(dialect, 'runs.started_at', 'runs.ended_at')}) END")


async def load_activity(db: Database, tz: tzinfo, now: datetime, days: int = DAYS,
                        next_count: int = NEXT_RUNS) -> list[Activity]:
    """Every account's last `days` days up to today (in `tz`), and its next runs."""
    from core.schedules_store import all_schedules

    today = now.astimezone(tz).date()
    bounds = day_bounds(today, tz, days)
    values = ", ".join("(?, ?, ?)" for _ in bounds)
    params: list[object] = [v for day, start, end in bounds for v in (day.isoformat(), start, end)]
    params += [str(Outcome.FAILED), bounds[0][1], bounds[-1][2]]
    rows = await db.fetchall(_QUERY.format(
        values=values, took=_took(db.dialect),
        orders=sql.json_number(db.dialect, "runs.counts", "orders_imported")), params)
    by_account: dict[int, dict[str, Day]] = {}
    for row in rows:
        by_account.setdefault(row["account_id"], {})[row["day"]] = Day(
            day=date.fromisoformat(row["day"]), orders=int(row["orders"] or 0),
            runs=int(row["runs"]), failed=int(row["failed"] or 0),
            longest_s=row["longest"], mean_s=row["mean"])
    accounts = await db.fetchall("SELECT id, name FROM accounts ORDER BY name")
    try:
        schedules = {s.account_id: s for s in await all_schedules(db)}
    except SincroError:
        schedules = {}  # an unreadable stored schedule: the accounts view and editor say why
    out = []
    for account in accounts:
        mine = by_account.get(account["id"], {})
        stored = schedules.get(account["id"])
        upcoming: list[datetime] = []
        if stored is not None and stored.schedule.kind != "off":
            first = stored.next_run
            upcoming = [first] if first else []
            upcoming += next_runs(stored.schedule, first or now, next_count - len(upcoming))
        out.append(Activity(
            account=account["name"],
            days=tuple(mine.get(day.isoformat(), Day(day)) for day, _, _ in bounds),
            next_runs=tuple(upcoming[:next_count]),
            schedule=stored.schedule.describe() if stored else None))
    return out


async def activity_stamp(db: Database) -> tuple[object, ...]:
    """What changes when a run starts or ends (in any process), a schedule's next run
    moves or an account comes or goes: a cheap look that spares the aggregate when
    nothing changed."""
    d = db.dialect
    schedules = sql.group_concat(d, "account_id || ' ' || COALESCE(next_run, '') || ' ' || spec",
                                 "';'")
    accounts = sql.group_concat(d, "id || ' ' || name || ' ' || enabled", "';'")
    row = await db.fetchone(
        "SELECT (SELECT MAX(id) FROM runs), (SELECT COUNT(ended_at) FROM runs), "
        f"(SELECT {schedules} FROM schedules), (SELECT {accounts} FROM accounts)")
    return tuple(row) if row else ()
