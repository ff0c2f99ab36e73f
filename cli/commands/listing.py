"""`sincro list ...` (sales lists) and `sincro listing ...` (listings, rules, runs, import)."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import tomllib
from pathlib import Path

from rich.table import Table
from rich.text import Text

from cli.commands import args as types
from cli.commands.base import Context, set_handler
from core import listings as lst
from core.errors import ConfigError
from core.kinds import Level, Outcome, RunKind, Trigger
from core.textsafe import json_text, visible

MAX_IMPORT = 1_000_000  # bytes: a listings file is a few kilobytes


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def register(sub: argparse._SubParsersAction) -> None:
    _register_lists(sub)
    _register_listings(sub)


# -- sales lists -------------------------------------------------------------------
def _register_lists(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="manage sales lists (named sets of ERP articles)",
                       description="Manage sales lists: named sets of ERP articles, by code or "
                       "by glob pattern (e.g. 'SKU-00*').")
    s = p.add_subparsers(dest="list_cmd", metavar="COMMAND", required=True)

    add = s.add_parser("add", help="create a sales list, or add articles to it")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--code", action="append", default=[], metavar="CODES",
                     help="ERP article codes, comma-separated (repeatable)")
    add.add_argument("--pattern", action="append", default=[], metavar="GLOB",
                     help="ERP article codes matching this glob, e.g. 'SKU-00*' (repeatable)")
    set_handler(add, cmd_list_add)

    drop = s.add_parser("drop", help="take articles or patterns out of a sales list")
    drop.add_argument("name", metavar="NAME")
    drop.add_argument("--code", action="append", default=[], metavar="CODES")
    drop.add_argument("--pattern", action="append", default=[], metavar="GLOB")
    set_handler(drop, cmd_list_drop)

    ls = s.add_parser("list", help="list the sales lists")
    ls.add_argument("--json", action="store_true")
    set_handler(ls, cmd_list_list)

    show = s.add_parser("show", help="show a sales list")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true")
    set_handler(show, cmd_list_show)

    rm = s.add_parser("remove", help="remove a sales list (not while a listing uses it)")
    rm.add_argument("name", metavar="NAME")
    set_handler(rm, cmd_list_remove)


def _codes(values: list[str]) -> list[str]:
    return [c for v in values for c in _csv(v)]


async def cmd_list_add(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    result = await lst.save_list(db, args.name, add_codes=_codes(args.code),
                                 add_patterns=args.pattern)
    ctx.out.print(Text(f"sales list {result.name}: {len(result.codes)} codes, "
                       f"{len(result.patterns)} patterns"))
    return 0


async def cmd_list_drop(args: argparse.Namespace, ctx: Context) -> int:
    if not args.code and not args.pattern:
        raise ConfigError("nothing to drop", hint="give --code CODES and/or --pattern GLOB")
    db = await ctx.hub()
    result = await lst.save_list(db, args.name, drop_codes=_codes(args.code),
                                 drop_patterns=args.pattern, create=False)
    ctx.out.print(Text(f"sales list {result.name}: {len(result.codes)} codes, "
                       f"{len(result.patterns)} patterns"))
    return 0


def _list_dict(s: lst.SalesList) -> dict:
    return {"name": s.name, "codes": list(s.codes), "patterns": list(s.patterns)}


async def cmd_list_list(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    lists = await lst.list_lists(db)
    if args.json:
        print(json_text(json.dumps([_list_dict(s) for s in lists], indent=2, ensure_ascii=False)))
        return 0
    if not lists:
        ctx.out.print("no sales lists yet: add one with 'sincro list add NAME --code CODE'")
        return 0
    t = Table("name", "codes", "patterns", box=None, pad_edge=False)
    for s in lists:
        t.add_row(Text(s.name), str(len(s.codes)), Text(visible(" ".join(s.patterns))))
    ctx.out.print(t)
    return 0


async def cmd_list_show(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    s = await lst.get_list(db, args.name)
    if args.json:
        print(json_text(json.dumps(_list_dict(s), indent=2, ensure_ascii=False)))
        return 0
    ctx.out.print(Text(f"sales list {s.name}"))
    ctx.out.print(Text("codes: " + (", ".join(s.codes) or "-")))
    ctx.out.print(Text("patterns: " + (", ".join(s.patterns) or "-")))
    return 0


async def cmd_list_remove(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    await lst.remove_list(db, args.name)
    ctx.out.print(Text(f"removed sales list {args.name}"))
    return 0


# -- listings ----------------------------------------------------------------------
def _register_listings(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("listing", help="manage listings: sales lists published on a shop, "
                       "with rules", description="Manage listings. A listing publishes sales "
                       "lists on one account; its rules are tried in order, the first that holds "
                       "decides (publish, update or stop).")
    s = p.add_subparsers(dest="listing_cmd", metavar="COMMAND", required=True)

    add = s.add_parser("add", help="create a listing")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--account", required=True, metavar="ACCOUNT")
    add.add_argument("--list", dest="lists", action="append", required=True, metavar="LISTS",
                     help="sales lists, comma-separated (repeatable)")
    add.add_argument("--disabled", action="store_true", help="add it disabled")
    set_handler(add, cmd_add)

    edit = s.add_parser("edit", help="change a listing's account or sales lists")
    edit.add_argument("name", metavar="NAME")
    edit.add_argument("--account", metavar="ACCOUNT")
    edit.add_argument("--list", dest="lists", action="append", metavar="LISTS",
                      help="the sales lists (replace the current ones)")
    set_handler(edit, cmd_edit)

    ls = s.add_parser("list", help="list listings")
    ls.add_argument("--account", metavar="ACCOUNT")
    ls.add_argument("--json", action="store_true")
    set_handler(ls, cmd_list)

    show = s.add_parser("show", help="show a listing and its rules")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true")
    set_handler(show, cmd_show)

    for verb, flag in (("enable", True), ("disable", False)):
        e = s.add_parser(verb, help=f"{verb} a listing")
        e.add_argument("name", metavar="NAME")
        e.set_defaults(enabled=flag)
        set_handler(e, cmd_enable)

    rm = s.add_parser("remove", help="remove a listing")
    rm.add_argument("name", metavar="NAME")
    set_handler(rm, cmd_remove)

    rule = s.add_parser("rule", help="add or remove a listing's rules")
    rs = rule.add_subparsers(dest="rule_cmd", metavar="COMMAND", required=True)
    radd = rs.add_parser("add", help="add a rule (at the end, or at --position)")
    radd.add_argument("name", metavar="NAME")
    radd.add_argument("--when", required=True, metavar="CONDITION",
                      help="'stock <= N', 'stock > N' (also <, >=, =), 'price changed', "
                      "'inactive', 'active', 'always'")
    radd.add_argument("--do", required=True, choices=lst.ACTIONS, dest="action")
    radd.add_argument("--fields", metavar="FIELDS",
                      help="for update: quantity, price or quantity,price (default both)")
    radd.add_argument("--stop-mode", choices=lst.STOP_MODES,
                      help="for stop: inactive (default) or zero (quantity 0)")
    radd.add_argument("--position", type=types.whole(1, 10_000, "a rule position"), metavar="N",
                      help="insert as rule N (1 = first)")
    set_handler(radd, cmd_rule_add)
    rrm = rs.add_parser("remove", help="remove rule N")
    rrm.add_argument("name", metavar="NAME")
    rrm.add_argument("position", type=types.whole(1, 10_000, "a rule position"), metavar="N")
    set_handler(rrm, cmd_rule_remove)

    run = s.add_parser("run", help="apply a listing's rules to all its articles now")
    run.add_argument("name", metavar="NAME")
    run.add_argument("--dry-run", action="store_true",
                     help="print what would change; write nothing on the shop or the hub")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    set_handler(run, cmd_run)

    imp = s.add_parser("import", help="create or replace sales lists and listings from a TOML file")
    imp.add_argument("file", metavar="FILE", type=types.file_path,
                     help=f"a TOML file of at most {MAX_IMPORT // 1_000_000} MB")
    set_handler(imp, cmd_import)


async def cmd_add(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    listing = await lst.save_listing(db, args.name, account=args.account,
                                     lists=_codes(args.lists), enabled=not args.disabled,
                                     create=True)
    ctx.out.print(Text(f"added listing {listing.name} on {listing.account} "
                       f"(lists {', '.join(listing.lists)}); add rules with "
                       f"'sincro listing rule add {listing.name} --when ... --do ...'"))
    return 0


async def cmd_edit(args: argparse.Namespace, ctx: Context) -> int:
    if args.account is None and args.lists is None:
        raise ConfigError("nothing to change", hint="give --account and/or --list")
    db = await ctx.hub()
    listing = await lst.save_listing(db, args.name, account=args.account,
                                     lists=_codes(args.lists) if args.lists else None)
    ctx.out.print(Text(f"updated listing {listing.name}"))
    return 0


def _listing_dict(x: lst.Listing) -> dict:
    return {"name": x.name, "account": x.account, "lists": list(x.lists), "enabled": x.enabled,
            "rules": [{"when": r.condition, "do": r.action, "fields": list(r.fields),
                       "stop": r.stop_mode} for r in x.rules]}


async def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    if args.account:
        from core.accounts import get_account

        await get_account(db, args.account)
    listings = await lst.list_listings(db, args.account)
    if args.json:
        print(json_text(json.dumps([_listing_dict(x) for x in listings], indent=2, ensure_ascii=False)))
        return 0
    if not listings:
        ctx.out.print("no listings yet: add one with "
                      "'sincro listing add NAME --account ACCOUNT --list LIST'")
        return 0
    t = Table("name", "account", "lists", "enabled", "rules", box=None, pad_edge=False)
    for x in listings:
        t.add_row(Text(x.name), Text(x.account), Text(", ".join(x.lists)),
                  "yes" if x.enabled else "no", str(len(x.rules)))
    ctx.out.print(t)
    return 0


async def cmd_show(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    x = await lst.get_listing(db, args.name)
    if args.json:
        print(json_text(json.dumps(_listing_dict(x), indent=2, ensure_ascii=False)))
        return 0
    ctx.out.print(Text(f"listing {x.name} on {x.account}, "
                       f"{'enabled' if x.enabled else 'disabled'}; lists: {', '.join(x.lists)}"))
    if not x.rules:
        ctx.out.print("no rules yet")
    for i, r in enumerate(x.rules, 1):
        ctx.out.print(Text(f"  {i}. {r.describe()}"))
    return 0


async def cmd_enable(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    x = await lst.save_listing(db, args.name, enabled=args.enabled)
    ctx.out.print(Text(f"listing {x.name} {'enabled' if x.enabled else 'disabled'}"))
    return 0


async def cmd_remove(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    await lst.remove_listing(db, args.name)
    ctx.out.print(Text(f"removed listing {args.name}"))
    return 0


async def cmd_rule_add(args: argparse.Namespace, ctx: Context) -> int:
    rule = lst.make_rule(args.when, args.action, args.fields, args.stop_mode)
    db = await ctx.hub()
    x = await lst.add_rule(db, args.name, rule, args.position)
    ctx.out.print(Text(f"listing {x.name}: {len(x.rules)} rules"))
    for i, r in enumerate(x.rules, 1):
        ctx.out.print(Text(f"  {i}. {r.describe()}"))
    return 0


async def cmd_rule_remove(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    x = await lst.remove_rule(db, args.name, args.position)
    ctx.out.print(Text(f"listing {x.name}: {len(x.rules)} rules"))
    return 0


async def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    from core.engine import Engine
    from core.sync.listings import listings_all

    db = await ctx.hub()
    x = await lst.get_listing(db, args.name)
    if not x.enabled:
        raise ConfigError(f"listing {x.name} is disabled",
                          hint=f"enable it with 'sincro listing enable {x.name}'")
    import asyncio

    async with Engine(ctx.home) as engine:
        sub = engine.subscribe()
        printer = None
        if not args.json:
            printer = asyncio.create_task(_print_lines(sub))
        try:
            summary = (await engine.run_operation(
                x.account, RunKind.LISTINGS, lambda rctx: listings_all(rctx, only=x.name),
                trigger=Trigger.CLI, dry_run=args.dry_run)).summary
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


async def _print_lines(sub) -> None:
    from core.events import LogLine

    async for event in sub:
        if isinstance(event, LogLine) and event.level != Level.DEBUG:
            stamp = event.at.astimezone().strftime("%H:%M:%S")
            stream = sys.stderr if event.level in (Level.WARNING, Level.ERROR) else sys.stdout
            print(f"{stamp} {event.level:<7} {visible(event.message)}", file=stream, flush=True)


def _print_summary(ctx: Context, s) -> None:
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(s.counts.items()) if v)
    ctx.out.print(Text(f"listing run on {s.account}: {s.outcome}" + (f" (run {s.id})" if s.id else "")
                       + (f": {counts}" if counts else "")))
    for err in s.errors:
        ctx.out.print(Text(f"  error: {visible(err)}"))


def read_import_file(path: Path) -> str:
    """The file's text: a regular file of at most MAX_IMPORT bytes, read with that bound
    (a device such as /dev/zero, a FIFO or a huge file is refused, never read whole)."""
    name = visible(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ConfigError(f"{name} is not a regular file",
                                  hint="give the path of a TOML file")
            if info.st_size > MAX_IMPORT:
                raise ConfigError(f"{name} is too large ({info.st_size:,} bytes, at most "
                                  f"{MAX_IMPORT:,})", hint="split it into smaller files")
            with os.fdopen(fd, "rb", closefd=False) as f:
                raw = f.read(MAX_IMPORT + 1)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ConfigError(f"cannot read {name}: {exc.strerror or exc}") from None
    if len(raw) > MAX_IMPORT:  # it grew while being read
        raise ConfigError(f"{name} is too large (at most {MAX_IMPORT:,} bytes)",
                          hint="split it into smaller files")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{name} is not UTF-8 text") from None


async def cmd_import(args: argparse.Namespace, ctx: Context) -> int:
    try:
        data = tomllib.loads(read_import_file(args.file))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{visible(args.file)} is not valid TOML: {visible(exc)}",
                          hint="see the Listings section of README.md for the format") from None
    plan = lst.plan_from_toml(data)
    db = await ctx.hub()
    await lst.apply_plan(db, plan)
    ctx.out.print(Text(f"imported {len(plan.lists)} sales lists and {len(plan.listings)} listings "
                       f"from {args.file}"))
    return 0
