"""The ERP port: what Sincro asks of a back-office ERP ("gestionale").

Every ERP (the embedded SQLite one, Tryton over JSON-RPC, ...) is reached only
through ``ErpConnector``. What crosses the port is a frozen dataclass; money is
``Decimal``, quantities and stock are ``int``, dates are ``date``/aware
``datetime``. The keys that make the sync exactly-once are the external
references Sincro builds and the ERP stores:

- customer:  ``"shop1:c:42"`` (shop customer id) or ``"shop1:e:mario@example.com"``
  (guests merged by e-mail);
- order document: ``"shop1:o:1234"`` (shop order id);
- credit note: ``"shop1:s:17"`` (shop order slip id, a refund; see ``ErpCreditNotes``).

Writes keyed by them are idempotent: repeating one after a crash returns what
the first one made. A connector that cannot do something raises
``ErpUnsupported``; any other failure of the ERP is an ``ErpError``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable

from core.errors import NotFound, SincroError

Outcome = Literal["created", "updated", "unchanged"]
DocumentState = Literal["open", "cancelled", "shipped", "invoiced"]
StateEvent = Literal["cancelled", "shipped", "invoiced"]
LineKind = Literal["article", "shipping", "wrapping", "discount", "rounding"]
CustomerKind = Literal["company", "private"]

DOCUMENT_STATES: tuple[DocumentState, ...] = ("open", "cancelled", "shipped", "invoiced")
STATE_EVENTS: tuple[StateEvent, ...] = ("cancelled", "shipped", "invoiced")


# -- errors ----------------------------------------------------------------
class ErpError(SincroError):
    """The ERP refused or failed an operation (bad data, bad state, I/O).

    ``external_ref`` names the document or customer at fault when there is one,
    so that a failed batch can be retried without it.
    """

    def __init__(self, message: str, *, hint: str | None = None,
                 external_ref: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.external_ref = external_ref


class ErpNotFound(ErpError, NotFound):
    """A customer, article, destination or document the ERP does not have."""


class ErpUnsupported(SincroError):
    """This connector cannot do what was asked (say which ERP and what)."""

    def __init__(self, erp: str, what: str, *, hint: str | None = None) -> None:
        super().__init__(f"the {erp} ERP connector cannot {what}", hint=hint)
        self.erp = erp
        self.what = what


class Capability(StrEnum):
    CUSTOMERS = "customers"
    DESTINATIONS = "destinations"
    ARTICLES = "articles"
    CREATE_ARTICLES = "create_articles"
    ORDERS = "orders"
    STATE_CHANGES = "state_changes"
    STOCK_PRICE = "stock_price"
    BULK = "bulk"  # insert_orders / upsert_customers in one ERP transaction
    SET_STATE = "set_state"  # the operator can change states through Sincro (demo ERP)
    EXPORT = "export"
    CREDIT_NOTES = "credit_notes"  # the connector is also an ErpCreditNotes (refunds)


# -- customers -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CustomerData:
    """A customer as Sincro knows it, keyed by ``external_ref``."""

    external_ref: str
    name: str
    company: str | None = None
    vat_number: str | None = None
    tax_code: str | None = None  # codice fiscale
    email: str | None = None
    phone: str | None = None
    # e-invoicing (docs/FISCAL.md): certified e-mail, SDI recipient code, company or private,
    # and the country of the fiscal identifiers (ISO 3166-1 alpha-2)
    pec: str | None = None
    sdi_code: str | None = None
    kind: CustomerKind = "private"
    country: str | None = None


@dataclass(frozen=True, slots=True)
class ErpCustomer:
    code: str  # the ERP's own code, e.g. "C000123"
    name: str
    company: str | None
    vat_number: str | None
    tax_code: str | None
    email: str | None
    phone: str | None
    external_ref: str | None
    # Set on what upsert_customer(s) returns; None when read with find_*.
    outcome: Outcome | None = None
    pec: str | None = None
    sdi_code: str | None = None
    kind: CustomerKind = "private"
    country: str | None = None


@dataclass(frozen=True, slots=True)
class DestinationData:
    """A shipping or invoice address. Same text -> same destination."""

    name: str
    address1: str
    city: str
    country: str  # ISO 3166-1 alpha-2
    company: str | None = None
    address2: str | None = None
    postcode: str | None = None
    province: str | None = None  # the state's ISO code, e.g. "MI"
    phone: str | None = None
    external_ref: str | None = None  # e.g. "shop1:a:77"; not part of the content


@dataclass(frozen=True, slots=True)
class ErpDestination:
    code: str
    customer_code: str
    name: str
    address1: str
    city: str
    country: str
    company: str | None
    address2: str | None
    postcode: str | None
    province: str | None
    phone: str | None
    external_ref: str | None
    outcome: Outcome | None = None


# -- articles --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ArticleData:
    code: str
    description: str
    price: Decimal  # list price, tax excluded
    vat_rate: Decimal = Decimal("22")
    stock: int = 0
    active: bool = True
    ean13: str | None = None


@dataclass(frozen=True, slots=True)
class ErpArticle:
    code: str
    description: str
    price: Decimal
    vat_rate: Decimal
    stock: int
    active: bool
    outcome: Outcome | None = None  # "created"/"unchanged" from create_article
    ean13: str | None = None


# -- order documents -------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrderLineData:
    article_code: str | None  # None: a description-only line (no stock effect)
    description: str
    quantity: int
    unit_price: Decimal  # tax excluded, before discount_pct
    unit_price_tax_incl: Decimal
    vat_rate: Decimal
    discount_pct: Decimal = Decimal("0")
    vat_code: str = ""  # the ERP's VAT code for this rate (the account's tax map)
    vat_nature: str | None = None  # e-invoice nature (N1..N7) of a 0 % line
    # the line's amounts as the shop computed them (quantity x unit, rounded its way);
    # None: unit price x quantity
    total_tax_excl: Decimal | None = None
    total_tax_incl: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ShippingData:
    """A charge on the whole order: shipping, or gift wrapping."""

    amount_tax_excl: Decimal
    amount_tax_incl: Decimal
    vat_rate: Decimal = Decimal("22")
    description: str = "Shipping"
    vat_code: str = ""
    vat_nature: str | None = None


@dataclass(frozen=True, slots=True)
class DiscountData:
    """A discount on the whole order at one VAT rate, amounts given as positive numbers."""

    description: str
    amount_tax_excl: Decimal
    amount_tax_incl: Decimal
    vat_rate: Decimal = Decimal("22")
    vat_code: str = ""
    vat_nature: str | None = None


@dataclass(frozen=True, slots=True)
class VatSummary:
    """One row of a document's VAT summary (the e-invoice's DatiRiepilogo): every line
    at this rate (and nature), their taxable amount and the tax on it."""

    rate: Decimal
    code: str
    nature: str | None
    taxable: Decimal
    tax: Decimal


@dataclass(frozen=True, slots=True)
class OrderDocumentData:
    external_ref: str  # "shop1:o:1234": the idempotency key
    customer_code: str
    date: dt.date
    currency: str  # ISO 4217, e.g. "EUR"
    lines: tuple[OrderLineData, ...]
    total_tax_excl: Decimal
    total_tax_incl: Decimal
    destination_code: str | None = None  # shipping destination
    invoice_destination_code: str | None = None
    payment: str | None = None
    carrier: str | None = None
    shop_reference: str | None = None  # the shop's order reference, e.g. "XKBKNABJK"
    shipping: ShippingData | None = None
    discounts: tuple[DiscountData, ...] = ()
    wrapping: ShippingData | None = None
    # Per-rate summary; with ``rounding`` its totals are the document's totals to the cent.
    vat_summary: tuple[VatSummary, ...] = ()
    # The shop's own rounding (total tax incl. minus summary taxable and tax), as an
    # explicit line out of the VAT summary; 0 when none.
    rounding: Decimal = Decimal("0")
    # The part of ``rounding`` that is taxable base (shops rounding on the total leave a
    # fraction of a cent per rate there); usually 0, so the rounding is all tax.
    rounding_tax_excl: Decimal = Decimal("0")
    notes: str | None = None  # the customer's messages and the gift message
    conversion_rate: Decimal | None = None  # the order currency's rate to the shop's default
    payment_method: str | None = None  # the shop's payment module, e.g. "ps_wirepayment"
    carrier_id: int | None = None  # the shop's carrier id


@dataclass(frozen=True, slots=True)
class ErpDocumentLine:
    kind: LineKind
    article_code: str | None
    description: str
    quantity: int
    unit_price: Decimal  # tax excluded; negative on discount lines
    unit_price_tax_incl: Decimal
    vat_rate: Decimal
    discount_pct: Decimal
    vat_code: str = ""
    vat_nature: str | None = None
    total_tax_excl: Decimal | None = None
    total_tax_incl: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ErpDocument:
    number: str  # e.g. "2026/000123"
    external_ref: str | None
    date: dt.date
    customer_code: str
    destination_code: str | None
    invoice_destination_code: str | None
    currency: str
    payment: str | None
    carrier: str | None
    shop_reference: str | None
    total_tax_excl: Decimal
    total_tax_incl: Decimal
    state: DocumentState
    lines: tuple[ErpDocumentLine, ...] = ()
    delivery_note_number: str | None = None
    delivery_note_date: dt.date | None = None
    tracking_number: str | None = None
    invoice_number: str | None = None
    invoice_date: dt.date | None = None
    vat_summary: tuple[VatSummary, ...] = ()
    rounding: Decimal = Decimal("0")
    notes: str | None = None
    conversion_rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class InsertResult:
    document: ErpDocument
    created: bool  # False: the external_ref was already there, this is that document


@dataclass(frozen=True, slots=True)
class StateChange:
    document_number: str
    external_ref: str | None
    event: StateEvent
    at: datetime  # aware, UTC
    delivery_note_number: str | None = None
    delivery_note_date: dt.date | None = None
    tracking_number: str | None = None
    invoice_number: str | None = None
    invoice_date: dt.date | None = None
    cursor: str = field(default="", compare=False)  # the cursor just after this change


# -- the port --------------------------------------------------------------
@runtime_checkable
class ErpConnector(Protocol):
    """An ERP as Sincro uses it. Every method may raise ErpError / ErpUnsupported.

    Bulk methods (``upsert_customers``, ``upsert_destinations``,
    ``create_articles``, ``insert_orders``) should do the whole list in one ERP
    transaction where the ERP allows it: all or nothing, an ``ErpError`` naming
    the ``external_ref`` at fault; results come back in the order asked, and a
    key repeated in one list is made once. A connector without batching may
    implement them as a loop (the ``*_each`` helpers below do that).
    """

    @property
    def name(self) -> str:
        """Short name for messages and logs, e.g. "embedded", "tryton"."""
        ...

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    async def close(self) -> None: ...

    # customers
    async def find_customer(self, external_ref: str) -> ErpCustomer | None: ...

    async def find_customer_by_email(self, email: str) -> ErpCustomer | None:
        """The customer with this e-mail (case-insensitive), the oldest if many."""
        ...

    async def upsert_customer(self, data: CustomerData) -> ErpCustomer:
        """Create, or update when something changed; ``outcome`` says which."""
        ...

    async def upsert_customers(self, data: Sequence[CustomerData]) -> list[ErpCustomer]: ...

    async def upsert_destination(self, customer_code: str, data: DestinationData) -> ErpDestination:
        """The customer's destination with this content, created if new."""
        ...

    async def upsert_destinations(
        self, items: Sequence[tuple[str, DestinationData]]
    ) -> list[ErpDestination]:
        """``upsert_destination`` for each (customer code, address), in one go."""
        ...

    # articles
    async def find_articles(self, codes: Sequence[str]) -> dict[str, ErpArticle]:
        """The articles that exist among ``codes``, by code (absent ones left out)."""
        ...

    async def create_article(self, data: ArticleData) -> ErpArticle:
        """Create it; an existing code returns the existing article (outcome "unchanged")."""
        ...

    async def create_articles(self, data: Sequence[ArticleData]) -> list[ErpArticle]:
        """``create_article`` for each, in one go."""
        ...

    async def articles_stock_price(self, codes: Sequence[str]) -> dict[str, ErpArticle]:
        """Current stock, price and active flag, for the listing rules."""
        ...

    async def list_articles(self, pattern: str | None = None) -> list[ErpArticle]:
        """Articles whose code matches the glob ``pattern`` (all if None), by code."""
        ...

    # documents
    async def insert_order(self, doc: OrderDocumentData) -> InsertResult:
        """Insert an order document once per ``doc.external_ref``."""
        ...

    async def insert_orders(self, docs: Sequence[OrderDocumentData]) -> list[InsertResult]:
        """``insert_order`` for each, results in the same order."""
        ...

    async def find_document(self, external_ref: str) -> ErpDocument | None: ...

    async def get_document(self, number: str) -> ErpDocument:
        """The document with this number, or ErpNotFound."""
        ...

    # states
    async def state_changes(
        self, since_cursor: str | None, limit: int = 1000
    ) -> tuple[list[StateChange], str | None]:
        """Changes after ``since_cursor`` (None: from the start), oldest first,
        and the cursor to pass next time. The cursor is opaque to the caller;
        with no new changes the same cursor comes back."""
        ...


# -- optional: credit notes from the shop's refunds (order slips) ----------------
CreditNoteState = Literal["open", "booked"]
CREDIT_NOTE_STATES: tuple[CreditNoteState, ...] = ("open", "booked")


@dataclass(frozen=True, slots=True)
class CreditNoteData:
    """One shop refund (an ``order_slip``) as one credit note, linked to the order document
    it refunds (docs/FISCAL.md, "Refunds").

    Amounts are positive, as a credit note states them (the ERP knows it is a credit);
    each line carries its VAT rate, code and nature as the original order's line does;
    ``lines`` are the refunded articles (``quantity`` refunded, unit prices and the
    ``total_tax_*`` the slip refunds for that row), ``shipping`` the refunded shipping.
    ``vat_summary`` plus ``rounding`` equal ``total_tax_excl`` / ``total_tax_incl`` to the
    cent, which are the slip's own totals.
    """

    external_ref: str  # "shop1:s:17": the idempotency key (the shop's order_slip id)
    order_external_ref: str  # "shop1:o:1234": the order document it refunds
    customer_code: str
    date: dt.date
    currency: str  # ISO 4217, the order's
    lines: tuple[OrderLineData, ...]
    total_tax_excl: Decimal
    total_tax_incl: Decimal
    # the refunded goods came back: the ERP puts the lines' quantities back in stock
    goods_returned: bool
    shipping: ShippingData | None = None
    vat_summary: tuple[VatSummary, ...] = ()
    rounding: Decimal = Decimal("0")
    rounding_tax_excl: Decimal = Decimal("0")
    shop_reference: str | None = None  # the refunded order's shop reference
    conversion_rate: Decimal | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class ErpCreditNote:
    number: str  # the ERP's own numbering, e.g. "NC 2026/000001"
    external_ref: str | None
    order_external_ref: str | None
    order_number: str | None  # the number of the order document it refunds
    date: dt.date
    customer_code: str
    currency: str
    total_tax_excl: Decimal
    total_tax_incl: Decimal
    state: CreditNoteState
    goods_returned: bool
    lines: tuple[ErpDocumentLine, ...] = ()  # kinds "article", "shipping", "rounding"
    vat_summary: tuple[VatSummary, ...] = ()
    rounding: Decimal = Decimal("0")
    shop_reference: str | None = None
    conversion_rate: Decimal | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class CreditNoteResult:
    credit_note: ErpCreditNote
    created: bool  # False: the external_ref was already there, this is that credit note


@runtime_checkable
class ErpCreditNotes(Protocol):
    """What lets Sincro put the shop's refunds into the ERP as credit notes. A connector
    that has it lists ``Capability.CREDIT_NOTES``; without it the refunds step says so
    and leaves the refunds cursor where it is (they go in once a connector can).

    Exactly once per ``external_ref``, as ``insert_orders``: repeating an insert after a
    crash returns what the first one made (``created`` False). The order document named
    by ``order_external_ref`` must be in the ERP: otherwise ``ErpNotFound`` with the
    credit note's ``external_ref`` (the sync waits for the order before asking).
    """

    async def insert_credit_notes(self, docs: Sequence[CreditNoteData]) -> list[CreditNoteResult]:
        """Insert each (with the stock back for ``goods_returned``), results in the order
        asked; all or nothing where the ERP allows it, an ``ErpError`` naming the
        ``external_ref`` at fault."""
        ...

    async def find_credit_notes(self, external_refs: Sequence[str]) -> dict[str, ErpCreditNote]:
        """The credit notes that exist among ``external_refs``, by external reference."""
        ...

    async def credit_notes_of(self, order_external_ref: str) -> list[ErpCreditNote]:
        """Every credit note linked to this order document, oldest first."""
        ...


def credit_notes(erp: object) -> ErpCreditNotes | None:
    """``erp`` as an ``ErpCreditNotes`` when it lists the capability, else None."""
    caps: frozenset[Capability] = getattr(erp, "capabilities", frozenset())
    if Capability.CREDIT_NOTES in caps and isinstance(erp, ErpCreditNotes):
        return erp
    return None


# -- optional: the office's existing records (a connector may lack them) --------
MATCH_FIELDS = ("vat_number", "tax_code", "email")


@runtime_checkable
class ErpMatching(Protocol):
    """What lets Sincro find the records an office already had before creating its own
    (getattr-checked: a connector without it creates as before)."""

    async def find_customers_by(self, field: str,
                                values: Sequence[str]) -> dict[str, ErpCustomer]:
        """Customers whose ``field`` (one of MATCH_FIELDS; e-mail in any case) is one of
        ``values``, by value (the oldest when several share one)."""
        ...

    async def find_articles_by_ean(self, eans: Sequence[str]) -> dict[str, ErpArticle]:
        """Articles whose EAN13 is one of ``eans``, by EAN (the first code when several)."""
        ...


# -- helpers for connectors without batching --------------------------------
async def upsert_customers_each(erp: ErpConnector, data: Sequence[CustomerData]) -> list[ErpCustomer]:
    return [await erp.upsert_customer(d) for d in data]


async def insert_orders_each(erp: ErpConnector, docs: Sequence[OrderDocumentData]) -> list[InsertResult]:
    return [await erp.insert_order(d) for d in docs]


async def upsert_destinations_each(
    erp: ErpConnector, items: Sequence[tuple[str, DestinationData]]
) -> list[ErpDestination]:
    return [await erp.upsert_destination(c, d) for c, d in items]


async def create_articles_each(erp: ErpConnector, data: Sequence[ArticleData]) -> list[ErpArticle]:
    return [await erp.create_article(d) for d in data]
