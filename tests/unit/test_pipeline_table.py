"""The pipelines' one table of steps (core/sync/pipeline.py)."""

import pytest

from core.sync import pipeline


def test_every_pipeline_step_is_in_the_table() -> None:
    for kind in pipeline.KINDS:
        names = [name for name, _step in pipeline.steps_for(kind)]
        assert names == pipeline.PIPELINES[kind]


def test_an_unknown_step_or_kind_raises(monkeypatch) -> None:
    monkeypatch.setitem(pipeline.PIPELINES, "orders", ["orders", "no-such-step"])
    with pytest.raises(pipeline.UnknownStep, match="no-such-step"):
        pipeline.steps_for("orders")
    with pytest.raises(pipeline.UnknownStep, match="unknown kind"):
        pipeline.steps_for("no-such-kind")
