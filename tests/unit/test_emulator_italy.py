"""The emulator's Italian shop: taxes, provinces, fiscal identities and order amounts as PrestaShop computes them.

The checks recompute from what the shop serves, with their own check-digit code, so they do not
lean on the emulator's helpers.
"""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import pytest

from emulator.data import CITIES, dump_dir, generate, load_dir

CENT = Decimal("0.01")


def r2(x: Decimal) -> Decimal:
    return x.quantize(CENT, ROUND_HALF_UP)


def piva_ok(value: str) -> bool:
    digits = value.upper().replace(" ", "").removeprefix("IT")
    if len(digits) != 11 or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(digits[:10]):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return (10 - total % 10) % 10 == int(digits[10])


ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]


def cf_ok(value: str) -> bool:
    if len(value) != 16 or not value.isalnum() or value != value.upper():
        return False
    total = 0
    for i, ch in enumerate(value[:15]):
        n = int(ch) if ch.isdigit() else ord(ch) - 65
        if i % 2 == 0:
            total += ODD[n] if ch.isalpha() else [1, 0, 5, 7, 9, 13, 15, 17, 19, 21][n]
        else:
            total += n
    return chr(65 + total % 26) == value[15]


@pytest.fixture(scope="module")
def shop():
    return generate(2000, seed=7)


def amount(shop, o, name: str) -> Decimal:
    return Decimal(shop.value("orders", o, name))


def rows_of(shop, o) -> list[dict]:
    details = shop.tables["order_details"]
    return [details[int(r["id"])] for r in shop.assoc_items("orders", o, "order_rows")]


def row_rate(shop, d) -> Decimal:
    taxes = (d.get("associations") or {}).get("taxes") or []
    assert len(taxes) <= 1
    return Decimal(shop.value("taxes", shop.tables["taxes"][int(taxes[0]["id"])], "rate")) if taxes else Decimal(0)


def test_checksums_of_known_numbers():
    assert piva_ok("06363391001") and piva_ok("IT 06363391001") and not piva_ok("06363391002")
    assert cf_ok("RSSMRA85T10A562S") and not cf_ok("RSSMRA85T10A562T")


def test_italian_taxes_groups_rules_and_provinces(shop):
    taxes = {t["id"]: (shop.value("taxes", t, "rate"), t["name"][2]) for t in shop.tables["taxes"].values()}
    assert taxes == {1: ("22.000", "IVA IT 22%"), 2: ("10.000", "IVA IT 10%"), 3: ("5.000", "IVA IT 5%"),
                     4: ("4.000", "IVA IT 4%"), 5: ("0.000", "IVA IT 0%")}
    groups = {g["id"]: g["name"] for g in shop.tables["tax_rule_groups"].values()}
    assert groups[1] == "IT Standard Rate (22%)" and groups[4] == "IT Reduced Rate (4%)"
    assert groups[6] == "Esente art. 10 (0%)"
    italy = {r["id_tax_rules_group"]: r["id_tax"] for r in shop.tables["tax_rules"].values() if r["id_country"] == "10"}
    assert italy == {"1": "1", "2": "2", "3": "3", "4": "4", "5": "5", "6": "0"}
    states = shop.tables["states"]
    assert len(states) == 110 and all(s["id_country"] == "10" for s in states.values())
    iso = {s["iso_code"]: i for i, s in states.items()}
    assert {"MI", "RM", "NA", "TO", "FC", "BN", "TN"} <= set(iso) and iso["MI"] == 180
    for city, _cap, prov in CITIES:
        assert prov in iso, city


def test_totals_identities_for_2000_orders(shop):
    orders = list(shop.tables["orders"].values())
    assert len(orders) == 2000
    for o in orders:
        dets = rows_of(shop, o)
        assert Decimal(o["total_products"]) == sum(Decimal(d["total_price_tax_excl"]) for d in dets)
        assert Decimal(o["total_products_wt"]) == sum(Decimal(d["total_price_tax_incl"]) for d in dets)
        for kind, products in (("excl", "total_products"), ("incl", "total_products_wt")):
            assert amount(shop, o, f"total_paid_tax_{kind}") == (
                amount(shop, o, products) + amount(shop, o, f"total_shipping_tax_{kind}")
                + amount(shop, o, f"total_wrapping_tax_{kind}") - amount(shop, o, f"total_discounts_tax_{kind}"))
        assert o["total_paid"] == o["total_paid_tax_incl"]
        for short in ("discounts", "shipping", "wrapping"):
            assert amount(shop, o, f"total_{short}") == amount(shop, o, f"total_{short}_tax_incl")
        assert o["carrier_tax_rate"] == "22.000"
        s_excl, s_incl = amount(shop, o, "total_shipping_tax_excl"), amount(shop, o, "total_shipping_tax_incl")
        assert abs(s_incl - s_excl * Decimal("1.22")) <= CENT
        w_excl, w_incl = amount(shop, o, "total_wrapping_tax_excl"), amount(shop, o, "total_wrapping_tax_incl")
        assert (w_incl > 0) == (o.get("gift") == "1") and abs(w_incl - w_excl * Decimal("1.22")) <= CENT


def test_totals_per_rate_and_discount_spread(shop):
    multi = multi_discounted = 0
    cart_rules: dict[str, list[dict]] = {}
    for cr in shop.tables["order_discounts"].values():
        cart_rules.setdefault(cr["id_order"], []).append(cr)
    for o in shop.tables["orders"].values():
        dets = rows_of(shop, o)
        by_rate: dict[Decimal, list[dict]] = {}
        for d in dets:
            rate = row_rate(shop, d)
            # the row's tax is its product's group's tax in Italy (or none)
            group_rule = next(r for r in shop.tables["tax_rules"].values()
                              if r["id_tax_rules_group"] == d["id_tax_rules_group"] and r["id_country"] == "10")
            assert (d.get("associations") or {}).get("taxes", []) == (
                [{"id": group_rule["id_tax"]}] if group_rule["id_tax"] != "0" else [])
            by_rate.setdefault(rate, []).append(d)
        for rate, ds in by_rate.items():  # line rounding: at most half a cent off per line and side
            excl = sum(Decimal(d["total_price_tax_excl"]) for d in ds)
            incl = sum(Decimal(d["total_price_tax_incl"]) for d in ds)
            assert abs(incl - excl * (1 + rate / 100)) <= Decimal("0.0115") * len(ds)
        p_excl, p_incl = amount(shop, o, "total_products"), amount(shop, o, "total_products_wt")
        d_excl, d_incl = amount(shop, o, "total_discounts_tax_excl"), amount(shop, o, "total_discounts_tax_incl")
        rules = cart_rules.get(str(o["id"]), [])
        assert (d_incl > 0) == bool(rules)
        if not rules:
            continue
        multi_discounted += len(by_rate) > 1
        # spread over the products in proportion to their amounts: the same share of each side
        assert abs(d_excl - d_incl * p_excl / p_incl) <= CENT
        assert abs(sum(Decimal(r["value"]) for r in rules) - d_incl) <= CENT * len(rules)
        assert abs(sum(Decimal(r["value_tax_excl"]) for r in rules) - d_excl) <= CENT * len(rules)
        if len(rules) == 1 and rules[0]["name"].startswith("Sconto "):
            pct = Decimal(rules[0]["name"].removeprefix("Sconto ").removesuffix("%"))
            assert d_incl == r2(p_incl * pct / 100) and d_excl == r2(p_excl * pct / 100)
        if len(rules) == 1 and rules[0]["name"].startswith("Buono "):
            value = min(Decimal(rules[0]["name"].split()[1]), p_incl)
            assert d_incl == value and d_excl == r2(value * p_excl / p_incl)
    for o in shop.tables["orders"].values():
        multi += len({row_rate(shop, d) for d in rows_of(shop, o)}) > 1
    assert multi >= 0.3 * 2000
    assert multi_discounted >= 20


@pytest.mark.parametrize("round_type", [1, 3])
def test_item_and_total_rounding(round_type):
    shop = generate(300, seed=3, round_type=round_type)
    for o in shop.tables["orders"].values():
        assert o["round_type"] == str(round_type)
        dets = rows_of(shop, o)
        for d in dets:
            q = int(d["product_quantity"])
            for side in ("incl", "excl"):
                unit = Decimal(d[f"unit_price_tax_{side}"])
                expected = r2(unit) * q if round_type == 1 else unit * q
                assert Decimal(d[f"total_price_tax_{side}"]) == expected
        assert Decimal(o["total_products_wt"]) == r2(sum(Decimal(d["total_price_tax_incl"]) for d in dets))
        assert amount(shop, o, "total_paid_tax_incl") == (
            amount(shop, o, "total_products_wt") + amount(shop, o, "total_shipping_tax_incl")
            + amount(shop, o, "total_wrapping_tax_incl") - amount(shop, o, "total_discounts_tax_incl"))


def test_unit_prices_from_the_product_rate(shop):
    seen = set()
    for d in shop.tables["order_details"].values():
        rate = row_rate(shop, d)
        excl = Decimal(d["unit_price_tax_excl"])
        assert Decimal(d["unit_price_tax_incl"]) == (excl * (1 + rate / 100)).quantize(Decimal("0.000001"), ROUND_HALF_UP)
        assert d["unit_price_tax_excl"] == d["product_price"] == d["original_product_price"]
        seen.add(rate)
    assert seen == {Decimal(22), Decimal(10), Decimal(5), Decimal(4), Decimal(0)}
    exempt = [d for d in shop.tables["order_details"].values() if d["id_tax_rules_group"] == "6"]
    assert exempt and all("associations" not in d for d in exempt)


def test_partita_iva_and_codice_fiscale(shop):
    gen = shop.generator
    addresses = list(shop.tables["addresses"].values())
    companies = [a for a in addresses if a.get("vat_number")]
    assert len(companies) > 50
    invalid = [a for a in companies if int(a["id_customer"]) in gen.invalid_vat_customers]
    assert invalid and len(invalid) < 0.15 * len(companies)
    for a in companies:
        assert piva_ok(a["vat_number"]) == (a not in invalid), a["vat_number"]
        assert a.get("company")
    typed = Counter("IT " if v.startswith("IT ") else "IT" if v.startswith("IT") else " " if " " in v else "plain"
                    for v in (a["vat_number"] for a in companies))
    assert set(typed) == {"IT ", "IT", " ", "plain"}
    people = [a for a in addresses if not a.get("company") and a["id_country"] == "10"]
    with_cf = [a for a in people if a.get("dni")]
    assert len(with_cf) > 0.7 * len(people)
    assert all(cf_ok(a["dni"]) for a in with_cf)
    customers = shop.tables["customers"]
    assert all(customers[int(a["id_customer"])].get("company") for a in companies)


def test_pec_and_sdi_typed_in_other_without_the_module(shop):
    assert not any(f.name in ("pec", "sdi") for f in shop.resources["addresses"].fields)
    others = [a["other"] for a in shop.tables["addresses"].values() if a.get("company") and a.get("other")]
    assert others and all("PEC: " in t or "SDI: " in t for t in others)
    assert any("PEC: " in t and "SDI: " in t for t in others)
    assert all(not a.get("other") or "PEC" not in a["other"] for a in shop.tables["addresses"].values()
               if not a.get("company"))


def test_module_fields_hold_pec_and_sdi_when_enabled(tmp_path):
    shop = generate(400, seed=7, address_module_fields=("pec", "sdi"))
    assert [f.name for f in shop.resources["addresses"].fields][-2:] == ["pec", "sdi"]
    companies = [a for a in shop.tables["addresses"].values() if a.get("company")]
    assert any(a.get("pec") for a in companies) and any(a.get("sdi") for a in companies)
    assert all(len(a["sdi"]) == 7 for a in companies if a.get("sdi"))
    assert not any("PEC" in a.get("other", "") or "SDI" in a.get("other", "") for a in companies)
    dump_dir(shop, tmp_path)
    again = load_dir(tmp_path, version="1.7")  # 1.6 order_discounts load as 1.7 order_cart_rules
    assert again.address_module_fields == ("pec", "sdi")
    assert again.tables["addresses"] == shop.tables["addresses"]
    assert len(again.tables["order_cart_rules"]) == len(shop.tables["order_discounts"]) > 0


def test_addresses_carry_their_province(shop):
    iso = {str(i): s["iso_code"] for i, s in shop.tables["states"].items()}
    provinces = {city: prov for city, _cap, prov in CITIES}
    for a in shop.tables["addresses"].values():
        if a["id_country"] == "10":
            assert iso[a["id_state"]] == provinces[a["city"]]
        else:
            assert a.get("id_state", "0") == "0"


def test_customer_threads_and_messages(shop):
    threads = shop.tables["customer_threads"]
    assert 50 < len(threads) < 400
    orders = shop.tables["orders"]
    for t in threads.values():
        order = orders[int(t["id_order"])]
        assert t["id_customer"] == order["id_customer"] and len(t["token"]) == 12
        msgs = shop.assoc_items("customer_threads", t, "customer_messages")
        assert 1 <= len(msgs) <= 2
        for m in msgs:
            msg = shop.tables["customer_messages"][int(m["id"])]
            assert msg["id_customer_thread"] == str(t["id"]) and msg.get("private", "0") == "0" and msg["message"]
    assert sum(1 for o in orders.values() if o.get("gift_message")) > 50


def test_sample_data_has_the_italian_fiscal_data():
    from pathlib import Path

    shop = load_dir(Path(__file__).resolve().parents[2] / "sample_data")
    assert {shop.value("taxes", t, "rate") for t in shop.tables["taxes"].values()} == {
        "22.000", "10.000", "5.000", "4.000", "0.000"}
    assert len(shop.tables["states"]) == 110 and len(shop.tables["tax_rule_groups"]) == 6
    details = shop.tables["order_details"].values()
    assert all(row_rate(shop, d) == {"1": 22, "2": 10, "3": 5, "4": 4, "6": 0}[d["id_tax_rules_group"]] for d in details)
    for o in shop.tables["orders"].values():
        dets = rows_of(shop, o)
        assert Decimal(o["total_products_wt"]) == sum(Decimal(d["total_price_tax_incl"]) for d in dets)
        for kind, products in (("excl", "total_products"), ("incl", "total_products_wt")):
            assert amount(shop, o, f"total_paid_tax_{kind}") == (
                amount(shop, o, products) + amount(shop, o, f"total_shipping_tax_{kind}")
                + amount(shop, o, f"total_wrapping_tax_{kind}") - amount(shop, o, f"total_discounts_tax_{kind}"))
    addresses = shop.tables["addresses"].values()
    companies = [a for a in addresses if a.get("company")]
    assert any("PEC: " in a.get("other", "") for a in companies) and any("SDI: " in a.get("other", "") for a in companies)
    assert sum(not piva_ok(a["vat_number"]) for a in companies) == 1
    people = [a for a in addresses if a.get("dni") and not a.get("company")]
    assert people and all(cf_ok(a["dni"]) for a in people)
    assert all(a.get("id_state", "0") != "0" for a in addresses if a["id_country"] == "10")
    threads = shop.tables["customer_threads"].values()
    assert threads and all(shop.assoc_items("customer_threads", t, "customer_messages") for t in threads)
    assert len(shop.tables["order_discounts"]) == 8
