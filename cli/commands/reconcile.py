"""`sincro reconcile`, `resync`, `cursor show|set`, `review`: check and replay an account."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from rich.text import Text

from cli.commands import args as types
from cli.commands.base import Context, set_handler
from core.errors import ConfigError
from core.kinds import RunKind, Trigger
from core.textsafe import json_text, visible

FIX_CHOICES = ("missing", "differs", "states", "customers", "doubled_customers", "refunds")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reconcile", help="compare the shop's orders with the ERP's documents")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--since", metavar="DATE", help="orders placed from this day (shop time)")
    p.add_argument("--until", metavar="DATE", help="orders placed up to this day (shop time)")
    p.add_argument("--fix", action="append", choices=FIX_CHOICES, metavar="CATEGORY",
                   help="apply the action of a category (missing, differs, states, customers, "
                   "doubled_customers, refunds); "
                   "repeatable; then reconcile again")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    set_handler(p, cmd_reconcile)

    r = sub.add_parser("resync", help="re-read one order or customer from the shop and bring "
                       "the hub and the ERP in line")
    r.add_argument("name", metavar="NAME")
    what = r.add_mutually_exclusive_group(required=True)
    what.add_argument("--order", type=types.shop_id, action="append", metavar="ID")
    what.add_argument("--customer", type=types.shop_id, action="append", metavar="ID")
    r.add_argument("--json", action="store_true")
    set_handler(r, cmd_resync)

    c = sub.add_parser("cursor", help="show or move an account's sync cursors (replay)")
    csub = c.add_subparsers(dest="cursor_command", metavar="ACTION", required=True)
    show = csub.add_parser("show", help="the account's cursors")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true")
    set_handler(show, cmd_cursor_show)
    move = csub.add_parser("set", help="move a cursor: orders (a shop order id), customers "
                           "(a date and time, shop time), states (the ERP's cursor), refunds "
                           "(a shop refund id)")
    move.add_argument("name", metavar="NAME")
    move.add_argument("cursor", choices=("orders", "customers", "states", "refunds"))
    move.add_argument("value", metavar="VALUE")
    move.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    set_handler(move, cmd_cursor_set)

    v = sub.add_parser("review", help="what Sincro created on its own: auto-coded articles, "
                       "merged guest customers")
    v.add_argument("name", metavar="NAME")
    v.add_argument("--since", metavar="DATE", help="created from this day (UTC)")
    v.add_argument("--json", action="store_true")
    set_handler(v, cmd_review)


def _engine(ctx: Context, *, writes: bool):
    from core.engine import Engine

    return Engine(ctx.home, notify=False, tidy=writes)


# -- reconcile -----------------------------------------------------------------
def check_period(since: str | None, until: str | None) -> None:
    """Each bound a date of this era, and the start not after the end (refused before
    anything is opened or read)."""
    from core.reconcile import parse_when

    lo = _bound(parse_when, since, "--since")
    hi = _bound(parse_when, until, "--until", end=True)
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(f"the period is reversed: --since {visible(since)} is after "
                          f"--until {visible(until)}",
                          hint="give the earlier day with --since, the later with --until")


def _bound(parse_when, text: str | None, flag: str, *, end: bool = False):
    if text is None:
        return None
    moment = parse_when(text, "UTC", end=end)
    if not 1970 <= moment.year <= 2999:
        raise ConfigError(f"{flag} {visible(text)} is out of range",
                          hint="give a day between 1970-01-01 and 2999-12-31, e.g. 2026-11-01")
    return moment


async def cmd_reconcile(args: argparse.Namespace, ctx: Context) -> int:
    from core.reconcile import reconcile
    from core.resync import apply_fix

    check_period(args.since, args.until)

    async with _engine(ctx, writes=bool(args.fix)) as engine:
        report = await reconcile(engine, args.name, since=args.since, until=args.until)
        fixed: dict[str, Any] = {}
        if args.fix:
            if not args.json:
                _print_report(ctx, report)
            for category in dict.fromkeys(args.fix):
                if not report.problems(category):
                    continue

                async def body(rctx, category=category):
                    return await apply_fix(rctx, report, category)

                result = (await engine.run_operation(args.name, RunKind.fix(category), body,
                                                     trigger=Trigger.CLI)).result()
                fixed[category] = result.as_dict()
                if not args.json:
                    _print_fix(ctx, category, result)
            report = await reconcile(engine, args.name, since=args.since, until=args.until)
            if not args.json:
                ctx.out.print("after the fixes:")
    if args.json:
        out = report.as_dict()
        if args.fix:
            out["fixed"] = fixed
        print(json_text(json.dumps(out, indent=2, ensure_ascii=False)))
    else:
        _print_report(ctx, report)
    return 0 if report.aligned else 1


def _print_report(ctx: Context, report) -> None:
    span = (f"from {report.since}" if report.since else "from the start") + (
        f" to {report.until}" if report.until else "")
    ctx.out.print(Text(f"reconcile {report.account}, orders placed {span}: "
                       f"{report.orders_checked} orders, {report.documents_checked} ERP "
                       f"documents, {report.customers_checked} customers checked"))
    counts = report.counts()
    for m in report.problems("missing"):
        ctx.out.print(Text(f"  missing   order {m.order_id} ({m.reference}) [{m.reason}]: "
                           f"{m.detail}"))
    for d in report.doubled:
        ctx.out.print(Text(f"  doubled   orders {list(d.order_ids)} documents "
                           f"{', '.join(d.documents)}: {d.detail}"))
    for d in report.differs:
        parts = "; ".join(f"{f.name} shop {f.shop} hub {f.hub} ERP {f.erp}" for f in d.fields)
        ctx.out.print(Text(f"  differs   order {d.order_id} document {d.document} "
                           f"({d.erp_state}): {parts}"))
    for s in report.states:
        ctx.out.print(Text(f"  states    order {s.order_id} document {s.document} "
                           f"[{s.direction}]: {s.detail}"))
    for c in report.customers:
        what = ", ".join(c.fields) or "not in the ERP"
        ctx.out.print(Text(f"  customers customer {c.customer_id} ({c.erp_ref}) "
                           f"[{c.where}]: {what}"))
    for dc in report.doubled_customers:
        others = ", ".join(f"{code or '(not pushed)'} ({ref})" for ref, code in dc.others)
        ctx.out.print(Text(f"  doubled customers {dc.email}: ERP {dc.keep_code} ({dc.keep_ref}) "
                           f"and {others}; shop customers "
                           f"{', '.join(map(str, dc.customer_ids))}"))
    for r in report.refunds:
        ctx.out.print(Text(f"  refunds   refund {r.slip_id} of order {r.order_id} [{r.reason}]: "
                           f"{r.detail}"))
    waiting = [m for m in report.missing if not m.problem]
    if waiting:
        ids = ", ".join(str(m.order_id) for m in waiting[:20])
        more = f" and {len(waiting) - 20} more" if len(waiting) > 20 else ""
        ctx.out.print(Text(f"  not importable (not a problem): {len(waiting)} orders: {ids}{more}"))
    if report.acknowledged:
        ids = ", ".join(str(s.order_id) for s in report.acknowledged[:20])
        more = f" and {len(report.acknowledged) - 20} more" if len(report.acknowledged) > 20 else ""
        ctx.out.print(Text(f"  shop ahead of the ERP, acknowledged (not a problem): "
                           f"{len(report.acknowledged)} orders: {ids}{more}"))
    for note in report.notes:
        ctx.out.print(Text(f"  note: {note}"))
    if report.aligned:
        ctx.out.print("aligned")
    else:
        summary = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        fixes = " ".join(f"--fix {k}" for k, v in counts.items() if v and k in FIX_CHOICES)
        ctx.out.print(Text(f"not aligned: {summary}"
                           + (f" (sincro reconcile {report.account} {fixes})" if fixes else "")))


def _print_fix(ctx: Context, category: str, result) -> None:
    for i, what in sorted(result.changed.items()):
        ctx.out.print(Text(f"  fix {category}: {i}: {'; '.join(what)}"))
    for i, why in sorted(result.unresolved.items()):
        ctx.out.print(Text(f"  fix {category}: {i}: not fixed: {why}"))


# -- resync --------------------------------------------------------------------
async def cmd_resync(args: argparse.Namespace, ctx: Context) -> int:
    from core.resync import resync_customers, resync_orders

    async with _engine(ctx, writes=True) as engine:
        if args.order:
            done = await engine.run_operation(args.name, RunKind.RESYNC,
                                              lambda rctx: resync_orders(rctx, args.order),
                                              trigger=Trigger.CLI)
            label = "order"
        else:
            done = await engine.run_operation(args.name, RunKind.RESYNC,
                                              lambda rctx: resync_customers(rctx, args.customer),
                                              trigger=Trigger.CLI)
            label = "customer"
        result = done.result()
    if args.json:
        print(json_text(json.dumps(result.as_dict(), indent=2, ensure_ascii=False)))
    else:
        for i, what in sorted(result.changed.items()):
            ctx.out.print(Text(f"{label} {i}: {'; '.join(what)}"))
        for i in result.unchanged:
            ctx.out.print(Text(f"{label} {i}: already in line, nothing changed"))
        for i, why in sorted(result.unresolved.items()):
            ctx.out.print(Text(f"{label} {i}: not brought in line: {why}"))
        for i in result.not_found:
            ctx.out.print(Text(f"{label} {i}: not found on the shop"))
    return 1 if result.unresolved or result.not_found else 0


# -- cursors ---------------------------------------------------------------------
async def cmd_cursor_show(args: argparse.Namespace, ctx: Context) -> int:
    from core.resync import show_cursors

    values = await show_cursors(await ctx.hub(), args.name)
    if args.json:
        print(json_text(json.dumps({v.name: {"value": v.value, "updated_at": v.updated_at}
                          for v in values}, indent=2)))
        return 0
    for v in values:
        ctx.out.print(Text(f"{v.name:<10} {v.value if v.value is not None else '(not set)':<28} "
                           + (f"moved {v.updated_at}" if v.updated_at else "")))
    return 0


def _check_cursor_range(name: str, value: str) -> None:
    """An orders cursor is a shop order id (INT UNSIGNED on PrestaShop); a customers
    cursor a moment of this era; a states cursor one line of text."""
    if name == "orders" and int(value) > types.SHOP_ID_MAX:
        raise ConfigError(f"the orders cursor {visible(value)[:40]} is beyond any shop order id "
                          f"(PrestaShop ids go up to {types.SHOP_ID_MAX:,}): every later sync "
                          "would import nothing",
                          hint="give the id of the last order to keep, e.g. 'sincro cursor set "
                          "NAME orders 1200' replays the orders after 1200")
    if name == "customers":
        from datetime import datetime

        if not 1970 <= datetime.fromisoformat(value).year <= 2999:
            raise ConfigError(f"the customers cursor {visible(value)} is out of range",
                              hint="a date and time between 1970 and 2999, e.g. "
                              "2026-11-01T00:00:00")
    if name == "states" and visible(value) != value:
        raise ConfigError("the states cursor holds control characters",
                          hint="give the value 'sincro cursor show' printed")


async def cmd_cursor_set(args: argparse.Namespace, ctx: Context) -> int:
    from core.resync import check_cursor, set_cursor_value, show_cursors

    value = check_cursor(args.cursor, args.value)
    _check_cursor_range(args.cursor, value)
    current = {v.name: v.value for v in await show_cursors(await ctx.hub(), args.name)}
    question = (f"move the {args.cursor} cursor of {args.name} from "
                f"{current.get(args.cursor) or '(not set)'} to {value}? the next sync replays "
                "from there [y/N] ")
    if not args.yes:
        if not sys.stdin or not sys.stdin.isatty():
            raise ConfigError("moving a cursor needs a confirmation",
                              hint="run it in a terminal, or add --yes")
        answer = (await asyncio.to_thread(input, question)).strip().lower()
        if answer not in ("y", "yes"):
            ctx.out.print("cursor not moved")
            return 1
    async with _engine(ctx, writes=True) as engine:
        moved = await set_cursor_value(engine, args.name, args.cursor, value)
    ctx.out.print(Text(f"{args.cursor} cursor of {args.name}: {moved.value}"))
    return 0


# -- review ------------------------------------------------------------------------
async def cmd_review(args: argparse.Namespace, ctx: Context) -> int:
    from core.reconcile import review

    check_period(args.since, None)

    report = await review(await ctx.hub(), args.name, since=args.since)
    if args.json:
        print(json_text(json.dumps(report.as_dict(), indent=2, ensure_ascii=False)))
        return 0
    ctx.out.print(Text(f"created by Sincro for {report.account}"
                       + (f" since {report.since}" if report.since else "") + ":"))
    ctx.out.print(f"auto-coded articles: {len(report.articles)}")
    for a in report.articles:
        ctx.out.print(Text(f"  {a.code:<20} product {a.product_id}-{a.attribute_id} "
                           f"{a.name or ''} (reference {a.reference or '-'}) {a.created_at}"))
    ctx.out.print(f"merged guest customers: {len(report.merged)}")
    for m in report.merged:
        ctx.out.print(Text(f"  {m.email} -> ERP {m.erp_code or '(not pushed)'}: shop customers "
                           f"{', '.join(map(str, m.customer_ids))}"))
    ctx.out.print(f"partite IVA that fail the check digit (kept as typed): "
                  f"{len(report.invalid_vat)}")
    for v in report.invalid_vat:
        ctx.out.print(Text(f"  customer {v.customer_id} (address {v.address_id}): "
                           f"{v.vat_number} -> ERP {v.erp_code or '(not pushed)'}"))
    ctx.out.print(f"linked to the office's own ERP records: {len(report.matches)}")
    for match in report.matches:
        ctx.out.print(Text(f"  {match.kind} {match.shop_id} -> ERP {match.erp_code} (same "
                           f"{match.by.replace('_', ' ')} {match.value})"))
    ctx.out.print(f"orders held for the office: {len(report.held)}")
    for h in report.held:
        ctx.out.print(Text(f"  order {h.order_id} ({h.reference or '-'}): {h.reason}"))
    return 0
