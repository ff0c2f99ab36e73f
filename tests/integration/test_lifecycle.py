"""One lifecycle (issue 17): every operation on an account goes through
``Engine.run_operation``, so a second one is refused while the first runs, and the
account's lease stays until the first one ends.

The bug this guards: a reconcile fix ran outside the engine's guard; a scheduled sync
of the same account was not refused, and when it ended it deleted the lease while
the fix was still running.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from core import accounts as acc
from core.engine import Engine
from core.events import RunRefused
from core.locks import HOST, AccountBusy, current_lease
from core.resync import apply_fix, resync_orders, set_cursor_value, show_cursors
from core.sync.listings import listings_all
from core.sync.pipeline import PIPELINES, STEPS


class FakeShop:
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None


async def no_erp(engine):
    return None


class Gate:
    """The first operation's body: it says it started, then waits to be let go."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, ctx) -> str:
        self.started.set()
        await self.release.wait()
        return "done"


async def held(engine: Engine, account: str = "shop1") -> tuple | None:
    """Who holds the account's lease, for what run, since when (renewals aside)."""
    info = await current_lease(engine.hub, (await acc.get_account(engine.hub, account)).id)
    return None if info is None else (info.owner, info.what, info.run_id, info.acquired_at)


@pytest.fixture
async def engine(tmp_path: Path):
    async with Engine(tmp_path / "home", shop_factory=lambda a: FakeShop(), erp_factory=no_erp,
                      notify=False) as eng:
        for name in ("shop1", "shop2"):
            await acc.add_account(eng.hub, acc.build_account(
                name, "https://x.example", key="A" * 32, tz="Europe/Rome"))
        yield eng


def second_operations(engine: Engine) -> dict:
    """Every kind of operation on shop1, each by the way its callers start it."""

    def never(ctx):
        raise AssertionError("a refused operation must not run")

    sync = {kind: (lambda kind=kind: engine.run_sync("shop1", kind, trigger="cli"))
            for kind in ("orders", "customers", "full", "states")}
    return {
        **sync,
        "scheduled sync": lambda: engine.run_sync("shop1", "scheduled", trigger="schedule"),
        "reconcile fix": lambda: engine.run_operation(
            "shop1", "fix-missing", lambda ctx: apply_fix(ctx, None, "missing"),
            trigger="console"),
        "resync": lambda: engine.run_operation(
            "shop1", "resync", lambda ctx: resync_orders(ctx, [1]), trigger="cli"),
        "cursor move": lambda: set_cursor_value(engine, "shop1", "orders", "5"),
        "listing run": lambda: engine.run_operation(
            "shop1", "listings", lambda ctx: listings_all(ctx, only="web"), trigger="console"),
        "any body": lambda: engine.run_operation("shop1", "resync", never, trigger="cli"),
    }


@pytest.mark.parametrize("first", ["reconcile fix", "scheduled sync"])
async def test_a_second_operation_is_refused_and_the_lease_held_until_the_first_ends(
        engine: Engine, first: str, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = Gate()
    if first == "reconcile fix":
        what = "fix-missing (console)"
        task = asyncio.create_task(engine.run_operation("shop1", "fix-missing", gate,
                                                        trigger="console"))
    else:
        what = "scheduled sync (schedule)"
        monkeypatch.setitem(STEPS, "test-gate", gate)
        monkeypatch.setitem(PIPELINES, "scheduled", ["test-gate"])
        task = asyncio.create_task(engine.run_sync("shop1", "scheduled", trigger="schedule"))
    try:
        await gate.started.wait()
        shop1 = await acc.get_account(engine.hub, "shop1")
        lease = await held(engine)
        assert lease is not None and lease[:2] == (engine.owner, what)
        run_id = lease[2]
        assert run_id
        busy = re.compile(rf"account shop1 is busy: {re.escape(what)} \(run {run_id}\) by process "
                          rf"{os.getpid()} on {re.escape(HOST)} since \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d$")

        # every kind, in this engine: refused with who runs what since when, told to listeners
        sub = engine.subscribe()
        refused: dict[str, str] = {}
        for name, start in second_operations(engine).items():
            with pytest.raises(AccountBusy) as caught:
                await start()
            refused[name] = caught.value.message
            assert caught.value.hint == "wait for it to finish and try again"
            event = sub.queue.get_nowait()
            assert isinstance(event, RunRefused) and event.reason == caught.value.message, name
            assert sub.queue.empty(), name  # nothing started, nothing finished
            assert await held(engine) == lease, name  # the lease untouched
        sub.close()
        assert {n: m for n, m in refused.items() if not busy.match(m)} == {}
        assert len(refused) == 10

        # another process (an engine of its own on the same home): refused by the lease, alike
        async with Engine(engine.home, notify=False) as other:
            with pytest.raises(AccountBusy) as caught:
                await other.run_sync("shop1", "orders")
            assert busy.match(caught.value.message), caught.value.message
            assert not other.running
        # another account is not held
        moved = await set_cursor_value(engine, "shop2", "orders", "7")
        assert moved.value == "7"

        assert await held(engine) == lease
        assert engine.running["shop1"].run_id == run_id
        assert {c.name: c.value for c in await show_cursors(engine.hub, "shop1")}["orders"] is None
        assert await engine.hub.scalar("SELECT COUNT(*) FROM runs WHERE account_id = ?",
                                       (shop1.id,)) == 1  # no record for what was refused
    except BaseException:
        gate.release.set()  # let the first one end before the engine closes
        await asyncio.gather(task, return_exceptions=True)
        raise

    # the first one ends: still held while its after-run hooks run, then free
    during_hooks: list[object] = []

    async def hook(summary) -> None:
        during_hooks.append(await held(engine))
        try:
            await set_cursor_value(engine, "shop1", "orders", "9")
        except AccountBusy as exc:
            during_hooks.append(exc.message)

    engine.finished_hooks.append(hook)
    gate.release.set()
    done = await task
    engine.finished_hooks.remove(hook)
    summary = done if first == "scheduled sync" else done.summary
    assert summary.id == run_id and summary.outcome == "ok"
    if first == "reconcile fix":
        assert done.result() == "done"
    assert during_hooks[0] == lease and busy.match(during_hooks[1]), during_hooks

    assert await held(engine) is None
    assert not engine.running
    moved = await set_cursor_value(engine, "shop1", "orders", "5")
    assert moved.value == "5"
    assert await held(engine) is None
    runs = await engine.hub.fetchall("SELECT kind, outcome FROM runs WHERE account_id = ? "
                                     "ORDER BY id", (shop1.id,))
    assert [tuple(r) for r in runs] == [
        ("fix-missing" if first == "reconcile fix" else "scheduled", "ok"), ("cursor", "ok")]


async def test_an_operation_cancelled_is_recorded_interrupted_and_frees_the_account(
        engine: Engine) -> None:
    gate = Gate()
    task = asyncio.create_task(engine.run_operation("shop1", "resync", gate, trigger="console"))
    await gate.started.wait()
    shop1 = await acc.get_account(engine.hub, "shop1")
    run_id = (await current_lease(engine.hub, shop1.id)).run_id
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await current_lease(engine.hub, shop1.id) is None
    assert not engine.running
    assert await engine.hub.scalar("SELECT outcome FROM runs WHERE id = ?", (run_id,)) == \
        "interrupted"


async def test_what_the_body_raises_is_recorded_then_handed_back(engine: Engine) -> None:
    from core.errors import NotFound

    async def body(ctx):
        ctx.run.info("looking")
        raise NotFound("order 4 is not on the shop")

    done = await engine.run_operation("shop1", "resync", body, trigger="cli")
    assert done.summary.outcome == "failed"
    assert done.summary.errors == ["order 4 is not on the shop"]
    with pytest.raises(NotFound, match="order 4"):
        done.result()
    shop1 = await acc.get_account(engine.hub, "shop1")
    assert await current_lease(engine.hub, shop1.id) is None and not engine.running
