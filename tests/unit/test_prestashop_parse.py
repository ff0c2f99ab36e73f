"""The client's parser on every recorded real response (XML and JSON), plus properties.

Fixtures: tests/fixtures/prestashop/client/ (copied from shared/prestashop/samples,
see ATTRIBUTION.md and README.md there).
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.prestashop.models import (
    Address,
    Carrier,
    Combination,
    Country,
    Currency,
    Customer,
    Order,
    OrderState,
    Product,
    Record,
    StockAvailable,
    model_for,
)
from core.prestashop.parse import (
    BodyError,
    Multilang,
    decode_body,
    errors_of,
    items_of,
    parse_api_index,
    to_bool,
    to_date,
    to_datetime,
    to_decimal,
    to_int,
    to_multilang,
    xml_to_data,
)

FIX = Path(__file__).parents[1] / "fixtures" / "prestashop" / "client"
REAL = FIX / "real-1.6.1.24"
TZ = ZoneInfo("Europe/Rome")

SINGULAR_TO_RESOURCE = {
    "order": "orders", "address": "addresses", "product": "products",
    "combination": "combinations", "country": "countries", "currency": "currencies",
    "customer": "customers", "order_detail": "order_details", "order_state": "order_states",
    "carrier": "carriers", "stock_available": "stock_availables",
    "order_history": "order_histories", "order_carrier": "order_carriers",
    "product_option": "product_options",
}

BODY_FILES = sorted(
    [p for p in FIX.glob("*.response.xml")]
    + [p for p in FIX.glob("*.json") if not p.name.endswith(".meta.json")]
    + [p for p in FIX.glob("*.error.*")]
    + [p for p in REAL.glob("*.body")]
)
# bodies that are not Webservice XML/JSON by nature
NOT_A_BODY = {"err_no_key.body": "plain-text 401", "head_orders.body": "HEAD: headers only"}


def load(path: Path):
    return decode_body(path.read_bytes())


def models_of(path: Path):
    data = load(path)
    key = next(iter(data))
    resource = SINGULAR_TO_RESOURCE.get(key, key)
    return [model_for(resource).from_dict(i, TZ) for i in items_of(data)]


def one(path: Path):
    (model,) = models_of(path)
    return model


def test_fixture_set_is_complete() -> None:
    assert len(BODY_FILES) >= 60
    assert (FIX / "README.md").exists() and (FIX / "ATTRIBUTION.md").exists()


@pytest.mark.parametrize("path", BODY_FILES, ids=lambda p: p.relative_to(FIX).as_posix())
def test_every_recorded_body_parses(path: Path) -> None:
    if path.name in NOT_A_BODY:
        with pytest.raises(BodyError):
            load(path)
        return
    data = load(path)
    if data is None:  # 404 with an empty body
        assert path.read_bytes() == b""
        return
    if errors := errors_of(data):
        assert all(e.message for e in errors)
        return
    if isinstance(data, list) and data and isinstance(data[0], str) or "api" in data:
        name, resources = parse_api_index(data)
        assert "orders" in resources
        return
    if path.name.endswith(".json") and path.name.startswith("airbyte"):
        return  # JSON lines, covered below
    for model in models_of(path):
        assert isinstance(model.id, int)
        for f in fields(model):
            getattr(model, f.name)


def test_airbyte_ps8_records_parse_into_models() -> None:
    lines = (FIX / "airbyte_ps8.0_expected_records_excerpt.jsonl").read_text().splitlines()
    seen = set()
    for line in lines:
        record = json.loads(line)
        model = model_for(record["stream"]).from_dict(record["data"], TZ)
        assert not isinstance(model, Record), record["stream"]
        seen.add(record["stream"])
    assert {"orders", "products", "combinations", "customers", "addresses"} <= seen
    order = Order.from_dict(
        next(json.loads(x)["data"] for x in lines if '"stream":"orders"' in x), TZ)
    assert order.total_paid == Decimal("61.800000") and order.note == "Test"
    assert order.rows and order.rows[0].product_id == 1 and order.rows[0].quantity == 1


# ------------------------------------------------------------------ XML shapes


def test_xml_order_with_rows_cdata_and_decimals() -> None:
    order = one(FIX / "oca_ps1.6.1.23_GET_orders_5.response.xml")
    assert isinstance(order, Order)
    assert order.id == 5 and order.reference == "KHWLILZLL"
    assert order.current_state == 10 and order.module == "bankwire"
    assert order.total_paid == Decimal("71.510000")
    assert isinstance(order.total_paid, Decimal)
    assert order.invoice_date is None and order.delivery_date is None  # 0000-00-00
    assert order.date_add == datetime(2019, 1, 30, 1, 2, 12, tzinfo=TZ)
    assert order.gift_message == "" and order.shipping_number == ""
    assert len(order.rows) == 3
    row = order.rows[0]
    assert (row.id, row.product_id, row.product_attribute_id, row.quantity) == (13, 1, 1, 1)
    assert row.product_reference == "demo_1"
    assert row.unit_price_tax_incl == Decimal("16.510000")


def test_xml_and_json_of_the_same_orders_give_equal_models() -> None:
    xml_orders = models_of(REAL / "orders_full_xml.body")
    json_orders = models_of(REAL / "orders_full_json.body")
    assert len(xml_orders) == len(json_orders) == 5
    assert xml_orders == json_orders
    assert one(REAL / "order_1_xml.body") == one(REAL / "order_1_json.body")


def test_xml_multilang_and_associations() -> None:
    product = one(FIX / "oca_ps1.6.1.23_GET_products_1.response.xml")
    assert isinstance(product, Product)
    assert product.name == Multilang({1: "Faded Short Sleeves T-shirt"})
    assert product.name.text(1) == product.name.text() == "Faded Short Sleeves T-shirt"
    assert product.combinations and all(isinstance(i, int) for i in product.combinations)
    assert product.stock_availables[0] == (1, 0)
    assert product.price == Decimal("16.510000") and product.active is True
    assert "tags" not in product.associations  # <tags nodeType="tag" api="tags"/> = none
    state = one(FIX / "oca_ps1.6.1.23_GET_order_states_2.response.xml")
    assert isinstance(state, OrderState)
    assert state.name.text(1) == "Payment accepted" and state.paid and state.logable


def test_xml_lists_ids_only_display_fields_and_empty() -> None:
    states = models_of(FIX / "oca_ps1.6.1.23_GET_order_states_list.response.xml")
    assert [s.id for s in states][:3] == [2, 3, 4] and len(states) == 14
    assert models_of(FIX / "oca_ps1.6.1.23_GET_customer_messages_list_empty.response.xml") == []
    assert models_of(FIX / "oca_ps1.6.1.23_GET_order_discounts_filter_id_order_5_empty.response.xml") == []
    (qty,) = models_of(FIX / "oca_ps1.6.1.9_GET_stock_availables_display_quantity.response.xml")
    assert isinstance(qty, StockAvailable) and qty.quantity == 1799 and qty.id == 0
    rows = models_of(FIX / "oca_ps1.6.1.20_GET_stock_availables_display_fields.response.xml")
    assert rows[1].id_product_attribute == 1


def test_xml_empty_values_old_and_8x_style_are_both_empty() -> None:
    old = xml_to_data(b"<prestashop><order><id>1</id><note></note></order></prestashop>")
    new = xml_to_data(b"<prestashop><order><id><![CDATA[1]]></id><note><![CDATA[]]></note>"
                      b"</order></prestashop>")
    assert old == new == {"order": {"id": "1", "note": ""}}


def test_xml_posts_echo_values_as_sent() -> None:
    comb = one(FIX / "oca_ps1.6.1.22_POST_combinations_201.response.xml")
    assert isinstance(comb, Combination)
    assert comb.price == Decimal("20.0") and comb.product_option_values == (4, 13)
    assert comb.images == () and comb.quantity == 0


def test_xml_errors_with_and_without_code() -> None:
    errors = errors_of(load(REAL / "err_bad_key_xml.body"))
    assert [e.code for e in errors] == [20, 21]
    old = errors_of(load(FIX / "prestasharp-pr207_ps1.6_500_internal_error.error.xml"))
    assert len(old) == 4
    assert all(e.code is None and "Internal error" in e.message for e in old)


def test_api_index_permissions() -> None:
    name, resources = parse_api_index(load(REAL / "root_xml.body"))
    assert name == "PrestaShop"
    assert resources["orders"] == frozenset({"GET", "PUT", "POST", "DELETE", "HEAD"})
    _, names = parse_api_index(load(REAL / "root_json.body"))
    assert "orders" in names and names["orders"] == frozenset()


def test_xml_refuses_entities_and_garbage() -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;">]><prestashop><order>&lol2;</order></prestashop>')
    with pytest.raises(BodyError):
        decode_body(bomb)
    with pytest.raises(BodyError):
        decode_body(b"<prestashop><order><id>1</id></order>")  # truncated
    with pytest.raises(BodyError):
        decode_body(b"<!DOCTYPE html><html><body>Maintenance</body></html>")
    with pytest.raises(BodyError):
        decode_body(b'{"orders": [')
    with pytest.raises(BodyError):
        decode_body(b"<br />\n<b>Notice</b>: Undefined index<br />\n<?xml version='1.0'?>")


# ------------------------------------------------------------------ JSON shapes


def test_json_empty_list_is_a_bare_array() -> None:
    assert items_of(decode_body(b"[]")) == []
    assert items_of(decode_body(b"{}")) == []
    assert items_of({"orders": []}) == []


def test_json_8x_single_object_missing_falsy_fields_and_int_numbers() -> None:
    order = one(FIX / "foxchip_ps8x_GET_orders_549085.json")
    assert order.id == 549085 and order.id_customer == 532822 and order.current_state == 4
    assert order.gift is False and order.recyclable is False and order.note == ""
    assert order.valid is True
    assert order.total_paid == Decimal("20.230000")
    assert order.carrier_tax_rate == Decimal("20.000")
    assert order.rows[0].product_attribute_id == 0 and order.rows[0].quantity == 1
    assert order.rows[0].unit_price_tax_excl == Decimal("9.775000")


def test_json_multilang_two_languages_and_null_values() -> None:
    product = one(FIX / "foxchip_ps8x_GET_products_59989.json")
    assert set(product.name) == {1, 2}
    assert product.name.text(2) and product.name.text(7) == product.name.text(1)
    assert "RG 1/144" in product.raw["meta_description"][0]["value"]  # \/ unescaped
    assert product.id_supplier == 11 and product.price == Decimal("24.166667")


def test_json_single_language_collapses_to_a_string() -> None:
    country = one(REAL / "countries_1_json.body")
    assert isinstance(country, Country)
    assert country.name.text() == country.name.text(1) == "United States"
    assert country.iso_code == "US" and country.contains_states


def test_json_real_16_lists() -> None:
    customers = models_of(REAL / "customers_full_json.body")
    assert isinstance(customers[0], Customer) and customers[0].groups == (3,)
    assert customers[0].birthday.isoformat() == "1970-01-15"
    assert "passwd" not in repr(customers[0]) and "secure_key" not in repr(customers[0])
    addresses = models_of(REAL / "addresses_full_json.body")
    assert all(isinstance(a, Address) for a in addresses)
    assert {a.id_country for a in addresses} >= {21, 8}
    carriers = models_of(REAL / "carriers_full_json.body")
    assert isinstance(carriers[1], Carrier) and carriers[1].id_reference == 2
    (currency,) = models_of(REAL / "currencies_full_json.body")
    assert isinstance(currency, Currency)
    assert currency.iso_code == "USD" and currency.symbol == "$" and currency.precision == 2
    combos = models_of(REAL / "combinations_full_json.body")
    assert combos[1].default_on is False  # null
    assert combos[0].available_date is None


def test_json_error_bodies() -> None:
    assert [e.code for e in errors_of(load(REAL / "err_bad_key_json.body"))] == [20, 21]
    assert errors_of(load(REAL / "err_order_history_sendemail_no_mta_json.body"))[0].code == 46
    assert errors_of(load(FIX / "issue_prestaalba-n8n-1_ps1.7_PATCH_405.error.json"))[0].code == 23


def test_unknown_fields_are_kept_in_raw_not_in_equality() -> None:
    a = Order.from_dict({"id": 1, "brand_new_field": "x"}, TZ)
    b = Order.from_dict({"id": "1"}, TZ)
    assert a == b and a.raw["brand_new_field"] == "x"


# ------------------------------------------------------------------ properties

decimals = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=6,
                       allow_nan=False, allow_infinity=False)


@given(decimals)
def test_amounts_round_trip_exactly_from_strings(value: Decimal) -> None:
    text = f"{value:.6f}"
    assert to_decimal(text) == value
    assert to_decimal(f"  {text} ") == value
    assert str(to_decimal(text)) == text or to_decimal(text) == Decimal(text)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_amounts_and_ints_accept_numbers_and_strings(value: int) -> None:
    assert to_decimal(value) == to_decimal(str(value)) == Decimal(value)
    assert to_int(value) == to_int(str(value)) == to_int(f" {value} ") == value
    assert to_int(f"{value}.000000") == value


@given(st.sampled_from([None, "", 0, "0", False]))
def test_absent_or_falsy_numbers_are_zero(value) -> None:
    assert to_int(value) == 0 and to_decimal(value) == 0 and to_bool(value) is False


@given(st.sampled_from(["1", 1, True, " 1"]))
def test_true_flags(value) -> None:
    assert to_bool(value) is True


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40).filter(
    lambda s: s.strip() != "" and not s.strip().lstrip("+-").replace(".", "", 1).isdigit()))
def test_garbage_numbers_are_refused(text: str) -> None:
    try:
        Decimal(text.strip())
        return  # a valid decimal spelling (e.g. "1E3"): not garbage
    except ArithmeticError:
        pass
    with pytest.raises(ValueError):
        to_decimal(text)
    with pytest.raises(ValueError):
        to_int(text)


lang_values = st.dictionaries(st.integers(min_value=1, max_value=50),
                              st.text(max_size=30), min_size=1, max_size=5)


@given(lang_values)
def test_multilang_list_form(values: dict[int, str]) -> None:
    as_list = [{"id": k, "value": v} for k, v in values.items()]
    as_str_ids = [{"id": str(k), "value": v} for k, v in values.items()]
    ml = to_multilang(as_list)
    assert dict(ml) == values == dict(to_multilang(as_str_ids))
    first = next(iter(values))
    assert ml.text(first) == values[first]
    assert ml.text(999) == values[first]
    assert hash(ml) == hash(to_multilang(as_list))


@given(st.text(max_size=30))
def test_multilang_single_language_string(text: str) -> None:
    ml = to_multilang(text)
    assert ml.text() == ml.text(1) == text


@given(st.one_of(st.none(), st.just([]), st.just({})))
def test_multilang_empty(value) -> None:
    assert to_multilang(value).text() == "" and len(to_multilang(value)) == 0


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)))
def test_dates_are_shop_local(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    assert to_datetime(text, TZ) == moment.replace(tzinfo=TZ)
    assert to_date(text[:10]) == moment.date()
    assert to_datetime("0000-00-00 00:00:00", TZ) is None and to_date("0000-00-00") is None
