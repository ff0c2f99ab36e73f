"""What the hub keeps of a shop order, customer and address: the JSON in the ``data``
column of the ``orders``, ``customers`` and ``addresses`` tables.

``core.sync.orders`` writes them (``order_data``, ``customer_data``, ``address_data``);
the partial sync, listings, reconcile and resync read them back with ``json.loads``,
annotated with these types. They are ``TypedDict``s: plain dicts at run time (nothing is
built or checked per row, and the JSON written is the same), checked by mypy only.

The keys are exactly those written today. Rows written before Sincro read the shop's tax
data (the fiscal-documents release) lack some of them (``tax_data``, ``round_type``,
``notes``, ``conversion_rate``, ``carrier_id``, a line's ``vat_from``, ``tax_group``,
``total_tax_*``, ``ean13``; an address's ``province``, ``pec``, ``sdi``): readers take those
with ``.get``, and ``build_document`` refuses such an order until it is resynced.
Amounts are decimal strings (``str(Decimal)``), dates ISO 8601.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class LineSnapshot(TypedDict):
    """One row of an order."""

    id: int  # the shop's order_detail id
    product_id: int
    attribute_id: int  # the combination, 0 for none
    code: str  # the ERP article code (core.sync.coding)
    name: str
    reference: str
    quantity: int
    unit_price: str  # tax excluded
    unit_price_tax_incl: str
    total_tax_excl: str
    total_tax_incl: str
    vat_rate: str  # percent
    vat_from: Literal["shop", "prices"]  # the shop's tax data, or worked out from the prices
    tax_group: int  # the shop's tax rules group, 0 when it did not say
    ean13: str


class ChargeSnapshot(TypedDict):
    """Shipping or gift wrapping."""

    tax_excl: str
    tax_incl: str
    vat_rate: str


class DiscountSnapshot(TypedDict):
    tax_excl: str
    tax_incl: str


class OrderSnapshot(TypedDict):
    id: int
    reference: str
    state: int  # the shop's order state when it was read
    date: str | None  # date_add's day
    date_add: str | None
    currency: str  # ISO code
    conversion_rate: str | None
    payment: str
    module: str
    carrier: str
    carrier_id: int
    customer_id: int
    delivery_address_id: int
    invoice_address_id: int
    lines: list[LineSnapshot]
    tax_data: bool  # the shop's order_details were read (rows' rates are the shop's)
    round_type: int
    shipping: ChargeSnapshot
    discounts: DiscountSnapshot
    wrapping: ChargeSnapshot
    notes: list[str]
    total_tax_excl: str
    total_tax_incl: str
    # the state's name in the account's language (only for an account with option language)
    state_name: NotRequired[str]


class CustomerSnapshot(TypedDict):
    id: int
    email: str
    firstname: str
    lastname: str
    company: str
    siret: str
    is_guest: bool
    deleted: bool
    date_upd: str | None


class AddressSnapshot(TypedDict):
    id: int
    id_customer: int
    firstname: str
    lastname: str
    company: str
    vat_number: str
    dni: str
    address1: str
    address2: str
    postcode: str
    city: str
    country: str  # ISO code, "" when the shop's country is unknown
    id_state: int
    province: str  # ISO code of the state, "" for none
    phone: str
    pec: str | None
    sdi: str | None
    deleted: bool


class RefundRowSnapshot(TypedDict):
    """One row of a shop refund (``order_slip_details``)."""

    order_detail_id: int  # the refunded order row (LineSnapshot id)
    quantity: int
    tax_excl: str  # what the slip refunds for the row
    tax_incl: str


class RefundSnapshot(TypedDict):
    """A shop refund (``order_slip``) as the hub keeps it: the ``data`` of ``refunds``."""

    id: int
    order_id: int
    date: str | None  # date_add's day
    date_upd: str | None
    conversion_rate: str
    products_tax_excl: str
    products_tax_incl: str
    shipping_tax_excl: str
    shipping_tax_incl: str
    amount: str
    slip_type: int  # order_slip_type
    partial: bool
    rows: list[RefundRowSnapshot]
