"""What a partial sync of N new orders asks of the embedded ERP, in one call each, timed;
and how fast the emulator renders a page of 100 full orders.

    uv run python bench/embedded_bulk.py [N]

Prints figures; asserts nothing about speed (the test suite checks the same calls at a
smaller size for what they write).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal as D
from pathlib import Path

from core.erp.embedded import EmbeddedErp
from core.erp.port import (
    ArticleData,
    CustomerData,
    DestinationData,
    OrderDocumentData,
    OrderLineData,
    ShippingData,
)
from emulator.data import generate
from emulator.render import Ctx, json_list


def _line(code: str, qty: int = 1, price: str = "10.00", incl: str = "12.20") -> OrderLineData:
    return OrderLineData(code, f"Article {code}", qty, D(price), D(incl), D("22"))


def _order(ref: str, customer: str, *lines: OrderLineData, **kw) -> OrderDocumentData:
    """As tests/unit/test_erp_embedded.py builds one."""
    excl = sum((ln.unit_price * ln.quantity for ln in lines), D(0))
    incl = sum((ln.unit_price_tax_incl * ln.quantity for ln in lines), D(0))
    return OrderDocumentData(ref, customer, date(2026, 3, 1), "EUR", tuple(lines), excl, incl,
                             **kw)


async def embedded(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        erp = await EmbeddedErp.open(Path(tmp) / "erp.db")
        try:
            await erp.add_article("A1", "Widget", "10.00", stock=100)
            timings: dict[str, float] = {}
            start = time.perf_counter()
            customers = await erp.upsert_customers(
                [CustomerData(f"shop1:c:{i}", f"Customer {i}", email=f"c{i}@example.com")
                 for i in range(n)])
            timings["customers"] = time.perf_counter() - start
            start = time.perf_counter()
            dests = await erp.upsert_destinations(
                [(customers[i].code, DestinationData(f"Customer {i}", f"Via Roma {i}",
                                                     "Milano", "IT")) for i in range(n)])
            timings["destinations"] = time.perf_counter() - start
            start = time.perf_counter()
            await erp.create_articles([ArticleData(f"PS-{i}-0", f"Product {i}", D("9.90"),
                                                   stock=1000) for i in range(n)])
            timings["articles"] = time.perf_counter() - start
            docs = [_order(f"shop1:o:{i}", customers[i].code,
                           _line(f"PS-{i}-0", 1, "9.90", "12.08"),
                           _line(f"PS-{(i * 7) % n}-0", 2, "9.90", "12.08"), _line("A1", 1),
                           destination_code=dests[i].code,
                           shipping=ShippingData(D("5.00"), D("6.10")))
                    for i in range(n)]
            start = time.perf_counter()
            results = await erp.insert_orders(docs)
            timings["orders"] = time.perf_counter() - start
            assert all(r.created for r in results)
            total = sum(timings.values())
            print(f"embedded ERP, {n:,} of each in one call: " + ", ".join(
                f"{k} {v:.2f} s ({n / v:,.0f}/s)" for k, v in timings.items())
                + f"; orders with their customers, destinations and articles {n / total:,.0f}/s")
            start = time.perf_counter()
            await erp.insert_orders(docs)
            print(f"embedded ERP: the same {n:,} orders again (all known) in "
                  f"{time.perf_counter() - start:.2f} s")
        finally:
            await erp.close()


def emulator_page() -> None:
    state = generate(10_000, seed=4)
    ctx = Ctx(state, "http://127.0.0.1:1/", state.lang_ids)
    res = state.resources["orders"]
    page = list(state.tables["orders"].values())[5000:5100]
    json_list(ctx, res, page, "full")
    t0 = time.perf_counter()
    for _ in range(10):
        json_list(ctx, res, page, "full")
    print(f"emulator: a page of 100 full orders (JSON) renders in "
          f"{(time.perf_counter() - t0) / 10 * 1000:.1f} ms")


if __name__ == "__main__":
    asyncio.run(embedded(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
    emulator_page()
