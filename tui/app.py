"""The operator console (Textual)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header

from core.accounts import list_accounts
from core.home import HUB_FILE
from core.store.hub import open_hub


class AccountTable(DataTable):
    """The accounts, one row each."""


class SincroApp(App):
    TITLE = "Sincro"
    BINDINGS = [Binding("q", "quit", "Quit", id="quit")]

    def __init__(self, home: Path) -> None:
        super().__init__()
        self.home = home

    def compose(self) -> ComposeResult:
        yield Header()
        yield AccountTable(id="accounts", cursor_type="row")
        yield Footer()

    async def on_mount(self) -> None:
        table = self.query_one(AccountTable)
        table.add_columns("account", "shop", "time zone", "enabled")
        self.load_accounts()

    def load_accounts(self) -> None:
        self.run_worker(self._load_accounts(), exclusive=True, group="accounts")

    async def _load_accounts(self) -> None:
        db = await open_hub(self.home / HUB_FILE)
        try:
            accounts = await list_accounts(db)
        finally:
            await db.close()
        table = self.query_one(AccountTable)
        table.clear()
        for a in accounts:
            table.add_row(Text(a.name), Text(a.url), Text(a.tz), "yes" if a.enabled else "no",
                          key=a.name)


def run_console(home: Path) -> int:
    SincroApp(home).run()
    return 0
