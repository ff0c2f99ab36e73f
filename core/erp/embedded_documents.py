"""The embedded ERP's documents in SQL: numbering, batched checks and writes, reads.

Functions over a connection already inside the right transaction; the
``EmbeddedErp`` class decides the transactions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import aiosqlite

from core.erp import embedded_schema as schema
from core.erp.port import (
    ErpDocument,
    ErpDocumentLine,
    ErpError,
    ErpNotFound,
    LineKind,
    OrderDocumentData,
    ShippingData,
    VatSummary,
)

CHUNK = 500  # ids per IN (...) query, well under SQLite's variable limit

# state -> the states it may move to
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("cancelled", "shipped", "invoiced"),
    "shipped": ("invoiced",),
    "cancelled": (),
    "invoiced": (),
}


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def marks(n: int) -> str:
    return ",".join("?" * n)


@dataclass(frozen=True, slots=True)
class NewDocument:
    """A document about to be inserted, with what it needs from the batch."""

    doc: OrderDocumentData
    id: int
    number: str


async def take_numbers(conn: aiosqlite.Connection, name: str, year: int, count: int = 1) -> int:
    """Reserve ``count`` numbers of a sequence; returns the first."""
    async with conn.execute(
        "INSERT INTO sequences (name, year, last) VALUES (?, ?, ?) "
        "ON CONFLICT (name, year) DO UPDATE SET last = sequences.last + excluded.last RETURNING last",
        (name, year, count),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0]) - count + 1


async def check_references(conn: aiosqlite.Connection, docs: list[OrderDocumentData]) -> None:
    """Every customer, destination and article the documents name must exist."""
    customers = await existing_keys(conn, "SELECT code FROM customers WHERE code IN ({})",
                                {d.customer_code for d in docs})
    articles = await existing_keys(
        conn, "SELECT code FROM articles WHERE code IN ({})",
        {ln.article_code for d in docs for ln in d.lines if ln.article_code})
    dest_codes = {c for d in docs for c in (d.destination_code, d.invoice_destination_code) if c}
    owners: dict[str, str] = {}
    for chunk in chunks(list(dest_codes)):
        async with conn.execute(
            f"SELECT code, customer_code FROM destinations WHERE code IN ({marks(len(chunk))})",
            chunk,
        ) as cur:
            owners.update((r[0], r[1]) for r in await cur.fetchall())
    for d in docs:
        ref = d.external_ref
        if d.customer_code not in customers:
            raise ErpNotFound(f"order {ref}: no customer {d.customer_code!r} in the ERP",
                              external_ref=ref)
        for c in (d.destination_code, d.invoice_destination_code):
            if c and owners.get(c) != d.customer_code:
                raise ErpNotFound(
                    f"order {ref}: no destination {c!r} for customer {d.customer_code!r}",
                    external_ref=ref)
        for i, ln in enumerate(d.lines, 1):
            if ln.article_code and ln.article_code not in articles:
                raise ErpNotFound(
                    f"order {ref}: line {i}: no article {ln.article_code!r} in the ERP",
                    hint="create the article before the order", external_ref=ref)


async def existing_keys(conn: aiosqlite.Connection, sql: str, keys: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in chunks(list(keys)):
        async with conn.execute(sql.format(marks(len(chunk))), chunk) as cur:
            found.update(r[0] for r in await cur.fetchall())
    return found


async def allocate(conn: aiosqlite.Connection,
                   docs: list[OrderDocumentData]) -> list[NewDocument]:
    """Give each new document its id and its number in its year's sequence."""
    async with conn.execute("SELECT COALESCE(MAX(id), 0) FROM documents") as cur:
        row = await cur.fetchone()
    next_id = int(row[0]) + 1 if row else 1
    per_year: dict[int, int] = defaultdict(int)
    for d in docs:
        per_year[d.date.year] += 1
    first = {y: await take_numbers(conn, "document", y, n) for y, n in sorted(per_year.items())}
    rows = []
    for i, d in enumerate(docs):
        seq = first[d.date.year]
        first[d.date.year] += 1
        rows.append(NewDocument(d, next_id + i, f"{d.date.year}/{seq:06d}"))
    return rows


INSERT_LINE = (
    "INSERT INTO document_lines (document_id, line_no, kind, article_code, description,"
    " quantity, unit_price, unit_price_tax_incl, vat_rate, discount_pct, vat_code, vat_nature,"
    " total_tax_excl, total_tax_incl) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
INSERT_VAT = ("INSERT INTO document_vat (document_id, rate, code, nature, taxable, tax)"
              " VALUES (?,?,?,?,?,?)")


def opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def line_row(doc_id: int, no: int, ln: ErpDocumentLine) -> tuple:
    return (doc_id, no, ln.kind, ln.article_code, ln.description, ln.quantity,
            str(ln.unit_price), str(ln.unit_price_tax_incl), str(ln.vat_rate),
            str(ln.discount_pct), ln.vat_code, ln.vat_nature, opt_str(ln.total_tax_excl),
            opt_str(ln.total_tax_incl))


def vat_rows(doc_id: int, d: OrderDocumentData) -> list[tuple]:
    return [(doc_id, str(v.rate), v.code, v.nature, str(v.taxable), str(v.tax))
            for v in d.vat_summary]


async def write_documents(conn: aiosqlite.Connection, rows: list[NewDocument], now: str) -> None:
    """Documents, lines, VAT summaries and the stock they take, each in one executemany."""
    doc_rows = []
    line_rows = []
    summary_rows = []
    stock: dict[str, int] = defaultdict(int)
    for r in rows:
        d = r.doc
        doc_rows.append((
            r.id, d.date.year, int(r.number.split("/")[1]), r.number, d.date.isoformat(),
            d.customer_code, d.destination_code, d.invoice_destination_code, d.currency,
            d.payment, d.carrier, d.shop_reference, d.external_ref, str(d.total_tax_excl),
            str(d.total_tax_incl), d.notes, opt_str(d.conversion_rate), d.payment_method,
            str(d.rounding), str(d.rounding_tax_excl), now, now,
        ))
        for no, ln in enumerate(lines_of(d), 1):
            line_rows.append(line_row(r.id, no, ln))
            if ln.kind == "article" and ln.article_code:
                stock[ln.article_code] += ln.quantity
        summary_rows += vat_rows(r.id, d)
    await conn.executemany(
        "INSERT INTO documents (id, year, seq, number, date, customer_code, destination_code,"
        " invoice_destination_code, currency, payment, carrier, shop_reference, external_ref,"
        " total_tax_excl, total_tax_incl, notes, conversion_rate, payment_method, rounding,"
        " rounding_tax_excl, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", doc_rows)
    await conn.executemany(INSERT_LINE, line_rows)
    await conn.executemany(INSERT_VAT, summary_rows)
    await conn.executemany(
        "UPDATE articles SET stock = stock - ?, updated_at = ? WHERE code = ?",
        [(q, now, c) for c, q in sorted(stock.items())])


async def documents_where(conn: aiosqlite.Connection, column: str,
                          keys: Sequence[Any]) -> dict[Any, ErpDocument]:
    """Documents (with their lines) whose ``column`` is one of ``keys``, by that key."""
    assert column in ("external_ref", "number", "id")
    by_id: dict[int, Any] = {}
    for chunk in chunks(list(keys)):
        async with conn.execute(
            f"SELECT * FROM documents WHERE {column} IN ({marks(len(chunk))})", chunk
        ) as cur:
            by_id.update((r["id"], r) for r in await cur.fetchall())
    lines = await document_lines(conn, list(by_id))
    summaries = await document_vat(conn, list(by_id))
    return {row[column]: schema.document(row, tuple(lines.get(i, ())),
                                         tuple(summaries.get(i, ())))
            for i, row in by_id.items()}


async def _per_document(conn: aiosqlite.Connection, table: str, order: str, ids: list[int],
                        convert: Any) -> dict[int, list[Any]]:
    """Rows of a per-document table (lines, VAT summary), converted, by document id."""
    out: dict[int, list[Any]] = defaultdict(list)
    for chunk in chunks(ids):
        async with conn.execute(
            f"SELECT * FROM {table} WHERE document_id IN ({marks(len(chunk))})"
            f" ORDER BY document_id, {order}", chunk,
        ) as cur:
            for r in await cur.fetchall():
                out[r["document_id"]].append(convert(r))
    return out


async def document_vat(conn: aiosqlite.Connection, ids: list[int]) -> dict[int, list[VatSummary]]:
    return await _per_document(conn, "document_vat", "CAST(rate AS REAL) DESC, code", ids,
                               schema.vat_row)


async def document_lines(conn: aiosqlite.Connection,
                         ids: list[int]) -> dict[int, list[ErpDocumentLine]]:
    return await _per_document(conn, "document_lines", "line_no", ids, schema.line)


def check_transition(number: str, current: str, target: str) -> None:
    if target in TRANSITIONS[current]:
        return
    if current == target:
        raise ErpError(f"document {number} is already {current}")
    if current == "cancelled":
        raise ErpError(f"document {number} is cancelled and cannot become {target}",
                       hint="a cancelled document is final")
    if target == "cancelled":
        raise ErpError(f"document {number} is {current} and cannot be cancelled",
                       hint="issue a credit note in the ERP instead")
    raise ErpError(f"document {number} is {current} and cannot go back to {target}")


def parse_cursor(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    if isinstance(cursor, str) and cursor.isascii() and cursor.isdigit():
        return int(cursor)
    raise ErpError(f"not a state-change cursor of the embedded ERP: {cursor!r}",
                   hint="pass None to read from the start")


def lines_of(d: OrderDocumentData) -> list[ErpDocumentLine]:
    lines = [ErpDocumentLine("article", ln.article_code, ln.description, ln.quantity,
                             ln.unit_price, ln.unit_price_tax_incl, ln.vat_rate, ln.discount_pct,
                             ln.vat_code, ln.vat_nature, ln.total_tax_excl, ln.total_tax_incl)
             for ln in d.lines]
    charges: tuple[tuple[LineKind, ShippingData | None], ...] = (
        ("shipping", d.shipping), ("wrapping", d.wrapping))
    for kind, s in charges:
        if s is not None:
            lines.append(ErpDocumentLine(kind, None, s.description, 1, s.amount_tax_excl,
                                         s.amount_tax_incl, s.vat_rate, Decimal(0), s.vat_code,
                                         s.vat_nature, s.amount_tax_excl, s.amount_tax_incl))
    for disc in d.discounts:
        lines.append(ErpDocumentLine("discount", None, disc.description, 1, -disc.amount_tax_excl,
                                     -disc.amount_tax_incl, disc.vat_rate, Decimal(0),
                                     disc.vat_code, disc.vat_nature, -disc.amount_tax_excl,
                                     -disc.amount_tax_incl))
    if d.rounding or d.rounding_tax_excl:
        # the shop's own rounding, out of the VAT summary (docs/FISCAL.md, "Rounding")
        lines.append(ErpDocumentLine("rounding", None, "Rounding", 1, d.rounding_tax_excl,
                                     d.rounding, Decimal(0), Decimal(0), "", None,
                                     d.rounding_tax_excl, d.rounding))
    return lines


def document_from_data(r: NewDocument) -> ErpDocument:
    d = r.doc
    return ErpDocument(
        number=r.number, external_ref=d.external_ref, date=d.date, customer_code=d.customer_code,
        destination_code=d.destination_code, invoice_destination_code=d.invoice_destination_code,
        currency=d.currency, payment=d.payment, carrier=d.carrier, shop_reference=d.shop_reference,
        total_tax_excl=d.total_tax_excl, total_tax_incl=d.total_tax_incl, state="open",
        lines=tuple(lines_of(d)), vat_summary=d.vat_summary, rounding=d.rounding,
        notes=d.notes, conversion_rate=d.conversion_rate,
    )


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def rate2(value: Decimal) -> str:
    """A VAT rate as the export writes it: a decimal string with two places ("22.00")."""
    try:
        return f"{value.quantize(Decimal('0.01')):f}"
    except ArithmeticError:
        return str(value)


def export_document(doc: ErpDocument) -> dict[str, Any]:
    def line(ln: ErpDocumentLine) -> dict[str, Any]:
        return {"article_code": ln.article_code, "quantity": ln.quantity,
                "unit_price": str(ln.unit_price), "description": ln.description,
                "unit_price_tax_incl": str(ln.unit_price_tax_incl), "vat_rate": rate2(ln.vat_rate),
                "vat_code": ln.vat_code, "vat_nature": ln.vat_nature,
                "discount_pct": str(ln.discount_pct)}

    return {
        "number": doc.number, "external_ref": doc.external_ref,
        "customer_code": doc.customer_code, "state": doc.state,
        "lines": [line(ln) for ln in doc.lines if ln.kind == "article"],
        "total": str(doc.total_tax_incl),
        "total_tax_excl": str(doc.total_tax_excl),
        "date": doc.date.isoformat(), "currency": doc.currency,
        "destination_code": doc.destination_code,
        "invoice_destination_code": doc.invoice_destination_code,
        "payment": doc.payment, "carrier": doc.carrier, "shop_reference": doc.shop_reference,
        "shipping": [line(ln) for ln in doc.lines if ln.kind == "shipping"],
        "discounts": [line(ln) for ln in doc.lines if ln.kind == "discount"],
        "delivery_note_number": doc.delivery_note_number,
        "delivery_note_date": _day(doc.delivery_note_date),
        "tracking_number": doc.tracking_number,
        "invoice_number": doc.invoice_number, "invoice_date": _day(doc.invoice_date),
        "wrapping": [line(ln) for ln in doc.lines if ln.kind == "wrapping"],
        "rounding": str(doc.rounding),
        "vat_summary": [{"rate": rate2(v.rate), "code": v.code, "nature": v.nature,
                         "taxable": str(v.taxable), "tax": str(v.tax)} for v in doc.vat_summary],
        "notes": doc.notes,
        "conversion_rate": None if doc.conversion_rate is None else str(doc.conversion_rate),
    }
