"""Emulator behaviour beyond the recorded samples: filters, permissions, writes, versions, side channel."""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import datetime

import httpx
import pytest
from defusedxml import ElementTree as SafeET

from emulator.data import KeySpec, generate
from emulator.server import EmulatorServer

J = {"output_format": "JSON"}


@pytest.fixture
async def emu():
    state = generate(120, seed=42)
    async with EmulatorServer(state) as server:
        yield server


@pytest.fixture
async def client(emu):
    async with httpx.AsyncClient(base_url=emu.url + "api/", auth=(emu.key, ""), timeout=10) as c:
        yield c


async def ids(client, resource="orders", **params) -> list[int]:
    r = await client.get(resource, params={**J, **params})
    assert r.status_code == 200, r.text
    body = r.json()
    return [] if body == [] else [o["id"] for o in body[resource]]


def err(r: httpx.Response) -> list[int]:
    return [e["code"] for e in r.json()["errors"]]


# ---------------------------------------------------------------- filters, sort, limit, display
async def test_filter_forms(emu, client):
    orders = emu.state.tables["orders"]
    assert await ids(client, **{"filter[id]": "[3|5|7]"}) == [3, 5, 7]
    assert await ids(client, **{"filter[id]": "[10,13]"}) == [10, 11, 12, 13]
    assert await ids(client, **{"filter[id]": "[13,10]"}) == [10, 11, 12, 13]  # bounds sorted
    assert await ids(client, **{"filter[id]": ">[117]"}) == [118, 119, 120]
    assert await ids(client, **{"filter[id]": "<[3]"}) == [1, 2]
    assert await ids(client, **{"filter[id]": "[>117]"}) == []  # wrong form: silently empty
    assert await ids(client, **{"filter[id]": "5"}) == [5]
    not_6 = await ids(client, **{"filter[current_state]": "![6|8]"})
    assert not_6 and all(orders[i]["current_state"] not in ("6", "8") for i in not_6)
    state_4 = await ids(client, **{"filter[current_state]": "4"})
    assert state_4 == [i for i, o in orders.items() if o["current_state"] == "4"]
    ref = orders[9]["reference"]
    assert 9 in await ids(client, **{"filter[reference]": f"[{ref[:4].lower()}]%"})  # LIKE, case-insensitive
    assert 9 in await ids(client, **{"filter[reference]": f"%[{ref[2:6]}]%"})
    assert await ids(client, **{"filter[reference]": ref.lower()}) == [
        i for i, o in orders.items() if o["reference"] == ref]
    combo = await ids(client, **{"filter[id_customer]": orders[9]["id_customer"], "filter[id]": "[9|10|11]"})
    assert 9 in combo


async def test_date_filters_need_date_1(emu, client):
    o = emu.state.tables["orders"]
    d = o[20]["date_upd"]
    r = await client.get("orders", params={**J, "filter[date_upd]": f"[{d},{d}]"})
    assert r.status_code == 400 and err(r) == [32]
    assert '"date_upd"' not in r.json()["errors"][0]["message"]
    got = await ids(client, date="1", **{"filter[date_upd]": f"[{d},{d}]"})
    assert 20 in got and all(o[i]["date_upd"] == d for i in got)
    day = d[:10]
    upto_day = await ids(client, date="1", **{"filter[date_add]": f"[2000-01-01,{day}]"})
    assert all(o[i]["date_add"] <= f"{day} 00:00:00" for i in upto_day)  # date-only bound = midnight
    assert await ids(client, date="1", **{"filter[date_add]": day}) == []
    newer = await ids(client, date="1", **{"filter[date_upd]": f">[{d}]"}, sort="[date_upd_ASC,id_ASC]")
    assert all(o[i]["date_upd"] > d for i in newer)
    assert [o[i]["date_upd"] for i in newer] == sorted(o[i]["date_upd"] for i in newer)


async def test_filter_errors(client):
    r = await client.get("orders", params={**J, "filter[nope]": "1"})
    assert r.status_code == 400 and err(r) == [32]
    r = await client.get("orders", params={**J, "filter[shipping_number]": "1"})
    assert r.status_code == 400 and err(r) == [34]
    r = await client.get("orders", params={**J, "filter[id]": ""})
    assert r.status_code == 400 and err(r) == [33]


async def test_i18n_filter_and_language(client):
    r = await client.get("products", params={**J, "filter[name]": "[caff]%", "display": "[id,name]"})
    prods = r.json()["products"]
    assert len(prods) == 1 and prods[0]["name"][1]["value"].startswith("Caffè")
    r = await client.get("products", params={**J, "filter[id]": "[1]", "display": "[id,name]", "language": "2"})
    assert r.json()["products"][0]["name"].startswith("Caffè")  # one language: a plain string
    r = await client.get("products/1", params={"language": "2"})
    assert '<language id="2"' in r.text and '<language id="1"' not in r.text


async def test_sort_and_limit(emu, client):
    o = emu.state.tables["orders"]
    got = await ids(client, sort="[total_paid_DESC]", limit="5")
    assert [float(o[i]["total_paid"]) for i in got] == sorted((float(x["total_paid"]) for x in o.values()),
                                                              reverse=True)[:5]
    assert await ids(client, sort="[id_DESC]", limit="0,3") == [120, 119, 118]
    assert await ids(client, sort="id_ASC", limit="10,3") == [11, 12, 13]
    assert await ids(client, limit="3") == [1, 2, 3]
    assert await ids(client, limit="500,3") == []
    r = await client.get("orders", params={**J, "limit": "1,2,3"})
    assert r.status_code == 400 and err(r) == [39]
    r = await client.get("orders", params={**J, "sort": "[id_UP]"})
    assert r.status_code == 400 and err(r) == [37]
    r = await client.get("orders", params={**J, "sort": "[date_upd_ASC]"})
    assert r.status_code == 400 and err(r) == [38]


async def test_display_forms(client):
    r = await client.get("orders", params={**J, "display": "[id,reference,order_rows[id,product_id]]", "limit": "2"})
    first = r.json()["orders"][0]
    assert set(first) == {"id", "reference", "associations"}
    assert set(first["associations"]["order_rows"][0]) == {"id", "product_id"}
    r = await client.get("orders", params={"display": "[reference]", "limit": "1"})
    root = SafeET.fromstring(r.content)
    assert [c.tag for c in root.find("orders/order")] == ["reference"]
    r = await client.get("orders", params={"limit": "2"})
    link = SafeET.fromstring(r.content).find("orders/order")
    assert link.get("id") == "1" and link.get("{http://www.w3.org/1999/xlink}href").endswith("/api/orders/1")
    r = await client.get("orders", params={**J, "display": "[nope]"})
    assert r.status_code == 400 and err(r) == [35]
    r = await client.get("orders", params={**J, "display": "id,reference"})
    assert r.status_code == 400 and err(r) == [36]
    r = await client.get("orders/3", params={**J, "display": "full"})  # display on one object: plural list
    assert list(r.json()) == ["orders"] and r.json()["orders"][0]["id"] == 3
    r = await client.get("orders", params={**J, "filter[id]": "[3]", "display": "full"})
    assert r.json()["orders"][0]["associations"]["order_rows"]


async def test_xml_escaping_and_multilanguage(emu, client):
    prod = emu.state.tables["products"][6]  # "Tazza Mug <Ciao>"
    r = await client.get("products/6")
    root = SafeET.fromstring(r.content)
    names = {e.get("id"): e.text for e in root.find("product/name")}
    assert names == {"1": prod["name"][1], "2": prod["name"][2]}
    assert "<![CDATA[Tazza Mug <Ciao>" in r.text
    marked = next(c for c in emu.state.tables["customers"].values() if c["lastname"] in ("[b]Rossi[/b]", "<i>Verdi</i>"))
    r = await client.get(f"customers/{marked['id']}", params=J)
    assert r.json()["customer"]["lastname"] == marked["lastname"]


# ---------------------------------------------------------------- auth and permissions
async def test_permissions_per_resource_and_method(emu):
    limited = "LIMITEDKEY" + "0" * 22
    emu.state.keys[limited] = KeySpec(limited, True, {"orders": frozenset({"GET", "HEAD"}),
                                                      "order_histories": frozenset({"GET"})})
    async with httpx.AsyncClient(base_url=emu.url + "api/", auth=(limited, "")) as c:
        assert (await c.get("orders", params=J)).status_code == 200
        r = await c.get("customers", params=J)
        assert r.status_code == 401 and err(r) == [26]
        r = await c.post("order_histories", params=J, content="<prestashop/>")
        assert r.status_code == 405 and err(r) == [25]
        r = await c.get("")
        assert [e.tag for e in SafeET.fromstring(r.content).find("api")] == ["order_histories", "orders"]
        assert r.text.count('post="false"') == 4  # element + description
    disabled = "DISABLEDKEY" + "0" * 21
    emu.state.keys[disabled] = KeySpec(disabled, False)
    async with httpx.AsyncClient(base_url=emu.url + "api/", auth=(disabled, "")) as c:
        r = await c.get("orders", params=J)
        assert r.status_code == 401 and err(r) == [20, 21]
    async with httpx.AsyncClient(base_url=emu.url + "api/", auth=("", emu.key)) as c:
        r = await c.get("orders", params=J)  # key sent as the password
        assert r.status_code == 401 and err(r) == [17]


async def test_forbidden_methods_and_shops(client):
    r = await client.post("stock_availables", params=J, content="<prestashop/>")
    assert r.status_code == 405 and err(r) == [101]
    r = await client.request("OPTIONS", "orders", params=J)
    assert r.status_code == 405 and err(r) == [23]
    r = await client.get("orders", params={**J, "id_shop": "2"})
    assert r.status_code == 403 and err(r) == [132]


async def test_dispatcher_url_and_disabled_webservice(emu):
    async with httpx.AsyncClient(auth=(emu.key, "")) as c:
        r = await c.get(emu.url + "webservice/dispatcher.php", params={"url": "orders/2", **J})
        assert r.json()["order"]["id"] == 2
        emu.state.enabled = False
        r = await c.get(emu.url + "api/orders", params=J)
        assert r.status_code == 503 and err(r) == [22]


async def test_conditional_get_16_returns_200_empty(client):
    r = await client.get("orders/1")
    r2 = await client.get("orders/1", headers={"Local-Content-Sha1": r.headers["content-sha1"]})
    assert r2.status_code == 200 and r2.content == b""
    assert r.headers["content-sha1"] == hashlib.sha1(r.content).hexdigest()


# ---------------------------------------------------------------- writes
async def test_put_product_full_object(emu, client):
    r = await client.get("products/2")
    body = r.text
    r = await client.put("products", content=body)
    assert r.status_code == 400 and "not writable" in r.text  # manufacturer_name / quantity must go
    body = re.sub(r"\s*<manufacturer_name[^>]*>.*?</manufacturer_name>", "", body)
    body = re.sub(r"\s*<quantity[^>]*>.*?</quantity>", "", body)
    body = body.replace("<active><![CDATA[1]]></active>", "<active><![CDATA[0]]></active>")
    r = await client.put("products", content=body)
    assert r.status_code == 200, r.text
    assert "<active><![CDATA[0]]></active>" in r.text
    async with httpx.AsyncClient() as side:
        state = (await side.get(emu.url + "_emulator/products/2")).json()
    assert state["active"] is False
    # a partial PUT blanks what it omits (and needs the required fields)
    partial = ("<prestashop><product><id>2</id><price>9.99</price>"
               "<name><language id=\"1\">Only name</language></name>"
               "<link_rewrite><language id=\"1\">only-name</language></link_rewrite></product></prestashop>")
    r = await client.put("products", content=partial)
    assert r.status_code == 200
    p = emu.state.tables["products"][2]
    assert p["reference"] == "" and p["description_short"] == {1: "", 2: ""}
    assert p["name"][1] == "Only name"
    r = await client.put("products", params=J, content="<prestashop><product><id>2</id></product></prestashop>")
    assert r.status_code == 400 and err(r) == [41]
    r = await client.put("products", params=J, content="<prestashop><product><price>1</price></product></prestashop>")
    assert r.status_code == 400 and err(r) == [90]
    r = await client.put("products", params=J, content="<prestashop><product><id>999</id></product></prestashop>")
    assert r.status_code == 404 and err(r) == [92]


async def test_put_stock_available(emu, client):
    row = next(iter(emu.state.tables["stock_availables"].values()))
    r = await client.get(f"stock_availables/{row['id']}")
    body = re.sub(r"(<quantity>)<!\[CDATA\[\d+\]\]>", r"\g<1>7", r.text)
    r = await client.put("stock_availables", content=body)
    assert r.status_code == 200
    assert emu.state.tables["stock_availables"][row["id"]]["quantity"] == "7"
    async with httpx.AsyncClient() as side:
        assert (await side.get(emu.url + f"_emulator/products/{row['id_product']}")).json()["quantity"] == 7
    body = body.replace("<depends_on_stock><![CDATA[0]]>", "<depends_on_stock><![CDATA[1]]>")
    r = await client.put("stock_availables", params=J, content=body)
    assert r.status_code == 500 and err(r) == [133]


async def test_order_history_post_and_sendemail(emu, client):
    emu.state.clock = lambda: datetime(2030, 1, 2, 3, 4, 5)
    body = "<prestashop><order_history><id_order>3</id_order><id_order_state>6</id_order_state></order_history></prestashop>"
    r = await client.post("order_histories", params={**J, "sendemail": "1"}, content=body)
    assert r.status_code == 201
    assert r.json()["order_history"]["id_order_state"] == "6"
    o = emu.state.tables["orders"][3]
    assert o["current_state"] == "6" and o["date_upd"] == "2030-01-02 03:04:05" and o["valid"] == "0"
    assert emu.state.emails[-1]["id_order"] == 3
    got = await ids(client, "order_histories", **{"filter[id_order]": "3"})
    assert got[-1] == int(r.json()["order_history"]["id"])  # write echoes carry the id as a string
    r = await client.post("order_histories", params=J,
                          content="<prestashop><order_history><id_order>3</id_order></order_history></prestashop>")
    assert r.status_code == 400 and err(r) == [41]


async def test_delete(emu, client):
    r = await client.delete("order_histories/1")
    assert r.status_code == 200 and r.content == b""
    r = await client.delete("order_histories/1", params=J)
    assert r.status_code == 404 and err(r) == [87]


# ---------------------------------------------------------------- versions
async def test_version_8_quirks():
    state = generate(10, seed=1, version="8")
    plain = next(i for i, o in state.tables["orders"].items() if o.get("gift", "0") == "0")
    async with EmulatorServer(state) as emu, httpx.AsyncClient(base_url=emu.url + "api/",
                                                                auth=(emu.key, "")) as c:
        r = await c.get(f"orders/{plain}", params=J)
        single = r.json()["order"]
        assert "gift" not in single and "total_paid" in single  # falsy fields dropped
        r = await c.get("orders", params={**J, "filter[id]": f"[{plain}]", "display": "full"})
        assert r.json()["orders"][0]["gift"] == "0"  # lists keep them
        assert "note" in r.json()["orders"][0] and "product_isbn" in r.json()["orders"][0]["associations"]["order_rows"][0]
        r = await c.get("", params=J)
        assert r.status_code == 500 and r.content == b""
        r = await c.get(f"orders/{plain}")
        assert "<gift_message><![CDATA[]]></gift_message>" in r.text
        assert r.headers["psws-version"].startswith("8.")
        r2 = await c.get(f"orders/{plain}", headers={"Local-Content-Sha1": r.headers["content-sha1"]})
        assert r2.status_code == 304
        r = await c.get("orders", params={**J, "filter[nope]": "1"})
        assert r.status_code == 500 and err(r) == [32, 3]
        patch = "<prestashop><product><id>1</id><active>0</active></product></prestashop>"
        r = await c.patch("products", content=patch)
        assert r.status_code == 200
        assert state.tables["products"][1]["active"] == "0"
        assert state.tables["products"][1]["name"][1]  # untouched
        r = await c.get("")
        assert 'patch="true"' in r.text


async def test_version_9_and_17_fields():
    async with EmulatorServer(generate(3, seed=1, version="9")) as emu:
        async with httpx.AsyncClient(base_url=emu.url + "api/", auth=(emu.key, "")) as c:
            r = await c.get("products/1", params=J)
            assert "product_type" in r.json()["product"]
            r = await c.patch("stock_availables", params=J,
                              content="<prestashop><stock_available><id>1</id><quantity>3</quantity></stock_available></prestashop>")
            assert r.status_code == 200
    state = generate(3, seed=1, version="1.7")
    plain = next(i for i, o in state.tables["orders"].items() if o.get("gift", "0") == "0")
    async with EmulatorServer(state) as emu:
        async with httpx.AsyncClient(base_url=emu.url + "api/", auth=(emu.key, "")) as c:
            r = await c.get(f"orders/{plain}", params=J)
            assert "note" in r.json()["order"] and r.json()["order"]["gift"] == "0"
            r = await c.get("products/1", params=J)
            assert "id_type_redirected" in r.json()["product"] and "id_product_redirected" not in r.json()["product"]
            assert (await c.get("order_discounts", params=J)).status_code == 400


# ---------------------------------------------------------------- side channel
async def test_side_channel_counts_and_objects(emu, client):
    side = httpx.AsyncClient(base_url=emu.url + "_emulator/")
    await side.post("requests/reset")
    await client.get("orders", params=J)
    await client.get("orders/1", params=J)
    await client.head("customers")
    counts = (await side.get("requests")).json()
    assert counts["detail"] == {"GET": {"orders": 2}, "HEAD": {"customers": 1}}
    assert counts["writes"] == 0 and counts["total"] == 3
    before = (await side.post("requests/reset")).json()
    assert before["total"] == 3 and (await side.get("requests")).json()["total"] == 0
    r = await side.get("objects/orders/5")
    assert r.json()["id"] == 5 and r.json()["associations"]["order_rows"]
    assert (await side.get("objects/orders")).json()["count"] == 120
    assert (await side.get("health")).json()["key"] == emu.key
    await side.aclose()


async def test_side_channel_changes(emu, client):
    side = httpx.AsyncClient(base_url=emu.url + "_emulator/")
    r = await side.post("orders", json={"generate": 3})
    assert r.status_code == 201 and r.json()["ids"] == [121, 122, 123]
    assert await ids(client, **{"filter[id]": ">[120]"}) == [121, 122, 123]
    r = await side.post("orders", json={"orders": [{
        "id_customer": "1", "id_address_delivery": "1", "id_address_invoice": "1", "current_state": "2",
        "total_paid": "10.000000", "reference": "GIVENREF1",
        "associations": {"order_rows": [{"product_id": "1", "product_quantity": "2", "product_name": "X",
                                         "unit_price_tax_incl": "5.000000"}]}}]})
    new_id = r.json()["ids"][0]
    r = await client.get(f"orders/{new_id}", params=J)
    assert r.json()["order"]["reference"] == "GIVENREF1"
    assert r.json()["order"]["associations"]["order_rows"][0]["product_quantity"] == "2"
    r = await side.patch("customers/1", json={"lastname": "Nuovo", "email": "n@example.it"})
    assert r.json()["lastname"] == "Nuovo"
    assert (await client.get("customers/1", params=J)).json()["customer"]["email"] == "n@example.it"
    old_upd = emu.state.tables["orders"][4]["date_upd"]
    r = await side.patch("orders/4", json={"total_paid": "99.990000"})
    assert r.json()["total_paid"] == "99.990000"
    assert emu.state.tables["orders"][4]["date_upd"] >= old_upd
    r = await side.post("orders/4/state", json={"state": 6})
    assert r.json()["order"]["current_state"] == "6" and r.json()["history"]["id_order_state"] == "6"
    r = await side.post("config", json={"clock": "2031-05-06 07:08:09"})
    assert r.json()["now"] == "2031-05-06 07:08:09"
    r = await side.post("keys", json={"permissions": {"orders": ["GET"]}})
    k = r.json()["key"]
    assert len(k) == 32 and k in emu.state.keys
    await side.aclose()


# ---------------------------------------------------------------- faults
async def test_fault_statuses_and_count(emu, client):
    side = httpx.AsyncClient(base_url=emu.url + "_emulator/")
    await side.post("faults", json={"kind": "status", "status": 502, "resource": "orders", "method": "GET", "count": 2})
    r1 = await client.get("orders", params=J)
    r2 = await client.get("orders", params=J)
    r3 = await client.get("orders", params=J)
    assert [r1.status_code, r2.status_code, r3.status_code] == [502, 502, 200]
    assert "502 Bad Gateway" in r1.text
    assert (await client.get("customers", params=J)).status_code == 200
    await side.post("faults", json={"kind": "rate_limit", "retry_after": 7, "count": 1})
    r = await client.get("customers", params=J)
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    await side.post("faults", json={"kind": "maintenance", "count": 1})
    r = await client.get("orders", params=J)
    assert r.status_code == 503 and "maintenance" in r.text.lower()
    await side.post("faults", json={"kind": "redirect", "count": 1})
    r = await client.get("orders", params=J)
    assert r.status_code == 302 and r.headers["location"].startswith("http://other-host.invalid/api/orders")
    await side.post("faults", json={"kind": "truncate", "count": 1})
    r = await client.get("orders", params={**J, "display": "full"})
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    await side.post("faults", json={"kind": "malformed", "count": 1})
    r = await client.get("orders")
    with pytest.raises(SafeET.ParseError):
        SafeET.fromstring(r.content)
    await side.post("faults", json={"kind": "status", "status": 500, "count": 1})
    r = await client.get("orders")
    assert r.status_code == 500 and r.content == b""
    r = await side.post("faults", json={"kind": "bogus"})
    assert r.status_code == 400
    assert all(f["count"] == 0 for f in (await side.get("faults")).json())
    await side.aclose()


async def test_fault_error_rate_is_seeded(emu, client):
    async def run() -> list[int]:
        emu.state.faults.clear()
        emu.state.faults.reseed(123)
        emu.state.faults.add(kind="status", status=503, rate=0.3)
        return [(await client.get("languages", params=J)).status_code for _ in range(40)]

    first = await run()
    assert first == await run()
    assert 3 < first.count(503) < 25


async def test_fault_latency_and_timeout(emu, client):
    emu.state.faults.add(kind="latency", seconds=0.05, resource="orders", count=1)
    t0 = time.perf_counter()
    r = await client.get("orders/1", params=J)
    assert r.status_code == 200 and time.perf_counter() - t0 >= 0.05
    emu.state.faults.add(kind="timeout", seconds=30, resource="customers", count=1)
    with pytest.raises(httpx.ReadTimeout):
        await client.get("customers/1", params=J, timeout=0.2)
    r = await client.get("customers/1", params=J)
    assert r.status_code == 200


