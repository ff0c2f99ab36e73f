"""Bounds on a hostile or slow shop (issue 20, items 3, 4 and 10; acceptance 3).

Each test syncs against the emulator with one of its hostile faults (emulator/faults.py):
a huge body, an oversized page, a slow drip, ``Retry-After: 86400``, a page repeating an
order. The account's own options set the limits (tiny ones, so the limits are what end the
run quickly; the test timeout is only the backstop). Each run ends with one clear error
line, nothing bogus in the hub, and the account's lease released.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import aiosqlite
import pytest

from core import accounts as acc
from core.locks import current_lease
from core.runs import run_log
from core.sync.shop import open_shop
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.helpers import asincro, assert_clean_error
from tests.synctools import engine_for, shop_orders

pytestmark = pytest.mark.timeout(90)

QUICK = {"retries": 2, "backoff_base": 0.01, "backoff_cap": 0.05}  # limits: the account's own


def factory():
    return lambda account: open_shop(account, **QUICK)


@pytest.fixture
async def emu():
    async with EmulatorServer(generate(250, seed=11)) as server:
        yield server


async def set_options(engine, **options) -> None:
    account = await acc.get_account(engine.hub, "shop1")
    await acc.save_account(engine.hub, replace(account, options={**account.options, **options}))


async def assert_failed_cleanly(engine, emu, summary, *fragments: str) -> str:
    """Failed with exactly one error line holding ``fragments``; no traceback or internal
    error in the run's log; the key nowhere; the lease released. Returns the log text."""
    assert summary.outcome == "failed", (summary.outcome, summary.errors)
    assert len(summary.errors) == 1, summary.errors
    line = summary.errors[0]
    assert "\n" not in line and emu.url in line, line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    text = "\n".join(row[3] for row in await run_log(engine.hub, summary.id))
    assert "Traceback" not in text and "internal error" not in text, text
    assert emu.key not in text
    account = await acc.get_account(engine.hub, "shop1")
    assert await current_lease(engine.hub, account.id) is None, "the lease is released"
    return text


def assert_no_stray_tasks(caplog: pytest.LogCaptureFixture) -> None:
    """Prefetched pages were cancelled and awaited: asyncio reports none left behind."""
    stray = [r.getMessage() for r in caplog.records
             if "never retrieved" in r.getMessage() or "destroyed but it is pending" in
             r.getMessage()]
    assert not stray, stray


async def hub_order_ids(engine) -> tuple[set[int], set[int]]:
    orders = {r[0] for r in await engine.hub.fetchall("SELECT shop_id FROM orders")}
    pending = {r[0] for r in await engine.hub.fetchall("SELECT shop_id FROM pending_orders")}
    return orders, pending


async def assert_hub_holds_the_shops_orders(engine, emu) -> None:
    """Each importable shop order once in the hub's orders, the others pending: no more."""
    shop = shop_orders(emu.state)
    orders, pending = await hub_order_ids(engine)
    assert orders == {i for i, o in shop.items() if o["state"] not in (6, 8)}
    assert pending == {i for i, o in shop.items() if o["state"] in (6, 8)}
    rows = await engine.hub.fetchall("SELECT COUNT(*), COUNT(DISTINCT ref) FROM outbox "
                                     "WHERE kind = 'order'")
    assert rows[0][0] == rows[0][1] == len(orders), "one outbox entry per order"


# ------------------------------------------------------------------ size


async def test_a_huge_body_ends_at_the_size_limit(tmp_path: Path, emu, caplog) -> None:
    caplog.set_level(logging.WARNING)
    emu.state.faults.add(kind="huge_body", resource="orders")  # 200 MB each, streamed
    async with engine_for(tmp_path / "home", emu, shop_factory=factory()) as engine:
        await set_options(engine, max_response_mb=1)
        summary = await engine.run_sync("shop1", "orders")
        await assert_failed_cleanly(engine, emu, summary, "GET orders", "1 MB limit",
                                    "max_response_mb", "--max-response-mb")
        assert await hub_order_ids(engine) == (set(), set())
    assert_no_stray_tasks(caplog)


async def test_the_issues_page_of_204801_entries_ends_at_the_size_limit(tmp_path: Path,
                                                                         emu) -> None:
    emu.state.faults.add(kind="oversized_page", resource="orders")  # 204,801 full orders
    async with engine_for(tmp_path / "home", emu, shop_factory=factory()) as engine:
        await set_options(engine, max_response_mb=2)
        summary = await engine.run_sync("shop1", "orders")
        await assert_failed_cleanly(engine, emu, summary, "2 MB limit", "max_response_mb")
        orders, pending = await hub_order_ids(engine)
    assert max(orders | pending, default=0) <= 250, "nothing bogus reached the hub"


async def test_an_oversized_page_is_refused_and_nothing_of_it_reaches_the_hub(
        tmp_path: Path, emu, caplog) -> None:
    caplog.set_level(logging.WARNING)
    emu.state.faults.add(kind="oversized_page", resource="orders", entries=250, count=1)
    home = tmp_path / "home"
    async with engine_for(home, emu, shop_factory=factory()) as engine:
        summary = await engine.run_sync("shop1", "orders")
        await assert_failed_cleanly(engine, emu, summary, "GET orders", "250 entries",
                                    "at most 100 were asked for", "limit=")
        orders, pending = await hub_order_ids(engine)
        assert max(orders | pending, default=0) <= 250, "the copies with new ids are not kept"
        cursor = await engine.hub.scalar("SELECT value FROM cursors WHERE name = 'orders'")
        assert int(cursor or 0) <= 250
        # the shop behaves again: the next run reads every order once
        again = await engine.run_sync("shop1", "orders")
        assert not [e for e in again.errors if emu.url in e], again.errors
        await assert_hub_holds_the_shops_orders(engine, emu)
    assert_no_stray_tasks(caplog)


async def test_an_order_repeated_within_a_page_is_counted_once(tmp_path: Path) -> None:
    async with EmulatorServer(generate(40, seed=12)) as emu:
        # every orders page repeats its first order at its end (an empty page stays empty)
        emu.state.faults.add(kind="duplicate", resource="orders")
        home = tmp_path / "home"
        async with engine_for(home, emu, shop_factory=factory()) as engine:
            summary = await engine.run_sync("shop1", "orders")
            assert emu.state.faults.faults[0].fired >= 1
            assert not [e for e in summary.errors if emu.url in e], summary.errors
            importable = [o for o in shop_orders(emu.state).values()
                          if o["state"] not in (6, 8)]
            assert summary.counts["orders_imported"] == len(importable)
            await assert_hub_holds_the_shops_orders(engine, emu)


# ------------------------------------------------------------------ time


async def test_a_slow_drip_ends_at_the_request_deadline(tmp_path: Path, emu, caplog) -> None:
    caplog.set_level(logging.WARNING)
    # a byte every 50 ms keeps a per-read timeout happy for ever; the page never completes
    emu.state.faults.add(kind="slow_drip", resource="orders", interval=0.05)
    async with engine_for(tmp_path / "home", emu, shop_factory=factory()) as engine:
        await set_options(engine, request_timeout=0.3)
        summary = await engine.run_sync("shop1", "orders")
        text = await assert_failed_cleanly(
            engine, emu, summary, "no complete answer within 0.3 s (request_timeout) after 3 "
            "attempts", "--request-timeout")
    assert "(request_timeout); waiting" in text, "each retry is a line in the run log"
    assert_no_stray_tasks(caplog)


async def test_a_slow_shop_ends_at_the_runs_time_limit(tmp_path: Path, emu) -> None:
    emu.state.faults.add(kind="slow_drip", resource="orders", interval=0.05)
    async with engine_for(tmp_path / "home", emu, shop_factory=factory()) as engine:
        await set_options(engine, run_timeout=0.5)  # request_timeout stays 60 s
        summary = await engine.run_sync("shop1", "orders")
        await assert_failed_cleanly(engine, emu, summary, "(0.5 s, run_timeout) is used up",
                                    "--run-timeout")


@pytest.mark.parametrize("status", [503, 429])
async def test_retry_after_86400_is_capped_told_and_ends(tmp_path: Path, emu, status) -> None:
    emu.state.faults.add(kind="retry_after", status=status, retry_after=86400,
                         resource="orders")
    async with engine_for(tmp_path / "home", emu, shop_factory=factory()) as engine:
        await set_options(engine, retry_after_cap=0.05)
        summary = await engine.run_sync("shop1", "orders")
        text = await assert_failed_cleanly(engine, emu, summary, f"(HTTP {status}) after 3 "
                                           "attempts, asking to retry after 86400 s",
                                           "--retry-after-cap")
    host = emu.url.split("//")[1].rstrip("/")
    wait = (f"{host} answered {status} to GET orders with Retry-After 86400 s; waiting 0.05 s "
            "(cap, option retry_after_cap), then attempt")
    assert text.count(wait) >= 2, text


# ------------------------------------------------------------------ the command line


async def test_cli_sync_with_retry_after_86400(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    r = await asincro(home, "account", "add", "shop1", "--url", emu.url, "--key", emu.key)
    assert r.code == 0, r.err
    r = await asincro(home, "account", "edit", "shop1", "--retry-after-cap", "0.05",
                      "--request-timeout", "20", "--run-timeout", "600", "--max-response-mb",
                      "8")
    assert r.code == 0, r.err
    shown = json.loads((await asincro(home, "account", "show", "shop1", "--json")).out)
    assert {k: shown["options"][k] for k in ("retry_after_cap", "request_timeout",
                                              "run_timeout", "max_response_mb")} == {
        "retry_after_cap": 0.05, "request_timeout": 20, "run_timeout": 600,
        "max_response_mb": 8}
    emu.state.faults.add(kind="retry_after", retry_after=86400, resource="orders")
    r = await asincro(home, "sync", "shop1", "--orders")
    assert r.code == 1
    assert "Traceback" not in r.out + r.err and emu.key not in r.out + r.err
    assert "Retry-After 86400 s; waiting 0.05 s (cap, option retry_after_cap)" in r.out + r.err
    runs = json.loads((await asincro(home, "runs", "--json")).out)
    assert runs[0]["outcome"] == "failed" and len(runs[0]["errors"]) == 1
    assert "(HTTP 503) after 5 attempts, asking to retry after 86400 s" in runs[0]["errors"][0]
    async with aiosqlite.connect(home / "hub.db") as hub:
        leases = await (await hub.execute("SELECT COUNT(*) FROM leases")).fetchone()
    assert leases[0] == 0, "the lease is released"


BAD_FLAGS = [
    ("--max-response-mb", "0"), ("--max-response-mb", "2048"), ("--request-timeout", "-5"),
    ("--request-timeout", "soon"), ("--run-timeout", "nan"), ("--run-timeout", "1e9"),
    ("--retry-after-cap", "inf"), ("--retry-after-cap", ""),
]


async def test_bad_limit_flags_are_refused_with_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    r = await asincro(home, "account", "add", "shop1", "--url", "https://shop.example",
                      "--key", "A" * 32)
    assert r.code == 0, r.err
    before = json.loads((await asincro(home, "account", "show", "shop1", "--json")).out)
    for flag, value in BAD_FLAGS:
        r = await asincro(home, "account", "edit", "shop1", flag, value)
        assert r.code == 2, (flag, value, r)
        assert_clean_error(r, flag)
        assert len([line for line in r.err.splitlines() if line.strip()]) == 1, r.err
    after = json.loads((await asincro(home, "account", "show", "shop1", "--json")).out)
    assert after["options"] == before["options"], "the hub is unchanged"
