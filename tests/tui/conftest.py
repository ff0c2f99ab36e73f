from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.amber import AmberSnapshotExtension
from syrupy.location import PyTestLocation

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


_HUB_IDS = re.compile(r"(?<=[\[-])(sqlite|postgresql)(-|(?=\]))")


@pytest.fixture
def snapshot(request: pytest.FixtureRequest) -> SnapshotAssertion:
    """syrupy's ``snapshot``, with the hub left out of the snapshot's name: the console
    draws the same on both hubs (tests/conftest.py), so both compare with one file."""
    location = PyTestLocation(request.node)
    for field in ("nodename", "testname"):
        name = getattr(location, field)
        if name:
            name = _HUB_IDS.sub("", name).replace("[]", "")
            name = re.sub(r"-\]$", "]", name)
            object.__setattr__(location, field, name)
    return SnapshotAssertion(
        update_snapshots=request.config.option.update_snapshots,
        update_new_snapshots_only=request.config.option.update_new_snapshots_only,
        extension_class=AmberSnapshotExtension,
        test_location=location,
        session=request.session.config._syrupy,  # type: ignore[attr-defined]
    )
