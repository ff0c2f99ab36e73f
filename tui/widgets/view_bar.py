"""The top line: which view is shown, and the keys that switch views."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

VIEWS = (("accounts", "1", "Accounts"), ("log", "2", "Log"), ("history", "3", "History"),
         ("erp", "4", "ERP"), ("listings", "5", "Listings"), ("dashboard", "6", "Dashboard"))
HINTS = ("  ? help  ^p", "  ? ^p", "  ?")  # the longest that fits the width


class ViewBar(Static):
    current: reactive[str] = reactive("accounts")

    def render(self) -> Text:
        text = Text(" Sincro ", style="bold")
        for view, key, label in VIEWS:
            style = "reverse bold" if view == self.current else ""
            text.append(" ")
            text.append(f" {key} {label} ", style=style)
        room = self.size.width - text.cell_len
        for hint in HINTS:
            if len(hint) <= room:
                text.append(hint, style="dim")
                break
        return text
