"""`sincro daemons [--json]`: the daemons on this hub (several share a PostgreSQL hub:
docs/HUB.md), with their host, pid, the accounts they run now and their last heartbeat.
With --all, a daemon whose heartbeat stopped (killed) is shown as gone for an hour."""

from __future__ import annotations

import argparse
import json

from rich.table import Table
from rich.text import Text

from cli.commands.base import Context, set_handler
from core.status import daemons
from core.textsafe import json_text, visible


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("daemons", help="the daemons on this hub: host, pid, accounts running, "
                       "last heartbeat")
    p.add_argument("--json", action="store_true", help="print them as JSON")
    p.add_argument("--all", action="store_true", help="also those whose heartbeat stopped")
    set_handler(p, cmd_daemons)


async def cmd_daemons(args: argparse.Namespace, ctx: Context) -> int:
    found = [d for d in await daemons(await ctx.hub()) if d.alive or args.all]
    if args.json:
        print(json_text(json.dumps([d.as_dict() for d in found], indent=2, ensure_ascii=False)))
        return 0
    if not found:
        ctx.out.print(Text("no daemon runs on this hub: start one with 'sincro --daemon'"))
        return 0
    t = Table("host", "pid", "state", "since", "last heartbeat", "running", box=None,
              pad_edge=False)
    for d in found:
        t.add_row(Text(visible(d.host)), str(d.pid), "alive" if d.alive else "gone",
                  d.started_at.astimezone().strftime("%d %b %H:%M:%S"),
                  d.heartbeat_at.astimezone().strftime("%H:%M:%S"),
                  Text(visible(", ".join(d.running)) or "-"))
    ctx.out.print(t)
    return 0
