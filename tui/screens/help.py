"""Every key of the console, by where it works (F1 or ?)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

Section = tuple[str, Sequence[Binding]]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,f1,question_mark", "dismiss", "Close", id="help-close")]

    def __init__(self, sections: Sequence[Section]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(Text("Keys (escape closes; ctrl+p finds any action by name)",
                              style="bold"))
            yield DataTable(id="help-keys", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # the text column takes what is left, and long lines wrap: nothing cut off at 80x24
        does = max(24, self.app.size.width - 44)
        table.add_column("Where", key="where", width=15)
        table.add_column("Key", key="key", width=12)
        table.add_column("Does", key="does", width=does)
        for where, bindings in self.sections:
            for binding in bindings:
                keys = [k.strip() for k in binding.key.split(",")]
                shown = binding.key_display or " ".join(
                    self.app.get_key_display(replace(binding, key=k)) for k in keys)
                table.add_row(Text(where), Text(shown),
                              Text(binding.tooltip or binding.description), height=None)
        table.focus()
