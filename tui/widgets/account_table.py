"""The accounts, one row each: state, last run, next run. Updated cell by cell."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from core.kinds import RunKind
from tui import format as fmt
from tui.data import AccountInfo
from tui.widgets.table_rows import sync_rows
from tui.widgets.tones import outcome_style, tone

COLUMNS = (("account", "Account", 14), ("state", "State", 15), ("last", "Last run", 12),
           ("outcome", "Outcome", 16), ("next", "Next run", 12))


@dataclass(frozen=True, slots=True)
class LiveRun:
    """A run of this console in progress, from engine events."""

    run_id: int
    kind: RunKind
    step: str = ""
    done: int = 0
    total: int | None = None

    def describe(self) -> str:
        if not self.step:
            return f"▶ {self.kind}"
        return "▶ " + fmt.progress(self.step, self.done, self.total)


class AccountTable(DataTable):
    """Rows keyed by account name."""

    class AccountSelected(Message):
        def __init__(self, name: str | None) -> None:
            super().__init__()
            self.name = name

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.tz: tzinfo | None = None

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    @property
    def selected(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.AccountSelected(event.row_key.value))

    def cells(self, info: AccountInfo, live: LiveRun | None) -> dict[str, Text]:
        assert self.tz is not None
        app = self.app
        if live is not None:
            state = Text(live.describe(), style=tone(app, "accent"))
        elif info.busy:
            state = Text("▶ other process", style=tone(app, "warning"))
        elif not info.account.enabled:
            state = Text("disabled", style="dim")
        else:
            state = Text("idle")
        last = info.last_run
        if last is None:
            last_text, outcome = Text("never", style="dim"), Text("—", style="dim")
        else:
            last_text = Text(fmt.when(last.started_at, self.tz))
            summary = fmt.outcome(last.outcome)
            if last.outcome:
                summary += fmt.headline(last.kind, last.counts)
            outcome = Text(summary, style=outcome_style(app, last.outcome))
        nxt = Text(fmt.when(info.next_run, self.tz) if info.next_run else "—")
        return {"account": Text(info.name), "state": state, "last": last_text,
                "outcome": outcome, "next": nxt}

    def show(self, infos: list[AccountInfo], live: dict[str, LiveRun]) -> None:
        """Bring the rows in line with `infos`, cell by cell."""
        sync_rows(self, {i.name: self.cells(i, live.get(i.name)) for i in infos})

    def update_state(self, info: AccountInfo, live: LiveRun | None) -> None:
        if info.name in {k.value for k in self.rows}:
            self.update_cell(info.name, "state", self.cells(info, live)["state"])

