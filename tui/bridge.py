"""The one bridge from the engine's event stream to Textual messages.

`pump` runs in a single worker for the app's life. It drains whatever the
engine has queued and posts log lines in batches (one message for many
lines), so a run that logs 100k lines costs a few hundred messages.
"""

from __future__ import annotations

import asyncio

from textual.message import Message
from textual.message_pump import MessagePump

from core import events as ev

BATCH = 5000  # events taken from the queue per wake-up


class EngineMessage(Message):
    def __init__(self, event: ev.Event) -> None:
        super().__init__()
        self.event = event


class RunStarted(EngineMessage):
    event: ev.RunStarted


class RunProgressed(EngineMessage):
    event: ev.RunProgress


class RunFinished(EngineMessage):
    event: ev.RunFinished


class RunRefused(EngineMessage):
    event: ev.RunRefused


class NoticeArrived(EngineMessage):
    event: ev.Notice


class LinesLogged(Message):
    def __init__(self, lines: list[ev.LogLine]) -> None:
        super().__init__()
        self.lines = lines


_MESSAGES: dict[type, type[EngineMessage]] = {
    ev.RunStarted: RunStarted,
    ev.RunProgress: RunProgressed,
    ev.RunFinished: RunFinished,
    ev.RunRefused: RunRefused,
    ev.Notice: NoticeArrived,
}


def translate(events: list[ev.Event]) -> list[Message]:
    """Engine events, in order, as messages; consecutive log lines become one batch."""
    out: list[Message] = []
    lines: list[ev.LogLine] = []
    for event in events:
        if isinstance(event, ev.LogLine):
            lines.append(event)
            continue
        if lines:
            out.append(LinesLogged(lines))
            lines = []
        kind = _MESSAGES.get(type(event))
        if kind is not None:
            out.append(kind(event))
    if lines:
        out.append(LinesLogged(lines))
    return out


async def pump(queue: asyncio.Queue[ev.Event], target: MessagePump) -> None:
    """Forward engine events to `target` until cancelled."""
    while True:
        events = [await queue.get()]
        while len(events) < BATCH and not queue.empty():
            events.append(queue.get_nowait())
        for message in translate(events):
            target.post_message(message)


class EngineReady(Message):
    """The engine is open: views may load."""


class EngineFailed(Message):
    """The engine could not open (the hub is unreadable, locked, newer...)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason
