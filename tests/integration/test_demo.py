"""`sincro demo`: the demo shop, its two accounts and the ERP catalogue."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.helpers import asincro
from tests.hubs import erp_exists, hub_exists, on_postgres

# the demo keeps its data in SQLite files of its home, whatever SINCRO_HUB says: read them
FILES = {"SINCRO_HUB": ""}


def ctrl_c_on() -> None:
    """A shell runs background jobs with SIGINT ignored, and a child inherits that: Python
    then never turns ctrl+c into KeyboardInterrupt. The demo must get ctrl+c as a person
    at the terminal would send it, however the test suite itself was started."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def stop_or_explain(proc: asyncio.subprocess.Process) -> None:
    """ctrl+c stops the demo; if it does not within 30 s, fail with where each thread was."""
    proc.send_signal(signal.SIGINT)
    output = asyncio.ensure_future(proc.communicate())  # drained all along: no full pipe
    try:
        await asyncio.wait_for(asyncio.shield(output), 30)
    except TimeoutError:
        proc.send_signal(signal.SIGABRT)
        _, err = await output
        pytest.fail("sincro demo did not stop within 30 s of ctrl+c; its threads:\n"
                    + err.decode(errors="replace")[-6000:])


async def test_demo_prepares_a_healthy_and_a_limited_account(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items()  # SINCRO_HUB too: the demo leaves it alone
           if not k.startswith("SINCRO_") or k == "SINCRO_HUB"}
    env["PYTHONFAULTHANDLER"] = "1"  # if it hangs on ctrl+c, SIGABRT shows where
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "--home", str(home), "demo", "--no-console",
        "--orders-every", "0", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env, preexec_fn=ctrl_c_on)
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert "demo shop at http://127.0.0.1:" in line, line
        accounts = json.loads((await asincro(home, "account", "list", "--json",
                                             env=FILES)).out)
        assert [a["name"] for a in accounts] == ["demo", "demo-limited"]
        ok = await asincro(home, "sync", "demo", "--orders", "--json", env=FILES)
        assert ok.code == 0, ok.err
        counts = json.loads(ok.out)["counts"]
        assert counts["documents_inserted"] > 20
        assert counts.get("articles_created", 0) == 0  # the ERP catalogue has them all
        limited = await asincro(home, "sync", "demo-limited", "--orders", env=FILES)
        assert limited.code == 1
        assert "customers" in limited.out + limited.err
        assert "Webservice" in limited.out + limited.err
        shown = json.loads((await asincro(home, "schedule", "show", "demo", "--json",
                                          env=FILES)).out)
        assert shown["schedule"]["kind"] == "cron"
        assert (home / "hub.db").exists() and (home / "erp.db").exists()
        if on_postgres():  # SINCRO_HUB's database is left as it was: empty
            assert not hub_exists(home) and not erp_exists(home)
    finally:
        await stop_or_explain(proc)


async def test_account_test_reports_version_and_missing_permissions(tmp_path: Path) -> None:
    from emulator.data import KeySpec, generate
    from emulator.server import EmulatorServer

    state = generate(3, seed=1)
    limited = "LIMITED" + "C" * 25
    state.keys[limited] = KeySpec(limited, permissions={
        **state.keys[state.key].permissions, "customers": frozenset()})
    async with EmulatorServer(state) as emu:
        home = tmp_path / "home"
        for name, key in (("full", emu.key), ("limited", limited)):
            r = await asincro(home, "account", "add", name, "--tax-map", "0=N4", "--url", emu.url, "--key", key)
            assert r.code == 0, r.err
        ok = await asincro(home, "account", "test", "full")
        assert ok.code == 0 and "PrestaShop 1.6" in ok.out, ok.out + ok.err
        bad = await asincro(home, "account", "test", "limited", "--json")
        assert bad.code == 1
        assert json.loads(bad.out)["missing"] == {"customers": ["GET"]}


async def test_the_demo_shop_serves_orders_of_the_last_weeks() -> None:
    """After the demo shop loads, its newest order is within the last day, its oldest within
    the last two months (and not within the last week: the orders span weeks)."""
    from cli.commands.demo import DemoShop
    from emulator.dates import FORMAT

    shop = await asyncio.to_thread(DemoShop(0, 0).start)
    try:
        now = shop.state.clock()
        dates = sorted(datetime.strptime(o["date_add"], FORMAT)
                       for o in shop.state.tables["orders"].values())
        assert now - timedelta(days=1) < dates[-1] <= now
        assert now - timedelta(days=60) < dates[0] < now - timedelta(days=7)
        async with httpx.AsyncClient(auth=(shop.key, "")) as client:
            r = await client.get(f"{shop.url.rstrip('/')}/api/orders", params={
                "output_format": "JSON", "display": "[id,date_add]", "sort": "[id_DESC]",
                "limit": "1"})
        r.raise_for_status()
        assert r.json()["orders"][0]["date_add"] == dates[-1].strftime(FORMAT)
    finally:
        await asyncio.to_thread(shop.stop)
