"""What every CLI command gets: the resolved home and lazily opened stores."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Text

from core.home import ERP_FILE, HUB_FILE, ensure_home
from core.textsafe import is_safe, visible

# A command handler: async (args, ctx) -> exit code.
Handler = Callable[[argparse.Namespace, "Context"], Awaitable[int]]


class SafeConsole(Console):
    """A rich Console that never writes a control character it did not make itself.

    Commands build their lines from shop text; whatever reaches a segment (table
    cells, messages) is shown with its control characters written out (``\\x1b``),
    newlines and tabs kept. Rich's own control segments (styles, cursor) pass.
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """A message (a ``Text`` printed on its own) is one line: a newline or tab that
        shop text brought in is written out too."""
        super().print(*(_one_line(o) for o in objects), **kwargs)

    def render(self, renderable: RenderableType,
               options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control or is_safe(segment.text, multiline=True):
                yield segment
            else:
                yield Segment(visible(segment.text, multiline=True), segment.style)


def _one_line(obj: Any) -> Any:
    if isinstance(obj, Text) and not obj.spans and not is_safe(obj.plain):
        return Text(visible(obj.plain), style=obj.style, justify=obj.justify,
                    overflow=obj.overflow, no_wrap=obj.no_wrap, end=obj.end)
    return obj


@dataclass
class Context:
    home: Path
    out: Console = field(default_factory=lambda: SafeConsole(highlight=False, soft_wrap=True))
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
