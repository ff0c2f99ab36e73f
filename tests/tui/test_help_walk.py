"""Help and palette, checked against the console itself rather than against the function
that builds the help: every screen and view of the package is walked."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

from textual.binding import Binding
from textual.widget import Widget

import tui.screens
import tui.widgets
from tests.tui.fakes import help_rows, make_app, settle
from tui.app import VIEW_COMMANDS, VIEW_NAMES, SincroApp
from tui.screens.main import MainScreen

# screens that are dialogs: their keys are on the dialog itself, not in the help
DIALOGS = {"HelpScreen", "QuitDialog", "ConfirmScreen", "PromptScreen"}


def _own_bindings() -> dict[type, list[Binding]]:
    """Every class of tui.screens and tui.widgets that declares keys of its own."""
    found: dict[type, list[Binding]] = {}
    for package in (tui.screens, tui.widgets):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for _name, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ != module.__name__ or not issubclass(cls, Widget):
                    continue
                own = [b for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding)]
                if own and cls.__name__ not in DIALOGS:
                    found[cls] = own
    return found


def _action_name(action: str) -> str:
    return action.removeprefix("app.").removeprefix("screen.").split("(", 1)[0]


def test_every_key_of_every_screen_names_an_action_that_exists() -> None:
    for cls, bindings in _own_bindings().items():
        for b in bindings:
            owner = SincroApp if b.action.startswith("app.") else cls
            name = _action_name(b.action)
            assert hasattr(owner, f"action_{name}") or hasattr(SincroApp, f"action_{name}"), (
                f"{cls.__name__}: key {b.key} runs {b.action!r}, which does not exist")


def test_every_palette_action_exists_on_its_view() -> None:
    views = {name for name, _title in VIEW_NAMES}
    classes = {cls.__name__: cls for cls in _own_bindings()}
    by_view = {"accounts": "AccountsView", "log": "LogView", "history": "HistoryView",
               "erp": "ErpView", "listings": "ListingsView", "dashboard": "DashboardView"}
    assert set(by_view) == views
    for title, _help, view, action in VIEW_COMMANDS:
        cls = classes[by_view[view]]
        assert hasattr(cls, f"action_{_action_name(action)}"), (
            f"palette {title!r}: {by_view[view]} has no action {action!r}")
    assert hasattr(MainScreen, "action_show")  # how the palette shows each view


async def test_the_help_lists_every_key_the_screens_declare(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        listed = {row[2] for row in await help_rows(app, pilot)}
    for cls, bindings in _own_bindings().items():
        for b in bindings:
            if not b.show and not b.tooltip and b.description in ("", None):
                continue
            assert (b.tooltip or b.description) in listed, (
                f"{cls.__name__}: key {b.key} ({b.description!r}) is not in the help")
