"""Typed, immutable views of PrestaShop Webservice objects.

Every model is a frozen dataclass with slots built by ``Model.from_dict(data, tz)``
from the normalized data of ``core.prestashop.parse`` (XML or JSON alike):

* absent keys mean empty/zero (PrestaShop 8.x drops falsy fields of single JSON
  objects), ids become ``int``, amounts ``Decimal``, flags ``bool``, dates
  ``datetime`` in the shop's zone (``None`` for ``0000-00-00``), multilanguage
  fields ``Multilang``;
* unknown fields are tolerated and kept, untouched, in ``raw`` (not shown in
  ``repr`` and not compared), so nothing the shop adds breaks parsing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from core.prestashop.parse import (
    Multilang,
    to_bool,
    to_date,
    to_datetime,
    to_decimal,
    to_int,
    to_multilang,
    to_str,
)

__all__ = [
    "MODELS",
    "Address",
    "Carrier",
    "Combination",
    "Country",
    "Currency",
    "Customer",
    "Model",
    "Multilang",
    "Order",
    "OrderCarrier",
    "OrderDetail",
    "OrderHistory",
    "OrderRow",
    "OrderState",
    "Product",
    "Record",
    "ShopInfo",
    "StateChange",
    "StockAvailable",
    "model_for",
]

T = TypeVar("T", bound="Model")


def _assoc(data: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    assocs = data.get("associations")
    if not isinstance(assocs, Mapping):
        return []
    items = assocs.get(name)
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, Mapping)]


def _assoc_ids(data: Mapping[str, Any], name: str) -> tuple[int, ...]:
    return tuple(to_int(item.get("id")) for item in _assoc(data, name))


# converters of one value; dates also take the shop's zone
_KINDS: dict[str, Callable[[Any], Any]] = {
    "int": to_int,
    "str": to_str,
    "dec": to_decimal,
    "bool": to_bool,
    "date": to_date,
    "ml": to_multilang,
}


def _f(kind: str, key: str | None = None) -> Any:
    """A model field read from ``data[key or name]`` with the converter ``kind``."""
    return field(metadata={"kind": kind, "key": key})


def _assocs() -> Any:
    """The associations as read (a mapping: left out of the hash)."""
    return field(metadata={"kind": "assoc"}, hash=False)


def _raw() -> Any:
    return field(default_factory=dict, repr=False, compare=False, hash=False,
                 metadata={"kind": "raw"})


class _Plan:
    """How one model class reads its fields, worked out once per class: the plain fields
    (name, key, converter), the dates (name, key), and the raw field's name if any."""

    __slots__ = ("dates", "plain", "raw")

    def __init__(self, cls: type) -> None:
        self.plain: list[tuple[str, str, Callable[[Any], Any]]] = []
        self.dates: list[tuple[str, str]] = []
        self.raw: str | None = None
        for f in fields(cls):
            kind, key = f.metadata.get("kind"), f.metadata.get("key") or f.name
            if kind == "raw":
                self.raw = f.name
            elif kind == "dt":
                self.dates.append((f.name, key))
            elif kind in _KINDS:
                self.plain.append((f.name, key, _KINDS[kind]))


_PLANS: dict[type, _Plan] = {}


class Model:
    """Base of the resource models: ``from_dict`` fills declared fields by kind."""

    __slots__ = ()
    resource: ClassVar[str] = ""

    @classmethod
    def _extra(cls, data: Mapping[str, Any], tz: tzinfo | None) -> dict[str, Any]:
        return {}

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any], tz: tzinfo | None = None) -> T:
        plan = _PLANS.get(cls)
        if plan is None:
            plan = _PLANS[cls] = _Plan(cls)
        kwargs: dict[str, Any] = cls._extra(data, tz)
        get = data.get
        name = key = ""
        try:
            for name, key, conv in plan.plain:
                if name not in kwargs:
                    kwargs[name] = conv(get(key))
            for name, key in plan.dates:
                if name not in kwargs:
                    kwargs[name] = to_datetime(get(key), tz)
        except ValueError as exc:
            raise ValueError(f"{cls.resource or cls.__name__}.{key}: {exc}") from None
        if plan.raw is not None and plan.raw not in kwargs:
            kwargs[plan.raw] = dict(data)
        return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class OrderRow(Model):
    """One ``associations.order_rows`` item (``id`` = the order_details id)."""

    id: int = _f("int")
    product_id: int = _f("int")
    product_attribute_id: int = _f("int")
    product_reference: str = _f("str")
    product_name: str = _f("str")
    quantity: int = _f("int", "product_quantity")
    unit_price_tax_incl: Decimal = _f("dec")
    unit_price_tax_excl: Decimal = _f("dec")
    product_price: Decimal = _f("dec")
    product_ean13: str = _f("str")
    product_upc: str = _f("str")
    id_customization: int = _f("int")
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class Order(Model):
    resource: ClassVar[str] = "orders"

    id: int = _f("int")
    reference: str = _f("str")
    id_customer: int = _f("int")
    id_address_delivery: int = _f("int")
    id_address_invoice: int = _f("int")
    id_cart: int = _f("int")
    id_currency: int = _f("int")
    id_lang: int = _f("int")
    id_carrier: int = _f("int")
    id_shop: int = _f("int")
    id_shop_group: int = _f("int")
    current_state: int = _f("int")
    valid: bool = _f("bool")
    payment: str = _f("str")
    module: str = _f("str")
    total_paid: Decimal = _f("dec")
    total_paid_real: Decimal = _f("dec")
    total_paid_tax_incl: Decimal = _f("dec")
    total_paid_tax_excl: Decimal = _f("dec")
    total_products: Decimal = _f("dec")
    total_products_wt: Decimal = _f("dec")
    total_shipping: Decimal = _f("dec")
    total_shipping_tax_incl: Decimal = _f("dec")
    total_shipping_tax_excl: Decimal = _f("dec")
    total_discounts: Decimal = _f("dec")
    total_discounts_tax_incl: Decimal = _f("dec")
    total_discounts_tax_excl: Decimal = _f("dec")
    total_wrapping: Decimal = _f("dec")
    total_wrapping_tax_incl: Decimal = _f("dec")
    total_wrapping_tax_excl: Decimal = _f("dec")
    carrier_tax_rate: Decimal = _f("dec")
    conversion_rate: Decimal = _f("dec")
    invoice_number: int = _f("int")
    invoice_date: datetime | None = _f("dt")
    delivery_number: int = _f("int")
    delivery_date: datetime | None = _f("dt")
    shipping_number: str = _f("str")
    gift: bool = _f("bool")
    gift_message: str = _f("str")
    recyclable: bool = _f("bool")
    note: str = _f("str")
    date_add: datetime | None = _f("dt")
    date_upd: datetime | None = _f("dt")
    rows: tuple[OrderRow, ...] = _f("rows")
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def _extra(cls, data: Mapping[str, Any], tz: tzinfo | None) -> dict[str, Any]:
        return {"rows": tuple(OrderRow.from_dict(r, tz) for r in _assoc(data, "order_rows"))}


@dataclass(frozen=True, slots=True)
class Customer(Model):
    """A customer. The password hash and secure_key stay in ``raw`` only."""

    resource: ClassVar[str] = "customers"

    id: int = _f("int")
    email: str = _f("str")
    firstname: str = _f("str")
    lastname: str = _f("str")
    company: str = _f("str")
    siret: str = _f("str")
    ape: str = _f("str")
    website: str = _f("str")
    id_gender: int = _f("int")
    id_default_group: int = _f("int")
    id_lang: int = _f("int")
    id_shop: int = _f("int")
    birthday: date | None = _f("date")
    newsletter: bool = _f("bool")
    optin: bool = _f("bool")
    active: bool = _f("bool")
    deleted: bool = _f("bool")
    is_guest: bool = _f("bool")
    note: str = _f("str")
    date_add: datetime | None = _f("dt")
    date_upd: datetime | None = _f("dt")
    groups: tuple[int, ...] = _f("groups")
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def _extra(cls, data: Mapping[str, Any], tz: tzinfo | None) -> dict[str, Any]:
        return {"groups": _assoc_ids(data, "groups")}


@dataclass(frozen=True, slots=True)
class Address(Model):
    resource: ClassVar[str] = "addresses"

    id: int = _f("int")
    id_customer: int = _f("int")
    id_manufacturer: int = _f("int")
    id_supplier: int = _f("int")
    id_warehouse: int = _f("int")
    id_country: int = _f("int")
    id_state: int = _f("int")
    alias: str = _f("str")
    company: str = _f("str")
    lastname: str = _f("str")
    firstname: str = _f("str")
    vat_number: str = _f("str")
    address1: str = _f("str")
    address2: str = _f("str")
    postcode: str = _f("str")
    city: str = _f("str")
    other: str = _f("str")
    phone: str = _f("str")
    phone_mobile: str = _f("str")
    dni: str = _f("str")
    deleted: bool = _f("bool")
    date_add: datetime | None = _f("dt")
    date_upd: datetime | None = _f("dt")
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class Product(Model):
    resource: ClassVar[str] = "products"

    id: int = _f("int")
    reference: str = _f("str")
    ean13: str = _f("str")
    upc: str = _f("str")
    isbn: str = _f("str")
    mpn: str = _f("str")
    price: Decimal = _f("dec")
    wholesale_price: Decimal = _f("dec")
    active: bool = _f("bool")
    name: Multilang = _f("ml")
    link_rewrite: Multilang = _f("ml")
    description_short: Multilang = _f("ml")
    id_category_default: int = _f("int")
    id_manufacturer: int = _f("int")
    id_supplier: int = _f("int")
    id_tax_rules_group: int = _f("int")
    id_shop_default: int = _f("int")
    type: str = _f("str")
    product_type: str = _f("str")
    weight: Decimal = _f("dec")
    minimal_quantity: int = _f("int")
    available_for_order: bool = _f("bool")
    on_sale: bool = _f("bool")
    visibility: str = _f("str")
    condition: str = _f("str")
    date_add: datetime | None = _f("dt")
    date_upd: datetime | None = _f("dt")
    combinations: tuple[int, ...] = _f("assoc")
    categories: tuple[int, ...] = _f("assoc")
    stock_availables: tuple[tuple[int, int], ...] = _f("assoc")
    associations: Mapping[str, tuple[Mapping[str, Any], ...]] = _assocs()
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def _extra(cls, data: Mapping[str, Any], tz: tzinfo | None) -> dict[str, Any]:
        assocs = data.get("associations")
        all_assocs = {  # empty ones dropped: XML shows them, JSON omits them
            name: tuple(_assoc(data, name))
            for name in (assocs.keys() if isinstance(assocs, Mapping) else ())
            if _assoc(data, name)
        }
        return {
            "combinations": _assoc_ids(data, "combinations"),
            "categories": _assoc_ids(data, "categories"),
            "stock_availables": tuple(
                (to_int(i.get("id")), to_int(i.get("id_product_attribute")))
                for i in _assoc(data, "stock_availables")
            ),
            "associations": all_assocs,
        }


@dataclass(frozen=True, slots=True)
class Combination(Model):
    """A product combination; ``price`` is the *impact* on the product price."""

    resource: ClassVar[str] = "combinations"

    id: int = _f("int")
    id_product: int = _f("int")
    reference: str = _f("str")
    supplier_reference: str = _f("str")
    ean13: str = _f("str")
    upc: str = _f("str")
    isbn: str = _f("str")
    mpn: str = _f("str")
    price: Decimal = _f("dec")
    wholesale_price: Decimal = _f("dec")
    weight: Decimal = _f("dec")
    quantity: int = _f("int")
    minimal_quantity: int = _f("int")
    default_on: bool = _f("bool")
    available_date: date | None = _f("date")
    product_option_values: tuple[int, ...] = _f("assoc")
    images: tuple[int, ...] = _f("assoc")
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def _extra(cls, data: Mapping[str, Any], tz: tzinfo | None) -> dict[str, Any]:
        return {
            "product_option_values": _assoc_ids(data, "product_option_values"),
            "images": _assoc_ids(data, "images"),
        }


@dataclass(frozen=True, slots=True)
class StockAvailable(Model):
    resource: ClassVar[str] = "stock_availables"

    id: int = _f("int")
    id_product: int = _f("int")
    id_product_attribute: int = _f("int")
    id_shop: int = _f("int")
    id_shop_group: int = _f("int")
    quantity: int = _f("int")
    depends_on_stock: bool = _f("bool")
    out_of_stock: int = _f("int")
    location: str = _f("str")
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class OrderState(Model):
    resource: ClassVar[str] = "order_states"

    id: int = _f("int")
    name: Multilang = _f("ml")
    template: Multilang = _f("ml")
    module_name: str = _f("str")
    color: str = _f("str")
    logable: bool = _f("bool")
    paid: bool = _f("bool")
    shipped: bool = _f("bool")
    delivery: bool = _f("bool")
    invoice: bool = _f("bool")
    send_email: bool = _f("bool")
    hidden: bool = _f("bool")
    deleted: bool = _f("bool")
    unremovable: bool = _f("bool")
    pdf_invoice: bool = _f("bool")
    pdf_delivery: bool = _f("bool")
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class Currency(Model):
    """1.6 (sign/decimals/iso_code_num) and 1.7.6+ (symbol/precision/numeric_iso_code) alike."""

    resource: ClassVar[str] = "currencies"

    id: int = _f("int")
    iso_code: str = _f("str")
    name: Multilang = _f("ml")
    numeric_iso_code: str = _f("str")
    symbol: str = _f("str")
    precision: int = _f("int")
    conversion_rate: Decimal = _f("dec")
    active: bool = _f("bool")
    deleted: bool = _f("bool")
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def _extra(cls, data: Mapping[str, Any], tz: tzinfo | None) -> dict[str, Any]:
        name = data.get("name")
        if name in (None, "", []):
            name = data.get("names")
        numeric = data.get("numeric_iso_code", data.get("iso_code_num"))
        symbol = data.get("symbol", data.get("sign"))
        precision = data.get("precision")
        if precision in (None, ""):
            # 1.6: "decimals" is a flag (1 = show 2 decimals)
            precision = 2 if to_bool(data.get("decimals", "1")) else 0
        return {
            "name": to_multilang(name),
            "numeric_iso_code": to_str(numeric),
            "symbol": to_multilang(symbol).text(),
            "precision": to_int(precision),
        }


@dataclass(frozen=True, slots=True)
class Country(Model):
    resource: ClassVar[str] = "countries"

    id: int = _f("int")
    iso_code: str = _f("str")
    name: Multilang = _f("ml")
    id_zone: int = _f("int")
    id_currency: int = _f("int")
    call_prefix: str = _f("str")
    active: bool = _f("bool")
    contains_states: bool = _f("bool")
    need_identification_number: bool = _f("bool")
    need_zip_code: bool = _f("bool")
    zip_code_format: str = _f("str")
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class Carrier(Model):
    """A carrier version; ``id_reference`` is stable across edits (docs/prestashop/PROTOCOL.md §9.25)."""

    resource: ClassVar[str] = "carriers"

    id: int = _f("int")
    id_reference: int = _f("int")
    name: str = _f("str")
    active: bool = _f("bool")
    deleted: bool = _f("bool")
    is_free: bool = _f("bool")
    is_module: bool = _f("bool")
    external_module_name: str = _f("str")
    url: str = _f("str")
    delay: Multilang = _f("ml")
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class OrderHistory(Model):
    resource: ClassVar[str] = "order_histories"

    id: int = _f("int")
    id_order: int = _f("int")
    id_order_state: int = _f("int")
    id_employee: int = _f("int")
    date_add: datetime | None = _f("dt")
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class OrderCarrier(Model):
    resource: ClassVar[str] = "order_carriers"

    id: int = _f("int")
    id_order: int = _f("int")
    id_carrier: int = _f("int")
    id_order_invoice: int = _f("int")
    weight: Decimal = _f("dec")
    shipping_cost_tax_excl: Decimal = _f("dec")
    shipping_cost_tax_incl: Decimal = _f("dec")
    tracking_number: str = _f("str")
    date_add: datetime | None = _f("dt")
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class OrderDetail(Model):
    resource: ClassVar[str] = "order_details"

    id: int = _f("int")
    id_order: int = _f("int")
    product_id: int = _f("int")
    product_attribute_id: int = _f("int")
    product_name: str = _f("str")
    product_reference: str = _f("str")
    product_quantity: int = _f("int")
    product_price: Decimal = _f("dec")
    unit_price_tax_incl: Decimal = _f("dec")
    unit_price_tax_excl: Decimal = _f("dec")
    total_price_tax_incl: Decimal = _f("dec")
    total_price_tax_excl: Decimal = _f("dec")
    reduction_percent: Decimal = _f("dec")
    reduction_amount: Decimal = _f("dec")
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class Record(Model):
    """Any other resource: its id and the fields as sent."""

    id: int = _f("int")
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True, slots=True)
class ShopInfo:
    """What ``PrestaShopClient.info()`` learns: version and what the key may do."""

    version: str | None
    shop_name: str
    resources: Mapping[str, frozenset[str]]

    def allows(self, resource: str, method: str = "GET") -> bool:
        return method.upper() in self.resources.get(resource, frozenset())

    @property
    def supports_patch(self) -> bool:
        return version_tuple(self.version) >= (8, 0)


@dataclass(frozen=True, slots=True)
class StateChange:
    """Result of ``set_order_state``.

    ``history`` is the created order_history when the POST answered 201;
    ``verified`` is True when the state was confirmed by re-reading the order
    (after a failed/ambiguous POST); ``warning`` carries the shop's error then
    (e.g. "Unable to save resource" when only the e-mail failed).
    """

    order_id: int
    state_id: int
    history: OrderHistory | None
    verified: bool = False
    warning: str | None = None


def version_tuple(version: str | None) -> tuple[int, ...]:
    if not version:
        return ()
    parts = []
    for piece in version.strip().split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


MODELS: dict[str, type[Model]] = {
    cls.resource: cls
    for cls in (
        Order, Customer, Address, Product, Combination, StockAvailable, OrderState,
        Currency, Country, Carrier, OrderHistory, OrderCarrier, OrderDetail,
    )
}


def model_for(resource: str) -> type[Model]:
    """The model class of a resource (``Record`` for the others)."""
    return MODELS.get(resource, Record)
