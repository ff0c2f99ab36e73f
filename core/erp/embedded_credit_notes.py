"""The embedded ERP's credit notes in SQL (docs/FISCAL.md, "Refunds").

A credit note is a document kind of its own: numbered per year in the ``credit_note``
sequence (``NC 2026/000001``), with its own state (``open``, ``booked``), linked to the
order document it refunds; its lines and VAT summary are kept as a document's are. When
the goods came back, its article lines put their quantities back in stock, in the same
transaction. Functions over a connection already inside the right transaction; the
``EmbeddedErp`` class decides the transactions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import aiosqlite

from core.erp import embedded_schema as schema
from core.erp.embedded_documents import chunks, marks, opt_str, take_numbers
from core.erp.port import (
    CreditNoteData,
    ErpCreditNote,
    ErpDocumentLine,
    ErpNotFound,
)

PREFIX = "NC"


def lines_of(d: CreditNoteData) -> list[ErpDocumentLine]:
    lines = [ErpDocumentLine("article", ln.article_code, ln.description, ln.quantity,
                             ln.unit_price, ln.unit_price_tax_incl, ln.vat_rate, Decimal(0),
                             ln.vat_code, ln.vat_nature, ln.total_tax_excl, ln.total_tax_incl)
             for ln in d.lines]
    s = d.shipping
    if s is not None:
        lines.append(ErpDocumentLine("shipping", None, s.description, 1, s.amount_tax_excl,
                                     s.amount_tax_incl, s.vat_rate, Decimal(0), s.vat_code,
                                     s.vat_nature, s.amount_tax_excl, s.amount_tax_incl))
    if d.rounding or d.rounding_tax_excl:
        lines.append(ErpDocumentLine("rounding", None, "Rounding", 1, d.rounding_tax_excl,
                                     d.rounding, Decimal(0), Decimal(0), "", None,
                                     d.rounding_tax_excl, d.rounding))
    return lines


async def insert(conn: aiosqlite.Connection, docs: Sequence[CreditNoteData],
                 now: str) -> dict[str, ErpCreditNote]:
    """Insert the credit notes whose external reference is new; every one named must link
    to an order document of its customer (``ErpNotFound`` naming the credit note)."""
    order_ids: dict[str, tuple[int, str, str]] = {}
    for chunk in chunks(list({d.order_external_ref for d in docs})):
        async with conn.execute(
            "SELECT id, external_ref, number, customer_code FROM documents"
            f" WHERE external_ref IN ({marks(len(chunk))})", chunk) as cur:
            for r in await cur.fetchall():
                order_ids[r["external_ref"]] = (int(r["id"]), r["number"], r["customer_code"])
    articles = {ln.article_code for d in docs for ln in d.lines if ln.article_code}
    known: set[str] = set()
    for chunk in chunks(list(articles)):
        async with conn.execute(f"SELECT code FROM articles WHERE code IN ({marks(len(chunk))})",
                                chunk) as cur:
            known.update(r[0] for r in await cur.fetchall())
    for d in docs:
        linked = order_ids.get(d.order_external_ref)
        if linked is None:
            raise ErpNotFound(f"credit note {d.external_ref}: the order document "
                              f"{d.order_external_ref} is not in the ERP",
                              hint="the order goes in first", external_ref=d.external_ref)
        if linked[2] != d.customer_code:
            raise ErpNotFound(f"credit note {d.external_ref}: the order document {linked[1]} "
                              f"is customer {linked[2]}'s, not {d.customer_code}'s",
                              external_ref=d.external_ref)
        for i, ln in enumerate(d.lines, 1):
            if ln.article_code and ln.article_code not in known:
                raise ErpNotFound(f"credit note {d.external_ref}: line {i}: no article "
                                  f"{ln.article_code!r} in the ERP", external_ref=d.external_ref)
    async with conn.execute("SELECT COALESCE(MAX(id), 0) FROM credit_notes") as cur:
        row = await cur.fetchone()
    next_id = (int(row[0]) if row else 0) + 1
    per_year: dict[int, int] = defaultdict(int)
    for d in docs:
        per_year[d.date.year] += 1
    first = {y: await take_numbers(conn, "credit_note", y, n) for y, n in sorted(per_year.items())}
    notes: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    vat: list[tuple[Any, ...]] = []
    stock: dict[str, int] = defaultdict(int)
    made: dict[str, ErpCreditNote] = {}
    for i, d in enumerate(docs):
        cid = next_id + i
        year = d.date.year
        seq = first[year]
        first[year] += 1
        number = f"{PREFIX} {year}/{seq:06d}"
        doc_id, order_number, _customer = order_ids[d.order_external_ref]
        notes.append((cid, year, seq, number, d.date.isoformat(), doc_id, d.customer_code,
                      d.currency, d.shop_reference, d.external_ref, str(d.total_tax_excl),
                      str(d.total_tax_incl), str(d.rounding), str(d.rounding_tax_excl),
                      int(d.goods_returned), d.notes, opt_str(d.conversion_rate), now, now))
        erp_lines = lines_of(d)
        for no, el in enumerate(erp_lines, 1):
            lines.append((cid, no, el.kind, el.article_code, el.description, el.quantity,
                          str(el.unit_price), str(el.unit_price_tax_incl), str(el.vat_rate),
                          el.vat_code, el.vat_nature, opt_str(el.total_tax_excl),
                          opt_str(el.total_tax_incl)))
            if d.goods_returned and el.kind == "article" and el.article_code:
                stock[el.article_code] += el.quantity
        vat += [(cid, str(v.rate), v.code, v.nature, str(v.taxable), str(v.tax))
                for v in d.vat_summary]
        made[d.external_ref] = ErpCreditNote(
            number=number, external_ref=d.external_ref, order_external_ref=d.order_external_ref,
            order_number=order_number, date=d.date, customer_code=d.customer_code,
            currency=d.currency, total_tax_excl=d.total_tax_excl,
            total_tax_incl=d.total_tax_incl, state="open", goods_returned=d.goods_returned,
            lines=tuple(erp_lines), vat_summary=d.vat_summary, rounding=d.rounding,
            shop_reference=d.shop_reference, conversion_rate=d.conversion_rate, notes=d.notes)
    await conn.executemany(
        "INSERT INTO credit_notes (id, year, seq, number, date, document_id, customer_code,"
        " currency, shop_reference, external_ref, total_tax_excl, total_tax_incl, rounding,"
        " rounding_tax_excl, goods_returned, notes, conversion_rate, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", notes)
    await conn.executemany(
        "INSERT INTO credit_note_lines (credit_note_id, line_no, kind, article_code, description,"
        " quantity, unit_price, unit_price_tax_incl, vat_rate, vat_code, vat_nature,"
        " total_tax_excl, total_tax_incl) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", lines)
    await conn.executemany(
        "INSERT INTO credit_note_vat (credit_note_id, rate, code, nature, taxable, tax)"
        " VALUES (?,?,?,?,?,?)", vat)
    await conn.executemany(
        "UPDATE articles SET stock = stock + ?, updated_at = ? WHERE code = ?",
        [(q, now, c) for c, q in sorted(stock.items())])
    return made


def _line(row: Any) -> ErpDocumentLine:
    return ErpDocumentLine(
        kind=row["kind"], article_code=row["article_code"], description=row["description"],
        quantity=int(row["quantity"]), unit_price=Decimal(row["unit_price"]),
        unit_price_tax_incl=Decimal(row["unit_price_tax_incl"]),
        vat_rate=Decimal(row["vat_rate"]), discount_pct=Decimal(0), vat_code=row["vat_code"],
        vat_nature=row["vat_nature"],
        total_tax_excl=None if row["total_tax_excl"] is None else Decimal(row["total_tax_excl"]),
        total_tax_incl=None if row["total_tax_incl"] is None else Decimal(row["total_tax_incl"]))


SELECT = ("SELECT c.*, d.number AS order_number, d.external_ref AS order_external_ref"
          " FROM credit_notes c JOIN documents d ON d.id = c.document_id")


async def where(conn: aiosqlite.Connection, column: str,
                keys: Sequence[Any]) -> dict[Any, ErpCreditNote]:
    """Credit notes (with lines and VAT summary) whose ``column`` (a unique one) is one of
    ``keys``, by that key."""
    assert column in ("c.external_ref", "c.number", "c.id")
    rows: dict[int, Any] = {}
    for chunk in chunks(list(keys)):
        async with conn.execute(f"{SELECT} WHERE {column} IN ({marks(len(chunk))})"
                                " ORDER BY c.id", chunk) as cur:
            rows.update((int(r["id"]), r) for r in await cur.fetchall())
    ids = list(rows)
    lines: dict[int, list[ErpDocumentLine]] = defaultdict(list)
    vat: dict[int, list[Any]] = defaultdict(list)
    for chunk in chunks(ids):
        q = marks(len(chunk))
        async with conn.execute(f"SELECT * FROM credit_note_lines WHERE credit_note_id IN ({q})"
                                " ORDER BY credit_note_id, line_no", chunk) as cur:
            for r in await cur.fetchall():
                lines[int(r["credit_note_id"])].append(_line(r))
        async with conn.execute(f"SELECT * FROM credit_note_vat WHERE credit_note_id IN ({q})"
                                " ORDER BY credit_note_id, CAST(rate AS REAL) DESC, code",
                                chunk) as cur:
            for r in await cur.fetchall():
                vat[int(r["credit_note_id"])].append(schema.vat_row(r))
    key = column.split(".", 1)[1]
    return {r[key]: credit_note(r, tuple(lines[i]), tuple(vat[i])) for i, r in rows.items()}


def credit_note(row: Any, lines: tuple[ErpDocumentLine, ...],
                summary: tuple[Any, ...]) -> ErpCreditNote:
    return ErpCreditNote(
        number=row["number"], external_ref=row["external_ref"],
        order_external_ref=row["order_external_ref"], order_number=row["order_number"],
        date=date.fromisoformat(row["date"]), customer_code=row["customer_code"],
        currency=row["currency"], total_tax_excl=Decimal(row["total_tax_excl"]),
        total_tax_incl=Decimal(row["total_tax_incl"]), state=row["state"],
        goods_returned=bool(row["goods_returned"]), lines=lines, vat_summary=summary,
        rounding=Decimal(row["rounding"]), shop_reference=row["shop_reference"],
        conversion_rate=None if row["conversion_rate"] is None else Decimal(row["conversion_rate"]),
        notes=row["notes"])


def export(cn: ErpCreditNote) -> dict[str, Any]:
    def line(ln: ErpDocumentLine) -> dict[str, Any]:
        return {"kind": ln.kind, "article_code": ln.article_code, "description": ln.description,
                "quantity": ln.quantity, "unit_price": str(ln.unit_price),
                "unit_price_tax_incl": str(ln.unit_price_tax_incl),
                "vat_rate": f"{ln.vat_rate.quantize(Decimal('0.01')):f}",
                "vat_code": ln.vat_code, "vat_nature": ln.vat_nature,
                "total_tax_excl": opt_str(ln.total_tax_excl),
                "total_tax_incl": opt_str(ln.total_tax_incl)}

    return {"number": cn.number, "external_ref": cn.external_ref,
            "order_number": cn.order_number, "order_external_ref": cn.order_external_ref,
            "date": cn.date.isoformat(), "customer_code": cn.customer_code,
            "currency": cn.currency, "state": cn.state, "goods_returned": cn.goods_returned,
            "lines": [line(ln) for ln in cn.lines], "total_tax_excl": str(cn.total_tax_excl),
            "total": str(cn.total_tax_incl), "rounding": str(cn.rounding),
            "vat_summary": [{"rate": f"{v.rate.quantize(Decimal('0.01')):f}", "code": v.code,
                             "nature": v.nature, "taxable": str(v.taxable), "tax": str(v.tax)}
                            for v in cn.vat_summary],
            "shop_reference": cn.shop_reference, "notes": cn.notes}
