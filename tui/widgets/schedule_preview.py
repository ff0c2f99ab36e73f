"""The next ten runs of the schedule as typed (S-2's "Test")."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from core.schedule import Schedule

EMPTY = "Test (ctrl+t) shows the next ten runs of the schedule as typed, before saving."


class SchedulePreview(Static):
    def on_mount(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.runs: list[str] = []
        self.update(Text(EMPTY, style="dim"))

    def show(self, schedule: Schedule, runs: list[str]) -> None:
        self.runs = runs
        text = Text("Next ten runs\n", style="bold")
        if not runs:
            text.append("none: the schedule is off", style="dim")
        for i, run in enumerate(runs, 1):
            text.append(f"{i:>2}  {run}\n")
        text.append(schedule.describe(), style="dim")
        self.update(text)
