"""What widgets need from the app they run in, typed (widgets never import tui.app)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Protocol, cast

from textual.dom import DOMNode

from core.engine import Engine


class Console(Protocol):
    engine: Engine | None  # None until the hub is open (or when it cannot be)
    tz: tzinfo  # every time on screen is in this zone
    clock: Callable[[], datetime]  # aware UTC now; tests fix it
    refresh_every: float  # seconds between looks at the hub for other processes' runs
    lines_every: float  # seconds between looks for other processes' log lines (cheap)

    def running_engine(self) -> Engine:
        """The engine, once the hub is open; raises before (or when it could not be opened)."""
        ...


def console(node: DOMNode) -> Console:
    return cast(Console, node.app)
