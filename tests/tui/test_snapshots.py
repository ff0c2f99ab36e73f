"""Snapshots of the main screens at 80x24 and 120x40, dark and light (fixed data, fixed clock).

Update them with `uv run pytest tests/tui --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from core.events import LogLine
from tests.tui.activity_seed import seed_activity
from tests.tui.fakes import NOW, make_app, seed, seed_erp, seed_runs, settle
from tui.widgets.sync_log import SyncLog

SIZES = [(80, 24), (120, 40)]
THEMES = ["sincro-dark", "sincro-light"]
SKIP = ("bridge", "run:", "ask:", "erp-write")


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    home = tmp_path / "home"

    async def setup() -> None:
        await seed(home)
        await seed_runs(home)
        await seed_erp(home)

    asyncio.run(setup())
    return home


@pytest.fixture
def with_activity(tmp_path: Path) -> Path:
    """Two accounts, thirty days of runs with orders, failures and durations, a schedule."""
    home = tmp_path / "home"

    async def setup() -> None:
        await seed(home)
        await seed_activity(home)

    asyncio.run(setup())
    return home


def keys(*pressed: str) -> Callable[[Any], Awaitable[None]]:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        for key in pressed:
            await pilot.press(key)
            await settle(pilot, skip=SKIP)

    return run_before


async def with_log_lines(pilot: Any) -> None:
    await settle(pilot)
    await pilot.press("2")
    lines = [("shop1", "info", "orders sync of shop1 started (console)"),
             ("shop1", "info", "reading orders after id 1041"),
             ("shop1", "debug", "page 1: 2 orders"),
             ("shop1", "warning", "order 1043 is in state 8 (Payment error): not importable yet"),
             ("shop2", "error", "customer 7 [b]Rossi[/b]: the shop answered 500"),
             ("shop1", "info", "orders sync of shop1: ok in 3.0s orders_imported=2")]
    for account, level, message in lines:
        pilot.app.publish(LogLine(run_id=1, account=account, at=NOW, level=level,
                                  message=message))
    await pilot.pause()
    pilot.app.screen.query_one(SyncLog).flush()
    await pilot.pause()


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_accounts(snap_compare, seeded: Path, size, theme) -> None:
    assert snap_compare(make_app(seeded, theme=theme), terminal_size=size, run_before=keys())


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_live_log(snap_compare, seeded: Path, size, theme) -> None:
    assert snap_compare(make_app(seeded, theme=theme), terminal_size=size,
                        run_before=with_log_lines)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_history(snap_compare, seeded: Path, size, theme) -> None:
    assert snap_compare(make_app(seeded, theme=theme), terminal_size=size,
                        run_before=keys("3", "down"))


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_dashboard(snap_compare, with_activity: Path, size, theme) -> None:
    assert snap_compare(make_app(with_activity, theme=theme), terminal_size=size,
                        run_before=keys("6"))


@pytest.mark.parametrize("theme", THEMES)
def test_schedule_editor_with_preview(snap_compare, seeded: Path, theme) -> None:
    assert snap_compare(make_app(seeded, theme=theme), run_before=keys("S", "ctrl+t"))


@pytest.mark.parametrize("theme", THEMES)
def test_erp_documents(snap_compare, seeded: Path, theme) -> None:
    assert snap_compare(make_app(seeded, theme=theme), run_before=keys("4"))


def test_run_detail(snap_compare, seeded: Path) -> None:
    assert snap_compare(make_app(seeded), run_before=keys("3", "down", "enter"))


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_account_form(snap_compare, seeded: Path, size, theme) -> None:
    assert snap_compare(make_app(seeded, theme=theme), terminal_size=size, run_before=keys("e"))


def test_customers_sync_confirmation(snap_compare, seeded: Path) -> None:
    assert snap_compare(make_app(seeded), run_before=keys("c"))


def test_help(snap_compare, seeded: Path) -> None:
    assert snap_compare(make_app(seeded), run_before=keys("f1"))
