"""The gc pacer: cheap freezes while the operator types, full passes when they stop."""

from __future__ import annotations

import gc

from tui.gc_pacer import GcPacer


class Collector:
    """Records what the pacer asks of the collector."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.frozen = False

    def freeze(self) -> None:
        self.calls.append("freeze")
        self.frozen = True

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")
        self.frozen = False

    def collect(self) -> int:
        self.calls.append("collect")
        return 0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pacer() -> tuple[GcPacer, Collector, Clock]:
    clock, collector = Clock(), Collector()
    p = GcPacer(clock=clock, collector=collector, freeze_every=1, idle_after=2,
                full_every=30, full_at_most=60)
    return p, collector, clock


def test_start_collects_once_and_freezes_what_start_up_made() -> None:
    p, gc_, _ = pacer()
    p.start()
    assert gc_.calls == ["unfreeze", "collect", "freeze"]
    assert gc_.frozen


def test_while_the_operator_types_it_only_freezes() -> None:
    p, gc_, clock = pacer()
    p.start()
    gc_.calls.clear()
    for _ in range(40):  # 40 s of a key every half second
        clock.now += 0.5
        p.input_seen()
        p.tick()
    assert "collect" not in gc_.calls
    assert gc_.calls.count("freeze") == 20  # one a second


def test_a_full_pass_waits_for_a_pause_in_the_typing() -> None:
    p, gc_, clock = pacer()
    p.start()
    gc_.calls.clear()
    clock.now += 31
    p.input_seen()
    assert p.tick() == "freeze"  # due, but a key was just pressed
    clock.now += 2
    assert p.tick() == "full"
    assert gc_.calls[-3:] == ["unfreeze", "collect", "freeze"]
    clock.now += 2
    assert p.tick() == "freeze"  # not again before full_every


def test_constant_typing_still_gets_a_full_pass_after_full_at_most() -> None:
    p, gc_, clock = pacer()
    p.start()
    done = []
    for _ in range(130):
        clock.now += 0.5
        p.input_seen()
        done.append(p.tick())
    assert done.count("full") == 1  # at 60 s, then not again before 120 s
    assert done.index("full") == 119


def test_stop_gives_every_object_back_to_the_collector() -> None:
    p, gc_, clock = pacer()
    p.start()
    p.stop()
    assert not gc_.frozen
    clock.now += 100
    assert p.tick() is None


async def test_the_console_leaves_nothing_frozen_when_it_quits(home) -> None:
    from tests.tui.fakes import make_app, settle

    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
