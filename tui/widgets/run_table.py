"""Runs, newest first: kind, trigger, outcome, duration. Updated by diff."""

from __future__ import annotations

from datetime import tzinfo

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from core.runs import RunSummary
from tui import format as fmt
from tui.widgets.table_rows import sync_rows
from tui.widgets.tones import outcome_style

COLUMNS = (("run", "Run", 5), ("account", "Account", 10), ("kind", "Kind", 9),
           ("trigger", "Trigger", 8), ("started", "Started", 12), ("outcome", "Outcome", 13),
           ("duration", "Took", 7))


def _run_id(key: RowKey) -> int:
    """The run id a row is keyed by (rows are added with ``str(run.id)`` as key)."""
    assert key.value is not None
    return int(key.value)


class RunTable(DataTable):
    class RunHighlighted(Message):
        def __init__(self, run_id: int | None) -> None:
            super().__init__()
            self.run_id = run_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self.tz: tzinfo | None = None

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    @property
    def selected(self) -> int | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return _run_id(row_key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.RunHighlighted(_run_id(event.row_key)))

    def cells(self, run: RunSummary) -> dict[str, Text]:
        assert self.tz is not None
        return {
            "run": Text(f"#{run.id}"),
            "account": Text(run.account),
            "kind": Text(fmt.safe(run.kind)),
            "trigger": Text(fmt.safe(run.trigger)),
            "started": Text(fmt.when(run.started_at, self.tz)),
            "outcome": Text(fmt.outcome(run.outcome), style=outcome_style(self.app, run.outcome)),
            "duration": Text(fmt.duration(run.duration_s)),
        }

    def show(self, runs: list[RunSummary]) -> None:
        """Bring the rows in line with `runs`, cell by cell; newest first."""
        if sync_rows(self, {str(r.id): self.cells(r) for r in runs}):
            self.sort("run", key=lambda cell: int(cell.plain[1:]), reverse=True)
