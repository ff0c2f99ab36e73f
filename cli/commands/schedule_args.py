"""The schedule options of the command line (--daily, --between, --at, --weekly, --monthly,
--cron, --off, --tz), read into a ``core.schedule.Schedule``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NoReturn

from core.errors import ConfigError
from core.schedule import Schedule, schedule_from_options


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"schedule options: {message}", hint="see --help")


def add_schedule_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --daily/--between/--at/--weekly/--monthly/--cron/--off/--tz to a parser."""
    group = parser.add_argument_group("schedule")
    group.add_argument("--daily", metavar="N", help="run N times a day, spread over --between")
    group.add_argument("--between", metavar="HH:MM-HH:MM", help="the window for --daily N")
    group.add_argument("--at", metavar="HH:MM[,HH:MM...]", help="run at these local times")
    group.add_argument(
        "--weekly", metavar="DAYS", help="on these weekdays, e.g. mon,thu (with --at)"
    )
    group.add_argument(
        "--monthly", metavar="DAYS", help="on these days, e.g. 1,15,last (with --at)"
    )
    group.add_argument(
        "--cron", metavar="EXPR", help="a 5-field cron expression, e.g. '0 8 * * 1-5'"
    )
    group.add_argument("--off", action="store_true", help="no scheduled runs")
    group.add_argument("--tz", metavar="ZONE", help="IANA time zone, e.g. Europe/Rome")


def schedule_from_args(args: argparse.Namespace, *, default_tz: str | None = None) -> Schedule:
    """The Schedule for a namespace parsed with `add_schedule_arguments`."""
    return schedule_from_options(
        daily=args.daily,
        between=args.between,
        at=args.at,
        weekly=args.weekly,
        monthly=args.monthly,
        cron=args.cron,
        off=args.off,
        tz=args.tz if args.tz is not None else default_tz,
    )


def parse_cli(argv: Sequence[str], *, default_tz: str | None = None) -> Schedule:
    """`parse_cli(['--daily', '4', '--between', '08:00-20:00', '--tz', 'Europe/Rome'])`."""
    parser = _Parser(prog="schedule", add_help=False)
    add_schedule_arguments(parser)
    return schedule_from_args(parser.parse_args(list(argv)), default_tz=default_tz)
