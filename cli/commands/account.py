"""`sincro account ...`: add, list, show, edit, remove."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from dataclasses import replace

from rich.table import Table
from rich.text import Text

from cli.commands import args as types
from cli.commands.args import quoted
from cli.commands.base import Context, set_handler
from core import accounts as acc
from core.errors import ConfigError
from core.textsafe import json_text, visible
from core.timeutil import zone


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("account", help="manage shop accounts", description="Manage shop accounts.")
    asub = p.add_subparsers(dest="account_cmd", metavar="COMMAND", required=True)

    add = asub.add_parser("add", help="add a shop account")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--url", required=True, help="the shop's root URL (https://shop.example)")
    _key_options(add, required=True)
    add.add_argument("--tz", help="the shop's IANA time zone (default: this machine's)")
    add.add_argument("--disabled", action="store_true", help="add it disabled")
    _option_flags(add)
    set_handler(add, cmd_add)

    ls = asub.add_parser("list", help="list accounts")
    ls.add_argument("--json", action="store_true", help="print JSON")
    set_handler(ls, cmd_list)

    show = asub.add_parser("show", help="show one account")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true", help="print JSON")
    set_handler(show, cmd_show)

    edit = asub.add_parser("edit", help="change an account")
    edit.add_argument("name", metavar="NAME")
    edit.add_argument("--url")
    _key_options(edit, required=False)
    edit.add_argument("--tz")
    _option_flags(edit)
    en = edit.add_mutually_exclusive_group()
    en.add_argument("--enable", dest="enabled", action="store_const", const=True)
    en.add_argument("--disable", dest="enabled", action="store_const", const=False)
    set_handler(edit, cmd_edit)

    st = asub.add_parser("states", help="list the shop's order states (for --state-map)")
    st.add_argument("name", metavar="NAME")
    st.add_argument("--json", action="store_true", help="print JSON")
    set_handler(st, cmd_states)

    t = asub.add_parser("test", help="test the connection: shop version and what the key may do")
    t.add_argument("name", metavar="NAME")
    t.add_argument("--json", action="store_true")
    set_handler(t, cmd_test)

    from cli.commands import account_taxes

    account_taxes.register(asub)

    rm = asub.add_parser("remove", help="remove an account and everything Sincro keeps for it")
    rm.add_argument("name", metavar="NAME")
    rm.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    set_handler(rm, cmd_remove)


def _option_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("options")
    g.add_argument("--notify", metavar="EMAILS",
                   help="comma-separated recipients of the e-mail notices ('' for none)")
    g.add_argument("--excluded-states", metavar="IDS",
                   help="shop order states that are not importable (default 6,8)")
    g.add_argument("--coding-rule", choices=("reference", "prefix"),
                   help="how new articles are coded: the shop reference, or PREFIX<id>-<combination>")
    g.add_argument("--article-prefix", metavar="PREFIX")
    g.add_argument("--allowance", metavar="N", help="full syncs allowed per month ('unlimited')")
    g.add_argument("--merge-guests", choices=("yes", "no"),
                   help="customers with one e-mail, guest checkouts and accounts alike, become "
                   "one ERP customer (default yes)")
    g.add_argument("--state-map", metavar="MAP",
                   help="ERP document events to shop order state ids, e.g. "
                   "shipped=4,invoiced=5,cancelled=6 (see 'sincro account states NAME')")
    g.add_argument("--send-email", choices=("yes", "no"),
                   help="let the shop e-mail the customer when Sincro changes an order's state")
    # multishop and language (checked against the shop: core.shopcheck.check_shop_and_language)
    g.add_argument("--shop-id", metavar="N",
                   help="work in this one shop of a multishop install (see 'sincro account test "
                   "NAME'; 'none': the whole install, the default)")
    g.add_argument("--language", metavar="ISO",
                   help="the language of order state and product names, one of the shop's "
                   "(e.g. it; 'none': the shop's first language, the default)")
    g.add_argument("--refunds-return-goods", action=argparse.BooleanOptionalAction, default=None,
                   help="a shop refund's credit note puts the refunded goods back in the ERP's "
                   "stock (default: no, --no-refunds-return-goods)")
    # bounds on the shop (core.prestashop.limits); defaults in core.accounts.DEFAULT_OPTIONS
    g.add_argument("--max-response-mb", metavar="MB",
                   help="the largest answer read from the shop for one request (default 32)")
    g.add_argument("--request-timeout", metavar="SECONDS",
                   help="time for one request, up to the last byte of its answer (default 60)")
    g.add_argument("--run-timeout", metavar="SECONDS",
                   help="time a run may spend on the shop, waits included (default 1800)")
    g.add_argument("--retry-after-cap", metavar="SECONDS",
                   help="the longest Retry-After wait honoured (default 60)")
    from cli.commands import account_taxes

    account_taxes.option_flags(g)


EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f\x7f-\x9f,;<>\"]{1,64}@[^@\s\x00-\x1f\x7f-\x9f,;<>\"]{1,253}$")
MAX_ALLOWANCE = 10_000


def _options_from(args: argparse.Namespace, options: acc.AccountOptions) -> acc.AccountOptions:
    out = options.copy()
    if args.notify is not None:
        emails = [e.strip() for e in args.notify.split(",") if e.strip()]
        for e in emails:
            if (not EMAIL_RE.match(e) or visible(e) != e
                    or not acc.valid_host(e.rpartition("@")[2])):
                raise ConfigError(f"invalid e-mail address {quoted(e)}",
                                  hint="e.g. office@example.com")
        out["recipients"] = emails
    if args.excluded_states is not None:
        ids = [x.strip() for x in args.excluded_states.split(",") if x.strip()]
        if not all(x.isascii() and x.isdigit() and 1 <= int(x) <= types.SHOP_ID_MAX
                   for x in ids):
            raise ConfigError(f"invalid state ids {quoted(args.excluded_states)}",
                              hint="give shop order state ids separated by commas, e.g. 6,8")
        out["excluded_states"] = [int(x) for x in ids]
    if args.coding_rule is not None:
        out["coding_rule"] = args.coding_rule
    if args.article_prefix is not None:
        out["article_prefix"] = acc.check_article_prefix(args.article_prefix)
    if args.allowance is not None:
        text = args.allowance.strip()
        if text == "unlimited":
            out["full_sync_allowance"] = None
        elif text.isascii() and text.isdigit() and int(text) <= MAX_ALLOWANCE:
            out["full_sync_allowance"] = int(text)
        else:
            raise ConfigError(f"invalid allowance {quoted(args.allowance)}",
                              hint=f"a number of full syncs per month (0 to {MAX_ALLOWANCE:,}), "
                              "or 'unlimited'")
    if args.merge_guests is not None:
        out["merge_guests"] = args.merge_guests == "yes"
    if args.state_map is not None:
        from core.sync.states import parse_state_map

        current = options.get("state_map") or acc.DEFAULT_OPTIONS["state_map"]
        given = parse_state_map(args.state_map)
        for event, sid in given.items():
            if sid is not None and sid > types.SHOP_ID_MAX:
                raise ConfigError(f"invalid state id {sid} for {event}",
                                  hint="a shop order state id (see 'sincro account states "
                                  "NAME'), or none")
        out["state_map"] = {**current, **given}
    if args.send_email is not None:
        out["send_email"] = args.send_email == "yes"
    if getattr(args, "refunds_return_goods", None) is not None:
        out["refund_returns_goods"] = bool(args.refunds_return_goods)
    if args.shop_id is not None:
        text = args.shop_id.strip().lower()
        if text == "none":
            out.pop("shop_id", None)
        elif text.isascii() and text.isdigit() and 1 <= int(text) <= types.SHOP_ID_MAX:
            out["shop_id"] = int(text)
        else:
            raise ConfigError(f"invalid shop id {quoted(args.shop_id)}",
                              hint="give --shop-id a shop id of the install (listed by 'sincro "
                              "account test NAME'), or none for the whole install")
    if args.language is not None:
        text = args.language.strip().lower()
        if text == "none":
            out.pop("language", None)
        elif re.match(r"^[a-z]{2,3}$", text):
            out["language"] = text
        else:
            raise ConfigError(f"invalid language {quoted(args.language)}",
                              hint="give --language the ISO code of one of the shop's languages, "
                              "e.g. it, or none")
    from core.prestashop.limits import options_from_args

    options_from_args(args, out)
    from cli.commands import account_taxes

    return account_taxes.apply(args, out)


def _key_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    g = p.add_mutually_exclusive_group(required=required)
    g.add_argument("--key", help="the webservice key (32 characters A-Z0-9)")
    g.add_argument("--key-env", metavar="VAR", help="read the key from this environment variable")


async def cmd_add(args: argparse.Namespace, ctx: Context) -> int:
    if args.tz is not None:
        zone(args.tz)  # '' is not "this machine's zone": leave --tz out for that
    account = acc.build_account(
        args.name, args.url, key=args.key, key_env=args.key_env, tz=args.tz,
        enabled=not args.disabled, options=_options_from(args, {}) or None,
    )
    if args.shop_id is not None or args.language is not None:
        await _check_shop_and_language(ctx, account)
    db = await ctx.hub()
    account = await acc.add_account(db, account)
    ctx.out.print(Text(f"added account {account.name} ({account.url}, key {account.masked_key})"))
    return 0


async def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    accounts = await acc.list_accounts(db)
    if args.json:
        print(json_text(json.dumps([a.public_dict() for a in accounts], indent=2, ensure_ascii=False)))
        return 0
    if not accounts:
        ctx.out.print("no accounts yet: add one with 'sincro account add NAME --url URL --key KEY'")
        return 0
    table = Table("name", "url", "key", "time zone", "enabled", box=None, pad_edge=False)
    for a in accounts:
        table.add_row(Text(a.name), Text(a.url), Text(a.masked_key), Text(a.tz),
                      "yes" if a.enabled else "no")
    ctx.out.print(table)
    return 0


async def cmd_show(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    account = await acc.get_account(db, args.name)
    data = account.public_dict()
    extra = await _extra_details(ctx, account)
    data.update(extra)
    if args.json:
        print(json_text(json.dumps(data, indent=2, ensure_ascii=False, default=str)))
        return 0
    table = Table(show_header=False, box=None, pad_edge=False)
    for k, v in data.items():
        if k == "options":
            for ok, ov in v.items():
                table.add_row(Text(f"option {visible(ok)}"),
                              Text(visible(json.dumps(ov, ensure_ascii=False))))
        else:
            table.add_row(Text(k), Text("" if v is None else visible(v)))
    ctx.out.print(table)
    return 0


async def _extra_details(ctx: Context, account: acc.Account) -> dict:
    """Details other modules add to `account show` (quota, schedule...)."""
    from cli.commands import account_extras

    return await account_extras.collect(ctx, account)


async def cmd_edit(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    account = await acc.get_account(db, args.name)
    changes: dict = {}
    if args.url is not None:
        changes["url"] = acc.normalise_url(args.url)
    if args.key is not None:
        changes.update(key=acc.check_key(args.key), key_env=None)
    if args.key_env is not None:
        changes.update(key=None, key_env=acc.check_env_name(args.key_env))
    if args.tz is not None:
        zone(args.tz)
        changes["tz"] = args.tz
    if args.enabled is not None:
        changes["enabled"] = args.enabled
    options = _options_from(args, account.options)
    if options != account.options:
        changes["options"] = options
    if args.state_map is not None and "options" in changes:
        await _check_state_map(ctx, replace(account, **changes))
    if (args.shop_id is not None or args.language is not None) and "options" in changes:
        await _check_shop_and_language(ctx, replace(account, **changes))
    if not changes:
        raise ConfigError(
            "nothing to change",
            hint="give at least one of --url, --key, --key-env, --tz, --enable, --disable",
        )
    account = await acc.save_account(db, replace(account, **changes))
    ctx.out.print(Text(f"updated account {account.name}"))
    return 0


async def _shop_states(account: acc.Account, **client_options) -> dict:
    from core.sync.shop import open_shop

    async with open_shop(account, **client_options) as shop:
        return await shop.client.order_states()


async def _shop_states_named(account: acc.Account) -> tuple[dict, int | None]:
    """The shop's order states and the id of the account's language (None: the first)."""
    from core.sync.shop import open_shop

    async with open_shop(account) as shop:
        return await shop.client.order_states(), await shop.language_id()


async def _check_state_map(ctx: Context, account: acc.Account) -> None:
    """Checked against the shop's own states when the shop can be reached."""
    from core.prestashop.errors import ShopError
    from core.sync.states import check_state_map, state_map

    try:
        states = await _shop_states(account, retries=0, timeout=15.0)  # a check, not a sync
    except (ShopError, ConfigError) as exc:
        ctx.out.print(Text(f"note: the state map is not checked, the shop cannot be read: {exc}"))
        return
    check_state_map(state_map(account), states)


async def _check_shop_and_language(ctx: Context, account: acc.Account) -> None:
    """The shop id and the language checked against the shop when it can be read."""
    from core.prestashop.errors import ShopError
    from core.shopcheck import check_shop_and_language

    try:
        await check_shop_and_language(account)
    except ShopError as exc:
        ctx.out.print(Text(f"note: the shop id and language are not checked, the shop cannot "
                           f"be read: {exc}"))


async def cmd_states(args: argparse.Namespace, ctx: Context) -> int:
    from core.sync.states import state_map

    db = await ctx.hub()
    account = await acc.get_account(db, args.name)
    states, lang = await _shop_states_named(account)
    mapped: dict[int, list[str]] = {}
    for event, sid in state_map(account).items():
        if sid is not None:
            mapped.setdefault(sid, []).append(event)
    if args.json:
        print(json_text(json.dumps([{"id": s.id, "name": s.name.text(lang), "names": dict(s.name),
                           "shipped": s.shipped, "paid": s.paid, "mapped_from": mapped.get(s.id, [])}
                          for s in sorted(states.values(), key=lambda s: s.id)],
                         indent=2, ensure_ascii=False)))
        return 0
    table = Table("id", "name", "flags", "mapped from", box=None, pad_edge=False)
    for s in sorted(states.values(), key=lambda s: s.id):
        flags = " ".join(f for f, on in (("paid", s.paid), ("shipped", s.shipped),
                                          ("invoice", s.invoice), ("e-mail", s.send_email)) if on)
        table.add_row(str(s.id), Text(visible(s.name.text(lang))), flags,
                      ", ".join(mapped.get(s.id, [])))
    ctx.out.print(table)
    unmapped = [e for e, sid in state_map(account).items() if sid is None]
    if unmapped:
        ctx.out.print(Text(f"not mapped yet: {', '.join(unmapped)} (set with 'sincro account edit "
                           f"{account.name} --state-map {unmapped[0]}=ID')"))
    return 0


async def cmd_remove(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    account = await acc.get_account(db, args.name)
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError(
                f"refusing to remove account {account.name} without confirmation",
                hint="add --yes",
            )
        answer = await asyncio.to_thread(
            input, f"Remove account {account.name} and all Sincro keeps for it? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            ctx.out.print("nothing removed")
            return 1
    await acc.remove_account(db, account.name)
    ctx.out.print(Text(f"removed account {account.name}"))
    return 0


async def cmd_test(args: argparse.Namespace, ctx: Context) -> int:
    from core.shopcheck import check_connection

    db = await ctx.hub()
    account = await acc.get_account(db, args.name)
    report = await check_connection(account)
    if args.json:
        print(json_text(json.dumps({
            "url": report.url, "version": report.version, "shop_name": report.shop_name,
            "resources": {k: sorted(v) for k, v in sorted(report.resources.items())},
            "missing": {k: list(v) for k, v in report.missing.items()}, "ok": report.ok,
            "shops": None if report.shops is None else [
                {"id": i, "name": n} for i, n in report.shops],
            "languages": None if report.languages is None else [
                {"id": lang.id, "iso_code": lang.iso_code, "name": lang.name, "active": lang.active}
                for lang in report.languages],
        }, indent=2, ensure_ascii=False)))
        return 0 if report.ok else 1
    ctx.out.print(Text(f"{account.name}: {report.shop_name or 'shop'} at {report.url}, "
                       f"PrestaShop {report.version or 'version not told'}"))
    bound = account.option("shop_id")
    if report.shops is not None:
        ctx.out.print(Text("shops: " + ", ".join(
            f"{i} {visible(n)}" + (" (this account's)" if i == bound else "")
            for i, n in report.shops)))
    if report.languages is not None:
        ctx.out.print(Text("languages: " + ", ".join(
            f"{lang.iso_code} {visible(lang.name)}" + ("" if lang.active else " (inactive)")
            for lang in report.languages)))
    if report.ok:
        ctx.out.print("the key may do everything Sincro needs")
        return 0
    for res, methods in report.missing.items():
        ctx.out.print(Text(f"  missing: {res} {'/'.join(methods)}"))
    ctx.out.print("tick them for this key in the shop's back office: "
                  "Advanced Parameters > Webservice")
    return 1
