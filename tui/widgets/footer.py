"""The key footer, without the leak of Textual's own.

Textual's Footer rebuilds its keys whenever the bindings change (every view
switch, every focus move) and ties each new FooterKey to its `compact`
reactive with `data_bind`. The watcher that binding leaves on the Footer is
only dropped when `compact` changes, which in the console it never does
(textual#6666): every key ever shown stays alive, and the garbage collector's
full passes grow with them until a key press waits more than a second.

The console's footer is always compact, so its keys are given `compact`
directly and never bound.

Textual's Footer also rebuilds itself on every bindings refresh, even when
the keys it shows are the same: during a sync, when tables move their cursor
many times a second, that is a removal and a mount of every key each time.
This one rebuilds only when what it shows changed.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class ConsoleFooter(Footer):
    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("compact", True)
        kwargs.setdefault("show_command_palette", False)
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._showing: Any = None

    def shown_keys(self, screen: Screen) -> tuple[Any, ...]:
        """What the footer shows of the screen's bindings: rebuilt only when this changes."""
        return tuple((b.key, b.key_display, b.description, b.action, b.group, enabled, tooltip)
                     for (_, b, enabled, tooltip) in screen.active_bindings.values() if b.show)

    def bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen and screen.app.app_focus:
            showing = self.shown_keys(screen)
            if showing == self._showing:
                return
            self._showing = showing
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            self._unbind(widget)
            yield widget

    def _unbind(self, widget: object) -> None:
        if isinstance(widget, FooterKey):
            # drop the pending data_bind: nothing will watch this footer for it
            widget._reactive_connect = None
            widget.set_reactive(FooterKey.compact, self.compact)
            widget.set_class(self.compact, "-compact")
