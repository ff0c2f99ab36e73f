"""Bring a DataTable in line with new rows by diff: update changed cells, add and drop rows.

Clearing and refilling loses the cursor and redraws everything; a diff keeps
the operator's place (dolphie's process list does the same).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from rich.text import Text
from textual.widgets import DataTable


def same(old: object, new: Text) -> bool:
    return isinstance(old, Text) and old.plain == new.plain and old.style == new.style


def sync_rows(table: DataTable, rows: Mapping[str, Mapping[str, Text]]) -> bool:
    """`rows` maps row key -> column key -> cell, in display order for new rows.

    Returns True when rows were added (the caller may want to sort)."""
    for key in [k.value for k in list(table.rows)]:
        if key not in rows:
            table.remove_row(key)
    present = {k.value for k in table.rows}
    added = False
    for key, cells in rows.items():
        if key not in present:
            table.add_row(*cells.values(), key=key)
            added = True
            continue
        for column, value in cells.items():
            if not same(table.get_cell(key, column), value):
                table.update_cell(key, column, value)
    return added


class ValueRows:
    """Keeps a big DataTable in line with plain values, building cells only for what changed.

    `sync_rows` builds every cell of every row on each load; for a table of
    10,000 documents that is 50,000 Text objects and some 200 ms in which no
    key is answered. Here each row is known by a plain, comparable value (a
    tuple of the fields it shows): rows whose value has not changed are left
    alone, and the cells of the others are built and applied in slices, with
    the event loop let through between slices. Rows that arrive after the
    first load are put in order by `sort_column` (its text), the cursor
    staying on the row it was on.
    """

    def __init__(self, table: DataTable, cells: Callable[[Any], Mapping[str, Text]], *,
                 sort_column: str | None = None, reverse: bool = False,
                 slice_size: int = 500) -> None:
        self.table = table
        self.cells = cells
        self.sort_column = sort_column
        self.reverse = reverse
        self.slice_size = slice_size
        self.shown: dict[str, Hashable] = {}

    def forget(self) -> None:
        """Build every row again on the next sync (the theme changed its colours)."""
        self.shown.clear()

    def set(self, key: str, value: Hashable) -> None:
        """A row the console itself just changed: show it now."""
        self._apply(key, value)

    async def sync(self, rows: Mapping[str, Hashable]) -> None:
        """`rows` maps row key -> value, in display order for a first load."""
        table, shown = self.table, self.shown
        for key in [k.value for k in list(table.rows)]:
            if key not in rows:
                table.remove_row(key)
                shown.pop(key, None)
        had_rows = bool(table.row_count)
        added = False
        built = 0
        for key, value in rows.items():
            if shown.get(key) == value:
                continue
            added |= self._apply(key, value)
            built += 1
            if built % self.slice_size == 0:
                await asyncio.sleep(0)  # let keys through between slices
        if added and had_rows and self.sort_column is not None:
            self._sort(self.sort_column)

    def _apply(self, key: str, value: Hashable) -> bool:
        table = self.table
        cells = self.cells(value)
        self.shown[key] = value
        if key not in table.rows:
            table.add_row(*cells.values(), key=key)
            return True
        for column, cell in cells.items():
            if not same(table.get_cell(key, column), cell):
                table.update_cell(key, column, cell)
        return False

    def _sort(self, column: str) -> None:
        table = self.table
        selected = table.coordinate_to_cell_key(table.cursor_coordinate)[0].value
        table.sort(column, key=lambda cell: cell.plain if isinstance(cell, Text) else str(cell),
                   reverse=self.reverse)
        if selected is not None:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
