"""Form pieces: a labelled row, and an error message put in place next to its field."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from core.textsafe import visible


class FormRow(Horizontal):
    """`label  [widget]` on one line."""

    def __init__(self, label: str, widget: Widget, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="form-row")
        self.label = label
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="form-label")
        yield self.widget


class FormMessage(Static):
    """The one line under a form that says what is wrong (or what went right)."""

    def show(self, text: str, *, error: bool = True) -> None:
        self.set_class(error, "-error")
        self.set_class(not error, "-ok")
        self.update(Text(visible(text)))

    def clear(self) -> None:
        self.update("")
        self.remove_class("-error", "-ok")


def mark_invalid(inputs: Sequence[Input], message: str,
                 clues: Sequence[tuple[str, str]]) -> Input | None:
    """Flag the input the message is about (first clue found in it); return it."""
    for field in inputs:
        field.remove_class("-invalid")
    lowered = message.lower()
    by_id = {f.id: f for f in inputs}
    for clue, field_id in clues:
        if clue in lowered and field_id in by_id:
            field = by_id[field_id]
            field.add_class("-invalid")
            return field
    return None
