"""`sincro schedule set|show|preview|reset NAME`."""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from rich.table import Table
from rich.text import Text

from cli.commands import args as types
from cli.commands.base import Context, set_handler
from cli.commands.schedule_args import add_schedule_arguments, schedule_from_args
from core.accounts import get_account
from core.errors import ConfigError
from core.schedule import Schedule, next_runs
from core.schedules_store import get_schedule, reset_next_run, save_schedule
from core.textsafe import json_text, visible
from core.timeutil import utcnow, zone


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schedule", help="an account's schedule of automatic syncs")
    ssub = p.add_subparsers(dest="schedule_cmd", metavar="COMMAND", required=True)

    s = ssub.add_parser("set", help="set the schedule",
                        epilog="examples: --daily 4 --between 08:00-20:00 | --at 09:00,18:30 | "
                        "--weekly mon,thu --at 08:00 | --monthly 1,15,last --at 07:00 | "
                        "--cron '*/30 8-18 * * 1-5' | --off")
    s.add_argument("name", metavar="NAME")
    add_schedule_arguments(s)
    set_handler(s, cmd_set)

    sh = ssub.add_parser("show", help="show the schedule and its next run")
    sh.add_argument("name", metavar="NAME")
    sh.add_argument("--json", action="store_true")
    set_handler(sh, cmd_show)

    pv = ssub.add_parser("preview", help="the next runs (the saved schedule, or the one given "
                         "with the same flags as 'set')")
    pv.add_argument("name", metavar="NAME")
    pv.add_argument("--count", type=types.whole(1, 1000), default=10,
                    help="how many runs (default 10, at most 1000)")
    pv.add_argument("--from", dest="start", metavar="ISO_DATETIME",
                    help="start after this moment (in the schedule's zone unless it has an offset)")
    pv.add_argument("--json", action="store_true")
    add_schedule_arguments(pv)
    set_handler(pv, cmd_preview)

    r = ssub.add_parser("reset", help="clear the stored next-run computation")
    r.add_argument("name", metavar="NAME")
    set_handler(r, cmd_reset)


def _given(args: argparse.Namespace) -> bool:
    return any(getattr(args, f) not in (None, False)
               for f in ("daily", "between", "at", "weekly", "monthly", "cron", "off"))


async def cmd_set(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    account = await get_account(db, args.name)
    schedule = schedule_from_args(args, default_tz=account.tz)
    stored = await save_schedule(db, account.saved_id, schedule)
    nxt = stored.next_run.astimezone(schedule.zone) if stored.next_run else None
    ctx.out.print(Text(f"{account.name}: {schedule.describe()}"
                       + (f"; next run {_fmt(nxt)}" if nxt else "")))
    return 0


async def cmd_show(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    account = await get_account(db, args.name)
    stored = await get_schedule(db, account.saved_id)
    if args.json:
        print(json_text(json.dumps({
            "account": account.name,
            "schedule": stored.schedule.to_dict() if stored else {"kind": "off"},
            "describe": stored.schedule.describe() if stored else "off",
            "next_run": stored.next_run.isoformat() if stored and stored.next_run else None,
            "last_run": stored.last_run.isoformat() if stored and stored.last_run else None,
        }, indent=2)))
        return 0
    if stored is None:
        ctx.out.print(Text(f"{account.name}: no schedule (off)"))
        return 0
    z = stored.schedule.zone
    ctx.out.print(Text(f"{account.name}: {stored.schedule.describe()}"))
    ctx.out.print(Text(f"next run: {_fmt(stored.next_run.astimezone(z)) if stored.next_run else '-'}"))
    ctx.out.print(Text(f"last run: {_fmt(stored.last_run.astimezone(z)) if stored.last_run else '-'}"))
    return 0


async def cmd_preview(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    account = await get_account(db, args.name)
    if _given(args) or args.tz:
        if not _given(args):
            stored = await get_schedule(db, account.saved_id)
            if stored is None:
                raise ConfigError(f"{account.name} has no saved schedule to preview",
                                  hint="give the schedule flags, e.g. --daily 4 --between 08:00-20:00")
            schedule = Schedule.from_dict({**stored.schedule.to_dict(), "tz": args.tz})
        else:
            schedule = schedule_from_args(args, default_tz=account.tz)
    else:
        stored = await get_schedule(db, account.saved_id)
        if stored is None:
            raise ConfigError(f"{account.name} has no saved schedule to preview",
                              hint="give the schedule flags, e.g. --daily 4 --between 08:00-20:00")
        schedule = stored.schedule
    if not 1 <= args.count <= 1000:
        raise ConfigError("--count must be between 1 and 1000")
    start = _parse_start(args.start, schedule) if args.start else utcnow()
    runs = next_runs(schedule, start, args.count)
    if args.json:
        print(json_text(json.dumps({"schedule": schedule.describe(),
                          "runs": [r.isoformat() for r in runs]}, indent=2)))
        return 0
    ctx.out.print(Text(f"{schedule.describe()}: next {len(runs)} runs from "
                       f"{_fmt(start.astimezone(schedule.zone))}"))
    if not runs:
        ctx.out.print("no runs: the schedule is off")
        return 0
    t = Table("#", "day", "date", "time", "offset", box=None, pad_edge=False)
    for i, r in enumerate(runs, 1):
        t.add_row(str(i), r.strftime("%a"), r.strftime("%Y-%m-%d"), r.strftime("%H:%M"),
                  r.strftime("%z")[:3] + ":" + r.strftime("%z")[3:])
    ctx.out.print(t)
    return 0


def _parse_start(text: str, schedule: Schedule) -> datetime:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--from {visible(text)!r} is not an ISO date-time",
                          hint="e.g. --from 2026-03-28T10:00") from None
    if not 1970 <= dt.year <= 2999:
        raise ConfigError(f"--from {visible(text)} is out of range",
                          hint="give a moment between 1970 and 2999, e.g. --from 2026-03-28T10:00")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone(schedule.tz))
    return dt


async def cmd_reset(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    account = await get_account(db, args.name)
    await reset_next_run(db, account.saved_id)
    ctx.out.print(Text(f"{account.name}: next-run computation cleared"))
    return 0


def _fmt(dt: datetime) -> str:
    return dt.strftime("%a %Y-%m-%d %H:%M %Z")
