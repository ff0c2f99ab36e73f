from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tui.fakes import ShopStub, seed
from tui.app import SincroApp


@pytest.fixture
async def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    await seed(home)
    return home


@pytest.fixture
def shop() -> ShopStub:
    return ShopStub()


@pytest.fixture
def notes() -> Callable[[SincroApp], list[dict[str, Any]]]:
    """Record an app's notifications: `seen = notes(app)` before running it."""

    def attach(app: SincroApp) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        original = app.notify

        def notify(message: str, **kwargs: Any) -> None:
            seen.append({"message": message, **kwargs})
            original(message, **kwargs)

        app.notify = notify  # type: ignore[method-assign]
        return seen

    return attach
