"""In-memory shop model of the PrestaShop emulator: tables, loading, seeded generation.

Objects are stored *sparse*: a dict holding ``id`` and only the values that differ from the
field default of :mod:`emulator.schema` (memory: 10k generated orders stay a few tens of MB).
Scalar values are strings, as PrestaShop holds them (``"12.500000"``, ``"0"``); multilanguage
values are ``{lang_id: str}``; stored associations live under the ``"associations"`` key
(``{"categories": [{"id": "2"}], ...}``). ``orders.associations.order_rows`` is derived from the
``order_details`` table, products' ``combinations``/``stock_availables`` from those tables,
``customer_threads.associations.customer_messages`` from ``customer_messages``.

Every shop has the Italian taxes, tax rules groups, tax rules and provinces (``states``) of
:mod:`emulator.italy` (``ShopState.ensure_base``).

Address module fields: Italian shops often run an e-invoicing module that adds columns to the
address. ``ShopState(..., address_module_fields=("pec", "sdi"))`` (``shop.json`` key
``"address_module_fields"``, ``generate(..., address_module_fields=...)``, ``sincro emulator
--address-fields pec,sdi``) adds them to the ``addresses`` resource after ``date_upd``: served,
filterable and writable like the other fields. The generator fills ``pec`` (a certified e-mail)
and ``sdi`` (the 7-character codice destinatario, ``0000000`` when the invoice goes by PEC; a
column named ``codice_destinatario`` is filled the same way). Without the module (the default, a
stock shop) the fields do not exist and companies type them in ``other``: ``PEC: <address>`` and/or
``SDI: <code>``, separated by a space, `` - `` or a newline.

Multishop (docs/prestashop/PROTOCOL.md §5.5, §7.10): ``generate(..., shops=2)`` makes one install
of several shops in shop group 1 (``shops``, ``shop_groups``; a single-shop install has shop 1
and group 1 too). Each order, its rows, its customer (``share_customer`` off) and its customer
thread belong to one shop (``id_shop``); every product and combination has one
``stock_availables`` row per shop; product fields that PrestaShop keeps per shop
(``PRODUCT_SHOP_FIELDS``, its ``product_shop`` table) are written per shop
(:meth:`ShopState.product_view`, :meth:`ShopState.write_product`). The ``id_shop`` /
``id_shop_group`` parameters are applied by :mod:`emulator.app`.

A second language: ``generate(..., languages=("en", "it"))`` names each language by its ISO code
(ids in that order) with real names in each: order states, countries, carriers and products
in English or Italian (``languages=2``, the default, keeps the older data: Italian state names as
language 2, product names mostly the same in both).

Generated orders (:class:`Generator`) are priced as PrestaShop prices them (:mod:`emulator.pricing`):
line rounding (``round_type`` 2) unless asked otherwise; products at 22 %, 10 %, 5 %, 4 % and one
exempt product; whole-order cart rules in ``order_discounts`` (1.6) / ``order_cart_rules`` (1.7+).
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import secrets
import string
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import italy, pricing
from .schema import Field, Resource, Version, build_resources, parse_version

KEY_ALPHABET = string.ascii_uppercase + string.digits
ALL_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})

Obj = dict[str, Any]

# Resources whose rows belong to one shop: by their own id_shop, or by their order's
# (docs/prestashop/PROTOCOL.md §5.5: a shop context restricts what is read and written)
SHOP_FIELD_RESOURCES = frozenset({"orders", "customers", "customer_threads", "stock_availables", "carts"})
ORDER_CHILD_RESOURCES = frozenset({"order_details", "order_histories", "order_carriers", "order_cart_rules",
                                   "order_discounts", "order_invoices", "order_payments", "order_slip"})
# Product fields PrestaShop keeps per shop (its product_shop table)
PRODUCT_SHOP_FIELDS = frozenset({"price", "active", "wholesale_price", "id_category_default", "on_sale",
                                 "online_only", "ecotax", "minimal_quantity", "available_for_order",
                                 "show_price", "visibility", "id_tax_rules_group", "available_date"})


def make_key(rng: random.Random | None = None) -> str:
    """A 32-char webservice key of A-Z0-9 (seeded when ``rng`` is given)."""
    if rng is None:
        return "".join(secrets.choice(KEY_ALPHABET) for _ in range(32))
    return "".join(rng.choice(KEY_ALPHABET) for _ in range(32))


@dataclass
class KeySpec:
    key: str
    active: bool = True
    # resource -> allowed methods; "*" matches every resource
    permissions: dict[str, frozenset[str]] = field(default_factory=lambda: {"*": ALL_METHODS})

    def methods_for(self, resource: str) -> frozenset[str]:
        if resource in self.permissions:
            return self.permissions[resource]
        return self.permissions.get("*", frozenset())

    def allows_resource(self, resource: str) -> bool:
        return bool(self.methods_for(resource))


ORDER_STATES_16 = [
    # id, name_en, name_it, template, module, flags: invoice logable delivery shipped paid send_email color
    (1, "Awaiting check payment", "In attesa di pagamento con assegno", "cheque", "cheque", "0000010", "#4169E1"),
    (2, "Payment accepted", "Pagamento accettato", "payment", "", "1100111", "#32CD32"),
    (3, "Processing in progress", "Preparazione in corso", "preparation", "", "1110011", "#FF8C00"),
    (4, "Shipped", "Spedito", "shipped", "", "1111011", "#8A2BE2"),
    (5, "Delivered", "Consegnato", "", "", "1111010", "#108510"),
    (6, "Canceled", "Annullato", "order_canceled", "", "0000001", "#DC143C"),
    (7, "Refunded", "Rimborsato", "refund", "", "1000001", "#ec2e15"),
    (8, "Payment error", "Errore di pagamento", "payment_error", "", "0000001", "#8f0621"),
    (9, "On backorder (paid)", "In attesa di rifornimento (pagato)", "outofstock", "", "1000011", "#FF69B4"),
    (10, "Awaiting bank wire payment", "In attesa di pagamento con bonifico bancario", "bankwire", "bankwire", "0000001", "#4169E1"),
    (11, "Awaiting PayPal payment", "In attesa di pagamento PayPal", "", "", "0000000", "#4169E1"),
    (12, "Remote payment accepted", "Pagamento remoto accettato", "payment", "", "1100011", "#32CD32"),
    (13, "On backorder (not paid)", "In attesa di rifornimento (non pagato)", "outofstock", "", "0000001", "#FF69B4"),
    (14, "Awaiting Cash On Delivery validation", "In attesa di verifica contrassegno", "cashondelivery", "cashondelivery", "0000000", "#4169E1"),
]

ORDER_STATES_17 = [
    (1, "Awaiting check payment", "In attesa di pagamento con assegno", "cheque", "ps_checkpayment", "0000001", "#34209E"),
    (2, "Payment accepted", "Pagamento accettato", "payment", "", "1100011", "#3498D8"),
    (3, "Processing in progress", "Preparazione in corso", "preparation", "", "1110011", "#3498D8"),
    (4, "Shipped", "Spedito", "shipped", "", "1111011", "#01b887"),
    (5, "Delivered", "Consegnato", "", "", "1111010", "#01b887"),
    (6, "Canceled", "Annullato", "order_canceled", "", "0000001", "#2C3E50"),
    (7, "Refunded", "Rimborsato", "refund", "", "1000001", "#ec2e15"),
    (8, "Payment error", "Errore di pagamento", "payment_error", "", "0000001", "#8f0621"),
    (9, "On backorder (paid)", "In attesa di rifornimento (pagato)", "outofstock", "", "1000011", "#3498D8"),
    (10, "Awaiting bank wire payment", "In attesa di pagamento con bonifico bancario", "bankwire", "ps_wirepayment", "0000001", "#34209E"),
    (11, "Remote payment accepted", "Pagamento remoto accettato", "payment", "", "1100011", "#3498D8"),
    (12, "On backorder (not paid)", "In attesa di rifornimento (non pagato)", "outofstock", "", "0000001", "#34209E"),
    (13, "Awaiting Cash On Delivery validation", "In attesa di verifica contrassegno", "cashondelivery", "ps_cashondelivery", "0000000", "#34209E"),
]


def stock_order_states(version: Version, lang_ids: Iterable[int] = (1,)) -> list[Obj]:
    rows = ORDER_STATES_16 if version < (1, 7) else ORDER_STATES_17
    lang_ids = list(lang_ids)
    out = []
    for sid, en, it, tpl, module, flags, color in rows:
        invoice, logable, delivery, shipped, paid, _unused, send_email = tuple(flags)
        names = {lid: (it if i == 1 else en) for i, lid in enumerate(lang_ids)}
        out.append(
            {
                "id": sid,
                "unremovable": "1",
                "delivery": delivery,
                "send_email": send_email,
                "module_name": module,
                "invoice": invoice,
                "color": color,
                "logable": logable,
                "shipped": shipped,
                "paid": paid,
                "pdf_invoice": "1" if sid == 2 else "0",
                "name": names,
                "template": {lid: tpl for lid in lang_ids},
            }
        )
    return out


def fmt_dec(value: float, places: int = 6) -> str:
    return f"{value:.{places}f}"


def fmt_dt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S")


class ShopState:
    """The whole shop: tables, keys, counters, faults and the side-effects log."""

    def __init__(self, version: str = "1.6", *, key: str | None = None, seed: int | None = None,
                 shop_name: str = "PrestaShop", address_module_fields: Iterable[str] = ()) -> None:
        from .faults import FaultSet  # local import: faults imports nothing from here

        self.version_str, self.version = parse_version(version)
        self.resources: dict[str, Resource] = build_resources(self.version)
        # columns an e-invoicing module adds to the address (module docstring): served, filterable
        # and writable like the others; absent on a stock shop
        self.address_module_fields: tuple[str, ...] = tuple(address_module_fields)
        addr = self.resources["addresses"]
        known = {f.name for f in addr.fields}
        for name in self.address_module_fields:
            if name in known or not name.isidentifier():
                raise ValueError(f"invalid address module field {name!r}")
            addr.fields.append(Field(name))
        self.tables: dict[str, dict[int, Obj]] = {name: {} for name in self.resources}
        self.shop_name = shop_name
        self.enabled = True
        rng = random.Random(seed) if seed is not None else None
        self.keys: dict[str, KeySpec] = {}
        self.key = key or make_key(rng)
        self.keys[self.key] = KeySpec(self.key)
        self.clock: Callable[[], datetime] = datetime.now
        self.connection_close = False
        self.json_ints = False  # emit integer columns as JSON numbers (some 8.x servers)
        self.faults = FaultSet(seed if seed is not None else 0)
        self.requests: dict[tuple[str, str], int] = {}
        # the newest requests: method, resource and the shop context asked for (side channel)
        self.request_log: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.emails: list[dict[str, Any]] = []
        self._details_by_order: dict[int, list[int]] = {}
        self._combos_by_product: dict[int, list[int]] = {}
        self._stock_by_product: dict[int, list[int]] = {}
        self._messages_by_thread: dict[int, list[int]] = {}
        self._unsorted: set[str] = set()
        # (product id, shop id) -> the product_shop values of that shop that differ from the
        # product's own (which are the default shop's)
        self.product_shop: dict[tuple[int, int], dict[str, Any]] = {}

    # ------------------------------------------------------------------ basics
    def now(self) -> str:
        return fmt_dt(self.clock())

    @property
    def lang_ids(self) -> list[int]:
        langs = self.tables.get("languages") or {}
        ids = [i for i, o in langs.items() if o.get("active", "1") == "1"]
        return ids or [1]

    # ------------------------------------------------------------------ multishop
    @property
    def shop_ids(self) -> list[int]:
        """The install's shops (shop 1 when the table is empty)."""
        ids = [i for i, o in (self.tables.get("shops") or {}).items() if o.get("deleted", "0") != "1"]
        return ids or [1]

    @property
    def default_shop(self) -> int:
        return self.shop_ids[0]

    @property
    def multishop(self) -> bool:
        return len(self.shop_ids) > 1

    def shops_of_group(self, group: int) -> list[int]:
        return [i for i, o in (self.tables.get("shops") or {}).items()
                if o.get("id_shop_group", "1") == str(group) and o.get("deleted", "0") != "1"]

    def shop_of(self, resource: str, obj: Obj) -> int | None:
        """The shop an object belongs to, None when it belongs to every shop."""
        if resource in SHOP_FIELD_RESOURCES:
            return int(self.value(resource, obj, "id_shop") or 0) or self.default_shop
        if resource in ORDER_CHILD_RESOURCES:
            order = self.tables["orders"].get(int(obj.get("id_order") or 0))
            return self.shop_of("orders", order) if order is not None else None
        return None

    def product_view(self, obj: Obj, shop: int) -> Obj:
        """A product as a shop sees it: its product_shop values over its own."""
        over = self.product_shop.get((obj["id"], shop))
        view = dict(obj, **over) if over else dict(obj)
        view["_view_shop"] = shop
        return view

    def write_product(self, obj: Obj, new: Obj, shops: list[int]) -> None:
        """A product written in the context of ``shops``: its per-shop fields change in those
        shops only (the other shops keep theirs), the others everywhere."""
        for k, v in new.items():
            if k.startswith("_"):
                continue
            if k not in PRODUCT_SHOP_FIELDS or not self.multishop:
                obj[k] = v
                continue
            before = self.value("products", obj, k)
            for s in self.shop_ids:
                key = (obj["id"], s)
                if s in shops:
                    if s == self.default_shop:
                        obj[k] = v
                    else:
                        self.product_shop.setdefault(key, {})[k] = v
                elif s != self.default_shop:
                    self.product_shop.setdefault(key, {}).setdefault(k, before)
        for k in [k for k in obj if k not in new and k != "id"]:
            del obj[k]

    def table(self, resource: str) -> dict[int, Obj]:
        t = self.tables[resource]
        if resource in self._unsorted:
            items = sorted(t.items())
            t.clear()
            t.update(items)
            self._unsorted.discard(resource)
        return t

    def get(self, resource: str, oid: int) -> Obj | None:
        return self.tables.get(resource, {}).get(oid)

    def next_id(self, resource: str) -> int:
        t = self.tables[resource]
        if not t:
            return 1
        if resource in self._unsorted:
            return max(t) + 1
        return next(reversed(t)) + 1

    def value(self, resource: str, obj: Obj, name: str) -> Any:
        """Field value with the schema default applied."""
        if name in obj:
            return obj[name]
        for f in self.resources[resource].fields:
            if f.name == name:
                return f.default_value
        return None

    def add(self, resource: str, obj: Obj) -> Obj:
        """Insert (or replace) an object; keeps id order and the derived-association indexes."""
        t = self.tables[resource]
        oid = int(obj["id"])
        obj["id"] = oid
        if t and oid not in t and oid < next(reversed(t)):
            self._unsorted.add(resource)
        old = t.get(oid)
        t[oid] = obj
        if old is None:
            if resource == "order_details":
                self._details_by_order.setdefault(int(obj["id_order"]), []).append(oid)
            elif resource == "combinations":
                self._combos_by_product.setdefault(int(obj["id_product"]), []).append(oid)
            elif resource == "stock_availables":
                self._stock_by_product.setdefault(int(obj["id_product"]), []).append(oid)
            elif resource == "customer_messages":
                self._messages_by_thread.setdefault(int(obj.get("id_customer_thread") or 0), []).append(oid)
        return obj

    def remove(self, resource: str, oid: int) -> bool:
        obj = self.tables[resource].pop(oid, None)
        if obj is None:
            return False
        idx = {
            "order_details": (self._details_by_order, "id_order"),
            "combinations": (self._combos_by_product, "id_product"),
            "stock_availables": (self._stock_by_product, "id_product"),
            "customer_messages": (self._messages_by_thread, "id_customer_thread"),
        }.get(resource)
        if idx is not None:
            lst = idx[0].get(int(obj.get(idx[1]) or 0), [])
            if oid in lst:
                lst.remove(oid)
        return True

    # ------------------------------------------------------------------ associations
    def assoc_items(self, resource: str, obj: Obj, assoc: str) -> list[Obj]:
        if resource == "orders" and assoc == "order_rows":
            details = self.tables["order_details"]
            return [details[i] for i in sorted(self._details_by_order.get(obj["id"], ())) if i in details]
        if resource == "products" and assoc == "combinations":
            stored = [int(i["id"]) for i in (obj.get("associations") or {}).get("combinations", ())]
            extra = sorted(set(self._combos_by_product.get(obj["id"], ())) - set(stored))
            return [{"id": str(i)} for i in stored + extra]
        if resource == "products" and assoc == "stock_availables":
            st = self.tables["stock_availables"]
            items = {int(i["id"]): dict(i) for i in (obj.get("associations") or {}).get("stock_availables", ())}
            view_shop = obj.get("_view_shop")
            for i in self._stock_by_product.get(obj["id"], ()):
                if i in st and (view_shop is None or self.shop_of("stock_availables", st[i]) == view_shop):
                    items[i] = {"id": str(i), "id_product_attribute": st[i].get("id_product_attribute", "0")}
            return sorted(items.values(), key=lambda s: int(s.get("id_product_attribute") or 0))
        if resource == "customer_threads" and assoc == "customer_messages":
            # CustomerThread::getWsCustomerMessages(): the messages of the thread, by id
            msgs = self.tables["customer_messages"]
            return [{"id": str(i)} for i in sorted(self._messages_by_thread.get(obj["id"], ())) if i in msgs]
        if resource == "customers" and assoc == "groups":
            groups = (obj.get("associations") or {}).get("groups")
            if groups is not None:
                return groups
            return [{"id": obj.get("id_default_group", "3")}]
        return (obj.get("associations") or {}).get(assoc, [])

    def stock_row(self, id_product: int, id_product_attribute: int = 0, shop: int | None = None) -> Obj | None:
        """The stock row of a product or combination (of ``shop``; the first one without)."""
        st = self.tables["stock_availables"]
        for i in self._stock_by_product.get(id_product, ()):
            row = st.get(i)
            if row is not None and int(row.get("id_product_attribute", "0")) == id_product_attribute and (
                    shop is None or self.shop_of("stock_availables", row) == shop):
                return row
        return None

    # ------------------------------------------------------------------ domain operations
    def state_flags(self, state_id: int) -> Obj:
        return self.tables["order_states"].get(state_id) or {}

    def change_order_state(self, order_id: int, state_id: int, *, id_employee: str = "0",
                           sendemail: bool = False, add_history: bool = True) -> Obj | None:
        """What ``OrderHistory::changeIdOrderState()`` + ``add()`` do. Returns the history row."""
        order = self.tables["orders"][order_id]
        st = self.state_flags(state_id)
        now = self.now()
        order["current_state"] = str(state_id)
        order["valid"] = st.get("logable", "0")
        if st.get("invoice") == "1" and order.get("invoice_number", "0") in ("0", ""):
            numbers = [int(o.get("invoice_number", "0")) for o in self.tables["orders"].values()]
            order["invoice_number"] = str(max(numbers, default=0) + 1)
            order["invoice_date"] = now
        if st.get("delivery") == "1" and order.get("delivery_number", "0") in ("0", ""):
            numbers = [int(o.get("delivery_number", "0")) for o in self.tables["orders"].values()]
            order["delivery_number"] = str(max(numbers, default=0) + 1)
            order["delivery_date"] = now
        if st.get("paid") == "1" and order.get("total_paid_real", "0.000000") in ("0", "0.000000", ""):
            order["total_paid_real"] = order.get("total_paid", "0.000000")
        order["date_upd"] = now
        hist = None
        if add_history:
            hist = {"id": self.next_id("order_histories"), "id_employee": id_employee,
                    "id_order_state": str(state_id), "id_order": str(order_id), "date_add": now}
            self.add("order_histories", hist)
        if sendemail and st.get("send_email") == "1":
            self.emails.append({"id_order": order_id, "id_order_state": state_id,
                                "template": (st.get("template") or {}).get(self.lang_ids[0], ""),
                                "date": now})
        return hist

    def add_order_slip(self, order_id: int, products: dict[int, int] | None = None, *,
                       shipping: bool = False) -> Obj:
        """A standard refund as the back office makes it (``OrderSlip::create()`` with prices tax
        excluded, docs/prestashop/PROTOCOL.md §1): ``products`` maps an order_detail id to the
        quantity refunded (at the row's unit price tax excl.; capped at what earlier slips left),
        ``shipping`` refunds the order's whole shipping. Each row's amount tax incl. follows the
        order's ``round_type`` (rounding on the total: the slip's products tax incl. is each
        rate's sum tax excl. taxed once, rounded); the rows' refunded quantities (and, 1.7+, amounts) grow; the slip's
        ``amount`` is its products tax excl. and ``order_slip_type`` 2 when shipping is refunded."""
        order = self.tables["orders"][order_id]
        round_type = php_int_or(order.get("round_type"), pricing.ROUND_LINE)
        now = self.now()
        slip_id = self.next_id("order_slip")
        details = self.tables["order_details"]
        refunded: dict[int, int] = {}
        for earlier in self.tables["order_slip"].values():
            for d in (earlier.get("associations") or {}).get("order_slip_details", ()):
                key = int(d["id_order_detail"])
                refunded[key] = refunded.get(key, 0) + int(d["product_quantity"])
        rows: list[Obj] = []
        p_excl = p_incl = pricing.ZERO
        by_rate: dict[Decimal, Decimal] = {}
        for detail_id, asked in (products or {}).items():
            det = details[detail_id]
            if int(det["id_order"]) != order_id:
                raise ValueError(f"order_detail {detail_id} is not a row of order {order_id}")
            qty = min(asked, int(det.get("product_quantity", "0")) - refunded.get(detail_id, 0))
            if qty <= 0:
                continue
            rate = pricing.ZERO
            for t in (det.get("associations") or {}).get("taxes", ()):
                tax = self.tables["taxes"].get(int(t["id"])) or {}
                rate += Decimal(tax.get("rate") or "0")
            ln = pricing.Line(Decimal(det.get("unit_price_tax_excl") or "0"), rate, qty)
            pricing.price_lines([ln], round_type)
            excl, incl = pricing.r2(ln.unit_excl * qty), pricing.r2(ln.total_incl)
            p_excl += ln.unit_excl * qty
            if round_type == pricing.ROUND_TOTAL:  # taxed once per rate on the rows' sum
                by_rate[rate] = by_rate.get(rate, pricing.ZERO) + ln.unit_excl * qty
            else:
                p_incl += incl
            rows.append({"id": str(slip_id), "id_order_detail": str(detail_id), "product_quantity": str(qty),
                         "amount_tax_excl": pricing.s6(excl), "amount_tax_incl": pricing.s6(incl)})
            det["product_quantity_refunded"] = str(int(det.get("product_quantity_refunded") or 0) + qty)
            if self.version >= (1, 7):
                for k, v in (("total_refunded_tax_excl", excl), ("total_refunded_tax_incl", incl)):
                    det[k] = pricing.s6(Decimal(det.get(k) or "0") + v)
        for rate, excl_sum in by_rate.items():
            p_incl += pricing.r2(excl_sum * (1 + rate / pricing.HUNDRED))
        s_excl = s_incl = pricing.ZERO
        if shipping:
            s_excl = Decimal(self.value("orders", order, "total_shipping_tax_excl") or "0")
            rate = Decimal(self.value("orders", order, "carrier_tax_rate") or "0")
            s_incl = pricing.r2(s_excl * (1 + rate / pricing.HUNDRED))
        if not rows and not shipping:
            raise ValueError(f"nothing left to refund on order {order_id}")
        slip: Obj = {
            "id": slip_id, "id_customer": order.get("id_customer", "0"), "id_order": str(order_id),
            "conversion_rate": order.get("conversion_rate", "1.000000"),
            "total_products_tax_excl": pricing.s6(p_excl), "total_products_tax_incl": pricing.s6(p_incl),
            "total_shipping_tax_excl": pricing.s6(s_excl), "total_shipping_tax_incl": pricing.s6(s_incl),
            "amount": pricing.s6(p_excl), "shipping_cost": "1" if shipping else "0",
            "shipping_cost_amount": pricing.s6(s_incl), "partial": "0",
            "order_slip_type": "2" if s_incl > 0 else "0", "date_add": now, "date_upd": now,
            "associations": {"order_slip_details": rows},
        }
        return self.add("order_slip", slip)

    def count_request(self, method: str, resource: str, id_shop: str | None = None) -> None:
        k = (method, resource)
        self.requests[k] = self.requests.get(k, 0) + 1
        self.request_log.append({"method": method, "resource": resource, "id_shop": id_shop})

    def request_counts(self) -> dict[str, Any]:
        by_method: dict[str, int] = {}
        by_resource: dict[str, int] = {}
        detail: dict[str, dict[str, int]] = {}
        for (m, r), n in self.requests.items():
            by_method[m] = by_method.get(m, 0) + n
            by_resource[r] = by_resource.get(r, 0) + n
            detail.setdefault(m, {})[r] = n
        writes = sum(n for (m, _r), n in self.requests.items() if m in ("POST", "PUT", "PATCH", "DELETE"))
        return {"total": sum(self.requests.values()), "writes": writes, "by_method": by_method,
                "by_resource": by_resource, "detail": detail}

    # ------------------------------------------------------------------ bulk
    def stats(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.tables.items() if v}

    def ensure_base(self) -> None:
        """Base reference data every shop has (languages, order states, currency, carrier...)."""
        if not self.tables["languages"]:
            self.add("languages", {"id": 1, "name": "English (English)", "iso_code": "en",
                                   "locale": "en-US", "language_code": "en-us",
                                   "date_format_lite": "m/d/Y", "date_format_full": "m/d/Y H:i:s"})
        if not self.tables["shop_groups"]:
            self.add("shop_groups", {"id": 1, "name": "Default", "active": "1"})
        if not self.tables["shops"]:
            self.add("shops", {"id": 1, "id_shop_group": "1", "id_category": "2", "name": self.shop_name,
                               "active": "1"})
        if not self.tables["order_states"]:
            for s in stock_order_states(self.version, self.lang_ids):
                self.add("order_states", s)
        if not self.tables["currencies"]:
            self.add("currencies", {"id": 1, "name": "Euro", "iso_code": "EUR", "iso_code_num": "978",
                                    "numeric_iso_code": "978", "sign": "€", "blank": "1",
                                    "format": "2", "names": {i: "Euro" for i in self.lang_ids},
                                    "symbol": {i: "€" for i in self.lang_ids},
                                    "pattern": {i: "" for i in self.lang_ids}})
        if not self.tables["countries"]:
            for cid, iso, zone, name_en, name_it, prefix, fmt in (
                (10, "IT", 1, "Italy", "Italia", "39", "NNNNN"),
                (8, "FR", 1, "France", "Francia", "33", "NNNNN"),
                (1, "DE", 1, "Germany", "Germania", "49", "NNNNN"),
                (6, "ES", 1, "Spain", "Spagna", "34", "NNNNN"),
                (19, "CH", 7, "Switzerland", "Svizzera", "41", "NNNN"),
                (21, "US", 2, "United States", "Stati Uniti", "1", "NNNNN"),
            ):
                names = {lid: (name_it if i == 1 else name_en) for i, lid in enumerate(self.lang_ids)}
                self.add("countries", {"id": cid, "id_zone": str(zone), "call_prefix": prefix,
                                       "iso_code": iso, "contains_states": "1" if iso in ("IT", "US") else "0",
                                       "zip_code_format": fmt, "name": names})
        if not self.tables["carriers"]:
            for cid, name, delay_en, delay_it, free in (
                (1, "Ritiro in negozio", "Pick up in-store", "Ritiro in negozio", "1"),
                (2, "Corriere Espresso", "Delivery next day!", "Consegna il giorno dopo!", "0"),
                (3, "Poste Italiane", "3-5 days", "3-5 giorni", "0"),
            ):
                delay = {lid: (delay_it if i == 1 else delay_en) for i, lid in enumerate(self.lang_ids)}
                self.add("carriers", {"id": cid, "id_tax_rules_group": "1", "id_reference": str(cid),
                                      "name": name, "is_free": free, "shipping_handling": "0" if free == "1" else "1",
                                      "position": str(cid - 1), "delay": delay})
        # Italian taxes and provinces (emulator.italy): what the Italian localisation pack installs
        if not self.tables["taxes"]:
            for t in italy.base_taxes(self.lang_ids):
                self.add("taxes", t)
        if not self.tables["tax_rule_groups"]:
            for g in italy.base_tax_rules_groups():
                self.add("tax_rule_groups", g)
        if not self.tables["tax_rules"]:
            for r in italy.base_tax_rules(list(self.tables["countries"])):
                self.add("tax_rules", r)
        if not self.tables["states"]:
            for p in italy.base_states():
                self.add("states", p)

    def tax_of_group(self, id_tax_rules_group: int, id_country: int = italy.ITALY) -> tuple[int, Decimal]:
        """(id_tax, rate) a group applies in a country: its rule's tax (0 = none) and that tax's rate."""
        tax_id = 0
        for rule in self.tables["tax_rules"].values():
            if (rule.get("id_tax_rules_group") == str(id_tax_rules_group)
                    and rule.get("id_country") == str(id_country) and rule.get("id_state", "0") in ("0", "")):
                tax_id = int(rule.get("id_tax") or 0)
                break
        tax = self.tables["taxes"].get(tax_id) if tax_id else None
        if tax is None or self.value("taxes", tax, "active") != "1":
            return 0, Decimal(0)
        return tax_id, Decimal(self.value("taxes", tax, "rate"))


# ---------------------------------------------------------------------- loading
def _norm_value(v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


def _norm_i18n(v: Any, lang_ids: list[int]) -> dict[int, str]:
    if isinstance(v, dict):
        return {int(k): ("" if x is None else str(x)) for k, x in v.items()}
    if isinstance(v, list):
        return {int(item["id"]): ("" if item.get("value") is None else str(item["value"])) for item in v}
    text = "" if v is None else str(v)
    return {lid: text for lid in lang_ids}


def normalize(state: ShopState, resource: str, raw: Obj) -> Obj:
    """Turn a JSON-shaped object (PrestaShop JSON output or our own files) into a stored object."""
    res = state.resources[resource]
    kinds = {f.name: f for f in res.fields}
    obj: Obj = {"id": int(raw["id"])}
    for k, v in raw.items():
        if k in ("id", "associations"):
            continue
        f = kinds.get(k)
        if f is None:
            obj[k] = _norm_value(v)
            continue
        if f.kind == "i18n":
            obj[k] = _norm_i18n(v, state.lang_ids)
        else:
            nv = _norm_value(v)
            if nv != f.default_value:
                obj[k] = nv
    assocs = raw.get("associations")
    if assocs:
        obj["associations"] = {
            name: [{ik: _norm_value(iv) for ik, iv in item.items()} for item in items]
            for name, items in assocs.items()
        }
    return obj


LOAD_ORDER = ["languages", "order_states", "currencies", "countries", "states", "taxes", "tax_rule_groups",
              "tax_rules", "carriers", "customers", "addresses", "products", "combinations", "stock_availables",
              "order_details", "orders", "order_histories", "order_discounts", "order_cart_rules",
              "customer_threads", "customer_messages"]
# the same table under its 1.6 and 1.7+ names
RESOURCE_ALIASES = {"order_discounts": "order_cart_rules", "order_cart_rules": "order_discounts"}


def _read_objects(path: Path, resource: str) -> list[Obj]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        if resource in data:
            data = data[resource]
        elif len(data) == 1:
            (data,) = data.values()
            if isinstance(data, dict):
                data = [data]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of objects")
    return data


def load_dir(path: str | Path, version: str | None = None, *, key: str | None = None,
             seed: int | None = None) -> ShopState:
    """Load a shop from a directory with one ``<resource>.json`` per resource.

    Each file holds a list of objects (or PrestaShop's own ``{"orders": [...]}`` JSON list shape):
    ids as numbers, values as strings, multilanguage values as a plain string (every language),
    ``{"1": "..", "2": ".."}`` or ``[{"id": 1, "value": ".."}]``, and ``associations``. Orders may
    carry ``associations.order_rows`` instead of an ``order_details.json``. Optional ``shop.json``:
    ``{"version": "1.7", "shop_name": "...", "address_module_fields": ["pec", "sdi"],
    "keys": {"KEY": {"active": true, "permissions": {"orders": ["GET", "HEAD"]}}}}``.
    ``order_discounts.json`` (1.6) and ``order_cart_rules.json`` (1.7+) load under either version.
    """
    path = Path(path)
    meta: Obj = {}
    if (path / "shop.json").exists():
        meta = json.loads((path / "shop.json").read_text(encoding="utf-8"))
    state = ShopState(version or meta.get("version", "1.6"), key=key or meta.get("key"), seed=seed,
                      shop_name=meta.get("shop_name", "PrestaShop"),
                      address_module_fields=meta.get("address_module_fields") or ())
    for k, spec in (meta.get("keys") or {}).items():
        perms = {r: frozenset(m.upper() for m in ms) for r, ms in (spec.get("permissions") or {"*": sorted(ALL_METHODS)}).items()}
        state.keys[k] = KeySpec(k, spec.get("active", True), perms)
    files = {}
    for p in path.glob("*.json"):
        if p.stem == "shop":
            continue
        name = p.stem
        if name not in state.resources and RESOURCE_ALIASES.get(name) in state.resources:
            name = RESOURCE_ALIASES[name]
        files[name] = p
    unknown = set(files) - set(state.resources)
    if unknown:
        raise ValueError(f"unknown resource files in {path}: {sorted(unknown)}")
    order = [r for r in LOAD_ORDER if r in files] + sorted(set(files) - set(LOAD_ORDER))
    for resource in order:
        for raw in _read_objects(files[resource], resource):
            obj = normalize(state, resource, raw)
            if resource == "orders":
                rows = (obj.get("associations") or {}).pop("order_rows", None)
                if rows and obj["id"] not in state._details_by_order:
                    for row in rows:
                        detail = {k: v for k, v in row.items() if v not in (None, "")}
                        detail["id"] = int(row["id"])
                        detail["id_order"] = str(obj["id"])
                        for pk in ("product_price", "unit_price_tax_incl", "unit_price_tax_excl"):
                            detail.setdefault(pk, "0.000000")
                        q = int(row.get("product_quantity", "1"))
                        detail["total_price_tax_incl"] = fmt_dec(float(detail["unit_price_tax_incl"]) * q)
                        detail["total_price_tax_excl"] = fmt_dec(float(detail["unit_price_tax_excl"]) * q)
                        state.add("order_details", detail)
                if obj.get("associations") == {}:
                    del obj["associations"]
            state.add(resource, obj)
    state.ensure_base()
    return state


def dump_dir(state: ShopState, path: str | Path, resources: Iterable[str] | None = None,
             *, full: bool = False) -> None:
    """Write the shop as files loadable by :func:`load_dir`.

    Sparse by default (only values differing from the field defaults); ``full=True`` writes every field.
    ``shop.json`` gets the version, shop name, key and the address module fields.
    """
    from .render import plain_object

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    meta: Obj = {"version": state.version_str, "shop_name": state.shop_name, "key": state.key}
    if state.address_module_fields:
        meta["address_module_fields"] = list(state.address_module_fields)
    (path / "shop.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for resource in resources or [r for r, t in state.tables.items() if t]:
        objs = []
        for o in state.table(resource).values():
            if full:
                objs.append(plain_object(state, resource, o))
                continue
            d: Obj = {}
            for k, v in o.items():
                if k.startswith("_"):
                    continue
                d[k] = {str(lk): lv for lk, lv in v.items()} if isinstance(v, dict) and k != "associations" else v
            objs.append(d)
        text = "[\n" + ",\n".join(json.dumps(o, ensure_ascii=False) for o in objs) + "\n]\n"
        (path / f"{resource}.json").write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------- generator
FIRST_NAMES = ["Giulia", "Marco", "Francesca", "Luca", "Chiara", "Alessandro", "Sara", "Matteo",
               "Martina", "Lorenzo", "Giorgia", "Andrea", "Elena", "Davide", "Valentina", "Niccolò",
               "Federica", "Simone", "Beatrice", "Gabriele", "Anna", "Tommaso", "Noemi", "Riccardo",
               "Zoë", "José", "Ilaria", "Pietro", "Aurora", "Emanuele", "Nicolò", "Bianca"]
LAST_NAMES = ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
              "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa",
              "D'Angelo", "Giordano", "Rizzo", "Lombardi", "Moretti", "Barbieri", "Fontana",
              "Santoro", "Mariani", "Rinaldi", "Caruso", "Ferrara", "Galli", "Martini", "Leone",
              "Longo", "Gentile", "Martinelli", "Vitale", "Lombardo", "Serra", "Coppola",
              "De Santis", "D'Amico", "Marchetti", "Parisi", "Villa", "Conte", "Ferraro", "Fabbri",
              "Bianco", "Marini", "Grasso", "Valentini", "Messina", "Sala", "De Angelis", "Gatti",
              "Pellegrini", "Palumbo", "Sanna", "Farina", "Rizzi", "Monti", "Cattaneo", "Morelli",
              "Amato", "Silvestri", "Mazza", "Testa", "Dell'Acqua", "Pellegrino", "Carbone", "Giuliani",
              "Benedetti", "Barone", "Rossetti", "Caputo", "Montanari", "Guerra", "Palmieri", "Bernardi",
              "Martino", "Fiore", "De Rosa", "Ferri", "Lucchesi", "Orlando", "Colonna", "Nicolò",
              "Bellucci", "Sorrentino", "Zanetti", "Cocco", "Bassi", "Quaranta", "Bertolini",
              "[b]Rossi[/b]", "Rossi 🍕", "<i>Verdi</i>", "Müller", "O'Brien", "Nuñez"]
COMPANIES = ["Trattoria Da Mario S.r.l.", "Bottega dell'Arte", "Ferramenta Rossi & Figli",
             "Caffè Centrale S.n.c.", "Studio Bianchi", "Agriturismo L'Uliveto", "Pasticceria Dolce Vita",
             "Officina \"La Ruota\"", "Ottica Visione <Plus>", "Libreria Ca' Foscari", "Enoteca 🍷 Bacco"]
CITIES = [("Milano", "20121", "MI"), ("Roma", "00184", "RM"), ("Napoli", "80134", "NA"),
          ("Torino", "10121", "TO"), ("Bologna", "40126", "BO"), ("Firenze", "50122", "FI"),
          ("Genova", "16121", "GE"), ("Forlì", "47121", "FC"), ("Cantù", "22063", "CO"),
          ("Sant'Agata de' Goti", "82019", "BN"), ("Palermo", "90133", "PA"), ("Venezia", "30124", "VE"),
          ("Bari", "70121", "BA"), ("Verona", "37121", "VR"), ("Trento", "38122", "TN")]
STREETS = ["Via Roma", "Corso Italia", "Via Garibaldi", "Piazza Duomo", "Via dell'Indipendenza",
           "Viale Europa", "Via San Francesco d'Assisi", "Via Nazionale", "Largo Cairoli", "Via Po",
           "Via Mazzini", "Corso Vittorio Emanuele II", "Via Cavour"]
# name, shelf price (tax incl.), attribute (label, values), tax rules group (emulator.italy)
PRODUCT_BASES = [
    ("Caffè Espresso Miscela Oro 250g", "6.90", None, italy.STANDARD),
    ("Pasta all'uovo Tagliatelle 500g", "3.20", None, italy.REDUCED_4),
    ("Olio Extravergine d'Oliva 1L", "12.50", None, italy.REDUCED_4),
    ("T-shirt \"Dolce Vita\"", "19.90", ("Taglia", ["S", "M", "L", "XL"]), italy.STANDARD),
    ("Felpa con cappuccio 😎", "39.00", ("Colore", ["Nero", "Blu", "Rosso"]), italy.STANDARD),
    ("Tazza Mug <Ciao>", "8.50", None, italy.STANDARD),
    ("Grembiule da cucina [b]Chef[/b]", "14.00", ("Colore", ["Bianco", "Verde"]), italy.STANDARD),
    ("Parmigiano Reggiano 24 mesi 1kg", "24.90", None, italy.REDUCED_4),
    ("Scarpe da corsa Veloce", "79.00", ("Numero", ["39", "40", "41", "42", "43", "44"]), italy.STANDARD),
    ("Borsa in pelle & tela", "65.00", ("Colore", ["Marrone", "Nero"]), italy.STANDARD),
    ("Limoncello di Sorrento 50cl", "15.90", None, italy.STANDARD),
    ("Panettone Artigianale 1kg", "22.00", None, italy.REDUCED_10),
    ("Cappello di paglia Ø 58", "18.00", ("Taglia", ["S/M", "L/XL"]), italy.STANDARD),
    ("Guida \"L'Italia a tavola\"", "29.00", None, italy.REDUCED_4),
    ("Vino Rosso Chianti DOCG 🍷", "11.40", None, italy.STANDARD),
    ("Corso di cucina online – lezione singola", "25.00", None, italy.EXEMPT),
    ("Calzini di lana (3 paia)", "12.00", ("Taglia", ["35-38", "39-42", "43-46"]), italy.STANDARD),
    ("Basilico fresco in vaso", "3.50", None, italy.REDUCED_5),
    ("Zaino Trekking 30L", "49.90", ("Colore", ["Grigio", "Arancione"]), italy.STANDARD),
    ("Cioccolato fondente 85% – tavoletta", "3.90", None, italy.REDUCED_10),
]
# the same products' names in English, for a shop whose languages are named (generate(languages=("en", "it")))
PRODUCT_NAMES_EN = [
    "Espresso Coffee Gold Blend 250g", "Egg Tagliatelle Pasta 500g", "Extra Virgin Olive Oil 1L",
    "\"Dolce Vita\" T-shirt", "Hooded Sweatshirt 😎", "Mug <Ciao>", "Kitchen Apron [b]Chef[/b]",
    "Parmigiano Reggiano Aged 24 Months 1kg", "Veloce Running Shoes", "Leather & Canvas Bag",
    "Limoncello from Sorrento 50cl", "Handmade Panettone 1kg", "Straw Hat Ø 58",
    "Guide \"Italy at the Table\"", "Chianti DOCG Red Wine 🍷", "Online Cooking Class – single lesson",
    "Wool Socks (3 pairs)", "Fresh Basil in a Pot", "Trekking Backpack 30L", "Dark Chocolate 85% – bar",
]
LANGUAGES = {
    "en": {"name": "English (English)", "locale": "en-US", "language_code": "en-us",
           "date_format_lite": "m/d/Y", "date_format_full": "m/d/Y H:i:s"},
    "it": {"name": "Italiano (Italian)", "locale": "it-IT", "language_code": "it-it",
           "date_format_lite": "d/m/Y", "date_format_full": "d/m/Y H:i:s"},
}
PAYMENTS = [("ps_checkpayment", "Payment by check", 1), ("ps_wirepayment", "Bank wire", 10),
            ("paypal", "PayPal", 2), ("ps_cashondelivery", "Cash on delivery (COD)", 2),
            ("stripe_official", "Carta di credito", 2)]
STATE_WEIGHTS = [(2, 22), (3, 18), (4, 25), (5, 17), (6, 6), (8, 4), (1, 3), (10, 5)]
# carriers' prices tax excl. (4.90, 7.00 and 9.90 with 22 %), gift wrapping (3.00 with 22 %)
SHIPPING_PRICES = [Decimal("4.016393"), Decimal("5.737705"), Decimal("8.114754")]
WRAPPING_PRICE = Decimal("2.459016")
# whole-order cart rules: id_cart_rule, name, kind, value (amounts tax incl.)
CART_RULES = {5: (1, "Sconto 5%", "percent", Decimal(5)), 10: (2, "Sconto 10%", "percent", Decimal(10)),
              20: (3, "Sconto 20%", "percent", Decimal(20)), "5e": (4, "Buono 5 €", "amount", Decimal(5)),
              "10e": (5, "Buono 10 €", "amount", Decimal(10))}
GIFT_MESSAGES = ["Buon compleanno! 🎂", "Auguri & baci", "Per te <3", "Tanti auguri, Niccolò"]
ORDER_NOTES = ["Consegnare al portiere", "Citofono \"Rossi\"", "Chiamare prima 📞"]
DELIVERY_NOTES = ["Citofono Rossi, secondo piano", "Consegnare dopo le 18", "Lasciare al bar sotto casa"]
CUSTOMER_MESSAGES = [
    "Buongiorno, è possibile consegnare dopo le 18? Grazie",
    "Vorrei la fattura intestata alla mia azienda, grazie.",
    "Potete cambiare la taglia in M? 🙏",
    "Il pacco è arrivato danneggiato, come posso fare il reso?",
    "Quando partirà l'ordine? Mi serve entro venerdì.",
    "<b>Urgente</b>: ho sbagliato l'indirizzo, è Via Roma 12 & non 21",
]
REPLIES = ["Gentile cliente, l'ordine partirà domani. Cordiali saluti", "Fatto! La taglia è stata cambiata.",
           "Ci scusiamo per il disagio: le abbiamo inviato l'etichetta per il reso."]
USER_AGENTS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/120.0 Safari/537.36",
               "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
               "Version/17.2 Mobile/15E148 Safari/604.1"]
THREAD_STATUSES = ["open", "open", "closed", "pending1"]
WRAPPING_KEYS = ("total_wrapping", "total_wrapping_tax_incl", "total_wrapping_tax_excl")


def _reference(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(9))


def _md5(s: str) -> str:
    return hashlib.md5(s.encode(), usedforsecurity=False).hexdigest()


@dataclass(slots=True)
class _Identity:
    """A generated customer's fiscal data: what goes on their addresses."""

    piva: str = ""  # as typed
    cf: str = ""
    pec: str = ""
    sdi: str = ""
    note: str = ""  # a delivery note in `other`


class Generator:
    """Deterministic data generator; :meth:`add_orders` can be called again to grow the shop.

    ``round_type``: the shop's ``PS_ROUND_TYPE`` (``pricing.ROUND_ITEM`` 1, ``ROUND_LINE`` 2, the
    default, ``ROUND_TOTAL`` 3), stored on every order and used for its amounts (``emulator.pricing``).
    Fiscal data, cart rules, gift wrapping and customer messages come from a second seeded stream.
    """

    def __init__(self, state: ShopState, seed: int = 1, start: datetime | None = None, *,
                 round_type: int = pricing.ROUND_LINE) -> None:
        if round_type not in (pricing.ROUND_ITEM, pricing.ROUND_LINE, pricing.ROUND_TOTAL):
            raise ValueError(f"round_type must be 1, 2 or 3, not {round_type!r}")
        self.state = state
        self.rng = random.Random(seed)
        self.frng = random.Random(f"fiscal-{seed}")
        self.clock = start or datetime(2025, 1, 7, 9, 0, 0)
        self.round_type = round_type
        self.customer_pool: list[int] = []
        self.guest_emails: list[str] = []
        self.addr_by_customer: dict[int, list[int]] = {}
        self.identities: dict[int, _Identity] = {}
        self.invalid_vat_customers: set[int] = set()  # companies given a wrong partita IVA check digit
        self._strings: dict[str, str] = {}
        # languages named by ISO code (generate(languages=("en", "it"))): id -> code; {} = the older data
        self.language_isos: dict[int, str] = {}
        self.shop_rng = random.Random(f"shops-{seed}")  # a stream of its own: one shop's data is unchanged
        for a in state.tables["addresses"].values():
            self.addr_by_customer.setdefault(int(a.get("id_customer", "0")), []).append(a["id"])

    # -------------------------------------------------------------- catalogue
    def make_catalogue(self, n_products: int = 20) -> None:
        st, rng = self.state, self.rng
        langs = st.lang_ids
        combo_id = st.next_id("combinations")
        stock_id = st.next_id("stock_availables")
        for i in range(n_products):
            base, shelf, attrs, group = PRODUCT_BASES[i % len(PRODUCT_BASES)]
            _tax, rate = st.tax_of_group(group)
            price = pricing.r6(Decimal(shelf) / (1 + rate / 100))  # shops enter the price with VAT
            pid = st.next_id("products")
            name_it = base if i < len(PRODUCT_BASES) else f"{base} #{i // len(PRODUCT_BASES) + 1}"
            names = {lid: name_it for lid in langs}
            if self.language_isos:
                for lid, iso in self.language_isos.items():
                    if iso == "en":
                        base_en = PRODUCT_NAMES_EN[i % len(PRODUCT_BASES)]
                        names[lid] = base_en if i < len(PRODUCT_BASES) else f"{base_en} #{i // len(PRODUCT_BASES) + 1}"
            elif len(langs) > 1:
                names[langs[0]] = name_it + " (EN)" if i % 3 == 0 else name_it
            slug = "".join(c if c.isalnum() else "-" for c in name_it.lower()).strip("-")
            date = fmt_dt(self.clock - timedelta(days=400 - i))
            prod: Obj = {
                "id": pid, "id_manufacturer": str(1 + i % 3), "id_supplier": str(1 + i % 2),
                "id_category_default": str(2 + i % 4), "reference": f"SKU-{pid:04d}",
                "ean13": f"80{rng.randrange(10**10, 10**11)}", "price": str(price),
                "wholesale_price": str(pricing.r6(pricing.r2(price * Decimal("0.45")))),
                "id_tax_rules_group": str(group),
                "weight": fmt_dec(round(rng.uniform(0.1, 2.5), 2)), "date_add": date, "date_upd": date,
                "active": "0" if i % 13 == 12 else "1", "manufacturer_name": ["Fabbrica Italiana", "Bottega Artigiana", "Casa Nostra"][i % 3],
                "name": names, "link_rewrite": {lid: slug for lid in langs},
                "description_short": {lid: f"<p>{name_it}: qualità artigianale.</p>" for lid in langs},
                "available_now": {lid: "Disponibile" for lid in langs},
                "associations": {"categories": [{"id": "2"}, {"id": str(2 + i % 4)}]},
            }
            if group == italy.EXEMPT:
                prod["is_virtual"] = "1"
            st.add("products", prod)
            total = 0
            main_stock = st.add("stock_availables", {"id": stock_id, "id_product": str(pid),
                                                     "id_product_attribute": "0", "quantity": "0"})
            stock_id += 1
            if attrs:
                label, values = attrs
                impact = pricing.r6(Decimal(2) / (1 + rate / 100))  # the last value costs 2.00 more
                for j, val in enumerate(values):
                    qty = rng.randrange(0, 60)
                    total += qty
                    st.add("combinations", {"id": combo_id, "id_product": str(pid),
                                            "reference": f"SKU-{pid:04d}-{j + 1}", "quantity": str(qty),
                                            "price": str(impact) if j == len(values) - 1 else "0.000000",
                                            "default_on": "1" if j == 0 else None,
                                            "_label": f"{label} : {val}"})
                    st.add("stock_availables", {"id": stock_id, "id_product": str(pid),
                                                "id_product_attribute": str(combo_id), "quantity": str(qty)})
                    combo_id += 1
                    stock_id += 1
                prod["cache_default_attribute"] = str(combo_id - len(values))
                prod["id_default_combination"] = str(combo_id - len(values))
            else:
                total = rng.randrange(0, 200)
            main_stock["quantity"] = str(total)

    # -------------------------------------------------------------- people
    def _identity(self, cid: int, cust: Obj, company: str) -> _Identity:
        """Partita IVA, PEC and SDI code for a company; a codice fiscale for most people."""
        f = self.frng
        ident = _Identity()
        if company:
            valid = f.random() >= 0.06
            if not valid:
                self.invalid_vat_customers.add(cid)
            ident.piva = italy.typed_piva(f, italy.make_piva(f, valid=valid))
            r = f.random()
            if r < 0.55:
                ident.pec, ident.sdi = italy.make_pec(f, company), italy.make_sdi(f)
            elif r < 0.8:
                ident.pec, ident.sdi = italy.make_pec(f, company), "0000000"
            elif r < 0.95:
                ident.sdi = italy.make_sdi(f)
        elif f.random() < 0.85:
            birthday = cust.get("birthday") or f"{f.randrange(1950, 2004)}-{f.randrange(1, 13):02d}-{f.randrange(1, 29):02d}"
            place = f.choice(list(italy.BIRTHPLACES.values()))
            ident.cf = italy.codice_fiscale(cust["lastname"], cust["firstname"], birthday,
                                            cust.get("id_gender") == "2", place)
        if not company and f.random() < 0.05:
            ident.note = f.choice(DELIVERY_NOTES)
        return ident

    def _new_customer(self, *, guest: bool = False, email: str | None = None) -> int:
        st, rng = self.state, self.rng
        cid = st.next_id("customers")
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        if email is None:
            clean = "".join(c for c in (first + "." + last).lower() if c.isascii() and (c.isalnum() or c == "."))
            email = f"{clean}{cid}@example.it"
        company = rng.choice(COMPANIES) if rng.random() < 0.12 else ""
        date = fmt_dt(self.clock)
        cust: Obj = {"id": cid, "lastname": last, "firstname": first, "email": email,
                     "passwd": _md5(f"pw{cid}") if st.version < (1, 7) else f"$2y$10${_md5(str(cid))[:53]}",
                     "secure_key": _md5(f"sk{cid}"), "last_passwd_gen": date, "date_add": date, "date_upd": date,
                     "id_gender": str(rng.choice((1, 2))) }
        if rng.random() < 0.3:
            cust["newsletter"] = "1"
            cust["newsletter_date_add"] = date
        if rng.random() < 0.6:
            cust["birthday"] = f"{rng.randrange(1950, 2004)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        ident = self.identities[cid] = self._identity(cid, cust, company)
        if company:
            cust["company"] = company
            cust["siret"] = ident.piva
        if guest:
            cust["is_guest"] = "1"
            cust["passwd"] = _md5(f"guest{cid}")
            cust["id_default_group"] = "2"
        st.add("customers", cust)
        n_addr = 1 if guest else rng.choice((1, 1, 1, 2, 2, 3))
        for k in range(n_addr):
            self._new_address(cid, first, last, company if k == 0 else "", k)
        return cid

    def _new_address(self, cid: int, first: str, last: str, company: str, k: int) -> int:
        st, rng = self.state, self.rng
        aid = st.next_id("addresses")
        city, cap, prov = rng.choice(CITIES)
        foreign = rng.random() < 0.06
        addr: Obj = {"id": aid, "id_customer": str(cid), "id_country": "8" if foreign else "10",
                     "alias": ["Casa", "Ufficio", "Casa al mare"][k % 3], "lastname": last, "firstname": first,
                     "address1": f"{rng.choice(STREETS)} {rng.randrange(1, 200)}",
                     "postcode": "75002" if foreign else cap, "city": "Paris" if foreign else city,
                     "phone": f"+39 0{rng.randrange(10, 99)} {rng.randrange(100000, 9999999)}",
                     "date_add": fmt_dt(self.clock), "date_upd": fmt_dt(self.clock)}
        if not foreign:
            addr["id_state"] = str(italy.PROVINCE_IDS[prov])
        if rng.random() < 0.5:
            addr["phone_mobile"] = f"+39 3{rng.randrange(10, 99)} {rng.randrange(1000000, 9999999)}"
        if rng.random() < 0.15:
            addr["address2"] = f"Scala {rng.choice('ABC')}, interno {rng.randrange(1, 30)}"
        ident = self.identities.get(cid) or _Identity()
        if company:
            addr["company"] = company
            if ident.piva:
                addr["vat_number"] = ident.piva
                if self.frng.random() < 0.3:  # a company's codice fiscale is its partita IVA
                    addr["dni"] = "".join(ch for ch in ident.piva if ch.isdigit())
            self._e_invoicing(addr, ident)
        elif ident.cf and not foreign:
            addr["dni"] = ident.cf
        if ident.note and not company:
            addr["other"] = ident.note
        if rng.random() < 0.02:
            addr["deleted"] = "1"
        st.add("addresses", addr)
        self.addr_by_customer.setdefault(cid, []).append(aid)
        return aid

    def _e_invoicing(self, addr: Obj, ident: _Identity) -> None:
        """PEC and SDI code: in the module's address fields when the shop has them, else typed in `other`."""
        fields = self.state.address_module_fields
        sdi_field = next((n for n in ("sdi", "codice_destinatario") if n in fields), None)
        typed = []
        if ident.pec:
            if "pec" in fields:
                addr["pec"] = ident.pec
            else:
                typed.append(f"PEC: {ident.pec}")
        if ident.sdi:
            if sdi_field:
                addr[sdi_field] = ident.sdi
            elif ident.sdi != "0000000" or self.frng.random() < 0.5:
                typed.append(f"SDI: {ident.sdi}")
        if typed:
            if len(typed) == 2 and self.frng.random() < 0.3:
                typed.reverse()
            addr["other"] = self.frng.choice((" ", " - ", "\n")).join(typed)

    def _pick_customer(self) -> int:
        rng = self.rng
        r = rng.random()
        if self.customer_pool and r < 0.40:
            return rng.choice(self.customer_pool)
        if r < 0.50:
            # guest checkout, sometimes re-using an e-mail already seen (registered or guest)
            email = None
            if self.guest_emails and rng.random() < 0.6:
                email = rng.choice(self.guest_emails)
            elif self.customer_pool and rng.random() < 0.3:
                email = self.state.tables["customers"][rng.choice(self.customer_pool)]["email"]
            cid = self._new_customer(guest=True, email=email)
            self.guest_emails.append(self.state.tables["customers"][cid]["email"])
            return cid
        cid = self._new_customer()
        self.customer_pool.append(cid)
        return cid

    # -------------------------------------------------------------- orders
    def _cart_rules(self) -> list[pricing.CartRule]:
        """A whole-order discount on about 15 % of the orders (sometimes two)."""
        rng, f = self.rng, self.frng
        if rng.random() >= 0.15:
            return []
        keys: list[Any] = [rng.choice((5, 10, 20))] if rng.random() < 0.7 else [f.choice(("5e", "10e"))]
        if f.random() < 0.12:
            keys.append("5e" if isinstance(keys[0], int) else 10)
        rules = []
        for k in keys:
            rid, name, kind, value = CART_RULES[k]
            rules.append(pricing.CartRule(name, kind, value, rid))
        return rules

    def _thread(self, order: Obj, cust: Obj, product_id: str, thread_id: int, msg_id: int) -> int:
        """A customer thread about the order with one or two public messages; returns the next message id."""
        st, f = self.state, self.frng
        opened = self.clock + timedelta(minutes=f.randrange(2, 300))
        st.add("customer_threads", {
            "id": thread_id, "id_lang": order["id_lang"], "id_shop": "1", "id_customer": order["id_customer"],
            "id_order": str(order["id"]), "id_product": product_id if f.random() < 0.2 else "0",
            "id_contact": "2", "email": cust["email"],
            "token": "".join(f.choice(string.ascii_letters + string.digits) for _ in range(12)),
            "status": f.choice(THREAD_STATUSES), "date_add": fmt_dt(opened), "date_upd": fmt_dt(opened)})
        when = opened
        ip = str(f.randrange(1_400_000_000, 3_000_000_000))
        agent = f.choice(USER_AGENTS)
        for n in range(1 if f.random() < 0.6 else 2):
            employee = n == 1 and f.random() < 0.5
            st.add("customer_messages", {
                "id": msg_id, "id_employee": "1" if employee else "0", "id_customer_thread": str(thread_id),
                "ip_address": "0" if employee else ip, "message": f.choice(REPLIES if employee else CUSTOMER_MESSAGES),
                "user_agent": "" if employee else agent, "date_add": fmt_dt(when), "date_upd": fmt_dt(when),
                "read": "1" if employee or f.random() < 0.7 else "0"})
            msg_id += 1
            st.tables["customer_threads"][thread_id]["date_upd"] = fmt_dt(when)
            when += timedelta(minutes=f.randrange(10, 1440))
        return msg_id

    def _row_template(self, prod: Obj, combo: Obj | None, qty: int, tax: tuple[int, Decimal],
                      tax_assoc: dict[int, Obj], lang_id: int) -> tuple[Obj, pricing.Line]:
        """An order row of ``qty`` × the product (or combination), priced: all but its ids."""
        S = self._strings.setdefault  # noqa: N806 - share equal strings (memory)
        st = self.state
        tax_id, rate = tax
        price = Decimal(st.value("products", prod, "price"))
        attr_id = "0"
        name = prod["name"][lang_id]
        ref = prod.get("reference", "")
        if combo is not None:
            attr_id = str(combo["id"])
            price += Decimal(combo.get("price") or "0")
            name = f"{name} - {combo.get('_label') or 'Variante ' + str(combo['id'])}"
            ref = combo.get("reference", ref)
        ln = pricing.Line(price, rate, qty)
        pricing.price_lines([ln], self.round_type)
        price_s, ui, ue, ti, te = (S(v, v) for v in map(pricing.s6, (
            price, ln.unit_incl, ln.unit_excl, ln.total_incl, ln.total_excl)))
        pid, group, q = str(prod["id"]), str(prod.get("id_tax_rules_group") or 0), str(qty)
        det = {"product_id": S(pid, pid), "product_attribute_id": S(attr_id, attr_id), "product_name": S(name, name),
               "product_quantity": S(q, q), "product_price": price_s, "product_reference": ref,
               "product_ean13": prod.get("ean13", ""), "id_tax_rules_group": S(group, group),
               "original_product_price": price_s,
               "original_wholesale_price": prod.get("wholesale_price", "0.000000"),
               "product_quantity_in_stock": S(q, q), "unit_price_tax_incl": ui, "unit_price_tax_excl": ue,
               "total_price_tax_incl": ti, "total_price_tax_excl": te}
        if tax_id:
            assoc = tax_assoc.get(tax_id)
            if assoc is None:
                assoc = tax_assoc[tax_id] = {"taxes": [{"id": str(tax_id)}]}
            det["associations"] = assoc
        return det, ln

    def add_orders(self, n: int) -> list[int]:
        st, rng, f = self.state, self.rng, self.frng
        if not st.tables["products"]:
            self.make_catalogue()
        products = list(st.tables["products"].values())
        combos_by_product: dict[int, list[Obj]] = {}
        for c in st.tables["combinations"].values():
            combos_by_product.setdefault(int(c["id_product"]), []).append(c)
        taxes: dict[tuple[int, int], tuple[int, Decimal]] = {}

        def tax(group: int, country: int) -> tuple[int, Decimal]:
            hit = taxes.get((group, country))
            if hit is None:
                hit = taxes[(group, country)] = st.tax_of_group(group, country)
            return hit

        tax_assoc: dict[int, Obj] = {}  # one shared association object per tax (memory)
        fee = functools.cache(pricing.fee)
        row_cache: dict[tuple[int, int, int, int], tuple[Obj, pricing.Line]] = {}
        carriers = st.tables["carriers"]
        addresses = st.tables["addresses"]
        states = [s for s, _w in STATE_WEIGHTS]
        weights = [w for _s, w in STATE_WEIGHTS]
        cr_table = "order_discounts" if "order_discounts" in st.tables else "order_cart_rules"
        order_id = st.next_id("orders")
        detail_id = st.next_id("order_details")
        hist_id = st.next_id("order_histories")
        cr_id = st.next_id(cr_table)
        thread_id = st.next_id("customer_threads")
        msg_id = st.next_id("customer_messages")
        invoice_no = max((int(o.get("invoice_number", "0")) for o in st.tables["orders"].values()), default=0)
        round_type = str(self.round_type)
        prev_ref = None
        new_ids = []
        cache: dict[str, str] = self._strings
        S = cache.setdefault  # noqa: N806 - share equal strings (memory)
        lang_id = st.lang_ids[0]

        def shared(v: Decimal) -> str:
            text = pricing.s6(v)
            return S(text, text)

        lang = str(lang_id)
        for _ in range(n):
            self.clock += timedelta(seconds=rng.randrange(60, 5400))
            cid = self._pick_customer()
            addrs = self.addr_by_customer.get(cid) or [self._new_address(cid, "Mario", "Rossi", "", 0)]
            a_del = rng.choice(addrs)
            a_inv = rng.choice(addrs) if rng.random() < 0.2 else a_del
            country = int(addresses[a_del].get("id_country") or italy.ITALY)
            date_add = fmt_dt(self.clock)
            oid_s = str(order_id)
            rows: list[Obj] = []
            lines: list[pricing.Line] = []
            for prod in rng.sample(products, k=min(len(products), rng.choice((1, 1, 1, 2, 2, 3, 4, 5)))):
                pid = prod["id"]
                qty = rng.choice((1, 1, 1, 2, 3))
                combos = combos_by_product.get(pid)
                combo = rng.choice(combos) if combos else None
                key = (pid, combo["id"] if combo else 0, qty, country)
                hit = row_cache.get(key)
                if hit is None:
                    hit = row_cache[key] = self._row_template(prod, combo, qty, tax(
                        int(prod.get("id_tax_rules_group") or 0), country), tax_assoc, lang_id)
                template, ln = hit
                det = template.copy()
                det["id"] = detail_id
                det["id_order"] = oid_s
                rows.append(det)
                lines.append(ln)  # a shared priced line: copied below before cart rules change it
                detail_id += 1
            products_incl = sum((ln.total_incl for ln in lines), pricing.ZERO)
            rules = self._cart_rules()
            ship_price = pricing.ZERO if products_incl >= 60 else rng.choice(SHIPPING_PRICES)
            carrier = "1" if ship_price == 0 and rng.random() < 0.3 else rng.choice(("2", "3"))
            if carrier == "1":
                ship_price = pricing.ZERO
            carrier_group = int((carriers.get(int(carrier)) or {}).get("id_tax_rules_group") or 0)
            _ctax, carrier_rate = tax(carrier_group, country)
            gift = f.random() < 0.08
            wrapping = fee(WRAPPING_PRICE, tax(italy.STANDARD, country)[1]) if gift else (pricing.ZERO,) * 2
            if rules:
                lines = [pricing.Line(ln.price_excl, ln.rate, ln.quantity, ln.unit_excl, ln.unit_incl,
                                      ln.total_excl, ln.total_incl, ln.total_excl, ln.total_incl) for ln in lines]
            tot = pricing.order_totals(lines, rules, shipping=fee(ship_price, carrier_rate),
                                       wrapping=wrapping, round_type=self.round_type, priced=True)
            state_id = rng.choices(states, weights)[0]
            module, payment, first_state = rng.choice(PAYMENTS)
            if state_id in (1, 10):
                module, payment, first_state = ("ps_checkpayment", "Payment by check", 1) if state_id == 1 else ("ps_wirepayment", "Bank wire", 10)
            ref = prev_ref if (prev_ref and rng.random() < 0.02) else _reference(rng)
            prev_ref = ref
            s6 = pricing.s6
            disc_s = shared(tot.discounts_incl)
            paid_s = s6(tot.paid_incl)
            ship_s = shared(tot.shipping_incl)
            wrap_s = shared(tot.wrapping_incl)
            rate_s = f"{carrier_rate:.3f}"
            cid_s = str(cid)
            order: Obj = {
                "id": order_id, "id_address_delivery": S(str(a_del), str(a_del)),
                "id_address_invoice": S(str(a_inv), str(a_inv)),
                "id_cart": oid_s, "id_currency": "1", "id_lang": S(lang, lang),
                "id_customer": S(cid_s, cid_s), "id_carrier": carrier, "current_state": S(str(state_id), str(state_id)),
                "module": module, "date_add": date_add, "id_shop_group": "1", "id_shop": "1",
                "secure_key": S(_md5(f"sk{cid}"), _md5(f"sk{cid}")), "payment": payment,
                "total_discounts": disc_s, "total_discounts_tax_incl": disc_s,
                "total_discounts_tax_excl": shared(tot.discounts_excl), "total_paid": paid_s,
                "total_paid_tax_incl": paid_s, "total_paid_tax_excl": s6(tot.paid_excl),
                "total_products": s6(tot.products_excl), "total_products_wt": s6(tot.products_incl),
                "total_shipping": ship_s, "total_shipping_tax_incl": ship_s,
                "total_shipping_tax_excl": shared(tot.shipping_excl), "carrier_tax_rate": S(rate_s, rate_s),
                "total_wrapping": wrap_s, "total_wrapping_tax_incl": wrap_s,
                "total_wrapping_tax_excl": shared(tot.wrapping_excl),
                "conversion_rate": "1.000000", "reference": ref, "round_mode": "2", "round_type": round_type,
            }
            if not gift:  # sparse: the wrapping amounts keep their default (memory)
                for k in WRAPPING_KEYS:
                    del order[k]
            if gift:
                order["gift"] = "1"
                if f.random() < 0.8:
                    order["gift_message"] = f.choice(GIFT_MESSAGES)
            if st.version >= (1, 7, 7) and rng.random() < 0.1:
                order["note"] = rng.choice(ORDER_NOTES)
            flags = st.state_flags(state_id)
            hist_date = self.clock
            hists = [(first_state, date_add)]
            if state_id != first_state:
                upd = hist_date + timedelta(minutes=rng.randrange(5, 600))
                hists.append((state_id, fmt_dt(upd)))
            order["date_upd"] = hists[-1][1]
            order["valid"] = flags.get("logable", "0")
            if flags.get("invoice") == "1":
                invoice_no += 1
                order["invoice_number"] = str(invoice_no)
                order["invoice_date"] = hists[-1][1]
            if flags.get("delivery") == "1":
                order["delivery_number"] = str(invoice_no)
                order["delivery_date"] = hists[-1][1]
            if flags.get("paid") == "1":
                order["total_paid_real"] = paid_s
            if state_id == 4 and rng.random() < 0.7:
                order["shipping_number"] = f"TRK{rng.randrange(10**9, 10**10)}"
            for r in rows:
                st.add("order_details", r)
            st.add("orders", order)
            for rule in tot.rules:
                st.add(cr_table, {"id": cr_id, "id_order": oid_s, "id_cart_rule": str(rule.id_cart_rule),
                                  "name": rule.name, "value": pricing.s2(rule.applied_incl),
                                  "value_tax_excl": pricing.s2(rule.applied_excl)})
                cr_id += 1
            for sid, d in hists:
                st.add("order_histories", {"id": hist_id, "id_employee": "0" if sid == first_state else "1",
                                           "id_order_state": S(str(sid), str(sid)), "id_order": oid_s,
                                           "date_add": d})
                hist_id += 1
            if f.random() < 0.07:
                msg_id = self._thread(order, st.tables["customers"][cid], rows[0]["product_id"], thread_id, msg_id)
                thread_id += 1
            new_ids.append(order_id)
            order_id += 1
        self._place_in_shops(new_ids)
        return new_ids

    def _place_in_shops(self, order_ids: list[int]) -> None:
        """Multishop: each new order goes to a shop, with its rows and customer thread; a
        customer orders in the shop of its account (shop groups do not share customers)."""
        st = self.state
        shops = st.shop_ids
        if len(shops) < 2:
            return
        customers = st.tables["customers"]
        threads = [t for t in st.tables["customer_threads"].values()]
        for oid in order_ids:
            order = st.tables["orders"][oid]
            cust = customers.get(int(order["id_customer"]))
            shop = int(cust["id_shop"]) if cust is not None and "id_shop" in cust else self.shop_rng.choice(shops)
            if cust is not None:
                cust["id_shop"] = str(shop)
                cust["id_shop_group"] = "1"
            order["id_shop"] = str(shop)
            for d in st.assoc_items("orders", order, "order_rows"):
                d["id_shop"] = str(shop)
        by_order = {o: str(st.tables["orders"][o]["id_shop"]) for o in order_ids}
        for t in threads:
            shop_s = by_order.get(int(t.get("id_order") or 0))
            if shop_s is not None:
                t["id_shop"] = shop_s


def generate(n_orders: int, seed: int = 1, *, version: str = "1.6", n_products: int = 20,
             languages: int | tuple[str, ...] = 2, key: str | None = None, start: datetime | None = None,
             round_type: int = pricing.ROUND_LINE, address_module_fields: Iterable[str] = (),
             shops: int = 1) -> ShopState:
    """A deterministic shop with ``n_orders`` orders (see module doc for the variety).

    ``round_type``: PrestaShop's rounding of the orders (``emulator.pricing``); ``address_module_fields``:
    e.g. ``("pec", "sdi")`` for a shop with an e-invoicing module (``ShopState``). ``languages``: 1 or
    2 (English, then Italian with the older data), or ISO codes of ``en`` and ``it`` in id order
    (``("en", "it")``: every name in each language). ``shops``: a multishop install of that many
    shops (module doc).
    """
    state = ShopState(version, key=key or make_key(random.Random(f"key-{seed}")), seed=seed,
                      address_module_fields=address_module_fields)
    isos: dict[int, str] = {}
    if isinstance(languages, tuple):
        for lid, iso in enumerate(languages, start=1):
            if iso not in LANGUAGES or iso in isos.values():
                raise ValueError(f"languages: {iso!r} is not one of {sorted(LANGUAGES)} (each once)")
            isos[lid] = iso
            state.add("languages", {"id": lid, "iso_code": iso, **LANGUAGES[iso]})
    else:
        state.add("languages", {"id": 1, "name": "English (English)", "iso_code": "en", "locale": "en-US",
                                "language_code": "en-us", "date_format_lite": "m/d/Y",
                                "date_format_full": "m/d/Y H:i:s"})
        if languages > 1:
            state.add("languages", {"id": 2, "name": "Italiano (Italian)", "iso_code": "it", "locale": "it-IT",
                                    "language_code": "it-it", "date_format_lite": "d/m/Y",
                                    "date_format_full": "d/m/Y H:i:s"})
    if shops < 1:
        raise ValueError(f"shops must be 1 or more, not {shops!r}")
    state.ensure_base()
    if isos:
        _name_in_languages(state, isos)
    for n in range(2, shops + 1):
        state.add("shops", {"id": n, "id_shop_group": "1", "id_category": "2",
                            "name": f"{state.shop_name} {n}", "active": "1"})
    gen = Generator(state, seed, start, round_type=round_type)
    gen.language_isos = isos
    gen.make_catalogue(n_products)
    if shops > 1:
        _stock_per_shop(state)
    gen.add_orders(n_orders)
    state.generator = gen  # type: ignore[attr-defined]
    return state


def _name_in_languages(state: ShopState, isos: dict[int, str]) -> None:
    """Order states, countries and carriers named in each language by its ISO code."""
    rows = ORDER_STATES_16 if state.version < (1, 7) else ORDER_STATES_17
    for sid, en, it, *_rest in rows:
        st = state.tables["order_states"].get(sid)
        if st is not None:
            st["name"] = {lid: (it if iso == "it" else en) for lid, iso in isos.items()}
    for table, name in (("countries", "name"), ("carriers", "delay")):
        for obj in state.tables[table].values():
            vals = obj.get(name) or {}
            if len(set(vals.values())) > 1:
                texts = list(vals.values())  # [Italian, English] as ensure_base wrote them
                it_text = next((v for k, v in vals.items() if k == state.lang_ids[1]), texts[0])
                en_text = next((v for k, v in vals.items() if k == state.lang_ids[0]), texts[-1])
                obj[name] = {lid: (it_text if iso == "it" else en_text) for lid, iso in isos.items()}


def _stock_per_shop(state: ShopState) -> None:
    """One stock row per shop for every product and combination (shops sharing no stock):
    the other shops start with the default shop's quantities."""
    rows = [dict(r) for r in state.table("stock_availables").values()]
    next_id = state.next_id("stock_availables")
    for shop in state.shop_ids[1:]:
        for r in rows:
            state.add("stock_availables", {**r, "id": next_id, "id_shop": str(shop)})
            next_id += 1


def add_generated_orders(state: ShopState, n: int, seed: int | None = None) -> list[int]:
    """Grow a shop with ``n`` more generated orders (dates continue after the newest order)."""
    gen: Generator | None = getattr(state, "generator", None)
    if gen is None or seed is not None:
        last = max((o.get("date_add", "") for o in state.tables["orders"].values()), default="")
        start = datetime.strptime(last, "%Y-%m-%d %H:%M:%S") if last else datetime(2025, 1, 7, 9, 0, 0)
        round_type = gen.round_type if gen is not None else _shop_round_type(state)
        gen = Generator(state, seed if seed is not None else 0, start, round_type=round_type)
        gen.customer_pool = [c["id"] for c in state.tables["customers"].values() if c.get("is_guest", "0") != "1"]
        state.generator = gen  # type: ignore[attr-defined]
    return gen.add_orders(n)


def add_generated_slips(state: ShopState, seed: int = 1, *, share: float = 0.1) -> list[int]:
    """Refunds on about ``share`` of the shop's paid orders not refunded yet, seeded (the
    orders are not touched otherwise, so a shop's orders stay those of its seed): in turn one
    unit of one row, the shipping alone (orders with shipping), and the whole order (every row
    and its shipping). Returns the new order_slip ids."""
    rng = random.Random(f"slips-{seed}")
    paid = {2, 3, 4, 5}
    refunded = {php_int_or(s.get("id_order"), 0) for s in state.tables["order_slip"].values()}
    orders = [o for o in state.table("orders").values()
              if php_int_or(o.get("current_state"), 0) in paid and o["id"] not in refunded]
    new: list[int] = []
    kind = 0
    for order in orders:
        if rng.random() >= share:
            continue
        oid = int(order["id"])
        rows = [d for d in state.assoc_items("orders", order, "order_rows")]
        has_shipping = Decimal(state.value("orders", order, "total_shipping_tax_excl") or "0") > 0
        if kind == 1 and not has_shipping:
            kind = 2
        if kind == 0:
            row = rng.choice(rows)
            slip = state.add_order_slip(oid, {int(row["id"]): 1})
        elif kind == 1:
            slip = state.add_order_slip(oid, shipping=True)
        else:
            slip = state.add_order_slip(oid, {int(d["id"]): int(d.get("product_quantity", "0")) for d in rows},
                                        shipping=has_shipping)
        new.append(int(slip["id"]))
        kind = (kind + 1) % 3
    return new


def _shop_round_type(state: ShopState) -> int:
    """The round type of the shop's newest order (a loaded shop), else line rounding."""
    orders = state.tables["orders"]
    if orders:
        rt = php_int_or(state.value("orders", orders[max(orders)], "round_type"), pricing.ROUND_LINE)
        if rt in (pricing.ROUND_ITEM, pricing.ROUND_LINE, pricing.ROUND_TOTAL):
            return rt
    return pricing.ROUND_LINE


def php_int_or(v: Any, default: int) -> int:
    try:
        return int(str(v).strip())
    except ValueError:
        return default
