"""The PostgreSQL hub shared by several daemons (docs/HUB.md): each due run claimed once,
an account never run in two places at once, a killed daemon's accounts taken over and its
half-done runs resumed exactly once; `sincro daemons`; a hub that cannot be reached."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from core import accounts as acc
from core.engine import Engine
from core.schedule import Schedule
from core.schedules_store import save_schedule
from emulator.data import add_generated_orders, generate
from emulator.server import EmulatorServer
from tests import pg
from tests.helpers import asincro, assert_clean_error, sincro
from tests.hubs import hub_rows
from tests.synctools import assert_erp_holds_each_importable_order_once

pytestmark = pytest.mark.postgresql_only

ACCOUNTS = 60
SPEED = 5.0  # the daemons' schedules run 5x faster: 5 minutes of schedules in 60 s


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SINCRO_") or k == "SINCRO_HUB"}
    env["SINCRO_HOME"] = str(home)
    env.update(extra)
    return env


async def _daemon(home: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "--daemon", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)


async def _collect(proc: asyncio.subprocess.Process, into: list[str],
                   started: asyncio.Event) -> None:
    assert proc.stdout is not None
    while raw := await proc.stdout.readline():
        line = raw.decode().rstrip()
        into.append(line)
        if "daemon started" in line:
            started.set()


def _fields(line: str) -> dict[str, str]:
    return {m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
            for m in re.finditer(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|(\S*))', line)}


@pytest.mark.timeout(600)
async def test_three_daemons_share_sixty_accounts_and_one_is_killed(tmp_path: Path) -> None:
    """Acceptance 2 of issue 19: 3 daemons, 60 accounts on every-minute schedules, 5
    minutes (compressed 5x), one daemon SIGKILLed in the middle."""
    home = tmp_path / "home"
    state = generate(5, seed=19)
    async with EmulatorServer(state) as emu:
        names = [f"shop{i:02d}" for i in range(ACCOUNTS)]
        async with Engine(home, notify=False) as engine:
            for name in names:
                account = await acc.add_account(engine.hub, acc.build_account(
                    name, emu.url, key=emu.key, tz="Europe/Rome",
                    options={"tax_map": {"0": "N4"}}))
                assert account.id is not None
                await save_schedule(engine.hub, account.id,
                                    Schedule("cron", tz="Europe/Rome", cron="* * * * *"))
        env = _env(home, SINCRO_TIME_SPEED=str(SPEED), SINCRO_TIME_EPOCH=str(time.time()))
        procs = [await _daemon(home, env) for _ in range(3)]
        outs: list[list[str]] = [[] for _ in procs]
        ready = [asyncio.Event() for _ in procs]
        readers = [asyncio.create_task(_collect(p, o, e)) for p, o, e in zip(procs, outs, ready, strict=True)]
        try:
            async with asyncio.timeout(120):
                await asyncio.gather(*(e.wait() for e in ready))
            t0 = time.monotonic()
            # 5 schedule minutes = 60 s; orders keep coming, one daemon dies at the middle
            await asyncio.sleep(20)
            add_generated_orders(state, 3)
            live = json.loads(sincro(home, "daemons", "--json").out)
            assert {d["pid"] for d in live} == {p.pid for p in procs}
            assert all(d["alive"] for d in live)
            await asyncio.sleep(10)
            procs[0].send_signal(signal.SIGKILL)
            await procs[0].wait()
            add_generated_orders(state, 3)
            await asyncio.sleep(max(0.0, 60 - (time.monotonic() - t0)))
            live = json.loads(sincro(home, "daemons", "--json").out)
            assert {d["pid"] for d in live} == {p.pid for p in procs[1:]}
        finally:
            for p in procs[1:]:
                if p.returncode is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                await asyncio.wait_for(p.wait(), 120)
            await asyncio.gather(*readers, return_exceptions=True)
        for p in procs[1:]:
            assert p.returncode == 0
            assert p.stderr is not None
            assert (await p.stderr.read()).decode() == ""

        # each due run claimed by exactly one daemon: started, or skipped with its reason
        claimed: Counter[tuple[str, str]] = Counter()
        started_by: dict[str, set[int]] = defaultdict(set)
        for i, lines in enumerate(outs):
            for line in lines:
                f = _fields(line)
                m = re.match(r"scheduled run of (\S+) due (\S+) (starts|skipped)", f.get("msg", ""))
                if m:
                    claimed[(m.group(1), m.group(2))] += 1
                    if m.group(3) == "starts":
                        started_by[m.group(1)].add(i)
        twice = [k for k, n in claimed.items() if n > 1]
        assert not twice, twice[:5]
        per_account = Counter(account for account, _ in claimed)
        assert set(per_account) == set(names)
        assert min(per_account.values()) >= 3, per_account  # 5 minutes of every minute
        # the killed daemon's accounts were taken over by the others
        first = {a for a, who in started_by.items() if 0 in who}
        assert first and all(who - {0} for a, who in started_by.items() if a in first)

        # no account ever ran twice at once (the runs of each, end to start)
        runs = hub_rows(home, "SELECT a.name, r.started_at, r.ended_at, r.outcome FROM runs r "
                              "JOIN accounts a ON a.id = r.account_id ORDER BY a.name, r.id")
        by_account: dict[str, list[tuple[str, str | None, str | None]]] = defaultdict(list)
        for name, start, end, outcome in runs:
            by_account[name].append((start, end, outcome))
        for name, items in by_account.items():
            for (_, e1, _), (s2, _, _) in zip(items, items[1:], strict=False):
                assert e1 is not None and datetime.fromisoformat(s2) >= datetime.fromisoformat(
                    e1), (name, items)
        outcomes = Counter(r[3] for r in runs)
        assert outcomes["interrupted"] <= ACCOUNTS and set(outcomes) <= {"ok", "interrupted"}, \
            outcomes

        # every importable order in the ERP exactly once, for every account (one more run
        # each, by hand, takes in the orders that came after an account's last run)
        for name in names:  # (asincro: the emulator serves from this test's event loop)
            result = await asincro(home, "sync", "--orders", "--quiet", name)
            assert result.code == 0, result
        for name in names:
            await assert_erp_holds_each_importable_order_once(home, state, account=name)


def test_a_hub_that_is_down_or_refuses_the_password_is_one_line_exit_2(
        tmp_path: Path) -> None:
    """Acceptance 4: the URL is named without its password; exit 2; no traceback."""
    cluster = pg.cluster()
    assert cluster is not None
    url = os.environ["SINCRO_HUB"]
    wrong = cluster.url(url.rsplit("/", 1)[1], password="not-the-password")
    down = f"postgresql://sincro:{pg.PASSWORD}@127.0.0.1:{pg.free_port()}/sincro"
    for hub, why in ((wrong, "password authentication failed"), (down, "refused")):
        for args in (("account", "list"), ("--daemon",)):
            result = sincro(tmp_path / "home", *args, env={"SINCRO_HUB": hub}, timeout=60)
            assert result.code == 2, result
            assert_clean_error(result, "postgresql://sincro@127.0.0.1", why)
            assert pg.PASSWORD not in result.err + result.out
            assert "not-the-password" not in result.err + result.out
            assert len([line for line in result.err.splitlines() if line.strip()]) == 1


def test_daemons_lists_none_then_says_how_to_start_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = sincro(home, "daemons")
    assert result.code == 0 and "no daemon runs on this hub" in result.out
    assert json.loads(sincro(home, "daemons", "--json").out) == []


async def test_a_lost_connection_fails_one_statement_then_the_hub_reconnects(
        tmp_path: Path) -> None:
    """PostgreSQL restarted or the network cut: the statement under way fails in one clear
    error, and the next one works on a new connection (a daemon goes on by itself)."""
    from core.errors import StoreError
    from core.store.hub import open_hub

    hub = await open_hub(tmp_path / "hub.db")
    try:
        assert await hub.scalar("SELECT COUNT(*) FROM accounts") == 0
        cluster = pg.cluster()
        assert cluster is not None
        cluster.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      f"WHERE datname = '{os.environ['SINCRO_HUB'].rsplit('/', 1)[1]}'")
        with pytest.raises(StoreError, match="terminating connection") as caught:
            await hub.scalar("SELECT COUNT(*) FROM accounts")
        assert pg.PASSWORD not in str(caught.value)
        assert await hub.scalar("SELECT COUNT(*) FROM accounts") == 0
        async with hub.transaction() as conn:
            await conn.execute("INSERT INTO settings (name, value) VALUES ('x', 'y')")
        assert await hub.scalar("SELECT value FROM settings WHERE name = 'x'") == "y"
    finally:
        await hub.close()
