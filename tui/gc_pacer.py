"""Keep the garbage collector's full passes out of the operator's way.

A full pass of CPython's collector walks every tracked object. With a 10,000
document ERP table, the live log and Textual's own caches the console holds
some 330,000 of them, and a full pass takes about 190 ms here: whatever key
arrives meanwhile waits. The collector starts these passes on its own,
whenever enough objects have survived, so during a long import they fall
at random under the operator's fingers.

The pacer changes when that cost is paid, not how much memory is kept:

- every second it moves the objects that exist into the collector's
  permanent generation (`gc.freeze()`, a constant-time splice), so the
  passes the collector starts by itself only walk what was made since;
- once the operator has left the keyboard alone for a moment (or, at the
  latest, after `full_at_most` seconds of constant typing) it gives them
  back (`gc.unfreeze()`) and runs one full pass, which frees any cycle that
  died while frozen.

Memory held by dead cycles is therefore freed late, never lost; `stop()`
gives everything back to the collector.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any


class GcPacer:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        collector: Any = gc,
        freeze_every: float = 1.0,
        idle_after: float = 2.0,
        full_every: float = 30.0,
        full_at_most: float = 60.0,
    ) -> None:
        self.clock = clock
        self.gc = collector
        self.freeze_every = freeze_every
        self.idle_after = idle_after
        self.full_every = full_every
        self.full_at_most = full_at_most
        now = clock()
        self.last_input = now
        self.last_freeze = now
        self.last_full = now
        self.running = False

    def start(self) -> None:
        """Collect once and freeze what start-up made (modules, classes, widgets)."""
        self._full()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.gc.unfreeze()

    def input_seen(self) -> None:
        self.last_input = self.clock()

    def tick(self) -> str | None:
        """Called about once a second; says what it did ("full", "freeze" or None)."""
        if not self.running:
            return None
        now = self.clock()
        since_full = now - self.last_full
        idle = now - self.last_input >= self.idle_after
        if since_full >= self.full_at_most or (since_full >= self.full_every and idle):
            self._full()
            return "full"
        if now - self.last_freeze >= self.freeze_every:
            self.gc.freeze()
            self.last_freeze = now
            return "freeze"
        return None

    def _full(self) -> None:
        self.gc.unfreeze()
        self.gc.collect()
        self.gc.freeze()
        self.last_full = self.last_freeze = self.clock()
