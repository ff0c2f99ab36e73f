"""The embedded ERP's credit notes (docs/FISCAL.md, "Refunds"), on a real erp.db: their own
numbering per year, linked to the order document, exactly once, stock back only for goods
returned."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from core.erp.embedded import EmbeddedErp
from core.erp.port import (
    ArticleData,
    CreditNoteData,
    CustomerData,
    ErpError,
    ErpNotFound,
    OrderDocumentData,
    OrderLineData,
    ShippingData,
    VatSummary,
    credit_notes,
)


@pytest.fixture
async def erp(tmp_path: Path) -> AsyncIterator[EmbeddedErp]:
    erp = await EmbeddedErp.open(tmp_path / "erp.db")
    try:
        await erp.upsert_customer(CustomerData("s:c:1", "Mario Rossi"))
        await erp.create_article(ArticleData("A1", "Tazza", D("10"), stock=5))
        row = OrderLineData("A1", "Tazza", 3, D("10"), D("12.2"), D("22"), vat_code="22",
                            total_tax_excl=D("30"), total_tax_incl=D("36.60"))
        await erp.insert_order(OrderDocumentData(
            "s:o:1", "C000001", date(2026, 12, 1), "EUR", (row,), D("30"), D("36.60")))
        yield erp
    finally:
        await erp.close()


def note(ref: str, qty: int = 1, *, day: date = date(2026, 12, 2), goods: bool = False,
         order: str = "s:o:1", shipping: ShippingData | None = None) -> CreditNoteData:
    excl, incl = D(10) * qty, D("12.20") * qty
    rows = (OrderLineData("A1", "Tazza", qty, D("10"), D("12.2"), D("22"), vat_code="22",
                          total_tax_excl=excl, total_tax_incl=incl),) if qty else ()
    if shipping is not None:
        excl, incl = excl + shipping.amount_tax_excl, incl + shipping.amount_tax_incl
    return CreditNoteData(ref, order, "C000001", day, "EUR", rows, excl, incl, goods,
                          shipping=shipping,
                          vat_summary=(VatSummary(D("22"), "22", None, excl, incl - excl),))


async def test_numbered_per_year_in_their_own_sequence_linked_to_the_order(erp) -> None:
    assert credit_notes(erp) is erp
    made = await erp.insert_credit_notes([note("s:s:1"), note("s:s:2", day=date(2027, 1, 3))])
    assert [(r.created, r.credit_note.number) for r in made] == [
        (True, "NC 2026/000001"), (True, "NC 2027/000001")]
    assert made[0].credit_note.order_number == (await erp.find_document("s:o:1")).number
    assert (await erp.find_document("s:o:1")).number == "2026/000001"  # orders keep theirs
    assert [c.number for c in await erp.credit_notes_of("s:o:1")] == [
        "NC 2026/000001", "NC 2027/000001"]
    assert (await erp.get_credit_note("NC 2026/000001")).state == "open"
    assert (await erp.book_credit_note("NC 2026/000001")).state == "booked"
    with pytest.raises(ErpError, match="already booked"):
        await erp.book_credit_note("NC 2026/000001")


async def test_exactly_once_per_external_reference(erp) -> None:
    first = await erp.insert_credit_notes([note("s:s:1"), note("s:s:1")])
    assert [r.created for r in first] == [True, False]
    again = await erp.insert_credit_notes([note("s:s:1", qty=2)])
    assert not again[0].created and again[0].credit_note.number == "NC 2026/000001"
    assert again[0].credit_note.lines[0].quantity == 1  # the first one, as it was made
    found = await erp.find_credit_notes(["s:s:1", "s:s:9"])
    assert list(found) == ["s:s:1"]
    assert len((await erp.export())["credit_notes"]) == 1


async def test_stock_comes_back_only_with_the_goods(erp) -> None:
    assert (await erp.find_articles(["A1"]))["A1"].stock == 2
    await erp.insert_credit_notes([note("s:s:1", qty=1)])
    assert (await erp.find_articles(["A1"]))["A1"].stock == 2
    await erp.insert_credit_notes([note("s:s:2", qty=2, goods=True)])
    assert (await erp.find_articles(["A1"]))["A1"].stock == 4
    await erp.insert_credit_notes([note("s:s:2", qty=2, goods=True)])  # a repeat: no more
    assert (await erp.find_articles(["A1"]))["A1"].stock == 4


async def test_shipping_only_and_refusals_name_the_credit_note(erp) -> None:
    ship = ShippingData(D("4.10"), D("5.00"), D("22"), "Shipping", "22")
    (r,) = await erp.insert_credit_notes([note("s:s:1", qty=0, shipping=ship)])
    assert [(ln.kind, ln.total_tax_incl) for ln in r.credit_note.lines] == [("shipping", D("5.00"))]
    with pytest.raises(ErpNotFound, match="s:o:7 is not in the ERP") as missing:
        await erp.insert_credit_notes([note("s:s:2", order="s:o:7")])
    assert missing.value.external_ref == "s:s:2"
    with pytest.raises(ErpError, match="no lines and no shipping"):
        await erp.insert_credit_notes([note("s:s:3", qty=0)])
    # all or nothing: the good one of a refused batch is not in
    with pytest.raises(ErpNotFound):
        await erp.insert_credit_notes([note("s:s:4"), note("s:s:5", order="s:o:7")])
    assert not await erp.find_credit_notes(["s:s:4"])
