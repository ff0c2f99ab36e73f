"""`sincro --daemon`: the engine headless (U-2). Imports no Textual at all.

Schedules fire; one log line per event on stdout (logfmt, or JSON); one summary
line per run. SIGTERM or SIGINT: stop starting runs, let running ones finish
within a bound, then cancel them (they are resumable: cursors move only with
what they cover), exit 0.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import UTC
from pathlib import Path
from typing import TextIO

from core.engine import Engine
from core.events import Event, LogLine, Notice, RunFinished, RunRefused, RunStarted
from core.scheduler import Scheduler
from core.textsafe import is_safe, json_text, visible


def _logfmt_value(v: object) -> str:
    """One logfmt value: quoted when it must be; control characters (shop text may hold
    escape sequences) written out as \\x1b, \\n, never raw."""
    s = str(v)
    if s == "" or any(c in s for c in ' "=\\') or not is_safe(s):
        return '"' + visible(s.replace("\\", "\\\\").replace('"', '\\"')) + '"'
    return s


def format_event(event: Event, fmt: str) -> str | None:
    fields: dict[str, object]
    if isinstance(event, LogLine):
        if event.level == "debug":
            return None
        fields = {"ts": event.at.astimezone(UTC).isoformat(timespec="seconds"),
                  "level": event.level, "event": "log", "account": event.account or "",
                  "run": event.run_id or "", "msg": event.message}
    elif isinstance(event, RunStarted):
        fields = {"ts": event.at.astimezone(UTC).isoformat(timespec="seconds"), "level": "info",
                  "event": "run_started", "account": event.account, "run": event.run_id,
                  "kind": event.kind, "trigger": event.trigger}
    elif isinstance(event, RunFinished):
        fields = {"level": "info" if event.outcome == "ok" else "warning", "event": "run_finished",
                  "account": event.account, "run": event.run_id, "kind": event.kind,
                  "trigger": event.trigger, "outcome": event.outcome,
                  "duration_s": round(event.duration_s, 2), **event.counts}
        if event.errors:
            fields["errors"] = len(event.errors)
    elif isinstance(event, RunRefused):
        fields = {"level": "warning", "event": "run_refused", "account": event.account,
                  "kind": event.kind, "msg": event.reason}
    elif isinstance(event, Notice):
        fields = {"level": event.level, "event": "notice", "account": event.account or "",
                  "msg": event.message}
    else:
        return None
    if fmt == "json":
        return json_text(json.dumps(fields, ensure_ascii=False, default=str))
    return " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items())


async def run_daemon(home: Path, *, log_format: str = "logfmt", grace: float = 30.0,
                     out: TextIO | None = None, engine: Engine | None = None) -> int:
    out = out or sys.stdout
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def emit(line: str | None) -> None:
        if line:
            print(line, file=out, flush=True)

    async with (engine or Engine(home)) as eng:
        sched = Scheduler(eng, role="daemon")
        await sched.acquire()  # refuses a second daemon
        sub = eng.subscribe()

        async def pump() -> None:
            async for event in sub:
                emit(format_event(event, log_format))

        pump_task = asyncio.create_task(pump())
        emit(format_event(Notice(f"daemon started on {home}, pid {__import__('os').getpid()}"),
                          log_format))
        loop_task = asyncio.create_task(sched.run())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([loop_task, stopper], return_when=asyncio.FIRST_COMPLETED)
        sched.stop()
        running = sum(1 for t in sched.tasks.values() if not t.done())
        if running:
            emit(format_event(Notice(f"stopping: waiting up to {grace:.0f}s for {running} "
                                     "running sync(s)"), log_format))
        await sched.drain(grace)
        if not loop_task.done():
            await loop_task
        elif loop_task.exception():
            raise loop_task.exception()
        stopper.cancel()
        await asyncio.sleep(0)
        pump_task.cancel()
        while not sub.queue.empty():
            emit(format_event(sub.queue.get_nowait(), log_format))
        emit(format_event(Notice("daemon stopped"), log_format))
        sub.close()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    return 0
