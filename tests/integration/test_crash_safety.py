"""R-4: nothing lost or doubled, whatever fails and whenever the process is killed."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from core import accounts as acc
from core.erp.embedded import EmbeddedErp
from core.store.hub import open_hub
from emulator.data import add_generated_orders, add_generated_slips, generate
from emulator.server import EmulatorServer
from tests.hubs import hub_rows
from tests.synctools import (
    assert_erp_holds_each_importable_order_once,
    assert_erp_holds_each_slip_once,
    engine_for,
)

TRIALS = 20


async def _sync_process(home: Path, *args: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SINCRO_") or k == "SINCRO_HUB"}
    env["SINCRO_HOME"] = str(home)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "sync", "shop1", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env)


@pytest.mark.timeout(600)  # 21 processes: a net for a machine shared with other work
async def test_sigkill_at_random_moments_loses_and_doubles_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261128)
    home = tmp_path / "home"
    state = generate(400, seed=9)
    async with EmulatorServer(state) as emu:
        state.faults.add(kind="latency", seconds=0.002)
        home.mkdir(mode=0o700)
        hub = await open_hub(home / "hub.db")
        await acc.add_account(hub, acc.build_account("shop1", emu.url, key=emu.key, tz="Europe/Rome",
                                                   options={"tax_map": {"0": "N4"}}))
        await hub.close()
        kills = completed = 0
        for trial in range(TRIALS):
            # new orders keep arriving between crashes, as on a live shop
            if trial:
                add_generated_orders(state, 40, seed=trial)
            # and refunds (issue 16): each must become exactly one credit note
            add_generated_slips(state, trial, share=0.05)
            proc = await _sync_process(home, "--orders", "--verbose")
            target = rng.randint(1, 100)
            seen = 0
            while seen < target:
                line = await proc.stdout.readline()
                if not line:
                    break
                seen += 1
            if proc.returncode is None and seen >= target:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            await proc.wait()
            if proc.returncode == 0:
                completed += 1
        assert kills >= TRIALS // 2, (kills, completed)
        # and once more to the end
        final = await _sync_process(home, "--orders", "--quiet")
        await final.communicate()
        assert final.returncode == 0
        await assert_erp_holds_each_importable_order_once(home, state)
        assert len(state.tables["order_slip"]) > TRIALS
        await assert_erp_holds_each_slip_once(home, state)
        # the kills fell on customers merging by e-mail too (issue 15): guests with the
        # e-mail of an account, or of each other, are one ERP customer, never two
        groups = hub_rows(home, "SELECT lower(trim(email)), COUNT(*), COUNT(DISTINCT erp_ref), "
                                "MIN(is_guest), MAX(is_guest) FROM customers GROUP BY 1")
        assert all(refs == 1 for _, _, refs, _, _ in groups)
        assert any(n > 1 and lo == 0 and hi == 1 for _, n, _, lo, hi in groups)
        erp = await EmbeddedErp.open(home / "erp.db")
        try:
            emails = Counter((c.email or "").lower() for c in await erp.list_customers())
        finally:
            await erp.close()
        assert max(emails.values()) == 1


@pytest.mark.timeout(600)
async def test_sigkill_during_refunds_makes_each_slip_one_credit_note(tmp_path: Path) -> None:
    """The kills above fall mostly on the import; here each falls inside the refunds step
    (issue 16): after a random number of its lines, between the ERP's credit note and the
    hub's record of it too."""
    rng = random.Random(20261203)
    home = tmp_path / "home"
    state = generate(300, seed=16)
    async with EmulatorServer(state) as emu:
        state.faults.add(kind="latency", seconds=0.002)
        home.mkdir(mode=0o700)
        hub = await open_hub(home / "hub.db")
        await acc.add_account(hub, acc.build_account(
            "shop1", emu.url, key=emu.key, tz="Europe/Rome",
            options={"tax_map": {"0": "N4"}, "refund_returns_goods": True}))
        await hub.close()
        first = await _sync_process(home, "--orders", "--quiet")
        await first.communicate()
        assert first.returncode == 0
        kills = 0
        for trial in range(1, 11):
            add_generated_orders(state, 10, seed=100 + trial)
            assert add_generated_slips(state, trial, share=0.1)
            proc = await _sync_process(home, "--orders", "--verbose")
            target, seen = rng.randint(0, 12), -1
            while seen < target:
                line = await proc.stdout.readline()
                if not line:
                    break
                if seen >= 0 or b"refund" in line:
                    seen += 1
            if proc.returncode is None and seen >= target:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            await proc.wait()
        assert kills >= 5, kills
        final = await _sync_process(home, "--orders", "--quiet")
        await final.communicate()
        assert final.returncode == 0
        await assert_erp_holds_each_importable_order_once(home, state)
        await assert_erp_holds_each_slip_once(home, state)


async def test_shop_faults_during_a_run_then_a_rerun_completes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    state = generate(150, seed=4)
    async with EmulatorServer(state) as emu:
        async with engine_for(home, emu) as engine:
            # customers fail for longer than the client's retries: the run fails, clearly
            state.faults.add(kind="status", status=503, resource="customers", count=50)
            failed = await engine.run_sync("shop1", "orders")
            assert failed.outcome == "failed"
            assert any("customers" in e and "503" in e for e in failed.errors), failed.errors
            state.faults.clear()
            # a few transient faults of every kind: retried, the run completes
            state.faults.add(kind="status", status=502, resource="orders", count=1)
            state.faults.add(kind="rate_limit", retry_after=0, resource="addresses", count=1)
            state.faults.add(kind="malformed", resource="customers", count=1)
            mixed = await engine.run_sync("shop1", "orders")
            state.faults.clear()
            final = await engine.run_sync("shop1", "orders")
        assert final.outcome == "ok", final.errors
        assert mixed.outcome in ("ok", "failed")
        if mixed.outcome == "failed":
            assert mixed.errors
        await assert_erp_holds_each_importable_order_once(home, state)


async def test_timeouts_fail_the_run_with_a_clear_message(tmp_path: Path) -> None:
    home = tmp_path / "home"
    state = generate(30, seed=2)
    async with EmulatorServer(state) as emu:
        from tests.synctools import fast_shop_factory

        async with engine_for(home, emu, shop_factory=fast_shop_factory(timeout=0.3)) as engine:
            state.faults.add(kind="timeout", resource="orders", count=10)
            summary = await engine.run_sync("shop1", "orders")
            assert summary.outcome == "failed"
            assert any("did not answer" in e or "timed out" in e or "timeout" in e.lower()
                       for e in summary.errors), summary.errors
            state.faults.clear()
            again = await engine.run_sync("shop1", "orders")
        assert again.outcome == "ok"
        await assert_erp_holds_each_importable_order_once(home, state)
