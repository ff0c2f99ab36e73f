"""The `sincro` command: dispatches to command modules; the console is imported only when needed."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from cli.commands import args as types
from cli.commands.base import Context
from core import __version__
from core.errors import SincroError
from core.home import resolve_home
from core.textsafe import visible


def _command_modules() -> list:
    from cli.commands import account

    modules = [account]
    for name in ("cli.commands.sync", "cli.commands.schedule", "cli.commands.settings",
                 "cli.commands.erp", "cli.commands.listing", "cli.commands.reconcile", "cli.commands.emulator",
                 "cli.commands.demo", "cli.commands.backup", "cli.commands.status",
                 "cli.commands.daemons"):
        try:
            modules.append(__import__(name, fromlist=["register"]))
        except ModuleNotFoundError as exc:  # a feature not built yet
            if exc.name != name:
                raise
    return modules


class Parser(argparse.ArgumentParser):
    """Usage errors are one line, like every other error: what is wrong, and where to look.

    Sub-command parsers are made of the same class (argparse's parser_class default)."""

    def error(self, message: str) -> NoReturn:
        where = self.prog.removeprefix("sincro").strip()
        self.exit(2, f"sincro: error: {where + ': ' if where else ''}{visible(message)} "
                     f"(see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="sincro",
        description="Keeps PrestaShop shops and a back-office ERP in step. "
        "Without a command, opens the console.",
    )
    parser.add_argument("--version", action="version", version=f"sincro {__version__}")
    parser.add_argument(
        "--home", metavar="DIR", type=types.directory,
        help="data directory (default: $SINCRO_HOME, else the platform's user data dir)",
    )
    parser.add_argument("--daemon", action="store_true",
                        help="run headless: schedules fire, logs go to stdout")
    parser.add_argument("--log-format", choices=("logfmt", "json"), default="logfmt",
                        help="daemon log lines (default: logfmt)")
    parser.add_argument("--grace", type=types.seconds(0, 86400), default=30.0, metavar="SECONDS",
                        help="on SIGTERM, how long the daemon lets running syncs finish "
                        "before interrupting them (default 30)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        register = getattr(module, "register", None) or module.add_parser
        register(sub)
    return parser


async def _run(args: argparse.Namespace) -> int:
    ctx = Context(home=resolve_home(args.home))
    try:
        return await args.handler(args, ctx)
    finally:
        await ctx.aclose()


def _visible_logging() -> None:
    """Engine warnings reach stderr as before (Python's last resort did it), but shop text
    in them is shown, not obeyed."""
    from core.textsafe import safe_log_handler

    engine_log = logging.getLogger("sincro")
    if not any(h.get_name() == "sincro-visible" for h in engine_log.handlers):
        engine_log.addHandler(safe_log_handler())


def _storage_fault(exc: BaseException, args: argparse.Namespace) -> SincroError | None:
    """A full disk or a damaged database behind an error no store named (OSError ENOSPC
    writing in the home, SQLITE_FULL on a bare connection)."""
    from core.store import faults

    home: Path | str
    try:
        home = resolve_home(args.home)
    except Exception:
        home = "."
    return faults.find(exc, home, "data directory")


def main(argv: Sequence[str] | None = None) -> int:
    _visible_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.daemon:
            if getattr(args, "handler", None) is not None:
                parser.error("--daemon takes no command")
            return asyncio.run(_daemon(args))
        if getattr(args, "handler", None) is None:
            return open_console(args)
        return asyncio.run(_run(args))
    except SincroError as exc:
        print(f"sincro: error: {visible(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sincro: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line, and the traceback only on request
        fault = _storage_fault(exc, args)
        if fault is not None:  # a full disk, a damaged file: named, not a bug
            print(f"sincro: error: {fault}", file=sys.stderr)
            return fault.exit_code
        if os.environ.get("SINCRO_DEBUG"):
            raise
        print(
            f"sincro: internal error: {type(exc).__name__} "
            "(run again with SINCRO_DEBUG=1 to see the details, and report it)",
            file=sys.stderr,
        )
        return 3


async def _daemon(args: argparse.Namespace) -> int:
    from core.daemon import run_daemon

    return await run_daemon(resolve_home(args.home), log_format=args.log_format,
                            grace=args.grace)


def open_console(args: argparse.Namespace) -> int:
    from core.home import ensure_home

    home = ensure_home(resolve_home(args.home))
    from tui.app import run_console

    return run_console(home)


if __name__ == "__main__":
    sys.exit(main())
