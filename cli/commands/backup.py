"""`sincro backup [--to PATH]` and `sincro restore PATH [--yes]`: hub.db and erp.db,
copied with SQLite's online backup API (core.store.backup)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from rich.text import Text

from cli.commands.base import Context, set_handler
from core.errors import ConfigError
from core.home import ERP_FILE, HUB_FILE, ensure_home


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("backup", help="copy hub.db and erp.db into a backup directory "
                       "(safe while Sincro runs)")
    b.add_argument("--to", metavar="PATH",
                   help="a new (or empty) directory (default: HOME/backups/sincro-<time>)")
    b.add_argument("--json", action="store_true", help="print what was written as JSON")
    set_handler(b, cmd_backup)

    r = sub.add_parser("restore", help="replace hub.db and erp.db with a backup "
                       "(refused while a daemon, a console or a run holds the home)")
    r.add_argument("path", metavar="PATH", help="a directory written by 'sincro backup'")
    r.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    set_handler(r, cmd_restore)


def _not_on_postgres(what: str) -> None:
    from core.store.location import on_postgres

    if on_postgres():
        raise ConfigError(
            f"sincro {what} copies the SQLite files; this hub is in PostgreSQL (SINCRO_HUB)",
            hint="back it up with pg_dump (the schemas hub and erp) and restore it with "
                 "pg_restore, as for any PostgreSQL database")


async def cmd_backup(args: argparse.Namespace, ctx: Context) -> int:
    from core.store.backup import make_backup

    _not_on_postgres("backup")

    home = ensure_home(ctx.home)
    info = await asyncio.to_thread(make_backup, home, args.to)
    if args.json:
        print(json.dumps({"path": str(info.path), "created_at": info.created_at,
                          "files": info.files}, indent=2))
        return 0
    ctx.out.print(Text(f"backed up {home} to {info.path}"))
    for name in (HUB_FILE, ERP_FILE):
        if name in info.files:
            ctx.out.print(Text(f"  {name}: {info.describe(name)}"))
    ctx.out.print(Text(f"restore it with 'sincro restore {info.path}'"))
    return 0


async def cmd_restore(args: argparse.Namespace, ctx: Context) -> int:
    from core.store.backup import read_backup, restore

    _not_on_postgres("restore")
    home = ensure_home(ctx.home)
    backup = await asyncio.to_thread(read_backup, args.path)
    what = ", ".join(f"{name} ({backup.describe(name)})" for name in (HUB_FILE, ERP_FILE)
                     if name in backup.files)
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError(f"refusing to replace the data in {home} without confirmation",
                              hint="add --yes")
        answer = await asyncio.to_thread(
            input, f"Replace the data in {home} with the backup of {backup.created_at}: "
            f"{what}? The files replaced are kept. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            ctx.out.print("nothing restored")
            return 1
    done = await asyncio.to_thread(restore, home, backup.path)
    ctx.out.print(Text(f"restored {what} into {home} from {backup.path} "
                       f"(backup of {done.created_at})"))
    if done.replaced is not None:
        ctx.out.print(Text(f"the files replaced are in {done.replaced}"))
    return 0
