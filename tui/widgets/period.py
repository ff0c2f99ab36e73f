"""The period field the reconcile and review screens share: a start date (YYYY-MM-DD,
empty for everything), offered `DEFAULT_DAYS` before the console's clock, checked before a
run, its error on the line under it."""

from __future__ import annotations

from datetime import timedelta

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.dom import DOMNode
from textual.widgets import Input, Label

from core.errors import ConfigError
from core.reconcile import parse_when
from tui.context import console
from tui.widgets.form import FormMessage

DEFAULT_DAYS = 30


class Invalid:
    """What ``PeriodField.checked`` gives for a start it cannot read (the error is shown)."""


INVALID = Invalid()


def default_since(node: DOMNode, days: int = DEFAULT_DAYS) -> str:
    """The period start the screens offer: `days` before the console's clock, its zone."""
    c = console(node)
    return (c.clock().astimezone(c.tz) - timedelta(days=days)).date().isoformat()


def check_since(text: str, zone_name: str = "shop time") -> str | None:
    """The error for a period start, or None (empty means from the start)."""
    if not text.strip():
        return None
    try:
        parse_when(text.strip(), "UTC")
    except ConfigError as exc:
        return str(exc).replace("(shop time)", f"({zone_name})")
    return None


class PeriodField:
    """The field of one screen: its widgets have the ids ``<prefix>-period-row``,
    ``<prefix>-since`` and ``<prefix>-message``."""

    def __init__(self, screen: DOMNode, prefix: str, label: str, zone_name: str) -> None:
        self.screen = screen
        self.prefix = prefix
        self.label = label
        self.zone_name = zone_name  # how the error names the dates' zone

    def compose(self) -> ComposeResult:
        with Horizontal(id=f"{self.prefix}-period-row", classes="period-row"):
            yield Label(self.label, classes="form-label")
            yield Input(id=f"{self.prefix}-since", compact=True, placeholder="YYYY-MM-DD")
        yield FormMessage(id=f"{self.prefix}-message", classes="period-message")

    @property
    def input(self) -> Input:
        return self.screen.query_one(f"#{self.prefix}-since", Input)

    def offer_default(self) -> None:
        self.input.value = default_since(self.screen)

    def focus(self) -> None:
        self.input.focus()

    @property
    def invalid(self) -> bool:
        return self.input.has_class("-invalid")

    def checked(self) -> str | None | Invalid:
        """The start to use (None: from the start), or INVALID with its error shown and
        the field focused."""
        field = self.input
        error = check_since(field.value, self.zone_name)
        message = self.screen.query_one(f"#{self.prefix}-message", FormMessage)
        field.set_class(bool(error), "-invalid")
        if error:
            message.show(error)
            field.focus()
            return INVALID
        message.clear()
        return field.value.strip() or None
