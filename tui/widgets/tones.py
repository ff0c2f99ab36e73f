"""Rich styles from the current theme, for text drawn inside tables and panels."""

from __future__ import annotations

from rich.style import Style
from textual.app import App

OUTCOME_TONE = {"ok": "success", "partial": "warning", "failed": "error",
                "interrupted": "warning"}


def tone(app: App, name: str) -> Style:
    """`name` is a theme variable: success, warning, error, accent, primary..."""
    colour = app.theme_variables.get(name)
    return Style(color=colour) if colour else Style()


def outcome_style(app: App, outcome: str | None) -> Style:
    return tone(app, OUTCOME_TONE.get(outcome or "", "accent"))
