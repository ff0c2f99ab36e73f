"""`sincro status [NAME] [--json]`: each account's health, for people and for a monitoring
system. Exit 0 when all is well, 1 when an account is late or failing, 2 on usage errors
(core/status.py says what late and failing mean)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime, timedelta

from rich.table import Table
from rich.text import Text

from cli.commands import args as types
from cli.commands.base import Context, set_handler
from core.errors import ConfigError
from core.home import HUB_FILE
from core.status import (
    DEFAULT_FAIL_AFTER,
    DEFAULT_LATE_AFTER,
    AccountStatus,
    SchedulerInfo,
    Thresholds,
    report,
    scheduler_info,
    span,
    statuses,
)
from core.store.location import HUB_SCHEMA, on_postgres, target
from core.textsafe import json_text, visible
from core.timeutil import utcnow

# what "now" is; tests put a fixed one here
clock: Callable[[], datetime] = utcnow


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "status", help="each account's last run, next run and failures; exit 1 when one is "
        "late or failing (for a monitoring system)",
        epilog="exit codes: 0 all well, 1 an account is late or failing, 2 usage error "
        "(an unknown account, no Sincro home). A disabled account is never late nor failing; "
        "one without a schedule is never late.")
    p.add_argument("name", nargs="?", metavar="NAME", help="only this account")
    p.add_argument("--late-after", type=types.whole(0, 525_600, "a number of minutes"),
                   default=int(DEFAULT_LATE_AFTER.total_seconds() // 60), metavar="MINUTES",
                   help="late when the next scheduled run is overdue by more than this "
                   f"(default {int(DEFAULT_LATE_AFTER.total_seconds() // 60)})")
    p.add_argument("--fail-after", type=types.whole(1, 1_000_000), default=DEFAULT_FAIL_AFTER,
                   metavar="N", help="failing when the newest N runs or more failed in a row "
                   f"(default {DEFAULT_FAIL_AFTER})")
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    set_handler(p, cmd_status)


async def cmd_status(args: argparse.Namespace, ctx: Context) -> int:
    # a wrong home (or database) is not an empty, healthy one
    if on_postgres():
        from core.store.pg import schema_exists

        place = target(ctx.hub_path, HUB_SCHEMA)
        if not await schema_exists(place):  # type: ignore[arg-type]
            raise ConfigError(f"no Sincro data in {place} (no schema {HUB_SCHEMA})",
                              hint="point SINCRO_HUB at the daemon's database, or unset it to "
                              "read the daemon's home given with --home or SINCRO_HOME")
    elif not (ctx.home / HUB_FILE).exists():
        raise ConfigError(f"no Sincro data in {visible(str(ctx.home))} (no {HUB_FILE})",
                          hint="give the daemon's home with --home or SINCRO_HOME")
    db = await ctx.hub()
    now = clock()
    thresholds = Thresholds(timedelta(minutes=args.late_after), args.fail_after)
    items = await statuses(db, now, args.name, thresholds)
    if not items:
        raise ConfigError(f"no accounts to watch in {visible(str(ctx.home))}",
                          hint="add one with 'sincro account add', or give the daemon's "
                          "home with --home or SINCRO_HOME")
    scheduler = await scheduler_info(db)
    healthy = all(s.healthy for s in items)
    if args.json:
        print(json_text(json.dumps(report(items, now, thresholds, scheduler), indent=2,
                                   ensure_ascii=False)))
    else:
        _print(ctx, items, scheduler)
    return 0 if healthy else 1


def _print(ctx: Context, items: list[AccountStatus], scheduler: SchedulerInfo | None) -> None:
    ctx.out.print(Text(headline(items)))
    t = Table("account", "status", "last run", "ended", "age", "next run", "failed",
              box=None, pad_edge=False)
    for s in items:
        last = s.last_run
        t.add_row(Text(s.account), Text(s.status),
                  Text("never" if last is None else visible(f"{last.kind} {last.outcome}")),
                  _when(s.last_at), span(s.age) if s.age is not None else "",
                  _next(s), str(s.failed_in_a_row))
    ctx.out.print(t)
    for s in items:
        if s.running is not None:
            ctx.out.print(Text(f"{s.account}: {visible(s.running.kind)} run {s.running.id} "
                               f"going on since {_when(_at(s.running.started_at))}"))
    if any(s.schedule for s in items):
        ctx.out.print(Text(f"scheduled by: the {scheduler.role} (process {scheduler.pid} on "
                           f"{visible(scheduler.host)})" if scheduler else
                           "scheduled by: nobody (no daemon or console schedules this home "
                           "now: start 'sincro --daemon')"))


def headline(items: list[AccountStatus]) -> str:
    """The first line: what a monitoring system shows."""
    bad = [s for s in items if not s.healthy]
    if not bad:
        return (f"OK: {items[0].account} is well" if len(items) == 1 else
                f"OK: all {len(items)} accounts are well")
    return "NOT OK: " + "; ".join(f"{s.account} {s.status}: {', '.join(s.reasons())}"
                                  for s in bad)


def _at(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _when(dt: datetime | None) -> str:
    return dt.astimezone().strftime("%d %b %H:%M") if dt is not None else ""


def _next(s: AccountStatus) -> str:
    if s.next_run is None:
        return "none (no schedule)" if s.schedule is None else "none"
    if s.overdue is not None:
        return f"{_when(s.next_run)} ({span(s.overdue)} overdue)"
    return f"{_when(s.next_run)} (in {span(s.next_run - s.now)})"
