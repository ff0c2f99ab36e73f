"""`sincro settings smtp ...`: where e-mail notices go out from."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict

from rich.text import Text

from cli.commands.base import Context, set_handler
from core.errors import ConfigError
from core.notices import get_smtp, save_smtp
from core.notify import SmtpSettings, build_message, send
from core.textsafe import json_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("settings", help="settings shared by every account")
    ssub = p.add_subparsers(dest="settings_cmd", metavar="COMMAND", required=True)
    s = ssub.add_parser("smtp", help="the SMTP server for e-mail notices")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--security", choices=("starttls", "tls", "none"))
    s.add_argument("--user")
    pw = s.add_mutually_exclusive_group()
    pw.add_argument("--password-env", metavar="VAR", help="read the password from this variable")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    s.add_argument("--sender", help="From: address")
    s.add_argument("--show", action="store_true", help="show the settings (password masked)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--clear", action="store_true", help="remove the SMTP settings")
    s.add_argument("--test", metavar="ADDRESS", help="send a test message to ADDRESS")
    set_handler(s, cmd_smtp)
    k = ssub.add_parser("history", help="how long runs and their logs are kept")
    k.add_argument("--keep-days", type=int, metavar="DAYS", help="keep runs this many days")
    set_handler(k, cmd_history)


async def cmd_history(args: argparse.Namespace, ctx: Context) -> int:
    from core.engine import DEFAULT_RETENTION_DAYS

    db = await ctx.hub()
    if args.keep_days is not None:
        if not 1 <= args.keep_days <= 3650:
            raise ConfigError("--keep-days must be between 1 and 3650")
        async with db.transaction() as conn:
            await conn.execute("INSERT OR REPLACE INTO settings (name, value) "
                               "VALUES ('log_retention_days', ?)", (str(args.keep_days),))
    days = await db.scalar("SELECT value FROM settings WHERE name = 'log_retention_days'")
    ctx.out.print(f"runs and their logs are kept {days or DEFAULT_RETENTION_DAYS} days")
    return 0


def _public(settings: SmtpSettings) -> dict:
    data = asdict(settings)
    data["password"] = "…" if settings.password else None
    return data


async def cmd_smtp(args: argparse.Namespace, ctx: Context) -> int:
    db = await ctx.hub()
    current = await get_smtp(db)
    if args.clear:
        await save_smtp(db, None)
        ctx.out.print("SMTP settings removed")
        return 0
    changes = {k: getattr(args, k) for k in ("host", "port", "security", "user", "sender")
               if getattr(args, k) is not None}
    if args.password_env:
        changes.update(password_env=args.password_env, password=None)
    if args.password_stdin:
        password = (await asyncio.to_thread(sys.stdin.readline)).rstrip("\n")
        if not password:
            raise ConfigError("no password on standard input")
        changes.update(password=password, password_env=None)
    if changes:
        base = asdict(current) if current else {}
        base.update(changes)
        if "host" not in base:
            raise ConfigError("SMTP host is missing", hint="add --host smtp.example.com")
        if "port" not in changes and not current:
            base["port"] = {"tls": 465, "none": 25}.get(base.get("security", "starttls"), 587)
        current = SmtpSettings(**base)
        await save_smtp(db, current)
        ctx.out.print(Text(f"SMTP settings saved: {current.where}, {current.security}"))
    if args.test:
        if current is None:
            raise ConfigError("no SMTP settings", hint="set them with 'sincro settings smtp --host ...'")
        msg = build_message("test", {"id": 0, "kind": "test", "trigger": "cli", "outcome": "ok",
                                     "counts": {}, "errors": []}, [args.test],
                            sender=current.sender)
        await send(current, msg)
        ctx.out.print(Text(f"test message sent to {args.test}"))
    if args.show or not (changes or args.test):
        if current is None:
            ctx.out.print("no SMTP settings: notices are not sent")
            return 0
        if args.json:
            print(json_text(json.dumps(_public(current), indent=2)))
        else:
            for k, v in _public(current).items():
                ctx.out.print(Text(f"{k}: {'' if v is None else v}"))
    return 0
