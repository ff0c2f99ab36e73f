"""Shop text never reaches a terminal raw (issue 20, item 2; acceptance 2).

A shop whose order references, customer names and product names hold escape sequences
(colour, a window title ending in BEL, clear screen), and whose error answers quote
them: a real sync against the emulator, then `sincro sync -v`, `sincro logs`, the
daemon's log lines and e-mail notice, and the console's screens under Pilot. No ESC
byte (nor BEL) comes out anywhere; the text is shown with its escapes written out, and
the hub keeps exactly what the shop sent.
"""

from __future__ import annotations

import asyncio
import json
import signal
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from core.engine import Engine
from core.textsafe import visible
from emulator.data import load_dir
from emulator.server import EmulatorServer
from tests.helpers import asincro
from tests.hubs import hub_rows
from tests.integration.test_notify import free_port
from tests.synctools import fast_shop_factory

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
HOSTILE = "\x1b[31mRED\x1b]0;pwned\x07\x1b[2J"
SHOWN = visible(HOSTILE)  # \x1b[31mRED\x1b]0;pwned\x07\x1b[2J, written out
RAW = ("\x1b", "\x07", "\x9b")


def assert_clean(where: str, text: str) -> None:
    for ch in RAW:
        assert ch not in text, f"{where}: raw {ch!r} in {text[max(0, text.find(ch) - 80):][:200]!r}"


def make_hostile(state, n: int = 5) -> dict[str, set[int]]:
    """The first n orders get a hostile reference, their customers hostile names, their
    products hostile names: written straight into the emulator's tables."""
    orders = sorted(state.table("orders"))[:n]
    customers, products = set(), set()
    for oid in orders:
        o = state.table("orders")[oid]
        o["reference"] = f"R{oid}{HOSTILE}"
        customers.add(int(o["id_customer"]))
        for row in state.assoc_items("orders", o, "order_rows"):
            products.add(int(row["product_id"]))
    for d in state.table("order_details").values():
        if int(d["id_order"]) in orders:
            d["product_name"] = f"Mug{HOSTILE} (EN)"
    for cid in customers:
        c = state.table("customers")[cid]
        c["firstname"] = f"Ann{HOSTILE}"
        c["lastname"] = f"Lee\u202eevil{HOSTILE}"
    for pid in products:
        p = state.table("products")[pid]
        p["name"] = {lang: f"Mug{HOSTILE}" for lang in (p["name"] if isinstance(p["name"], dict)
                                                          else state.lang_ids)}
    return {"orders": set(orders), "customers": customers, "products": products}


class Inbox:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.messages: asyncio.Queue = asyncio.Queue()

    async def handle_DATA(self, server, session, envelope):
        self.loop.call_soon_threadsafe(self.messages.put_nowait, envelope.content)
        return "250 OK"


@pytest.fixture
async def inbox():
    box = Inbox(asyncio.get_running_loop())
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port, ready_timeout=10)
    controller.start()
    yield box
    controller.stop()


def raw_screen(app) -> str:
    """Every character the console would draw now (all layers, toasts included)."""
    strips = app.screen._compositor.render_strips()
    return "".join(segment.text for strip in strips for segment in strip)


async def test_no_escape_reaches_a_terminal_or_a_log(tmp_path: Path, inbox) -> None:
    home = tmp_path / "home"
    state = load_dir(SAMPLE)
    hostile = make_hostile(state)
    async with EmulatorServer(state) as emu:
        add = await asincro(home, "account", "add", "shop1", "--url", emu.url, "--key", emu.key,
                            "--tz", "Europe/Rome")
        assert add.code == 0, add.err

        # the dry run names orders, customers and articles: every hostile field
        dry = await asincro(home, "sync", "shop1", "--orders", "--dry-run", "-v")
        assert dry.code == 0, dry.err
        assert_clean("sync --dry-run -v", dry.out + dry.err)
        assert f"R{min(hostile['orders'])}{SHOWN}" in dry.out
        assert f"Ann{SHOWN}" in dry.out and "\\u202e" in dry.out

        sync = await asincro(home, "sync", "shop1", "--orders", "-v")
        assert sync.code in (0, 1) and "Traceback" not in sync.err, sync.err  # (1: the ERP
        assert "orders sync of shop1" in sync.out  # refused some; not this test's business)
        assert_clean("sync -v", sync.out + sync.err)
        assert f"R{min(hostile['orders'])}{SHOWN}" in sync.out  # shown, escapes written out

        runs = json.loads((await asincro(home, "runs", "--json")).out)
        run_id = str(runs[0]["id"])
        logs = await asincro(home, "logs", run_id)
        assert logs.code == 0, logs.err
        assert_clean("logs", logs.out + logs.err)
        assert SHOWN in logs.out
        as_json = await asincro(home, "logs", run_id, "--json")
        assert_clean("logs --json", as_json.out)
        assert any(HOSTILE in line["message"] for line in json.loads(as_json.out))

        for argv in (["runs"], ["erp", "customers"], ["erp", "articles"], ["erp", "documents"],
                     ["account", "show", "shop1"], ["reconcile", "shop1"], ["review", "shop1"]):
            r = await asincro(home, *argv)
            assert "Traceback" not in r.err, (argv, r.err)
            assert_clean(" ".join(argv), r.out + r.err)

        # the hub keeps what the shop sent, byte for byte
        refs = {r[0] for r in hub_rows(home, "SELECT reference FROM orders")}
        assert f"R{min(hostile['orders'])}{HOSTILE}" in refs

        # now the shop quotes hostile text in its errors: the daemon's run says so
        state.faults.add(kind="status", resource="customers", method="GET", status=400,
                         body=json.dumps({"errors": [{"code": 1,  # \u001b in JSON text
                                                       "message": f"bad {HOSTILE} customer"}]}))
        await _daemon_run(home, emu, inbox)
        await _console(home)


async def _daemon_run(home: Path, emu, inbox) -> None:
    from dataclasses import replace
    from datetime import timedelta

    from core import accounts as acc
    from core.notices import save_smtp
    from core.notify import SmtpSettings
    from core.schedule import Schedule
    from core.schedules_store import save_schedule, set_next_run
    from core.timeutil import utcnow
    from tests.integration.test_daemon import read_until, start_daemon

    async with Engine(home, notify=False) as engine:
        account = await acc.get_account(engine.hub, "shop1")
        await acc.save_account(engine.hub, replace(
            account, options={**account.options, "recipients": ["office@example.com"]}))
        await save_schedule(engine.hub, account.id, Schedule("cron", tz="Europe/Rome",
                                                             cron="0 3 * * *"))
        await set_next_run(engine.hub, account.id, utcnow() - timedelta(days=1))
        await save_smtp(engine.hub, SmtpSettings(host="127.0.0.1", port=inbox.port,
                                                 security="none", sender="sincro@example.com"))
    for fmt in ("logfmt", "json"):
        daemon = await start_daemon(home, "--log-format", fmt)
        try:
            lines = await read_until(daemon, "run_finished")
        finally:
            daemon.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(daemon.communicate(), 60)
        text = "\n".join(lines) + out.decode() + err.decode()
        assert_clean(f"daemon {fmt}", text)
        assert "pwned" in text, text  # the shop's words are there, shown
        if fmt == "json":
            for line in lines:
                json.loads(line)
        async with Engine(home, notify=False) as engine:  # due again for the next daemon
            account = await acc.get_account(engine.hub, "shop1")
            await set_next_run(engine.hub, account.id, utcnow() - timedelta(days=1))
        raw = await asyncio.wait_for(inbox.messages.get(), 60)
        msg = message_from_bytes(raw, policy=policy.default)
        body = msg.get_body(("plain",)).get_content()
        assert_clean("notice text", body)
        assert "pwned" in body
        for name, value in msg.items():
            assert "\r" not in str(value) and "\n" not in str(value), (name, value)


async def _console(home: Path) -> None:
    from tests.tui.fakes import settle
    from tui.app import SincroApp
    from tui.screens.run_detail import RunDetailScreen

    app = SincroApp(engine_factory=lambda: Engine(home, shop_factory=fast_shop_factory(),
                                                  notify=False, log_retention_days=365_000),
                    tz="Europe/Rome", refresh_every=3600, lines_every=3600)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert_clean("accounts view", raw_screen(app))
        await pilot.press("c")  # a customers sync: the shop answers with hostile errors
        await settle(pilot, skip=("bridge", "run:", "ask:"))
        assert_clean("the question", raw_screen(app))
        await pilot.press("y")
        await settle(pilot)
        screen = raw_screen(app)
        assert_clean("accounts view after a failed run (toast, detail)", screen)
        assert "pwned" in screen
        await pilot.press("2")
        await settle(pilot)
        assert_clean("live log", raw_screen(app))
        for _ in range(3):  # info -> warning -> error -> debug
            await pilot.press("v")
            await settle(pilot)
        assert_clean("live log, debug", raw_screen(app))
        await pilot.press("slash")
        await pilot.press(*"pwned", "enter")
        await settle(pilot)
        screen = raw_screen(app)
        assert_clean("live log search", screen)
        assert "pwned" in screen
        await pilot.press("3")
        await settle(pilot)
        assert_clean("history", raw_screen(app))
        for run_id in (1, 2, 3):
            app.push_screen(RunDetailScreen(run_id))
            await settle(pilot)
            await pilot.press("v")  # and every level once
            await settle(pilot)
            assert_clean(f"run detail {run_id}", raw_screen(app))
            await pilot.press("escape")
            await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        assert_clean("ERP view", raw_screen(app))
        await pilot.press("5")
        await settle(pilot)
        assert_clean("listings view", raw_screen(app))
