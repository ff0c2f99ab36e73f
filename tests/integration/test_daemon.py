"""The daemon (U-2), schedules firing (S-3, S-5), notices (R-2) and the run lease (R-1)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from core import accounts as acc
from core.engine import Engine
from core.locks import AccountBusy
from core.notices import save_smtp
from core.notify import SmtpSettings
from core.schedule import Schedule
from core.schedules_store import save_schedule, set_next_run
from core.timeutil import utcnow
from emulator.data import add_generated_orders, generate
from emulator.server import EmulatorServer
from tests.helpers import asincro
from tests.integration.test_notify import free_port
from tests.synctools import assert_erp_holds_each_importable_order_once


class Inbox:
    """An aiosmtpd handler that wakes the test's event loop on each message."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.messages: asyncio.Queue = asyncio.Queue()

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        self.loop.call_soon_threadsafe(self.messages.put_nowait, (envelope.rcpt_tos, msg))
        return "250 OK"


@pytest.fixture
async def inbox():
    box = Inbox(asyncio.get_running_loop())
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    box.port = port
    yield box
    controller.stop()


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SINCRO_") or k == "SINCRO_HUB"}
    env["SINCRO_HOME"] = str(home)
    return env


async def start_daemon(home: Path, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "--daemon", *extra, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=_env(home))


async def read_until(proc, needle: str, limit: float = 60) -> list[str]:
    lines: list[str] = []
    async with asyncio.timeout(limit):
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                raise AssertionError(f"daemon ended before {needle!r}: {lines}")
            line = raw.decode().rstrip()
            lines.append(line)
            if needle in line:
                return lines


async def prepare(home: Path, emu, *, due_now: bool = True, recipients=(), smtp_port=None):
    async with Engine(home, notify=False) as engine:
        account = await acc.add_account(engine.hub, acc.build_account(
            "shop1", emu.url, key=emu.key, tz="Europe/Rome",
            options={"recipients": list(recipients), "tax_map": {"0": "N4"}}))
        await save_schedule(engine.hub, account.id, Schedule("cron", tz="Europe/Rome",
                                                             cron="0 3 * * *"))
        if due_now:  # a run missed while nothing was running: ten of them
            await set_next_run(engine.hub, account.id, utcnow() - timedelta(days=10))
        if smtp_port:
            await save_smtp(engine.hub, SmtpSettings(host="127.0.0.1", port=smtp_port,
                                                     security="none", sender="sincro@example.com"))


async def test_daemon_runs_a_missed_schedule_once_and_sends_the_notice(
        tmp_path: Path, inbox) -> None:
    home = tmp_path / "home"
    state = generate(60, seed=21)
    async with EmulatorServer(state) as emu:
        await prepare(home, emu, recipients=["office@example.com"], smtp_port=inbox.port)
        daemon = await start_daemon(home)
        try:
            lines = await read_until(daemon, "event=run_finished")
            rcpts, msg = await asyncio.wait_for(inbox.messages.get(), 30)
        finally:
            daemon.send_signal(signal.SIGTERM)
            out, err = await daemon.communicate()
        assert daemon.returncode == 0, err.decode()
        assert err.decode() == ""  # every line in the daemon's format, on its output, once
        assert sum("event=run_started" in line for line in lines) == 1  # once, not ten times
        finished = lines[-1]
        assert "outcome=ok" in finished and "kind=scheduled" in finished
        assert rcpts == ["office@example.com"]
        assert "shop1" in msg["Subject"] and "ok" in msg["Subject"]
        body = msg.get_body(("plain",)).get_content()
        assert "orders" in body.lower()
        assert msg.get_body(("html",)) is not None
        assert emu.key not in "\n".join(lines) + out.decode() + err.decode()
        await assert_erp_holds_each_importable_order_once(home, state)


async def test_sigterm_mid_run_exits_zero_and_a_restart_loses_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    state = generate(300, seed=22)
    async with EmulatorServer(state) as emu:
        state.faults.add(kind="latency", seconds=0.03)
        await prepare(home, emu)
        daemon = await start_daemon(home, "--grace", "0.2", "--log-format", "json")
        await read_until(daemon, '"run_started"')
        daemon.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(daemon.communicate(), 30)
        assert daemon.returncode == 0, err.decode()
        assert '"daemon stopped"' in out.decode()
        state.faults.clear()
        add_generated_orders(state, 20, seed=5)
        async with Engine(home, notify=False) as engine:
            summary = await engine.run_sync("shop1", "orders")
        assert summary.outcome == "ok"
        await assert_erp_holds_each_importable_order_once(home, state)


@pytest.mark.sqlite_only  # on PostgreSQL daemons share the hub: tests/integration/test_hub_postgres.py
async def test_a_second_daemon_refuses_to_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with EmulatorServer(generate(5, seed=1)) as emu:
        await prepare(home, emu, due_now=False)
        first = await start_daemon(home)
        try:
            await read_until(first, "daemon started")
            second = await start_daemon(home)
            out, err = await asyncio.wait_for(second.communicate(), 30)
            assert second.returncode != 0
            assert "another Sincro daemon" in err.decode()
            assert "Traceback" not in err.decode()
        finally:
            first.send_signal(signal.SIGTERM)
            await first.communicate()
        assert first.returncode == 0


async def test_a_cli_sync_is_refused_while_the_daemon_runs_the_account(tmp_path: Path) -> None:
    home = tmp_path / "home"
    state = generate(300, seed=23)
    async with EmulatorServer(state) as emu:
        await prepare(home, emu)
        # the shop holds every answer until the fault is removed: the daemon's run is
        # under way, and stays so, from the first request it makes
        held = state.faults.add(kind="hold")
        daemon = await start_daemon(home)
        try:
            await read_until(daemon, "event=run_started")
            await asyncio.wait_for(held.reached.wait(), 60)
            result = await asincro(home, "sync", "shop1", "--orders")
            assert result.code == 1
            assert "account shop1 is busy" in result.err and "scheduled" in result.err
            assert f"process {daemon.pid}" in result.err
        finally:
            daemon.send_signal(signal.SIGKILL)
            await daemon.wait()
        # the owner is dead: its lease does not hold the account any more
        state.faults.clear()
        async with Engine(home, notify=False) as engine:
            summary = await engine.run_sync("shop1", "orders")
            assert summary.outcome == "ok"
            runs = await engine.hub.fetchall("SELECT outcome FROM runs ORDER BY id")
        assert runs[0]["outcome"] == "interrupted"
        await assert_erp_holds_each_importable_order_once(home, state)


async def test_a_lease_of_a_dead_owner_elsewhere_expires_within_its_ttl(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with EmulatorServer(generate(5, seed=1)) as emu:
        await prepare(home, emu, due_now=False)
        async with Engine(home, notify=False) as engine:
            account = await acc.get_account(engine.hub, "shop1")
            now = utcnow()
            async with engine.hub.transaction() as conn:
                await conn.execute(
                    "INSERT INTO leases (account_id, owner, pid, host, what, acquired_at, "
                    "heartbeat_at, expires_at) VALUES (?, 'other', 1, 'elsewhere', "
                    "'orders sync (console)', ?, ?, ?)",
                    (account.id, now.isoformat(), now.isoformat(),
                     (now + timedelta(seconds=30)).isoformat()))
            with pytest.raises(AccountBusy, match="process 1 on elsewhere"):
                await engine.run_sync("shop1", "orders")
            async with engine.hub.transaction() as conn:  # 30 s later, no heartbeat
                await conn.execute("UPDATE leases SET expires_at = ?",
                                   ((now - timedelta(seconds=1)).isoformat(),))
            summary = await engine.run_sync("shop1", "orders")
        assert summary.outcome == "ok"
