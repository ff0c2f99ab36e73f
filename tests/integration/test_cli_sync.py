"""`sincro sync`, `runs`, `logs` as an operator or a script runs them."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from emulator.data import generate
from emulator.server import EmulatorServer
from tests.helpers import asincro, assert_clean_error


@pytest.fixture
async def emu():
    async with EmulatorServer(generate(40, seed=3)) as server:
        yield server


async def _add(home: Path, url: str, *key: str) -> None:
    r = await asincro(home, "account", "add", "shop1", "--tax-map", "0=N4", "--url", url, *key)
    assert r.code == 0, r.err


async def test_sync_json_runs_and_logs(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    await _add(home, emu.url, "--key", emu.key)
    r = await asincro(home, "sync", "shop1", "--orders", "--json")
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert summary["outcome"] == "ok" and summary["kind"] == "orders"
    assert summary["counts"]["orders_imported"] > 0
    assert summary["counts"]["documents_inserted"] == summary["counts"]["orders_imported"]
    runs = json.loads((await asincro(home, "runs", "--json")).out)
    assert runs[0]["id"] == summary["id"] and runs[0]["trigger"] == "cli"
    logs = await asincro(home, "logs", str(summary["id"]))
    assert logs.code == 0 and "orders sync of shop1" in logs.out
    text = await asincro(home, "sync", "shop1", "--orders")
    assert text.code == 0 and "orders sync of shop1: ok" in text.out
    for out in (r.out + r.err, logs.out, text.out + text.err):
        assert emu.key not in out


async def test_key_env_unset_at_use_time(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    await _add(home, emu.url, "--key-env", "SHOP1_KEY_FOR_TEST")
    r = await asincro(home, "sync", "shop1", "--orders")
    assert_clean_error(r, "SHOP1_KEY_FOR_TEST", "not set")
    ok = await asincro(home, "sync", "shop1", "--orders", "--quiet",
                       env={"SHOP1_KEY_FOR_TEST": emu.key})
    assert ok.code == 0, ok.err


async def test_wrong_key_fails_the_run_with_the_shops_message(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    await _add(home, emu.url, "--key", "WRONGKEY" + "A" * 24)
    r = await asincro(home, "sync", "shop1", "--orders")
    assert r.code == 1
    assert "Traceback" not in r.err + r.out
    assert "key" in (r.out + r.err).lower()
    assert "WRONGKEY" + "A" * 24 not in r.out + r.err


async def test_a_permission_missing_on_the_key_is_named(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    limited = "LIMITEDKEY" + "B" * 22
    emu.state.keys[limited] = type(emu.state.keys[emu.key])(
        limited, permissions={"orders": frozenset({"GET", "HEAD"})})
    await _add(home, emu.url, "--key", limited)
    r = await asincro(home, "sync", "shop1", "--orders")
    assert r.code == 1
    assert "customers" in r.out + r.err
    assert "Webservice" in r.out + r.err


async def test_shop_not_listening(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tmp_path / "home"
    await _add(home, f"http://127.0.0.1:{port}/", "--key", "A" * 32)
    r = await asincro(home, "sync", "shop1", "--orders")
    assert r.code == 1 and "Traceback" not in r.err
    assert f"127.0.0.1:{port}" in r.out + r.err


async def test_unknown_account_and_unknown_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert_clean_error(await asincro(home, "sync", "nope", "--orders"), "no account named 'nope'")
    assert_clean_error(await asincro(home, "logs", "999"), "no run with id 999")


async def test_a_run_keeps_its_measured_duration(tmp_path) -> None:
    """started_at/ended_at are kept to the second; the duration shown is the measured one."""
    from core import accounts as acc
    from core.engine import Engine
    from core.runs import get_run
    from emulator.data import generate
    from emulator.server import EmulatorServer

    async with EmulatorServer(generate(3, seed=2)) as emu:
        async with Engine(tmp_path / "home", notify=False) as engine:
            await acc.add_account(engine.hub, acc.build_account("shop1", emu.url, key=emu.key,
                                                                tz="Europe/Rome",
                                                                options={"tax_map": {"0": "N4"}}))
            summary = await engine.run_sync("shop1", "orders")
            stored = await get_run(engine.hub, summary.id)
    assert stored.measured_s is not None and stored.measured_s > 0
    assert stored.duration_s == stored.measured_s == summary.duration_s
