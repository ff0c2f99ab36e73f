"""`sincro --daemon`: the engine headless (U-2). Imports no Textual at all.

Schedules fire; one log line per event on stdout (logfmt, or JSON); one summary
line per run. SIGTERM or SIGINT: stop starting runs, let running ones finish
within a bound, then cancel them (they are resumable: cursors move only with
what they cover), exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from core.engine import Engine
from core.events import Event, LogLine, Notice, RunFinished, RunRefused, RunStarted
from core.kinds import Level, Outcome
from core.scheduler import Scheduler
from core.textsafe import is_safe, json_text, visible
from core.timeutil import schedule_clock


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
        if event.level == Level.DEBUG:
            return None
        fields = {"ts": event.at.astimezone(UTC).isoformat(timespec="seconds"),
                  "level": event.level, "event": "log", "account": event.account or "",
                  "run": event.run_id or "", "msg": event.message}
    elif isinstance(event, RunStarted):
        fields = {"ts": event.at.astimezone(UTC).isoformat(timespec="seconds"),
                  "level": Level.INFO, "event": "run_started", "account": event.account, "run": event.run_id,
                  "kind": event.kind, "trigger": event.trigger}
    elif isinstance(event, RunFinished):
        fields = {"level": Level.INFO if event.outcome == Outcome.OK else Level.WARNING,
                  "event": "run_finished",
                  "account": event.account, "run": event.run_id, "kind": event.kind,
                  "trigger": event.trigger, "outcome": event.outcome,
                  "duration_s": round(event.duration_s, 2), **event.counts}
        if event.errors:
            fields["errors"] = len(event.errors)
    elif isinstance(event, RunRefused):
        fields = {"level": Level.WARNING, "event": "run_refused", "account": event.account,
                  "kind": event.kind, "msg": event.reason}
    elif isinstance(event, Notice):
        fields = {"level": event.level, "event": "notice", "account": event.account or "",
                  "msg": event.message}
    else:
        return None
    return _render(fields, fmt)


def _render(fields: dict[str, object], fmt: str) -> str:
    if fmt == "json":
        return json_text(json.dumps(fields, ensure_ascii=False, default=str))
    return " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items())


class _DaemonLogHandler(logging.Handler):
    """Engine log records (warnings and errors) as daemon lines: one line each, in the
    daemon's format, on its output. Records that also went out as events (a run's lines,
    notices: ``ALSO_AN_EVENT``) are left out: the daemon prints the events already."""

    def __init__(self, emit: Callable[[str | None], None], fmt: str) -> None:
        super().__init__(logging.WARNING)
        self._emit = emit
        self._fmt = fmt

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "sincro_event", False) and super().filter(record)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._emit(format_record(record, self._fmt))
        except Exception:  # logging must never take the daemon down
            self.handleError(record)


def format_record(record: logging.LogRecord, fmt: str) -> str:
    """A log record as one daemon line; an exception as its type and message (its
    traceback only with SINCRO_DEBUG=1, on stderr: it may hold what a log must not)."""
    fields: dict[str, object] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="seconds"),
        "level": record.levelname.lower(), "event": "log", "logger": record.name,
        "msg": record.getMessage()}
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        fields["error"] = f"{type(exc).__name__}: {exc}"
        if os.environ.get("SINCRO_DEBUG"):
            traceback.print_exception(exc, file=sys.stderr)
    return _render(fields, fmt)


@contextlib.contextmanager
def daemon_logging(emit: Callable[[str | None], None], fmt: str) -> Iterator[None]:
    """For the daemon's lifetime the ``sincro`` logger writes through one handler, in the
    daemon's format, and nothing else (not the command line's stderr handler, not
    Python's last resort): every line once, in one format."""
    logger = logging.getLogger("sincro")
    saved = (logger.handlers[:], logger.propagate)
    handler = _DaemonLogHandler(emit, fmt)
    logger.handlers[:] = [handler]
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers[:], logger.propagate = saved


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

    with daemon_logging(emit, log_format):
        return await _serve(home, emit, log_format, grace, stop, engine)


async def _serve(home: Path, emit: Callable[[str | None], None], log_format: str, grace: float,
                 stop: asyncio.Event, engine: Engine | None) -> int:
    loop = asyncio.get_running_loop()
    async with (engine or Engine(home)) as eng:
        sched = Scheduler(eng, role="daemon", clock=schedule_clock())
        await sched.acquire()  # refuses a second daemon
        sub = eng.subscribe()

        async def pump() -> None:
            async for event in sub:
                emit(format_event(event, log_format))

        pump_task = asyncio.create_task(pump())
        emit(format_event(Notice(message=f"daemon started on {home}, pid {os.getpid()}"),
                          log_format))
        loop_task = asyncio.create_task(sched.run())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([loop_task, stopper], return_when=asyncio.FIRST_COMPLETED)
        sched.stop()
        # the loop ends first (a round under way may still start the runs it claimed),
        # then every run started gets the grace
        if loop_task.done():
            if (error := loop_task.exception()) is not None:
                raise error
        else:
            await asyncio.wait([loop_task])
        running = sum(1 for t in sched.tasks.values() if not t.done())
        if running:
            emit(format_event(Notice(message=f"stopping: waiting up to {grace:.0f}s for {running} "
                                     "running sync(s)"), log_format))
        await sched.drain(grace)
        if (error := loop_task.exception()) is not None:
            raise error
        stopper.cancel()
        await asyncio.sleep(0)
        pump_task.cancel()
        while not sub.queue.empty():
            emit(format_event(sub.queue.get_nowait(), log_format))
        emit(format_event(Notice(message="daemon stopped"), log_format))
        sub.close()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    return 0
