"""Issue 20: a record the ERP refuses fails only itself and what depends on it."""

from __future__ import annotations

from pathlib import Path

from core.reconcile import reconcile
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.synctools import engine_for, erp_documents, shop_orders


async def test_a_customer_the_erp_refuses_holds_only_its_own_orders(tmp_path: Path) -> None:
    state = generate(300, seed=20)
    orders = shop_orders(state)
    importable = {oid for oid, o in orders.items() if o["state"] not in (6, 8)}
    # the first registered customer with at least two importable orders gets a name the
    # ERP cannot hold (over 1,000 characters)
    per_customer: dict[int, set[int]] = {}
    for oid in importable:
        per_customer.setdefault(orders[oid]["customer"], set()).add(oid)
    customers = state.table("customers")
    bad = next(cid for cid, ids in sorted(per_customer.items())
               if len(ids) >= 2 and customers[cid].get("is_guest", "0") != "1")
    customers[bad]["lastname"] = "X" * 1001
    held = per_customer[bad]
    async with EmulatorServer(state) as emu:
        home = tmp_path / "home"
        async with engine_for(home, emu) as engine:
            first = await engine.run_sync("shop1", "orders")
            refs = {d.external_ref for d in await erp_documents(home)}
            # every other order went in, in the same run
            assert refs == {f"shop1:o:{i}" for i in importable - held}
            assert first.outcome != "ok"
            reason = [e for e in first.errors if f"shop1:c:{bad}" in e]
            assert reason and "longer than 1000 characters" in reason[0], first.errors
            report = await reconcile(engine, "shop1")
            missing = {m.order_id: m for m in report.problems("missing")}
            assert set(missing) == held
            assert all("longer than 1000 characters" in (m.detail or "")
                       for m in missing.values()), [m.detail for m in missing.values()]
            # fixed on the shop: the next run puts them in, once
            customers[bad]["lastname"] = "Rossi"
            await engine.run_sync("shop1", "customers")
            second = await engine.run_sync("shop1", "orders")
            assert second.outcome == "ok", second.errors
            again = await engine.run_sync("shop1", "orders")
        assert {d.external_ref for d in await erp_documents(home)} == {
            f"shop1:o:{i}" for i in importable}
        assert again.counts.get("documents_inserted", 0) == 0
