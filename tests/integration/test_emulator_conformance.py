"""The emulator answers like the recorded real PrestaShop 1.6 shop (tests/fixtures/prestashop/emulator/).

The emulator is loaded with ``shop_real_1.6`` (the recorded shop's own JSON, same ids) and asked the same
requests; bodies are compared byte-for-byte where the recording is deterministic, otherwise by structure
(element/key names and nesting, value types).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from defusedxml import ElementTree as SafeET

from emulator.data import load_dir
from emulator.server import EmulatorServer

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "prestashop" / "emulator"
REAL = FIX / "real-1.6.1.24"
SHOP = FIX / "shop_real_1.6"
REAL_BASE = "http://127.0.0.1:8080/"
J = {"output_format": "JSON"}


def real(name: str) -> str:
    return (REAL / name).read_text(encoding="utf-8")


def real_status(name: str) -> int:
    return int((REAL / f"{name}.headers").read_text().split()[1])


@pytest.fixture
async def emu():
    async with EmulatorServer(load_dir(SHOP)) as server:
        yield server


@pytest.fixture
async def client(emu):
    async with httpx.AsyncClient(base_url=emu.url + "api/", auth=(emu.key, ""), timeout=10) as c:
        yield c


def local(emu, text: str) -> str:
    """Our body with the recorded shop's base URL, for byte comparisons."""
    return text.replace(emu.url, REAL_BASE)


def json_shape(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: json_shape(x) for k, x in v.items()}
    if isinstance(v, list):
        shapes = []
        for x in v:
            s = json_shape(x)
            if s not in shapes:
                shapes.append(s)
        return shapes
    return type(v).__name__


def merged_shape(items: list[dict]) -> dict:
    """Keys (in order) and value types of all items of a list, merged."""
    out: dict[str, set[str]] = {}
    for it in items:
        for k, v in it.items():
            out.setdefault(k, set()).add(type(v).__name__ if not isinstance(v, (dict, list)) else
                                         json.dumps(json_shape(v), sort_keys=True))
    return out


def xml_shape(elem: Any) -> tuple:
    children = []
    for c in list(elem):
        s = xml_shape(c)
        if s not in children:
            children.append(s)
    return (elem.tag, tuple(sorted(elem.attrib)), tuple(children))


# ---------------------------------------------------------------- byte-identical bodies
@pytest.mark.parametrize(
    ("sample", "path", "params"),
    [
        ("order_1_json", "orders/1", J),
        ("order_1_xml", "orders/1", {}),
        ("product_1_xml", "products/1", {}),
        ("countries_1_json", "countries/21", J),
        ("orders_list_json", "orders", J),
        ("orders_paged_json", "orders", {**J, "display": "[id,reference]", "limit": "2,2"}),
        ("orders_filter_json", "orders", {**J, "filter[current_state]": "[1]", "sort": "[total_paid_DESC]",
                                          "display": "[id,current_state,date_upd,total_paid,reference]"}),
        ("orders_date_filter_json", "orders", {**J, "date": "1", "display": "[id,date_upd]",
                                               "filter[date_upd]": "[2026-11-28 00:00:00,2026-11-29 00:00:00]"}),
        ("root_json", "", J),
        ("schema_orders_blank_xml", "orders", {"schema": "blank"}),
        ("schema_orders_synopsis_xml", "orders", {"schema": "synopsis"}),
        ("err_bad_resource_json", "ordrs", J),
        ("err_not_found_json", "orders/999", J),
    ],
)
async def test_same_body_as_real_shop(emu, client, sample, path, params):
    r = await client.get(path, params=params)
    assert r.status_code == real_status(sample)
    assert local(emu, r.text) == real(f"{sample}.body")
    if r.status_code == 200:
        assert r.headers["content-sha1"] == hashlib.sha1(r.content).hexdigest()


async def test_full_lists_match_recorded_values(client):
    for resource in ("orders", "order_details", "order_histories", "order_states", "customers", "addresses",
                     "combinations", "stock_availables", "currencies", "carriers", "products"):
        recorded = json.loads(real(f"{resource}_full_json.body"))[resource]
        r = await client.get(resource, params={**J, "display": "full"})
        assert r.status_code == 200
        ours = {o["id"]: o for o in r.json()[resource]}
        assert set(ours) == {o["id"] for o in recorded}, resource
        for rec in recorded:
            mine = ours[rec["id"]]
            assert list(mine) == list(rec), resource  # same keys, same order
            if resource == "products":  # association order of product 3 is DB order on the real shop
                mine = {k: v for k, v in mine.items() if k != "associations"}
                rec = {k: v for k, v in rec.items() if k != "associations"}
            assert mine == rec, (resource, rec["id"])


async def test_full_xml_list_has_the_recorded_structure(client):
    r = await client.get("orders", params={"display": "full"})
    ours = SafeET.fromstring(r.content)
    theirs = SafeET.fromstring(real("orders_full_xml.body").encode())
    assert xml_shape(ours) == xml_shape(theirs)
    assert [e.findtext("id") for e in ours.iter("order")] == [e.findtext("id") for e in theirs.iter("order")]


async def test_root_xml_structure(emu, client):
    r = await client.get("")
    ours = SafeET.fromstring(r.content)
    theirs = SafeET.fromstring(real("root_xml.body").encode())
    assert [c.tag for c in ours.find("api")] == [c.tag for c in theirs.find("api")]
    assert xml_shape(ours) == xml_shape(theirs)
    assert local(emu, r.text) == real("root_xml.body")


async def test_empty_list_shapes(client):
    r = await client.get("customer_messages")
    assert r.status_code == 200
    expected = (FIX / "oca_ps1.6.1.23_GET_customer_messages_list_empty.response.xml").read_text()
    assert r.text == expected
    r = await client.get("customer_messages", params=J)
    assert r.text == "[]"
    r = await client.get("orders", params={**J, "filter[id]": "[>3]"})  # wrong form: silently empty
    assert r.status_code == 200 and r.text == "[]"


# ---------------------------------------------------------------- authentication errors
async def test_no_credentials_is_plain_text_401(emu):
    async with httpx.AsyncClient(base_url=emu.url + "api/") as c:
        r = await c.get("orders", params=J)
    assert r.status_code == 401
    assert r.text == real("err_no_key.body")
    assert r.headers["www-authenticate"].startswith('Basic realm="Welcome to PrestaShop Webservice')
    assert r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("sample", "key", "params"),
    [
        ("err_bad_key_json", "Z" * 32, J),
        ("err_bad_key_xml", "Z" * 32, {}),
        ("err_short_key_json", "SHORTKEY", J),
    ],
)
async def test_bad_keys(emu, sample, key, params):
    async with httpx.AsyncClient(base_url=emu.url + "api/", auth=(key, "")) as c:
        r = await c.get("orders", params=params)
    assert r.status_code == real_status(sample) == 401
    assert r.text == real(f"{sample}.body")
    assert "www-authenticate" in r.headers
    assert "content-sha1" not in r.headers


async def test_ws_key_query_parameter(emu):
    async with httpx.AsyncClient(base_url=emu.url + "api/") as c:
        r = await c.get("orders", params={**J, "ws_key": emu.key, "limit": "2"})
    assert r.status_code == 200
    assert r.text == real("orders_ws_key_param_json.body")


async def test_head_like_real_shop(client):
    r = await client.head("orders")
    assert r.status_code == 200
    assert r.content == b""
    for h in ("access-time", "x-powered-by", "psws-version", "execution-time", "content-sha1"):
        assert h in r.headers
    assert r.headers["content-type"] == "text/xml;charset=utf-8"


async def test_headers_of_a_real_shop(client):
    r = await client.get("orders/1", params=J)
    recorded = real("order_1_json.headers")
    for name in ("Access-Time", "X-Powered-By", "PSWS-Version", "Content-Type", "Execution-Time", "Content-Sha1"):
        assert name.lower() in r.headers and name in recorded
    assert r.headers["x-powered-by"] == "PrestaShop Webservice"
    assert r.headers["psws-version"].startswith("1.6.1.")
    assert r.headers["content-type"] == "application/json"


# ---------------------------------------------------------------- filter errors
async def test_bad_filter_error(client):
    r = await client.get("orders", params={**J, "filter[gifts]": "1"})
    assert r.status_code == real_status("err_bad_filter_json") == 400
    assert r.text == real("err_bad_filter_json.body")


# ---------------------------------------------------------------- writes
async def test_put_stock_available_like_real(emu, client):
    body = ("<prestashop><stock_available><id>1</id><id_product>1</id_product><id_product_attribute>0"
            "</id_product_attribute><id_shop>1</id_shop><id_shop_group>0</id_shop_group><quantity>42</quantity>"
            "<depends_on_stock>0</depends_on_stock><out_of_stock>2</out_of_stock></stock_available></prestashop>")
    r = await client.put("stock_availables", content=body, headers={"Content-Type": "text/xml"})
    assert r.status_code == 200
    assert local(emu, r.text) == real("write_put_stock_available_xml.body")
    assert emu.state.tables["stock_availables"][1]["quantity"] == "42"


async def test_post_order_history_like_real(emu, client):
    body = "<prestashop><order_history><id_order>1</id_order><id_order_state>4</id_order_state></order_history></prestashop>"
    r = await client.post("order_histories", content=body, headers={"Content-Type": "text/xml"})
    assert r.status_code == real_status("write_post_order_history_xml") == 201
    assert xml_shape(SafeET.fromstring(r.content)) == xml_shape(
        SafeET.fromstring(real("write_post_order_history_xml.body").encode()))
    assert "<id_employee></id_employee>" in r.text
    r = await client.get("orders", params={**J, "filter[id]": "[1]", "display": "[id,current_state,date_upd]"})
    after = json.loads(real("order_1_after_json.body"))
    assert json_shape(r.json()) == json_shape(after)
    assert r.json()["orders"][0]["current_state"] == after["orders"][0]["current_state"] == "4"


async def test_post_order_history_code46_after_state_change(emu, client):
    emu.state.faults.add(kind="code46", resource="order_histories", method="POST", count=1)
    body = "<prestashop><order_history><id_order>2</id_order><id_order_state>4</id_order_state></order_history></prestashop>"
    r = await client.post("order_histories", params={**J, "sendemail": "1"}, content=body)
    assert r.status_code == real_status("err_order_history_sendemail_no_mta_json") == 500
    assert r.text == real("err_order_history_sendemail_no_mta_json.body")
    assert emu.state.tables["orders"][2]["current_state"] == "4"  # the state DID change


@pytest.mark.parametrize(
    ("sample", "content"),
    [
        ("err_post_missing_required",
         "<prestashop><customer><lastname>X</lastname><firstname>Y</firstname><email>x@example.com</email>"
         "</customer></prestashop>"),
        ("err_post_bad_xml", "<prestashop><customer><lastname>X</lastname></customer>"),
        ("err_post_json_body",
         '{"customer":{"lastname":"X","firstname":"Y","email":"x@example.com","passwd":"abcdefgh"}}'),
    ],
)
async def test_post_errors_like_real(client, sample, content):
    r = await client.post("customers", params=J, content=content)
    assert r.status_code == real_status(sample)
    assert r.text == real(f"{sample}.body")


async def test_post_customer_and_put_order_key_structure(client):
    body = ("<prestashop><customer><lastname>Tester</lastname><firstname>Sync</firstname>"
            "<email>sync.tester@example.com</email><passwd>abcdefgh</passwd></customer></prestashop>")
    r = await client.post("customers", params=J, content=body)
    assert r.status_code == 201
    assert list(r.json()["customer"]) == list(json.loads(real("write_post_customer_json_out.body"))["customer"])
    r = await client.get("orders/2")
    put_body = re.sub(r"(<current_state[^>]*>)<!\[CDATA\[\d+\]\]>", r"\1<![CDATA[5]]>", r.text)
    r = await client.put("orders", params=J, content=put_body)
    assert r.status_code == 200
    recorded = json.loads(real("write_put_order_2_json.body"))["order"]
    assert list(r.json()["order"]) == list(recorded)
    assert r.json()["order"]["current_state"] == "5"


async def test_patch_is_405_on_16_and_17(client):
    expected = json.loads((FIX / "issue_prestaalba-n8n-1_ps1.7_PATCH_405.error.json").read_text())
    r = await client.patch("orders", params=J, content="<prestashop><order><id>1</id></order></prestashop>")
    assert r.status_code == 405
    assert r.json() == expected


async def test_patch_is_405_with_the_issue_body_on_17():
    state = load_dir(SHOP, "1.7")
    expected = json.loads((FIX / "issue_prestaalba-n8n-1_ps1.7_PATCH_405.error.json").read_text())
    async with EmulatorServer(state) as emu, httpx.AsyncClient(auth=(emu.key, "")) as c:
        r = await c.patch(emu.url + "api/orders", params=J, content="<prestashop/>")
        assert r.status_code == 405
        assert r.json() == expected
