"""Rich styles from the current theme, for text drawn inside tables and panels."""

from __future__ import annotations

from rich.style import Style
from textual.app import App

from core.kinds import Outcome

OUTCOME_TONE: dict[str, str] = {Outcome.OK: "success", Outcome.PARTIAL: "warning",
                                Outcome.FAILED: "error", Outcome.INTERRUPTED: "warning"}


def tone(app: App, name: str) -> Style:
    """`name` is a theme variable: success, warning, error, accent, primary..."""
    colour = app.theme_variables.get(name)
    return Style(color=colour) if colour else Style()


def outcome_style(app: App, outcome: str | None) -> Style:
    return tone(app, OUTCOME_TONE.get(outcome or "", "accent"))
