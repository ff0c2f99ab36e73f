"""The hub's order, customer and address snapshots (core.sync.snapshot): the builders in
core.sync.orders write exactly the keys the TypedDicts declare, and the same JSON text."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import get_type_hints

from core.prestashop.models import Address, Customer, Order
from core.prestashop.parse import Multilang
from core.sync.orders import ReadPage, address_data, customer_data, order_data
from core.sync.snapshot import (
    AddressSnapshot,
    ChargeSnapshot,
    CustomerSnapshot,
    DiscountSnapshot,
    LineSnapshot,
    OrderSnapshot,
)


class Lookups:
    taxes: dict = {}

    def currency_iso(self, i: int) -> str:
        return "EUR"

    def carrier_name(self, i: int) -> str:
        return "Courier"

    def tax_rates(self) -> set[Decimal]:
        return {Decimal(22)}


ORDER = {
    "id": "7", "reference": "ABCDEF", "id_customer": "3", "id_address_delivery": "4",
    "id_address_invoice": "4", "id_currency": "1", "id_carrier": "2", "current_state": "2",
    "payment": "Bank wire", "module": "ps_wirepayment", "total_paid_tax_incl": "24.40",
    "total_paid_tax_excl": "20.00", "total_shipping_tax_incl": "0", "conversion_rate": "1",
    "gift": "1", "gift_message": "happy birthday", "date_add": "2026-03-01 10:00:00",
    "associations": {"order_rows": [{
        "id": "11", "product_id": "5", "product_attribute_id": "0", "product_quantity": "2",
        "product_name": "Mug", "product_reference": "MUG", "unit_price_tax_incl": "12.20",
        "unit_price_tax_excl": "10.00", "product_ean13": ""}]},
}
CUSTOMER = {"id": "3", "email": "a@example.com", "firstname": "Ada", "lastname": "Rossi",
            "is_guest": "0", "date_upd": "2026-03-01 09:00:00"}
ADDRESS = {"id": "4", "id_customer": "3", "firstname": "Ada", "lastname": "Rossi",
           "address1": "Via Roma 1", "city": "Milano", "postcode": "20100", "other": "",
           "phone": "", "phone_mobile": "333"}


def keys(t: type) -> list[str]:
    return list(get_type_hints(t))


def test_the_builders_write_exactly_the_declared_keys_in_order():
    order = order_data(Order.from_dict(ORDER), {(5, 0): "MUG"}, Lookups(), [], ["hello"])
    # state_name only for an account with a language of its own (option language)
    assert list(order) == [k for k in keys(OrderSnapshot) if k != "state_name"]
    page = ReadPage([], [], set(), {}, {}, {}, {}, set(), set(), language=2,
                    names={5: Multilang({1: "Mug", 2: "Tazza"})}, state_names={2: "Pagamento accettato"})
    named = order_data(Order.from_dict(ORDER), {(5, 0): "MUG"}, Lookups(), [], ["hello"], page=page)
    assert list(named) == keys(OrderSnapshot)
    assert named["state_name"] == "Pagamento accettato" and named["lines"][0]["name"] == "Tazza"
    assert [list(line) for line in order["lines"]] == [keys(LineSnapshot)]
    assert list(order["shipping"]) == keys(ChargeSnapshot)
    assert list(order["wrapping"]) == keys(ChargeSnapshot)
    assert list(order["discounts"]) == keys(DiscountSnapshot)
    assert list(customer_data(Customer.from_dict(CUSTOMER))) == keys(CustomerSnapshot)
    assert list(address_data(Address.from_dict(ADDRESS), "IT", "MI")) == keys(AddressSnapshot)


def test_the_stored_json_is_plain_json():
    order = order_data(Order.from_dict(ORDER), {(5, 0): "MUG"}, Lookups(), [], ["hello"])
    text = json.dumps(order, ensure_ascii=False)
    assert json.loads(text) == order
    assert text.startswith('{"id": 7, "reference": "ABCDEF", "state": 2, "date": "2026-03-01", ')
    assert '"lines": [{"id": 11, "product_id": 5, "attribute_id": 0, "code": "MUG", ' in text
    assert '"notes": ["hello", "gift message: happy birthday"]' in text
