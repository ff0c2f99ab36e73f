"""Events are built by keyword and cannot be changed once published."""

import dataclasses

import pytest

from core.events import Notice, RunFinished


def test_events_are_built_by_keyword() -> None:
    with pytest.raises(TypeError):
        Notice("positional")  # type: ignore[misc]
    assert Notice(message="m").level == "info"


def test_a_finished_run_s_counts_are_read_only() -> None:
    counts = {"orders_imported": 3}
    e = RunFinished(run_id=1, account="shop1", kind="orders", trigger="cli", outcome="ok",
                    counts=counts)
    counts["orders_imported"] = 99  # the caller's dict is not the event's
    assert e.counts["orders_imported"] == 3
    with pytest.raises(TypeError):
        e.counts["orders_imported"] = 4  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.outcome = "failed"  # type: ignore[misc]
