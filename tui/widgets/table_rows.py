"""Bring a DataTable in line with new rows by diff: update changed cells, add and drop rows.

Clearing and refilling loses the cursor and redraws everything; a diff keeps
the operator's place (dolphie's process list does the same).
"""

from __future__ import annotations

from collections.abc import Mapping

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
