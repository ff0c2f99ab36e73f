"""The embedded ERP (erp.db) through the ErpConnector port, on real SQLite files."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from core.erp.embedded import EmbeddedErp
from core.erp.port import (
    ArticleData,
    Capability,
    CustomerData,
    DestinationData,
    DiscountData,
    ErpConnector,
    ErpError,
    ErpNotFound,
    InsertResult,
    OrderDocumentData,
    OrderLineData,
    ShippingData,
    create_articles_each,
    insert_orders_each,
    upsert_customers_each,
    upsert_destinations_each,
)
from core.errors import NotFound, StoreError
from tests.hubs import erp_write, on_postgres


@pytest.fixture
async def erp(tmp_path: Path) -> AsyncIterator[EmbeddedErp]:
    erp = await EmbeddedErp.open(tmp_path / "erp.db")
    try:
        yield erp
    finally:
        await erp.close()


def line(code: str | None = "A1", qty: int = 1, price: str = "10.00", incl: str = "12.20",
         **kw) -> OrderLineData:
    return OrderLineData(code, kw.pop("description", f"Article {code}"), qty, D(price), D(incl),
                         D(kw.pop("vat", "22")), **kw)


def order(ref: str, customer: str, *lines: OrderLineData, day: date = date(2026, 3, 1),
          **kw) -> OrderDocumentData:
    lines = lines or (line(),)
    excl = sum((ln.unit_price * ln.quantity for ln in lines), D(0))
    incl = sum((ln.unit_price_tax_incl * ln.quantity for ln in lines), D(0))
    return OrderDocumentData(ref, customer, day, "EUR", tuple(lines), excl, incl, **kw)


async def seeded(erp: EmbeddedErp) -> str:
    """Two articles and a customer; returns the customer's code."""
    await erp.add_article("A1", "Widget", "10.00", stock=100)
    await erp.add_article("B2", "Gadget", "25.50", vat_rate="10", stock=5)
    c = await erp.upsert_customer(CustomerData("shop1:c:1", "Mario Rossi", email="mario@example.com"))
    return c.code


# -- the port --------------------------------------------------------------
async def test_embedded_erp_is_an_erp_connector(erp: EmbeddedErp) -> None:
    assert isinstance(erp, ErpConnector)
    assert erp.name == "embedded"
    assert Capability.BULK in erp.capabilities and Capability.STATE_CHANGES in erp.capabilities


@pytest.mark.sqlite_only  # the file's mode; the data part runs on both in every other test
async def test_open_creates_a_private_file_and_reopens_with_the_data(tmp_path: Path) -> None:
    path = tmp_path / "erp.db"
    erp = await EmbeddedErp.open(path)
    code = await seeded(erp)
    await erp.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    erp = await EmbeddedErp.open(path)
    try:
        assert (await erp.get_customer(code)).name == "Mario Rossi"
        assert (await erp.get_article("A1")).stock == 100
    finally:
        await erp.close()


async def test_a_newer_erp_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "erp.db"
    await (await EmbeddedErp.open(path)).close()
    if on_postgres():
        erp_write(tmp_path, "UPDATE sincro_schema SET version = 99")
    else:
        con = sqlite3.connect(path)
        con.execute("PRAGMA user_version = 99")
        con.close()
    with pytest.raises(StoreError, match="embedded ERP .* newer Sincro"):
        await EmbeddedErp.open(path)


# -- customers -------------------------------------------------------------
async def test_customer_upsert_creates_then_reports_unchanged_and_updated(erp: EmbeddedErp) -> None:
    data = CustomerData("shop1:c:42", "Mario Rossi", company="Rossi Srl", vat_number="IT01234567890",
                        tax_code="RSSMRA80A01F205X", email="Mario@Example.com", phone="+39 02 123")
    first = await erp.upsert_customer(data)
    assert (first.code, first.outcome) == ("C000001", "created")
    again = await erp.upsert_customer(data)
    assert (again.code, again.outcome) == ("C000001", "unchanged")
    for change in ({"name": "Mario Bianchi"}, {"company": None}, {"vat_number": "IT999"},
                   {"tax_code": "X"}, {"email": "new@example.com"}, {"phone": "333"}):
        data = replace(data, **change)
        updated = await erp.upsert_customer(data)
        assert (updated.code, updated.outcome) == ("C000001", "updated"), change
        assert (await erp.upsert_customer(data)).outcome == "unchanged"
    found = await erp.find_customer("shop1:c:42")
    assert found is not None and found.outcome is None
    assert (found.name, found.company, found.vat_number, found.tax_code, found.email, found.phone) == (
        "Mario Bianchi", None, "IT999", "X", "new@example.com", "333")
    other = await erp.upsert_customer(CustomerData("shop1:e:guest@example.com", "Guest"))
    assert other.code == "C000002"
    assert await erp.find_customer("shop1:c:404") is None


async def test_customer_text_is_stripped_and_empty_becomes_none(erp: EmbeddedErp) -> None:
    c = await erp.upsert_customer(CustomerData("shop1:c:1", "  Mario  ", company="  ", email=" m@x.it "))
    assert (c.name, c.company, c.email) == ("Mario", None, "m@x.it")
    assert (await erp.upsert_customer(CustomerData("shop1:c:1", "Mario", email="m@x.it"))).outcome == "unchanged"
    c = await erp.upsert_customer(CustomerData("shop1:c:2", "Ma\x00rio\r\nRossi\x1b[31m"))
    assert c.name == "Ma rio\nRossi [31m"


async def test_find_customer_by_email_ignores_case_and_returns_the_oldest(erp: EmbeddedErp) -> None:
    a = await erp.upsert_customer(CustomerData("shop1:c:1", "A", email="Mario@Example.COM"))
    await erp.upsert_customer(CustomerData("shop2:c:9", "B", email="mario@example.com"))
    found = await erp.find_customer_by_email("  MARIO@example.com ")
    assert found is not None and found.code == a.code
    assert await erp.find_customer_by_email("nobody@example.com") is None
    assert await erp.find_customer_by_email("") is None


async def test_upsert_customers_does_a_batch_with_duplicates_in_order(erp: EmbeddedErp) -> None:
    await erp.upsert_customer(CustomerData("shop1:c:1", "One"))
    results = await erp.upsert_customers([
        CustomerData("shop1:c:2", "Two"),
        CustomerData("shop1:c:1", "One"),
        CustomerData("shop1:c:3", "Three"),
        CustomerData("shop1:c:2", "Two bis"),
        CustomerData("shop1:c:1", "Uno"),
    ])
    assert [(r.code, r.outcome) for r in results] == [
        ("C000002", "created"), ("C000001", "unchanged"), ("C000003", "created"),
        ("C000002", "updated"), ("C000001", "updated")]
    assert [c.name for c in await erp.list_customers()] == ["Uno", "Two bis", "Three"]
    assert await erp.upsert_customers([]) == []


async def test_a_bad_customer_fails_the_batch_and_names_it(erp: EmbeddedErp) -> None:
    with pytest.raises(ErpError, match="shop1:c:2: name is empty") as info:
        await erp.upsert_customers([CustomerData("shop1:c:1", "Ok"), CustomerData("shop1:c:2", " ")])
    assert info.value.external_ref == "shop1:c:2"
    assert await erp.list_customers() == []
    with pytest.raises(ErpError, match="external_ref is empty"):
        await erp.upsert_customer(CustomerData("", "Nobody"))


# -- destinations ----------------------------------------------------------
async def test_destinations_are_deduplicated_by_content(erp: EmbeddedErp) -> None:
    code = await seeded(erp)
    home = DestinationData("Mario Rossi", "Via Roma 1", "Milano", "it", postcode="20100",
                           province="MI", external_ref="shop1:a:7")
    first = await erp.upsert_destination(code, home)
    assert first.outcome == "created" and first.country == "IT"
    same_text = DestinationData("MARIO  rossi", " via roma 1", "milano", "IT", postcode="20100",
                                province="mi", external_ref="shop1:a:8")
    second = await erp.upsert_destination(code, same_text)
    assert (second.code, second.outcome) == (first.code, "unchanged")
    moved = await erp.upsert_destination(code, replace(home, address1="Via Roma 2"))
    assert moved.code != first.code and moved.outcome == "created"
    other = await erp.upsert_customer(CustomerData("shop1:c:2", "Luigi"))
    theirs = await erp.upsert_destination(other.code, home)
    assert theirs.code not in (first.code, moved.code)
    assert [d.code for d in await erp.list_destinations(code)] == [first.code, moved.code]


async def test_upsert_destinations_does_a_batch(erp: EmbeddedErp) -> None:
    code = await seeded(erp)
    other = (await erp.upsert_customer(CustomerData("shop1:c:2", "Luigi"))).code
    home = DestinationData("Mario", "Via Roma 1", "Milano", "IT")
    known = await erp.upsert_destination(code, home)
    office = DestinationData("Mario", "Via Po 3", "Torino", "IT", external_ref="shop1:a:9")
    results = await erp.upsert_destinations([
        (code, office), (code, replace(home, external_ref="shop1:a:1")), (other, home),
        (code, replace(office, city="TORINO"))])
    assert [r.outcome for r in results] == ["created", "unchanged", "created", "unchanged"]
    assert results[1].code == known.code and results[1].external_ref == "shop1:a:1"
    assert results[3].code == results[0].code
    assert len({r.code for r in results}) == 3
    assert len(await erp.list_destinations(code)) == 2
    assert await erp.upsert_destinations([]) == []
    with pytest.raises(ErpNotFound, match="no customer 'C404'"):
        await erp.upsert_destinations([(code, replace(home, city="Roma")), ("C404", home)])
    assert len(await erp.list_destinations(code)) == 2


async def test_destination_errors(erp: EmbeddedErp) -> None:
    code = await seeded(erp)
    with pytest.raises(ErpNotFound, match="no customer 'C999999'"):
        await erp.upsert_destination("C999999", DestinationData("X", "Via 1", "Roma", "IT"))
    with pytest.raises(ErpError, match="country must be an ISO 3166 code"):
        await erp.upsert_destination(code, DestinationData("X", "Via 1", "Roma", "Italia"))
    with pytest.raises(ErpError, match="city is empty"):
        await erp.upsert_destination(code, DestinationData("X", "Via 1", "", "IT"))


# -- articles --------------------------------------------------------------
async def test_create_article_is_idempotent_and_keeps_the_existing_one(erp: EmbeddedErp) -> None:
    made = await erp.create_article(ArticleData("PS-1-0", "Mug", D("7.50"), stock=3))
    assert made.outcome == "created" and made.price == D("7.50")
    again = await erp.create_article(ArticleData("PS-1-0", "Other name", D("99")))
    assert again.outcome == "unchanged"
    assert (again.description, again.price, again.stock) == ("Mug", D("7.50"), 3)


async def test_create_articles_in_batch(erp: EmbeddedErp) -> None:
    await erp.add_article("A1", "Widget", "10.00")
    results = await erp.create_articles([ArticleData("N1", "New", D("1")),
                                         ArticleData("A1", "Other", D("2")),
                                         ArticleData("N1", "New again", D("3"))])
    assert [(a.code, a.outcome, a.description) for a in results] == [
        ("N1", "created", "New"), ("A1", "unchanged", "Widget"), ("N1", "unchanged", "New")]
    with pytest.raises(ErpError, match="N2: description is empty"):
        await erp.create_articles([ArticleData("N2", "", D("1"))])


async def test_find_articles_in_batch_and_list_by_glob(erp: EmbeddedErp) -> None:
    await seeded(erp)
    await erp.add_article("PS-10-1", "Mug red", "5", stock=1, active=False)
    found = await erp.find_articles(["A1", "missing", "PS-10-1", "A1"])
    assert set(found) == {"A1", "PS-10-1"}
    assert found["PS-10-1"].active is False and found["A1"].vat_rate == D("22")
    many = await erp.find_articles([f"X{i}" for i in range(1200)] + ["B2"])
    assert list(many) == ["B2"]
    sp = await erp.articles_stock_price(["B2"])
    assert (sp["B2"].stock, sp["B2"].price, sp["B2"].active) == (5, D("25.50"), True)
    assert [a.code for a in await erp.list_articles("PS-*")] == ["PS-10-1"]
    assert [a.code for a in await erp.list_articles()] == ["A1", "B2", "PS-10-1"]
    assert await erp.list_articles("Z*") == []


async def test_set_stock_price_and_active(erp: EmbeddedErp) -> None:
    await seeded(erp)
    assert (await erp.set_stock("A1", 7)).stock == 7
    assert (await erp.set_price("A1", D("11.90"))).price == D("11.90")
    assert (await erp.set_active("A1", False)).active is False
    a = await erp.get_article("A1")
    assert (a.stock, a.price, a.active) == (7, D("11.90"), False)
    with pytest.raises(ErpNotFound, match="no article 'NOPE'"):
        await erp.set_stock("NOPE", 1)
    with pytest.raises(NotFound):
        await erp.get_article("NOPE")
    with pytest.raises(ErpError, match="price is negative"):
        await erp.set_price("A1", D("-1"))
    with pytest.raises(ErpError, match="must be a Decimal"):
        await erp.set_price("A1", 1.1)  # type: ignore[arg-type]
    with pytest.raises(ErpError, match="stock must be a whole number"):
        await erp.set_stock("A1", "x")  # type: ignore[arg-type]


# -- order documents -------------------------------------------------------
async def test_insert_order_is_idempotent_and_takes_stock_off(erp: EmbeddedErp) -> None:
    code = await seeded(erp)
    dest = await erp.upsert_destination(code, DestinationData("Mario", "Via Roma 1", "Milano", "IT"))
    doc = order("shop1:o:1234", code, line("A1", 3), line("B2", 2, "25.50", "28.05", vat="10"),
                destination_code=dest.code, invoice_destination_code=dest.code, payment="PayPal",
                carrier="BRT", shop_reference="XKBKNABJK",
                shipping=ShippingData(D("5.00"), D("6.10")),
                discounts=(DiscountData("Promo", D("2.00"), D("2.44")),))
    first = await erp.insert_order(doc)
    assert first.created and first.document.number == "2026/000001"
    d = first.document
    assert (d.state, d.customer_code, d.destination_code, d.payment, d.carrier, d.shop_reference) == (
        "open", code, dest.code, "PayPal", "BRT", "XKBKNABJK")
    assert [(ln.kind, ln.article_code, ln.quantity, ln.unit_price) for ln in d.lines] == [
        ("article", "A1", 3, D("10.00")), ("article", "B2", 2, D("25.50")),
        ("shipping", None, 1, D("5.00")), ("discount", None, 1, D("-2.00"))]
    second = await erp.insert_order(doc)
    assert second == InsertResult(first.document, created=False)
    assert await erp.find_document("shop1:o:1234") == first.document
    assert await erp.get_document("2026/000001") == first.document
    stock = await erp.find_articles(["A1", "B2"])
    assert (stock["A1"].stock, stock["B2"].stock) == (97, 3)
    assert len(await erp.list_documents()) == 1


async def test_stock_may_go_negative_and_description_lines_do_not_touch_it(erp: EmbeddedErp) -> None:
    code = await seeded(erp)
    await erp.insert_order(order("shop1:o:1", code, line("B2", 8), line(None, 1, description="Gift wrap")))
    assert (await erp.get_article("B2")).stock == -3


async def test_documents_are_numbered_per_year(erp: EmbeddedErp) -> None:
    code = await seeded(erp)
    days = [date(2025, 12, 31), date(2026, 1, 1), date(2025, 12, 30), date(2026, 2, 1)]
    results = await erp.insert_orders([order(f"shop1:o:{i}", code, day=d) for i, d in enumerate(days)])
    assert [r.document.number for r in results] == [
        "2025/000001", "2026/000001", "2025/000002", "2026/000002"]
    more = await erp.insert_order(order("shop1:o:9", code, day=date(2025, 6, 1)))
    assert more.document.number == "2025/000003"
    assert [d.number for d in await erp.list_documents()] == [
        "2026/000002", "2026/000001", "2025/000003", "2025/000002", "2025/000001"]


async def test_insert_orders_mixes_new_known_and_repeated(erp: EmbeddedErp) -> None:
    code = await seeded(erp)
    known = (await erp.insert_order(order("shop1:o:1", code, line("A1", 1)))).document
    results = await erp.insert_orders([
        order("shop1:o:2", code, line("A1", 2)),
        order("shop1:o:1", code, line("A1", 50)),  # already there: not re-inserted
        order("shop1:o:2", code, line("A1", 2)),  # twice in the batch: once in the ERP
    ])
    assert [r.created for r in results] == [True, False, False]
    assert results[0].document.number == "2026/000002"
    assert results[1].document == known
    assert results[2].document == results[0].document
    assert (await erp.get_article("A1")).stock == 97
    assert len(await erp.list_documents()) == 2


async def test_numbers_follow_the_first_occurrence_in_the_batch(erp: EmbeddedErp) -> None:
    code = await seeded(erp)
    results = await erp.insert_orders([order("shop1:o:a", code), order("shop1:o:b", code),
                                       order("shop1:o:a", code)])
    assert [r.document.number for r in results] == ["2026/000001", "2026/000002", "2026/000001"]


async def test_one_bad_order_fails_the_batch_and_writes_nothing(erp: EmbeddedErp) -> None:
    code = await seeded(erp)
    batch = [order("shop1:o:1", code, line("A1", 2)), order("shop1:o:2", code, line("NOPE", 1))]
    with pytest.raises(ErpNotFound, match="order shop1:o:2: line 1: no article 'NOPE'") as info:
        await erp.insert_orders(batch)
    assert info.value.external_ref == "shop1:o:2"
    assert await erp.list_documents() == []
    assert (await erp.get_article("A1")).stock == 100
    # the next batch still starts at number 1
    assert (await erp.insert_order(batch[0])).document.number == "2026/000001"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"customer_code": "C999"}, "order shop1:o:1: no customer 'C999'"),
        ({"destination_code": "D999"}, "no destination 'D999' for customer"),
        ({"lines": ()}, "order shop1:o:1 has no lines"),
        ({"lines": (line("A1", 0),)}, "line 1 quantity must be positive"),
        ({"lines": (line("A1", 1, price="-1"),)}, "line 1 unit_price is negative"),
        ({"lines": (line("A1", 1, vat="122"),)}, "line 1 vat_rate is above 100"),
        ({"currency": "euro"}, "currency must be an ISO 4217 code"),
        ({"total_tax_incl": D("NaN")}, "total_tax_incl is not a finite number"),
        ({"external_ref": " "}, "order external_ref is empty"),
    ],
)
async def test_order_errors_name_the_order_and_the_field(erp: EmbeddedErp, change: dict,
                                                         message: str) -> None:
    code = await seeded(erp)
    doc = replace(order("shop1:o:1", code), **change)
    with pytest.raises(ErpError, match=message):
        await erp.insert_order(doc)


async def test_a_destination_of_another_customer_is_refused(erp: EmbeddedErp) -> None:
    code = await seeded(erp)
    other = await erp.upsert_customer(CustomerData("shop1:c:2", "Luigi"))
    theirs = await erp.upsert_destination(other.code, DestinationData("L", "Via 2", "Roma", "IT"))
    with pytest.raises(ErpNotFound, match=f"no destination '{theirs.code}' for customer '{code}'"):
        await erp.insert_order(order("shop1:o:1", code, destination_code=theirs.code))


async def test_unknown_document_number(erp: EmbeddedErp) -> None:
    with pytest.raises(ErpNotFound, match="no document '2026/999999'"):
        await erp.get_document("2026/999999")
    assert await erp.find_document("shop1:o:404") is None


# -- states ----------------------------------------------------------------
async def test_ship_then_invoice_with_journal_and_cursor(erp: EmbeddedErp) -> None:
    code = await seeded(erp)
    docs = [r.document for r in await erp.insert_orders(
        [order(f"shop1:o:{i}", code) for i in range(1, 4)])]
    changes, cursor = await erp.state_changes(None)
    assert (changes, cursor) == ([], None)
    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    shipped = await erp.set_state(docs[0].number, "shipped", tracking_number="TRK1", at=at)
    assert (shipped.state, shipped.delivery_note_number, shipped.delivery_note_date,
            shipped.tracking_number) == ("shipped", "DDT-2026/000001", date(2026, 3, 2), "TRK1")
    invoiced = await erp.set_state(docs[0].number, "invoiced", at=at)
    assert (invoiced.state, invoiced.invoice_number, invoiced.delivery_note_number) == (
        "invoiced", "FT-2026/000001", "DDT-2026/000001")
    cancelled = await erp.set_state(docs[1].number, "cancelled", at=at)
    assert cancelled.state == "cancelled"
    direct = await erp.set_state(docs[2].number, "invoiced",
                                 at=datetime(2027, 1, 2, tzinfo=UTC))
    assert direct.invoice_number == "FT-2027/000001" and direct.delivery_note_number is None

    changes, cursor = await erp.state_changes(None)
    assert [(c.document_number, c.external_ref, c.event) for c in changes] == [
        (docs[0].number, "shop1:o:1", "shipped"), (docs[0].number, "shop1:o:1", "invoiced"),
        (docs[1].number, "shop1:o:2", "cancelled"), (docs[2].number, "shop1:o:3", "invoiced")]
    assert changes[0].at == at and changes[0].tracking_number == "TRK1"
    assert changes[0].delivery_note_number == "DDT-2026/000001"
    assert changes[1].invoice_number == "FT-2026/000001" and changes[1].invoice_date == date(2026, 3, 2)
    assert cursor == changes[-1].cursor
    # paging: the cursor moves only over what was returned
    page, c1 = await erp.state_changes(None, limit=3)
    assert len(page) == 3 and c1 == page[-1].cursor
    rest, c2 = await erp.state_changes(c1, limit=3)
    assert [c.event for c in rest] == ["invoiced"] and c2 == cursor
    assert await erp.state_changes(cursor) == ([], cursor)


async def test_cancelling_gives_the_stock_back(erp: EmbeddedErp) -> None:
    code = await seeded(erp)
    doc = (await erp.insert_order(order("shop1:o:1", code, line("A1", 4), line("A1", 1),
                                        line("B2", 2)))).document
    assert (await erp.get_article("A1")).stock == 95
    await erp.set_state(doc.number, "cancelled")
    stock = await erp.find_articles(["A1", "B2"])
    assert (stock["A1"].stock, stock["B2"].stock) == (100, 5)


@pytest.mark.parametrize(
    ("path", "target", "message"),
    [
        (["cancelled"], "shipped", "is cancelled and cannot become shipped"),
        (["cancelled"], "cancelled", "is already cancelled"),
        (["invoiced"], "cancelled", "is invoiced and cannot be cancelled"),
        (["shipped", "invoiced"], "cancelled", "is invoiced and cannot be cancelled"),
        (["shipped"], "cancelled", "is shipped and cannot be cancelled"),
        (["shipped"], "shipped", "is already shipped"),
        (["invoiced"], "shipped", "is invoiced and cannot go back to shipped"),
    ],
)
async def test_bad_transitions_are_refused_and_not_journalled(
        erp: EmbeddedErp, path: list[str], target: str, message: str) -> None:
    code = await seeded(erp)
    doc = (await erp.insert_order(order("shop1:o:1", code))).document
    for state in path:
        await erp.set_state(doc.number, state)
    with pytest.raises(ErpError, match=f"document 2026/000001 {message}"):
        await erp.set_state(doc.number, target)
    changes, _ = await erp.state_changes(None)
    assert [c.event for c in changes] == path


async def test_set_state_input_errors(erp: EmbeddedErp) -> None:
    code = await seeded(erp)
    doc = (await erp.insert_order(order("shop1:o:1", code))).document
    with pytest.raises(ErpNotFound, match="no document '2026/000002'"):
        await erp.set_state("2026/000002", "shipped")
    with pytest.raises(ErpError, match="cannot set a document to 'open'"):
        await erp.set_state(doc.number, "open")
    with pytest.raises(ErpError, match="a tracking number goes only with shipped"):
        await erp.set_state(doc.number, "invoiced", tracking_number="T")
    with pytest.raises(ErpError, match="not a state-change cursor"):
        await erp.state_changes("abc")
    with pytest.raises(ErpError, match="limit of state changes must be a positive"):
        await erp.state_changes(None, limit=0)


# -- concurrency -----------------------------------------------------------
async def test_reads_never_see_a_write_in_progress(erp: EmbeddedErp) -> None:
    class Abort(Exception):
        pass

    reader = None
    with pytest.raises(Abort):
        async with erp._write() as conn:
            await conn.execute(
                "INSERT INTO customers (code, name, external_ref, created_at, updated_at)"
                " VALUES ('C1', 'Ghost', 'x:c:1', '', '')")
            reader = asyncio.create_task(erp.list_customers())
            await conn.execute("SELECT 1")  # lets the reader run while the write is open
            raise Abort
    assert reader is not None and await reader == []


async def test_two_connections_insert_each_order_once(tmp_path: Path) -> None:
    """Console and daemon on the same erp.db: every order exactly once, numbers unique."""
    path = tmp_path / "erp.db"
    a = await EmbeddedErp.open(path)
    b = await EmbeddedErp.open(path)
    try:
        code = await seeded(a)
        batch = [order(f"shop1:o:{i}", code) for i in range(200)]
        ra, rb = await asyncio.gather(a.insert_orders(batch), b.insert_orders(batch[::-1]))
        assert sum(r.created for r in ra + rb) == 200
        assert {r.document.number for r in ra} == {r.document.number for r in rb}
        assert len(await a.list_documents()) == 200
        assert (await b.get_article("A1")).stock == 100 - 200
    finally:
        await a.close()
        await b.close()


# -- export ----------------------------------------------------------------
async def test_export_has_exactly_the_agreed_shape(erp: EmbeddedErp) -> None:
    code = await seeded(erp)
    await erp.upsert_customer(CustomerData("shop1:c:2", "[b]Rossi[/b]", company="ACME", vat_number="IT1",
                                           tax_code="TC", email="r@example.com"))
    await erp.insert_order(order("shop1:o:1", code, line("A1", 2), line("B2", 1, "25.50", "28.05"),
                                 shipping=ShippingData(D("5"), D("6.10"))))
    data = await erp.export()
    assert list(data) == ["customers", "articles", "documents"]
    c = data["customers"][1]
    assert {"code", "name", "company", "vat_number", "tax_code", "email"} <= set(c)
    assert (c["name"], c["company"], c["vat_number"], c["tax_code"], c["email"]) == (
        "[b]Rossi[/b]", "ACME", "IT1", "TC", "r@example.com")
    a = data["articles"][0]
    assert {"code", "description", "price", "stock", "active"} <= set(a)
    assert a["code"] == "A1" and a["price"] == "10.00" and a["active"] is True
    assert a["stock"] == 98 and type(a["stock"]) is int
    [doc] = data["documents"]
    assert {"number", "external_ref", "customer_code", "state", "lines", "total"} <= set(doc)
    assert (doc["number"], doc["external_ref"], doc["customer_code"], doc["state"], doc["total"]) == (
        "2026/000001", "shop1:o:1", code, "open", "52.45")
    assert [{k: ln[k] for k in ("article_code", "quantity", "unit_price")} for ln in doc["lines"]] == [
        {"article_code": "A1", "quantity": 2, "unit_price": "10.00"},
        {"article_code": "B2", "quantity": 1, "unit_price": "25.50"}]
    assert doc["shipping"][0]["unit_price"] == "5"
    assert json.loads(json.dumps(data)) == data


async def test_export_of_an_empty_erp(erp: EmbeddedErp) -> None:
    assert await erp.export() == {"customers": [], "articles": [], "documents": []}


# -- bulk ------------------------------------------------------------------
async def test_the_loop_fallbacks_give_the_same_results(erp: EmbeddedErp) -> None:
    code = await seeded(erp)
    results = await insert_orders_each(erp, [order("shop1:o:1", code), order("shop1:o:1", code)])
    assert [r.created for r in results] == [True, False]
    customers = await upsert_customers_each(erp, [CustomerData("shop1:c:1", "Mario Rossi",
                                                               email="mario@example.com")])
    assert [c.outcome for c in customers] == ["unchanged"]
    home = DestinationData("Mario", "Via Roma 1", "Milano", "IT")
    dests = await upsert_destinations_each(erp, [(code, home), (code, home)])
    assert [d.outcome for d in dests] == ["created", "unchanged"]
    articles = await create_articles_each(erp, [ArticleData("A1", "x", D("1"))])
    assert [a.outcome for a in articles] == ["unchanged"]


async def test_bulk_insert_of_1000_orders(erp: EmbeddedErp) -> None:
    """What a partial sync of many new orders asks of the ERP, in one call each (timed at
    10,000 by bench/embedded_bulk.py)."""
    await seeded(erp)
    n = 1_000
    customers = await erp.upsert_customers(
        [CustomerData(f"shop1:c:{i}", f"Customer {i}", email=f"c{i}@example.com") for i in range(n)])
    dests = await erp.upsert_destinations(
        [(customers[i].code, DestinationData(f"Customer {i}", f"Via Roma {i}", "Milano", "IT"))
         for i in range(n)])
    await erp.create_articles(
        [ArticleData(f"PS-{i}-0", f"Product {i}", D("9.90"), stock=1000) for i in range(n)])
    docs = [
        order(f"shop1:o:{i}", customers[i].code,
              line(f"PS-{i}-0", 1, "9.90", "12.08"),
              line(f"PS-{(i * 7) % n}-0", 2, "9.90", "12.08"),
              line("A1", 1), destination_code=dests[i].code,
              shipping=ShippingData(D("5.00"), D("6.10")))
        for i in range(n)
    ]
    results = await erp.insert_orders(docs)
    assert all(r.created for r in results)
    assert results[-1].document.number == "2026/001000"
    assert (await erp.get_article("A1")).stock == 100 - n
    again = await erp.insert_orders(docs)
    assert not any(r.created for r in again)
    assert again[123].document == results[123].document


async def test_a_read_cancelled_while_it_begins_leaves_no_transaction_open(
        erp: EmbeddedErp) -> None:
    # The console's ERP view reloads in an exclusive worker: a new load cancels the one in
    # flight, possibly while its BEGIN is queued. That BEGIN still runs on the connection's
    # thread; the read must end it, or the sync's next write finds a transaction open.
    await erp.upsert_customer(CustomerData("shop1:c:1", "Mario Rossi"))
    for _ in range(20):
        reader = asyncio.create_task(erp.list_customers())
        await asyncio.sleep(0)  # the read holds the lock and waits for its BEGIN
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        await erp.upsert_customer(CustomerData("shop1:c:2", "Anna Bianchi"))
    assert [c.name for c in await erp.list_customers()] == ["Mario Rossi", "Anna Bianchi"]


async def test_document_summaries_find_by_number_customer_reference_and_keep_the_newest(
        erp: EmbeddedErp) -> None:
    rossi = await seeded(erp)
    bianchi = (await erp.upsert_customer(CustomerData("shop1:c:2", "Anna Bianchi_100%"))).code
    for n in range(1, 6):
        await erp.insert_order(order(f"shop1:o:{n}", rossi if n % 2 else bianchi,
                                     shop_reference=f"REF{n:03d}", day=date(2026, 3, n)))
    await erp.set_state("2026/000002", "shipped")

    rows, total = await erp.document_summaries()
    assert total == 5 and [r[0] for r in rows] == [f"2026/00000{n}" for n in (5, 4, 3, 2, 1)]
    assert rows[0] == ("2026/000005", "2026-03-05", "Mario Rossi", "12.20", "EUR", "open")

    rows, total = await erp.document_summaries(limit=2)
    assert total == 5 and [r[0] for r in rows] == ["2026/000005", "2026/000004"]

    async def numbers(search: str) -> list[str]:
        return [r[0] for r in (await erp.document_summaries(search))[0]]

    assert await numbers("rossi") == ["2026/000005", "2026/000003", "2026/000001"]  # any case
    assert await numbers("ref004") == ["2026/000004"]  # shop reference
    assert await numbers("shop1:o:3") == ["2026/000003"]  # the shop's order
    assert await numbers("SHIPPED") == ["2026/000002"]
    assert await numbers("000001") == ["2026/000001"]
    # % and _ are letters here, not patterns
    assert await numbers("_100%") == ["2026/000004", "2026/000002"]
    assert await numbers("a_n") == []  # as a pattern it would match Anna
    assert await numbers("zzz") == []
