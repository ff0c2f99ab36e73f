"""The embedded ERP's schema (erp.db) and the row <-> dataclass mapping.

Money is stored as TEXT (the exact Decimal string), stock and quantities as
INTEGER, dates as ISO text, instants as ISO UTC text.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from core.erp.port import (
    DestinationData,
    ErpArticle,
    ErpCustomer,
    ErpDestination,
    ErpDocument,
    ErpDocumentLine,
    Outcome,
    StateChange,
    VatSummary,
)

MIGRATIONS: list[str] = [
    # 1: the whole first schema
    """
    CREATE TABLE sequences (
        name TEXT NOT NULL,
        year INTEGER NOT NULL,
        last INTEGER NOT NULL,
        PRIMARY KEY (name, year)
    ) WITHOUT ROWID;

    CREATE TABLE customers (
        id INTEGER PRIMARY KEY,
        code TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        company TEXT,
        vat_number TEXT,
        tax_code TEXT,
        email TEXT,
        email_key TEXT,
        phone TEXT,
        external_ref TEXT UNIQUE,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX customers_email_key ON customers (email_key);

    CREATE TABLE destinations (
        id INTEGER PRIMARY KEY,
        code TEXT NOT NULL UNIQUE,
        customer_code TEXT NOT NULL REFERENCES customers (code),
        name TEXT NOT NULL,
        company TEXT,
        address1 TEXT NOT NULL,
        address2 TEXT,
        postcode TEXT,
        city TEXT NOT NULL,
        province TEXT,
        country TEXT NOT NULL,
        phone TEXT,
        external_ref TEXT,
        content_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (customer_code, content_hash)
    );

    CREATE TABLE articles (
        code TEXT PRIMARY KEY,
        description TEXT NOT NULL,
        price TEXT NOT NULL,
        vat_rate TEXT NOT NULL,
        stock INTEGER NOT NULL DEFAULT 0,
        active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE documents (
        id INTEGER PRIMARY KEY,
        year INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        number TEXT NOT NULL UNIQUE,
        date TEXT NOT NULL,
        customer_code TEXT NOT NULL REFERENCES customers (code),
        destination_code TEXT REFERENCES destinations (code),
        invoice_destination_code TEXT REFERENCES destinations (code),
        currency TEXT NOT NULL,
        payment TEXT,
        carrier TEXT,
        shop_reference TEXT,
        external_ref TEXT UNIQUE,
        total_tax_excl TEXT NOT NULL,
        total_tax_incl TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'open'
            CHECK (state IN ('open', 'cancelled', 'shipped', 'invoiced')),
        delivery_note_number TEXT UNIQUE,
        delivery_note_date TEXT,
        tracking_number TEXT,
        invoice_number TEXT UNIQUE,
        invoice_date TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (year, seq)
    );
    CREATE INDEX documents_state ON documents (state);
    CREATE INDEX documents_customer ON documents (customer_code);

    CREATE TABLE document_lines (
        document_id INTEGER NOT NULL REFERENCES documents (id),
        line_no INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('article', 'shipping', 'discount')),
        article_code TEXT REFERENCES articles (code),
        description TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        unit_price TEXT NOT NULL,
        unit_price_tax_incl TEXT NOT NULL,
        vat_rate TEXT NOT NULL,
        discount_pct TEXT NOT NULL,
        PRIMARY KEY (document_id, line_no)
    ) WITHOUT ROWID;
    CREATE INDEX document_lines_article ON document_lines (article_code);

    -- Every state change, in order; the id is the cursor handed to Sincro.
    CREATE TABLE state_journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        document_id INTEGER NOT NULL REFERENCES documents (id),
        event TEXT NOT NULL CHECK (event IN ('cancelled', 'shipped', 'invoiced')),
        at TEXT NOT NULL,
        delivery_note_number TEXT,
        delivery_note_date TEXT,
        tracking_number TEXT,
        invoice_number TEXT,
        invoice_date TEXT
    );
    """,
]

MIGRATIONS.append(
    # 2: e-invoicing data (docs/FISCAL.md): the customer's PEC, SDI code, kind and country;
    # each line's VAT code and nature and the shop's line amounts, wrapping and rounding
    # lines; the per-rate VAT summary; notes, conversion rate and payment method
    """
    ALTER TABLE customers ADD COLUMN pec TEXT;
    ALTER TABLE customers ADD COLUMN sdi_code TEXT;
    ALTER TABLE customers ADD COLUMN kind TEXT NOT NULL DEFAULT 'private'
        CHECK (kind IN ('company', 'private'));
    ALTER TABLE customers ADD COLUMN country TEXT;
    UPDATE customers SET kind = 'company' WHERE company IS NOT NULL OR vat_number IS NOT NULL;

    ALTER TABLE documents ADD COLUMN notes TEXT;
    ALTER TABLE documents ADD COLUMN conversion_rate TEXT;
    ALTER TABLE documents ADD COLUMN payment_method TEXT;
    ALTER TABLE documents ADD COLUMN rounding TEXT NOT NULL DEFAULT '0';
    ALTER TABLE documents ADD COLUMN rounding_tax_excl TEXT NOT NULL DEFAULT '0';

    CREATE TABLE document_lines_v2 (
        document_id INTEGER NOT NULL REFERENCES documents (id),
        line_no INTEGER NOT NULL,
        kind TEXT NOT NULL
            CHECK (kind IN ('article', 'shipping', 'wrapping', 'discount', 'rounding')),
        article_code TEXT REFERENCES articles (code),
        description TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        unit_price TEXT NOT NULL,
        unit_price_tax_incl TEXT NOT NULL,
        vat_rate TEXT NOT NULL,
        discount_pct TEXT NOT NULL,
        vat_code TEXT NOT NULL DEFAULT '',
        vat_nature TEXT,
        total_tax_excl TEXT,
        total_tax_incl TEXT,
        PRIMARY KEY (document_id, line_no)
    ) WITHOUT ROWID;
    INSERT INTO document_lines_v2 (document_id, line_no, kind, article_code, description,
        quantity, unit_price, unit_price_tax_incl, vat_rate, discount_pct)
        SELECT document_id, line_no, kind, article_code, description, quantity, unit_price,
               unit_price_tax_incl, vat_rate, discount_pct FROM document_lines;
    DROP TABLE document_lines;
    ALTER TABLE document_lines_v2 RENAME TO document_lines;
    CREATE INDEX document_lines_article ON document_lines (article_code);

    CREATE TABLE document_vat (
        document_id INTEGER NOT NULL REFERENCES documents (id),
        rate TEXT NOT NULL,
        code TEXT NOT NULL,
        nature TEXT,
        taxable TEXT NOT NULL,
        tax TEXT NOT NULL,
        PRIMARY KEY (document_id, rate, code)
    ) WITHOUT ROWID;
    """
)

MIGRATIONS.append(
    # 3: articles keep their EAN13, so that a shop product is found by it (docs/FISCAL.md)
    """
    ALTER TABLE articles ADD COLUMN ean13 TEXT;
    CREATE INDEX articles_ean13 ON articles (ean13);
    CREATE INDEX customers_vat_number ON customers (vat_number);
    CREATE INDEX customers_tax_code ON customers (tax_code);
    """
)

MIGRATIONS.append(
    # 4: credit notes (docs/FISCAL.md, "Refunds"): a document kind of its own, numbered per
    # year in the "credit_note" sequence ("NC 2026/000001"), with its own state, linked to
    # the order document it refunds; lines and VAT summary as documents have them
    """
    CREATE TABLE credit_notes (
        id INTEGER PRIMARY KEY,
        year INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        number TEXT NOT NULL UNIQUE,
        date TEXT NOT NULL,
        document_id INTEGER NOT NULL REFERENCES documents (id),
        customer_code TEXT NOT NULL REFERENCES customers (code),
        currency TEXT NOT NULL,
        shop_reference TEXT,
        external_ref TEXT NOT NULL UNIQUE,
        total_tax_excl TEXT NOT NULL,
        total_tax_incl TEXT NOT NULL,
        rounding TEXT NOT NULL DEFAULT '0',
        rounding_tax_excl TEXT NOT NULL DEFAULT '0',
        goods_returned INTEGER NOT NULL CHECK (goods_returned IN (0, 1)),
        state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'booked')),
        notes TEXT,
        conversion_rate TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (year, seq)
    );
    CREATE INDEX credit_notes_document ON credit_notes (document_id);

    CREATE TABLE credit_note_lines (
        credit_note_id INTEGER NOT NULL REFERENCES credit_notes (id),
        line_no INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('article', 'shipping', 'rounding')),
        article_code TEXT REFERENCES articles (code),
        description TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        unit_price TEXT NOT NULL,
        unit_price_tax_incl TEXT NOT NULL,
        vat_rate TEXT NOT NULL,
        vat_code TEXT NOT NULL DEFAULT '',
        vat_nature TEXT,
        total_tax_excl TEXT,
        total_tax_incl TEXT,
        PRIMARY KEY (credit_note_id, line_no)
    ) WITHOUT ROWID;

    CREATE TABLE credit_note_vat (
        credit_note_id INTEGER NOT NULL REFERENCES credit_notes (id),
        rate TEXT NOT NULL,
        code TEXT NOT NULL,
        nature TEXT,
        taxable TEXT NOT NULL,
        tax TEXT NOT NULL,
        PRIMARY KEY (credit_note_id, rate, code)
    ) WITHOUT ROWID;
    """
)

CUSTOMER_FIELDS = ("name", "company", "vat_number", "tax_code", "email", "phone", "pec",
                   "sdi_code", "kind", "country")
ADDRESS_FIELDS = ("name", "company", "address1", "address2", "postcode", "city", "province",
                  "country", "phone")


def email_key(email: str | None) -> str | None:
    return email.strip().casefold() if email and email.strip() else None


def content_hash(data: DestinationData) -> str:
    """Same address text (ignoring case and runs of spaces) -> same hash."""
    parts = []
    for name in ADDRESS_FIELDS:
        value = getattr(data, name) or ""
        parts.append(" ".join(str(value).split()).casefold())
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def customer(row: Any, outcome: Outcome | None = None) -> ErpCustomer:
    return ErpCustomer(
        code=row["code"], name=row["name"], company=row["company"],
        vat_number=row["vat_number"], tax_code=row["tax_code"], email=row["email"],
        phone=row["phone"], external_ref=row["external_ref"], outcome=outcome,
        pec=row.get("pec") if isinstance(row, dict) else row["pec"],
        sdi_code=row.get("sdi_code") if isinstance(row, dict) else row["sdi_code"],
        kind=(row.get("kind") if isinstance(row, dict) else row["kind"]) or "private",
        country=row.get("country") if isinstance(row, dict) else row["country"],
    )


def destination(row: Any, outcome: Outcome | None = None) -> ErpDestination:
    return ErpDestination(
        code=row["code"], customer_code=row["customer_code"], name=row["name"],
        address1=row["address1"], city=row["city"], country=row["country"],
        company=row["company"], address2=row["address2"], postcode=row["postcode"],
        province=row["province"], phone=row["phone"], external_ref=row["external_ref"],
        outcome=outcome,
    )


def article(row: Any, outcome: Outcome | None = None) -> ErpArticle:
    return ErpArticle(
        code=row["code"], description=row["description"], price=Decimal(row["price"]),
        vat_rate=Decimal(row["vat_rate"]), stock=int(row["stock"]), active=bool(row["active"]),
        outcome=outcome, ean13=row["ean13"],
    )


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def line(row: Any) -> ErpDocumentLine:
    return ErpDocumentLine(
        kind=row["kind"], article_code=row["article_code"], description=row["description"],
        quantity=int(row["quantity"]), unit_price=Decimal(row["unit_price"]),
        unit_price_tax_incl=Decimal(row["unit_price_tax_incl"]),
        vat_rate=Decimal(row["vat_rate"]), discount_pct=Decimal(row["discount_pct"]),
        vat_code=row["vat_code"], vat_nature=row["vat_nature"],
        total_tax_excl=_dec(row["total_tax_excl"]), total_tax_incl=_dec(row["total_tax_incl"]),
    )


def vat_row(row: Any) -> VatSummary:
    return VatSummary(rate=Decimal(row["rate"]), code=row["code"], nature=row["nature"],
                      taxable=Decimal(row["taxable"]), tax=Decimal(row["tax"]))


def document(row: Any, lines: tuple[ErpDocumentLine, ...] = (),
             summary: tuple[VatSummary, ...] = ()) -> ErpDocument:
    return ErpDocument(
        number=row["number"], external_ref=row["external_ref"], date=date.fromisoformat(row["date"]),
        customer_code=row["customer_code"], destination_code=row["destination_code"],
        invoice_destination_code=row["invoice_destination_code"], currency=row["currency"],
        payment=row["payment"], carrier=row["carrier"], shop_reference=row["shop_reference"],
        total_tax_excl=Decimal(row["total_tax_excl"]), total_tax_incl=Decimal(row["total_tax_incl"]),
        state=row["state"], lines=lines,
        delivery_note_number=row["delivery_note_number"],
        delivery_note_date=_d(row["delivery_note_date"]),
        tracking_number=row["tracking_number"], invoice_number=row["invoice_number"],
        invoice_date=_d(row["invoice_date"]),
        vat_summary=summary, rounding=Decimal(row["rounding"]),
        notes=row["notes"], conversion_rate=_dec(row["conversion_rate"]),
    )


def state_change(row: Any) -> StateChange:
    return StateChange(
        document_number=row["number"], external_ref=row["external_ref"], event=row["event"],
        at=datetime.fromisoformat(row["at"]),
        delivery_note_number=row["delivery_note_number"],
        delivery_note_date=_d(row["delivery_note_date"]),
        tracking_number=row["tracking_number"], invoice_number=row["invoice_number"],
        invoice_date=_d(row["invoice_date"]), cursor=str(row["id"]),
    )
