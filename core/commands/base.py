"""What every CLI command gets: the resolved home and lazily opened stores."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from core.home import ERP_FILE, HUB_FILE, ensure_home

# A command handler: async (args, ctx) -> exit code.
Handler = Callable[[argparse.Namespace, "Context"], Awaitable[int]]


@dataclass
class Context:
    home: Path
    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    _closers: list[Any] = field(default_factory=list)

    @property
    def hub_path(self) -> Path:
        return self.home / HUB_FILE

    @property
    def erp_path(self) -> Path:
        return self.home / ERP_FILE

    async def hub(self):
        """The hub store, opened (and migrated) on first use."""
        from core.store.hub import open_hub

        if not hasattr(self, "_hub"):
            ensure_home(self.home)
            self._hub = await open_hub(self.hub_path)
            self._closers.append(self._hub)
        return self._hub

    async def aclose(self) -> None:
        while self._closers:
            await self._closers.pop().close()


def set_handler(parser: argparse.ArgumentParser, handler: Handler) -> None:
    parser.set_defaults(handler=handler)
