"""ERP document states back to the shop (S-4), over loopback against the emulator.

Orders are imported and pushed into the embedded ERP by a real orders sync; the
ERP's documents are then shipped, invoiced or cancelled with ``set_state`` and
the ``states`` sync posts the mapped shop states through ``order_histories``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace

import httpx
import pytest

from core import accounts as acc
from core.engine import Engine
from core.prestashop.client import PrestaShopClient
from core.runs import run_log
from core.sync import states as states_mod
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.helpers import assert_clean_error, sincro

MAP = {"shipped": 4, "invoiced": 5, "cancelled": 6}


class Killed(BaseException):
    """Stands for the process dying: nothing in the step catches it."""


@dataclass
class Env:
    emu: EmulatorServer
    engine: Engine
    side: httpx.AsyncClient

    @property
    def shop(self):
        return self.emu.state

    async def erp(self):
        return await self.engine.erp()

    async def counts(self) -> dict:
        return (await self.side.get("requests")).json()

    async def reset_counts(self) -> None:
        await self.side.post("requests/reset")

    def posts(self) -> int:
        return self.shop.requests.get(("POST", "order_histories"), 0)

    def state_of(self, order_id: int) -> int:
        return int(self.shop.tables["orders"][order_id]["current_state"])

    def histories(self, order_id: int, state_id: int) -> int:
        return sum(1 for h in self.shop.tables["order_histories"].values()
                   if h["id_order"] == str(order_id) and h["id_order_state"] == str(state_id))

    async def open_docs(self) -> list:
        """ERP documents still open whose shop order is not shipped, delivered or cancelled."""
        docs = await (await self.erp()).list_documents("open")
        out = [d for d in reversed(docs)
               if self.state_of(int(d.external_ref.rsplit(":", 1)[1])) not in (4, 5, 6)]
        assert len(out) >= 3, "the seeded shop should have open orders"
        return out


def oid(doc) -> int:
    return int(doc.external_ref.rsplit(":", 1)[1])


@pytest.fixture
async def env(tmp_path):
    async with EmulatorServer(generate(12, seed=3)) as emu:
        async with Engine(tmp_path / "home", notify=False) as engine:
            await acc.add_account(engine.hub, acc.build_account(
                "shop1", emu.url, key=emu.key, tz="Europe/Rome", options={"state_map": MAP, "tax_map": {"0": "N4"}}))
            summary = await engine.run_sync("shop1", "orders")
            assert summary.outcome == "ok", summary.errors
            async with httpx.AsyncClient(base_url=emu.url + "_emulator/") as side:
                yield Env(emu, engine, side)


async def log_text(env: Env, run_id: int) -> str:
    return "\n".join(m for _i, _at, _lvl, m in await run_log(env.engine.hub, run_id))


async def test_each_event_posts_the_mapped_state_once(env, monkeypatch):
    monkeypatch.setattr(states_mod, "PAGE", 3)  # 4 changes: two pages, the cursor moves twice
    erp = await env.erp()
    a, b, c = (await env.open_docs())[:3]
    await erp.set_state(a.number, "shipped")
    await erp.set_state(a.number, "invoiced")  # invoiced after shipped: the later one stays
    await erp.set_state(b.number, "cancelled")
    await erp.set_state(c.number, "invoiced")
    await env.reset_counts()

    s = await env.engine.run_sync("shop1", "states")
    assert s.outcome == "ok", s.errors
    assert s.counts["states_pushed"] == 4
    assert env.posts() == 4
    assert env.state_of(oid(a)) == 5 and env.histories(oid(a), 4) == 1
    assert env.histories(oid(a), 5) == 1
    assert env.state_of(oid(b)) == 6 and env.histories(oid(b), 6) == 1
    assert env.state_of(oid(c)) == 5
    rows = await env.engine.hub.fetchall(
        "SELECT order_id, event, state_id, status, run_id FROM pushed_states ORDER BY order_id")
    assert {(r[0], r[1], r[2], r[3]) for r in rows} == {
        (oid(a), "shipped", 4, "done"), (oid(a), "invoiced", 5, "done"),
        (oid(b), "cancelled", 6, "done"), (oid(c), "invoiced", 5, "done")}
    assert all(r[4] == s.id for r in rows)
    changes, last = await erp.state_changes(None)
    assert len(changes) == 4
    assert await env.engine.hub.scalar("SELECT value FROM cursors WHERE name = 'states'") == last

    # a rerun (and a rerun from the start of the journal) posts nothing
    await env.reset_counts()
    again = await env.engine.run_sync("shop1", "states")
    assert again.outcome == "ok" and not again.counts.get("states_pushed")
    async with env.engine.hub.transaction() as conn:
        await conn.execute("DELETE FROM cursors WHERE name = 'states'")
    again = await env.engine.run_sync("shop1", "states")
    assert again.outcome == "ok" and not again.counts.get("states_pushed")
    assert (await env.counts())["writes"] == 0


async def test_backward_moves_are_refused(env):
    erp = await env.erp()
    a, b = (await env.open_docs())[:2]
    # cancelled on the shop by hand: the ERP shipping it does not ship it again
    r = await env.side.post(f"orders/{oid(a)}/state", json={"state": 6})
    assert r.status_code == 200
    await erp.set_state(a.number, "shipped")
    # delivered on the shop already (5 is also what invoiced maps to): shipped would go back
    r = await env.side.post(f"orders/{oid(b)}/state", json={"state": 5})
    assert r.status_code == 200
    await erp.set_state(b.number, "shipped")
    await env.reset_counts()
    s1 = await env.engine.run_sync("shop1", "states")
    s2 = await env.engine.run_sync("shop1", "states")
    assert env.posts() == 0
    assert env.state_of(oid(a)) == 6 and env.state_of(oid(b)) == 5
    assert not s1.counts.get("states_pushed") and s2.outcome == "ok"
    text = await log_text(env, s1.id) + await log_text(env, s2.id)
    assert f"order {oid(a)}: not moved back to state 4" in text
    assert f"order {oid(b)}: not moved back to state 4" in text
    status = await env.engine.hub.fetchall(
        "SELECT order_id, status FROM pushed_states WHERE event = 'shipped' ORDER BY order_id")
    assert {r[1] for r in status} == {"refused"}


async def test_code_46_after_the_change_counts_as_done(env):
    erp = await env.erp()
    a = (await env.open_docs())[0]
    await erp.set_state(a.number, "shipped")
    r = await env.side.post("faults", json={"kind": "code46", "resource": "order_histories",
                                            "method": "POST", "count": 1})
    assert r.status_code == 201
    await env.reset_counts()
    s = await env.engine.run_sync("shop1", "states")
    assert s.outcome == "ok", s.errors
    assert s.counts["states_pushed"] == 1
    assert env.posts() == 1  # never retried blindly
    assert env.state_of(oid(a)) == 4 and env.histories(oid(a), 4) == 1
    assert "the shop answered an error" in await log_text(env, s.id)
    again = await env.engine.run_sync("shop1", "states")
    assert env.posts() == 1 and not again.counts.get("states_pushed")


async def test_killed_between_post_and_record_posts_nothing_twice(env, monkeypatch):
    erp = await env.erp()
    a, b = (await env.open_docs())[:2]
    await erp.set_state(a.number, "shipped")
    await erp.set_state(b.number, "cancelled")
    real = states_mod._record

    async def dies_after_post(ctx, t, status, note=None):
        if status == "done":
            raise Killed  # the POST went through, the hub never heard of it
        await real(ctx, t, status, note)

    monkeypatch.setattr(states_mod, "_record", dies_after_post)
    await env.reset_counts()
    with pytest.raises(Killed):
        await env.engine.run_sync("shop1", "states")
    assert env.posts() == 1 and env.state_of(oid(a)) == 4
    row = await env.engine.hub.fetchone(
        "SELECT status FROM pushed_states WHERE order_id = ?", (oid(a),))
    assert row[0] == "intent"
    assert await env.engine.hub.scalar("SELECT value FROM cursors WHERE name = 'states'") is None

    monkeypatch.setattr(states_mod, "_record", real)
    s = await env.engine.run_sync("shop1", "states")
    assert s.outcome == "ok", s.errors
    assert env.posts() == 2  # only b's; a was verified by its current_state
    assert env.histories(oid(a), 4) == 1 and env.histories(oid(b), 6) == 1
    rows = await env.engine.hub.fetchall("SELECT status FROM pushed_states")
    assert {r[0] for r in rows} == {"done"}


async def test_killed_after_intent_before_post_posts_once(env, monkeypatch):
    erp = await env.erp()
    a = (await env.open_docs())[0]
    await erp.set_state(a.number, "shipped")
    real = PrestaShopClient.set_order_state

    async def dies_before_post(self, *args, **kwargs):
        raise Killed

    monkeypatch.setattr(PrestaShopClient, "set_order_state", dies_before_post)
    with pytest.raises(Killed):
        await env.engine.run_sync("shop1", "states")
    assert env.posts() == 0
    monkeypatch.setattr(PrestaShopClient, "set_order_state", real)
    s = await env.engine.run_sync("shop1", "states")
    assert s.counts["states_pushed"] == 1 and env.posts() == 1
    assert env.state_of(oid(a)) == 4


async def test_tracking_number_goes_to_order_carriers(env):
    erp = await env.erp()
    a = (await env.open_docs())[0]
    carrier_id = env.shop.next_id("order_carriers")
    env.shop.add("order_carriers", {"id": carrier_id, "id_order": str(oid(a)), "id_carrier": "1",
                                    "weight": "1.000000", "shipping_cost_tax_excl": "5.000000",
                                    "shipping_cost_tax_incl": "6.100000", "tracking_number": ""})
    await erp.set_state(a.number, "shipped", tracking_number="TRK-123")
    s = await env.engine.run_sync("shop1", "states")
    assert s.outcome == "ok", s.errors
    assert env.shop.tables["order_carriers"][carrier_id]["tracking_number"] == "TRK-123"
    assert s.counts["tracking_numbers"] == 1
    await env.reset_counts()
    again = await env.engine.run_sync("shop1", "states")
    assert (await env.counts())["writes"] == 0 and not again.counts.get("tracking_numbers")


async def test_unmapped_event_and_dry_run_write_nothing(env):
    erp = await env.erp()
    account = await acc.get_account(env.engine.hub, "shop1")
    await acc.save_account(env.engine.hub, replace(
        account, options={"state_map": {**MAP, "invoiced": None}}))
    a, b = (await env.open_docs())[:2]
    await erp.set_state(a.number, "invoiced")
    await erp.set_state(b.number, "shipped")
    await env.reset_counts()
    dry = await env.engine.run_sync("shop1", "states", dry_run=True)
    assert (await env.counts())["writes"] == 0
    assert dry.counts["states_pushed"] == 1
    assert await env.engine.hub.scalar("SELECT COUNT(*) FROM pushed_states") == 0
    s = await env.engine.run_sync("shop1", "states")
    assert s.counts["states_pushed"] == 1 and env.posts() == 1
    assert env.state_of(oid(b)) == 4
    assert "no shop state is mapped to invoiced" in await log_text(env, s.id)


async def test_send_email_lets_the_shop_mail_the_customer(env):
    account = await acc.get_account(env.engine.hub, "shop1")
    await acc.save_account(env.engine.hub, replace(
        account, options={**account.options, "send_email": True}))
    a = (await env.open_docs())[0]
    await (await env.erp()).set_state(a.number, "shipped")
    s = await env.engine.run_sync("shop1", "states")
    assert s.counts["states_pushed"] == 1
    mails = (await env.side.get("emails")).json()
    assert [(m["id_order"], m["id_order_state"]) for m in mails] == [(oid(a), 4)]


async def test_a_mapped_state_the_shop_lacks_fails_the_run(env):
    account = await acc.get_account(env.engine.hub, "shop1")
    await acc.save_account(env.engine.hub, replace(
        account, options={"state_map": {**MAP, "shipped": 99}}))
    await (await env.erp()).set_state((await env.open_docs())[0].number, "shipped")
    s = await env.engine.run_sync("shop1", "states")
    assert s.outcome == "failed"
    assert "the shop has no order state 99" in s.errors[0]
    assert env.posts() == 0


async def test_cli_states_and_state_map(tmp_path):
    home = tmp_path / "home"
    async with EmulatorServer(generate(1, seed=3)) as emu:
        def run(*args):
            return asyncio.to_thread(sincro, home, *args)

        r = await run("account", "add", "shop1", "--tax-map", "0=N4", "--url", emu.url, "--key", emu.key,
                      "--tz", "Europe/Rome")
        assert r.code == 0, r.err
        r = await run("account", "states", "shop1")
        assert r.code == 0, r.err
        assert "Shipped" in r.out and "Canceled" in r.out
        assert "not mapped yet: invoiced" in r.out
        r = await run("account", "states", "shop1", "--json")
        states = json.loads(r.out)
        assert {"id": 4, "mapped_from": ["shipped"]}.items() <= states[3].items()

        r = await run("account", "edit", "shop1", "--state-map", "shipped=99")
        assert_clean_error(r, "the shop has no order state 99", "sincro account states")
        r = await run("account", "edit", "shop1", "--state-map", "sent=4")
        assert_clean_error(r, "invalid state map entry", "cancelled, shipped")
        r = await run("account", "edit", "shop1", "--state-map", "invoiced=5,shipped=3")
        assert r.code == 0, r.err
        r = await run("account", "show", "shop1", "--json")
        assert json.loads(r.out)["options"]["state_map"] == {
            "cancelled": 6, "shipped": 3, "invoiced": 5}
        r = await run("account", "edit", "shop1", "--send-email", "yes")
        assert r.code == 0, r.err
        r = await run("account", "show", "shop1", "--json")
        assert json.loads(r.out)["options"]["send_email"] is True
        r = await run("account", "add", "down", "--url", "http://127.0.0.1:9/", "--key", emu.key)
        assert r.code == 0, r.err
        r = await run("account", "edit", "down", "--state-map", "invoiced=5")
        assert r.code == 0 and "the state map is not checked" in r.out, r.err
        assert emu.key not in r.out
        r = await run("account", "states", "nope")
        assert_clean_error(r, "no account named 'nope'")
