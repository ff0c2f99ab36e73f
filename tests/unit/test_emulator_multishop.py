"""The emulator's multishop install and named languages (emulator.data, issue 16): new
generate() parameters that leave a seed's older data as it was."""

from __future__ import annotations

import pytest

from emulator.data import generate


def _without_shops(table: dict) -> dict:
    return {i: {k: v for k, v in o.items() if k not in ("id_shop", "id_shop_group")}
            for i, o in table.items()}


def test_a_multishop_install_is_the_same_shop_split_in_two():
    one, two = generate(40, seed=7), generate(40, seed=7, shops=2)
    for name in ("orders", "order_details", "customers", "customer_threads", "products", "addresses"):
        assert _without_shops(two.tables[name]) == _without_shops(one.tables[name]), name
    assert one.shop_ids == [1] and two.shop_ids == [1, 2]
    shops = {o["id_shop"] for o in two.tables["orders"].values()}
    assert shops == {"1", "2"}
    for o in two.tables["orders"].values():  # customers order in the shop of their account
        assert two.tables["customers"][int(o["id_customer"])]["id_shop"] == o["id_shop"]
        assert {d["id_shop"] for d in two.assoc_items("orders", o, "order_rows")} == {o["id_shop"]}
    stock = two.tables["stock_availables"].values()
    assert len(two.tables["stock_availables"]) == 2 * len(one.tables["stock_availables"])
    assert sum(1 for r in stock if r.get("id_shop") == "2") == len(one.tables["stock_availables"])


def test_product_fields_are_written_per_shop():
    st = generate(3, seed=7, shops=3)
    prod = st.tables["products"][1]
    price = st.value("products", prod, "price")
    st.write_product(prod, {**st.product_view(prod, 2), "price": "9.000000", "reference": "NEW"}, [2])
    assert st.product_view(prod, 2)["price"] == "9.000000"
    assert st.product_view(prod, 1)["price"] == price and st.product_view(prod, 3)["price"] == price
    assert all(st.product_view(prod, s)["reference"] == "NEW" for s in (1, 2, 3))  # not per shop
    st.write_product(prod, {**st.product_view(prod, 1), "price": "5.000000"}, [1])
    assert [st.product_view(prod, s)["price"] for s in (1, 2, 3)] == ["5.000000", "9.000000", price]
    st.write_product(prod, {**st.product_view(prod, 1), "active": "0"}, [1, 2, 3])
    assert all(st.value("products", st.product_view(prod, s), "active") == "0" for s in (1, 2, 3))


def test_named_languages_in_their_order():
    st = generate(3, seed=7, languages=("it", "en"))
    assert [(i, o["iso_code"]) for i, o in st.tables["languages"].items()] == [(1, "it"), (2, "en")]
    assert st.tables["order_states"][4]["name"] == {1: "Spedito", 2: "Shipped"}
    assert st.tables["products"][1]["name"] == {1: "Caffè Espresso Miscela Oro 250g",
                                                2: "Espresso Coffee Gold Blend 250g"}
    assert st.tables["countries"][10]["name"] == {1: "Italia", 2: "Italy"}
    with pytest.raises(ValueError, match="'fr' is not one of"):
        generate(1, seed=7, languages=("en", "fr"))
