"""Helpers for sync tests: an engine on a real home, the emulator, and checks of
the ERP against what the shop holds."""

from __future__ import annotations

import contextlib
from collections import Counter
from decimal import Decimal
from pathlib import Path

from core import accounts as acc
from core.engine import Engine
from core.erp.embedded import EmbeddedErp
from core.sync.shop import open_shop
from tests.hubs import erp_rows, hub_rows

EXCLUDED = {6, 8}


def fast_shop_factory(**options):
    """Client with quick retries, so fault tests do not wait on real backoff."""
    opts = {"retries": 2, "backoff_base": 0.01, "backoff_cap": 0.05, "retry_after_cap": 0.1,
            "timeout": 2.0}
    opts.update(options)
    return lambda account: open_shop(account, **opts)


# The generated shops sell an exempt product: their office has mapped 0 % to its nature
# (docs/FISCAL.md); tests about the unmapped case add the account without it.
OPTIONS = {"tax_map": {"0": "N4"}}
TAX_MAP_FLAGS = ("--tax-map", "0=N4")


@contextlib.asynccontextmanager
async def engine_for(home: Path, emu, name: str = "shop1", options: dict | None = None,
                     **engine_options):
    engine_options.setdefault("shop_factory", fast_shop_factory())
    engine_options.setdefault("notify", False)
    async with Engine(home, **engine_options) as engine:
        if name:
            with contextlib.suppress(Exception):
                await acc.add_account(
                    engine.hub, acc.build_account(name, emu.url, key=emu.key, tz="Europe/Rome",
                                                  options=OPTIONS if options is None else options))
        yield engine


def shop_orders(state) -> dict[int, dict]:
    """The shop's orders, straight from the emulator's tables."""
    out = {}
    for oid, o in state.table("orders").items():
        rows = state.assoc_items("orders", o, "order_rows")
        out[oid] = {
            "state": int(state.value("orders", o, "current_state")),
            "customer": int(o["id_customer"]),
            "total": Decimal(state.value("orders", o, "total_paid_tax_incl")),
            "rows": Counter({(int(r["product_id"]), int(state.value("order_details", r, "product_attribute_id") or 0)):
                             int(r["product_quantity"]) for r in rows}),
        }
    return out


async def erp_documents(home: Path) -> list:
    erp = await EmbeddedErp.open(home / "erp.db")
    try:
        return [await erp.get_document(d.number) for d in await erp.list_documents()]
    finally:
        await erp.close()


async def assert_erp_holds_each_importable_order_once(home: Path, state, account: str = "shop1",
                                                      excluded=EXCLUDED) -> None:
    docs = await erp_documents(home)
    refs = Counter(d.external_ref for d in docs)
    doubled = [r for r, n in refs.items() if n > 1]
    assert not doubled, f"documents doubled: {doubled[:10]}"
    orders = shop_orders(state)
    importable = {oid for oid, o in orders.items() if o["state"] not in excluded}
    got = {int(r.rsplit(":", 1)[1]) for r in refs if r.startswith(f"{account}:o:")}
    assert got == importable, (sorted(importable - got)[:10], sorted(got - importable)[:10])
    rows = hub_rows(home, "SELECT a.product_id, a.attribute_id, a.code FROM articles a "
                          "JOIN accounts c ON c.id = a.account_id WHERE c.name = ?", (account,))
    code_of = {(p, a): code for p, a, code in rows}
    for d in docs:
        oid = int(d.external_ref.rsplit(":", 1)[1])
        want = orders[oid]
        lines = Counter()
        for line in d.lines:
            if line.kind == "article":
                lines[line.article_code] += line.quantity
        expected = Counter()
        for key, qty in want["rows"].items():
            expected[code_of[key]] += qty
        assert lines == expected, (oid, lines, expected)
        assert d.total_tax_incl == want["total"], (oid, d.total_tax_incl, want["total"])


async def assert_erp_holds_each_slip_once(home: Path, state, account: str = "shop1") -> None:
    """Each shop refund (order slip) of an order the ERP holds is exactly one credit note,
    linked to that order's document, with the slip's totals to the cent; none of another."""
    cent = Decimal("0.01")
    rows = erp_rows(home, "SELECT c.external_ref, d.external_ref, c.total_tax_excl,"
                          " c.total_tax_incl FROM credit_notes c"
                          " JOIN documents d ON d.id = c.document_id")
    in_erp = {r[0] for r in erp_rows(home, "SELECT external_ref FROM documents")}
    refs = Counter(r[0] for r in rows)
    doubled = [r for r, n in refs.items() if n > 1]
    assert not doubled, f"credit notes doubled: {doubled[:10]}"
    slips = state.table("order_slip")
    expected = {sid for sid, s in slips.items() if f"{account}:o:{s['id_order']}" in in_erp}
    got = {int(r.rsplit(":", 1)[1]) for r in refs if r.startswith(f"{account}:s:")}
    assert got == expected, (sorted(expected - got)[:10], sorted(got - expected)[:10])
    for ref, order_ref, excl, incl in rows:
        s = slips[int(ref.rsplit(":", 1)[1])]
        assert order_ref == f"{account}:o:{s['id_order']}", (ref, order_ref)
        want_excl = (Decimal(state.value("order_slip", s, "total_products_tax_excl"))
                     + Decimal(state.value("order_slip", s, "total_shipping_tax_excl")))
        want_incl = (Decimal(state.value("order_slip", s, "total_products_tax_incl"))
                     + Decimal(state.value("order_slip", s, "total_shipping_tax_incl")))
        assert Decimal(excl) == want_excl.quantize(cent), (ref, excl, want_excl)
        assert Decimal(incl) == want_incl.quantize(cent), (ref, incl, want_incl)


def more_shipping(state, oid: int, excl: str = "8.20", incl: str = "10.00") -> dict[str, str]:
    """A change the shop itself could make to an order: shipping up by `incl` at 22 %, its
    totals with it (a total that no line explains is held by Sincro, never pushed)."""
    o = state.table("orders")[oid]
    change = {}
    for name, delta in (("total_shipping_tax_excl", excl), ("total_shipping_tax_incl", incl),
                        ("total_shipping", incl), ("total_paid_tax_excl", excl),
                        ("total_paid_tax_incl", incl), ("total_paid", incl)):
        change[name] = str(Decimal(state.value("orders", o, name)) + Decimal(delta))
    change["carrier_tax_rate"] = "22.000"
    return change
