"""Over HTTP: taxes of order rows, customer threads of orders, provinces, the e-invoicing module's address fields."""

from __future__ import annotations

import httpx
import pytest
from defusedxml import ElementTree as SafeET

from emulator.data import generate
from emulator.server import EmulatorServer

J = {"output_format": "JSON"}


@pytest.fixture
async def emu():
    async with EmulatorServer(generate(120, seed=11)) as server:
        yield server


@pytest.fixture
async def client(emu):
    async with httpx.AsyncClient(base_url=emu.url + "api/", auth=(emu.key, ""), timeout=10) as c:
        yield c


def expected_taxes(state, detail_id: int) -> list[dict]:
    return (state.tables["order_details"][detail_id].get("associations") or {}).get("taxes", [])


@pytest.mark.parametrize("orders", ["[1|2|3]", "[1,100]"])
async def test_order_details_of_orders_carry_their_taxes(emu, client, orders):
    state = emu.state
    wanted = {1, 2, 3} if "|" in orders else set(range(1, 101))
    r = await client.get("order_details", params={**J, "display": "full", "filter[id_order]": orders})
    got = r.json()["order_details"]
    assert {int(d["id_order"]) for d in got} == wanted
    assert [d["id"] for d in got] == sorted(i for i, d in state.tables["order_details"].items()
                                            if int(d["id_order"]) in wanted)
    rates = set()
    for d in got:
        taxes = (d.get("associations") or {}).get("taxes", [])
        assert taxes == expected_taxes(state, d["id"])
        assert all(set(t) == {"id"} and isinstance(t["id"], str) for t in taxes)
        rates.add(state.tables["taxes"][int(taxes[0]["id"])]["rate"] if taxes else "0")
        if d["id_tax_rules_group"] == "6":
            assert "associations" not in d  # an exempt row: no tax
    if "," in orders:
        assert {"22.000", "10.000", "4.000", "0"} <= rates
    r = await client.get("order_details", params={"display": "full", "filter[id_order]": orders})
    root = SafeET.fromstring(r.content)
    for el in root.find("order_details"):
        did = int(el.findtext("id"))
        node = el.find("associations/taxes")
        assert node.get("nodeType") == "tax" and node.get("api") == "taxes"
        ids = [{"id": t.findtext("id")} for t in node.findall("tax")]
        assert ids == expected_taxes(state, did)
        for t in node.findall("tax"):
            assert t.get("{http://www.w3.org/1999/xlink}href").endswith(f"/api/taxes/{t.findtext('id')}")


async def test_taxes_groups_rules_and_states(client):
    r = await client.get("taxes/1", params=J)
    tax = r.json()["tax"]
    assert tax["rate"] == "22.000" and tax["active"] == "1"
    assert tax["name"] == [{"id": 1, "value": "IVA IT 22%"}, {"id": 2, "value": "IVA IT 22%"}]
    r = await client.get("tax_rule_groups", params={**J, "display": "[id,name]", "filter[name]": "[IT Reduced]%"})
    assert [g["name"] for g in r.json()["tax_rule_groups"]] == [
        "IT Reduced Rate (10%)", "IT Reduced Rate (5%)", "IT Reduced Rate (4%)"]
    r = await client.get("tax_rules", params={**J, "display": "full", "filter[id_country]": "10"})
    rules = {ru["id_tax_rules_group"]: ru["id_tax"] for ru in r.json()["tax_rules"]}
    assert rules == {"1": "1", "2": "2", "3": "3", "4": "4", "5": "5", "6": "0"}
    r = await client.get("tax_rules/1")
    assert '<id_tax_rules_group xlink:href="' in r.text and '<id_country xlink:href="' in r.text
    r = await client.get("states", params={**J, "display": "[id,iso_code,name,id_country]",
                                           "filter[iso_code]": "[MI|RM|NA|FC]", "sort": "[id_ASC]"})
    assert r.json()["states"] == [
        {"id": 159, "iso_code": "FC", "name": "Forlì-Cesena", "id_country": "10"},
        {"id": 180, "iso_code": "MI", "name": "Milano", "id_country": "10"},
        {"id": 183, "iso_code": "NA", "name": "Napoli", "id_country": "10"},
        {"id": 208, "iso_code": "RM", "name": "Roma", "id_country": "10"}]
    r = await client.get("states/180")
    assert "<name><![CDATA[Milano]]></name>" in r.text  # a plain field, not multilanguage


async def test_customer_threads_of_orders_with_their_messages(emu, client):
    state = emu.state
    threads = list(state.tables["customer_threads"].values())
    assert threads
    orders = "[" + "|".join(t["id_order"] for t in threads) + "]"
    r = await client.get("customer_threads", params={**J, "display": "full", "filter[id_order]": orders})
    got = r.json()["customer_threads"]
    assert [t["id"] for t in got] == [t["id"] for t in threads]
    for t in got:
        mids = [m["id"] for m in t["associations"]["customer_messages"]]
        assert mids == [str(i) for i, m in state.tables["customer_messages"].items()
                        if m["id_customer_thread"] == str(t["id"])]
        r = await client.get("customer_messages", params={**J, "display": "full",
                                                         "filter[id_customer_thread]": str(t["id"])})
        msgs = r.json()["customer_messages"]
        assert [str(m["id"]) for m in msgs] == mids and all(m["private"] == "0" for m in msgs)
    r = await client.get("customer_threads", params={"display": "full", "filter[id_order]": "[1,120]"})
    node = SafeET.fromstring(r.content).find("customer_threads/customer_thread/associations/customer_messages")
    assert node.get("nodeType") == "customer_message" and node.get("api") == "customer_messages"
    # a message posted to a thread joins its association
    first = got[0]
    body = (f"<prestashop><customer_message><id_customer_thread>{first['id']}</id_customer_thread>"
            "<message>Grazie!</message><private>0</private></customer_message></prestashop>")
    r = await client.post("customer_messages", params=J, content=body)
    assert r.status_code == 201
    new_id = r.json()["customer_message"]["id"]
    r = await client.get(f"customer_threads/{first['id']}", params=J)
    assert {"id": str(new_id)} in r.json()["customer_thread"]["associations"]["customer_messages"]


async def test_order_cart_rules_of_discounted_orders(emu, client):
    rows = list(emu.state.tables["order_discounts"].values())
    assert rows
    r = await client.get("order_discounts", params={**J, "display": "full", "filter[id_order]": rows[0]["id_order"]})
    got = r.json()["order_cart_rules"]  # 1.6: resource order_discounts, list node order_cart_rules
    assert got and got[0]["name"] == rows[0]["name"] and got[0]["value"] == rows[0]["value"]


async def test_address_module_fields_only_when_enabled(client):
    r = await client.get("addresses", params={**J, "filter[pec]": "[x]"})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 32
    r = await client.get("addresses", params={"schema": "blank"})
    assert "<pec" not in r.text and "<sdi" not in r.text
    r = await client.get("addresses/1", params=J)
    assert "pec" not in r.json()["address"] and "sdi" not in r.json()["address"]


async def test_address_module_fields_served_filtered_and_written():
    state = generate(120, seed=11, address_module_fields=("pec", "sdi"))
    async with EmulatorServer(state) as emu, httpx.AsyncClient(base_url=emu.url + "api/",
                                                                auth=(emu.key, "")) as c:
        company = next(a for a in state.tables["addresses"].values() if a.get("sdi"))
        r = await c.get("addresses", params={**J, "display": "[id,company,vat_number,pec,sdi]",
                                             "filter[sdi]": company["sdi"]})
        assert {"id": company["id"], "company": company["company"], "vat_number": company["vat_number"],
                "pec": company.get("pec", ""), "sdi": company["sdi"]} in r.json()["addresses"]
        r = await c.get(f"addresses/{company['id']}")
        assert f"<sdi><![CDATA[{company['sdi']}]]></sdi>" in r.text
        body = ("<prestashop><address><id_customer>1</id_customer><id_country>10</id_country><id_state>180</id_state>"
                "<alias>Sede</alias><company>Nuova S.r.l.</company><lastname>Rossi</lastname><firstname>Anna</firstname>"
                "<vat_number>IT06363391001</vat_number><address1>Via Roma 1</address1><city>Milano</city>"
                "<postcode>20121</postcode><pec>nuova@pec.it</pec><sdi>M5UXCR1</sdi></address></prestashop>")
        r = await c.post("addresses", params=J, content=body)
        assert r.status_code == 201
        new = r.json()["address"]
        assert new["pec"] == "nuova@pec.it" and new["sdi"] == "M5UXCR1"
        r = await c.put("addresses", content=body.replace("<address>", f"<address><id>{new['id']}</id>")
                        .replace("M5UXCR1", "KRRH6B9"))
        assert r.status_code == 200
        assert state.tables["addresses"][int(new["id"])]["sdi"] == "KRRH6B9"
        r = await c.get("addresses", params={"schema": "synopsis"})
        assert "<pec></pec>" in r.text and "<sdi></sdi>" in r.text
