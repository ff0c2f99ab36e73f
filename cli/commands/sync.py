"""`sincro sync NAME ...`, `sincro runs [NAME]`, `sincro logs RUN_ID`."""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import datetime

from rich.table import Table
from rich.text import Text

from cli.commands import args as types
from cli.commands.base import Context, set_handler
from core.errors import NotFound
from core.events import LogLine
from core.kinds import Level, Outcome, RunKind, Trigger
from core.runs import RunSummary, describe_counts, get_run, list_runs, run_log
from core.textsafe import json_text, visible

OUTCOME_EXIT = {Outcome.OK: 0}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="run one sync of an account now, without the console")
    p.add_argument("name", metavar="NAME")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--orders", dest="kind", action="store_const", const=RunKind.ORDERS,
                      help="import new orders, then push them to the ERP")
    what.add_argument("--customers", dest="kind", action="store_const", const=RunKind.CUSTOMERS,
                      help="refresh every customer of the account from the shop (can be long)")
    what.add_argument("--full", dest="kind", action="store_const", const=RunKind.FULL,
                      help="realign all customers and articles with the ERP (counts against "
                      "the monthly allowance)")
    what.add_argument("--states", dest="kind", action="store_const", const=RunKind.STATES,
                      help="send ERP document states back to the shop")
    what.add_argument("--scheduled", dest="kind", action="store_const", const=RunKind.SCHEDULED,
                      help="run the whole scheduled pipeline now")
    p.add_argument("--dry-run", action="store_true",
                   help="show what would be done; write nothing on the shop, hub or ERP")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no log lines, only the summary")
    p.add_argument("--verbose", "-v", action="store_true", help="also the debug lines (each order)")
    set_handler(p, cmd_sync)

    r = sub.add_parser("runs", help="list recorded runs")
    r.add_argument("name", nargs="?", metavar="NAME")
    r.add_argument("--limit", type=types.whole(1, 100_000), default=30, metavar="N",
                   help="the newest N runs (default 30)")
    r.add_argument("--json", action="store_true")
    set_handler(r, cmd_runs)

    lg = sub.add_parser("logs", help="print a run's log")
    lg.add_argument("run_id", type=types.row_id("run id"), metavar="RUN_ID")
    lg.add_argument("--json", action="store_true")
    set_handler(lg, cmd_logs)


async def cmd_sync(args: argparse.Namespace, ctx: Context) -> int:
    from core.engine import Engine

    # a dry run opens the engine without its start-up tidying (which writes)
    async with Engine(ctx.home, tidy=not args.dry_run) as engine:
        sub = engine.subscribe()
        import asyncio

        printer = None
        if not args.json and not args.quiet:
            printer = asyncio.create_task(_print_lines(sub, debug=args.dry_run or args.verbose))
        try:
            summary = await engine.run_sync(args.name, args.kind, trigger=Trigger.CLI,
                                            dry_run=args.dry_run)
        finally:
            if printer:
                await asyncio.sleep(0)
                printer.cancel()
            sub.close()
    if args.json:
        print(json_text(json.dumps(summary.as_dict(), indent=2, ensure_ascii=False)))
    else:
        _print_summary(ctx, summary)
    return 0 if summary.outcome == Outcome.OK else 1


async def _print_lines(sub, debug: bool) -> None:
    async for event in sub:
        if isinstance(event, LogLine) and (event.level != Level.DEBUG or debug):
            stamp = event.at.astimezone().strftime("%H:%M:%S")
            stream = sys.stderr if event.level in (Level.WARNING, Level.ERROR) else sys.stdout
            print(f"{stamp} {event.level:<7} {visible(event.message)}", file=stream, flush=True)


def _print_summary(ctx: Context, s: RunSummary) -> None:
    counts = describe_counts(s.counts) if any(s.counts.values()) else ""
    dur = f"{s.duration_s:.1f}s" if s.duration_s is not None else "-"
    ctx.out.print(Text(f"{s.kind} sync of {s.account}: {s.outcome} in {dur}"
                       + (f" (run {s.id})" if s.id else "") + (f": {counts}" if counts else "")))
    for err in s.errors:
        ctx.out.print(Text(f"  error: {visible(err)}"))


async def cmd_runs(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    if args.name:
        from core.accounts import get_account

        await get_account(db, args.name)
    runs = await list_runs(db, args.name, args.limit)
    if args.json:
        print(json_text(json.dumps([r.as_dict() for r in runs], indent=2, ensure_ascii=False)))
        return 0
    if not runs:
        ctx.out.print("no runs yet")
        return 0
    t = Table("id", "account", "kind", "trigger", "started", "outcome", "took", "counts",
              box=None, pad_edge=False)
    t.columns[-1].overflow = "fold"
    t.columns[-1].min_width = 24
    for r in runs:
        t.add_row(str(r.id), Text(r.account), Text(visible(r.kind)), Text(visible(r.trigger)),
                  _started(r.started_at), Text(visible(r.outcome or "running")), _took(r),
                  Text(visible(describe_counts(r.counts)) if r.outcome else ""))
    ctx.out.print(t)
    return 0


def _started(value: object) -> str:
    """A stored start time in local time; what is not one, as text."""
    try:
        return datetime.fromisoformat(str(value)).astimezone().strftime("%d %b %H:%M")
    except (ValueError, OverflowError, OSError):
        return visible(value)


def _took(run: RunSummary) -> str:
    """A run's duration, '' when unknown; a stored value that is not a number, as text."""
    try:
        seconds = run.duration_s
    except (TypeError, ValueError, OverflowError):
        return "?"
    if seconds is None:
        return ""
    if isinstance(seconds, (int, float)) and math.isfinite(seconds):
        return f"{seconds:.1f}s"
    if isinstance(seconds, float):  # NaN, Infinity (a PostgreSQL hub stores them as such)
        return "NaN" if math.isnan(seconds) else ("-" if seconds < 0 else "") + "Infinity"
    return visible(seconds)


async def cmd_logs(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    run = await get_run(db, args.run_id)
    if run is None:
        raise NotFound(f"no run with id {args.run_id}", hint="list runs with 'sincro runs'")
    lines = await run_log(db, args.run_id)
    if args.json:
        print(json_text(json.dumps([{"at": a, "level": lv, "message": m}
                                    for _, a, lv, m in lines], ensure_ascii=False)))
        return 0
    for _, at, level, message in lines:
        print(f"{visible(at)} {visible(level):<7} {visible(message)}")
    return 0
