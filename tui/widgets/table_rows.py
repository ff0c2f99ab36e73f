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
    for row_key in list(table.rows):
        if row_key.value not in rows:
            table.remove_row(row_key)
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
    thousands of rows that is tens of thousands of Text objects and some
    200 ms in which no key is answered. Here each row is known by a plain,
    comparable value (a tuple of the fields it shows), and the cells built for
    a value are kept: a row whose value has not changed is never built again.

    Rows given in display order. When only values changed, the changed cells
    are updated in place. When rows come or go, the table is filled again in
    order from the kept cells (DataTable removes a row in time proportional to
    the table, and has no insert: refilling is the cheap way), in slices with
    the event loop let through between them, the cursor staying on its row.
    """

    def __init__(self, table: DataTable, cells: Callable[[Any], Mapping[str, Text]], *,
                 slice_size: int = 500) -> None:
        self.table = table
        self.cells = cells
        self.slice_size = slice_size
        self.built: dict[str, tuple[Hashable, Mapping[str, Text]]] = {}

    def forget(self) -> None:
        """Build every row again on the next sync (the theme changed its colours)."""
        self.built.clear()

    def value(self, key: str) -> Hashable | None:
        entry = self.built.get(key)
        return None if entry is None else entry[0]

    def set(self, key: str, value: Hashable) -> None:
        """A row the console itself just changed: show it now."""
        cells = self._cells(key, value)
        if key in self.table.rows:
            self._update(key, cells)

    def _cells(self, key: str, value: Hashable) -> Mapping[str, Text]:
        entry = self.built.get(key)
        if entry is not None and entry[0] == value:
            return entry[1]
        cells = self.cells(value)
        self.built[key] = (value, cells)
        return cells

    def _update(self, key: str, cells: Mapping[str, Text]) -> None:
        table = self.table
        for column, cell in cells.items():
            if table.get_cell(key, column) is not cell:
                table.update_cell(key, column, cell)

    async def sync(self, rows: Mapping[str, Hashable]) -> None:
        table = self.table
        for key in [k for k in self.built if k not in rows]:
            del self.built[key]
        if table.row_count == len(rows) and all(key in table.rows for key in rows):
            for n, (key, value) in enumerate(rows.items(), 1):
                before = self.built.get(key)
                if before is None or before[0] != value:
                    self._update(key, self._cells(key, value))
                if n % self.slice_size == 0:
                    await asyncio.sleep(0)  # let keys through between slices
            return
        selected = None
        if table.row_count:
            selected = table.coordinate_to_cell_key(table.cursor_coordinate)[0].value
        table.clear()
        for n, (key, value) in enumerate(rows.items(), 1):
            table.add_row(*self._cells(key, value).values(), key=key)
            if n % self.slice_size == 0:
                await asyncio.sleep(0)
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
